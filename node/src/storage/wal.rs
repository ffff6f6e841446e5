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

/// How the WAL's bytes ended when it was read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalTail {
    /// There was no WAL file.
    Missing,
    /// Every byte belonged to an intact record.
    Clean,
    /// The last record is cut short (fewer bytes than its header says): a crash during its
    /// append, so its fsync never returned and its message never left. The bytes are dropped.
    Torn {
        /// Bytes dropped.
        bytes: usize,
    },
    /// A complete record does not check (checksum, length or decoding): the file is damaged,
    /// and what it held from there on is unknown. The file is kept beside it for analysis.
    Damaged {
        /// Index of the first bad record.
        record: usize,
        /// Its byte offset.
        offset: usize,
    },
}

/// What [`Wal::open`] read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalContents {
    /// The intact records before the first bad byte, in order.
    pub records: Vec<WalRecord>,
    /// How the file ended.
    pub tail: WalTail,
}

impl Wal {
    /// Open (or create) the WAL at `path`: the intact records and how the file ended. A
    /// damaged file is first copied to `<path>.damaged` (the operator's evidence); the WAL is
    /// then rewritten with the intact records only, so nothing bad precedes new appends.
    pub fn open(path: &Path) -> std::io::Result<(Wal, WalContents)> {
        let contents = match File::open(path) {
            Ok(mut f) => {
                let mut buf = Vec::new();
                f.read_to_end(&mut buf)?;
                let contents = parse(&buf);
                if matches!(contents.tail, WalTail::Damaged { .. }) {
                    std::fs::write(path.with_extension("wal.damaged"), &buf)?;
                }
                contents
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => WalContents {
                records: Vec::new(),
                tail: WalTail::Missing,
            },
            Err(e) => return Err(e),
        };
        let mut wal = Wal {
            path: path.to_path_buf(),
            file: File::create(path.with_extension("tmp"))?,
        };
        wal.rewrite(&contents.records)?;
        Ok((wal, contents))
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
    // Encoding into a Vec cannot fail; a record written empty would silently lose a vote, so
    // a failure here is a bug and stops the node.
    let payload = borsh::to_vec(r).expect("borsh encoding into a Vec cannot fail");
    let len = u32::try_from(payload.len()).expect("a signed message is far below 4 GiB");
    let mut out = Vec::with_capacity(payload.len() + HEADER_BYTES);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&blake3::hash(&payload).as_bytes()[..8]);
    out.extend_from_slice(&payload);
    out
}

/// Bytes before a record's payload: its length and checksum.
const HEADER_BYTES: usize = 12;

/// Parse records up to the first one that is cut short (torn) or does not check (damaged).
fn parse(buf: &[u8]) -> WalContents {
    let mut records = Vec::new();
    let mut at = 0usize;
    let tail = loop {
        let rest = &buf[at..];
        if rest.is_empty() {
            break WalTail::Clean;
        }
        let damaged = WalTail::Damaged {
            record: records.len(),
            offset: at,
        };
        if rest.len() < HEADER_BYTES {
            break WalTail::Torn { bytes: rest.len() };
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        if len == 0 || len > MAX_RECORD_BYTES {
            break damaged;
        }
        let end = HEADER_BYTES + len as usize;
        if rest.len() < end {
            break WalTail::Torn { bytes: rest.len() };
        }
        let payload = &rest[HEADER_BYTES..end];
        if blake3::hash(payload).as_bytes()[..8] != rest[4..HEADER_BYTES] {
            break damaged;
        }
        match WalRecord::try_from_slice(payload) {
            Ok(r) => records.push(r),
            Err(_) => break damaged,
        }
        at += end;
    };
    WalContents { records, tail }
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
            assert_eq!(got.tail, WalTail::Missing);
            assert!(got.records.is_empty());
            w.append(&rec(5, 0)).unwrap();
            w.append(&rec(5, 1)).unwrap();
        }
        // Simulate a crash mid-write: a partial record at the end.
        let mut bytes = std::fs::read(&path).unwrap();
        let partial = encode(&rec(5, 2));
        bytes.extend_from_slice(&partial[..partial.len() / 2]);
        std::fs::write(&path, &bytes).unwrap();
        let (mut w, got) = Wal::open(&path).unwrap();
        assert_eq!(got.records, vec![rec(5, 0), rec(5, 1)]);
        assert_eq!(
            got.tail,
            WalTail::Torn {
                bytes: partial.len() / 2
            }
        );
        w.append(&rec(5, 3)).unwrap();
        drop(w);
        let (_, got) = Wal::open(&path).unwrap();
        assert_eq!(got.records, vec![rec(5, 0), rec(5, 1), rec(5, 3)]);
        assert_eq!(got.tail, WalTail::Clean);
    }

    #[test]
    fn a_flipped_byte_in_any_record_is_damage_and_only_a_cut_tail_is_torn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("consensus.wal");
        let recs = [rec(1, 0), rec(1, 1), rec(1, 2)];
        let bytes: Vec<u8> = recs.iter().flat_map(encode).collect();
        let size = encode(&recs[0]).len();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            std::fs::write(&path, &b).unwrap();
            let (_, got) = Wal::open(&path).unwrap();
            let k = i / size;
            assert_eq!(got.records, recs[..k].to_vec(), "byte {i}");
            match got.tail {
                WalTail::Damaged { record, offset } => {
                    assert_eq!((record, offset), (k, k * size), "byte {i}")
                }
                // A flip in a length byte that makes the record reach past the end of the
                // file looks like a cut tail; the last-signed record covers that case.
                WalTail::Torn { .. } => assert!(i % size < 4, "byte {i}: {:?}", got.tail),
                other => panic!("byte {i}: {other:?}"),
            }
            if matches!(got.tail, WalTail::Damaged { .. }) {
                assert_eq!(
                    std::fs::read(path.with_extension("wal.damaged")).unwrap(),
                    b,
                    "the damaged file is kept"
                );
            }
        }
        // Cut anywhere inside the last record: torn, the others intact.
        for cut in 1..size {
            std::fs::write(&path, &bytes[..bytes.len() - cut]).unwrap();
            let (_, got) = Wal::open(&path).unwrap();
            assert_eq!(got.records, recs[..2].to_vec());
            assert_eq!(got.tail, WalTail::Torn { bytes: size - cut });
        }
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(Wal::open(&path).unwrap().1.tail, WalTail::Clean);
    }
}
