//! Separate hosts, made real with network namespaces (`yui_tests::hosts`): every node on an
//! address of its own, its API over TLS, peers over the bridge; faults are links set down,
//! routes blackholed between groups, processes killed. Skipped, and saying so, where network
//! namespaces cannot be made (they need root; CI runs as root).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use yui_proto::v1 as pb;
use yui_tests::hosts::{self, Bed};
use yui_tests::*;

const WAIT: Duration = Duration::from_secs(90);

async fn start_all(bed: &mut Bed) {
    for i in 0..bed.nodes.len() {
        bed.start(i).await.unwrap();
    }
}

async fn heights(bed: &Bed, nodes: &[usize]) -> Vec<u64> {
    let mut v = Vec::new();
    for &i in nodes {
        let mut c = bed.client(i).await.unwrap();
        v.push(height(&mut c).await.unwrap());
    }
    v
}

/// Nodes `nodes` agree on every block up to the lowest of their tips; that tip.
async fn agree(bed: &Bed, nodes: &[usize]) -> u64 {
    let mut cs = Vec::new();
    for &i in nodes {
        cs.push(bed.client(i).await.unwrap());
    }
    assert_agreement(&mut cs).await
}

/// A transaction of the admin (a resident role for a new key), expiring at `expires`.
fn a_grant(bed: &Bed, expires: u64) -> pb::SignedTransaction {
    sign_body(
        &bed.admin,
        &body(
            &bed.admin,
            &bed.chain_id,
            expires,
            grant(&random_key(), pb::RoleKind::RoleResident, ""),
        ),
    )
}

async fn commit_one(bed: &Bed, via: usize) -> u64 {
    let mut c = bed.client(via).await.unwrap();
    let h = height(&mut c).await.unwrap();
    let id = submit(&mut c, a_grant(bed, h + 50)).await.unwrap();
    wait_committed(&mut c, &id, WAIT).await.unwrap().height
}

