//! Deterministic, seeded simulator of the consensus engine (issue 3).
//!
//! N engines, a simulated network (loss, delay, duplication, reordering, partitions that heal)
//! and a simulated clock. Fault families: lossy network, partition and heal, crash and restart
//! from the persisted WAL, a silent validator, an equivocating proposer, a double-voting
//! validator, and Twins (two engines holding one key). After every step the checker asserts
//! agreement (no two correct nodes decide different blocks at one height) and validity (only
//! proposed, valid blocks are decided); at the end, liveness (every correct node decided the
//! target heights after the network healed).
//!
//! Every failure prints its seed; `YUI_SIM_SEED=<seed> YUI_SIM_FAMILY=<family>` replays it
//! exactly. `YUI_SIM_SEEDS=100000 cargo test -p yui-consensus --release --test simulator`
//! runs more seeds (CI runs 1,000 per family and fault model).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::SigningKey;
use std::collections::{BTreeMap, BTreeSet};
use yui_consensus::types::PublicKey;
use yui_consensus::*;

/// SplitMix64: small, seeded, good enough for scheduling.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Lossy,
    Partition,
    CrashRestart,
    Silent,
    EquivocatingProposer,
    DoubleVote,
    Twins,
}

const ALL: [Family; 7] = [
    Family::Lossy,
    Family::Partition,
    Family::CrashRestart,
    Family::Silent,
    Family::EquivocatingProposer,
    Family::DoubleVote,
    Family::Twins,
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Behaviour {
    Correct,
    Silent,
    EquivocatingProposer,
    DoubleVoter,
    Twin,
}

struct Node {
    key_index: usize,
    engine: Engine,
    behaviour: Behaviour,
    alive: bool,
    wal: Vec<Message>,
    height: Height,
    decided: BTreeMap<Height, Hash>,
    certs: BTreeMap<Height, CommitCertificate>,
}

enum What {
    Deliver(usize, Message),
    Timer(usize, Timeout),
    Restart(usize),
    Crash(usize),
    /// The driver re-sends its own messages of the current height (gossip delivers each
    /// publication at most once; the node driver does this every second while stuck).
    Rebroadcast(usize),
}

struct Scenario {
    n_validators: usize,
    fault_model: FaultModel,
    /// The quorum the engines use may be made wrong on purpose (checker self-test).
    engine_fault_model: FaultModel,
    family: Family,
    heights: Height,
    /// Partition groups of node indices until `heal_at_ms` (None = connected).
    partition: Option<(Vec<BTreeSet<usize>>, u64)>,
}

struct Sim {
    rng: Rng,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), What>,
    nodes: Vec<Node>,
    keys: Vec<SigningKey>,
    engine_set: ValidatorSet,
    proposed: BTreeSet<Hash>,
    invalid: BTreeSet<Hash>,
    /// Who built each block (a header names its proposer).
    builders: BTreeMap<Hash, PublicKey>,
    scenario: Scenario,
    drop_pct: u64,
    dup_pct: u64,
    max_delay: u64,
    failure: Option<String>,
}

const REBROADCAST_MS: u64 = 500;

fn config() -> EngineConfig {
    EngineConfig {
        timeout_propose_ms: 300,
        timeout_prevote_ms: 200,
        timeout_precommit_ms: 200,
        timeout_delta_ms: 100,
        timeout_cap_ms: 2_000,
        ..EngineConfig::with_chain_id("sim")
    }
}

fn block(height: Height, round: Round, node: usize, tag: u8) -> Hash {
    hash::hash_parts(
        b"sim-block",
        &[
            &height.to_le_bytes(),
            &round.to_le_bytes(),
            &(node as u64).to_le_bytes(),
            &[tag],
        ],
    )
}

