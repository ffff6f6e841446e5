"""Volunteer certificates as a facility checks them offline: the QR payload `YUICERT1:` +
base32 (no padding) of an event inclusion proof whose event is a successful
`CertificateIssued`. Whether it was revoked since is an online question
(`Volunteer.VerifyCertificate`)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from yui.v1 import volunteer_pb2

from . import proof, wire

QR_PREFIX = "YUICERT1:"


class CertificateError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class ProvenCertificate:
    certificate: volunteer_pb2.CertificateIssued
    height: int
    block_hash: bytes


def qr_text(proof_bytes: bytes) -> str:
    return QR_PREFIX + base64.b32encode(proof_bytes).decode().rstrip("=")


def proof_from_qr(text: str) -> bytes:
    """The proof bytes of a scanned payload (case and white space do not matter)."""
    t = "".join(text.split()).upper()
    if not t.startswith(QR_PREFIX):
        raise CertificateError("not_a_certificate", f"this is not a Yui volunteer certificate (it does not start with {QR_PREFIX})")
    body = t[len(QR_PREFIX) :]
    # Unpadded base32: the length mod 8 must be one an encoder can produce.
    if len(body) % 8 in (1, 3, 6):
        raise CertificateError("damaged", "the certificate code is damaged (not valid base32)")
    try:
        data = base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):
        raise CertificateError("damaged", "the certificate code is damaged (not valid base32)") from None
    if qr_text(data)[len(QR_PREFIX) :] != body:
        # Trailing bits that are not zero: not what an encoder writes.
        raise CertificateError("damaged", "the certificate code is damaged (not valid base32)")
    return data


def verify(proof_bytes: bytes, vset: wire.ValidatorSet) -> ProvenCertificate:
    try:
        p = proof.decode(proof_bytes)
        if not p.HasField("event_cursor"):
            raise CertificateError("no_event", "the proof does not name an event")
        v = proof.verify(p, vset)
    except proof.ProofError as e:
        raise CertificateError(e.code, str(e)) from None
    if not v.success:
        raise CertificateError("transaction_failed", "the proven transaction failed, so it issued nothing")
    if v.event is None:
        raise CertificateError("no_event", "the proof does not name an event")
    if v.event.WhichOneof("kind") != "volunteer" or v.event.volunteer.WhichOneof("kind") != "certificate_issued":
        raise CertificateError("not_issuance", "the proven event is not a certificate issuance")
    return ProvenCertificate(v.event.volunteer.certificate_issued, v.height, v.block_hash)


def verify_qr(text: str, vset: wire.ValidatorSet) -> ProvenCertificate:
    return verify(proof_from_qr(text), vset)
