//! State access for contracts: the `State` trait the node implements over its store and tests
//! implement in memory, an `Overlay` that buffers one transaction's (or block's) writes so a
//! failed call changes nothing, and typed borsh helpers.

use crate::error::{ContractError, Failed};
use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::BTreeMap;
use std::ops::Bound;

/// Read access to state. A read error is the node's (`Failed`), never the caller's.
pub trait StateRead {
    /// The value at `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Failed>;
    /// Up to `limit` entries whose key starts with `prefix` and is strictly greater than
    /// `after` (if given), in ascending key order.
    fn scan(&self, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Entries, Failed>;
}

/// Read and write access to state.
pub trait State: StateRead {
    /// Set `key` to `value`.
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>);
    /// Remove `key`.
    fn delete(&mut self, key: Vec<u8>);
}

/// Key-value entries returned by a scan, in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// A write set: key -> new value, or `None` for a deletion. Ordered, so it hashes and
/// applies deterministically.
pub type WriteSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// In-memory state for tests and tools.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemState {
    /// All entries.
    pub map: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemState {
    /// Apply a write set.
    pub fn apply(&mut self, writes: &WriteSet) {
        for (k, v) in writes {
            match v {
                Some(v) => self.map.insert(k.clone(), v.clone()),
                None => self.map.remove(k),
            };
        }
    }
}

fn range_after<'a>(prefix: &'a [u8], after: Option<&'a [u8]>) -> (Bound<&'a [u8]>, bool) {
    match after {
        Some(a) if a >= prefix => (Bound::Excluded(a), true),
        _ => (Bound::Included(prefix), false),
    }
}

impl StateRead for MemState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Failed> {
        Ok(self.map.get(key).cloned())
    }

    fn scan(&self, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Entries, Failed> {
        let (start, _) = range_after(prefix, after);
        Ok(self
            .map
            .range::<[u8], _>((start, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

impl State for MemState {
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.map.insert(key, value);
    }
    fn delete(&mut self, key: Vec<u8>) {
        self.map.remove(&key);
    }
}

/// Buffered writes over a read-only base. Reads see the buffer first. Nothing reaches the
/// base: the owner takes `writes` and applies them (or drops them to roll back).
pub struct Overlay<'a> {
    base: &'a dyn StateRead,
    /// The buffered writes.
    pub writes: WriteSet,
}

impl<'a> Overlay<'a> {
    /// An empty overlay over `base`.
    pub fn new(base: &'a dyn StateRead) -> Self {
        Overlay {
            base,
            writes: WriteSet::new(),
        }
    }
}

impl StateRead for Overlay<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Failed> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }

    fn scan(&self, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Entries, Failed> {
        // Merge the base's entries with the buffer's. Deletions in the buffer may hide base
        // entries, so keep reading the base until `limit` live entries are found.
        let mut out = Vec::new();
        let mut cursor: Option<Vec<u8>> = after.map(|a| a.to_vec());
        let (start, _) = range_after(prefix, after);
        let mut buffered = self
            .writes
            .range::<[u8], _>((start, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .peekable();
        loop {
            let batch = self.base.scan(prefix, cursor.as_deref(), limit.max(16))?;
            let exhausted = batch.len() < limit.max(16);
            let batch_end = batch.last().map(|(k, _)| k.clone());
            let mut base_iter = batch.into_iter().peekable();
            loop {
                if out.len() >= limit {
                    return Ok(out);
                }
                let take_buffer = match (buffered.peek(), base_iter.peek()) {
                    (Some((bk, _)), Some((k, _))) => bk.as_slice() <= k.as_slice(),
                    (Some((bk, _)), None) => {
                        exhausted || batch_end.as_deref().is_some_and(|e| bk.as_slice() <= e)
                    }
                    (None, Some(_)) => false,
                    (None, None) => break,
                };
                if take_buffer {
                    let Some((bk, bv)) = buffered.next() else {
                        break;
                    };
                    if base_iter.peek().is_some_and(|(k, _)| k == bk) {
                        base_iter.next();
                    }
                    if let Some(v) = bv {
                        out.push((bk.clone(), v.clone()));
                    }
                } else {
                    let Some((k, v)) = base_iter.next() else {
                        break;
                    };
                    out.push((k, v));
                }
            }
            if exhausted {
                for (bk, bv) in buffered {
                    if out.len() >= limit {
                        break;
                    }
                    if let Some(v) = bv {
                        out.push((bk.clone(), v.clone()));
                    }
                }
                return Ok(out);
            }
            cursor = batch_end;
        }
    }
}

impl State for Overlay<'_> {
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }
    fn delete(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }
}

/// Read and decode a borsh value.
pub fn get_borsh<T: BorshDeserialize>(
    state: &dyn StateRead,
    key: &[u8],
) -> Result<Option<T>, ContractError> {
    match state.get(key)? {
        None => Ok(None),
        Some(bytes) => decode_borsh(key, &bytes).map(Some),
    }
}

/// The borsh value `bytes` stored at `key`; a value that does not decode is damage, this
/// node's failure (`Failed`), never the caller's.
pub fn decode_borsh<T: BorshDeserialize>(key: &[u8], bytes: &[u8]) -> Result<T, ContractError> {
    T::try_from_slice(bytes).map_err(|e| {
        ContractError::Failed(Failed(format!(
            "stored value at key {} does not decode: {e}",
            printable_key(key)
        )))
    })
}

/// Encode and write a borsh value.
pub fn put_borsh<T: BorshSerialize>(state: &mut dyn State, key: Vec<u8>, value: &T) {
    // borsh's only write error is its writer's, and a Vec grows instead of failing; a state
    // value silently written empty would corrupt state, so a failure here is a bug and stops.
    let bytes = borsh::to_vec(value).expect("borsh encoding into a Vec cannot fail");
    state.put(key, bytes);
}

/// Decode every value of a scan.
pub fn scan_borsh<T: BorshDeserialize>(
    state: &dyn StateRead,
    prefix: &[u8],
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<(Vec<u8>, T)>, ContractError> {
    state
        .scan(prefix, after, limit)?
        .into_iter()
        .map(|(k, v)| decode_borsh(&k, &v).map(|t| (k, t)))
        .collect()
}

/// A key shown in a message: printable ASCII kept, other bytes as hex.
pub fn printable_key(key: &[u8]) -> String {
    key.iter()
        .map(|&b| {
            if b.is_ascii_graphic() {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// An overlay's scan equals a scan of the state with the writes applied.
        #[test]
        fn overlay_scan_matches_applied_state(
            base in proptest::collection::btree_map(proptest::collection::vec(0u8..4, 1..4), any::<u8>(), 0..30),
            writes in proptest::collection::btree_map(proptest::collection::vec(0u8..4, 1..4), proptest::option::of(any::<u8>()), 0..30),
            prefix in proptest::collection::vec(0u8..4, 0..2),
            after in proptest::option::of(proptest::collection::vec(0u8..4, 0..3)),
            limit in 1usize..40,
        ) {
            let base = MemState { map: base.into_iter().map(|(k, v)| (k, vec![v])).collect() };
            let writes: WriteSet = writes.into_iter().map(|(k, v)| (k, v.map(|v| vec![v]))).collect();
            let mut applied = base.clone();
            applied.apply(&writes);
            let mut ov = Overlay::new(&base);
            ov.writes = writes;
            let got = ov.scan(&prefix, after.as_deref(), limit).unwrap();
            let want = applied.scan(&prefix, after.as_deref(), limit).unwrap();
            prop_assert_eq!(got, want);
        }
    }
}