impl Sim {
    fn new(seed: u64, scenario: Scenario) -> Sim {
        let mut rng = Rng(seed);
        let n = scenario.n_validators;
        let keys: Vec<SigningKey> = (0..n)
            .map(|i| SigningKey::from_bytes(&[i as u8 + 1; 32]))
            .collect();
        let validators: Vec<Validator> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| Validator {
                organization: format!("org{i}"),
                name: format!("v{i}"),
                public_key: k.verifying_key().to_bytes(),
                power: 1,
            })
            .collect();
        let engine_set = ValidatorSet::new(validators, scenario.engine_fault_model).unwrap();
        let f = scenario.fault_model.tolerated(n as u64) as usize;
        let mut behaviours = vec![Behaviour::Correct; n];
        let faulty = rng.below(n as u64) as usize;
        match scenario.family {
            Family::Silent if f >= 1 => behaviours[faulty] = Behaviour::Silent,
            Family::EquivocatingProposer if f >= 1 => {
                behaviours[faulty] = Behaviour::EquivocatingProposer
            }
            Family::DoubleVote if f >= 1 => behaviours[faulty] = Behaviour::DoubleVoter,
            _ => {}
        }
        let mut nodes: Vec<Node> = (0..n)
            .map(|i| Node {
                key_index: i,
                engine: Engine::new(config(), Some(keys[i].clone())),
                behaviour: behaviours[i],
                alive: true,
                wal: Vec::new(),
                height: 1,
                decided: BTreeMap::new(),
                certs: BTreeMap::new(),
            })
            .collect();
        if scenario.family == Family::Twins && f >= 1 {
            nodes[faulty].behaviour = Behaviour::Twin;
            nodes.push(Node {
                key_index: faulty,
                engine: Engine::new(config(), Some(keys[faulty].clone())),
                behaviour: Behaviour::Twin,
                alive: true,
                wal: Vec::new(),
                height: 1,
                decided: BTreeMap::new(),
                certs: BTreeMap::new(),
            });
        }
        let (drop_pct, dup_pct, max_delay) = match scenario.family {
            Family::Lossy => (rng.below(30), rng.below(20), 1 + rng.below(400)),
            _ => (rng.below(5), rng.below(5), 1 + rng.below(100)),
        };
        let mut sim = Sim {
            rng,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            nodes,
            keys,
            engine_set,
            proposed: BTreeSet::new(),
            invalid: BTreeSet::new(),
            builders: BTreeMap::new(),
            scenario,
            drop_pct,
            dup_pct,
            max_delay,
            failure: None,
        };
        if sim.scenario.family == Family::CrashRestart {
            // Up to f validators crash and restart from their WAL, some more than once.
            let crashes = f.max(1) * 2;
            for _ in 0..crashes {
                let who = sim.rng.below(n as u64) as usize;
                let at = sim.rng.below(3_000);
                let back = at + 50 + sim.rng.below(2_000);
                sim.push(at, What::Crash(who));
                sim.push(back, What::Restart(who));
            }
        }
        if sim.scenario.family == Family::Partition && sim.scenario.partition.is_none() {
            let total = sim.nodes.len();
            let cut = 1 + sim.rng.below(total as u64 - 1) as usize;
            let mut a = BTreeSet::new();
            let mut b = BTreeSet::new();
            for i in 0..total {
                if (i + cut) % total < cut {
                    a.insert(i);
                } else {
                    b.insert(i);
                }
            }
            let heal = 500 + sim.rng.below(4_000);
            sim.scenario.partition = Some((vec![a, b], heal));
        }
        for i in 0..sim.nodes.len() {
            sim.start_height(i, 1);
            sim.push(REBROADCAST_MS, What::Rebroadcast(i));
        }
        sim
    }

    fn push(&mut self, at: u64, what: What) {
        self.seq += 1;
        self.queue.insert((at, self.seq), what);
    }

    fn connected(&self, from: usize, to: usize) -> bool {
        match &self.scenario.partition {
            Some((groups, heal)) if self.now < *heal => {
                groups.iter().any(|g| g.contains(&from) && g.contains(&to))
            }
            _ => true,
        }
    }

    fn send(&mut self, from: usize, m: Message, only: Option<&BTreeSet<usize>>) {
        for to in 0..self.nodes.len() {
            if to == from || only.is_some_and(|o| !o.contains(&to)) || !self.connected(from, to) {
                continue;
            }
            if self.rng.chance(self.drop_pct) {
                continue;
            }
            let copies = if self.rng.chance(self.dup_pct) { 2 } else { 1 };
            for _ in 0..copies {
                let at = self.now + 1 + self.rng.below(self.max_delay);
                self.push(at, What::Deliver(to, m.clone()));
            }
        }
    }

    fn start_height(&mut self, i: usize, height: Height) {
        self.nodes[i].height = height;
        let mut events: Vec<Event> = self.nodes[i]
            .wal
            .iter()
            .filter(|m| match m {
                Message::Proposal(p) => p.data.height == height,
                Message::Vote(v) => v.data.height == height,
            })
            .cloned()
            .map(Event::Restored)
            .collect();
        // The proposers to skip, from this node's own decisions, as the node's chain does.
        let mut record = ProposerRecord::default();
        for h in 1..height {
            if let Some(p) = self.nodes[i]
                .decided
                .get(&h)
                .and_then(|b| self.builders.get(b))
            {
                record.record(&self.engine_set, h, p);
            }
        }
        self.nodes[i]
            .engine
            .skip_proposers(height, record.skipped(height));
        events.push(Event::StartHeight {
            height,
            validators: self.engine_set.clone(),
        });
        for e in events {
            self.feed(i, e);
        }
    }

    fn feed(&mut self, i: usize, ev: Event) {
        if !self.nodes[i].alive {
            return;
        }
        let mut pending = vec![ev];
        let mut guard = 0;
        while let Some(ev) = pending.pop() {
            guard += 1;
            assert!(guard < 10_000, "driver loop did not settle");
            let actions = self.nodes[i].engine.handle(self.now, ev);
            for a in actions {
                self.act(i, a, &mut pending);
            }
        }
    }

    fn act(&mut self, i: usize, a: Action, pending: &mut Vec<Event>) {
        let behaviour = self.nodes[i].behaviour;
        match a {
            Action::Persist(m) => self.nodes[i].wal.push(m),
            Action::Broadcast(m) => {
                if behaviour == Behaviour::Silent {
                    return;
                }
                self.send(i, m.clone(), None);
                let key = self.keys[self.nodes[i].key_index].clone();
                match (&m, behaviour) {
                    (Message::Vote(v), Behaviour::DoubleVoter) => {
                        // Also sign a conflicting vote for the same step and show it to some peers.
                        let mut d = v.data.clone();
                        d.block_hash = match d.block_hash {
                            Some(_) => None,
                            None => Some(block(d.height, d.round, i, 9)),
                        };
                        let other = d.sign(&key);
                        let half: BTreeSet<usize> = (0..self.nodes.len())
                            .filter(|_| self.rng.chance(50))
                            .collect();
                        self.send(i, Message::Vote(other), Some(&half));
                    }
                    (Message::Proposal(p), Behaviour::EquivocatingProposer) => {
                        let mut d = p.data.clone();
                        d.block_hash = block(d.height, d.round, i, 7);
                        self.proposed.insert(d.block_hash);
                        self.builders.insert(d.block_hash, d.proposer);
                        let other = d.sign(&key);
                        let half: BTreeSet<usize> = (0..self.nodes.len())
                            .filter(|_| self.rng.chance(50))
                            .collect();
                        self.send(i, Message::Proposal(other), Some(&half));
                    }
                    _ => {}
                }
            }
            Action::BuildProposal { height, round } => {
                let tag = if self.rng.chance(5) { 1 } else { 0 };
                let h = block(height, round, i, tag);
                if tag == 1 {
                    // Now and then a proposer builds an invalid block; correct nodes must not decide it.
                    self.invalid.insert(h);
                }
                self.proposed.insert(h);
                self.builders.insert(
                    h,
                    self.keys[self.nodes[i].key_index]
                        .verifying_key()
                        .to_bytes(),
                );
                pending.push(Event::ProposalReady {
                    height,
                    round,
                    block_hash: h,
                });
            }
            Action::ValidateBlock {
                height,
                round,
                block_hash,
            } => {
                let valid =
                    self.proposed.contains(&block_hash) && !self.invalid.contains(&block_hash);
                let at = self.now + self.rng.below(20);
                let _ = at;
                pending.push(Event::BlockValidated {
                    height,
                    round,
                    block_hash,
                    valid,
                });
            }
            Action::ScheduleTimeout { timeout, at_ms } => self.push(at_ms, What::Timer(i, timeout)),
            Action::Decide(cert) => {
                if cert
                    .verify("sim", cert.height, &cert.block_hash, &self.engine_set)
                    .is_err()
                {
                    self.failure = Some(format!(
                        "node {i} decided height {} with an invalid certificate",
                        cert.height
                    ));
                    return;
                }
                self.nodes[i].decided.insert(cert.height, cert.block_hash);
                self.nodes[i].certs.insert(cert.height, cert.clone());
                self.check(cert.height);
                if cert.height < self.scenario.heights {
                    let next = cert.height + 1;
                    self.nodes[i].wal.retain(|m| match m {
                        Message::Proposal(p) => p.data.height >= next,
                        Message::Vote(v) => v.data.height >= next,
                    });
                    // The height starts after a short pause, as the driver's block interval.
                    let at = self.now + 1 + self.rng.below(30);
                    self.push(at, What::Restart(usize::MAX - i));
                }
            }
            Action::Evidence(e) => {
                if !e.is_valid() {
                    self.failure = Some("engine produced invalid evidence".into());
                }
            }
        }
    }

    fn correct(&self, i: usize) -> bool {
        self.nodes[i].behaviour == Behaviour::Correct
    }

    /// Agreement and validity at `height`.
    fn check(&mut self, height: Height) {
        let mut seen: Option<Hash> = None;
        for i in 0..self.nodes.len() {
            if !self.correct(i) {
                continue;
            }
            if let Some(h) = self.nodes[i].decided.get(&height) {
                if !self.proposed.contains(h) || self.invalid.contains(h) {
                    self.failure = Some(format!("validity: node {i} decided an unproposed or invalid block at height {height}"));
                }
                match seen {
                    None => seen = Some(*h),
                    Some(s) if s != *h => {
                        self.failure = Some(format!("agreement: two correct nodes decided different blocks at height {height}"));
                    }
                    _ => {}
                }
            }
        }
    }

    /// Run until every correct node decided all heights, or the time limit.
    fn run(&mut self, limit_ms: u64) -> Result<(), String> {
        let mut steps = 0u64;
        while let Some(((at, _), what)) = self.queue.pop_first() {
            steps += 1;
            if at > limit_ms || steps > 2_000_000 {
                break;
            }
            self.now = at;
            match what {
                What::Deliver(to, m) => {
                    if self.nodes[to].behaviour == Behaviour::Silent {
                        continue;
                    }
                    let ev = match m {
                        Message::Proposal(p) => Event::Proposal(p),
                        Message::Vote(v) => Event::Vote(v),
                    };
                    self.feed(to, ev);
                }
                What::Timer(i, t) => {
                    if t.height == self.nodes[i].height {
                        self.feed(i, Event::Timeout(t));
                    }
                }
                What::Crash(i) => self.nodes[i].alive = false,
                What::Rebroadcast(i) => {
                    let h = self.nodes[i].height;
                    if self.nodes[i].alive
                        && self.nodes[i].behaviour != Behaviour::Silent
                        && !self.nodes[i].decided.contains_key(&h)
                    {
                        let mine: Vec<Message> = self.nodes[i]
                            .wal
                            .iter()
                            .filter(|m| match m {
                                Message::Proposal(p) => p.data.height == h,
                                Message::Vote(v) => v.data.height == h,
                            })
                            .cloned()
                            .collect();
                        // With what justifies its valid value, as the node driver relays.
                        let relay = self.nodes[i].engine.justification();
                        for m in mine.into_iter().chain(relay) {
                            self.send(i, m, None);
                        }
                    }
                    // Block sync: a node left behind adopts a decision whose certificate
                    // verifies, from any peer it can reach.
                    if self.nodes[i].alive
                        && self.nodes[i].behaviour != Behaviour::Silent
                        && !self.nodes[i].decided.contains_key(&h)
                    {
                        let found = (0..self.nodes.len())
                            .filter(|j| *j != i && self.connected(*j, i))
                            .find_map(|j| self.nodes[j].certs.get(&h).cloned());
                        if let Some(cert) = found {
                            if cert
                                .verify("sim", h, &cert.block_hash, &self.engine_set)
                                .is_ok()
                            {
                                self.nodes[i].decided.insert(h, cert.block_hash);
                                self.nodes[i].certs.insert(h, cert);
                                self.check(h);
                                if h < self.scenario.heights {
                                    self.start_height(i, h + 1);
                                }
                            }
                        }
                    }
                    let at = self.now + REBROADCAST_MS;
                    self.push(at, What::Rebroadcast(i));
                }
                What::Restart(x) if x > usize::MAX / 2 => {
                    let i = usize::MAX - x;
                    let next = self.nodes[i].decided.keys().max().copied().unwrap_or(0) + 1;
                    if self.nodes[i].alive && next > self.nodes[i].height {
                        self.start_height(i, next);
                    }
                }
                What::Restart(i) => {
                    if !self.nodes[i].alive {
                        // A fresh engine, recovering only what the WAL persisted.
                        self.nodes[i].engine =
                            Engine::new(config(), Some(self.keys[self.nodes[i].key_index].clone()));
                        self.nodes[i].alive = true;
                        let next = self.nodes[i].decided.keys().max().copied().unwrap_or(0) + 1;
                        self.start_height(i, next);
                    }
                }
            }
            if let Some(f) = &self.failure {
                return Err(f.clone());
            }
            let done = (0..self.nodes.len())
                .filter(|i| self.correct(*i))
                .all(|i| self.nodes[i].decided.len() as u64 >= self.scenario.heights);
            if done {
                return Ok(());
            }
        }
        // Liveness: after healing and with at most f faults, every correct node decides.
        let healed_by = self.scenario.partition.as_ref().map_or(0, |(_, h)| *h);
        if self.now >= healed_by {
            for i in 0..self.nodes.len() {
                if self.correct(i) && (self.nodes[i].decided.len() as u64) < self.scenario.heights {
                    let rounds: Vec<String> = self
                        .nodes
                        .iter()
                        .map(|n| format!("\n  {:?}: {}", n.behaviour, n.engine.describe()))
                        .collect();
                    return Err(format!(
                        "liveness: correct node {i} decided {} of {} heights by {} ms{}",
                        self.nodes[i].decided.len(),
                        self.scenario.heights,
                        self.now,
                        rounds.concat()
                    ));
                }
            }
        }
        Ok(())
    }
}

