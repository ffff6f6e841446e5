"""The SDK against a real devnet (conftest.py): the relief flow, receipts and typed errors,
bad input as a developer meets it, events resumed from a file checkpoint, the PersonalData
auth header, and proofs checked offline against what the node serves."""

import grpc
import pytest
from yui.v1 import common_pb2, ledger_pb2, personal_data_pb2, relief_pb2, tx_pb2

import relief_flow
from yui_sdk import (
    Client,
    FileCheckpointer,
    RejectedError,
    SigningKey,
    TransactionFailed,
    certificate,
    proof,
    tx,
    wire,
)


@pytest.fixture
def admin(devnet):
    return SigningKey.from_file(devnet.admin_key)


@pytest.fixture
def client(devnet, admin):
    with Client(devnet.endpoint, admin) as c:
        yield c


def open_disaster(tag):
    return relief_pb2.ReliefCall(open_disaster=relief_pb2.OpenDisaster(disaster_id=f"d-{tag}", name="Flood"))


def test_the_validator_set_hash_is_the_one_in_the_headers(client):
    vset = client.validator_set()
    latest = client.ledger.GetBlock(ledger_pb2.GetBlockRequest(latest=True)).block
    assert bytes(latest.header.validator_set_hash) == vset.hash()
    assert wire.header_hash(latest.header) == bytes(latest.hash)
    # And the block's commit certificate checks under the chain's rule.
    proof.verify_certificate(latest.certificate, latest.header.chain_id, latest.header.height, bytes(latest.hash), vset)


def test_relief_flow_example_runs_to_a_received_shipment(devnet):
    out = relief_flow.run(devnet.endpoint, str(devnet.admin_key))
    assert out["final"].status == relief_pb2.SHIPMENT_RECEIVED
    assert out["final"].quantity == 60
    assert out["label_png"].startswith(b"\x89PNG")


def test_a_committed_transaction_is_proven_offline_and_a_tampered_proof_is_not(client):
    done = client.submit(open_disaster("proof"))
    assert done.receipt.success and done.height >= 1
    p = client.proof(tx_id=done.tx_id)
    vset = client.validator_set()
    proven = proof.verify_bytes(p.SerializeToString(), vset)
    assert proven.tx_id == done.tx_id and proven.height == done.height and proven.success
    # The first event, by its cursor.
    ev = client.proof(event=done.receipt.first_event)
    assert proof.verify_bytes(ev.SerializeToString(), vset).event == done.receipt.events[0]
    # One changed byte of the header, or of a signature: refused, with the reason.
    bad = ledger_pb2.InclusionProof()
    bad.CopyFrom(p)
    bad.header.state_root = bytes([bad.header.state_root[0] ^ 1]) + bad.header.state_root[1:]
    with pytest.raises(proof.ProofError) as e:
        proof.verify_bytes(bad.SerializeToString(), vset)
    assert e.value.code == "wrong_block"
    bad.CopyFrom(p)
    s = bad.certificate.signatures[0]
    s.signature = s.signature[:-1] + bytes([s.signature[-1] ^ 1])
    with pytest.raises(proof.ProofError) as e:
        proof.verify_bytes(bad.SerializeToString(), vset)
    assert e.value.code == "bad_signature"
    # Checked against another validator set: refused.
    other = wire.ValidatorSet(
        (wire.Validator("x", "x-1", SigningKey.generate().public_key, 1),), "byzantine"
    )
    with pytest.raises(proof.ProofError) as e:
        proof.verify_bytes(p.SerializeToString(), other)
    assert e.value.code == "other_validator_set"


def test_a_failed_call_is_a_typed_error_with_the_contracts_code(client):
    client.submit(open_disaster("twice"))
    with pytest.raises((TransactionFailed, RejectedError)) as e:
        client.submit(open_disaster("twice"))
    assert e.value.error_code.startswith("relief."), e.value
    assert "d-twice" in str(e.value) or e.value.error_code


