"""Presence at a volunteer check-in (docs/wire.md, "Presence at check-in"): the facility's device
shows fresh random bytes, the volunteer's device signs them with the volunteer's own account key
for the activity, and the facility sends both in its `CheckIn` (`challenge`,
`presence_signature`)."""

from __future__ import annotations

import os

from .ed25519 import SigningKey

PRESENCE_DOMAIN = b"yui/v1/presence\0"


def challenge() -> bytes:
    """16 fresh random bytes for the facility's device to show."""
    return os.urandom(16)


def presence_message(activity_id: str, challenge_bytes: bytes) -> bytes:
    return PRESENCE_DOMAIN + activity_id.encode() + challenge_bytes


def sign(volunteer: SigningKey, activity_id: str, challenge_bytes: bytes) -> bytes:
    """The volunteer device's signature over the challenge for this activity."""
    return volunteer.sign(presence_message(activity_id, challenge_bytes))