fn seeds() -> u64 {
    std::env::var("YUI_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000)
}

fn run_family(family: Family, fault_model: FaultModel, n: usize) {
    if let (Ok(seed), Ok(f)) = (
        std::env::var("YUI_SIM_SEED"),
        std::env::var("YUI_SIM_FAMILY"),
    ) {
        if f != format!("{family:?}") {
            return;
        }
        let seed: u64 = seed.parse().unwrap();
        let mut sim = Sim::new(
            seed,
            Scenario {
                n_validators: n,
                fault_model,
                engine_fault_model: fault_model,
                family,
                heights: 2,
                partition: None,
            },
        );
        sim.run(60_000)
            .unwrap_or_else(|e| panic!("seed {seed} family {family:?}: {e}"));
        return;
    }
    for seed in 0..seeds() {
        let seed =
            seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ (n as u64) << 56 ^ (family as u64) << 48;
        let mut sim = Sim::new(
            seed,
            Scenario {
                n_validators: n,
                fault_model,
                engine_fault_model: fault_model,
                family,
                heights: 2,
                partition: None,
            },
        );
        if let Err(e) = sim.run(60_000) {
            panic!("{e}\nreplay: YUI_SIM_SEED={seed} YUI_SIM_FAMILY={family:?} cargo test -p yui-consensus --test simulator");
        }
    }
}

#[test]
fn byzantine_model_four_validators_every_fault_family() {
    for family in ALL {
        run_family(family, FaultModel::Byzantine, 4);
    }
}

#[test]
fn crash_model_three_validators_crash_fault_families() {
    for family in [
        Family::Lossy,
        Family::Partition,
        Family::CrashRestart,
        Family::Silent,
    ] {
        run_family(family, FaultModel::Crash, 3);
    }
}

#[test]
fn byzantine_model_seven_validators_lossy_and_twins() {
    let saved = seeds();
    let _ = saved;
    for family in [Family::Lossy, Family::Twins, Family::EquivocatingProposer] {
        run_family(family, FaultModel::Byzantine, 7);
    }
}

#[test]
fn the_same_seed_replays_the_same_run() {
    let run = |seed| {
        let mut sim = Sim::new(
            seed,
            Scenario {
                n_validators: 4,
                fault_model: FaultModel::Byzantine,
                engine_fault_model: FaultModel::Byzantine,
                family: Family::Lossy,
                heights: 3,
                partition: None,
            },
        );
        sim.run(60_000).unwrap();
        (
            sim.now,
            sim.seq,
            sim.nodes
                .iter()
                .map(|n| n.decided.clone())
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(run(42), run(42));
}

/// The checker can fail: with a deliberately wrong quorum (a majority instead of more than
/// 2/3) and two Byzantine validators, each twinned across a partition, the two sides each
/// reach the wrong "quorum" and decide different blocks.
#[test]
fn a_wrong_quorum_threshold_is_caught_as_disagreement() {
    let scenario = |engine_fault_model| {
        // 7 validators: 0..=4 correct, 5 and 6 Byzantine with a twin each (nodes 7 and 8).
        let mut sim = Sim::new(
            7,
            Scenario {
                n_validators: 7,
                fault_model: FaultModel::Byzantine,
                engine_fault_model,
                family: Family::Lossy,
                heights: 1,
                partition: None,
            },
        );
        sim.drop_pct = 0;
        sim.dup_pct = 0;
        for byz in [5usize, 6] {
            sim.nodes[byz].behaviour = Behaviour::Twin;
            sim.nodes.push(Node {
                key_index: byz,
                engine: Engine::new(config(), Some(sim.keys[byz].clone())),
                behaviour: Behaviour::Twin,
                alive: true,
                wal: Vec::new(),
                height: 1,
                decided: BTreeMap::new(),
                certs: BTreeMap::new(),
            });
        }
        let a: BTreeSet<usize> = [0, 1, 2, 5, 6].into_iter().collect();
        let b: BTreeSet<usize> = [3, 4, 7, 8].into_iter().collect();
        sim.scenario.partition = Some((vec![a, b], u64::MAX));
        sim.queue.clear();
        for i in 0..sim.nodes.len() {
            sim.nodes[i].engine =
                Engine::new(config(), Some(sim.keys[sim.nodes[i].key_index].clone()));
            sim.start_height(i, 1);
            sim.push(REBROADCAST_MS, What::Rebroadcast(i));
        }
        sim.run(30_000)
    };
    let wrong = scenario(FaultModel::Crash);
    assert!(
        matches!(&wrong, Err(e) if e.starts_with("agreement")),
        "the checker missed the fork: {wrong:?}"
    );
    // With the right threshold the same scenario keeps agreement (the smaller side just waits).
    let right = scenario(FaultModel::Byzantine);
    assert!(
        !matches!(&right, Err(e) if e.starts_with("agreement")),
        "{right:?}"
    );
}

#[test]
fn a_silent_validator_costs_one_propose_timeout_not_one_in_four_heights() {
    // Four validators, one silent from the start, forty heights, in every seed: after the
    // silent one misses its first round-0 slot it is skipped, so at most one height needs a
    // second round (without the rule about one height in four would).
    for seed in 0..20u64 {
        let mut sim = Sim::new(
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            Scenario {
                n_validators: 4,
                fault_model: FaultModel::Byzantine,
                engine_fault_model: FaultModel::Byzantine,
                family: Family::Silent,
                heights: 40,
                partition: None,
            },
        );
        sim.run(600_000)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let correct = (0..sim.nodes.len())
            .find(|i| sim.correct(*i))
            .expect("a correct node");
        let certs = &sim.nodes[correct].certs;
        assert_eq!(certs.len(), 40, "seed {seed}: every height decided");
        let silent = sim
            .nodes
            .iter()
            .find(|n| n.behaviour == Behaviour::Silent)
            .map(|n| sim.keys[n.key_index].verifying_key().to_bytes())
            .expect("a silent validator");
        // Heights whose round-0 proposer, as the rule named it, was the silent validator
        // (message loss makes other heights late now and then; that is not the rule's doing).
        let mut record = ProposerRecord::default();
        let mut missed = Vec::new();
        for h in 1..=40u64 {
            let named = proposer_of(&sim.engine_set, h, 0, &record.skipped(h)).public_key;
            if named == silent {
                missed.push(h);
            }
            let decided = sim.nodes[correct].decided[&h];
            record.record(&sim.engine_set, h, &sim.builders[&decided]);
        }
        assert!(
            missed.len() <= 1,
            "seed {seed}: the silent validator was named to propose at heights {missed:?}"
        );
    }
}