def test_bad_input_is_refused_with_a_sentence(client, admin):
    info = client.chain_info()
    call = open_disaster("bad")
    # A wrong chain id.
    signed = tx.sign(admin, tx.body(admin, "another-chain", info.height + 10, call))
    with pytest.raises(RejectedError) as e:
        client.submit_signed(signed)
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "chain" in e.value.message
    # A non-canonical body built by hand (an unknown field appended), correctly signed.
    body = tx.body(admin, info.chain_id, info.height + 10, call).SerializeToString() + b"\x98\x06\x01"
    with pytest.raises(RejectedError) as e:
        client.submit_signed(tx.sign_body_bytes(admin, body))
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "canonical" in e.value.message or "unknown" in e.value.message, e.value.message
    # A signature by another key.
    good = tx.sign(admin, tx.body(admin, info.chain_id, info.height + 10, call))
    forged = tx_pb2.SignedTransaction(body=good.body, signature=SigningKey.generate().sign(tx.sign_bytes(good.body)))
    with pytest.raises(RejectedError) as e:
        client.submit_signed(forged)
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT
    # An account the chain does not know.
    with pytest.raises(RejectedError) as e:
        client.submit(call, key=SigningKey.generate())
    assert e.value.code == grpc.StatusCode.PERMISSION_DENIED
    # The same body twice.
    once = client.sign(open_disaster("dup"))
    client.submit_signed(once)
    with pytest.raises(RejectedError) as e:
        client.submit_signed(once)
    assert e.value.code == grpc.StatusCode.ALREADY_EXISTS


def test_batches_report_each_transaction(client, admin):
    ok = [client.sign(open_disaster(f"batch-{i}")) for i in range(3)]
    results = client.submit_many(ok + [ok[0]])
    assert [isinstance(r, bytes) for r in results] == [True, True, True, False]
    assert results[3].code == grpc.StatusCode.ALREADY_EXISTS
    for r in results[:3]:
        assert client.wait(r).receipt.success


def test_events_resume_from_a_file_checkpoint(client, tmp_path):
    start = client.chain_info().height
    cp = FileCheckpointer(tmp_path / "cursor.json")
    cp.save(common_pb2.Cursor(height=start, index=2**32 - 1))
    tags = [f"ev-{i}" for i in range(4)]
    for t in tags:
        client.submit(open_disaster(t))
    seen = []

    def handle(env):
        if env.event.WhichOneof("kind") == "relief" and env.event.relief.WhichOneof("kind") == "disaster_changed":
            seen.append(env.event.relief.disaster_changed.disaster_id)

    # Two events, "crash", then the rest from the stored cursor: none lost, none repeated.
    assert client.follow(handle, cp, limit=2, timeout=20) == 2
    first_cursor = cp.load()
    assert first_cursor.height > start
    client.follow(handle, FileCheckpointer(tmp_path / "cursor.json"), timeout=3)
    assert seen == [f"d-{t}" for t in tags]
    # "From now" starts after every event committed so far.
    stream = client.events(from_now=True, timeout=2)
    with pytest.raises(grpc.RpcError) as e:
        next(iter(stream))
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_personal_data_calls_carry_the_signed_token(client, admin):
    put = client.personal_data.Put(
        personal_data_pb2.PutPersonalDataRequest(
            purpose=personal_data_pb2.PERSONAL_DATA_PURPOSE_RESIDENT_CONTACT,
            fields=[personal_data_pb2.PersonalField(name="phone", value="090-0000-0000")],
        ),
        metadata=client.pd_metadata("Put"),
    )
    got = client.personal_data.Get(personal_data_pb2.GetPersonalDataRequest(id=put.id), metadata=client.pd_metadata("Get"))
    assert [(f.name, f.value) for f in got.fields] == [("phone", "090-0000-0000")]
    # A token for another method is refused.
    with pytest.raises(grpc.RpcError) as e:
        client.personal_data.Get(personal_data_pb2.GetPersonalDataRequest(id=put.id), metadata=client.pd_metadata("Put"))
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_certificate_example_checks_a_real_certificate(devnet):
    import certificate_check

    out = certificate_check.run(devnet.endpoint, str(devnet.admin_key))
    assert out["offline"].certificate.certificate_id == out["certificate_id"]
    assert out["online"].valid
    assert not out["tampered"].valid and out["tampered"].reason_code
    with pytest.raises(certificate.CertificateError):
        certificate.verify_qr(out["qr_text"][:-4] + "AAAA", out["vset"])


def test_meter_gateway_example_commits_a_batch_of_readings(devnet):
    import meter_gateway

    out = meter_gateway.run(devnet.endpoint, str(devnet.admin_key), months=6)
    assert len(out["receipts"]) == 6
    # 371 kWh at 438 g/kWh: 162,498 g of CO2 a month, in fiscal year 2026.
    assert [r.reduction_g for r in out["reductions"]] == [162_498] * 6
    assert {r.fiscal_year for r in out["reductions"]} == {2026}
