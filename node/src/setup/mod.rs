//! Setting a network up: key files, the genesis document and its network description, the
//! node's configuration file, and the launcher of a local network that `yui devnet`, the load
//! benchmark and the end-to-end tests share.
//!
//! Setup reads and writes configuration; it must never open a chain store or touch consensus.

pub mod certs;
pub mod config;
pub mod genesis;
pub mod keys;
pub mod localnet;
pub mod network;
