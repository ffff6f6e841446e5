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

/// Key prefixes whose keys are written in ascending order (block heights): blocks and
/// receipts. `FjallStore` keeps them in a keyspace of their own, whose every new table lies
/// after the ones before it, so fjall's compaction moves those tables down a level instead of
/// rewriting them; the keys written in random order (transaction and block hash indexes,
/// state) are compacted apart, at a cost that follows their own size.
const APPEND_PREFIXES: [&[u8]; 2] = [b"b/", b"r/"];

/// fjall-backed store: two keyspaces of one database (see `APPEND_PREFIXES`); a batch is one
/// journal append plus memtable inserts, atomic across both, and `flush` syncs the journal.
/// Values over 1 KiB (blocks) live in blob files, so compaction does not rewrite them.
pub struct FjallStore {
    db: fjall::Database,
    /// Keys under `APPEND_PREFIXES`.
    append: fjall::Keyspace,
    /// Every other key.
    random: fjall::Keyspace,
    /// Recently read state values (`s/` keys), present or absent. Every batch updates the
    /// entries of the keys it writes.
    state_cache: quick_cache::sync::Cache<Vec<u8>, Option<Vec<u8>>>,
    /// Held shared while a cache miss is read and cached, exclusively while a batch is
    /// applied, so a value read before a batch is never cached after it.
    writing: RwLock<()>,
}

/// State values `FjallStore` keeps in memory.
const STATE_CACHE_ENTRIES: usize = 16_384;

fn fjall_err(e: fjall::Error) -> StoreError {
    StoreError(e.to_string())
}

/// Block cache of a fjall store.
const FJALL_CACHE_BYTES: u64 = 32 * 1024 * 1024;
/// Memtable size at which fjall writes a sorted table.
const FJALL_MEMTABLE_BYTES: u64 = 16 * 1024 * 1024;

/// The prefix of state keys, whose values `FjallStore` caches.
const STATE_KEYS: &[u8] = crate::chain::STATE_PREFIX;

fn poisoned() -> StoreError {
    StoreError("a store lock is poisoned".into())
}

/// Which keyspaces the keys starting with `prefix` can be in.
#[derive(Debug, PartialEq, Eq)]
enum Spaces {
    Append,
    Random,
    Both,
}

fn spaces_of(prefix: &[u8]) -> Spaces {
    if APPEND_PREFIXES.iter().any(|p| prefix.starts_with(p)) {
        Spaces::Append
    } else if APPEND_PREFIXES.iter().any(|p| p.starts_with(prefix)) {
        Spaces::Both
    } else {
        Spaces::Random
    }
}

impl FjallStore {
    /// Open (or create) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = fjall::Database::builder(dir)
            .cache_size(FJALL_CACHE_BYTES)
            .open()
            .map_err(fjall_err)?;
        let open = |name: &str| {
            db.keyspace(name, || {
                fjall::KeyspaceCreateOptions::default()
                    .max_memtable_size(FJALL_MEMTABLE_BYTES)
                    .with_kv_separation(Some(fjall::KvSeparationOptions::default()))
            })
            .map_err(fjall_err)
        };
        let append = open("append")?;
        let random = open("random")?;
        Ok(FjallStore {
            db,
            append,
            random,
            state_cache: quick_cache::sync::Cache::new(STATE_CACHE_ENTRIES),
            writing: RwLock::new(()),
        })
    }

    /// `get`, calling `after_read` between reading a missed state value and caching it (tests
    /// write there).
    fn get_with(
        &self,
        key: &[u8],
        after_read: impl FnOnce(),
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let read = || -> Result<Option<Vec<u8>>, StoreError> {
            Ok(self
                .keyspace_of(key)
                .get(key)
                .map_err(fjall_err)?
                .map(|v| v.to_vec()))
        };
        if !key.starts_with(STATE_KEYS) {
            return read();
        }
        if let Some(v) = self.state_cache.get(key) {
            return Ok(v);
        }
        let _no_write = self.writing.read().map_err(|_| poisoned())?;
        let v = read()?;
        after_read();
        self.state_cache.insert(key.to_vec(), v.clone());
        Ok(v)
    }

    fn keyspace_of(&self, key: &[u8]) -> &fjall::Keyspace {
        match spaces_of(key) {
            Spaces::Append => &self.append,
            _ => &self.random,
        }
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

    /// `scan` within one keyspace.
    fn scan_in(
        ks: &fjall::Keyspace,
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
            ks.range::<&[u8], _>((start_bound(prefix, after), upper)),
            limit,
        )
    }
}

