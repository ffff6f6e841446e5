//! The Yui node: the drivers around the two pure cores. The `yui` binary (`main.rs`) parses
//! its command line and dispatches to [`cli`]; everything else is one folder per concern, each
//! saying in its own module doc what it owns and what it must never do. Dependencies point
//! down this list and never back up:
//!
//! - [`storage`]: the `Store` trait, the fjall engine, the consensus WAL.
//! - [`setup`]: keys, genesis, configuration, the local-network launcher.
//! - [`chain`]: key layout, execution, validation, commit, reads, replay window.
//! - [`admission`]: the mempool and the personal-data guard.
//! - [`runtime`]: the consensus driver, block sync, the p2p network, metrics.
//! - [`vault`]: the personal-data vault.
//! - [`audit`]: export, verification by replay, inclusion proofs.
//! - [`api`]: the gRPC services, one mapping of errors to statuses, QR codes.
//! - [`bench`]: benchmarks that print figures.
//! - [`cli`]: one file per subcommand.

pub mod admission;
pub mod api;
pub mod audit;
pub mod bench;
pub mod chain;
pub mod cli;
pub mod runtime;
pub mod setup;
pub mod storage;
pub mod vault;
