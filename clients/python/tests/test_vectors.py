"""The cross-language vectors (clients/vectors/vectors.json, made by the Rust code the nodes
run): this SDK must give the same bytes, hashes and verdicts, reason codes included."""

import json
import pathlib

import pytest
from yui.v1 import ledger_pb2, tx_pb2

from yui_sdk import auth, certificate, ed25519, proof, tx, wire

V = json.loads((pathlib.Path(__file__).resolve().parents[2] / "vectors" / "vectors.json").read_text())
x = bytes.fromhex


def test_domains_are_the_chains():
    d = V["domains"]
    assert wire.TX_SIGNATURE.decode() == d["tx_signature"]
    assert wire.TX_ID.decode() == d["tx_id"]
    assert wire.HEADER.decode() == d["header"]
    assert wire.VOTE.decode() == d["vote"]
    assert wire.VALIDATOR_SET.decode() == d["validator_set"]
    assert wire.EVENT.decode() == d["event"]
    assert wire.MERKLE_LEAF.decode() == d["merkle_leaf"]
    assert wire.MERKLE_NODE.decode() == d["merkle_node"]
    assert wire.AUTH.decode() == d["auth"]


@pytest.mark.parametrize("k", V["keys"], ids=lambda k: k["public_key"][:8])
def test_keys(k):
    assert ed25519.SigningKey(x(k["seed"])).public_key == x(k["public_key"])


@pytest.mark.parametrize("t", V["transactions"], ids=lambda t: t["name"])
def test_transactions_are_built_signed_and_named_alike(t):
    key = ed25519.SigningKey(x(t["seed"]))
    field = tx_pb2.TxBody.DESCRIPTOR.fields_by_number[t["call_field"]]
    call = field.message_type._concrete_class()
    call.ParseFromString(x(t["call"]))
    b = tx.body(key, t["chain_id"], t["expires_at_height"], call, nonce=x(t["nonce"]))
    signed = tx.sign(key, b)
    assert signed.body.hex() == t["body"]
    assert tx.sign_bytes(signed.body).hex() == t["sign_bytes"]
    assert signed.signature.hex() == t["signature"]
    assert tx.tx_id(signed.body, signed.signature).hex() == t["tx_id"]
    assert tx.body_hash(signed.body).hex() == t["body_hash"]
    # The body decodes canonically (what a node checks first).
    assert wire.decode_canonical(tx_pb2.TxBody, signed.body) == b


@pytest.mark.parametrize("t", V["non_canonical_bodies"], ids=lambda t: t["name"])
def test_hand_made_bodies_are_not_canonical(t):
    with pytest.raises(ValueError):
        wire.decode_canonical(tx_pb2.TxBody, x(t["body"]))


@pytest.mark.parametrize("a", V["auth_headers"], ids=lambda a: a["method"])
def test_auth_headers(a):
    key = ed25519.SigningKey(x(a["seed"]))
    assert auth.auth_message(a["method"], a["unix_ms"]).hex() == a["message"]
    assert auth.auth_header(key, a["method"], a["unix_ms"]) == a["header"]


@pytest.mark.parametrize("s", V["signatures"], ids=lambda s: s["name"])
def test_signatures_follow_zip215(s):
    assert ed25519.verify(x(s["public_key"]), x(s["message"]), x(s["signature"])) is s["valid"]


def sets():
    return [
        wire.ValidatorSet(
            tuple(wire.Validator(v["organization"], v["name"], x(v["public_key"]), v["power"]) for v in s["validators"]),
            s["fault_model"],
        )
        for s in V["validator_sets"]
    ]


@pytest.mark.parametrize("i", range(len(V["validator_sets"])))
def test_validator_sets(i):
    s, want = sets()[i], V["validator_sets"][i]
    assert s.encoding().hex() == want["encoding"]
    assert s.hash().hex() == want["hash"]
    assert s.total_power() == want["total_power"]
    assert s.quorum_power() == want["quorum_power"]


