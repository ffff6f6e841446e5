//! Durable storage behind a narrow `Store` trait: get, ordered prefix scan, atomic batch,
//! flush. The node keeps blocks, certificates, state, receipts, events and indexes in one
//! store; everything one committed block changes goes in ONE atomic batch, flushed before the
//! commit is reported. `SledStore` is the production engine (sled 0.34), `MemStore` serves
//! tests; swapping engines touches nothing outside this module (docs/adr/0002).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::RwLock;

/// A storage failure: local to this node, never a client's fault.
#[derive(Debug, thiserror::Error)]
#[error("storage failure: {0}")]
pub struct StoreError(pub String);

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
}

fn start_bound<'a>(prefix: &'a [u8], after: Option<&'a [u8]>) -> Bound<&'a [u8]> {
    match after {
        Some(a) if a >= prefix => Bound::Excluded(a),
        _ => Bound::Included(prefix),
    }
}

/// sled-backed store.
pub struct SledStore {
    db: sled::Db,
}

fn sled_err(e: sled::Error) -> StoreError {
    StoreError(e.to_string())
}

impl SledStore {
    /// Open (or create) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(64 * 1024 * 1024)
            .open()
            .map_err(sled_err)?;
        Ok(SledStore { db })
    }

    /// `open`, retrying for up to `wait` while a handle dropped earlier in this process
    /// releases the directory (sled's background flusher may hold its lock for a moment after
    /// the drop).
    pub fn open_waiting(dir: &Path, wait: std::time::Duration) -> Result<Self, StoreError> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            match Self::open(dir) {
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                opened => return opened,
            }
        }
    }
}

impl Store for SledStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(key).map_err(sled_err)?.map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StoreError> {
        let mut out = Vec::new();
        let range = self
            .db
            .range::<&[u8], _>((start_bound(prefix, after), Bound::Unbounded));
        for item in range {
            let (k, v) = item.map_err(sled_err)?;
            if !k.starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn scan_rev(&self, prefix: &[u8], limit: usize) -> Result<Entries, StoreError> {
        let mut out = Vec::new();
        for item in self.db.scan_prefix(prefix).rev() {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item.map_err(sled_err)?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn write(&self, batch: Batch) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        for (k, v) in batch.ops {
            match v {
                Some(v) => b.insert(k, v),
                None => b.remove(k),
            }
        }
        self.db.apply_batch(b).map_err(sled_err)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(sled_err)
    }
}

/// In-memory store for tests.
#[derive(Default)]
pub struct MemStore {
    map: RwLock<MemMap>,
}

type MemMap = BTreeMap<Vec<u8>, Vec<u8>>;

impl MemStore {
    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, MemMap>, StoreError> {
        self.map
            .read()
            .map_err(|_| StoreError("memory store lock poisoned".into()))
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
        let mut map = self
            .map
            .write()
            .map_err(|_| StoreError("memory store lock poisoned".into()))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(s: &dyn Store) {
        let mut b = Batch::default();
        for i in 0u8..10 {
            b.put(vec![b'a', i], vec![i]);
        }
        b.put(b"b".to_vec(), b"x".to_vec());
        s.write(b).unwrap();
        let all = s.scan(b"a", None, 100).unwrap();
        assert_eq!(all.len(), 10);
        let after = s.scan(b"a", Some(&[b'a', 4]), 3).unwrap();
        assert_eq!(
            after.iter().map(|(_, v)| v[0]).collect::<Vec<_>>(),
            vec![5, 6, 7]
        );
        let rev = s.scan_rev(b"a", 2).unwrap();
        assert_eq!(
            rev.iter().map(|(_, v)| v[0]).collect::<Vec<_>>(),
            vec![9, 8]
        );
        let mut d = Batch::default();
        d.delete(vec![b'a', 0]);
        s.write(d).unwrap();
        assert_eq!(s.get(&[b'a', 0]).unwrap(), None);
        assert_eq!(s.get(b"b").unwrap(), Some(b"x".to_vec()));
        s.flush().unwrap();
    }

    #[test]
    fn mem_store_semantics() {
        exercise(&MemStore::default());
    }

    #[test]
    fn sled_store_semantics_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledStore::open(dir.path()).unwrap();
            exercise(&s);
        }
        let s = SledStore::open_waiting(dir.path(), std::time::Duration::from_secs(5)).unwrap();
        assert_eq!(s.get(b"b").unwrap(), Some(b"x".to_vec()));
        assert_eq!(s.scan(b"a", None, 100).unwrap().len(), 9);
    }
}
