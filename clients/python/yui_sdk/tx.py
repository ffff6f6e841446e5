"""Signed transactions (proto/yui/v1/tx.proto, docs/wire.md "Transactions"): a canonical
`TxBody` with a random 16-byte nonce and an expiry height, signed over
"yui/v1/tx-signature\\0" || body; the id covers body and signature."""

from __future__ import annotations

import os
import struct

from yui.v1 import tx_pb2

from . import wire
from .ed25519 import SigningKey

NONCE_BYTES = 16

# The `TxBody.call` field of each contract's call message.
_CALL_FIELD = {
    "GovernanceCall": "governance",
    "ReliefCall": "relief",
    "PointsCall": "points",
    "EcoCall": "eco",
    "VolunteerCall": "volunteer",
}


def body(key: SigningKey, chain_id: str, expires_at_height: int, call, nonce: bytes | None = None) -> tx_pb2.TxBody:
    """The body of `call` (a `ReliefCall`, `EcoCall`, ... message) by `key`."""
    field = _CALL_FIELD.get(type(call).__name__)
    if field is None:
        raise TypeError(f"{type(call).__name__} is not a contract call message ({', '.join(_CALL_FIELD)})")
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"the nonce is {NONCE_BYTES} bytes")
    b = tx_pb2.TxBody(chain_id=chain_id, signer=key.public_key, expires_at_height=expires_at_height, nonce=nonce)
    getattr(b, field).CopyFrom(call)
    return b


def sign_bytes(body_bytes: bytes) -> bytes:
    return wire.TX_SIGNATURE + body_bytes


def sign_body_bytes(key: SigningKey, body_bytes: bytes) -> tx_pb2.SignedTransaction:
    """Sign already-encoded body bytes, exactly as they are (the node refuses them unless they
    are the body's canonical encoding)."""
    return tx_pb2.SignedTransaction(body=body_bytes, signature=key.sign(sign_bytes(body_bytes)))


def sign(key: SigningKey, b: tx_pb2.TxBody) -> tx_pb2.SignedTransaction:
    """Encode `b` (canonically: fields in number order, defaults omitted) and sign it."""
    return sign_body_bytes(key, b.SerializeToString(deterministic=True))


def tx_id(body_bytes: bytes, signature: bytes) -> bytes:
    """blake3("yui/v1/tx-id\\0" || u32_le(len(body)) || body || signature)."""
    return wire.hash_parts(wire.TX_ID, struct.pack("<I", len(body_bytes)), body_bytes, signature)


def body_hash(body_bytes: bytes) -> bytes:
    """The replay-protection key: a body is accepted once within its expiry window."""
    return wire.hash_parts(wire.TX_BODY, body_bytes)
