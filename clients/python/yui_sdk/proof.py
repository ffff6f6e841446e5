"""Offline verification of inclusion proofs (`yui.v1.InclusionProof`, docs/wire.md "Proofs"),
in the order the nodes and the Rust client check them, so every SDK names the same reason
(`ProofError.code`) for the same proof. Nothing here asks a node anything: the caller passes
the validator set it trusts for the proof's height."""

from __future__ import annotations

from dataclasses import dataclass

from yui.v1 import events_pb2, ledger_pb2

from . import ed25519, tx, wire


class ProofError(Exception):
    """A proof that does not prove what it claims. `code` is stable (docs/wire.md,
    "Verification results"); the message is a sentence for the person who checked it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class Proven:
    height: int
    block_hash: bytes
    tx_id: bytes
    success: bool
    event: events_pb2.Event | None


def decode(data: bytes) -> ledger_pb2.InclusionProof:
    """Decode proof bytes, refusing any encoding but the canonical one."""
    p = ledger_pb2.InclusionProof()
    try:
        p.ParseFromString(data)
    except Exception as e:  # the protobuf runtime's DecodeError
        raise ProofError("not_a_proof", f"this is not an inclusion proof: {e}") from None
    if wire.has_unknown_fields(p) or p.SerializeToString(deterministic=True) != data:
        raise ProofError("not_canonical", "the proof is not canonically encoded (extra, reordered or altered bytes)")
    return p


def _malformed(what: str):
    return ProofError("malformed", f"the proof is malformed: {what}")


def _check_size(b: bytes, n: int, what: str):
    if len(b) != n:
        raise _malformed(f"the {what} must be {n} bytes, got {len(b)}")


def verify_certificate(cert, chain_id: str, height: int, block_hash: bytes, vset: wire.ValidatorSet) -> None:
    """Check a commit certificate: for this block, each signature a valid precommit (ZIP 215)
    by a distinct member, together at least a quorum of voting power."""
    if cert.height != height or bytes(cert.block_hash) != block_hash:
        raise ProofError(
            "wrong_block",
            f"the commit certificate does not verify: certificate is for height {cert.height} block "
            f"{bytes(cert.block_hash).hex()}, expected height {height} block {block_hash.hex()}",
        )
    index = {v.public_key: (i, v) for i, v in enumerate(vset.validators)}
    seen = set()
    power = 0
    for s in cert.signatures:
        key = bytes(s.validator)
        if key not in index:
            raise ProofError(
                "unknown_validator",
                f"the commit certificate does not verify: signature by {key[:4].hex()} who is not a validator at this height",
            )
        i, v = index[key]
        if i in seen:
            raise ProofError("duplicate_signature", f"the commit certificate does not verify: validator {v.name} signed twice")
        seen.add(i)
        msg = wire.precommit_bytes(chain_id, cert.height, cert.round, bytes(cert.block_hash), key)
        if not ed25519.verify(key, msg, bytes(s.signature)):
            raise ProofError(
                "bad_signature", f"the commit certificate does not verify: invalid precommit signature by validator {v.name}"
            )
        power += v.power
    need = vset.quorum_power()
    if power < need:
        raise ProofError(
            "no_quorum", f"the commit certificate does not verify: signatures carry {power} voting power, a quorum needs {need}"
        )


def verify(p: ledger_pb2.InclusionProof, vset: wire.ValidatorSet) -> Proven:
    """Check a decoded proof against the validator set trusted for its height."""
    if not p.HasField("header"):
        raise _malformed("the header is missing")
    h = p.header
    for name, what in [
        ("parent_hash", "parent hash"),
        ("proposer", "proposer key"),
        ("validator_set_hash", "validator set hash"),
        ("tx_root", "transaction root"),
        ("state_root", "state root"),
        ("event_root", "event root"),
    ]:
        _check_size(getattr(h, name), 32, what)
    block_hash = wire.header_hash(h)
    if bytes(h.validator_set_hash) != vset.hash():
        raise ProofError(
            "other_validator_set",
            "the block was decided by a different validator set than the one trusted here (changed by governance since?)",
        )
    if not p.HasField("certificate"):
        raise _malformed("the commit certificate is missing")
    _check_size(p.certificate.block_hash, 32, "certificate's block hash")
    for s in p.certificate.signatures:
        _check_size(s.validator, 32, "validator key")
        _check_size(s.signature, 64, "precommit signature")
    verify_certificate(p.certificate, h.chain_id, h.height, block_hash, vset)
    if not p.HasField("transaction"):
        raise _malformed("the transaction is missing")
    tid = tx.tx_id(p.transaction.body, p.transaction.signature)
    if not p.HasField("tx_proof"):
        raise _malformed("the transaction's Merkle path is missing")
    for st in p.tx_proof.steps:
        _check_size(st.hash, 32, "Merkle sibling")
    if wire.merkle_root_from(p.tx_proof, wire.merkle_leaf(tid)) != bytes(h.tx_root):
        raise ProofError(
            "tx_not_in_block",
            "the transaction is not in the block (its Merkle path does not lead to the header's transaction root)",
        )
    if not p.HasField("receipt"):
        raise _malformed("the receipt is missing")
    if p.receipt.HasField("first_event"):
        raise ProofError("receipt_has_cursor", "the receipt carries a cursor, which is not committed data")
    if not p.HasField("receipt_proof"):
        raise _malformed("the receipt's Merkle path is missing")
    for st in p.receipt_proof.steps:
        _check_size(st.hash, 32, "Merkle sibling")
    if p.receipt_proof.index != p.tx_proof.index:
        raise ProofError("receipt_position", "the receipt path is for another position than the transaction")
    leaf = wire.EVENT + tid + p.receipt.SerializeToString(deterministic=True)
    if wire.merkle_root_from(p.receipt_proof, wire.merkle_leaf(leaf)) != bytes(h.event_root):
        raise ProofError(
            "receipt_not_committed",
            "the receipt is not the one committed for this transaction (its Merkle path does not lead to the header's event root)",
        )
    event = None
    if p.HasField("event_cursor"):
        if p.event_cursor.height != h.height:
            raise ProofError(
                "event_other_block", f"the event cursor names block {p.event_cursor.height}, but the proof is of block {h.height}"
            )
        if p.event_index >= len(p.receipt.events):
            raise ProofError("no_such_event", f"the receipt has no event {p.event_index}")
        event = p.receipt.events[p.event_index]
    return Proven(h.height, block_hash, tid, p.receipt.success, event)


def verify_bytes(data: bytes, vset: wire.ValidatorSet) -> Proven:
    """Decode and verify proof bytes (as `GetProof` returns them, encoded)."""
    return verify(decode(data), vset)
