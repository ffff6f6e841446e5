//! Crash test of the storage path (docs/adr/0002): kill -9 the node in a loop while
//! transactions are being written. After every restart the store must pass its start-up
//! check, and every transaction the node reported committed must still be committed with
//! the same receipt.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use yui_proto::v1 as pb;
use yui_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_a_loop_while_writing_loses_nothing_committed() {
    let rounds: usize = std::env::var("YUI_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut net = Net::start(1, "byzantine").await.unwrap();
    let mut confirmed: Vec<(Vec<u8>, u64, u32)> = Vec::new();
    for round in 0..rounds {
        let mut c = net.nodes[0].client().await.unwrap();
        let endpoint = net.nodes[0].endpoint.clone();
        let admin = net.admin.clone();
        let chain_id = net.chain_id.clone();
        let committed = Arc::new(AtomicUsize::new(0));
        let counter = committed.clone();
        // A writer that keeps submitting and records what it saw committed.
        let writer = tokio::spawn(async move {
            let mut seen = Vec::new();
            let Ok(mut c) = yui_proto::v1::ledger_client::LedgerClient::connect(endpoint).await
            else {
                return seen;
            };
            for _ in 0..200 {
                let Ok(h) = height(&mut c).await else { break };
                let tx = sign_body(
                    &admin,
                    &body(
                        &admin,
                        &chain_id,
                        h + 50,
                        grant(&random_key(), pb::RoleKind::RoleDonor, ""),
                    ),
                );
                let Ok(id) = submit(&mut c, tx).await else {
                    break;
                };
                match wait_committed(&mut c, &id, Duration::from_secs(5)).await {
                    Ok(r) => {
                        seen.push((id, r.height, r.index));
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => break,
                }
            }
            seen
        });
        // Once it has committed something this round (bounded: a loaded machine is slow), let
        // it write for a while more (varying per round), then kill -9 in the middle of it.
        let started = std::time::Instant::now();
        while committed.load(Ordering::Relaxed) == 0 && started.elapsed() < Duration::from_secs(30)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300 + 170 * round as u64)).await;
        let h_before = height(&mut c).await.unwrap();
        net.nodes[0].kill9();
        let seen = writer.await.unwrap();
        confirmed.extend(seen);
        net.nodes[0]
            .start()
            .await
            .unwrap_or_else(|e| panic!("round {round}: restart failed: {e}"));
        let mut c = net.nodes[0].client().await.unwrap();
        assert!(
            height(&mut c).await.unwrap() >= h_before,
            "round {round}: height went back"
        );
        for (id, h, i) in &confirmed {
            let r = c
                .get_transaction(pb::GetTransactionRequest { tx_id: id.clone() })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                r.status,
                pb::TxStatus::Committed as i32,
                "round {round}: a committed transaction was lost"
            );
            assert_eq!(
                (r.height, r.index),
                (*h, *i),
                "round {round}: a committed transaction moved"
            );
        }
    }
    assert!(
        confirmed.len() >= rounds,
        "the writer committed too little to test anything ({})",
        confirmed.len()
    );
}
