//! A probe around one engine: the test plays every other validator, signs their proposals and
//! votes, fires timeouts by hand, and reads back what the engine signed. The probe answers the
//! engine's requests as a driver would: `BuildProposal` with a fixed block of its own, and
//! `ValidateBlock` with "valid" unless the test marked the block invalid.

use super::{block_hash, keys, set_of};
use ed25519_dalek::SigningKey;
use std::collections::BTreeSet;
use yui_consensus::*;

/// The chain id every probe message carries.
pub const CHAIN: &str = "probe";

/// One engine under test and the keys of all validators.
pub struct Probe {
    /// Every validator's key, the engine's included.
    pub keys: Vec<SigningKey>,
    /// The validator set.
    pub set: ValidatorSet,
    /// The engine's validator index.
    pub me: usize,
    /// The engine.
    pub engine: Engine,
    /// The clock, ms.
    pub now: u64,
    /// Blocks the driver answers as invalid.
    pub invalid: BTreeSet<Hash>,
}

impl Probe {
    /// Validator `me` of `n` equal validators (byzantine model), started at height 1.
    pub fn new(n: u8, me: usize) -> Probe {
        let keys = keys(n);
        let set = set_of(&keys, FaultModel::Byzantine);
        let engine = Engine::new(EngineConfig::with_chain_id(CHAIN), Some(keys[me].clone()));
        let mut p = Probe {
            keys,
            set,
            me,
            engine,
            now: 0,
            invalid: BTreeSet::new(),
        };
        let validators = p.set.clone();
        p.feed(Event::StartHeight {
            height: 1,
            validators,
        });
        p
    }

    /// A probe whose engine is not the proposer of (1, 0).
    pub fn follower(n: u8) -> Probe {
        let keys = keys(n);
        let set = set_of(&keys, FaultModel::Byzantine);
        let me = (0..n as usize)
            .find(|&i| index_of(&set, &proposer_of(&set, 1, 0, &[]).public_key) != i)
            .expect("some validator is not the proposer");
        Probe::new(n, me)
    }

    /// The index of the proposer of (`height`, `round`).
    pub fn proposer(&self, height: Height, round: Round) -> usize {
        index_of(
            &self.set,
            &proposer_of(&self.set, height, round, &[]).public_key,
        )
    }

    /// Indexes of `count` validators other than the engine, lowest first.
    pub fn others(&self, count: usize) -> Vec<usize> {
        (0..self.keys.len())
            .filter(|&i| i != self.me)
            .take(count)
            .collect()
    }

    /// The block the probe's driver builds for (`height`, `round`).
    pub fn own_block(&self, height: Height, round: Round) -> Hash {
        block_hash(height, round, 1000 + self.me)
    }

    /// Feed one event and everything the driver answers to it; return every action.
    pub fn feed(&mut self, event: Event) -> Vec<Action> {
        let mut all = Vec::new();
        let mut pending = vec![event];
        while let Some(ev) = pending.pop() {
            for a in self.engine.handle(self.now, ev) {
                match &a {
                    Action::BuildProposal { height, round } => pending.push(Event::ProposalReady {
                        height: *height,
                        round: *round,
                        block_hash: self.own_block(*height, *round),
                    }),
                    Action::ValidateBlock {
                        height,
                        round,
                        block_hash,
                    } => pending.push(Event::BlockValidated {
                        height: *height,
                        round: *round,
                        block_hash: *block_hash,
                        valid: !self.invalid.contains(block_hash),
                    }),
                    _ => {}
                }
                all.push(a);
            }
        }
        all
    }

    /// The proposal of (`height`, `round`) signed by its proposer.
    pub fn proposal(
        &mut self,
        height: Height,
        round: Round,
        block: Hash,
        pol_round: Option<Round>,
    ) -> Vec<Action> {
        let who = self.proposer(height, round);
        self.proposal_from(who, height, round, block, pol_round)
    }

    /// A proposal signed by validator `who`.
    pub fn proposal_from(
        &mut self,
        who: usize,
        height: Height,
        round: Round,
        block: Hash,
        pol_round: Option<Round>,
    ) -> Vec<Action> {
        let p = ProposalData {
            chain_id: CHAIN.into(),
            height,
            round,
            block_hash: block,
            pol_round,
            proposer: self.keys[who].verifying_key().to_bytes(),
        }
        .sign(&self.keys[who]);
        self.feed(Event::Proposal(p))
    }

    /// A vote signed by each of `who`.
    pub fn votes(
        &mut self,
        who: &[usize],
        vote_type: VoteType,
        height: Height,
        round: Round,
        block: Option<Hash>,
    ) -> Vec<Action> {
        let mut all = Vec::new();
        for &w in who {
            let v = VoteData {
                chain_id: CHAIN.into(),
                vote_type,
                height,
                round,
                block_hash: block,
                validator: self.keys[w].verifying_key().to_bytes(),
            }
            .sign(&self.keys[w]);
            all.extend(self.feed(Event::Vote(v)));
        }
        all
    }

    /// Fire the timeout of `step` at (`height`, `round`), moving the clock past it.
    pub fn timeout(&mut self, step: Step, height: Height, round: Round) -> Vec<Action> {
        self.now += 100_000;
        self.feed(Event::Timeout(Timeout {
            height,
            round,
            step,
        }))
    }
}

fn index_of(set: &ValidatorSet, key: &PublicKey) -> usize {
    set.validators
        .iter()
        .position(|v| &v.public_key == key)
        .expect("a member")
}

/// The votes of `vote_type` the engine broadcast in `actions`: (round, block).
pub fn my_votes(actions: &[Action], vote_type: VoteType) -> Vec<(Round, Option<Hash>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Broadcast(Message::Vote(v)) if v.data.vote_type == vote_type => {
                Some((v.data.round, v.data.block_hash))
            }
            _ => None,
        })
        .collect()
}

/// The proposals the engine broadcast in `actions`: (round, block, pol round).
pub fn my_proposals(actions: &[Action]) -> Vec<(Round, Hash, Option<Round>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Broadcast(Message::Proposal(p)) => {
                Some((p.data.round, p.data.block_hash, p.data.pol_round))
            }
            _ => None,
        })
        .collect()
}

/// The timers the engine asked for in `actions`.
pub fn timers(actions: &[Action]) -> Vec<Timeout> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::ScheduleTimeout { timeout, .. } => Some(*timeout),
            _ => None,
        })
        .collect()
}

/// The block decided in `actions`, if any.
pub fn decided(actions: &[Action]) -> Option<Hash> {
    actions.iter().find_map(|a| match a {
        Action::Decide(c) => Some(c.block_hash),
        _ => None,
    })
}
