//! The consensus engine's interface: a pure state machine driven by `Engine::handle(now, Event)`
//! that returns the `Action`s its driver must carry out, in order.
//!
//! The driver (in `node`) owns every side effect: the clock, timers, the network, the WAL and
//! block building/validation. The engine never reads a clock, never does IO and never draws
//! randomness, so a test can drive it with a for-loop and replay any run exactly.
//!
//! Driver contract, in order of importance:
//! 1. Carry out actions in the order returned. `Action::Persist` must be durably written (and
//!    flushed) before any later action of the same batch is carried out: this is what keeps a
//!    restarted validator from signing two different votes for one height, round and step.
//! 2. After `Action::Decide`, commit the block with its certificate, then start the next height
//!    with `Event::StartHeight` and the validator set the committed state names for it.
//! 3. On restart, send every message the WAL holds for the next uncommitted height as
//!    `Event::Restored`, then `Event::StartHeight`, before any network message. The engine
//!    then re-sends exactly what it had signed and never signs anything else for those steps.

use crate::hash::Hash;
use crate::types::{CommitCertificate, Evidence, Height, Proposal, Round, ValidatorSet, Vote};
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::SigningKey;

/// Timeouts and limits. Times are milliseconds of the driver's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Chain id put in and required of every signed message.
    pub chain_id: String,
    /// Propose timeout in round 0.
    pub timeout_propose_ms: u64,
    /// Prevote timeout in round 0.
    pub timeout_prevote_ms: u64,
    /// Precommit timeout in round 0.
    pub timeout_precommit_ms: u64,
    /// Added to each timeout per round.
    pub timeout_delta_ms: u64,
    /// No timeout grows beyond this.
    pub timeout_cap_ms: u64,
    /// Messages for heights further ahead than this are dropped, not buffered.
    pub max_future_heights: u64,
}

impl EngineConfig {
    /// Defaults suitable for validators on one LAN or one machine.
    pub fn with_chain_id(chain_id: impl Into<String>) -> Self {
        EngineConfig {
            chain_id: chain_id.into(),
            timeout_propose_ms: 1_000,
            timeout_prevote_ms: 500,
            timeout_precommit_ms: 500,
            timeout_delta_ms: 500,
            timeout_cap_ms: 10_000,
            max_future_heights: 2,
        }
    }
}

/// The step a timeout belongs to.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum Step {
    /// Waiting for the proposal.
    Propose,
    /// Waiting for prevotes.
    Prevote,
    /// Waiting for precommits.
    Precommit,
}

/// A timer the engine asked for.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct Timeout {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// Step.
    pub step: Step,
}

/// A consensus message on the wire.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Message {
    /// A signed proposal (the block travels beside it).
    Proposal(Proposal),
    /// A signed vote.
    Vote(Vote),
}

/// Where a signature falls in the protocol: height, then round, then step (a proposal before
/// a prevote before a precommit). An honest validator's signatures only move forward in this
/// order, so "the highest point signed" is all a restarted validator must remember to never
/// sign two different messages for one step.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct SignPoint {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// 0 proposal, 1 prevote, 2 precommit.
    pub step: u8,
}

impl SignPoint {
    /// The point after every signature of `height`: refraining through it means signing
    /// nothing more for that height.
    pub fn end_of(height: Height) -> SignPoint {
        SignPoint {
            height,
            round: Round::MAX,
            step: u8::MAX,
        }
    }
}

impl Message {
    /// Where this message's signature falls.
    pub fn sign_point(&self) -> SignPoint {
        match self {
            Message::Proposal(p) => SignPoint {
                height: p.data.height,
                round: p.data.round,
                step: 0,
            },
            Message::Vote(v) => Message::vote_point(v.data.height, v.data.round, v.data.vote_type),
        }
    }

    fn vote_point(height: Height, round: Round, vote_type: VoteType) -> SignPoint {
        SignPoint {
            height,
            round,
            step: match vote_type {
                VoteType::Prevote => 1,
                VoteType::Precommit => 2,
            },
        }
    }
}

