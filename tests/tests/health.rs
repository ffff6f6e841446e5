//! Honest health (issue 18): a node that rebuilds from its peers answers the standard gRPC
//! health check NOT_SERVING, and `GetChainInfo` says so, while it cannot know where the tip
//! is (cut off from its peers) and while it is more than a few blocks behind them; it answers
//! SERVING only once it is at the tip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use yui_proto::v1 as pb;
use yui_tests::*;

async fn health_client(endpoint: &str) -> HealthClient<tonic::transport::Channel> {
    let channel = tonic::transport::Channel::from_shared(endpoint.to_string())
        .unwrap()
        .connect()
        .await
        .unwrap();
    HealthClient::new(channel)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuilding_node_is_not_serving_until_it_is_at_the_tip() {
    let mut net = Net::start(4, "byzantine").await.unwrap();
    let mut c1 = net.nodes[0].client().await.unwrap();
    // Node 4 goes down and loses its chain while the others commit 20 more blocks.
    net.nodes[3].stop();
    std::fs::remove_dir_all(net.nodes[3].data_dir.join("chain")).unwrap();
    let h = height(&mut c1).await.unwrap();
    wait_height(&mut c1, h + 20, Duration::from_secs(60))
        .await
        .unwrap();
    // It comes back cut off from its peers (the test-only partition switch): it cannot know
    // how far behind it is, so it must not claim to serve.
    net.nodes[3].partition(true);
    net.nodes[3].start().await.unwrap();
    let endpoint = net.nodes[3].endpoint.clone();
    let mut health = health_client(&endpoint).await;
    let mut c4 = net.nodes[3].client().await.unwrap();
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
    net.nodes[3].partition(false);
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
                &net.admin,
                &body(
                    &net.admin,
                    &net.chain_id,
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
    let mut h1 = health_client(&net.nodes[0].endpoint).await;
    let s = h1
        .check(HealthCheckRequest {
            service: "yui.v1.Ledger".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(s, ServingStatus::Serving as i32);
}
