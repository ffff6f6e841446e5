//! The engine alone: decisions per second and votes processed per second for 4 and 7
//! validators, every message delivered at once (no network, no clock). Run with
//! `cargo bench -p yui-consensus --bench engine`.

#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ed25519_dalek::SigningKey;
use std::collections::VecDeque;
use yui_consensus::*;

fn setup(n: u8) -> (Vec<Engine>, ValidatorSet) {
    let keys: Vec<SigningKey> = (1..=n).map(|i| SigningKey::from_bytes(&[i; 32])).collect();
    let set = ValidatorSet::new(
        keys.iter()
            .enumerate()
            .map(|(i, k)| Validator {
                organization: format!("o{i}"),
                name: format!("v{i}"),
                public_key: k.verifying_key().to_bytes(),
                power: 1,
            })
            .collect(),
        FaultModel::Byzantine,
    )
    .unwrap();
    let engines = keys
        .into_iter()
        .map(|k| Engine::new(EngineConfig::with_chain_id("bench"), Some(k)))
        .collect();
    (engines, set)
}

/// Decide `heights` heights; returns the number of votes handled.
fn run(engines: &mut [Engine], set: &ValidatorSet, heights: u64) -> u64 {
    let n = engines.len();
    let mut votes = 0u64;
    for h in 1..=heights {
        let mut q: VecDeque<(usize, Event)> = (0..n)
            .map(|i| {
                (
                    i,
                    Event::StartHeight {
                        height: h,
                        validators: set.clone(),
                    },
                )
            })
            .collect();
        let mut decided = 0;
        while let Some((i, ev)) = q.pop_front() {
            if matches!(ev, Event::Vote(_)) {
                votes += 1;
            }
            for a in engines[i].handle(0, ev) {
                match a {
                    Action::Broadcast(m) => {
                        for j in (0..n).filter(|j| *j != i) {
                            q.push_back((
                                j,
                                match &m {
                                    Message::Proposal(p) => Event::Proposal(p.clone()),
                                    Message::Vote(v) => Event::Vote(v.clone()),
                                },
                            ));
                        }
                    }
                    Action::BuildProposal { height, round } => q.push_back((
                        i,
                        Event::ProposalReady {
                            height,
                            round,
                            block_hash: hash::hash_parts(b"b", &[&height.to_le_bytes()]),
                        },
                    )),
                    Action::ValidateBlock {
                        height,
                        round,
                        block_hash,
                    } => q.push_back((
                        i,
                        Event::BlockValidated {
                            height,
                            round,
                            block_hash,
                            valid: true,
                        },
                    )),
                    Action::Decide(_) => decided += 1,
                    _ => {}
                }
            }
        }
        assert_eq!(decided, n);
    }
    votes
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine");
    g.sample_size(10);
    for n in [4u8, 7] {
        let (_, set) = setup(n);
        // One decision = one height decided by every validator.
        g.throughput(Throughput::Elements(10));
        g.bench_with_input(BenchmarkId::new("decisions", n), &n, |b, &n| {
            b.iter(|| {
                let (mut e, _) = setup(n);
                run(&mut e, &set, 10)
            })
        });
        let (mut e, _) = setup(n);
        let votes_per_10 = run(&mut e, &set, 10);
        g.throughput(Throughput::Elements(votes_per_10));
        g.bench_with_input(BenchmarkId::new("votes", n), &n, |b, &n| {
            b.iter(|| {
                let (mut e, _) = setup(n);
                run(&mut e, &set, 10)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
