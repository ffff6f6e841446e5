//! A full disk (issue 18): node 4's data directory is a small tmpfs the test mounts as root,
//! filled to the last byte while the network commits. Node 4 must stop loudly — one ERROR,
//! exit status 2 — the other three must keep committing, nothing node 4 reported committed
//! may be lost, and once space is back and it is restarted it must catch up to equal hashes.
//! Where a tmpfs cannot be mounted (not root, no mount namespace rights) the test says so and
//! does nothing else.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use yui_proto::v1 as pb;
use yui_tests::*;

const WAIT: Duration = Duration::from_secs(90);
/// Size of node 4's disk.
const DISK: &str = "size=48m";

/// Unmounts the tmpfs when the test ends, however it ends.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn mount_tmpfs(dir: &Path) -> Option<Mounted> {
    std::fs::create_dir_all(dir).ok()?;
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", DISK, "yui-test-disk"])
        .arg(dir)
        .status()
        .ok()?
        .success();
    ok.then(|| Mounted(dir.to_path_buf()))
}

/// Fill the file system of `dir` until a write fails with "no space"; the bytes written.
fn fill(dir: &Path) -> u64 {
    use std::io::Write;
    let mut f = std::fs::File::create(dir.join("filler")).unwrap();
    let chunk = vec![0x5a_u8; 256 * 1024];
    let mut n = 0u64;
    for _ in 0..100_000 {
        match f.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k as u64,
        }
    }
    let _ = f.sync_all();
    n
}

async fn grant_via(c: &mut Client, chain_id: &str, admin: &SigningKey) -> Option<Vec<u8>> {
    let h = height(c).await.ok()?;
    let tx = sign_body(
        admin,
        &body(
            admin,
            chain_id,
            h + 50,
            grant(&random_key(), pb::RoleKind::RoleDonor, ""),
        ),
    );
    submit(c, tx).await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_disk_fills_stops_loudly_and_catches_up_after() {
    let mut net = Net::create(4, "byzantine", 0).await.unwrap();
    let data = net.nodes[3].data_dir.clone();
    let Some(_mounted) = mount_tmpfs(&data) else {
        eprintln!(
            "SKIPPED a_node_whose_disk_fills_stops_loudly_and_catches_up_after: cannot mount a tmpfs at {} (needs root)",
            data.display()
        );
        return;
    };
    for n in &mut net.nodes {
        n.start().await.unwrap();
    }
    let (admin, chain_id) = (net.admin.clone(), net.chain_id.clone());
    let mut c1 = net.nodes[0].client().await.unwrap();
    let mut c4 = net.nodes[3].client().await.unwrap();
    // Some load first, half of it through node 4, which reports it committed.
    let mut acknowledged: Vec<Vec<u8>> = Vec::new();
    for _ in 0..10 {
        grant_via(&mut c1, &chain_id, &admin).await.unwrap();
        let id = grant_via(&mut c4, &chain_id, &admin).await.unwrap();
        wait_committed(&mut c4, &id, Duration::from_secs(30))
            .await
            .unwrap();
        acknowledged.push(id);
    }
    let filled = fill(&data);
    assert!(filled > 0, "the filler wrote nothing");
    // Keep committing until node 4 stops by itself; remember what it says was committed.
    let deadline = Instant::now() + WAIT;
    let status = loop {
        assert!(
            Instant::now() < deadline,
            "node 4 did not stop on a full disk; log:\n{}",
            net.nodes[3].log_text()
        );
        let _ = grant_via(&mut c1, &chain_id, &admin).await;
        if let Some(id) = grant_via(&mut c4, &chain_id, &admin).await {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if let Ok(r) = c4
                .get_transaction(pb::GetTransactionRequest { tx_id: id.clone() })
                .await
            {
                if r.into_inner().status == pb::TxStatus::Committed as i32 {
                    acknowledged.push(id);
                }
            }
        }
        if !net.nodes[3].is_running() {
            break net.nodes[3].last_exit();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status.and_then(|s| s.code()), Some(2), "exit status");
    let log = net.nodes[3].log_text();
    let stops: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("consensus stopped on this node"))
        .collect();
    assert_eq!(stops.len(), 1, "one ERROR says so:\n{log}");
    assert!(
        stops[0].contains("free space") && stops[0].contains("restart"),
        "and what to do: {}",
        stops[0]
    );
    // The other three go on.
    let h = height(&mut c1).await.unwrap();
    wait_height(&mut c1, h + 3, WAIT).await.unwrap();
    // Nothing node 4 reported committed is lost.
    for id in &acknowledged {
        wait_committed(&mut c1, id, Duration::from_secs(10))
            .await
            .unwrap();
    }
    // Space back, restart: it catches up to equal hashes.
    std::fs::remove_file(data.join("filler")).unwrap();
    net.nodes[3].start().await.unwrap();
    let mut c4 = net.nodes[3].client().await.unwrap();
    let target = height(&mut c1).await.unwrap() + 2;
    wait_height(&mut c4, target, WAIT).await.unwrap();
    assert_eq!(
        block_hash(&mut c4, target).await.unwrap(),
        block_hash(&mut c1, target).await.unwrap()
    );
    for id in &acknowledged {
        wait_committed(&mut c4, id, Duration::from_secs(10))
            .await
            .unwrap();
    }
    eprintln!(
        "disk full: node 4 wrote {filled} filler bytes, acknowledged {} transactions before it stopped",
        acknowledged.len()
    );
}
