//! The personal-data vault: this node's off-ledger store of records about people (names,
//! addresses, phone numbers, e-mail addresses, My Number). It owns encryption at rest, the
//! per-record keys, ownership by organization, and erasure by crypto-shredding.
//!
//! Layout under the vault directory (separate from the ledger store):
//! - `records/` — a fjall store of `record id → StoredRecord` (borsh): the owning
//!   organization, and either the XChaCha20-Poly1305 ciphertext of the record (24-byte random
//!   nonce, the record id and organization bound as associated data) or a tombstone.
//! - `keys/` — one file per record key, `<record id>.<generation>.key`, 32 random bytes. Keys are
//!   kept out of the log-structured records database on purpose: a value that is removed
//!   may survive in old log segments, a file that is overwritten and unlinked normally does not.
//!
//! The commitment of a record is `blake3::keyed_hash(derive_key("yui/v1 vault commitment",
//! record key), canonical plaintext)`: 32 bytes that reveal nothing without the key. Erasure
//! deletes the key file (overwritten first) and the ciphertext and keeps a tombstone, so `get`
//! answers `Erased` and the commitment on the ledger can never be linked to the person again.
//!
//! This module must never log, return in an error, gossip or put into a block any record
//! content; every access is logged by record id and organization only.

mod backup;
mod log;
pub use backup::{decode_bundle, new_recovery_key, open_backup, parse_recipient, Bundle, Restored};
pub use log::{DayLog, MAX_ENTRIES_PER_DAY};

use crate::storage::{Batch, FjallStore, Layout, Store};
use borsh::{BorshDeserialize, BorshSerialize};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// Most fields in one record.
pub const MAX_FIELDS: usize = 64;
/// Longest field name, in bytes.
pub const MAX_FIELD_NAME_BYTES: usize = 64;
/// Longest field value, in bytes.
pub const MAX_FIELD_VALUE_BYTES: usize = 4096;
/// Prefix of every record id.
pub const RECORD_ID_PREFIX: &str = "pd_";

/// Context string for deriving the commitment key from the record key.
const COMMITMENT_CONTEXT: &str = "yui/v1 vault commitment";

/// Why a vault operation failed. Messages never contain record content.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    /// No record with this id.
    #[error("no personal-data record with this id")]
    NotFound,
    /// The record belongs to another organization.
    #[error("this personal-data record belongs to another organization")]
    PermissionDenied,
    /// The record was erased (its key was destroyed).
    #[error("this personal-data record was erased; its content can no longer be read")]
    Erased,
    /// The record must be kept longer (its retention rule), and no legal basis was given.
    #[error("this personal-data record must be kept until {until} (retention rule {rule:?}); erase it earlier only with a legal basis (legal_basis), which is recorded")]
    Retained {
        /// The last day of the retention period (JST).
        until: String,
        /// The rule's name.
        rule: String,
    },
    /// The request is malformed (bad id, field names or sizes).
    #[error("{0}")]
    InvalidArgument(String),
    /// The vault's storage failed (this node's fault).
    #[error("the personal-data vault failed: {0}")]
    Internal(String),
}

/// Result of vault operations.
pub type Result<T> = std::result::Result<T, VaultError>;

fn internal(e: impl std::fmt::Display) -> VaultError {
    VaultError::Internal(e.to_string())
}

/// A record as read back.
#[derive(Clone, PartialEq, Eq)]
pub struct VaultRecord {
    /// The record id.
    pub id: String,
    /// Its fields, sorted by name.
    pub fields: Vec<(String, String)>,
    /// Its current commitment.
    pub commitment: [u8; 32],
    /// Its purpose and readers.
    pub access: Access,
}

// Never print content, not even in debug output.
impl std::fmt::Debug for VaultRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultRecord")
            .field("id", &self.id)
            .field("fields", &self.fields.len())
            .finish()
    }
}

