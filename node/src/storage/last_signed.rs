//! The last-signed record: the highest (height, round, step) this validator ever signed, in a
//! file of its own, fsynced before any signed message leaves the node (as CometBFT's validator
//! state file). It is checked before every new signature, so that whatever happened to the
//! consensus WAL, a restarted validator never signs a second, different message for a step it
//! may already have signed (docs/adr/0011).
//!
//! The file is one fixed-size record, `"YUILS001" | height u64 LE | round u32 LE | step u8 |
//! first 8 bytes of blake3 of the preceding bytes`, overwritten in place: it is far smaller
//! than a disk sector, so a write either lands or leaves the old record, and a damaged record
//! is detected by its checksum.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use yui_consensus::SignPoint;

const MAGIC: &[u8; 8] = b"YUILS001";
const BODY_BYTES: usize = 8 + 8 + 4 + 1;
const RECORD_BYTES: usize = BODY_BYTES + 8;

/// What the file held when it was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastSignedState {
    /// No record: this validator has signed nothing with this data directory since the file
    /// was created (or the file was lost, or comes from an older version). Past genesis this
    /// means "unknown".
    Missing,
    /// The highest point signed.
    Signed(SignPoint),
    /// The file exists but its record does not check: what was signed is unknown.
    Damaged,
}

/// The open last-signed file.
pub struct LastSigned {
    path: PathBuf,
    file: File,
    last: Option<SignPoint>,
}

fn encode(p: SignPoint) -> [u8; RECORD_BYTES] {
    let mut out = [0u8; RECORD_BYTES];
    out[..8].copy_from_slice(MAGIC);
    out[8..16].copy_from_slice(&p.height.to_le_bytes());
    out[16..20].copy_from_slice(&p.round.to_le_bytes());
    out[20] = p.step;
    let sum = blake3::hash(&out[..BODY_BYTES]);
    out[BODY_BYTES..].copy_from_slice(&sum.as_bytes()[..8]);
    out
}

fn decode(bytes: &[u8]) -> Option<SignPoint> {
    if bytes.len() != RECORD_BYTES || &bytes[..8] != MAGIC {
        return None;
    }
    if blake3::hash(&bytes[..BODY_BYTES]).as_bytes()[..8] != bytes[BODY_BYTES..] {
        return None;
    }
    let mut h = [0u8; 8];
    h.copy_from_slice(&bytes[8..16]);
    let mut r = [0u8; 4];
    r.copy_from_slice(&bytes[16..20]);
    Some(SignPoint {
        height: u64::from_le_bytes(h),
        round: u32::from_le_bytes(r),
        step: bytes[20],
    })
}

impl LastSigned {
    /// Open (or create) the file at `path`; what it held.
    pub fn open(path: &Path) -> std::io::Result<(LastSigned, LastSignedState)> {
        let state = match File::open(path) {
            Ok(mut f) => {
                let mut buf = Vec::new();
                f.read_to_end(&mut buf)?;
                match decode(&buf) {
                    Some(p) => LastSignedState::Signed(p),
                    // Created at a start, never written: nothing recorded since.
                    None if buf.is_empty() => LastSignedState::Missing,
                    None => LastSignedState::Damaged,
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => LastSignedState::Missing,
            Err(e) => return Err(e),
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let last = match state {
            LastSignedState::Signed(p) => Some(p),
            _ => None,
        };
        Ok((
            LastSigned {
                path: path.to_path_buf(),
                file,
                last,
            },
            state,
        ))
    }

    /// Record that `point` was signed, durably, before the message leaves the node. A point
    /// not above the last one recorded changes nothing (a re-sent message).
    pub fn record(&mut self, point: SignPoint) -> std::io::Result<()> {
        if self.last.is_some_and(|l| point <= l) {
            return Ok(());
        }
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(&encode(point))?;
        self.file.set_len(RECORD_BYTES as u64)?;
        self.file.sync_data()?;
        self.last = Some(point);
        Ok(())
    }

    /// The highest point recorded since it was opened (or read from the file).
    pub fn last(&self) -> Option<SignPoint> {
        self.last
    }

    /// Its path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(height: u64, round: u32, step: u8) -> SignPoint {
        SignPoint {
            height,
            round,
            step,
        }
    }

    #[test]
    fn the_highest_point_survives_a_reopen_and_damage_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last_signed");
        let (f, state) = LastSigned::open(&path).unwrap();
        assert_eq!(state, LastSignedState::Missing);
        drop(f);
        // Opened but never written: still nothing recorded (not damage).
        let (mut f, state) = LastSigned::open(&path).unwrap();
        assert_eq!(state, LastSignedState::Missing);
        f.record(p(3, 0, 1)).unwrap();
        f.record(p(3, 1, 0)).unwrap();
        f.record(p(3, 0, 2)).unwrap(); // lower: ignored
        drop(f);
        let (f, state) = LastSigned::open(&path).unwrap();
        assert_eq!(state, LastSignedState::Signed(p(3, 1, 0)));
        assert_eq!(f.last(), Some(p(3, 1, 0)));
        drop(f);
        let mut bytes = std::fs::read(&path).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 0x10;
            std::fs::write(&path, &bytes).unwrap();
            assert_eq!(
                LastSigned::open(&path).unwrap().1,
                LastSignedState::Damaged,
                "byte {i} flipped"
            );
            bytes[i] ^= 0x10;
        }
        std::fs::write(&path, &bytes[..10]).unwrap();
        assert_eq!(LastSigned::open(&path).unwrap().1, LastSignedState::Damaged);
    }
}
