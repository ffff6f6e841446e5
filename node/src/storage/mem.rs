//! An in-memory [`Store`] for tests and for replaying an export: one ordered map behind a
//! lock, with the same answers as the engine on disk. It must never be used for a node's data.

use super::{start_bound, Batch, Entries, Store, StoreError};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::RwLock;

/// In-memory store for tests.
#[derive(Default)]
pub struct MemStore {
    map: RwLock<MemMap>,
}

type MemMap = BTreeMap<Vec<u8>, Vec<u8>>;

impl MemStore {
    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, MemMap>, StoreError> {
        self.map.read().map_err(|_| StoreError::Poisoned)
    }
}

impl Store for MemStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read()?.get(key).cloned())
    }

    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StoreError> {
        Ok(self
            .read()?
            .range::<[u8], _>((start_bound(prefix, after), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn scan_rev(&self, prefix: &[u8], limit: usize) -> Result<Entries, StoreError> {
        Ok(self
            .read()?
            .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn write(&self, batch: Batch) -> Result<(), StoreError> {
        let mut map = self.map.write().map_err(|_| StoreError::Poisoned)?;
        for (k, v) in batch.ops {
            match v {
                Some(v) => map.insert(k, v),
                None => map.remove(&k),
            };
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
