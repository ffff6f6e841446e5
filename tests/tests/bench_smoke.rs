//! A short smoke run of the network load benchmark: transactions commit and the report is
//! produced. The figures themselves are not asserted (shared 2-core machines are noisy).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use yui_tests::yui_bin;

/// Run `yui` with `args`, assert it succeeded, and return its standard output.
fn run_ok(args: &[&str]) -> String {
    let out = Command::new(yui_bin().unwrap())
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "yui {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_network_benchmark_runs_and_reports() {
    // One transaction per SubmitTransaction call, then batches through SubmitTransactions.
    for batch in ["1", "10"] {
        let stdout = run_ok(&[
            "bench",
            "network",
            "--duration",
            "3",
            "--warmup",
            "1",
            "--clients",
            "2",
            "--window",
            "20",
            "--batch",
            batch,
        ]);
        for line in [
            "committed transactions/s",
            "commit latency p50/p90/p99",
            "node 3: CPU",
            "disk per node",
            "(ZIP 215)",
            if batch == "1" {
                "one transaction per SubmitTransaction call"
            } else {
                "10 transactions per SubmitTransactions call"
            },
        ] {
            assert!(stdout.contains(line), "report lacks {line:?}:\n{stdout}");
        }
        let committed: u64 = stdout
            .split("committed in total ")
            .nth(1)
            .and_then(|s| s.split(')').next())
            .and_then(|s| s.trim().parse().ok())
            .unwrap();
        assert!(committed > 0, "batch {batch}: {stdout}");
    }
}

#[test]
fn the_contract_benchmark_runs_every_call_successfully_and_reports() {
    // The benchmark fails (exit 1) if any measured call is rejected, so a success here means
    // every reading executed, in memory and on each disk engine.
    let stdout = run_ok(&["bench", "contract", "--calls", "3000", "--per-block", "500"]);
    for workload in ["eco.submit_reading", "relief (4-call cycle)"] {
        let line = stdout
            .lines()
            .find(|l| l.contains(workload))
            .unwrap_or_else(|| panic!("no {workload} line in:\n{stdout}"));
        for place in ["in memory", "on fjall"] {
            assert!(
                line.contains(&format!("calls/s {place}")),
                "{place}: {line}"
            );
        }
    }
}

#[test]
fn the_replay_benchmark_verifies_a_chain_of_many_signers_and_reports() {
    // The benchmark fails (exit 1) if its chain does not verify, so a success means every
    // signature of the seven signers taking turns checked, in batches.
    let stdout = run_ok(&[
        "bench",
        "replay",
        "--txs",
        "700",
        "--per-block",
        "100",
        "--signers",
        "7",
    ]);
    for line in [
        "transactions/s (median of 3, 700 txs, 100 per block, 7 signers in turn)",
        "single-core ed25519 (ZIP 215)",
        "ratio replay / batch signature rate",
    ] {
        assert!(stdout.contains(line), "report lacks {line:?}:\n{stdout}");
    }
    // No signers is not a chain.
    let out = Command::new(yui_bin().unwrap())
        .args(["bench", "replay", "--signers", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--signers"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
