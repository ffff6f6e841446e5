//! The vault's access log: every put, read, update, erasure, verification and disclosure of a
//! record, allowed or refused, kept per owning organization and JST day in the vault's own
//! store. Each day's entries form a hash chain whose head, the day's digest, an admin anchors
//! on the ledger (`AnchorAccessLog`); reading a day recomputes the chain from the stored
//! entries, so an entry changed, removed or inserted after anchoring no longer matches.
//!
//! An entry names the account, its organization, the record id, its purpose, the operation and
//! its outcome — never record content. Writing an entry that fails stops the call that caused
//! it (the vault refuses to serve a read it cannot log).

use super::{internal, Result, StoredRecord, Vault};
use crate::storage::Batch;
use borsh::{BorshDeserialize, BorshSerialize};
use prost::Message as _;
use yui_proto::v1 as pb;

const K_LOG: &[u8] = b"log/";
const K_TIP: &[u8] = b"logtip/";
/// Most entries one day of one organization's log holds; past it calls are refused (a day
/// this busy is an attack or a bug, and an unlogged read is not allowed).
pub const MAX_ENTRIES_PER_DAY: u64 = 1_000_000;

#[derive(BorshSerialize, BorshDeserialize, Default)]
struct Tip {
    entries: u64,
    digest: [u8; 32],
}

/// The key prefixes of all of `org`'s log (entries and day tips), for backups.
pub(super) fn org_prefixes(org: &str) -> [Vec<u8>; 2] {
    [
        [K_LOG, org.as_bytes(), b"/"].concat(),
        [K_TIP, org.as_bytes(), b"/"].concat(),
    ]
}

fn day_prefix(org: &str, day: &str) -> Vec<u8> {
    [K_LOG, org.as_bytes(), b"/", day.as_bytes(), b"/"].concat()
}

fn tip_key(org: &str, day: &str) -> Vec<u8> {
    [K_TIP, org.as_bytes(), b"/", day.as_bytes()].concat()
}

/// The digest of an empty day: `blake3("yui/v1/access-log\0" || org || "\0" || day)`.
pub fn empty_digest(org: &str, day: &str) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"yui/v1/access-log\0");
    h.update(org.as_bytes());
    h.update(b"\0");
    h.update(day.as_bytes());
    *h.finalize().as_bytes()
}

/// The next link: `blake3(prev || u32_le(len(entry)) || entry)`.
pub fn chain(prev: &[u8; 32], entry: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(prev);
    h.update(&u32::try_from(entry.len()).unwrap_or(u32::MAX).to_le_bytes());
    h.update(entry);
    *h.finalize().as_bytes()
}

/// One day of one organization's log as read back.
pub struct DayLog {
    /// The entries, oldest first.
    pub entries: Vec<pb::AccessLogEntry>,
    /// The digest recomputed from the stored entries.
    pub digest: [u8; 32],
}

impl Vault {
    /// Log one access by `entry.account` of `entry.account_organization` at `entry.at_ms`. The
    /// entry goes to the log of the organization that owns the record (so a refused attempt on
    /// another organization's record is in that organization's log), or of the caller's
    /// organization when there is no such record; the record's purpose is filled in.
    pub fn log_access(&self, mut entry: pb::AccessLogEntry) -> Result<()> {
        let mut owner = entry.account_organization.clone();
        if super::validate_id(&entry.record_id).is_ok() {
            if let Some(bytes) = self
                .inner
                .records
                .get(entry.record_id.as_bytes())
                .map_err(internal)?
            {
                let rec = StoredRecord::try_from_slice(&bytes).map_err(internal)?;
                owner = rec.org;
                entry.purpose = rec.access.purpose;
            }
        } else {
            // Never keep a malformed id: it is client input and could be anything.
            entry.record_id.clear();
        }
        let day = yui_contracts::calendar::jst_date_string(entry.at_ms);
        let _guard = self.lock();
        let tk = tip_key(&owner, &day);
        let tip = match self.inner.records.get(&tk).map_err(internal)? {
            Some(b) => Tip::try_from_slice(&b).map_err(internal)?,
            None => Tip {
                entries: 0,
                digest: empty_digest(&owner, &day),
            },
        };
        if tip.entries >= MAX_ENTRIES_PER_DAY {
            return Err(internal("the access log of this day is full"));
        }
        let bytes = entry.encode_to_vec();
        let next = Tip {
            entries: tip.entries + 1,
            digest: chain(&tip.digest, &bytes),
        };
        let mut batch = Batch::default();
        let mut key = day_prefix(&owner, &day);
        key.extend_from_slice(&tip.entries.to_be_bytes());
        batch.put(key, bytes);
        batch.put(tk, borsh::to_vec(&next).map_err(internal)?);
        self.inner.records.write(batch).map_err(internal)?;
        self.inner.records.flush().map_err(internal)?;
        Ok(())
    }

