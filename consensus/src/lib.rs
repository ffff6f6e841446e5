//! Yui's consensus core: a pure, deterministic BFT proof-of-authority engine (Tendermint).
//!
//! It owns the agreement on one block per height among a validator set of named
//! organizations, and the data that proves it (votes, commit certificates, equivocation
//! evidence). It must never do IO, read a clock, draw randomness or depend on an async
//! runtime: the `node` crate drives it through `Engine::handle(now, Event) -> Vec<Action>`.

pub mod engine;
pub mod hash;
pub mod merkle;
pub mod proposer;
pub mod sig;
pub mod types;

pub use engine::{Action, Engine, EngineConfig, Event, Message, SignPoint, Step, Timeout};
pub use hash::Hash;
pub use proposer::{proposer_of, ProposerRecord};
pub use types::{
    CertificateError, CommitCertificate, Evidence, FaultModel, Header, Height, Proposal,
    ProposalData, PublicKey, Round, SetError, Validator, ValidatorSet, Vote, VoteData, VoteType,
};
