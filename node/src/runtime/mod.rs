//! The running node: the consensus driver (the engine's effects carried out in order, block
//! production, commit, block sync), the assembly of compact proposals and the libp2p network,
//! with the node's metrics.
//!
//! The runtime owns every clock, timer and socket of consensus; it must never bypass the
//! engine to vote, and never report a commit before the store has flushed it.

pub mod compact;
pub mod driver;
pub mod p2p;
pub mod signing;
pub mod telemetry;