#[test]
fn a_cut_link_stops_one_host_and_it_catches_up_when_the_link_is_back() {
    hosts::run("a_cut_link", 4, |mut bed| async move {
        start_all(&mut bed).await;
        let mut c0 = bed.client(0).await.unwrap();
        wait_height(&mut c0, 3, WAIT).await.unwrap();
        bed.link(3, false).unwrap();
        let h = commit_one(&bed, 0).await;
        wait_height(&mut c0, h + 3, WAIT).await.unwrap();
        bed.link(3, true).unwrap();
        let target = height(&mut c0).await.unwrap();
        let started = Instant::now();
        let mut c3 = loop {
            // Its API came back with the link; the connection may need a moment.
            match bed.client(3).await {
                Ok(c) => break c,
                Err(e) => {
                    assert!(
                        started.elapsed() < WAIT,
                        "node 4 unreachable after the link came back: {e:#}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        wait_height(&mut c3, target, WAIT).await.unwrap();
        assert!(agree(&bed, &[0, 1, 2, 3]).await >= target);
    });
}

#[test]
fn a_two_two_split_commits_nothing_forks_nothing_and_heals() {
    hosts::run("a_two_two_split", 4, |mut bed| async move {
        start_all(&mut bed).await;
        let mut c0 = bed.client(0).await.unwrap();
        wait_height(&mut c0, 3, WAIT).await.unwrap();
        bed.split(&[&[0, 1], &[2, 3]]).unwrap();
        // What was in flight settles; then neither half has a quorum.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before = heights(&bed, &[0, 1, 2, 3]).await;
        let mut c2 = bed.client(2).await.unwrap();
        let h = height(&mut c0).await.unwrap();
        for (c, via) in [(&mut c0, 0), (&mut c2, 2)] {
            submit(c, a_grant(&bed, h + 80))
                .await
                .unwrap_or_else(|e| panic!("submit to node {via}: {e}"));
        }
        tokio::time::sleep(Duration::from_secs(6)).await;
        let after = heights(&bed, &[0, 1, 2, 3]).await;
        assert_eq!(before, after, "a half without a quorum committed");
        bed.heal().unwrap();
        let top = *after.iter().max().unwrap();
        for i in 0..4 {
            let mut c = bed.client(i).await.unwrap();
            wait_height(&mut c, top + 2, WAIT).await.unwrap();
        }
        assert!(agree(&bed, &[0, 1, 2, 3]).await >= top + 2);
    });
}

#[test]
fn a_one_three_split_keeps_the_three_committing_and_the_one_catches_up() {
    hosts::run("a_one_three_split", 4, |mut bed| async move {
        start_all(&mut bed).await;
        let mut c0 = bed.client(0).await.unwrap();
        let mut c1 = bed.client(1).await.unwrap();
        wait_height(&mut c1, 3, WAIT).await.unwrap();
        bed.split(&[&[0], &[1, 2, 3]]).unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let alone = height(&mut c0).await.unwrap();
        let h = commit_one(&bed, 1).await;
        wait_height(&mut c1, h + 3, WAIT).await.unwrap();
        assert_eq!(
            height(&mut c0).await.unwrap(),
            alone,
            "a validator cut off from the others committed alone"
        );
        bed.heal().unwrap();
        let target = height(&mut c1).await.unwrap();
        wait_height(&mut c0, target, WAIT).await.unwrap();
        assert!(agree(&bed, &[0, 1, 2, 3]).await >= target);
    });
}

#[test]
fn seven_byzantine_validators_keep_committing_with_two_killed() {
    hosts::run("seven_validators", 7, |mut bed| async move {
        start_all(&mut bed).await;
        let mut c0 = bed.client(0).await.unwrap();
        wait_height(&mut c0, 3, WAIT).await.unwrap();
        // f = 2 of 7: two killed outright, the other five still hold a quorum (5 > 14/3).
        bed.nodes[5].kill();
        bed.nodes[6].kill();
        let h = commit_one(&bed, 0).await;
        wait_height(&mut c0, h + 5, WAIT).await.unwrap();
        assert!(agree(&bed, &[0, 1, 2, 3, 4]).await >= h + 5);
    });
}

#[test]
fn a_host_whose_clock_runs_five_minutes_ahead_cannot_move_the_chain_s_time() {
    let Some(lib) = libfaketime() else {
        eprintln!("SKIPPED a_host_whose_clock_runs_ahead: libfaketime is not installed (scripts/install-test-deps installs it as root)");
        return;
    };
    hosts::run(
        "a_host_whose_clock_runs_ahead",
        4,
        move |mut bed| async move {
            for i in 0..3 {
                bed.start(i).await.unwrap();
            }
            let env = faketime_env(&lib, "+5m");
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            bed.start_with(3, &env).await.unwrap();
            let mut c0 = bed.client(0).await.unwrap();
            let h = height(&mut c0).await.unwrap();
            // Long enough for the skewed node to be the proposer several times.
            wait_height(&mut c0, h + 12, WAIT).await.unwrap();
            let top = agree(&bed, &[0, 1, 2, 3]).await;
            let now = yui_node::runtime::driver::now_ms();
            for height_ in 1..=top {
                let t = header(&mut c0, height_).await.unwrap().time_ms;
                assert!(
                    t <= now + 5_000,
                    "block {height_} carries a time {} ms ahead of the real clock",
                    t.saturating_sub(now)
                );
            }
            assert!(
                bed.nodes[..3].iter().any(|n| n
                    .log_text()
                    .contains("proposed block time is too far ahead")),
                "no honest node refused the skewed node's proposal"
            );
        },
    );
}

/// Honest health across hosts: a node that rebuilds from its peers answers the standard gRPC
/// health check NOT_SERVING, and `GetChainInfo` says so, while it cannot know where the tip is
/// (cut off from its peers) and while it is more than a few blocks behind them; it answers
/// SERVING only once it is at the tip.
#[test]
fn a_rebuilding_node_is_not_serving_until_it_is_at_the_tip() {
    hosts::run("a_rebuilding_node", 4, |mut bed| async move {
        start_all(&mut bed).await;
        let mut c1 = bed.client(0).await.unwrap();
        // Node 4 goes down and loses its chain while the others commit 20 more blocks.
        bed.nodes[3].stop();
        std::fs::remove_dir_all(bed.nodes[3].data_dir.join("chain")).unwrap();
        let h = height(&mut c1).await.unwrap();
        wait_height(&mut c1, h + 20, Duration::from_secs(60))
            .await
            .unwrap();
        // It comes back cut off from its peers (routes to them blackholed; clients still reach
        // it): it cannot know how far behind it is, so it must not claim to serve.
        bed.split(&[&[3], &[0, 1, 2]]).unwrap();
        bed.start(3).await.unwrap();
        let mut health = HealthClient::new(bed.nodes[3].channel().await.unwrap());
        let mut c4 = bed.client(3).await.unwrap();
        for _ in 0..10 {
            let answer = health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .status;
            assert_eq!(
                answer,
                ServingStatus::NotServing as i32,
                "serving while cut off"
            );
            let info = c4
                .get_chain_info(pb::GetChainInfoRequest {})
                .await
                .unwrap()
                .into_inner();
            assert_eq!(info.status, pb::NodeStatus::Starting as i32, "{info:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Healed, it catches up, and serves only once at the tip.
        bed.heal().unwrap();
        let mut saw_not_serving = false;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(
                Instant::now() < deadline,
                "node 4 never came back to serving"
            );
            let tip = height(&mut c1).await.unwrap();
            let answer = health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .status;
            let info = c4
                .get_chain_info(pb::GetChainInfoRequest {})
                .await
                .unwrap()
                .into_inner();
            let serving = answer == ServingStatus::Serving as i32;
            // The health service follows the status a moment later: at the turn the two may
            // differ for one sample; they must agree when both are read again.
            if serving != (info.status == pb::NodeStatus::Serving as i32) {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            if serving {
                // Serving means at the tip (within three blocks of what the others had just before).
                assert!(
                    info.height + 3 >= tip,
                    "SERVING at height {} while the network is at {tip}",
                    info.height
                );
                break;
            }
            saw_not_serving = true;
            if info.status == pb::NodeStatus::Syncing as i32 {
                assert!(info.peer_height > info.height + 3, "{info:?}");
                // A syncing node refuses submissions, with UNAVAILABLE.
                let tx = sign_body(
                    &bed.admin,
                    &body(
                        &bed.admin,
                        &bed.chain_id,
                        tip + 50,
                        grant(&random_key(), pb::RoleKind::RoleDonor, ""),
                    ),
                );
                if let Err(e) = submit(&mut c4, tx).await {
                    assert_eq!(e.code(), tonic::Code::Unavailable, "{e:?}");
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            saw_not_serving,
            "node 4 answered SERVING before it could know it was at the tip"
        );
        // Healthy nodes serve.
        let mut h1 = HealthClient::new(bed.nodes[0].channel().await.unwrap());
        let s = h1
            .check(HealthCheckRequest {
                service: "yui.v1.Ledger".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(s, ServingStatus::Serving as i32);
    });
}
