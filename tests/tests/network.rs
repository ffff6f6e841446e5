//! A consortium of real `yui` processes on 127.0.0.1: agreement, crashes, restarts, wiped
//! data directories, the genesis allow-list and a twin validator. (Cut links and splits run
//! between separate hosts: `hosts.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use yui_proto::v1 as pb;
use yui_tests::*;

const WAIT: Duration = Duration::from_secs(60);

/// Submit one role grant through `c`; returns the id.
async fn submit_one(
    net_admin: &ed25519_dalek::SigningKey,
    chain_id: &str,
    c: &mut Client,
) -> anyhow::Result<Vec<u8>> {
    let h = height(c).await?;
    let tx = sign_body(
        net_admin,
        &body(
            net_admin,
            chain_id,
            h + 80,
            grant(&random_key(), pb::RoleKind::RoleDonor, ""),
        ),
    );
    Ok(submit(c, tx).await?)
}

/// A steady load on `endpoints` until `stop`; returns the ids it saw accepted.
fn load(
    net: &Net,
    endpoints: Vec<String>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<Vec<u8>>> {
    let admin = net.admin.clone();
    let chain_id = net.chain_id.clone();
    tokio::spawn(async move {
        let mut ids = Vec::new();
        let mut clients = Vec::new();
        for e in &endpoints {
            if let Ok(c) = pb::ledger_client::LedgerClient::connect(e.clone()).await {
                clients.push(c);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(240);
        let mut i = 0usize;
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline && !clients.is_empty() {
            let n = clients.len();
            if let Ok(id) = submit_one(&admin, &chain_id, &mut clients[i % n]).await {
                ids.push(id);
            }
            i += 1;
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        ids
    })
}

async fn clients(net: &Net) -> Vec<Client> {
    let mut v = Vec::new();
    for n in &net.nodes {
        v.push(n.client().await.unwrap());
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_to_different_validators_commit_in_the_same_blocks_everywhere() {
    let net = Net::start(4, "byzantine").await.unwrap();
    let mut cs = clients(&net).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            submit_one(&net.admin, &net.chain_id, &mut cs[i % 4])
                .await
                .unwrap(),
        );
    }
    let mut places = Vec::new();
    for id in &ids {
        let r = wait_committed(&mut cs[0], id, WAIT).await.unwrap();
        assert!(r.receipt.unwrap().success);
        places.push((r.height, r.index));
    }
    let top = places.iter().map(|p| p.0).max().unwrap();
    for c in cs.iter_mut() {
        wait_height(c, top, WAIT).await.unwrap();
        for (id, place) in ids.iter().zip(&places) {
            let r = c
                .get_transaction(pb::GetTransactionRequest { tx_id: id.clone() })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                (r.height, r.index),
                *place,
                "a transaction is in different places on different nodes"
            );
        }
    }
    let h = assert_agreement(&mut cs).await;
    let mut roots = std::collections::BTreeSet::new();
    for c in cs.iter_mut() {
        roots.insert(header(c, h).await.unwrap().state_root);
    }
    assert_eq!(roots.len(), 1, "state roots differ");
    let info = cs[0]
        .get_chain_info(pb::GetChainInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.validators.len(), 4);
    assert_eq!(info.quorum_power, 3);
    assert_eq!(info.tolerated_faults, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_four_killed_restarted_and_wiped_while_the_others_keep_committing() {
    let mut net = Net::start(4, "byzantine").await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let endpoints: Vec<String> = net.nodes[..3].iter().map(|n| n.endpoint.clone()).collect();
    let loader = load(&net, endpoints, stop.clone());
    let mut c0 = net.nodes[0].client().await.unwrap();
    wait_height(&mut c0, 3, WAIT).await.unwrap();

    // SIGKILL validator 4: the other three keep committing.
    net.nodes[3].kill9();
    let h = height(&mut c0).await.unwrap();
    wait_height(&mut c0, h + 5, WAIT).await.unwrap();

    // Restart it: it catches up.
    net.nodes[3].start().await.unwrap();
    let mut c3 = net.nodes[3].client().await.unwrap();
    let target = height(&mut c0).await.unwrap();
    wait_height(&mut c3, target, WAIT).await.unwrap();

    // Wipe its data directory: it rebuilds from its peers.
    net.nodes[3].stop();
    net.nodes[3].wipe();
    net.nodes[3].start().await.unwrap();
    let mut c3 = net.nodes[3].client().await.unwrap();
    let target = height(&mut c0).await.unwrap();
    wait_height(&mut c3, target, WAIT).await.unwrap();

    stop.store(true, Ordering::Relaxed);
    let ids = loader.await.unwrap();
    assert!(
        ids.len() > 10,
        "the load committed too little: {}",
        ids.len()
    );
    // Every accepted transaction is committed, in the same place, on the rebuilt node too.
    let last = ids.last().unwrap().clone();
    let r = wait_committed(&mut c0, &last, WAIT).await.unwrap();
    wait_height(&mut c3, r.height, WAIT).await.unwrap();
    for id in &ids {
        let a = c0
            .get_transaction(pb::GetTransactionRequest { tx_id: id.clone() })
            .await
            .unwrap()
            .into_inner();
        let b = c3
            .get_transaction(pb::GetTransactionRequest { tx_id: id.clone() })
            .await
            .unwrap()
            .into_inner();
        if a.status == pb::TxStatus::Committed as i32 {
            assert_eq!((a.height, a.index), (b.height, b.index));
        }
    }
    let mut cs = clients(&net).await;
    assert_agreement(&mut cs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_validators_in_crash_mode_survive_one_crash() {
    let mut net = Net::start(3, "crash").await.unwrap();
    let mut c0 = net.nodes[0].client().await.unwrap();
    let info = c0
        .get_chain_info(pb::GetChainInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.fault_model, pb::FaultModel::Crash as i32);
    assert_eq!(info.quorum_power, 2);
    wait_height(&mut c0, 2, WAIT).await.unwrap();
    net.nodes[2].kill9();
    let h = height(&mut c0).await.unwrap();
    let id = submit_one(&net.admin, &net.chain_id, &mut c0)
        .await
        .unwrap();
    assert!(
        wait_committed(&mut c0, &id, WAIT)
            .await
            .unwrap()
            .receipt
            .unwrap()
            .success
    );
    wait_height(&mut c0, h + 4, WAIT).await.unwrap();
    let mut cs = vec![c0, net.nodes[1].client().await.unwrap()];
    assert_agreement(&mut cs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_and_restarting_every_node_loses_no_committed_transaction() {
    let mut net = Net::start(4, "byzantine").await.unwrap();
    let mut cs = clients(&net).await;
    let mut committed = Vec::new();
    for i in 0..12 {
        let id = submit_one(&net.admin, &net.chain_id, &mut cs[i % 4])
            .await
            .unwrap();
        committed.push(id);
    }
    let mut places = Vec::new();
    for id in &committed {
        let r = wait_committed(&mut cs[0], id, WAIT).await.unwrap();
        places.push((r.height, r.index));
    }
    let top = places.iter().map(|p| p.0).max().unwrap();
    for c in cs.iter_mut() {
        wait_height(c, top, WAIT).await.unwrap();
    }
    drop(cs);
    for n in net.nodes.iter_mut() {
        n.stop();
    }
    for n in net.nodes.iter_mut() {
        n.start().await.unwrap();
    }
    let mut cs = clients(&net).await;
    for c in cs.iter_mut() {
        for (id, place) in committed.iter().zip(&places) {
            let r = c
                .get_transaction(pb::GetTransactionRequest { tx_id: id.clone() })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                r.status,
                pb::TxStatus::Committed as i32,
                "a committed transaction was lost"
            );
            assert_eq!((r.height, r.index), *place);
        }
    }
    // The network goes on after the full restart, and all agree.
    let h = height(&mut cs[0]).await.unwrap();
    wait_height(&mut cs[0], h + 2, WAIT).await.unwrap();
    let h = assert_agreement(&mut cs).await;
    let mut roots = std::collections::BTreeSet::new();
    for c in cs.iter_mut() {
        roots.insert(header(c, h).await.unwrap().state_root);
    }
    assert_eq!(roots.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_not_in_genesis_cannot_join_or_affect_consensus() {
    let net = Net::start(4, "byzantine").await.unwrap();
    // The outsider runs a doctored genesis that lists its own key as an observer, so its own
    // node starts and dials the consortium; the consortium's genesis does not list it.
    let dir = net.dir.path().join("outsider");
    std::fs::create_dir_all(&dir).unwrap();
    let key = random_key();
    std::fs::write(dir.join("node.key"), hex::encode(key.to_bytes())).unwrap();
    let mut g: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(net.dir.path().join("genesis.json")).unwrap(),
    )
    .unwrap();
    g["observers"] = serde_json::json!([{ "organization": "tama", "name": "intruder", "public_key": hex::encode(key.verifying_key().to_bytes()) }]);
    std::fs::write(dir.join("genesis.json"), serde_json::to_string(&g).unwrap()).unwrap();
    let mut outsider = net
        .extra_node(
            "outsider",
            None,
            Some(Path::new("node.key")),
            Path::new("genesis.json"),
        )
        .unwrap();
    outsider.start().await.unwrap();
    let mut c0 = net.nodes[0].client().await.unwrap();
    let h = height(&mut c0).await.unwrap();
    wait_height(&mut c0, h + 6, WAIT).await.unwrap();
    let mut co = outsider.client().await.unwrap();
    assert_eq!(
        height(&mut co).await.unwrap(),
        0,
        "the outsider received blocks"
    );
    let refused = net
        .nodes
        .iter()
        .any(|n| n.log_text().contains("refused an incoming connection"));
    assert!(refused, "no validator logged refusing the outsider");
    // The refusal names the key, so an operator can tell who tried.
    let outsider_key = hex::encode(key.verifying_key().to_bytes());
    assert!(
        net.nodes.iter().any(|n| n
            .log_text()
            .lines()
            .any(|l| l.contains("refused an incoming connection") && l.contains(&outsider_key))),
        "no refusal names the outsider's key {outsider_key}"
    );
    let mut cs = clients(&net).await;
    assert_agreement(&mut cs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twin_of_a_live_validator_cannot_make_the_network_fork() {
    // The twin signs with validator 2's key and is known on the network by a node key of the
    // same organization (genesis lists it as an observer, which is not started): a member that
    // runs its validator twice, on purpose or by a failover gone wrong.
    let mut net = Net::create(4, "byzantine", 1).await.unwrap();
    net.nodes.truncate(4);
    for n in &mut net.nodes {
        n.start().await.unwrap();
    }
    let mut twin = net
        .extra_node(
            "twin",
            Some(Path::new("../keys/tama-validator-2.key")),
            Some(Path::new("../keys/tama-observer-1.key")),
            Path::new("../genesis.json"),
        )
        .unwrap();
    twin.start().await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let endpoints: Vec<String> = net
        .nodes
        .iter()
        .map(|n| n.endpoint.clone())
        .chain([twin.endpoint.clone()])
        .collect();
    let loader = load(&net, endpoints, stop.clone());
    let mut c0 = net.nodes[0].client().await.unwrap();
    // The twin and the validator it copies sign different proposals and votes for the same
    // steps; the honest nodes see both, and the evidence goes on the chain with no one's help.
    let twin_signer = load_key(&net.dir.path().join("keys/tama-validator-2.key")).unwrap();
    let twin_key = twin_signer.verifying_key().to_bytes().to_vec();
    let mut g = pb::governance_client::GovernanceClient::connect(net.nodes[2].endpoint.clone())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let evidence = loop {
        let found = g
            .list_evidence(pb::ListEvidenceRequest {})
            .await
            .unwrap()
            .into_inner()
            .evidence
            .into_iter()
            .find(|e| e.validator == twin_key);
        if let Some(e) = found {
            break e;
        }
        assert!(
            started.elapsed() < WAIT * 2,
            "no evidence against the twinned key was recorded within {:?}",
            WAIT * 2
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        net.nodes
            .iter()
            .any(|n| n.log_text().contains("equivocation detected")),
        "no honest node logged the equivocation"
    );
    stop.store(true, Ordering::Relaxed);
    let _ = loader.await;
    // Every height that any node (twin included) committed has one block.
    let mut cs = clients(&net).await;
    cs.push(twin.client().await.unwrap());
    assert_agreement(&mut cs).await;
    // A removal that cites the evidence passes (one validator organization here) and the
    // offender leaves the set.
    let events = call_ok(
        &mut c0,
        &net.chain_id,
        &net.admin,
        pb::tx_body::Call::Governance(pb::GovernanceCall {
            call: Some(pb::governance_call::Call::ProposeValidatorChange(
                pb::ProposeValidatorChange {
                    change: Some(pb::ValidatorChange {
                        change: Some(pb::validator_change::Change::Remove(twin_key.clone())),
                    }),
                    reason: "equivocated".into(),
                    cites_evidence: evidence.evidence_id.clone(),
                },
            )),
        }),
    )
    .await;
    let scheduled = events
        .iter()
        .find_map(|e| match &e.kind {
            Some(pb::event::Kind::Governance(pb::GovernanceEvent {
                kind: Some(pb::governance_event::Kind::ValidatorSetScheduled(s)),
            })) => Some(s.clone()),
            _ => None,
        })
        .expect("the removal was carried out");
    assert_eq!(scheduled.validators.len(), 3);
    assert!(!scheduled
        .validators
        .iter()
        .any(|v| v.public_key == twin_key));
}

/// Proposals name their transactions by id (ADR 0022). Two validators of four go down, and
/// transactions submitted meanwhile reach only the two still up, where they wait (no quorum).
/// The two come back with a mempool that takes nothing (`mempool.max_txs = 0`), so the gossip of
/// those transactions, which gossipsub may still offer them, is refused: a block with the
/// transactions needs a prevote from one of them, so it commits only if they fetch the
/// transactions from their peers to validate it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validators_that_missed_the_transactions_fetch_them_to_validate_the_proposal() {
    let mut net = Net::start(4, "byzantine").await.unwrap();
    let mut c0 = net.nodes[0].client().await.unwrap();
    for n in &mut net.nodes[2..] {
        n.stop();
        let mut config = n.config.clone();
        config.mempool.max_txs = 0;
        std::fs::write(&n.config_path, toml::to_string(&config).unwrap()).unwrap();
    }
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(
            submit_one(&net.admin, &net.chain_id, &mut c0)
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let r = c0
        .get_transaction(pb::GetTransactionRequest {
            tx_id: ids[0].clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.status,
        pb::TxStatus::Pending as i32,
        "two validators of four committed a block"
    );
    for n in &mut net.nodes[2..] {
        n.start().await.unwrap();
    }
    let mut top = 0;
    for id in &ids {
        let r = wait_committed(&mut c0, id, WAIT).await.unwrap();
        assert!(r.receipt.unwrap().success);
        top = top.max(r.height);
    }
    let mut fetched = 0.0;
    for n in &net.nodes[2..] {
        let text = fetch_metrics(n).await.unwrap();
        fetched += yui_node::runtime::telemetry::value_of(
            &text,
            "yui_proposal_transactions_fetched_total",
        )
        .unwrap_or(0.0);
    }
    assert!(
        fetched >= ids.len() as f64,
        "the returning validators fetched {fetched} transactions, fewer than the block needed"
    );
    let mut cs = clients(&net).await;
    for c in cs.iter_mut() {
        wait_height(c, top, WAIT).await.unwrap();
    }
    assert_agreement(&mut cs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_serves_prometheus_metrics() {
    let net = Net::start(4, "byzantine").await.unwrap();
    let mut c0 = net.nodes[0].client().await.unwrap();
    let id = submit_one(&net.admin, &net.chain_id, &mut c0)
        .await
        .unwrap();
    let r = wait_committed(&mut c0, &id, WAIT).await.unwrap();
    let _ = c0
        .get_block(pb::GetBlockRequest {
            by: Some(pb::get_block_request::By::Height(1_000_000)),
        })
        .await;
    let text = fetch_metrics(&net.nodes[0]).await.unwrap();
    for name in [
        "yui_height",
        "yui_consensus_round",
        "yui_block_commit_seconds",
        "yui_block_transactions",
        "yui_mempool_transactions",
        "yui_peers 3",
        "yui_store_flush_seconds",
        "yui_transactions_committed_total",
        "yui_store_cache_bytes",
    ] {
        assert!(text.contains(name), "metric {name} missing:\n{text}");
    }
    // The committed blocks sit in memtables until a flush: the write buffer holds them.
    let buffered = yui_node::runtime::telemetry::value_of(&text, "yui_store_write_buffer_bytes");
    assert!(buffered.is_some_and(|b| b > 0.0), "{text}");
    // The committed transaction has not expired: replay protection remembers its body.
    let remembered = yui_node::runtime::telemetry::value_of(&text, "yui_replay_window_bodies");
    assert!(remembered.is_some_and(|b| b >= 1.0), "{text}");
    let held = yui_node::runtime::telemetry::value_of(&text, "yui_replay_window_bytes");
    assert!(held.is_some_and(|b| b > 0.0), "{text}");
    assert!(
        text.contains(
            r#"yui_grpc_requests_total{method="yui.v1.Ledger/SubmitTransaction",code="Ok"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"method="yui.v1.Ledger/GetBlock",code="NotFound""#),
        "{text}"
    );
    let h = yui_node::runtime::telemetry::value_of(&text, "yui_height").unwrap();
    assert!(h >= r.height as f64);
    for n in &net.nodes[1..] {
        assert!(fetch_metrics(n).await.unwrap().contains("yui_height"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_validator_resumes_and_catches_up() {
    let net = Net::start(4, "byzantine").await.unwrap();
    let mut c0 = net.nodes[0].client().await.unwrap();
    wait_height(&mut c0, 2, WAIT).await.unwrap();
    net.nodes[2].freeze(true);
    let h = height(&mut c0).await.unwrap();
    wait_height(&mut c0, h + 4, WAIT).await.unwrap();
    net.nodes[2].freeze(false);
    let target = height(&mut c0).await.unwrap();
    let mut c2 = net.nodes[2].client().await.unwrap();
    wait_height(&mut c2, target, WAIT).await.unwrap();
    let mut cs = clients(&net).await;
    assert_agreement(&mut cs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_follows_verifies_and_serves_reads_only() {
    let mut net = Net::start_with_observers(4, "byzantine", 1).await.unwrap();
    let mut c0 = net.nodes[0].client().await.unwrap();
    let id = submit_one(&net.admin, &net.chain_id, &mut c0)
        .await
        .unwrap();
    let r = wait_committed(&mut c0, &id, WAIT).await.unwrap();
    let mut obs = net.nodes[4].client().await.unwrap();
    let got = wait_committed(&mut obs, &id, WAIT).await.unwrap();
    assert_eq!((got.height, got.index), (r.height, r.index));
    let info = obs
        .get_chain_info(pb::GetChainInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.validators.len(), 4, "the observer is not a validator");
    let h = sign_body(
        &net.admin,
        &body(
            &net.admin,
            &net.chain_id,
            info.height + 50,
            grant(&random_key(), pb::RoleKind::RoleDonor, ""),
        ),
    );
    let err = submit(&mut obs, h).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    let mut cs = clients(&net).await;
    assert_agreement(&mut cs).await;
    // The observer's data directory verifies from genesis on its own.
    net.nodes[4].stop();
    let out = std::process::Command::new(yui_bin().unwrap())
        .args(["verify", "--quiet", "--genesis"])
        .arg(net.dir.path().join("genesis.json"))
        .arg("--data-dir")
        .arg(&net.nodes[4].data_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
