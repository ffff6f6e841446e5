//! The fjall engine: one database of two keyspaces, one for the keys its [`Layout`] says are
//! written in ascending order and one for all others, with an optional cache of recently read
//! values. It must never interpret a key beyond the prefixes its layout names.

use super::{prefix_end, start_bound, Batch, Entries, Layout, Store, StoreError, StoreMemory};
use std::ops::Bound;
use std::path::Path;
use std::sync::RwLock;

/// fjall-backed store: two keyspaces of one database (see [`Layout::append`]); a batch is
/// one journal append plus memtable inserts, atomic across both, and `flush` syncs the
/// journal. Keys written in random order (hash indexes, state) are compacted apart from the
/// append keyspace, at a cost that follows their own size. Values over 1 KiB (blocks) live in
/// blob files, so compaction does not rewrite them.
pub struct FjallStore {
    db: fjall::Database,
    layout: Layout,
    /// Keys under `layout.append`.
    append: fjall::Keyspace,
    /// Every other key.
    random: fjall::Keyspace,
    /// Recently read values under `layout.cached`, present or absent. Every batch updates the
    /// entries of the keys it writes.
    state_cache: quick_cache::sync::Cache<Vec<u8>, Option<Vec<u8>>>,
    /// Held shared while a cache miss is read and cached, exclusively while a batch is
    /// applied, so a value read before a batch is never cached after it.
    writing: RwLock<()>,
}

/// State values `FjallStore` keeps in memory.
const STATE_CACHE_ENTRIES: usize = 16_384;

/// Whether an IO error says the file system refuses writes (a read-only mount, or no
/// permission).
pub(crate) fn is_read_only(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}

fn fjall_err(e: fjall::Error) -> StoreError {
    StoreError::Engine(Box::new(e))
}

/// Block cache of a fjall store: data blocks and the partitions of filters and indexes.
const FJALL_CACHE_BYTES: u64 = 32 * 1024 * 1024;
/// Memtable size at which fjall writes a sorted table. A memtable of small entries costs about
/// one and a half times its nominal size on the heap, per keyspace.
const FJALL_MEMTABLE_BYTES: u64 = 8 * 1024 * 1024;

/// Which keyspaces the keys starting with `prefix` can be in.
#[derive(Debug, PartialEq, Eq)]
enum Spaces {
    Append,
    Random,
    Both,
}

fn spaces_of(layout: &Layout, prefix: &[u8]) -> Spaces {
    if layout.append.iter().any(|p| prefix.starts_with(p)) {
        Spaces::Append
    } else if layout.append.iter().any(|p| p.starts_with(prefix)) {
        Spaces::Both
    } else {
        Spaces::Random
    }
}

impl FjallStore {
    /// Open (or create) the store in `dir`, with the key prefixes `layout` names.
    pub fn open(dir: &Path, layout: Layout) -> Result<Self, StoreError> {
        let db = fjall::Database::builder(dir)
            .cache_size(FJALL_CACHE_BYTES)
            .open()
            .map_err(|e| match e {
                fjall::Error::Locked => StoreError::Locked(dir.to_path_buf()),
                fjall::Error::Io(io) if is_read_only(&io) => StoreError::ReadOnly {
                    dir: dir.to_path_buf(),
                    source: io,
                },
                e => fjall_err(e),
            })?;
        let open = |name: &str| {
            db.keyspace(name, || {
                // Filters and indexes partitioned on every level (fjall partitions only from
                // L3): a point read then loads one small partition per table through the
                // cache, never a table's whole filter or index. Unpartitioned, a state of
                // millions of keys made each read of an absent key load megabyte filter blocks
                // the cache could not hold, and a node's CPU went to reading and checksumming
                // them (docs/adr/0009, "Memory and large states").
                fjall::KeyspaceCreateOptions::default()
                    .max_memtable_size(FJALL_MEMTABLE_BYTES)
                    .filter_block_partitioning_policy(fjall::config::PartitioningPolicy::all(true))
                    .index_block_partitioning_policy(fjall::config::PartitioningPolicy::all(true))
                    .with_kv_separation(Some(fjall::KvSeparationOptions::default()))
            })
            .map_err(fjall_err)
        };
        let append = open("append")?;
        let random = open("random")?;
        Ok(FjallStore {
            db,
            layout,
            append,
            random,
            state_cache: quick_cache::sync::Cache::new(STATE_CACHE_ENTRIES),
            writing: RwLock::new(()),
        })
    }

    /// `get`, calling `after_read` between reading a missed state value and caching it (tests
    /// write there).
    pub(super) fn get_with(
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
        if !self.is_cached(key) {
            return read();
        }
        if let Some(v) = self.state_cache.get(key) {
            return Ok(v);
        }
        let _no_write = self.writing.read().map_err(|_| StoreError::Poisoned)?;
        let v = read()?;
        after_read();
        self.state_cache.insert(key.to_vec(), v.clone());
        Ok(v)
    }

    fn is_cached(&self, key: &[u8]) -> bool {
        !self.layout.cached.is_empty() && key.starts_with(self.layout.cached)
    }

    fn keyspace_of(&self, key: &[u8]) -> &fjall::Keyspace {
        match spaces_of(&self.layout, key) {
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
        match spaces_of(&self.layout, prefix) {
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
        match spaces_of(&self.layout, prefix) {
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
        let _writing = self.writing.write().map_err(|_| StoreError::Poisoned)?;
        let mut b = self.db.batch();
        let mut cached = Vec::new();
        for (k, v) in batch.ops {
            // fjall copies what it is given, so the owned key and value can go to the cache.
            let ks = self.keyspace_of(&k);
            match &v {
                Some(v) => b.insert(ks, k.as_slice(), v.as_slice()),
                None => b.remove(ks, k.as_slice()),
            }
            if self.is_cached(&k) {
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

    fn memory(&self) -> StoreMemory {
        StoreMemory {
            cache_bytes: self.db.cache_size(),
            write_buffer_bytes: self.db.write_buffer_size(),
        }
    }
}
