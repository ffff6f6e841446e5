//! End-to-end tests of the Ledger API on a real single-validator `yui` process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use prost::Message;
use std::time::Duration;
use tokio_stream::StreamExt;
use yui_proto::v1 as pb;
use yui_tests::*;

const WAIT: Duration = Duration::from_secs(20);

fn role_granted_account(ev: &pb::Event) -> Option<Vec<u8>> {
    match &ev.kind {
        Some(pb::event::Kind::Governance(pb::GovernanceEvent {
            kind: Some(pb::governance_event::Kind::RoleGranted(g)),
        })) => Some(g.account.clone()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn governance_transactions_commit_with_receipts_blocks_and_certificates() {
    let net = Net::start(1, "byzantine").await.unwrap();
    let mut c = net.nodes[0].client().await.unwrap();
    let info = c
        .get_chain_info(pb::GetChainInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.chain_id, "yui-test");
    assert_eq!(info.validators.len(), 1);
    assert_eq!(info.fault_model, pb::FaultModel::Byzantine as i32);
    assert_eq!(info.quorum_power, 1);

    let donor = random_key();
    let h = height(&mut c).await.unwrap();
    let tx = sign_body(
        &net.admin,
        &body(
            &net.admin,
            &net.chain_id,
            h + 50,
            grant(&donor, pb::RoleKind::RoleDonor, ""),
        ),
    );
    let id = submit(&mut c, tx.clone()).await.unwrap();
    assert_eq!(id.len(), 32);
    let r = wait_committed(&mut c, &id, WAIT).await.unwrap();
    let receipt = r.receipt.unwrap();
    assert!(receipt.success, "receipt: {receipt:?}");
    assert_eq!(receipt.events.len(), 1);
    assert_eq!(
        role_granted_account(&receipt.events[0]),
        Some(donor.verifying_key().to_bytes().to_vec())
    );
    assert_eq!(r.transaction.unwrap(), tx);

    // The block holds the transaction, and its certificate commits the block hash.
    let b = c
        .get_block(pb::GetBlockRequest {
            by: Some(pb::get_block_request::By::Height(r.height)),
        })
        .await
        .unwrap()
        .into_inner()
        .block
        .unwrap();
    assert_eq!(b.transactions[r.index as usize], tx);
    let cert = b.certificate.clone().unwrap();
    assert_eq!(cert.block_hash, b.hash);
    assert_eq!(cert.height, r.height);
    assert_eq!(cert.signatures.len(), 1);
    assert_eq!(cert.signatures[0].validator, info.validators[0].public_key);
    let by_hash = c
        .get_block(pb::GetBlockRequest {
            by: Some(pb::get_block_request::By::Hash(b.hash.clone())),
        })
        .await
        .unwrap()
        .into_inner()
        .block
        .unwrap();
    assert_eq!(by_hash, b);
    let parent = header(&mut c, r.height - 1).await;
    if r.height > 1 {
        let parent_hash = c
            .get_block(pb::GetBlockRequest {
                by: Some(pb::get_block_request::By::Height(r.height - 1)),
            })
            .await
            .unwrap()
            .into_inner()
            .block
            .unwrap()
            .hash;
        assert_eq!(b.header.as_ref().unwrap().parent_hash, parent_hash);
        assert!(parent.is_ok());
    }

    // A failed call is recorded with its error: granting the same role again.
    let h = height(&mut c).await.unwrap();
    let again = sign_body(
        &net.admin,
        &body(
            &net.admin,
            &net.chain_id,
            h + 50,
            grant(&donor, pb::RoleKind::RoleDonor, ""),
        ),
    );
    let id2 = submit(&mut c, again).await.unwrap();
    let r2 = wait_committed(&mut c, &id2, WAIT).await.unwrap();
    let rc2 = r2.receipt.unwrap();
    assert!(!rc2.success);
    assert_eq!(rc2.error.unwrap().code, "governance.role_held");
    assert!(rc2.events.is_empty());

    // The new donor cannot grant roles: it is not an org admin.
    let h = height(&mut c).await.unwrap();
    let by_donor = sign_body(
        &donor,
        &body(
            &donor,
            &net.chain_id,
            h + 50,
            grant(&random_key(), pb::RoleKind::RoleDonor, ""),
        ),
    );
    let err = submit(&mut c, by_donor).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_stream_resumes_from_a_cursor_without_loss_or_repeat() {
    let net = Net::start(1, "byzantine").await.unwrap();
    let mut c = net.nodes[0].client().await.unwrap();
    let mut granted = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..6 {
        let k = random_key();
        granted.push(k.verifying_key().to_bytes().to_vec());
        let h = height(&mut c).await.unwrap();
        let tx = sign_body(
            &net.admin,
            &body(
                &net.admin,
                &net.chain_id,
                h + 50,
                grant(&k, pb::RoleKind::RoleResident, ""),
            ),
        );
        ids.push(submit(&mut c, tx).await.unwrap());
    }
    for id in &ids {
        wait_committed(&mut c, id, WAIT).await.unwrap();
    }
    // Read the first three events, then disconnect.
    let mut seen: Vec<(pb::Cursor, Vec<u8>)> = Vec::new();
    {
        let mut s = c
            .subscribe_events(pb::SubscribeEventsRequest { after: None })
            .await
            .unwrap()
            .into_inner();
        while seen.len() < 3 {
            let env = tokio::time::timeout(WAIT, s.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            seen.push((
                env.cursor.unwrap(),
                role_granted_account(&env.event.unwrap()).unwrap(),
            ));
        }
    }
    // More events happen while the backend is away.
    let mut more = Vec::new();
    for _ in 0..3 {
        let k = random_key();
        granted.push(k.verifying_key().to_bytes().to_vec());
        let h = height(&mut c).await.unwrap();
        let tx = sign_body(
            &net.admin,
            &body(
                &net.admin,
                &net.chain_id,
                h + 50,
                grant(&k, pb::RoleKind::RoleResident, ""),
            ),
        );
        more.push(submit(&mut c, tx).await.unwrap());
    }
    for id in &more {
        wait_committed(&mut c, id, WAIT).await.unwrap();
    }
    // Resume after the last cursor handled: the rest arrives exactly once, in order.
    let last = seen.last().unwrap().0;
    let mut s = c
        .subscribe_events(pb::SubscribeEventsRequest { after: Some(last) })
        .await
        .unwrap()
        .into_inner();
    while seen.len() < granted.len() {
        let env = tokio::time::timeout(WAIT, s.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push((
            env.cursor.unwrap(),
            role_granted_account(&env.event.unwrap()).unwrap(),
        ));
    }
    let accounts: Vec<Vec<u8>> = seen.iter().map(|(_, a)| a.clone()).collect();
    assert_eq!(accounts, granted, "events lost, repeated or reordered");
    for w in seen.windows(2) {
        assert!(
            (w[0].0.height, w[0].0.index) < (w[1].0.height, w[1].0.index),
            "cursors must increase"
        );
    }
    // Live delivery: an event committed after subscribing arrives on the open stream.
    let k = random_key();
    let h = height(&mut c).await.unwrap();
    let tx = sign_body(
        &net.admin,
        &body(
            &net.admin,
            &net.chain_id,
            h + 50,
            grant(&k, pb::RoleKind::RoleResident, ""),
        ),
    );
    submit(&mut c, tx).await.unwrap();
    let env = tokio::time::timeout(WAIT, s.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        role_granted_account(&env.event.unwrap()).unwrap(),
        k.verifying_key().to_bytes().to_vec()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_and_restart_keeps_every_committed_transaction_and_the_state_root() {
    let mut net = Net::start(1, "byzantine").await.unwrap();
    let mut c = net.nodes[0].client().await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..20 {
        let h = height(&mut c).await.unwrap();
        let tx = sign_body(
            &net.admin,
            &body(
                &net.admin,
                &net.chain_id,
                h + 50,
                grant(&random_key(), pb::RoleKind::RoleDonor, ""),
            ),
        );
        ids.push(submit(&mut c, tx).await.unwrap());
    }
    let mut committed = Vec::new();
    for id in &ids {
        let r = wait_committed(&mut c, id, WAIT).await.unwrap();
        committed.push((id.clone(), r.height, r.index));
    }
    // One more, with the longest expiry the chain allows: still unexpired after the restart.
    let h = height(&mut c).await.unwrap();
    let kept = sign_body(
        &net.admin,
        &body(
            &net.admin,
            &net.chain_id,
            h + 100,
            grant(&random_key(), pb::RoleKind::RoleDonor, ""),
        ),
    );
    let id = submit(&mut c, kept.clone()).await.unwrap();
    wait_committed(&mut c, &id, WAIT).await.unwrap();
    let tip = height(&mut c).await.unwrap();
    let root_before = header(&mut c, tip).await.unwrap().state_root;
    // Submit more without waiting, then kill -9 mid-stream.
    for _ in 0..10 {
        let h = height(&mut c).await.unwrap();
        let tx = sign_body(
            &net.admin,
            &body(
                &net.admin,
                &net.chain_id,
                h + 50,
                grant(&random_key(), pb::RoleKind::RoleDonor, ""),
            ),
        );
        let _ = submit(&mut c, tx).await;
    }
    net.nodes[0].kill9();
    net.nodes[0].start().await.unwrap();
    let mut c = net.nodes[0].client().await.unwrap();
    assert!(height(&mut c).await.unwrap() >= tip);
    // Replay protection was rebuilt from the blocks: the committed body is still a duplicate.
    let err = submit(&mut c, kept).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::AlreadyExists, "{err:?}");
    for (id, h, i) in &committed {
        let r = c
            .get_transaction(pb::GetTransactionRequest { tx_id: id.clone() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            r.status,
            pb::TxStatus::Committed as i32,
            "committed tx lost after kill -9"
        );
        assert_eq!((r.height, r.index), (*h, *i));
        assert!(r.receipt.unwrap().success);
    }
    assert_eq!(header(&mut c, tip).await.unwrap().state_root, root_before);
    // And the chain goes on.
    wait_height(&mut c, tip + 2, WAIT).await.unwrap();
    let h = height(&mut c).await.unwrap();
    let tx = sign_body(
        &net.admin,
        &body(
            &net.admin,
            &net.chain_id,
            h + 50,
            grant(&random_key(), pb::RoleKind::RoleDonor, ""),
        ),
    );
    let id = submit(&mut c, tx).await.unwrap();
    assert!(
        wait_committed(&mut c, &id, WAIT)
            .await
            .unwrap()
            .receipt
            .unwrap()
            .success
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_right_status_and_changes_nothing() {
    let net = Net::start(1, "byzantine").await.unwrap();
    let mut c = net.nodes[0].client().await.unwrap();
    let h = height(&mut c).await.unwrap();
    let good = |exp: u64| {
        body(
            &net.admin,
            &net.chain_id,
            exp,
            grant(&random_key(), pb::RoleKind::RoleDonor, ""),
        )
    };
    use tonic::Code;
    let mut cases: Vec<(&str, pb::SignedTransaction, Code)> = Vec::new();
    cases.push((
        "malformed bytes",
        pb::SignedTransaction {
            body: vec![0xff, 0xff, 0xff],
            signature: vec![0; 64],
        },
        Code::InvalidArgument,
    ));
    let mut big = good(h + 50);
    big.call = Some(pb::tx_body::Call::Governance(pb::GovernanceCall {
        call: Some(pb::governance_call::Call::ProposeValidatorChange(
            pb::ProposeValidatorChange {
                change: None,
                reason: "x".repeat(70_000),
                cites_evidence: Vec::new(),
            },
        )),
    }));
    cases.push((
        "oversized body",
        sign_body(&net.admin, &big),
        Code::ResourceExhausted,
    ));
    let mut wrong_chain = good(h + 50);
    wrong_chain.chain_id = "another-chain".into();
    cases.push((
        "wrong chain id",
        sign_body(&net.admin, &wrong_chain),
        Code::InvalidArgument,
    ));
    cases.push((
        "expired",
        sign_body(&net.admin, &good(h.saturating_sub(1))),
        Code::FailedPrecondition,
    ));
    cases.push((
        "expiry too far",
        sign_body(&net.admin, &good(h + 10_000)),
        Code::FailedPrecondition,
    ));
    let mut bad_sig = sign_body(&net.admin, &good(h + 50));
    bad_sig.signature[5] ^= 1;
    cases.push(("bad signature", bad_sig, Code::InvalidArgument));
    let mut other_signer = sign_body(&net.admin, &good(h + 50));
    other_signer.signature = sign_body(&random_key(), &good(h + 50)).signature;
    cases.push((
        "signature by another key",
        other_signer,
        Code::InvalidArgument,
    ));
    let stranger = random_key();
    cases.push((
        "unknown signer",
        sign_body(
            &stranger,
            &body(
                &stranger,
                &net.chain_id,
                h + 50,
                grant(&random_key(), pb::RoleKind::RoleDonor, ""),
            ),
        ),
        Code::PermissionDenied,
    ));
    let mut no_call = good(h + 50);
    no_call.call = None;
    cases.push((
        "no call",
        sign_body(&net.admin, &no_call),
        Code::InvalidArgument,
    ));
    // A call this node does not know: an unknown oneof field number (as a newer client sends).
    let mut unknown = no_call.clone();
    unknown.nonce = nonce();
    let mut bytes = unknown.encode_to_vec();
    bytes.extend_from_slice(&[0xfa, 0x06, 0x00]); // field 111, length-delimited, empty
    let sig = {
        use ed25519_dalek::Signer;
        net.admin
            .sign(&[b"yui/v1/tx-signature\0".as_slice(), &bytes].concat())
            .to_bytes()
            .to_vec()
    };
    cases.push((
        "unknown call",
        pb::SignedTransaction {
            body: bytes,
            signature: sig,
        },
        Code::InvalidArgument,
    ));
    let empty_gov = body(
        &net.admin,
        &net.chain_id,
        h + 50,
        pb::tx_body::Call::Governance(pb::GovernanceCall { call: None }),
    );
    cases.push((
        "empty governance call",
        sign_body(&net.admin, &empty_gov),
        Code::InvalidArgument,
    ));

    let mut pii = good(h + 50);
    pii.call = Some(pb::tx_body::Call::Governance(pb::GovernanceCall {
        call: Some(pb::governance_call::Call::ProposeValidatorChange(
            pb::ProposeValidatorChange {
                change: None,
                reason: "担当: ０９０－１２３４－５６７８".into(),
                cites_evidence: Vec::new(),
            },
        )),
    }));
    cases.push((
        "personal data in a free-text field",
        sign_body(&net.admin, &pii),
        Code::InvalidArgument,
    ));

    let batch_cases = cases.clone();
    for (what, tx, code) in cases {
        let err = submit(&mut c, tx.clone()).await.expect_err(what);
        assert_eq!(err.code(), code, "{what}: {err:?}");
        assert!(
            !err.message().is_empty(),
            "{what}: the message must explain"
        );
        assert!(
            !err.message().contains("1234"),
            "{what}: the message echoes the input"
        );
        if what.starts_with("personal data") {
            assert!(err.message().contains("PersonalData"), "{}", err.message());
        }
        // Nothing stored: the id is unknown, not pending.
        let id = blake3_tx_id(&tx);
        let r = c
            .get_transaction(pb::GetTransactionRequest { tx_id: id })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            r.status,
            pb::TxStatus::Unknown as i32,
            "{what}: a rejected transaction was stored"
        );
    }

    // The same transactions in one SubmitTransactions call, with two valid ones among them
    // and a copy of the first valid one: each gets the result SubmitTransaction gives it, and
    // only the valid ones are admitted.
    let valid = [
        sign_body(&net.admin, &good(h + 50)),
        sign_body(&net.admin, &good(h + 50)),
    ];
    let mut batch = vec![("valid 1", valid[0].clone(), Code::Ok)];
    batch.extend(batch_cases);
    batch.push(("valid 2", valid[1].clone(), Code::Ok));
    batch.push(("copy of valid 1", valid[0].clone(), Code::AlreadyExists));
    let results = c
        .submit_transactions(pb::SubmitTransactionsRequest {
            transactions: batch.iter().map(|(_, tx, _)| tx.clone()).collect(),
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(results.len(), batch.len());
    for ((what, tx, code), r) in batch.iter().zip(&results) {
        assert_eq!(r.code, *code as u32, "{what} in a batch: {r:?}");
        if *code == Code::Ok {
            assert_eq!(r.tx_id, blake3_tx_id(tx), "{what}");
            assert!(r.message.is_empty(), "{what}");
        } else {
            assert!(r.tx_id.is_empty() && !r.message.is_empty(), "{what}: {r:?}");
            assert!(
                !r.message.contains("1234"),
                "{what}: the message echoes the input"
            );
        }
    }
    for tx in &valid {
        wait_committed(&mut c, &blake3_tx_id(tx), WAIT)
            .await
            .unwrap();
    }
    for (n, what) in [(0, "no transaction"), (1_001, "too many transactions")] {
        let err = c
            .submit_transactions(pb::SubmitTransactionsRequest {
                transactions: vec![valid[0].clone(); n],
            })
            .await
            .expect_err(what);
        assert_eq!(err.code(), Code::InvalidArgument, "{what}: {err:?}");
    }

    // Signer without the role: a resident cannot grant roles.
    let resident = random_key();
    let grant_res = sign_body(
        &net.admin,
        &body(
            &net.admin,
            &net.chain_id,
            h + 50,
            grant(&resident, pb::RoleKind::RoleResident, ""),
        ),
    );
    let id = submit(&mut c, grant_res).await.unwrap();
    wait_committed(&mut c, &id, WAIT).await.unwrap();
    let h = height(&mut c).await.unwrap();
    let by_resident = sign_body(
        &resident,
        &body(
            &resident,
            &net.chain_id,
            h + 50,
            grant(&random_key(), pb::RoleKind::RoleDonor, ""),
        ),
    );
    let err = submit(&mut c, by_resident).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // Duplicate: the same signed transaction, and a re-signed copy of the same body.
    let dup_body = good(h + 50);
    let first = sign_body(&net.admin, &dup_body);
    let id = submit(&mut c, first.clone()).await.unwrap();
    let err = submit(&mut c, first.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "pending duplicate");
    wait_committed(&mut c, &id, WAIT).await.unwrap();
    let err = submit(&mut c, first).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "committed duplicate");

    // Bad query arguments.
    let err = c
        .get_transaction(pb::GetTransactionRequest {
            tx_id: vec![1, 2, 3],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = c
        .get_block(pb::GetBlockRequest {
            by: Some(pb::get_block_request::By::Height(1_000_000)),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .get_block(pb::GetBlockRequest { by: None })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    // The chain holds exactly the three valid transactions submitted in this test.
    let tip = height(&mut c).await.unwrap();
    let mut total = 0;
    for hh in 1..=tip {
        let b = c
            .get_block(pb::GetBlockRequest {
                by: Some(pb::get_block_request::By::Height(hh)),
            })
            .await
            .unwrap()
            .into_inner()
            .block
            .unwrap();
        total += b.transactions.len();
    }
    assert_eq!(
        total, 4,
        "only the two valid batch transactions, the role grant and the first duplicate-test transaction may be committed"
    );
}

/// The id the node computes: blake3("yui/v1/tx-id\0" || u32_le(len(body)) || body || signature).
fn blake3_tx_id(tx: &pb::SignedTransaction) -> Vec<u8> {
    let mut h = blake3::Hasher::new();
    h.update(b"yui/v1/tx-id\0");
    h.update(&(tx.body.len() as u32).to_le_bytes());
    h.update(&tx.body);
    h.update(&tx.signature);
    h.finalize().as_bytes().to_vec()
}

/// Raw bytes as a gRPC message, to send what no generated client would.
#[derive(Default, Clone)]
struct RawCodec;
struct RawEncoder;
struct RawDecoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        buf: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(buf, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        buf: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        let n = bytes::Buf::remaining(buf);
        Ok(Some(bytes::Buf::copy_to_bytes(buf, n).to_vec()))
    }
}

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_is_not_protobuf_is_invalid_argument_and_changes_nothing() {
    let net = Net::start(1, "byzantine").await.unwrap();
    let channel = tonic::transport::Channel::from_shared(net.nodes[0].endpoint.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    for (method, bytes) in [
        ("/yui.v1.Ledger/SubmitTransaction", vec![0xff, 0xff, 0xff]),
        ("/yui.v1.Ledger/SubmitTransactions", vec![0x0a, 0x05, 0x01]),
        ("/yui.v1.Ledger/GetTransaction", vec![0x0a]),
    ] {
        grpc.ready().await.unwrap();
        let err = grpc
            .unary(
                tonic::Request::new(bytes),
                http::uri::PathAndQuery::from_static(method),
                RawCodec,
            )
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            tonic::Code::InvalidArgument,
            "{method}: {err:?}"
        );
        assert!(
            err.message().contains("not a valid protobuf"),
            "{method}: {err:?}"
        );
    }
    let mut c = net.nodes[0].client().await.unwrap();
    let info = c
        .get_chain_info(pb::GetChainInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        info.status,
        pb::NodeStatus::Serving as i32,
        "alone, it serves"
    );
}
