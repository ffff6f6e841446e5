//! The study's whole scope by simulation: 4, 7, 13 and 39 validators (39: every Tama and
//! island municipality) on a WAN-like network — every message 10–80 ms, 1 % lost, and one
//! island whose links take 150 ms more — in the deterministic simulator of the test kit.
//! Prints, per size and timeout setting, the commit latency per height (median and p90 over
//! heights and seeds, as the median validator sees it), heights that needed a second round,
//! and messages per height. Simulated time, so the figures do not depend on this machine.
//! Run with `cargo bench -p yui-consensus --bench scale` (or `scripts/bench-scale`).

#![allow(missing_docs, clippy::unwrap_used, dead_code)]

#[path = "../tests/kit/mod.rs"]
mod kit;

use kit::sim::{Family, Network, Scenario, Sim};
use yui_consensus::{EngineConfig, FaultModel};

const HEIGHTS: u64 = 30;
const SEEDS: u64 = 3;

fn timings(propose: u64, vote: u64, delta: u64) -> EngineConfig {
    EngineConfig {
        timeout_propose_ms: propose,
        timeout_prevote_ms: vote,
        timeout_precommit_ms: vote,
        timeout_delta_ms: delta,
        timeout_cap_ms: 10_000,
        ..EngineConfig::with_chain_id("sim")
    }
}

fn percentile(v: &mut [u64], p: usize) -> u64 {
    v.sort_unstable();
    v[(v.len() - 1) * p / 100]
}

fn main() {
    let settings = [
        // The genesis defaults (node/src/setup/genesis.rs).
        ("defaults 3000/1000/500", timings(3_000, 1_000, 500)),
        // The test timings, too short for a WAN with a slow island.
        ("short 300/200/100", timings(300, 200, 100)),
    ];
    println!("| validators | timeouts (propose/vote/delta ms) | latency p50 ms | p90 ms | heights decided after round 0 (of all seeds) | messages/height |");
    println!("|---|---|---|---|---|---|");
    for n in [4usize, 7, 13, 39] {
        for (label, cfg) in &settings {
            let mut latencies = Vec::new();
            let mut messages = 0u64;
            let mut late = 0u64;
            let mut heights = 0u64;
            for seed in 1..=SEEDS {
                let scenario = Scenario {
                    n_validators: n,
                    fault_model: FaultModel::Byzantine,
                    engine_fault_model: FaultModel::Byzantine,
                    family: Family::Lossy,
                    heights: HEIGHTS,
                    partition: None,
                };
                let net = Network {
                    min_delay: 10,
                    max_delay: 80,
                    drop_pct: 1,
                    dup_pct: 0,
                    slow: Some((n - 1, 150)),
                };
                let mut sim = Sim::new_with(seed, scenario, cfg.clone(), Some(net));
                let limit = HEIGHTS * 60_000;
                if let Err(e) = sim.run(limit) {
                    println!("| {n} | {label} | failed: {e} | | | |");
                    continue;
                }
                // The median validator's decision time per height.
                let at = |h: u64| -> Option<u64> {
                    let mut t = sim.decided_at.get(&h)?.clone();
                    (t.len() * 2 > n).then(|| percentile(&mut t, 50))
                };
                let mut prev = 0;
                for h in 1..=HEIGHTS {
                    let Some(t) = at(h) else { break };
                    latencies.push(t - prev);
                    prev = t;
                    heights += 1;
                }
                messages += sim.messages;
                late += sim.late.len() as u64;
            }
            if latencies.is_empty() {
                continue;
            }
            let p50 = percentile(&mut latencies, 50);
            let p90 = percentile(&mut latencies, 90);
            println!(
                "| {n} | {label} | {p50} | {p90} | {late} | {} |",
                messages / heights.max(1)
            );
        }
    }
}
