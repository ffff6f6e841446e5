//! Durable storage behind a narrow `Store` trait: get, ordered prefix scan, atomic batch,
//! flush. The node keeps blocks, certificates, state, receipts, events and indexes in one
//! store; everything one committed block changes goes in ONE atomic batch, flushed before the
//! commit is reported. `FjallStore` (fjall, an LSM tree) is the engine of new data
//! directories; `SledStore` (sled 0.34) still opens directories created with it; `MemStore`
//! serves tests. `open_dir` picks the engine a directory holds; swapping engines touches
//! nothing outside this module (docs/adr/0002, docs/adr/0009).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, RwLock};

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

/// The storage engines a data directory can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// fjall: the engine of new directories.
    Fjall,
    /// sled 0.34: directories created before fjall became the default.
    Sled,
}

impl Engine {
    /// The engine `dir` holds: sled if it has sled's `conf` and `db` files, else fjall (also
    /// for a directory that does not exist yet).
    pub fn of_dir(dir: &Path) -> Engine {
        if dir.join("conf").is_file() && dir.join("db").is_file() {
            Engine::Sled
        } else {
            Engine::Fjall
        }
    }

    /// The engine's name, for logs and reports.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Fjall => "fjall",
            Engine::Sled => "sled",
        }
    }

    /// Open (or create) a store of this engine in `dir`.
    pub fn open(self, dir: &Path) -> Result<Arc<dyn Store>, StoreError> {
        Ok(match self {
            Engine::Fjall => Arc::new(FjallStore::open(dir)?),
            Engine::Sled => Arc::new(SledStore::open(dir)?),
        })
    }

    /// `open`, retrying for up to `wait` while a handle dropped earlier in this process
    /// releases the directory (an engine's background threads may hold its lock for a moment
    /// after the drop).
    pub fn open_waiting(
        self,
        dir: &Path,
        wait: std::time::Duration,
    ) -> Result<Arc<dyn Store>, StoreError> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            match self.open(dir) {
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                opened => return opened,
            }
        }
    }
}

/// Open the store in `dir` with the engine it already holds (fjall for a new directory).
pub fn open_dir(dir: &Path) -> Result<(Engine, Arc<dyn Store>), StoreError> {
    let engine = Engine::of_dir(dir);
    Ok((engine, engine.open(dir)?))
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

/// fjall-backed store: one keyspace; a batch is one journal append plus memtable inserts, and
/// `flush` syncs the journal. Values over 1 KiB (blocks) live in blob files, so compaction
/// does not rewrite them.
pub struct FjallStore {
    db: fjall::Database,
    ks: fjall::Keyspace,
}

fn fjall_err(e: fjall::Error) -> StoreError {
    StoreError(e.to_string())
}

/// Block cache of a fjall store.
const FJALL_CACHE_BYTES: u64 = 32 * 1024 * 1024;
/// Memtable size at which fjall writes a sorted table.
const FJALL_MEMTABLE_BYTES: u64 = 16 * 1024 * 1024;

impl FjallStore {
    /// Open (or create) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = fjall::Database::builder(dir)
            .cache_size(FJALL_CACHE_BYTES)
            .open()
            .map_err(fjall_err)?;
        let ks = db
            .keyspace("chain", || {
                fjall::KeyspaceCreateOptions::default()
                    .max_memtable_size(FJALL_MEMTABLE_BYTES)
                    .with_kv_separation(Some(fjall::KvSeparationOptions::default()))
            })
            .map_err(fjall_err)?;
        Ok(FjallStore { db, ks })
    }

    fn collect(
        iter: impl Iterator<Item = fjall::Guard>,
        limit: usize,
    ) -> Result<Entries, StoreError> {
        let mut out = Vec::new();
        for g in iter.take(limit) {
            let (k, v) = g.into_inner().map_err(fjall_err)?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }
}

impl Store for FjallStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.ks.get(key).map_err(fjall_err)?.map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StoreError> {
        let end = prefix_end(prefix);
        let upper = match &end {
            Some(e) => Bound::Excluded(e.as_slice()),
            None => Bound::Unbounded,
        };
        Self::collect(
            self.ks
                .range::<&[u8], _>((start_bound(prefix, after), upper)),
            limit,
        )
    }

    fn scan_rev(&self, prefix: &[u8], limit: usize) -> Result<Entries, StoreError> {
        Self::collect(self.ks.prefix(prefix).rev(), limit)
    }

    fn write(&self, batch: Batch) -> Result<(), StoreError> {
        let mut b = self.db.batch();
        for (k, v) in batch.ops {
            match v {
                Some(v) => b.insert(&self.ks, k, v),
                None => b.remove(&self.ks, k),
            }
        }
        b.commit().map_err(fjall_err)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db
            .persist(fjall::PersistMode::SyncAll)
            .map_err(fjall_err)
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
    fn disk_stores_keep_their_semantics_across_a_reopen() {
        for engine in [Engine::Fjall, Engine::Sled] {
            let dir = tempfile::tempdir().unwrap();
            {
                let s = engine.open(dir.path()).unwrap();
                exercise(&*s);
            }
            assert_eq!(Engine::of_dir(dir.path()), engine, "detected engine");
            let s = engine
                .open_waiting(dir.path(), std::time::Duration::from_secs(5))
                .unwrap();
            assert_eq!(s.get(b"b").unwrap(), Some(b"x".to_vec()), "{engine:?}");
            assert_eq!(s.scan(b"a", None, 100).unwrap().len(), 9, "{engine:?}");
        }
    }

    #[test]
    fn scans_stop_at_the_end_of_their_prefix() {
        // Keys just past the prefix (the next byte value, and a prefix of 0xff bytes) must not
        // leak into a scan, forward or backward.
        let dir = tempfile::tempdir().unwrap();
        let disk = FjallStore::open(dir.path()).unwrap();
        let mem = MemStore::default();
        for s in [&disk as &dyn Store, &mem] {
            let mut b = Batch::default();
            for k in [
                &b"p\x00"[..],
                b"p\xff",
                b"p\xff\xff",
                b"q",
                b"\xff",
                b"\xff\x01",
            ] {
                b.put(k.to_vec(), k.to_vec());
            }
            s.write(b).unwrap();
            let keys = |e: Entries| e.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
            assert_eq!(
                keys(s.scan(b"p", None, 10).unwrap()),
                vec![b"p\x00".to_vec(), b"p\xff".to_vec(), b"p\xff\xff".to_vec()]
            );
            assert_eq!(
                keys(s.scan(b"p\xff", Some(b"p\xff"), 10).unwrap()),
                vec![b"p\xff\xff".to_vec()]
            );
            assert_eq!(
                keys(s.scan(b"\xff", None, 10).unwrap()),
                vec![b"\xff".to_vec(), b"\xff\x01".to_vec()]
            );
            assert_eq!(
                keys(s.scan_rev(b"p", 2).unwrap()),
                vec![b"p\xff\xff".to_vec(), b"p\xff".to_vec()]
            );
        }
    }

    #[test]
    fn prefix_end_is_the_next_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
