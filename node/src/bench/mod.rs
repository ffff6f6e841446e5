//! Benchmarks that print figures for this machine, never timed assertions: `yui bench replay`
//! (verification of a synthetic chain beside the machine's signature rate), `yui bench
//! contract` (contract execution alone, in memory and on disk) and `yui bench network` (a
//! real local network under load).
//!
//! Benchmarks drive the node from outside or through its public pieces; nothing in the node
//! may depend on them.

pub mod common;
pub mod contract;
pub mod network;
pub mod replay;