/// What happened, as told to the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Start `height` with the validator set the committed state names for it.
    StartHeight {
        /// The height to decide.
        height: Height,
        /// Its validators.
        validators: ValidatorSet,
    },
    /// A message this validator itself signed before a restart, read back from the WAL.
    Restored(Message),
    /// A proposal from the network.
    Proposal(Proposal),
    /// A vote from the network.
    Vote(Vote),
    /// A timer from `Action::ScheduleTimeout` fired.
    Timeout(Timeout),
    /// The driver built the block asked for by `Action::BuildProposal`.
    ProposalReady {
        /// Height.
        height: Height,
        /// Round.
        round: Round,
        /// Hash of the block built.
        block_hash: Hash,
    },
    /// The driver checked the content of a proposed block (answer to `Action::ValidateBlock`).
    BlockValidated {
        /// Height.
        height: Height,
        /// Round of the proposal.
        round: Round,
        /// The block.
        block_hash: Hash,
        /// Whether the block is valid (well-formed, executes to the header's roots, timestamp
        /// within the driver's allowed drift).
        valid: bool,
    },
}

/// What the driver must do. Carry them out in order.
#[must_use]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Write this message to the WAL and flush it before carrying out any later action.
    Persist(Message),
    /// Send this signed message to every peer.
    Broadcast(Message),
    /// Build a block for `(height, round)` from the mempool and answer with
    /// `Event::ProposalReady`.
    BuildProposal {
        /// Height.
        height: Height,
        /// Round.
        round: Round,
    },
    /// Check the block with this hash that came with a proposal and answer with
    /// `Event::BlockValidated`. If the driver does not have the block yet it answers once it
    /// does (or never, and the round times out).
    ValidateBlock {
        /// Height.
        height: Height,
        /// Round.
        round: Round,
        /// The block.
        block_hash: Hash,
    },
    /// Deliver `Event::Timeout(timeout)` when the driver's clock reaches `at_ms`.
    ScheduleTimeout {
        /// The timer.
        timeout: Timeout,
        /// When, in the driver's clock.
        at_ms: u64,
    },
    /// The block is decided. Commit it with this certificate, then start the next height.
    Decide(CommitCertificate),
    /// A validator equivocated. Gossip the evidence and propose it for the chain.
    Evidence(Evidence),
}

/// Rounds ahead of the current one whose messages are kept (a bound on memory per height).
pub const MAX_ROUNDS_AHEAD: Round = 64;
/// Distinct votes kept per validator and step (an honest validator sends one).
pub const MAX_VOTES_PER_STEP: usize = 3;
/// Future-height messages buffered until their height starts.
pub const MAX_BUFFERED: usize = 4_096;
/// Most rule applications one event may cause before the rules must have settled (each moves
/// the step or the round forward, or decides; a handful suffice).
pub const MAX_RULE_APPLICATIONS: usize = 64;

/// A block hash, or nil.
type Value = Option<Hash>;

/// Per-height state of the Tendermint algorithm (paper, Algorithm 1, lines 1-9).
struct HeightState {
    height: Height,
    validators: ValidatorSet,
    round: Round,
    step: Step,
    locked: Option<(Hash, Round)>,
    valid: Option<(Hash, Round)>,
    decided: bool,
    /// The first well-signed proposal of the round's proposer, per round.
    proposals: BTreeMap<Round, Proposal>,
    /// Votes by (round, type) and validator index. An equivocating validator's conflicting
    /// votes are all kept (up to `MAX_VOTES_PER_STEP`) and each counts for its own value:
    /// that is exactly what a Byzantine validator can achieve by showing different votes to
    /// different peers, which the algorithm's safety argument already allows for, and it lets
    /// every correct node see a polka another correct node saw (liveness).
    votes: BTreeMap<(Round, VoteType), BTreeMap<usize, Vec<Vote>>>,
    /// Block validity answers from the driver.
    validity: BTreeMap<Hash, bool>,
    /// Validation requests already sent.
    asked: BTreeSet<Hash>,
    /// What this node signed, per (round, step): never sign anything else for it.
    signed_votes: BTreeMap<(Round, VoteType), Vote>,
    signed_proposals: BTreeMap<Round, Proposal>,
    /// "for the first time" guards of lines 34, 36 and 47.
    prevote_timer: BTreeSet<Round>,
    precommit_timer: BTreeSet<Round>,
    polka_seen: BTreeSet<Round>,
    /// Pairs already reported as evidence.
    evidence: BTreeSet<(Round, VoteType, usize)>,
    /// A proposal is being built for this round.
    building: Option<Round>,
}

