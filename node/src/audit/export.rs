//! The export file: one file holding a chain's blocks with their commit certificates, read and
//! written one block at a time (`docs/export-format.md`): the 8 bytes `YUIEXP01`, then borsh
//! [`ExportHeader`], then one frame per block, `u32 LE length | borsh StoredBlock`, heights
//! consecutive from 1. It also reads a stopped node's data directory block by block.
//!
//! Exporting must never change a data directory, and never hold more than one block in
//! memory.

use crate::chain::{keys, ChainReader, StoredBlock};
use crate::storage::{FjallStore, Store};
use anyhow::{anyhow, bail, Context as _, Result};
use borsh::{BorshDeserialize, BorshSerialize};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;
use yui_consensus::Hash;

/// A stream of blocks read from a source.
pub type BlockIter = Box<dyn Iterator<Item = Result<StoredBlock>>>;

/// Magic bytes of an export file.
pub const MAGIC: &[u8; 8] = b"YUIEXP01";

/// The header of an export file.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ExportHeader {
    /// Chain id.
    pub chain_id: String,
    /// Genesis hash the chain starts from.
    pub genesis_hash: Hash,
    /// Number of blocks that follow (heights 1..=count).
    pub count: u64,
}

/// Largest frame an export file may hold: far above any block a node accepts (a block is at
/// most `max_block_bytes` of transactions plus its header and certificate), so a frame that
/// claims more is damage, not data.
pub const MAX_FRAME_BYTES: usize = 256 * 1024 * 1024;

/// Writes an export file one block at a time, so that no more than one block is ever held in
/// memory, however long the chain.
pub struct ExportWriter {
    out: BufWriter<std::fs::File>,
    path: std::path::PathBuf,
    promised: u64,
    written: u64,
}

impl ExportWriter {
    /// Create `path` and write the header; `header.count` blocks must follow.
    pub fn create(path: &Path, header: &ExportHeader) -> Result<ExportWriter> {
        let mut out = BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        );
        out.write_all(MAGIC)?;
        out.write_all(&borsh::to_vec(header)?)?;
        Ok(ExportWriter {
            out,
            path: path.to_path_buf(),
            promised: header.count,
            written: 0,
        })
    }

    /// Append the next block; it must be at the next height.
    pub fn push(&mut self, block: &StoredBlock) -> Result<()> {
        let next = self.written + 1;
        if block.header.height != next || next > self.promised {
            bail!(
                "block {} cannot follow block {} in an export of {} blocks",
                block.header.height,
                self.written,
                self.promised
            );
        }
        let bytes = borsh::to_vec(block)?;
        let len = u32::try_from(bytes.len())
            .ok()
            .filter(|l| *l as usize <= MAX_FRAME_BYTES)
            .ok_or_else(|| {
                anyhow!(
                    "block {next} is {} bytes, too large for a frame",
                    bytes.len()
                )
            })?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(&bytes)?;
        self.written = next;
        Ok(())
    }

    /// Flush and sync the file once every promised block is written; the blocks written.
    pub fn finish(mut self) -> Result<u64> {
        if self.written != self.promised {
            bail!(
                "{} holds {} of the {} blocks its header promises",
                self.path.display(),
                self.written,
                self.promised
            );
        }
        self.out.flush()?;
        self.out
            .get_ref()
            .sync_all()
            .with_context(|| format!("cannot sync {}", self.path.display()))?;
        Ok(self.written)
    }
}

/// Write an export file from a sequence of blocks.
pub fn write_export(
    out: &Path,
    header: &ExportHeader,
    blocks: impl Iterator<Item = Result<StoredBlock>>,
) -> Result<u64> {
    let mut w = ExportWriter::create(out, header)?;
    for b in blocks {
        w.push(&b?)?;
    }
    w.finish()
}

/// Blocks of a data directory (the node must be stopped: the store holds a lock).
pub fn open_data_dir(dir: &Path) -> Result<Arc<dyn Store>> {
    let chain = dir.join("chain");
    if !chain.is_dir() {
        bail!(
            "{} holds no chain store (no chain/ directory): give a node's data_dir",
            dir.display()
        );
    }
    let s = FjallStore::open(&chain, keys::LAYOUT).with_context(|| {
        format!(
            "cannot open {} (is the node still running? stop it, or export over gRPC)",
            dir.display()
        )
    })?;
    Ok(Arc::new(s))
}

/// Read an export file.
pub fn read_export(path: &Path) -> Result<(ExportHeader, BlockIter)> {
    let mut f = BufReader::new(
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
    );
    let mut magic = [0u8; 8];
    f.read_exact(&mut magic)?;
    if &magic != MAGIC {
        bail!("{} is not a Yui export file", path.display());
    }
    let header =
        ExportHeader::deserialize_reader(&mut f).context("the export header does not decode")?;
    let mut index = 0u64;
    let iter = std::iter::from_fn(move || {
        let mut len = [0u8; 4];
        match f.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
            Err(e) => return Some(Err(e.into())),
        }
        index += 1;
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_FRAME_BYTES {
            return Some(Err(anyhow!("frame {index} claims {len} bytes")));
        }
        let mut buf = vec![0u8; len];
        if let Err(e) = f.read_exact(&mut buf) {
            return Some(Err(anyhow!("frame {index} is truncated: {e}")));
        }
        Some(
            StoredBlock::try_from_slice(&buf)
                .map_err(|e| anyhow!("frame {index} does not decode as a block: {e}")),
        )
    });
    Ok((header, Box::new(iter)))
}

/// Blocks 1..=tip from a store.
pub fn store_blocks(
    store: Arc<dyn Store>,
) -> Result<(u64, impl Iterator<Item = Result<StoredBlock>>)> {
    let reader = ChainReader {
        store: store.clone(),
        chain_id: String::new(),
        genesis_hash: Hash::ZERO,
        fault_model: yui_consensus::FaultModel::Byzantine,
        max_expiry_blocks: 0,
        replay: Default::default(),
    };
    let tip = reader.tip()?.height;
    Ok((
        tip,
        (1..=tip).map(move |h| {
            reader
                .block(h)?
                .ok_or_else(|| anyhow!("block {h} is missing from the data directory"))
        }),
    ))
}

/// Export a stopped node's data directory to `out`; the blocks written.
pub fn export_data_dir(dir: &Path, out: &Path) -> Result<u64> {
    let store = open_data_dir(dir)?;
    let genesis_hash = store
        .get(keys::GENESIS)?
        .and_then(|g| Hash::from_slice(&g))
        .ok_or_else(|| anyhow!("{} holds no chain", dir.display()))?;
    let (tip, blocks) = store_blocks(store.clone())?;
    let chain_id = match store.get(&keys::block(1))? {
        Some(b) => {
            keys::decode::<StoredBlock>(&b, "block", &keys::block(1))?
                .header
                .chain_id
        }
        None => String::new(),
    };
    write_export(
        out,
        &ExportHeader {
            chain_id,
            genesis_hash,
            count: tip,
        },
        blocks,
    )
}