#[derive(BorshSerialize, BorshDeserialize)]
enum RecordState {
    Live {
        generation: u64,
        nonce: [u8; 24],
        ciphertext: Vec<u8>,
    },
    /// Erased at `at_ms`; `legal_basis` when it was erased before its retention period ended.
    Erased { at_ms: u64, legal_basis: String },
}

#[derive(BorshSerialize, BorshDeserialize)]
struct StoredRecord {
    org: String,
    access: Access,
    state: RecordState,
}

/// What a record is kept for and who in its organization may read it, as protobuf enum values
/// (`yui.v1.PersonalDataPurpose`, `yui.v1.RoleKind`): the API decides their meaning; how long
/// it must be kept; and whom it is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Access {
    /// The purpose.
    pub purpose: i32,
    /// Roles whose holders may read the record, sorted, not empty.
    pub readers: Vec<i32>,
    /// Kept at least until this time (Unix ms; 0: no retention period).
    pub retain_until_ms: u64,
    /// The retention rule's name, e.g. `j-credit-monitoring-2y` (empty with no period).
    pub retention_rule: String,
    /// The pseudonymous id of the person the record is about, as the organization's backend
    /// names them (empty: not said). A disclosure request exports every record of one subject.
    pub subject: String,
}

/// Most records one disclosure returns.
pub const MAX_DISCLOSED: usize = 1_000;

/// The vault. Cheap to clone; all clones share the same storage.
#[derive(Clone)]
pub struct Vault {
    inner: Arc<Inner>,
}

struct Inner {
    records: Arc<dyn Store>,
    keys_dir: PathBuf,
    // Serializes writers, so update/erase of the same record cannot interleave.
    write_lock: Mutex<()>,
}

/// Check a record id's form: `pd_` + 32 lowercase hex digits. Also keeps ids safe as file names.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = id.strip_prefix(RECORD_ID_PREFIX).is_some_and(|h| {
        h.len() == 32 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    if ok {
        Ok(())
    } else {
        Err(VaultError::InvalidArgument(
            "a personal-data record id is \"pd_\" followed by 32 lowercase hex digits".into(),
        ))
    }
}

/// Validate and canonicalize fields: sorted by name, names unique, sizes bounded.
pub fn canonical_fields(mut fields: Vec<(String, String)>) -> Result<Vec<(String, String)>> {
    if fields.is_empty() || fields.len() > MAX_FIELDS {
        return Err(VaultError::InvalidArgument(format!(
            "a record has 1 to {MAX_FIELDS} fields, got {}",
            fields.len()
        )));
    }
    for (name, value) in &fields {
        let name_ok = !name.is_empty()
            && name.len() <= MAX_FIELD_NAME_BYTES
            && name
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'));
        if !name_ok {
            // Field names are schema, not content, but a wrong one could be anything: don't echo.
            return Err(VaultError::InvalidArgument(format!(
                "field names are 1 to {MAX_FIELD_NAME_BYTES} characters of a-z, 0-9 and '_'"
            )));
        }
        if value.len() > MAX_FIELD_VALUE_BYTES {
            return Err(VaultError::InvalidArgument(format!(
                "field `{name}` is longer than {MAX_FIELD_VALUE_BYTES} bytes"
            )));
        }
    }
    fields.sort();
    for pair in fields.windows(2) {
        if let [a, b] = pair {
            if a.0 == b.0 {
                return Err(VaultError::InvalidArgument(format!(
                    "field `{}` appears more than once",
                    a.0
                )));
            }
        }
    }
    Ok(fields)
}

fn canonical_bytes(fields: &[(String, String)]) -> Result<Zeroizing<Vec<u8>>> {
    borsh::to_vec(&fields.to_vec())
        .map(Zeroizing::new)
        .map_err(internal)
}

fn commitment(key: &[u8; 32], canonical: &[u8]) -> [u8; 32] {
    let ck = Zeroizing::new(blake3::derive_key(COMMITMENT_CONTEXT, key));
    *blake3::keyed_hash(&ck, canonical).as_bytes()
}

