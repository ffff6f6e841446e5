//! Admission: what a transaction must pass before this node holds it for a block. The
//! mempool (bounded by count and bytes, ordered by arrival, deduplicated by body) and the
//! personal-data guard, on top of the chain's stateless rules (`chain::tx`) and the
//! contracts' role checks.
//!
//! Admission decides only whether to hold a transaction; it must never execute one or write
//! the chain store, and a rejection changes nothing.

pub mod guard;
pub mod mempool;
