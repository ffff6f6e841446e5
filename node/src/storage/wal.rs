//! The consensus write-ahead log: an append-only file, separate from the chain store, holding every
//! proposal and vote this validator signed for the height in progress. Each record is
//! `len: u32 LE | checksum: first 8 bytes of blake3(payload) | payload (borsh WalRecord)`,
//! written and fsync'ed before the message leaves the node. On restart the records are read
//! back (a torn last record, from a crash mid-write, is detected by its length or checksum
//! and dropped) and given to the engine, so it never signs two different messages for one
//! height, round and step.

use borsh::{BorshDeserialize, BorshSerialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use yui_consensus::{Height, Message};

/// Largest record accepted when reading back.
const MAX_RECORD_BYTES: u32 = 1 << 20;

/// One WAL record.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct WalRecord {
    /// Height the message belongs to.
    pub height: Height,
    /// The signed message.
    pub message: Message,
}

/// The open WAL.
pub struct Wal {
    path: PathBuf,
    file: File,
}

impl Wal {
    /// Open (or create) the WAL at `path` and return the intact records it holds.
    pub fn open(path: &Path) -> std::io::Result<(Wal, Vec<WalRecord>)> {
        let records = match File::open(path) {
            Ok(mut f) => {
                let mut buf = Vec::new();
                f.read_to_end(&mut buf)?;
                parse(&buf)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        // Rewrite only the intact records so a torn tail never precedes new appends.
        let mut wal = Wal {
            path: path.to_path_buf(),
            file: File::create(path.with_extension("tmp"))?,
        };
        wal.rewrite(&records)?;
        Ok((wal, records))
    }

    fn rewrite(&mut self, records: &[WalRecord]) -> std::io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        let mut f = File::create(&tmp)?;
        for r in records {
            f.write_all(&encode(r))?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            // Make the rename durable.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        Ok(())
    }

    /// Append a record and fsync before returning.
    pub fn append(&mut self, record: &WalRecord) -> std::io::Result<()> {
        self.file.write_all(&encode(record))?;
        self.file.sync_data()
    }

    /// Drop every record below `height` (called once a height is committed).
    pub fn truncate_below(&mut self, height: Height, kept: &[WalRecord]) -> std::io::Result<()> {
        let keep: Vec<WalRecord> = kept
            .iter()
            .filter(|r| r.height >= height)
            .cloned()
            .collect();
        self.rewrite(&keep)
    }
}

fn encode(r: &WalRecord) -> Vec<u8> {
    let payload = borsh::to_vec(r).unwrap_or_default();
    let mut out = Vec::with_capacity(payload.len() + 12);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&blake3::hash(&payload).as_bytes()[..8]);
    out.extend_from_slice(&payload);
    out
}

/// Parse records, stopping at the first torn or corrupt one.
fn parse(mut buf: &[u8]) -> Vec<WalRecord> {
    let mut out = Vec::new();
    while buf.len() >= 12 {
        let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
        if len > MAX_RECORD_BYTES || buf.len() < 12 + len as usize {
            break;
        }
        let payload = &buf[12..12 + len as usize];
        if blake3::hash(payload).as_bytes()[..8] != buf[4..12] {
            break;
        }
        match WalRecord::try_from_slice(payload) {
            Ok(r) => out.push(r),
            Err(_) => break,
        }
        buf = &buf[12 + len as usize..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use yui_consensus::{Hash, VoteData, VoteType};

    fn rec(h: u64, r: u32) -> WalRecord {
        let k = SigningKey::from_bytes(&[3; 32]);
        WalRecord {
            height: h,
            message: Message::Vote(
                VoteData {
                    chain_id: "c".into(),
                    vote_type: VoteType::Prevote,
                    height: h,
                    round: r,
                    block_hash: Some(Hash([1; 32])),
                    validator: k.verifying_key().to_bytes(),
                }
                .sign(&k),
            ),
        }
    }

    #[test]
    fn records_survive_reopen_and_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("consensus.wal");
        {
            let (mut w, got) = Wal::open(&path).unwrap();
            assert!(got.is_empty());
            w.append(&rec(5, 0)).unwrap();
            w.append(&rec(5, 1)).unwrap();
        }
        // Simulate a crash mid-write: a partial record at the end.
        let mut bytes = std::fs::read(&path).unwrap();
        let partial = encode(&rec(5, 2));
        bytes.extend_from_slice(&partial[..partial.len() / 2]);
        std::fs::write(&path, &bytes).unwrap();
        let (mut w, got) = Wal::open(&path).unwrap();
        assert_eq!(got, vec![rec(5, 0), rec(5, 1)]);
        w.append(&rec(5, 3)).unwrap();
        drop(w);
        let (_, got) = Wal::open(&path).unwrap();
        assert_eq!(got, vec![rec(5, 0), rec(5, 1), rec(5, 3)]);
    }

    #[test]
    fn corrupt_byte_stops_reading_at_that_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("consensus.wal");
        {
            let (mut w, _) = Wal::open(&path).unwrap();
            w.append(&rec(1, 0)).unwrap();
            w.append(&rec(1, 1)).unwrap();
        }
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 5] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let (_, got) = Wal::open(&path).unwrap();
        assert_eq!(got, vec![rec(1, 0)]);
    }
}
