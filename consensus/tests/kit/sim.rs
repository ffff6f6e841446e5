//! The seeded network simulator: N engines, a simulated clock and network (loss, delay,
//! duplication, reordering, partitions that heal), crash and restart from the persisted WAL,
//! and the byzantine behaviours (silent, equivocating proposer, double voter, twin). After every
//! step its checker asserts agreement and validity; `run` ends with liveness.

use ed25519_dalek::SigningKey;
use std::collections::{BTreeMap, BTreeSet};
use yui_consensus::types::PublicKey;
use yui_consensus::*;

/// SplitMix64: small, seeded, good enough for scheduling.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Lossy,
    Partition,
    CrashRestart,
    Silent,
    EquivocatingProposer,
    DoubleVote,
    Twins,
}

pub const ALL: [Family; 7] = [
    Family::Lossy,
    Family::Partition,
    Family::CrashRestart,
    Family::Silent,
    Family::EquivocatingProposer,
    Family::DoubleVote,
    Family::Twins,
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Behaviour {
    Correct,
    Silent,
    EquivocatingProposer,
    DoubleVoter,
    Twin,
}

pub struct Node {
    pub key_index: usize,
    pub engine: Engine,
    pub behaviour: Behaviour,
    pub alive: bool,
    pub wal: Vec<Message>,
    pub height: Height,
    pub decided: BTreeMap<Height, Hash>,
    pub certs: BTreeMap<Height, CommitCertificate>,
}

pub enum What {
    Deliver(usize, Message),
    Timer(usize, Timeout),
    Restart(usize),
    Crash(usize),
    /// The driver re-sends its own messages of the current height (gossip delivers each
    /// publication at most once; the node driver does this every second while stuck).
    Rebroadcast(usize),
}

pub struct Scenario {
    pub n_validators: usize,
    pub fault_model: FaultModel,
    /// The quorum the engines use may be made wrong on purpose (checker self-test).
    pub engine_fault_model: FaultModel,
    pub family: Family,
    pub heights: Height,
    /// Partition groups of node indices until `heal_at_ms` (None = connected).
    pub partition: Option<(Vec<BTreeSet<usize>>, u64)>,
}

pub struct Sim {
    pub rng: Rng,
    pub now: u64,
    pub seq: u64,
    pub queue: BTreeMap<(u64, u64), What>,
    pub nodes: Vec<Node>,
    pub keys: Vec<SigningKey>,
    pub engine_set: ValidatorSet,
    pub proposed: BTreeSet<Hash>,
    pub invalid: BTreeSet<Hash>,
    /// Who built each block (a header names its proposer).
    pub builders: BTreeMap<Hash, PublicKey>,
    pub scenario: Scenario,
    pub drop_pct: u64,
    pub dup_pct: u64,
    pub max_delay: u64,
    /// Every message takes at least this long (a WAN's floor).
    pub min_delay: u64,
    /// One node whose every link is this much slower (an island's link).
    pub slow: Option<(usize, u64)>,
    /// Messages put on the network (each copy to each receiver).
    pub messages: u64,
    /// When each node decided each height.
    pub decided_at: BTreeMap<Height, Vec<u64>>,
    /// Heights some node decided in a round after 0.
    pub late: BTreeSet<Height>,
    /// The engines' configuration (a restarted engine gets it too).
    pub engine_config: EngineConfig,
    pub failure: Option<String>,
}

/// A network's shape for [`Sim::new_with`], instead of the seed's random one.
#[derive(Clone, Copy, Debug)]
pub struct Network {
    pub min_delay: u64,
    pub max_delay: u64,
    pub drop_pct: u64,
    pub dup_pct: u64,
    /// One node whose every link is this much slower.
    pub slow: Option<(usize, u64)>,
}

pub const REBROADCAST_MS: u64 = 500;

pub fn config() -> EngineConfig {
    EngineConfig {
        timeout_propose_ms: 300,
        timeout_prevote_ms: 200,
        timeout_precommit_ms: 200,
        timeout_delta_ms: 100,
        timeout_cap_ms: 2_000,
        ..EngineConfig::with_chain_id("sim")
    }
}

pub fn block(height: Height, round: Round, node: usize, tag: u8) -> Hash {
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
    pub fn new(seed: u64, scenario: Scenario) -> Sim {
        Sim::new_with(seed, scenario, config(), None)
    }

    /// [`Sim::new`] with the engines' timeouts and, if given, a fixed network shape.
    pub fn new_with(
        seed: u64,
        scenario: Scenario,
        engine_config: EngineConfig,
        network: Option<Network>,
    ) -> Sim {
        let config = || engine_config.clone();
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
        let (drop_pct, dup_pct, max_delay) = match (network, scenario.family) {
            (Some(n), _) => (n.drop_pct, n.dup_pct, n.max_delay.max(1)),
            (None, Family::Lossy) => (rng.below(30), rng.below(20), 1 + rng.below(400)),
            (None, _) => (rng.below(5), rng.below(5), 1 + rng.below(100)),
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
            min_delay: network.map_or(0, |n| n.min_delay),
            slow: network.and_then(|n| n.slow),
            messages: 0,
            decided_at: BTreeMap::new(),
            late: BTreeSet::new(),
            engine_config: engine_config.clone(),
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

    pub fn push(&mut self, at: u64, what: What) {
        self.seq += 1;
        self.queue.insert((at, self.seq), what);
    }

    pub fn connected(&self, from: usize, to: usize) -> bool {
        match &self.scenario.partition {
            Some((groups, heal)) if self.now < *heal => {
                groups.iter().any(|g| g.contains(&from) && g.contains(&to))
            }
            _ => true,
        }
    }

    pub fn send(&mut self, from: usize, m: Message, only: Option<&BTreeSet<usize>>) {
        for to in 0..self.nodes.len() {
            if to == from || only.is_some_and(|o| !o.contains(&to)) || !self.connected(from, to) {
                continue;
            }
            if self.rng.chance(self.drop_pct) {
                continue;
            }
            let copies = if self.rng.chance(self.dup_pct) { 2 } else { 1 };
            let slow = match self.slow {
                Some((node, extra)) if node == from || node == to => extra,
                _ => 0,
            };
            let spread = self.max_delay.saturating_sub(self.min_delay).max(1);
            for _ in 0..copies {
                let at = self.now + 1 + self.min_delay + slow + self.rng.below(spread);
                self.messages += 1;
                self.push(at, What::Deliver(to, m.clone()));
            }
        }
    }

    pub fn start_height(&mut self, i: usize, height: Height) {
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

    pub fn feed(&mut self, i: usize, ev: Event) {
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

    pub fn act(&mut self, i: usize, a: Action, pending: &mut Vec<Event>) {
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
                if self.nodes[i]
                    .decided
                    .insert(cert.height, cert.block_hash)
                    .is_none()
                {
                    self.decided_at
                        .entry(cert.height)
                        .or_default()
                        .push(self.now);
                    if cert.round > 0 {
                        self.late.insert(cert.height);
                    }
                }
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

    pub fn correct(&self, i: usize) -> bool {
        self.nodes[i].behaviour == Behaviour::Correct
    }

    /// Agreement and validity at `height`.
    pub fn check(&mut self, height: Height) {
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
    pub fn run(&mut self, limit_ms: u64) -> Result<(), String> {
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
                        self.nodes[i].engine = Engine::new(
                            self.engine_config.clone(),
                            Some(self.keys[self.nodes[i].key_index].clone()),
                        );
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