fn aad(id: &str, org: &str) -> Vec<u8> {
    let mut a = Vec::with_capacity(id.len() + org.len() + 1);
    a.extend_from_slice(id.as_bytes());
    a.push(0);
    a.extend_from_slice(org.as_bytes());
    a
}

/// Unix ms as the Japanese civil date, for messages: `2027-03-31 JST`.
fn jst_date(ms: u64) -> String {
    let (y, m, d) = yui_contracts::calendar::jst_date(ms);
    format!("{y:04}-{m:02}-{d:02} JST")
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| internal(format!("no randomness available: {e}")))?;
    Ok(b)
}

impl Vault {
    /// Open (or create) the vault under `dir`: `dir/records` and `dir/keys`.
    pub fn open(dir: &Path) -> Result<Vault> {
        let keys_dir = dir.join("keys");
        std::fs::create_dir_all(&keys_dir).map_err(internal)?;
        let records: Arc<dyn Store> =
            Arc::new(FjallStore::open(&dir.join("records"), Layout::default()).map_err(internal)?);
        Ok(Vault {
            inner: Arc::new(Inner {
                records,
                keys_dir,
                write_lock: Mutex::new(()),
            }),
        })
    }

    fn key_path(&self, id: &str, generation: u64) -> PathBuf {
        self.inner.keys_dir.join(format!("{id}.{generation}.key"))
    }