@pytest.mark.parametrize("hv", V["headers"], ids=lambda h: h["chain_id"])
def test_headers(hv):
    h = ledger_pb2.BlockHeader(
        **{k: (x(hv[k]) if isinstance(hv[k], str) and k != "chain_id" else hv[k]) for k in hv if k not in ("encoding", "hash")}
    )
    assert wire.header_bytes(h).hex() == hv["encoding"]
    assert wire.header_hash(h).hex() == hv["hash"]


@pytest.mark.parametrize("p", V["precommits"], ids=lambda p: str(p["round"]))
def test_precommits(p):
    b = wire.precommit_bytes(p["chain_id"], p["height"], p["round"], x(p["block_hash"]), x(p["validator"]))
    assert b.hex() == p["sign_bytes"]
    assert ed25519.SigningKey(x(p["seed"])).sign(b).hex() == p["signature"]
    assert ed25519.verify(x(p["validator"]), b, x(p["signature"]))


@pytest.mark.parametrize("m", V["merkle"], ids=lambda m: str(len(m["items"])))
def test_merkle(m):
    items = [x(i) for i in m["items"]]
    assert wire.merkle_root(items).hex() == m["root"]
    for i, pv in enumerate(m["proofs"]):
        p = ledger_pb2.MerkleProof(
            index=pv["index"],
            leaf_count=pv["leaf_count"],
            steps=[ledger_pb2.MerkleStep(sibling_is_left=s["sibling_is_left"], hash=x(s["hash"])) for s in pv["steps"]],
        )
        assert wire.merkle_root_from(p, wire.merkle_leaf(items[i])).hex() == m["root"]
        # The same path does not prove another item.
        assert wire.merkle_root_from(p, wire.merkle_leaf(b"other")).hex() != m["root"]


@pytest.mark.parametrize("pv", V["proofs"], ids=lambda p: p["name"])
def test_proofs(pv):
    vset = sets()[pv["validator_set"]]
    if pv["valid"]:
        got = proof.verify_bytes(x(pv["proof"]), vset)
        assert got.height == pv["height"]
        assert got.block_hash.hex() == pv["block_hash"]
        assert got.tx_id.hex() == pv["tx_id"]
        assert got.success is pv["success"]
        assert (got.event.SerializeToString().hex() if got.event is not None else None) == pv["event"]
    else:
        with pytest.raises(proof.ProofError) as e:
            proof.verify_bytes(x(pv["proof"]), vset)
        assert e.value.code == pv["code"], str(e.value)


@pytest.mark.parametrize("cv", V["certificates"], ids=lambda c: c["name"])
def test_certificates(cv):
    vset = sets()[cv["validator_set"]]
    if cv["valid"]:
        c = certificate.verify_qr(cv["qr_text"], vset)
        assert c.certificate.certificate_id == cv["certificate_id"]
        assert c.certificate.volunteer_id == cv["volunteer_id"]
        assert list(c.certificate.skills) == cv["skills"]
        assert c.height == cv["height"]
        assert c.block_hash.hex() == cv["block_hash"]
    else:
        with pytest.raises(certificate.CertificateError) as e:
            certificate.verify_qr(cv["qr_text"], vset)
        assert e.value.code == cv["code"], str(e.value)


@pytest.mark.parametrize("p", V["presence"], ids=lambda p: p["activity_id"])
def test_presence(p):
    from yui_sdk import presence

    assert presence.PRESENCE_DOMAIN.decode() == V["domains"]["presence"]
    assert presence.presence_message(p["activity_id"], x(p["challenge"])).hex() == p["message"]
    assert presence.sign(ed25519.SigningKey(x(p["seed"])), p["activity_id"], x(p["challenge"])).hex() == p["signature"]


@pytest.mark.parametrize("n", V["notifications"], ids=lambda n: n["channel"])
def test_notification_recipient_hash(n):
    from yui_sdk import notification

    assert notification.RECIPIENT_DOMAIN.decode() == V["domains"]["recipient"]
    assert notification.normalize(n["channel"], n["address"]) == n["normalized"]
    assert notification.recipient_hash(x(n["key"]), n["channel"], n["address"]).hex() == n["recipient_hash"]
