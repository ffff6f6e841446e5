//! Durable storage behind a narrow [`Store`] trait: get, ordered prefix scan, atomic batch,
//! flush. The chain keeps blocks, certificates, state, receipts, events and indexes in one
//! store, and everything one committed block changes goes in ONE atomic batch, flushed before
//! the commit is reported; the personal-data vault keeps its records in a store of its own.
//! [`FjallStore`] (fjall, an LSM tree) is the engine on disk, [`MemStore`] serves tests, and the
//! consensus write-ahead log ([`wal`]) and the last-signed record ([`last_signed`]) are files of
//! their own (docs/adr/0009, docs/adr/0010, docs/adr/0011).
//!
//! This module owns the bytes on disk and nothing of their meaning: it never imports the
//! chain, and whatever key prefixes an engine treats specially (keys written in ascending
//! order, values worth caching) it is given by its caller as a [`Layout`].

mod fjall;
pub mod last_signed;
mod mem;
pub mod wal;

pub use self::fjall::FjallStore;
pub use self::mem::MemStore;

use std::collections::BTreeMap;
use std::ops::Bound;

/// A storage failure: local to this node, never a client's fault. The engine's own error is
/// kept as the source.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The engine failed: an IO error (disk full, read-only, a damaged file), a lock held by
    /// another process.
    #[error("the storage engine failed: {0}")]
    Engine(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored value does not decode: the data on disk is damaged.
    #[error("the stored {what} at key {key} does not decode: {reason}")]
    Corrupt {
        /// What the value should have been.
        what: &'static str,
        /// Its key, printable (ASCII kept, other bytes as `\\xNN`).
        key: String,
        /// Why it does not decode.
        reason: String,
    },
    /// Something the store must hold is not there.
    #[error("the store is missing {0}")]
    Missing(String),
    /// Another process holds the store (a node already running on this data directory).
    #[error("another process is using the store in {0} (is a node already running on this data directory?)")]
    Locked(std::path::PathBuf),
    /// The store's directory cannot be written.
    #[error("the store in {dir} cannot be written ({source}): a node writes its data directory; check the mount (read-only?) and the permissions")]
    ReadOnly {
        /// The directory.
        dir: std::path::PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A thread panicked while it held one of the store's locks.
    #[error("a lock of the store is poisoned (a thread panicked while holding it)")]
    Poisoned,
}

impl StoreError {
    /// A [`StoreError::Corrupt`] for the value at `key`.
    pub fn corrupt(what: &'static str, key: &[u8], reason: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            what,
            key: yui_contracts::state::printable_key(key),
            reason: reason.to_string(),
        }
    }
}

/// Key-value entries in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// One atomic set of writes.
#[derive(Default, Debug, Clone)]
pub struct Batch {
    /// key -> Some(value) to set, None to delete.
    pub ops: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl Batch {
    /// Set a key.
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.insert(key.into(), Some(value.into()));
    }
    /// Delete a key.
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) {
        self.ops.insert(key.into(), None);
    }
}

/// The storage engine interface.
pub trait Store: Send + Sync + 'static {
    /// The value at `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Up to `limit` entries with `prefix`, keys strictly after `after` if given, ascending.
    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StoreError>;
    /// Up to `limit` entries with `prefix`, descending from the end.
    fn scan_rev(&self, prefix: &[u8], limit: usize) -> Result<Entries, StoreError>;
    /// Apply all writes of `batch` atomically: after a crash either all or none are visible.
    fn write(&self, batch: Batch) -> Result<(), StoreError>;
    /// Make every applied batch durable.
    fn flush(&self) -> Result<(), StoreError>;
    /// The memory the engine holds in its own bounded buffers, for the metrics (an engine
    /// without such buffers reports none).
    fn memory(&self) -> StoreMemory {
        StoreMemory::default()
    }
}

/// Memory a storage engine holds in buffers of its own, each bounded by its configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreMemory {
    /// Bytes in the block cache (data blocks, filter and index partitions read from disk).
    pub cache_bytes: u64,
    /// Bytes of written entries not yet in sorted tables on disk (memtables, sealed ones
    /// waiting for their flush included).
    pub write_buffer_bytes: u64,
}

/// The key prefixes an engine may treat specially, given by the store's user.
#[derive(Debug, Clone, Copy, Default)]
pub struct Layout {
    /// Prefixes whose keys are written in ascending order (block heights). [`FjallStore`]
    /// keeps them in a keyspace of their own, whose every new table lies after the ones before
    /// it, so compaction moves those tables down a level instead of rewriting them.
    pub append: &'static [&'static [u8]],
    /// The prefix of keys whose recently read values are worth caching in memory (contract
    /// state, read by every block). Empty: nothing is cached.
    pub cached: &'static [u8],
}

fn start_bound<'a>(prefix: &'a [u8], after: Option<&'a [u8]>) -> Bound<&'a [u8]> {
    match after {
        Some(a) if a >= prefix => Bound::Excluded(a),
        _ => Bound::Included(prefix),
    }
}

/// The exclusive upper bound of the keys starting with `prefix` (None: no bound).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests;