    fn write_key(&self, id: &str, generation: u64, key: &[u8; 32]) -> Result<()> {
        let path = self.key_path(id, generation);
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp).map_err(internal)?;
        f.write_all(key).map_err(internal)?;
        f.sync_all().map_err(internal)?;
        std::fs::rename(&tmp, &path).map_err(internal)?;
        Ok(())
    }

    fn read_key(&self, id: &str, generation: u64) -> Result<Option<Zeroizing<[u8; 32]>>> {
        match std::fs::read(self.key_path(id, generation)) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                let key: [u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| internal("a record key file is not 32 bytes"))?;
                Ok(Some(Zeroizing::new(key)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(internal(e)),
        }
    }

    /// Overwrite the key file with zeros, sync, unlink. Missing files are fine (idempotent).
    fn shred_key(&self, id: &str, generation: u64) -> Result<()> {
        let path = self.key_path(id, generation);
        match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(mut f) => {
                f.write_all(&[0u8; 32]).map_err(internal)?;
                f.sync_all().map_err(internal)?;
                drop(f);
                std::fs::remove_file(&path).map_err(internal)?;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(internal(e)),
        }
    }

    fn load(&self, id: &str) -> Result<StoredRecord> {
        let bytes = self
            .inner
            .records
            .get(id.as_bytes())
            .map_err(internal)?
            .ok_or(VaultError::NotFound)?;
        StoredRecord::try_from_slice(&bytes).map_err(internal)
    }

    fn store(&self, id: &str, rec: &StoredRecord) -> Result<()> {
        let bytes = borsh::to_vec(rec).map_err(internal)?;
        let mut batch = Batch::default();
        batch.put(id.as_bytes(), bytes);
        self.inner.records.write(batch).map_err(internal)?;
        self.inner.records.flush().map_err(internal)?;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // A panic while holding the lock leaves nothing half-done that the lock protects
        // (each step is written durably in order), so a poisoned lock is still usable.
        self.inner
            .write_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Load a record of `org`, checking ownership and tombstones.
    /// The live record `id` if `org` owns it and `allowed` accepts its access rule.
    fn owned_live(
        &self,
        org: &str,
        id: &str,
        allowed: &dyn Fn(&Access) -> bool,
    ) -> Result<(u64, [u8; 24], Vec<u8>, Access)> {
        validate_id(id)?;
        let rec = self.load(id)?;
        if rec.org != org {
            tracing::warn!(record = %id, org = %org, "vault access denied: another organization's record");
            return Err(VaultError::PermissionDenied);
        }
        if !allowed(&rec.access) {
            tracing::warn!(record = %id, org = %org, "vault access denied: the caller holds none of the record's reader roles");
            return Err(VaultError::PermissionDenied);
        }
        match rec.state {
            RecordState::Erased { .. } => Err(VaultError::Erased),
            RecordState::Live {
                generation,
                nonce,
                ciphertext,
            } => Ok((generation, nonce, ciphertext, rec.access)),
        }
    }

    /// Encrypt `fields` under a fresh key of `generation` and store them as `id` of `org`.
    fn seal(
        &self,
        org: &str,
        access: &Access,
        id: &str,
        generation: u64,
        fields: &[(String, String)],
    ) -> Result<[u8; 32]> {
        let key = Zeroizing::new(random::<32>()?);
        let nonce = random::<24>()?;
        let plain = canonical_bytes(fields)?;
        let c = commitment(&key, &plain);
        let ciphertext = XChaCha20Poly1305::new(Key::from_slice(key.as_slice()))
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &aad(id, org),
                },
            )
            .map_err(|_| internal("encryption failed"))?;
        // Key first: a record never points at a key that is not durable yet.
        self.write_key(id, generation, &key)?;
        self.store(
            id,
            &StoredRecord {
                org: org.to_string(),
                access: access.clone(),
                state: RecordState::Live {
                    generation,
                    nonce,
                    ciphertext,
                },
            },
        )?;
        Ok(c)
    }

    /// Store a new record owned by `org`, kept for `access.purpose` and readable by holders of
    /// `access.readers`. Returns its pseudonymous id and commitment.
    pub fn put(
        &self,
        org: &str,
        access: Access,
        fields: Vec<(String, String)>,
    ) -> Result<(String, [u8; 32])> {
        let fields = canonical_fields(fields)?;
        if access.readers.is_empty() {
            return Err(VaultError::InvalidArgument(
                "a record needs at least one reader role".into(),
            ));
        }
        let _guard = self.lock();
        let id = format!("{RECORD_ID_PREFIX}{}", hex::encode(random::<16>()?));
        if self
            .inner
            .records
            .get(id.as_bytes())
            .map_err(internal)?
            .is_some()
        {
            return Err(internal("record id collision"));
        }
        let c = self.seal(org, &access, &id, 0, &fields)?;
        tracing::info!(record = %id, org = %org, op = "put", "vault access");
        Ok((id, c))
    }

    /// Read a record of `org` for a caller holding `roles`: one of them must be a reader role.
    pub fn get(&self, org: &str, roles: &[i32], id: &str) -> Result<VaultRecord> {
        self.read(org, id, &|a: &Access| {
            a.readers.iter().any(|r| roles.contains(r))
        })
    }

    /// Read a record of `org` released to someone outside its reader roles (a shipment's donor
    /// reading the shelter's contact): allowed only for a record kept for one of `purposes`.
    /// The caller has checked the release itself.
    pub fn get_released(&self, org: &str, id: &str, purposes: &[i32]) -> Result<VaultRecord> {
        self.read(org, id, &|a: &Access| purposes.contains(&a.purpose))
    }

    fn read(&self, org: &str, id: &str, may_read: &dyn Fn(&Access) -> bool) -> Result<VaultRecord> {
        let (generation, nonce, ciphertext, access) = self.owned_live(org, id, may_read)?;
        let Some(key) = self.read_key(id, generation)? else {
            // An erase that crashed after shredding the key: the content is gone for good.
            tracing::warn!(record = %id, org = %org, "vault record has no key; treating as erased");
            return Err(VaultError::Erased);
        };
        let plain = Zeroizing::new(
            XChaCha20Poly1305::new(Key::from_slice(key.as_slice()))
                .decrypt(
                    XNonce::from_slice(&nonce),
                    Payload {
                        msg: &ciphertext,
                        aad: &aad(id, org),
                    },
                )
                .map_err(|_| internal("a record failed authentication (corrupted or tampered)"))?,
        );
        let fields =
            Vec::<(String, String)>::try_from_slice(&plain).map_err(|_| internal("bad record"))?;
        let c = commitment(&key, &plain);
        tracing::info!(record = %id, org = %org, op = "get", "vault access");
        Ok(VaultRecord {
            id: id.to_string(),
            fields,
            commitment: c,
            access,
        })
    }

    /// Replace the fields of a record of `org` under a new key (its purpose and readers stay).
    /// Returns the new commitment.
    pub fn update(&self, org: &str, id: &str, fields: Vec<(String, String)>) -> Result<[u8; 32]> {
        let fields = canonical_fields(fields)?;
        let _guard = self.lock();
        let (generation, _, _, access) = self.owned_live(org, id, &|_| true)?;
        let next = generation
            .checked_add(1)
            .ok_or_else(|| internal("key generation overflow"))?;
        let c = self.seal(org, &access, id, next, &fields)?;
        self.shred_key(id, generation)?;
        tracing::info!(record = %id, org = %org, op = "update", "vault access");
        Ok(c)
    }

    /// Erase a record of `org` at `now_ms`: shred its key, drop its ciphertext, keep a
    /// tombstone. A record still within its retention period is erased only with a
    /// `legal_basis`, which the tombstone keeps. Erasing an erased record again succeeds
    /// (retries are safe).
    pub fn erase(&self, org: &str, id: &str, now_ms: u64, legal_basis: &str) -> Result<()> {
        let _guard = self.lock();
        let (generation, access) = match self.owned_live(org, id, &|_| true) {
            Ok((generation, _, _, access)) => (generation, access),
            Err(VaultError::Erased) => return Ok(()),
            Err(e) => return Err(e),
        };
        if access.retain_until_ms > now_ms && legal_basis.is_empty() {
            return Err(VaultError::Retained {
                until: jst_date(access.retain_until_ms),
                rule: access.retention_rule.clone(),
            });
        }
        // Key first: once it is gone the content is unrecoverable even if we crash here.
        self.shred_key(id, generation)?;
        let early = access.retain_until_ms > now_ms;
        self.store(
            id,
            &StoredRecord {
                org: org.to_string(),
                access,
                state: RecordState::Erased {
                    at_ms: now_ms,
                    legal_basis: legal_basis.to_string(),
                },
            },
        )?;
        tracing::info!(record = %id, org = %org, op = "erase", before_retention_end = early, "vault access");
        Ok(())
    }

    /// Every live record of `org` about `subject` (a disclosure or portability request), at
    /// most [`MAX_DISCLOSED`], oldest id first. Only the organization's own records.
    pub fn disclose(&self, org: &str, subject: &str) -> Result<Vec<VaultRecord>> {
        if subject.is_empty() {
            return Err(VaultError::InvalidArgument(
                "a disclosure names the subject (the pseudonymous id records were put with)".into(),
            ));
        }
        let mut found = Vec::new();
        self.scan_all(RECORD_ID_PREFIX.as_bytes(), |k, v| {
            let Ok(rec) = StoredRecord::try_from_slice(&v) else {
                return Err(internal("a stored record does not decode"));
            };
            if rec.org != org
                || rec.access.subject != subject
                || matches!(rec.state, RecordState::Erased { .. })
            {
                return Ok(true);
            }
            let id = String::from_utf8(k).map_err(internal)?;
            let readers = rec.access.readers.clone();
            match self.get(org, &readers, &id) {
                Ok(r) => found.push(r),
                Err(VaultError::Erased) => {}
                Err(e) => return Err(e),
            }
            Ok(found.len() < MAX_DISCLOSED)
        })?;
        tracing::info!(org = %org, op = "disclose", records = found.len(), "vault access");
        Ok(found)
    }

    /// Whether `commitment` is the current commitment of record `id` of `org`. Needs the key,
    /// so after erasure this answers `Erased`: nobody can link a ledger commitment any more.
    pub fn verify_commitment(
        &self,
        org: &str,
        roles: &[i32],
        id: &str,
        commitment: &[u8; 32],
    ) -> Result<bool> {
        let rec = self.get(org, roles, id)?;
        Ok(&rec.commitment == commitment)
    }

    /// Visit every key and value under `prefix` in key order, a page at a time; `visit`
    /// returns `false` to stop early.
    fn scan_all(
        &self,
        prefix: &[u8],
        mut visit: impl FnMut(Vec<u8>, Vec<u8>) -> Result<bool>,
    ) -> Result<()> {
        const PAGE: usize = 512;
        let mut after: Option<Vec<u8>> = None;
        loop {
            let batch = self
                .inner
                .records
                .scan(prefix, after.as_deref(), PAGE)
                .map_err(internal)?;
            let n = batch.len();
            for (k, v) in batch {
                after = Some(k.clone());
                if !visit(k, v)? {
                    return Ok(());
                }
            }
            if n < PAGE {
                return Ok(());
            }
        }
    }

    /// The organization that owns record `id`, if this vault holds it.
    pub fn owner_of(&self, id: &str) -> Result<Option<String>> {
        if validate_id(id).is_err() {
            return Ok(None);
        }
        match self.inner.records.get(id.as_bytes()).map_err(internal)? {
            Some(b) => Ok(Some(
                StoredRecord::try_from_slice(&b).map_err(internal)?.org,
            )),
            None => Ok(None),
        }
    }

    /// Flush the records database to disk.
    pub fn flush(&self) -> Result<()> {
        self.inner.records.flush().map_err(internal)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reader role of the test records.
    const READER: &[i32] = &[2];

    fn acc() -> Access {
        Access {
            purpose: 1,
            readers: READER.to_vec(),
            ..Access::default()
        }
    }

    fn fields(name: &str) -> Vec<(String, String)> {
        vec![
            ("phone".into(), "090-1234-5678".into()),
            ("name".into(), name.into()),
        ]
    }

    fn files_under(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p);
                }
            }
        }
        out
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn retention_refuses_early_erasure_without_a_legal_basis_and_disclosure_is_per_subject() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::open(dir.path()).unwrap();
        let kept = Access {
            retain_until_ms: 2_000,
            retention_rule: "two-years".into(),
            subject: "ptc-1".into(),
            ..acc()
        };
        let (a, _) = v.put("org", kept, fields("a")).unwrap();
        let (b, _) = v
            .put(
                "org",
                Access {
                    subject: "ptc-1".into(),
                    ..acc()
                },
                fields("b"),
            )
            .unwrap();
        let (_other_org, _) = v
            .put(
                "org-b",
                Access {
                    subject: "ptc-1".into(),
                    ..acc()
                },
                fields("c"),
            )
            .unwrap();
        let (_other_subject, _) = v
            .put(
                "org",
                Access {
                    subject: "ptc-2".into(),
                    ..acc()
                },
                fields("d"),
            )
            .unwrap();
        let mut ids: Vec<String> = v
            .disclose("org", "ptc-1")
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        ids.sort();
        let mut want = vec![a.clone(), b.clone()];
        want.sort();
        assert_eq!(ids, want);
        match v.erase("org", &a, 1_999, "") {
            Err(VaultError::Retained { until, rule }) => {
                assert_eq!(rule, "two-years");
                assert_eq!(until, "1970-01-01 JST");
            }
            other => panic!("{other:?}"),
        }
        assert!(v.get("org", READER, &a).is_ok(), "a refused erasure erased");
        // After the period no basis is needed; before it, one is recorded.
        v.erase("org", &b, 0, "").unwrap();
        v.erase("org", &a, 1_999, "court order 2026-7").unwrap();
        assert_eq!(v.get("org", READER, &a), Err(VaultError::Erased));
        assert!(v.disclose("org", "ptc-1").unwrap().is_empty());
        assert!(matches!(
            v.disclose("org", ""),
            Err(VaultError::InvalidArgument(_))
        ));
    }

    #[test]
    fn round_trip_and_update() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::open(dir.path()).unwrap();
        let (id, c) = v.put("org-hachioji", acc(), fields("山田 太郎")).unwrap();
        validate_id(&id).unwrap();
        let rec = v.get("org-hachioji", READER, &id).unwrap();
        assert_eq!(rec.commitment, c);
        assert_eq!(
            rec.fields,
            vec![
                ("name".to_string(), "山田 太郎".to_string()),
                ("phone".to_string(), "090-1234-5678".to_string())
            ]
        );
        let c2 = v.update("org-hachioji", &id, fields("山田 花子")).unwrap();
        assert_ne!(c, c2);
        let rec = v.get("org-hachioji", READER, &id).unwrap();
        assert_eq!(rec.fields[0].1, "山田 花子");
        assert_eq!(rec.commitment, c2);
        // The old key generation was shredded.
        assert!(!v.key_path(&id, 0).exists());
        assert!(v.key_path(&id, 1).exists());
        // Reopening keeps everything.
        drop(v);
        let v = Vault::open(dir.path()).unwrap();
        assert_eq!(v.get("org-hachioji", READER, &id).unwrap().commitment, c2);
    }

    #[test]
    fn same_content_gives_unlinkable_ids_and_commitments() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::open(dir.path()).unwrap();
        let (id1, c1) = v.put("org", acc(), fields("x")).unwrap();
        let (id2, c2) = v.put("org", acc(), fields("x")).unwrap();
        assert_ne!(id1, id2);
        assert_ne!(c1, c2);
    }

    #[test]
    fn another_organization_is_denied() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::open(dir.path()).unwrap();
        let (id, _) = v.put("org-a", acc(), fields("a")).unwrap();
        assert_eq!(
            v.get("org-b", READER, &id),
            Err(VaultError::PermissionDenied)
        );
        assert_eq!(
            v.update("org-b", &id, fields("b")),
            Err(VaultError::PermissionDenied)
        );
        assert_eq!(
            v.erase("org-b", &id, 0, ""),
            Err(VaultError::PermissionDenied)
        );
        assert_eq!(v.get("org-a", READER, &id).unwrap().fields[0].1, "a");
    }

    #[test]
    fn unknown_and_malformed_ids() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::open(dir.path()).unwrap();
        let unknown = format!("pd_{}", "0".repeat(32));
        assert_eq!(v.get("org", READER, &unknown), Err(VaultError::NotFound));
        for bad in [
            "",
            "pd_",
            "pd_../../etc/passwd",
            &format!("pd_{}", "A".repeat(32)),
        ] {
            assert!(matches!(
                v.get("org", READER, bad),
                Err(VaultError::InvalidArgument(_))
            ));
        }
    }

    #[test]
    fn field_validation() {
        assert!(canonical_fields(vec![]).is_err());
        assert!(canonical_fields(vec![("Name".into(), "x".into())]).is_err());
        assert!(
            canonical_fields(vec![("a".into(), "x".into()), ("a".into(), "y".into())]).is_err()
        );
        assert!(
            canonical_fields(vec![("a".into(), "x".repeat(MAX_FIELD_VALUE_BYTES + 1))]).is_err()
        );
        let many: Vec<_> = (0..=MAX_FIELDS)
            .map(|i| (format!("f{i}"), String::new()))
            .collect();
        assert!(canonical_fields(many).is_err());
        let err =
            canonical_fields(vec![("bad name 090-1234-5678".into(), "x".into())]).unwrap_err();
        assert!(!err.to_string().contains("090"));
    }

    #[test]
    fn erase_then_get_is_erased_and_key_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::open(dir.path()).unwrap();
        let (id, c) = v.put("org", acc(), fields("erase-me")).unwrap();
        assert!(v.verify_commitment("org", READER, &id, &c).unwrap());
        let key = std::fs::read(v.key_path(&id, 0)).unwrap();
        assert_eq!(key.len(), 32);
        v.erase("org", &id, 0, "").unwrap();
        assert_eq!(v.get("org", READER, &id), Err(VaultError::Erased));
        assert_eq!(
            v.verify_commitment("org", READER, &id, &c),
            Err(VaultError::Erased)
        );
        assert_eq!(v.update("org", &id, fields("y")), Err(VaultError::Erased));
        // Retrying an erase is fine; another org still cannot touch the tombstone.
        v.erase("org", &id, 0, "").unwrap();
        assert_eq!(
            v.erase("other", &id, 0, ""),
            Err(VaultError::PermissionDenied)
        );
        v.flush().unwrap();
        drop(v);
        // The key bytes are nowhere under the vault directory any more, so the commitment can
        // not be recomputed from anything the node keeps.
        for f in files_under(dir.path()) {
            let bytes = std::fs::read(&f).unwrap();
            assert!(
                !contains(&bytes, &key),
                "key bytes survive in {}",
                f.display()
            );
        }
        let v = Vault::open(dir.path()).unwrap();
        assert_eq!(v.get("org", READER, &id), Err(VaultError::Erased));
    }

    #[test]
    fn encrypted_at_rest() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::open(dir.path()).unwrap();
        let marker = "ZZ-distinctive-plaintext-8d1f2c-八王子市旭町";
        let (id, _) = v
            .put("org", acc(), vec![("address".into(), marker.into())])
            .unwrap();
        v.flush().unwrap();
        let files = files_under(dir.path());
        assert!(files.len() >= 2, "expected record and key files");
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            assert!(
                !contains(&bytes, marker.as_bytes()),
                "plaintext found in {}",
                f.display()
            );
            assert!(!contains(&bytes, "8d1f2c".as_bytes()));
        }
        // Sanity: the scan can find things (the record id is stored in clear).
        assert!(files
            .iter()
            .any(|f| contains(&std::fs::read(f).unwrap(), id.as_bytes())));
    }

    #[test]
    fn tampered_ciphertext_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::open(dir.path()).unwrap();
        let (id, _) = v.put("org", acc(), fields("x")).unwrap();
        let mut rec = v.load(&id).unwrap();
        if let RecordState::Live { ciphertext, .. } = &mut rec.state {
            if let Some(b) = ciphertext.first_mut() {
                *b ^= 1;
            }
        }
        v.store(&id, &rec).unwrap();
        assert!(matches!(
            v.get("org", READER, &id),
            Err(VaultError::Internal(_))
        ));
    }

    #[test]
    fn only_holders_of_a_reader_role_read_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::open(dir.path()).unwrap();
        let (id, _) = v.put("org", acc(), fields("x")).unwrap();
        assert!(v.get("org", READER, &id).is_ok());
        assert!(v.get("org", &[2, 7], &id).is_ok());
        assert!(matches!(
            v.get("org", &[3, 5], &id),
            Err(VaultError::PermissionDenied)
        ));
        assert!(matches!(
            v.get("other", READER, &id),
            Err(VaultError::PermissionDenied)
        ));
        assert!(matches!(
            v.put(
                "org",
                Access {
                    purpose: 1,
                    readers: vec![],
                    ..Access::default()
                },
                fields("y")
            ),
            Err(VaultError::InvalidArgument(_))
        ));
    }

    #[test]
    fn debug_never_prints_content() {
        let r = VaultRecord {
            id: "pd_x".into(),
            fields: fields("secret-name"),
            commitment: [0; 32],
            access: acc(),
        };
        assert!(!format!("{r:?}").contains("secret-name"));
    }
}
