"""Notification records (`GovernanceCall.record_notification`, docs/wire.md, "Notification
records"): the recipient goes on the ledger only as HMAC-SHA256, under the organization's own
notification key, of the normalized address. Keep the key with the backend; without it the hash
links nothing, with it the organization shows that a given address was notified."""

from __future__ import annotations

import hashlib
import hmac
import os

RECIPIENT_DOMAIN = b"yui/v1/recipient\0"

_ASCII_WHITESPACE = " \t\n\r\x0c"


def new_key() -> bytes:
    """A fresh 32-byte notification key."""
    return os.urandom(32)


def normalize(channel: str, address: str) -> str:
    """The address as it is hashed. `channel` is the NotificationChannel's short name
    ("EMAIL", "SMS", "PUSH", "POST", "PHONE")."""
    a = address.strip(_ASCII_WHITESPACE)
    if channel == "EMAIL":
        return "".join(c.lower() if "A" <= c <= "Z" else c for c in a)
    if channel in ("SMS", "PHONE"):
        digits = "".join(c for c in a if "0" <= c <= "9")
        return "+" + digits if a.startswith("+") else digits
    return a


def recipient_hash(key: bytes, channel: str, address: str) -> bytes:
    """The 32 bytes to put in `RecordNotification.recipient_hash`."""
    return hmac.new(key, RECIPIENT_DOMAIN + normalize(channel, address).encode(), hashlib.sha256).digest()