/// The consensus engine for one node: a validator if it has a signing key, else an observer
/// that follows the votes and decides with everyone else.
pub struct Engine {
    config: EngineConfig,
    key: Option<SigningKey>,
    me: Option<PublicKey>,
    state: Option<HeightState>,
    /// Messages for heights not started yet.
    buffered: Vec<Message>,
    /// Own messages from the WAL, waiting for their height to start.
    restored: Vec<Message>,
    last_height: Height,
    /// Never create a new signature at or below this point (what this validator may have
    /// signed before a restart); restored messages are still sent again.
    floor: Option<SignPoint>,
    /// The proposers skipped at a height (`proposer::ProposerRecord`), set before it starts.
    skip: (Height, Vec<PublicKey>),
}

use crate::types::{ProposalData, PublicKey, VoteData, VoteType};
use std::collections::{BTreeMap, BTreeSet};

impl Engine {
    /// A new engine. It does nothing until `Event::StartHeight`.
    pub fn new(config: EngineConfig, key: Option<SigningKey>) -> Self {
        let me = key.as_ref().map(|k| k.verifying_key().to_bytes());
        Engine {
            config,
            key,
            me,
            state: None,
            buffered: Vec::new(),
            restored: Vec::new(),
            floor: None,
            skip: (0, Vec::new()),
            last_height: 0,
        }
    }

    /// The height being decided (0 before the first `StartHeight`).
    pub fn height(&self) -> Height {
        self.state.as_ref().map_or(self.last_height, |s| s.height)
    }

    /// A one-line summary of the height in progress, for logs and test failures.
    pub fn describe(&self) -> String {
        match &self.state {
            None => format!("idle after height {}", self.last_height),
            Some(s) => {
                let votes: Vec<String> = s
                    .votes
                    .iter()
                    .filter(|((r, _), _)| *r + 2 >= s.round)
                    .map(|((r, t), m)| {
                        let vals: Vec<String> = m
                            .values()
                            .flatten()
                            .map(|v| v.data.block_hash.map_or("nil".into(), |h| format!("{h:?}")))
                            .collect();
                        format!("r{r}/{t:?}:{vals:?}")
                    })
                    .collect();
                format!(
                    "h{} r{} {:?} locked={:?} valid={:?} proposals={:?} votes={votes:?}",
                    s.height,
                    s.round,
                    s.step,
                    s.locked,
                    s.valid,
                    s.proposals
                        .iter()
                        .filter(|(r, _)| **r + 2 >= s.round)
                        .map(|(r, p)| (r, p.data.block_hash, p.data.pol_round))
                        .collect::<Vec<_>>()
                )
            }
        }
    }

    /// Sign nothing new at or below `point`: the driver sets it at start from the last-signed
    /// record (and through a whole height when the WAL may have lost what was signed there).
    /// The engine then follows those steps as an observer and decides with the others.
    pub fn refrain_through(&mut self, point: SignPoint) {
        self.floor = Some(self.floor.map_or(point, |f| f.max(point)));
    }

    /// The proposers to skip at `height` (from the committed chain's
    /// `proposer::ProposerRecord`); give it before `Event::StartHeight` of that height. Every
    /// node must be given the same, or they disagree on whose proposals count.
    pub fn skip_proposers(&mut self, height: Height, keys: Vec<PublicKey>) {
        self.skip = (height, keys);
    }

    /// The proposer of `round` at the height in progress.
    fn proposer_at(&self, s: &HeightState, round: Round) -> PublicKey {
        let skip: &[PublicKey] = if self.skip.0 == s.height {
            &self.skip.1
        } else {
            &[]
        };
        crate::proposer::proposer_of(&s.validators, s.height, round, skip).public_key
    }

