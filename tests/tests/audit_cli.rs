//! The auditor's commands on a real chain: `yui export` over gRPC from a running node and
//! from a stopped node's data directory, and `yui verify` of both, with the JSON report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;
use yui_proto::v1 as pb;
use yui_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_verify_a_real_chain() {
    let mut net = Net::start(1, "byzantine").await.unwrap();
    let mut c = net.nodes[0].client().await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..8 {
        let h = height(&mut c).await.unwrap();
        let tx = sign_body(
            &net.admin,
            &body(
                &net.admin,
                &net.chain_id,
                h + 50,
                grant(&random_key(), pb::RoleKind::RoleResident, ""),
            ),
        );
        ids.push(submit(&mut c, tx).await.unwrap());
    }
    for id in &ids {
        wait_committed(&mut c, id, Duration::from_secs(20))
            .await
            .unwrap();
    }
    let dir = net.dir.path().to_path_buf();
    let yui = yui_bin().unwrap();
    let out = Command::new(&yui)
        .args(["export", "--endpoint", &net.nodes[0].endpoint, "--out"])
        .arg(dir.join("live.yexp"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    net.nodes[0].stop();
    let data = net.nodes[0].data_dir.clone();
    let out = Command::new(&yui)
        .args(["export", "--data-dir"])
        .arg(&data)
        .arg("--out")
        .arg(dir.join("dir.yexp"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for source in [
        vec!["--export".into(), dir.join("live.yexp")],
        vec!["--export".into(), dir.join("dir.yexp")],
        vec!["--data-dir".into(), data.clone()],
    ] {
        let out = Command::new(&yui)
            .args(["verify", "--quiet", "--genesis"])
            .arg(dir.join("genesis.json"))
            .arg(&source[0])
            .arg(&source[1])
            .args(["--json", "-"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{source:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("RESULT           OK"), "{stdout}");
        let json_start = stdout.find('{').unwrap();
        let report: serde_json::Value = serde_json::from_str(&stdout[json_start..]).unwrap();
        assert_eq!(report["result"], "ok");
        assert_eq!(report["transactions_by_call"]["governance.grant_role"], 8);
    }
    // The deep check reads every stored byte of the stopped node's directory.
    let out = Command::new(&yui)
        .args(["check", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("RESULT           OK"), "{stdout}");
    // A tampered export fails with a non-zero exit and names the height.
    let mut bytes = std::fs::read(dir.join("dir.yexp")).unwrap();
    let n = bytes.len();
    bytes[n - 40] ^= 0xff;
    std::fs::write(dir.join("bad.yexp"), bytes).unwrap();
    let out = Command::new(&yui)
        .args(["verify", "--quiet", "--genesis"])
        .arg(dir.join("genesis.json"))
        .arg("--export")
        .arg(dir.join("bad.yexp"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("FAILED at height"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
