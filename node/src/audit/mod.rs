//! Auditor tools: export a chain to one file ([`export`]), verify a chain from genesis without
//! trusting the node that produced it ([`verify`]), read every stored byte of a data
//! directory ([`check`]), and build inclusion proofs of transactions and events from a node's
//! store ([`proof`]; their offline verification is `yui_client::proof`'s, so an auditor's
//! check needs no node code).
//!
//! The auditor tools read; they must never change a data directory they are pointed at.

pub mod check;
pub mod export;
pub mod proof;
pub mod verify;
