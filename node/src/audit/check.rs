//! `yui check`: read every byte a stopped node's data directory holds and decode every value
//! by its kind — blocks (each at the height its key names), the hash and transaction indexes,
//! receipts with their events, the tip, the genesis hash, the proposer record, and every state value (read, so the
//! engine's checksums are verified). It reports the first key that cannot be read or does not
//! decode, with its height where the key or value names one. Unlike `yui verify` it needs no
//! genesis file and does not replay; it finds damage, not wrong history.
//!
//! It only reads.

use crate::chain::{keys, StoredBlock, StoredReceipt, Tip, TxLocation};
use crate::storage::Store;
use anyhow::Result;
use prost::Message as _;
use serde::Serialize;
use yui_proto::v1 as pb;

/// What the check found.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct CheckReport {
    /// Keys read.
    pub keys: u64,
    /// Bytes of keys and values read.
    pub bytes: u64,
    /// The first bad key, if any.
    pub failure: Option<BadKey>,
}

/// A key that cannot be read or does not decode.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BadKey {
    /// The key, printable.
    pub key: String,
    /// The height it belongs to, when known.
    pub height: Option<u64>,
    /// What is wrong.
    pub reason: String,
}

impl CheckReport {
    /// The report as a person reads it.
    pub fn human(&self) -> String {
        let mut s = format!(
            "keys read        {}\nbytes read       {}\n",
            self.keys, self.bytes
        );
        match &self.failure {
            None => s.push_str("RESULT           OK: every stored value reads and decodes\n"),
            Some(b) => s.push_str(&format!(
                "RESULT           FAILED at key {}{}: {}\n",
                b.key,
                b.height
                    .map(|h| format!(" (height {h})"))
                    .unwrap_or_default(),
                b.reason
            )),
        }
        s
    }
}

/// Entries read per scan.
const PAGE: usize = 512;

/// Check every key of `store`.
pub fn deep_check(store: &dyn Store) -> Result<CheckReport> {
    let mut r = CheckReport::default();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = match store.scan(b"", after.as_deref(), PAGE) {
            Ok(p) => p,
            Err(e) => {
                // The engine could not read on from here: name the last good key.
                r.failure = Some(BadKey {
                    key: after
                        .as_deref()
                        .map(|k| format!("after {}", yui_contracts::state::printable_key(k)))
                        .unwrap_or_else(|| "at the start".into()),
                    height: None,
                    reason: e.to_string(),
                });
                return Ok(r);
            }
        };
        let n = page.len();
        for (k, v) in page {
            r.keys += 1;
            r.bytes += (k.len() + v.len()) as u64;
            if let Err((height, reason)) = check_value(&k, &v) {
                r.failure = Some(BadKey {
                    key: yui_contracts::state::printable_key(&k),
                    height,
                    reason,
                });
                return Ok(r);
            }
            after = Some(k);
        }
        if n < PAGE {
            return Ok(r);
        }
    }
}

/// Decode one stored value by its key's kind.
fn check_value(k: &[u8], v: &[u8]) -> Result<(), (Option<u64>, String)> {
    let bad = |h: Option<u64>, why: String| Err((h, why));
    if let Some(h) = k.strip_prefix(keys::BLOCK) {
        let Ok(h) = <[u8; 8]>::try_from(h).map(u64::from_be_bytes) else {
            return bad(None, "a block key without an 8-byte height".into());
        };
        return match keys::decode::<StoredBlock>(v, "block", k) {
            Err(e) => bad(Some(h), e.to_string()),
            Ok(b) if b.header.height != h => bad(
                Some(h),
                format!(
                    "the block stored at height {h} is block {}",
                    b.header.height
                ),
            ),
            Ok(_) => Ok(()),
        };
    }
    if k.starts_with(keys::RECEIPT) {
        let h = keys::parse_receipt(k).map(|(h, _)| h).ok();
        let receipt =
            keys::decode::<StoredReceipt>(v, "receipt", k).map_err(|e| (h, e.to_string()))?;
        for (i, e) in receipt.events.iter().enumerate() {
            if let Err(e) = pb::Event::decode(e.as_slice()) {
                return bad(h, format!("event {i} of the receipt does not decode: {e}"));
            }
        }
        return Ok(());
    }
    if k.starts_with(keys::TX) {
        if k.len() != keys::TX.len() + 32 {
            return bad(None, "a transaction index key without a 32-byte id".into());
        }
        return keys::decode::<TxLocation>(v, "transaction location", k)
            .map(|_| ())
            .map_err(|e| (None, e.to_string()));
    }
    if k.starts_with(keys::BLOCK_HASH) {
        return if v.len() == 8 {
            Ok(())
        } else {
            bad(
                None,
                "a block hash index entry is not an 8-byte height".into(),
            )
        };
    }
    if k == keys::TIP {
        return keys::decode::<Tip>(v, "tip", k)
            .map(|_| ())
            .map_err(|e| (None, e.to_string()));
    }
    if k == keys::PROPOSERS {
        return keys::decode::<yui_consensus::ProposerRecord>(v, "proposer record", k)
            .map(|_| ())
            .map_err(|e| (None, e.to_string()));
    }
    if k == keys::GENESIS {
        return if v.len() == 32 {
            Ok(())
        } else {
            bad(None, "the genesis hash is not 32 bytes".into())
        };
    }
    if k.starts_with(keys::STATE) {
        // Contract state is read (the engine checked its checksums); its meaning is the
        // contracts', checked by `yui verify`'s replay.
        return Ok(());
    }
    bad(None, "a key of no kind the chain writes".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Batch, MemStore};

    #[test]
    fn every_kind_of_damage_is_named_with_its_key() {
        let good = |s: &MemStore| {
            let mut b = Batch::default();
            b.put(keys::GENESIS, vec![0u8; 32]);
            b.put(keys::block_hash(&[1; 32]), 3u64.to_be_bytes().to_vec());
            b.put(keys::state(b"x"), b"anything".to_vec());
            s.write(b).unwrap();
        };
        let s = MemStore::default();
        good(&s);
        let r = deep_check(&s).unwrap();
        assert_eq!((r.keys, r.failure.clone()), (3, None), "{r:?}");
        for (key, value, height) in [
            (keys::block(7), vec![1, 2, 3], Some(7)),
            (keys::receipt(9, 2), vec![0xff; 5], Some(9)),
            (keys::tx(&[4; 32]), vec![1], None),
            (keys::block_hash(&[2; 32]), vec![1, 2], None),
            (keys::TIP.to_vec(), vec![], None),
            (b"z/unknown".to_vec(), vec![], None),
        ] {
            let s = MemStore::default();
            good(&s);
            let mut b = Batch::default();
            b.put(key.clone(), value);
            s.write(b).unwrap();
            let f = deep_check(&s).unwrap().failure.expect("damage found");
            assert_eq!(f.key, yui_contracts::state::printable_key(&key));
            assert_eq!(f.height, height, "{f:?}");
        }
    }
}
