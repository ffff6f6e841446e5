"""The PersonalData service's request token (docs/adr/0005): the metadata header
`x-yui-auth: <public key hex>.<unix ms>.<signature hex>`, signing
"yui/v1/auth\\0" || method path || unix ms as decimal. A node takes it once, within 60 s of its
clock."""

from __future__ import annotations

import time

from . import wire
from .ed25519 import SigningKey

AUTH_HEADER = "x-yui-auth"


def method_path(method: str) -> str:
    """`Get` -> "/yui.v1.PersonalData/Get" (a full path is returned as it is)."""
    return method if method.startswith("/") else f"/yui.v1.PersonalData/{method}"


def auth_message(method: str, unix_ms: int) -> bytes:
    return wire.AUTH + method_path(method).encode() + str(unix_ms).encode()


def auth_header(key: SigningKey, method: str, unix_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if unix_ms is None else unix_ms
    sig = key.sign(auth_message(method, ms))
    return f"{key.public_key.hex()}.{ms}.{sig.hex()}"


def metadata(key: SigningKey, method: str) -> list:
    """The call metadata for one PersonalData call: pass as `metadata=` to the stub."""
    return [(AUTH_HEADER, auth_header(key, method))]
