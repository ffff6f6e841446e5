//! An upgrade without a hard-fork meeting, end to end: four validators run a build that knows
//! protocol version 1 only; three are replaced one at a time, while the network commits, by a
//! build that also knows version 2 (the test-only cargo feature `protocol-next`); the
//! consortium schedules version 2 from a height by vote; the node still on the old build stops
//! cleanly before that height (exit status 3, a message naming the version to install), and the
//! three upgraded ones carry the chain across it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};
use yui_proto::v1 as pb;
use yui_tests::*;

const WAIT: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_network_upgrades_one_node_at_a_time_across_a_scheduled_version() {
    let next = yui_next_bin().unwrap();
    let mut net = Net::start(4, "byzantine").await.unwrap();
    let mut c0 = net.nodes[0].client().await.unwrap();
    wait_height(&mut c0, 2, WAIT).await.unwrap();
    assert_eq!(header(&mut c0, 1).await.unwrap().protocol_version, 1);
    // One at a time, while the others commit: stop, start the new build on the same data.
    for i in 0..3 {
        net.nodes[i].stop();
        let h = height(&mut c0_or(&net, i).await).await.unwrap();
        net.nodes[i].spawn(&next, &[]).unwrap();
        net.nodes[i]
            .wait_ready(Duration::from_secs(30))
            .await
            .unwrap();
        let mut c = net.nodes[i].client().await.unwrap();
        wait_height(&mut c, h + 2, WAIT).await.unwrap();
    }
    c0 = net.nodes[0].client().await.unwrap();
    // A version outside the range is refused (and one below the newest scheduled, the
    // contract test shows).
    let r = call_receipt(&mut c0, &net.chain_id, &net.admin, propose_version(0))
        .await
        .unwrap();
    assert_eq!(r.error.unwrap().code, "governance.parameter_out_of_range");
    // Version 2 from a height a little ahead.
    let from = height(&mut c0).await.unwrap() + 15;
    let mut change = propose_version(2);
    if let pb::tx_body::Call::Governance(pb::GovernanceCall {
        call: Some(pb::governance_call::Call::ProposeParameterChange(p)),
    }) = &mut change
    {
        p.effective_from_height = from;
    }
    call_ok(&mut c0, &net.chain_id, &net.admin, change).await;
    // The old build stops before `from`, cleanly, saying what to install.
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if !net.nodes[3].is_running() {
            break net.nodes[3].last_exit().expect("it exited by itself");
        }
        assert!(Instant::now() < deadline, "the old build did not stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status.code(), Some(3), "{}", net.nodes[3].log_text());
    let log = net.nodes[3].log_text();
    assert!(
        log.contains("install a release that supports protocol version 2")
            && log.contains(&format!("before height {from}")),
        "{log}"
    );
    // The upgraded three carry the chain across the height, with blocks of version 2.
    wait_height(&mut c0, from + 3, WAIT).await.unwrap();
    for h in from - 2..=from + 3 {
        let v = header(&mut c0, h).await.unwrap().protocol_version;
        assert_eq!(v, if h < from { 1 } else { 2 }, "height {h}");
    }
    let mut c2 = net.nodes[2].client().await.unwrap();
    wait_height(&mut c2, from + 3, WAIT).await.unwrap();
    for h in 1..=from + 3 {
        assert_eq!(
            block_hash(&mut c0, h).await.unwrap(),
            block_hash(&mut c2, h).await.unwrap()
        );
    }
    // The fourth member installs the new build too and catches up across the height.
    net.nodes[3].spawn(&next, &[]).unwrap();
    net.nodes[3]
        .wait_ready(Duration::from_secs(30))
        .await
        .unwrap();
    let mut c3 = net.nodes[3].client().await.unwrap();
    wait_height(&mut c3, from + 3, WAIT).await.unwrap();
    assert_eq!(
        block_hash(&mut c3, from + 3).await.unwrap(),
        block_hash(&mut c0, from + 3).await.unwrap()
    );
}

/// A client of a node other than `i` (the one being replaced).
async fn c0_or(net: &Net, i: usize) -> Client {
    net.nodes[if i == 0 { 1 } else { 0 }]
        .client()
        .await
        .unwrap()
}

fn propose_version(v: i64) -> pb::tx_body::Call {
    pb::tx_body::Call::Governance(pb::GovernanceCall {
        call: Some(pb::governance_call::Call::ProposeParameterChange(
            pb::ProposeParameterChange {
                key: "consensus.protocol_version".into(),
                value: v,
                effective_from_height: 0,
                reason: "upgrade".into(),
            },
        )),
    })
}
