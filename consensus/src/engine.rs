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
//! 3. On restart, send `Event::StartHeight` for the next uncommitted height and then every
//!    entry the WAL holds for that height as `Event::Restored`, before any network message.

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

/// The consensus engine for one node (a validator if it has a signing key, else an observer
/// that follows the votes).
pub struct Engine {
    config: EngineConfig,
    key: Option<SigningKey>,
    height: Height,
    validators: Option<ValidatorSet>,
    precommits: Vec<Vote>,
}

impl Engine {
    /// A new engine. It does nothing until `Event::StartHeight`.
    pub fn new(config: EngineConfig, key: Option<SigningKey>) -> Self {
        Engine {
            config,
            key,
            height: 0,
            validators: None,
            precommits: Vec::new(),
        }
    }

    /// The height being decided (0 before the first `StartHeight`).
    pub fn height(&self) -> Height {
        self.height
    }

    /// Feed one event; carry out the returned actions in order.
    pub fn handle(&mut self, _now_ms: u64, event: Event) -> Vec<Action> {
        // Interim single-validator path; the BFT engine replaces this body.
        use crate::types::{ProposalData, VoteData, VoteType};
        let mut out = Vec::new();
        match event {
            Event::StartHeight { height, validators } => {
                self.height = height;
                self.precommits.clear();
                let me = self.key.as_ref().map(|k| k.verifying_key().to_bytes());
                if me == Some(validators.proposer(height, 0).public_key) {
                    out.push(Action::BuildProposal { height, round: 0 });
                }
                self.validators = Some(validators);
            }
            Event::ProposalReady {
                height,
                round,
                block_hash,
            } if height == self.height => {
                let (Some(key), Some(vs)) = (&self.key, &self.validators) else {
                    return out;
                };
                let me = key.verifying_key().to_bytes();
                let p = ProposalData {
                    chain_id: self.config.chain_id.clone(),
                    height,
                    round,
                    block_hash,
                    pol_round: None,
                    proposer: me,
                }
                .sign(key);
                out.push(Action::Persist(Message::Proposal(p.clone())));
                out.push(Action::Broadcast(Message::Proposal(p)));
                for vote_type in [VoteType::Prevote, VoteType::Precommit] {
                    let v = VoteData {
                        chain_id: self.config.chain_id.clone(),
                        vote_type,
                        height,
                        round,
                        block_hash: Some(block_hash),
                        validator: me,
                    }
                    .sign(key);
                    out.push(Action::Persist(Message::Vote(v.clone())));
                    out.push(Action::Broadcast(Message::Vote(v.clone())));
                    if vote_type == VoteType::Precommit {
                        self.precommits.push(v);
                    }
                }
                let power: u64 = self
                    .precommits
                    .iter()
                    .filter_map(|v| vs.get(&v.data.validator).map(|(_, x)| x.power))
                    .sum();
                if power >= vs.quorum_power() {
                    out.push(Action::Decide(CommitCertificate {
                        height,
                        round,
                        block_hash,
                        signatures: self
                            .precommits
                            .iter()
                            .map(|v| (v.data.validator, v.signature))
                            .collect(),
                    }));
                }
            }
            _ => {}
        }
        out
    }
}
