"""ed25519 signatures under the chain's rule, ZIP 215 (docs/adr/0014-zip215-signature-rule.md).

Signing is RFC 8032 (with `cryptography`): every standard signature is valid under ZIP 215.
Verification here follows ZIP 215 exactly, as the nodes do, so this SDK accepts and refuses the
same signatures as the chain: `s` must be below the group order, `A` and `R` may be any
encoding that decodes to a curve point (non-canonical ones included), and the check is the
cofactored equation [8][s]B = [8]R + [8][k]A. `cryptography`'s own verification follows the
stricter RFC 8032 rule and would refuse some signatures the chain accepts, so it is not used
for verifying.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = (-121665 * pow(121666, _P - 2, _P)) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
_BY = (4 * pow(5, _P - 2, _P)) % _P


def _recover_x(y: int, sign: int) -> int | None:
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x = (u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P)) % _P
    vx2 = (v * x * x) % _P
    if vx2 == u:
        pass
    elif vx2 == (-u) % _P:
        x = (x * _SQRT_M1) % _P
    else:
        return None
    if (x & 1) != sign:
        x = (-x) % _P
    return x


def _decode_point(b: bytes):
    """A point in extended coordinates, or None. Any y below 2^255 is read modulo p, and the
    sign bit of x = 0 may be set: ZIP 215 accepts these non-canonical encodings."""
    if len(b) != 32:
        return None
    n = int.from_bytes(b, "little")
    sign = n >> 255
    y = (n & ((1 << 255) - 1)) % _P
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, (x * y) % _P)


def _add(p, q):
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = ((y1 - x1) * (y2 - x2)) % _P
    b = ((y1 + x1) * (y2 + x2)) % _P
    c = (2 * _D * t1 * t2) % _P
    d = (2 * z1 * z2) % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return ((e * f) % _P, (g * h) % _P, (f * g) % _P, (e * h) % _P)


def _neg(p):
    x, y, z, t = p
    return ((-x) % _P, y, z, (-t) % _P)


def _mul(k: int, p):
    q = (0, 1, 1, 0)
    while k:
        if k & 1:
            q = _add(q, p)
        p = _add(p, p)
        k >>= 1
    return q


def _is_identity(p) -> bool:
    x, y, z, _ = p
    return x % _P == 0 and (y - z) % _P == 0


_B = (_recover_x(_BY, 0), _BY, 1, (_recover_x(_BY, 0) * _BY) % _P)


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is a valid ZIP 215 signature of `message` by `public_key`."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    a = _decode_point(public_key)
    r = _decode_point(signature[:32])
    if a is None or r is None:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little") % _L
    check = _add(_add(_mul(s, _B), _neg(r)), _neg(_mul(k, a)))
    return _is_identity(_mul(8, check))


class SigningKey:
    """An ed25519 key from its 32-byte seed (the content of a Yui key file, as hex)."""

    def __init__(self, seed: bytes):
        if len(seed) != 32:
            raise ValueError(f"an ed25519 seed is 32 bytes, got {len(seed)}")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def generate(cls) -> "SigningKey":
        import os

        return cls(os.urandom(32))

    @classmethod
    def from_file(cls, path) -> "SigningKey":
        """Read a Yui key file: the 32-byte secret as hex (genesis/README.md, "Key files")."""
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
        try:
            seed = bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"{path} is not a Yui key file (64 hex digits)") from None
        return cls(seed)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)
