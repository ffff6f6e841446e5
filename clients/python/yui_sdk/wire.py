"""Yui's wire format (docs/wire.md): domain-separated blake3 hashes, the borsh encodings of
headers, validator sets and precommits, Merkle trees, and canonical protobuf decoding."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import blake3
from google.protobuf.message import Message

TX_SIGNATURE = b"yui/v1/tx-signature\0"
TX_ID = b"yui/v1/tx-id\0"
TX_BODY = b"yui/v1/tx-body\0"
HEADER = b"yui/v1/header\0"
VOTE = b"yui/v1/vote\0"
VALIDATOR_SET = b"yui/v1/validator-set\0"
EVENT = b"yui/v1/event\0"
MERKLE_LEAF = b"yui/v1/merkle-leaf\0"
MERKLE_NODE = b"yui/v1/merkle-node\0"
AUTH = b"yui/v1/auth\0"


def hash_parts(domain: bytes, *parts: bytes) -> bytes:
    """blake3(domain || parts...)."""
    h = blake3.blake3(domain)
    for p in parts:
        h.update(p)
    return h.digest()


# --- borsh -----------------------------------------------------------------------------------


def borsh_u8(n: int) -> bytes:
    return struct.pack("<B", n)


def borsh_u32(n: int) -> bytes:
    return struct.pack("<I", n)


def borsh_u64(n: int) -> bytes:
    return struct.pack("<Q", n)


def borsh_string(s: str) -> bytes:
    b = s.encode("utf-8")
    return borsh_u32(len(b)) + b


def _fixed(b: bytes, n: int, what: str) -> bytes:
    if len(b) != n:
        raise ValueError(f"the {what} must be {n} bytes, got {len(b)}")
    return bytes(b)


def header_bytes(h) -> bytes:
    """borsh(Header) of a `yui.v1.BlockHeader`: chain id, height, time, parent hash, proposer,
    validator-set hash, tx root, state root, event root, protocol version."""
    return b"".join(
        [
            borsh_string(h.chain_id),
            borsh_u64(h.height),
            borsh_u64(h.time_ms),
            _fixed(h.parent_hash, 32, "parent hash"),
            _fixed(h.proposer, 32, "proposer key"),
            _fixed(h.validator_set_hash, 32, "validator set hash"),
            _fixed(h.tx_root, 32, "transaction root"),
            _fixed(h.state_root, 32, "state root"),
            _fixed(h.event_root, 32, "event root"),
            borsh_u32(h.protocol_version),
        ]
    )


def header_hash(h) -> bytes:
    """The block hash of a header."""
    return hash_parts(HEADER, header_bytes(h))


FAULT_MODELS = {"byzantine": 0, "crash": 1}


@dataclass(frozen=True)
class Validator:
    organization: str
    name: str
    public_key: bytes
    power: int


@dataclass(frozen=True)
class ValidatorSet:
    """The validators deciding a height, in their order, and the fault model."""

    validators: tuple
    fault_model: str  # "byzantine" or "crash"

    @classmethod
    def from_chain_info(cls, info) -> "ValidatorSet":
        """The set of a `GetChainInfoResponse` (the validators deciding its next height)."""
        # FaultModel enum: 1 = byzantine, 2 = crash (0 is unspecified).
        model = {1: "byzantine", 2: "crash"}.get(info.fault_model)
        if model is None:
            raise ValueError(f"unknown fault model {info.fault_model}")
        return cls(
            tuple(Validator(v.organization, v.name, bytes(v.public_key), v.power) for v in info.validators),
            model,
        )

    def encoding(self) -> bytes:
        out = [borsh_u32(len(self.validators))]
        for v in self.validators:
            out += [
                borsh_string(v.organization),
                borsh_string(v.name),
                _fixed(v.public_key, 32, "validator key"),
                borsh_u64(v.power),
            ]
        out.append(borsh_u8(FAULT_MODELS[self.fault_model]))
        return b"".join(out)

    def hash(self) -> bytes:
        return hash_parts(VALIDATOR_SET, self.encoding())

    def total_power(self) -> int:
        return sum(v.power for v in self.validators)

    def quorum_power(self) -> int:
        t = self.total_power()
        if self.fault_model == "byzantine":
            return t // 3 * 2 + (t % 3 * 2) // 3 + 1
        return t // 2 + 1


def precommit_bytes(chain_id: str, height: int, round_: int, block_hash: bytes, validator: bytes) -> bytes:
    """The bytes a validator signs to precommit `block_hash`: "yui/v1/vote\\0" || borsh(VoteData)
    with vote type 1 (precommit) and `Some(block_hash)`."""
    return b"".join(
        [
            VOTE,
            borsh_string(chain_id),
            borsh_u8(1),
            borsh_u64(height),
            borsh_u32(round_),
            borsh_u8(1),
            _fixed(block_hash, 32, "block hash"),
            _fixed(validator, 32, "validator key"),
        ]
    )


# --- Merkle trees ----------------------------------------------------------------------------


def merkle_leaf(item: bytes) -> bytes:
    return hash_parts(MERKLE_LEAF, item)


def merkle_node(left: bytes, right: bytes) -> bytes:
    return hash_parts(MERKLE_NODE, left, right)


def merkle_root(items: list) -> bytes:
    """Root of the tree over `items` (leaves hashed here); a lone last node is carried up."""
    level = [merkle_leaf(i) for i in items]
    if not level:
        return hash_parts(MERKLE_NODE)
    while len(level) > 1:
        level = [merkle_node(level[i], level[i + 1]) if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
    return level[0]


def merkle_root_from(proof, leaf_hash: bytes):
    """The root a `yui.v1.MerkleProof` leads to from `leaf_hash`, or None when the path is not
    the one its index and leaf count call for (a step missing, extra, or on the wrong side)."""
    index, n = proof.index, proof.leaf_count
    if index >= n:
        return None
    acc = leaf_hash
    steps = list(proof.steps)
    k = 0
    while n > 1:
        sib = index ^ 1
        if sib < n:
            if k >= len(steps):
                return None
            step = steps[k]
            k += 1
            if step.sibling_is_left != (sib < index) or len(step.hash) != 32:
                return None
            acc = merkle_node(step.hash, acc) if step.sibling_is_left else merkle_node(acc, step.hash)
        index //= 2
        n = (n + 1) // 2
    if k != len(steps):
        return None
    return acc


# --- canonical protobuf ----------------------------------------------------------------------


def has_unknown_fields(m: Message) -> bool:
    """Whether `m` or any message inside it carries fields its schema does not define."""
    from google.protobuf import unknown_fields

    if len(unknown_fields.UnknownFieldSet(m)) > 0:
        return True
    for field, value in m.ListFields():
        if field.message_type is None:
            continue
        repeated = getattr(field, "is_repeated", None)
        if repeated is None:
            repeated = field.label == field.LABEL_REPEATED
        if repeated:
            if any(has_unknown_fields(v) for v in value):
                return True
        elif has_unknown_fields(value):
            return True
    return False


def decode_canonical(cls, data: bytes):
    """Decode `data` as `cls`, or raise ValueError unless it is the canonical encoding: no
    unknown field at any depth, and re-encoding gives back exactly `data`."""
    m = cls()
    m.ParseFromString(data)
    if has_unknown_fields(m) or m.SerializeToString(deterministic=True) != data:
        raise ValueError("not canonically encoded")
    return m
