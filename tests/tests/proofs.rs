//! Inclusion proofs over the real API: GetProof for a transaction and for an event, checked
//! offline with `yui proof verify` against the genesis file; a proof with any byte changed
//! does not verify.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use prost::Message;
use std::process::Command;
use std::time::Duration;
use yui_proto::v1 as pb;
use yui_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_and_event_proofs_verify_offline_and_any_changed_byte_fails() {
    let net = Net::start(1, "byzantine").await.unwrap();
    let mut c = net.nodes[0].client().await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..5 {
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
    let mut last = None;
    for id in &ids {
        last = Some(
            wait_committed(&mut c, id, Duration::from_secs(20))
                .await
                .unwrap(),
        );
    }
    let committed = last.unwrap();
    let cursor = committed.receipt.unwrap().first_event.unwrap();

    let genesis = net.dir.path().join("genesis.json");
    let set = yui_node::setup::genesis::GenesisDoc::load(&genesis)
        .unwrap()
        .validator_set()
        .unwrap();
    let tx_proof = c
        .get_proof(pb::GetProofRequest {
            target: Some(pb::get_proof_request::Target::TxId(ids[4].clone())),
        })
        .await
        .unwrap()
        .into_inner();
    let ev_proof = c
        .get_proof(pb::GetProofRequest {
            target: Some(pb::get_proof_request::Target::Event(cursor)),
        })
        .await
        .unwrap()
        .into_inner();
    let v = yui_client::proof::verify(&tx_proof, &set).unwrap();
    assert_eq!(v.tx_id.0.to_vec(), ids[4]);
    assert!(v.success);
    let e = yui_client::proof::verify(&ev_proof, &set).unwrap();
    assert!(matches!(
        e.event.and_then(|e| e.kind),
        Some(pb::event::Kind::Governance(pb::GovernanceEvent {
            kind: Some(pb::governance_event::Kind::RoleGranted(_))
        }))
    ));

    // The CLI, as an auditor runs it.
    let file = net.dir.path().join("tx.proof");
    std::fs::write(&file, tx_proof.encode_to_vec()).unwrap();
    let out = Command::new(yui_bin().unwrap())
        .args(["proof", "verify", "--genesis"])
        .arg(&genesis)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("VALID"));

    // Any changed byte fails (decode, canonical form, certificate or a Merkle path).
    let bytes = tx_proof.encode_to_vec();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        let r = yui_client::proof::decode(&b).and_then(|p| yui_client::proof::verify(&p, &set));
        assert!(r.is_err(), "a proof with byte {i} changed still verifies");
    }
    let mut b = bytes.clone();
    b[bytes.len() / 2] ^= 0x80;
    std::fs::write(&file, b).unwrap();
    let out = Command::new(yui_bin().unwrap())
        .args(["proof", "verify", "--genesis"])
        .arg(&genesis)
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());

    // Unknown targets are NOT_FOUND, malformed ones INVALID_ARGUMENT.
    let err = c
        .get_proof(pb::GetProofRequest {
            target: Some(pb::get_proof_request::Target::TxId(vec![9; 32])),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let err = c
        .get_proof(pb::GetProofRequest {
            target: Some(pb::get_proof_request::Target::TxId(vec![9; 3])),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
}