    /// The messages that justify this node's valid value: the proposal of its valid round and
    /// the quorum of prevotes for it there, whoever signed them. The driver relays them while a
    /// height is stuck. Tendermint assumes every message a correct node received eventually
    /// reaches every correct node (the paper's gossip), also when its signer is gone; without
    /// them the others can never accept a proposal that re-proposes a locked value (line 28),
    /// and a node locked on it would prevote nil for ever.
    pub fn justification(&self) -> Vec<Message> {
        let Some(s) = self.state.as_ref() else {
            return Vec::new();
        };
        let Some((value, round)) = s.valid else {
            return Vec::new();
        };
        let mut out: Vec<Message> = s
            .proposals
            .get(&round)
            .filter(|p| p.data.block_hash == value)
            .map(|p| Message::Proposal(p.clone()))
            .into_iter()
            .collect();
        if let Some(by_validator) = s.votes.get(&(round, VoteType::Prevote)) {
            out.extend(
                by_validator
                    .values()
                    .flatten()
                    .filter(|v| v.data.block_hash == Some(value))
                    .map(|v| Message::Vote(v.clone())),
            );
        }
        out
    }

    /// The current round.
    pub fn round(&self) -> Round {
        self.state.as_ref().map_or(0, |s| s.round)
    }

    /// Feed one event; carry out the returned actions in order.
    pub fn handle(&mut self, now_ms: u64, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::StartHeight { height, validators } => {
                if height <= self.last_height && self.state.is_some() {
                    return out;
                }
                self.last_height = height;
                self.state = Some(HeightState {
                    height,
                    validators,
                    round: 0,
                    step: Step::Propose,
                    locked: None,
                    valid: None,
                    decided: false,
                    proposals: BTreeMap::new(),
                    votes: BTreeMap::new(),
                    validity: BTreeMap::new(),
                    asked: BTreeSet::new(),
                    signed_votes: BTreeMap::new(),
                    signed_proposals: BTreeMap::new(),
                    prevote_timer: BTreeSet::new(),
                    precommit_timer: BTreeSet::new(),
                    polka_seen: BTreeSet::new(),
                    evidence: BTreeSet::new(),
                    building: None,
                });
                // What this node signed before a restart binds it: load it before round 0.
                let restored: Vec<Message> = std::mem::take(&mut self.restored);
                let mine: Vec<Message> = restored
                    .into_iter()
                    .filter(|m| match m {
                        Message::Proposal(p) => p.data.height == height,
                        Message::Vote(v) => v.data.height == height,
                    })
                    .collect();
                if let Some(s) = self.state.as_mut() {
                    for m in &mine {
                        match m {
                            Message::Proposal(p) => {
                                s.signed_proposals.insert(p.data.round, p.clone());
                            }
                            Message::Vote(v) => {
                                s.signed_votes
                                    .insert((v.data.round, v.data.vote_type), v.clone());
                            }
                        }
                    }
                }
                self.start_round(now_ms, 0, &mut out);
                for m in mine {
                    out.push(Action::Broadcast(m.clone()));
                    match m {
                        Message::Proposal(p) => self.on_proposal(now_ms, p, &mut out),
                        Message::Vote(v) => self.on_vote(now_ms, v, &mut out),
                    }
                }
                let buffered = std::mem::take(&mut self.buffered);
                for m in buffered {
                    match m {
                        Message::Proposal(p) if p.data.height == height => {
                            self.on_proposal(now_ms, p, &mut out)
                        }
                        Message::Vote(v) if v.data.height == height => {
                            self.on_vote(now_ms, v, &mut out)
                        }
                        m => {
                            if self.is_future(&m) {
                                self.buffered.push(m);
                            }
                        }
                    }
                }
            }
            Event::Restored(m) => {
                let h = match &m {
                    Message::Proposal(p) => p.data.height,
                    Message::Vote(v) => v.data.height,
                };
                let Some(s) = self.state.as_mut().filter(|s| s.height == h) else {
                    if self.restored.len() < MAX_BUFFERED {
                        self.restored.push(m);
                    }
                    return out;
                };
                match &m {
                    Message::Proposal(p) if p.data.height == s.height => {
                        s.signed_proposals.insert(p.data.round, p.clone());
                        // Re-send what we had said before the restart.
                        out.push(Action::Broadcast(m.clone()));
                        let p = p.clone();
                        self.on_proposal(now_ms, p, &mut out);
                    }
                    Message::Vote(v) if v.data.height == s.height => {
                        s.signed_votes
                            .insert((v.data.round, v.data.vote_type), v.clone());
                        out.push(Action::Broadcast(m.clone()));
                        let v = v.clone();
                        self.on_vote(now_ms, v, &mut out);
                    }
                    _ => {}
                }
            }
            Event::Proposal(p) => self.on_proposal(now_ms, p, &mut out),
            Event::Vote(v) => self.on_vote(now_ms, v, &mut out),
            Event::Timeout(t) => self.on_timeout(now_ms, t, &mut out),
            Event::ProposalReady {
                height,
                round,
                block_hash,
            } => {
                let Some(s) = self.state.as_mut() else {
                    return out;
                };
                if s.height != height || s.building != Some(round) {
                    return out;
                }
                s.building = None;
                s.validity.insert(block_hash, true);
                self.sign_proposal(round, block_hash, None, &mut out);
                self.progress(now_ms, &mut out);
            }
            Event::BlockValidated {
                height,
                block_hash,
                valid,
                ..
            } => {
                let Some(s) = self.state.as_mut() else {
                    return out;
                };
                if s.height != height {
                    return out;
                }
                s.validity.insert(block_hash, valid);
                self.progress(now_ms, &mut out);
            }
        }
        out
    }

    fn is_future(&self, m: &Message) -> bool {
        let h = match m {
            Message::Proposal(p) => p.data.height,
            Message::Vote(v) => v.data.height,
        };
        let cur = self.height();
        h > cur && h <= cur.saturating_add(self.config.max_future_heights)
    }

    fn buffer(&mut self, m: Message) {
        if self.is_future(&m) && self.buffered.len() < MAX_BUFFERED {
            self.buffered.push(m);
        }
    }

    fn timeout_ms(&self, step: Step, round: Round) -> u64 {
        let base = match step {
            Step::Propose => self.config.timeout_propose_ms,
            Step::Prevote => self.config.timeout_prevote_ms,
            Step::Precommit => self.config.timeout_precommit_ms,
        };
        base.saturating_add(
            self.config
                .timeout_delta_ms
                .saturating_mul(u64::from(round)),
        )
        .min(self.config.timeout_cap_ms)
    }

    fn schedule(&self, now_ms: u64, step: Step, round: Round, out: &mut Vec<Action>) {
        let Some(s) = self.state.as_ref() else { return };
        out.push(Action::ScheduleTimeout {
            timeout: Timeout {
                height: s.height,
                round,
                step,
            },
            at_ms: now_ms.saturating_add(self.timeout_ms(step, round)),
        });
    }

    /// Alg. 1 lines 11-21: StartRound.
    fn start_round(&mut self, now_ms: u64, round: Round, out: &mut Vec<Action>) {
        let Some(proposer) = self.state.as_ref().map(|s| self.proposer_at(s, round)) else {
            return;
        };
        let Some(s) = self.state.as_mut() else { return };
        s.round = round;
        s.step = Step::Propose;
        // Forget rounds far behind: bounded memory per height.
        let keep_from = round.saturating_sub(MAX_ROUNDS_AHEAD);
        s.proposals.retain(|r, _| *r >= keep_from);
        s.votes.retain(|(r, _), _| *r >= keep_from);
        if self.me == Some(proposer) {
            if let Some(p) = s.signed_proposals.get(&round).cloned() {
                // Already proposed in this round before a restart: say the same again.
                out.push(Action::Broadcast(Message::Proposal(p)));
            } else if let Some((v, vr)) = s.valid {
                // Line 15: propose validValue with its validRound.
                self.sign_proposal(round, v, Some(vr), out);
            } else {
                // Line 18: getValue().
                s.building = Some(round);
                out.push(Action::BuildProposal {
                    height: s.height,
                    round,
                });
            }
        }
        // Line 21: every node, the proposer too, bounds the propose step.
        self.schedule(now_ms, Step::Propose, round, out);
        self.progress(now_ms, out);
    }

    fn sign_proposal(
        &mut self,
        round: Round,
        block_hash: Hash,
        pol_round: Option<Round>,
        out: &mut Vec<Action>,
    ) {
        let (Some(key), Some(me), Some(s)) = (self.key.as_ref(), self.me, self.state.as_mut())
        else {
            return;
        };
        let point = SignPoint {
            height: s.height,
            round,
            step: 0,
        };
        let floor = self.floor;
        let p = match s.signed_proposals.get(&round) {
            Some(p) => p.clone(),
            None if floor.is_some_and(|f| point <= f) => return,
            None => {
                let p = ProposalData {
                    chain_id: self.config.chain_id.clone(),
                    height: s.height,
                    round,
                    block_hash,
                    pol_round,
                    proposer: me,
                }
                .sign(key);
                s.signed_proposals.insert(round, p.clone());
                out.push(Action::Persist(Message::Proposal(p.clone())));
                p
            }
        };
        out.push(Action::Broadcast(Message::Proposal(p.clone())));
        s.proposals.entry(round).or_insert(p);
    }

    /// Sign and send a vote for the current round, unless this node already signed one for
    /// this step (then the same vote is sent again, never a different one).
    fn vote(&mut self, vote_type: VoteType, value: Value, out: &mut Vec<Action>) {
        let (Some(key), Some(me), Some(s)) = (self.key.as_ref(), self.me, self.state.as_mut())
        else {
            return;
        };
        if !s.validators.contains(&me) {
            return;
        }
        // Every rule that votes is gated on an undecided height (`step_once`, `on_timeout`).
        assert!(!s.decided, "a decided height signs no more votes");
        let round = s.round;
        let point = Message::vote_point(s.height, round, vote_type);
        let floor = self.floor;
        let v = match s.signed_votes.get(&(round, vote_type)) {
            Some(v) => v.clone(),
            None if floor.is_some_and(|f| point <= f) => return,
            None => {
                let v = VoteData {
                    chain_id: self.config.chain_id.clone(),
                    vote_type,
                    height: s.height,
                    round,
                    block_hash: value,
                    validator: me,
                }
                .sign(key);
                s.signed_votes.insert((round, vote_type), v.clone());
                out.push(Action::Persist(Message::Vote(v.clone())));
                v
            }
        };
        out.push(Action::Broadcast(Message::Vote(v.clone())));
        if let Some((idx, _)) = s.validators.get(&me) {
            let mine = s
                .votes
                .entry((round, vote_type))
                .or_default()
                .entry(idx)
                .or_default();
            if !mine.iter().any(|x| x.data.block_hash == v.data.block_hash) {
                mine.push(v);
            }
        }
    }

    fn on_proposal(&mut self, now_ms: u64, p: Proposal, out: &mut Vec<Action>) {
        let Some(s) = self.state.as_ref() else {
            self.buffer(Message::Proposal(p));
            return;
        };
        let d = &p.data;
        if d.height != s.height {
            self.buffer(Message::Proposal(p));
            return;
        }
        if d.chain_id != self.config.chain_id
            || d.round > s.round.saturating_add(MAX_ROUNDS_AHEAD)
            || d.pol_round.is_some_and(|vr| vr >= d.round)
            || self.proposer_at(s, d.round) != d.proposer
            || !p.verify_signature()
        {
            return;
        }
        let s = self.state.as_mut().expect("checked above");
        if s.proposals.contains_key(&d.round) {
            return; // first proposal of a round wins; a second one is the proposer's fault
        }
        let hash = d.block_hash;
        s.proposals.insert(d.round, p);
        if !s.validity.contains_key(&hash) && s.asked.insert(hash) {
            out.push(Action::ValidateBlock {
                height: s.height,
                round: s.round,
                block_hash: hash,
            });
        }
        self.progress(now_ms, out);
    }

    fn on_vote(&mut self, now_ms: u64, v: Vote, out: &mut Vec<Action>) {
        let Some(s) = self.state.as_ref() else {
            self.buffer(Message::Vote(v));
            return;
        };
        let d = &v.data;
        if d.height != s.height {
            self.buffer(Message::Vote(v));
            return;
        }
        let Some((idx, _)) = s.validators.get(&d.validator) else {
            return;
        };
        if d.chain_id != self.config.chain_id
            || d.round > s.round.saturating_add(MAX_ROUNDS_AHEAD)
            || d.round < s.round.saturating_sub(MAX_ROUNDS_AHEAD)
            || !v.verify_signature()
        {
            return;
        }
        let key = (d.round, d.vote_type);
        let s = self.state.as_mut().expect("checked above");
        let slot = s.votes.entry(key).or_default().entry(idx).or_default();
        if slot.iter().any(|x| x.data.block_hash == v.data.block_hash) {
            return; // a copy of a vote already counted
        }
        if let Some(first) = slot.first() {
            if s.evidence.insert((key.0, key.1, idx)) {
                out.push(Action::Evidence(Evidence {
                    first: first.clone(),
                    second: v.clone(),
                }));
            }
            if slot.len() >= MAX_VOTES_PER_STEP {
                return;
            }
        }
        slot.push(v);
        self.progress(now_ms, out);
    }

    fn on_timeout(&mut self, now_ms: u64, t: Timeout, out: &mut Vec<Action>) {
        let Some(s) = self.state.as_ref() else { return };
        if t.height != s.height || t.round != s.round || s.decided {
            return;
        }
        match t.step {
            // Lines 57-60.
            Step::Propose if s.step == Step::Propose => {
                self.vote(VoteType::Prevote, None, out);
                self.set_step(Step::Prevote);
            }
            // Lines 61-64.
            Step::Prevote if s.step == Step::Prevote => {
                self.vote(VoteType::Precommit, None, out);
                self.set_step(Step::Precommit);
            }
            // Lines 65-67.
            Step::Precommit => {
                let next = s.round.saturating_add(1);
                self.start_round(now_ms, next, out);
                return;
            }
            _ => return,
        }
        self.progress(now_ms, out);
    }

    fn set_step(&mut self, step: Step) {
        if let Some(s) = self.state.as_mut() {
            s.step = step;
        }
    }

    /// Voting power of validators that voted `value` in (round, type); `None` counts every
    /// validator that voted at all (once each).
    fn power(s: &HeightState, round: Round, t: VoteType, value: Option<Value>) -> u64 {
        s.votes.get(&(round, t)).map_or(0, |m| {
            m.iter()
                .filter(|(_, vs)| {
                    vs.iter()
                        .any(|v| value.is_none_or(|x| v.data.block_hash == x))
                })
                .filter_map(|(i, _)| s.validators.validators.get(*i).map(|x| x.power))
                .sum()
        })
    }

    /// Apply every rule of Algorithm 1 whose condition now holds, until none does.
    fn progress(&mut self, now_ms: u64, out: &mut Vec<Action>) {
        for _ in 0..MAX_RULE_APPLICATIONS {
            if !self.step_once(now_ms, out) {
                return;
            }
        }
        // Every application moves the step or the round forward or decides, so the rules
        // settle long before the cap; reaching it is a bug, and a validator must stop rather
        // than go on from a state it does not understand.
        panic!("the consensus rules did not settle after {MAX_RULE_APPLICATIONS} applications");
    }

    fn step_once(&mut self, now_ms: u64, out: &mut Vec<Action>) -> bool {
        let Some(s) = self.state.as_ref() else {
            return false;
        };
        if s.decided {
            return false;
        }
        // Lines 36-43 lock and mark valid only in the current round, and rounds only grow.
        assert!(
            s.locked.is_none_or(|(_, lr)| lr <= s.round),
            "locked round above the current round"
        );
        assert!(
            s.valid.is_none_or(|(_, vr)| vr <= s.round),
            "valid round above the current round"
        );
        let q = s.validators.quorum_power();
        let r = s.round;
        // Lines 49-54: a quorum of precommits for a value in any round decides it.
        let rounds: Vec<Round> = s
            .votes
            .keys()
            .filter(|(_, t)| *t == VoteType::Precommit)
            .map(|(r, _)| *r)
            .collect();
        for round in rounds {
            let Some(m) = s.votes.get(&(round, VoteType::Precommit)) else {
                continue;
            };
            let values: BTreeSet<Hash> = m
                .values()
                .flatten()
                .filter_map(|v| v.data.block_hash)
                .collect();
            for v in values {
                if Self::power(s, round, VoteType::Precommit, Some(Some(v))) >= q {
                    let mut sigs: Vec<(usize, PublicKey, [u8; 64])> = m
                        .iter()
                        .filter_map(|(i, vs)| {
                            vs.iter()
                                .find(|x| x.data.block_hash == Some(v))
                                .map(|x| (*i, x.data.validator, x.signature))
                        })
                        .collect();
                    sigs.sort_by_key(|(i, _, _)| *i);
                    let cert = CommitCertificate {
                        height: s.height,
                        round,
                        block_hash: v,
                        signatures: sigs.into_iter().map(|(_, k, sig)| (k, sig)).collect(),
                    };
                    if let Some(s) = self.state.as_mut() {
                        s.decided = true;
                    }
                    out.push(Action::Decide(cert));
                    return false;
                }
            }
        }
        // Lines 55-56: f+1 power of messages in a higher round: skip to it.
        let one_correct = s
            .validators
            .fault_model
            .one_correct(s.validators.total_power());
        let mut higher: BTreeMap<Round, BTreeSet<usize>> = BTreeMap::new();
        for ((round, _), m) in s.votes.range((r.saturating_add(1), VoteType::Prevote)..) {
            higher.entry(*round).or_default().extend(m.keys().copied());
        }
        for (round, p) in s.proposals.range(r.saturating_add(1)..) {
            if let Some((i, _)) = s.validators.get(&p.data.proposer) {
                higher.entry(*round).or_default().insert(i);
            }
        }
        let skip_to = higher.iter().rev().find(|(_, who)| {
            who.iter()
                .filter_map(|i| s.validators.validators.get(*i))
                .map(|v| v.power)
                .sum::<u64>()
                >= one_correct
        });
        if let Some((round, _)) = skip_to {
            let round = *round;
            self.start_round(now_ms, round, out);
            return true;
        }
        let proposal = s
            .proposals
            .get(&r)
            .map(|p| (p.data.block_hash, p.data.pol_round));
        // Lines 22-27 and 28-33: prevote on the round's proposal.
        if s.step == Step::Propose {
            if let Some((v, pol)) = proposal {
                let Some(&valid) = s.validity.get(&v) else {
                    return false;
                };
                let prevote = match pol {
                    None => valid && s.locked.is_none_or(|(lv, _)| lv == v),
                    Some(vr) => {
                        if Self::power(s, vr, VoteType::Prevote, Some(Some(v))) < q {
                            return false; // line 28 needs the polka of round vr first
                        }
                        valid && s.locked.is_none_or(|(lv, lr)| lr <= vr || lv == v)
                    }
                };
                self.vote(VoteType::Prevote, if prevote { Some(v) } else { None }, out);
                self.set_step(Step::Prevote);
                return true;
            }
        }
        let Some(s) = self.state.as_ref() else {
            return false;
        };
        // Lines 34-35: any quorum of prevotes starts the prevote timer (once per round).
        if s.step == Step::Prevote
            && !s.prevote_timer.contains(&r)
            && Self::power(s, r, VoteType::Prevote, None) >= q
        {
            if let Some(s) = self.state.as_mut() {
                s.prevote_timer.insert(r);
            }
            self.schedule(now_ms, Step::Prevote, r, out);
            return true;
        }
        // Lines 36-43: a polka for the valid proposal of this round.
        if let Some((v, _)) = proposal {
            if s.step != Step::Propose
                && !s.polka_seen.contains(&r)
                && s.validity.get(&v) == Some(&true)
                && Self::power(s, r, VoteType::Prevote, Some(Some(v))) >= q
            {
                let was_prevote = s.step == Step::Prevote;
                if let Some(s) = self.state.as_mut() {
                    s.polka_seen.insert(r);
                    if was_prevote {
                        s.locked = Some((v, r));
                    }
                    s.valid = Some((v, r));
                }
                if was_prevote {
                    self.vote(VoteType::Precommit, Some(v), out);
                    self.set_step(Step::Precommit);
                }
                return true;
            }
        }
        let Some(s) = self.state.as_ref() else {
            return false;
        };
        // Lines 44-46: a quorum of nil prevotes.
        if s.step == Step::Prevote && Self::power(s, r, VoteType::Prevote, Some(None)) >= q {
            self.vote(VoteType::Precommit, None, out);
            self.set_step(Step::Precommit);
            return true;
        }
        // Lines 47-48: any quorum of precommits starts the precommit timer (once per round).
        if !s.precommit_timer.contains(&r) && Self::power(s, r, VoteType::Precommit, None) >= q {
            if let Some(s) = self.state.as_mut() {
                s.precommit_timer.insert(r);
            }
            self.schedule(now_ms, Step::Precommit, r, out);
            return true;
        }
        false
    }
}
