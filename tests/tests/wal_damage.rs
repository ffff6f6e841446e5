//! A validator's consensus WAL damaged while it was down (issue 18): a torn last record, and a
//! flipped byte in the first and in the last record. Each time the network is stalled first
//! (two of four validators stopped, so no height can be decided), node 1 signs what it can of
//! the stalled height (its proposal or prevote) and keeps it in its WAL; then node 1 is
//! killed, its WAL damaged, and the network restarted. The node must never sign a message that conflicts with one it signed
//! before (no peer records equivocation evidence against it), the network must go on
//! committing, and the node must say what it did.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};
use yui_tests::*;

/// How long the restarted network may take to decide the stalled height. A node locked on a
/// value unlocks the others only in a round it proposes in (every fourth round), and round
/// timeouts grow by half a second a round: its second such round starts about a minute in.
/// One full-suite run on 2026-12-02 needed more than 150 s (a standalone run of the same code
/// 70 s for all three cases); why some restarts take that long is an open question (see the
/// issue notes), so the wait is generous rather than tight.
const WAIT: Duration = Duration::from_secs(300);

/// Where to damage the WAL.
#[derive(Clone, Copy, Debug)]
enum Damage {
    /// Cut the last record short, as a crash during its append would.
    TornTail,
    /// Flip one payload byte of record `k` (`usize::MAX`: the last record).
    Flip(usize),
}

/// The byte ranges of the records of a WAL file (`u32 LE length | 8-byte checksum | payload`).
fn records(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 12 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push(at..at + 12 + len);
        at += 12 + len;
    }
    out
}

fn evidence_lines(net: &Net) -> usize {
    net.nodes
        .iter()
        .map(|n| n.log_text().matches("equivocation detected").count())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_wal_never_makes_a_validator_sign_twice() {
    let mut net = Net::start(4, "byzantine").await.unwrap();
    let wal = net.nodes[0].data_dir.join("consensus.wal");
    for damage in [Damage::TornTail, Damage::Flip(0), Damage::Flip(usize::MAX)] {
        // Stall: without validators 3 and 4 there is no quorum; 1 and 2 go through rounds.
        net.nodes[2].stop();
        net.nodes[3].stop();
        // Wait for what node 1 signs of the stalled height: at least one record, two when
        // it is the proposer (a proposal and a prevote); the stall lets no round end.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut bytes = Vec::new();
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(500)).await;
            bytes = std::fs::read(&wal).unwrap_or_default();
            if records(&bytes).len() >= 2 {
                break;
            }
        }
        assert!(
            !records(&bytes).is_empty(),
            "node 1 signed nothing while stalled"
        );
        net.nodes[0].kill9();
        // What it had signed is on disk now (the kill came after these appends).
        let bytes = std::fs::read(&wal).unwrap_or(bytes);
        let recs = records(&bytes);
        let damaged = match damage {
            Damage::TornTail => {
                let last = recs.last().unwrap();
                bytes[..last.start + (last.end - last.start) / 2].to_vec()
            }
            Damage::Flip(k) => {
                let r = &recs[k.min(recs.len() - 1)];
                let mut b = bytes.clone();
                b[r.start + 12 + (r.end - r.start - 12) / 2] ^= 0x01;
                b
            }
        };
        std::fs::write(&wal, damaged).unwrap();
        let log_before = net.nodes[0].log_text().len();
        let evidence_before = evidence_lines(&net);
        for i in [2, 3, 0] {
            net.nodes[i].start().await.unwrap();
        }
        // The network commits again, node 1 with it.
        let mut c0 = net.nodes[0].client().await.unwrap();
        let mut c1 = net.nodes[1].client().await.unwrap();
        let h = height(&mut c1).await.unwrap();
        for c in [&mut c1, &mut c0] {
            if let Err(e) = wait_height(c, h + 3, WAIT).await {
                panic!("{damage:?}: {e:#}\n{}", net.logs_tail(40));
            }
        }
        let log = net.nodes[0].log_text()[log_before..].to_string();
        match damage {
            Damage::TornTail => assert!(log.contains("cut short by a crash"), "{damage:?}: {log}"),
            Damage::Flip(_) => {
                assert!(
                    log.contains("the consensus WAL is damaged"),
                    "{damage:?}: {log}"
                );
                assert!(
                    log.contains("signs nothing for heights up to"),
                    "{damage:?}: {log}"
                );
                assert!(wal.with_extension("wal.damaged").exists(), "{damage:?}");
            }
        }
        assert_eq!(
            evidence_lines(&net),
            evidence_before,
            "{damage:?}: a peer recorded equivocation evidence"
        );
    }
}