    /// One JST `day` (`YYYY-MM-DD`) of `org`'s log, its digest recomputed from the stored
    /// entries.
    pub fn access_log(&self, org: &str, day: &str) -> Result<DayLog> {
        let prefix = day_prefix(org, day);
        let mut entries = Vec::new();
        let mut digest = empty_digest(org, day);
        self.scan_all(&prefix, |_, v| {
            digest = chain(&digest, &v);
            entries.push(
                pb::AccessLogEntry::decode(v.as_slice())
                    .map_err(|_| internal("an access log entry does not decode"))?,
            );
            Ok(true)
        })?;
        Ok(DayLog { entries, digest })
    }

    /// Overwrite entry `index` of a day's log, for tests of tamper detection only.
    #[doc(hidden)]
    pub fn overwrite_log_entry_for_tests(
        &self,
        org: &str,
        day: &str,
        index: u64,
        entry: &pb::AccessLogEntry,
    ) -> Result<()> {
        let mut key = day_prefix(org, day);
        key.extend_from_slice(&index.to_be_bytes());
        let mut batch = Batch::default();
        batch.put(key, entry.encode_to_vec());
        self.inner.records.write(batch).map_err(internal)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::Access;

    fn entry(at_ms: u64, op: &str, record: &str) -> pb::AccessLogEntry {
        pb::AccessLogEntry {
            at_ms,
            account: vec![7; 32],
            account_organization: "tama".into(),
            record_id: record.into(),
            operation: op.into(),
            outcome: "ok".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_log_goes_to_the_owner_chains_by_day_and_shows_a_changed_line() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::open(dir.path()).unwrap();
        let access = Access {
            purpose: 2,
            readers: vec![2],
            ..Access::default()
        };
        let (id, _) = v
            .put("hachioji", access, vec![("name".into(), "x".into())])
            .unwrap();
        // 2026-12-02 10:00 JST and the next day.
        let t = 1_796_173_200_000u64;
        v.log_access(entry(t, "get", &id)).unwrap();
        v.log_access(entry(t + 1, "get", "pd_not-an-id 090-1234-5678"))
            .unwrap();
        v.log_access(entry(t + 86_400_000, "get", &id)).unwrap();
        // A refused read of hachioji's record by a tama account is in hachioji's log, with the
        // record's purpose; the malformed id is not kept at all.
        let day = v.access_log("hachioji", "2026-12-02").unwrap();
        assert_eq!(day.entries.len(), 1);
        assert_eq!(day.entries[0].purpose, 2);
        let tama = v.access_log("tama", "2026-12-02").unwrap();
        assert_eq!(tama.entries.len(), 1);
        assert_eq!(tama.entries[0].record_id, "");
        assert_eq!(
            v.access_log("hachioji", "2026-12-03")
                .unwrap()
                .entries
                .len(),
            1
        );
        // The digest is the documented chain over the encoded entries.
        let expected = chain(
            &empty_digest("hachioji", "2026-12-02"),
            &day.entries[0].encode_to_vec(),
        );
        assert_eq!(day.digest, expected);
        assert_eq!(
            v.access_log("hachioji", "2026-11-30").unwrap().digest,
            empty_digest("hachioji", "2026-11-30")
        );
        // A changed line changes the digest.
        let mut forged = day.entries[0].clone();
        forged.account_organization = "hachioji".into();
        v.overwrite_log_entry_for_tests("hachioji", "2026-12-02", 0, &forged)
            .unwrap();
        assert_ne!(
            v.access_log("hachioji", "2026-12-02").unwrap().digest,
            expected
        );
    }
}