/// The first `limit` entries of two key-ordered lists, in order (`rev`: descending).
fn merge_entries(a: Entries, b: Entries, limit: usize, rev: bool) -> Entries {
    let mut all: Entries = a.into_iter().chain(b).collect();
    all.sort_by(|x, y| if rev { y.0.cmp(&x.0) } else { x.0.cmp(&y.0) });
    all.truncate(limit);
    all
}

impl Store for FjallStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_with(key, || ())
    }

    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StoreError> {
        match spaces_of(prefix) {
            Spaces::Append => Self::scan_in(&self.append, prefix, after, limit),
            Spaces::Random => Self::scan_in(&self.random, prefix, after, limit),
            Spaces::Both => Ok(merge_entries(
                Self::scan_in(&self.append, prefix, after, limit)?,
                Self::scan_in(&self.random, prefix, after, limit)?,
                limit,
                false,
            )),
        }
    }

    fn scan_rev(&self, prefix: &[u8], limit: usize) -> Result<Entries, StoreError> {
        let rev = |ks: &fjall::Keyspace| Self::collect(ks.prefix(prefix).rev(), limit);
        match spaces_of(prefix) {
            Spaces::Append => rev(&self.append),
            Spaces::Random => rev(&self.random),
            Spaces::Both => Ok(merge_entries(
                rev(&self.append)?,
                rev(&self.random)?,
                limit,
                true,
            )),
        }
    }

    fn write(&self, batch: Batch) -> Result<(), StoreError> {
        let _writing = self.writing.write().map_err(|_| poisoned())?;
        let mut b = self.db.batch();
        let mut cached = Vec::new();
        for (k, v) in batch.ops {
            // fjall copies what it is given, so the owned key and value can go to the cache.
            let ks = self.keyspace_of(&k);
            match &v {
                Some(v) => b.insert(ks, k.as_slice(), v.as_slice()),
                None => b.remove(ks, k.as_slice()),
            }
            if k.starts_with(STATE_KEYS) {
                cached.push((k, v));
            }
        }
        let committed = b.commit().map_err(fjall_err);
        // Also after a failed commit: whatever the database holds now is read again.
        for (k, v) in cached {
            match committed {
                Ok(()) => self.state_cache.insert(k, v),
                Err(_) => {
                    self.state_cache.remove(&k);
                }
            }
        }
        committed
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
    fn fjall_answers_like_one_ordered_map_across_its_keyspaces() {
        // Keys in the append keyspace (b/, r/), in the random one, and around the boundary;
        // every scan, also those whose prefix spans both keyspaces, must match MemStore.
        let dir = tempfile::tempdir().unwrap();
        let disk = FjallStore::open(dir.path()).unwrap();
        let mem = MemStore::default();
        let keys: Vec<&[u8]> = vec![
            b"a",
            b"b",
            b"b.",
            b"b/\x00\x01",
            b"b/\x00\x02",
            b"b0",
            b"h/x",
            b"m/tip",
            b"r",
            b"r/\x00\x01\x00",
            b"r/\x00\x01\x01",
            b"r/\x00\x02\x00",
            b"r0",
            b"s/k",
            b"t/x",
        ];
        for s in [&disk as &dyn Store, &mem] {
            let mut b = Batch::default();
            for k in &keys {
                b.put(k.to_vec(), [k, &b"!"[..]].concat());
            }
            b.delete(b"r/\x00\x01\x01".to_vec());
            s.write(b).unwrap();
        }
        assert_eq!(disk.get(b"r/\x00\x01\x01").unwrap(), None);
        assert_eq!(
            disk.get(b"b/\x00\x02").unwrap(),
            Some(b"b/\x00\x02!".to_vec())
        );
        for prefix in [
            &b""[..],
            b"b",
            b"b/",
            b"b/\x00",
            b"r",
            b"r/",
            b"r/\x00\x01",
            b"s",
            b"t/",
            b"z",
        ] {
            for limit in [1, 3, 100] {
                assert_eq!(
                    disk.scan(prefix, None, limit).unwrap(),
                    mem.scan(prefix, None, limit).unwrap(),
                    "scan {prefix:?} {limit}"
                );
                assert_eq!(
                    disk.scan_rev(prefix, limit).unwrap(),
                    mem.scan_rev(prefix, limit).unwrap(),
                    "scan_rev {prefix:?} {limit}"
                );
                for after in &keys {
                    assert_eq!(
                        disk.scan(prefix, Some(after), limit).unwrap(),
                        mem.scan(prefix, Some(after), limit).unwrap(),
                        "scan {prefix:?} after {after:?} {limit}"
                    );
                }
            }
        }
    }

    #[test]
    fn cached_state_values_follow_every_batch_even_under_concurrent_reads() {
        let dir = tempfile::tempdir().unwrap();
        let disk = FjallStore::open(dir.path()).unwrap();
        let put = |v: u32| {
            let mut b = Batch::default();
            b.put(b"s/k".to_vec(), v.to_be_bytes().to_vec());
            disk.write(b).unwrap();
        };
        let read = || {
            disk.get(b"s/k")
                .unwrap()
                .map(|v| u32::from_be_bytes(v.try_into().unwrap()))
        };
        assert_eq!(read(), None, "absent, and the absence is cached");
        put(0);
        assert_eq!(read(), Some(0));
        let mut b = Batch::default();
        b.delete(b"s/k".to_vec());
        disk.write(b).unwrap();
        assert_eq!(read(), None);
        // A batch that comes while a miss is being read waits until the value is cached, then
        // replaces it: it is never overtaken by the older value.
        let shared = &disk;
        std::thread::scope(|sc| {
            let (tx, rx) = std::sync::mpsc::channel();
            let v = disk
                .get_with(b"s/j", || {
                    sc.spawn(move || {
                        let mut b = Batch::default();
                        b.put(b"s/j".to_vec(), b"new".to_vec());
                        shared.write(b).unwrap();
                        let _ = tx.send(()); // the reader may be gone
                    });
                    // The writer cannot finish while the miss holds the store: give it time.
                    assert!(
                        rx.recv_timeout(std::time::Duration::from_millis(300))
                            .is_err(),
                        "a batch was applied between a miss's read and its caching"
                    );
                })
                .unwrap();
            assert_eq!(v, None);
        });
        assert_eq!(disk.get(b"s/j").unwrap(), Some(b"new".to_vec()));
        // Readers racing with a writer: each sees values only go up, and once the writer is
        // done every read sees its last value (a miss read before a batch and cached after it
        // would stay stale).
        const LAST: u32 = 2_000;
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|sc| {
            for _ in 0..3 {
                sc.spawn(|| {
                    let mut seen = 0;
                    while !done.load(std::sync::atomic::Ordering::Acquire) {
                        let v = read().unwrap_or(0);
                        assert!(v >= seen, "went back from {seen} to {v}");
                        seen = v;
                    }
                    assert_eq!(read(), Some(LAST), "a stale value stayed cached");
                });
            }
            for v in 1..=LAST {
                put(v);
            }
            done.store(true, std::sync::atomic::Ordering::Release);
        });
    }

    #[test]
    fn prefix_end_is_the_next_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
