//! Backup and restore of one organization's part of the vault, so a node lost in a disaster
//! does not lose residents' data.
//!
//! A backup is an age file (age-encryption.org/v1, X25519 recipient) of a borsh bundle: every
//! record of the organization as stored (its ciphertext, or its tombstone), the key of every
//! live record, and the organization's access log. The recipient is the public half of a
//! recovery key the organization's operator keeps offline (`yui vault recovery-key`); the node
//! never sees the secret half, and the file is unreadable without it — also to the standard
//! `age` tools, which can decrypt it given the identity.
//!
//! Restore takes the decrypted bundle. It never overwrites what the vault already holds (an
//! erased record stays erased, a newer record stays), restores a tombstone as a tombstone, and
//! turns into a tombstone every record the ledger says was erased after the backup (the daily
//! access-log anchors list the day's erased records). Restoring is logged in the access log.

use super::{internal, Result, StoredRecord, Vault, VaultError, RECORD_ID_PREFIX};
use crate::storage::Batch;
use borsh::{BorshDeserialize, BorshSerialize};
use std::io::Write;
use std::str::FromStr;
use zeroize::Zeroizing;

/// The bundle format's version.
const BUNDLE_VERSION: u32 = 1;

/// What a backup holds, before encryption.
#[derive(BorshSerialize, BorshDeserialize)]
pub struct Bundle {
    /// Format version.
    version: u32,
    /// The organization whose records these are.
    pub org: String,
    /// When it was taken (Unix ms).
    pub taken_at_ms: u64,
    records: Vec<BundleRecord>,
    /// Access log keys and values of the organization (entries and day tips).
    log: Vec<(Vec<u8>, Vec<u8>)>,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct BundleRecord {
    id: String,
    /// The `StoredRecord`, borsh, as stored.
    stored: Vec<u8>,
    /// The live record's key: (generation, 32 bytes).
    key: Option<(u64, [u8; 32])>,
}

impl Drop for BundleRecord {
    fn drop(&mut self) {
        if let Some((_, k)) = self.key.as_mut() {
            zeroize::Zeroize::zeroize(k);
        }
    }
}

impl Bundle {
    /// How many records (live or erased) it holds.
    pub fn records(&self) -> usize {
        self.records.len()
    }
}

/// What a restore did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Live records restored with their keys.
    pub live: u64,
    /// Tombstones restored as they were.
    pub erased: u64,
    /// Records live in the backup that the ledger says were erased since: kept erased.
    pub erased_since: u64,
    /// Records the vault already held (left as they are).
    pub skipped: u64,
}

/// A recovery key: an age X25519 identity (`AGE-SECRET-KEY-1…`) and its recipient (`age1…`).
pub fn new_recovery_key() -> (Zeroizing<String>, String) {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    let recipient = id.to_public().to_string();
    (
        Zeroizing::new(id.to_string().expose_secret().to_string()),
        recipient,
    )
}

/// Parse a recipient (`age1…`).
pub fn parse_recipient(s: &str) -> Result<age::x25519::Recipient> {
    age::x25519::Recipient::from_str(s.trim()).map_err(|_| {
        VaultError::InvalidArgument(
            "the recipient must be an age X25519 public key (age1…), as `yui vault recovery-key` prints it".into(),
        )
    })
}

/// Decrypt a backup file with the recovery identity (`AGE-SECRET-KEY-1…`, the file
/// `yui vault recovery-key` wrote) and decode its bundle.
pub fn open_backup(identity: &str, file: &[u8]) -> Result<Bundle> {
    let id = identity
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .and_then(|l| age::x25519::Identity::from_str(l).ok())
        .ok_or_else(|| {
            VaultError::InvalidArgument("the recovery key file holds no age identity".into())
        })?;
    let plain = Zeroizing::new(age::decrypt(&id, file).map_err(|_| {
        VaultError::InvalidArgument(
            "the backup does not decrypt with this recovery key (another key, or a damaged file)"
                .into(),
        )
    })?);
    decode_bundle(&plain)
}

/// Decode a decrypted bundle.
pub fn decode_bundle(plain: &[u8]) -> Result<Bundle> {
    let b = Bundle::try_from_slice(plain)
        .map_err(|_| VaultError::InvalidArgument("the backup's content does not decode".into()))?;
    if b.version != BUNDLE_VERSION {
        return Err(VaultError::InvalidArgument(format!(
            "backup format version {} is not supported (this build reads {BUNDLE_VERSION})",
            b.version
        )));
    }
    Ok(b)
}

impl Vault {
    /// An encrypted backup of every record and the access log of `org`, to `recipient`.
    pub fn backup(
        &self,
        org: &str,
        recipient: &age::x25519::Recipient,
        now_ms: u64,
    ) -> Result<(Vec<u8>, usize)> {
        let _guard = self.lock();
        let mut records = Vec::new();
        self.scan_all(RECORD_ID_PREFIX.as_bytes(), |k, v| {
            let rec = StoredRecord::try_from_slice(&v).map_err(internal)?;
            if rec.org != org {
                return Ok(true);
            }
            let id = String::from_utf8(k).map_err(internal)?;
            let key = match rec.state {
                super::RecordState::Live { generation, .. } => {
                    self.read_key(&id, generation)?.map(|k| (generation, *k))
                }
                super::RecordState::Erased { .. } => None,
            };
            records.push(BundleRecord { id, stored: v, key });
            Ok(true)
        })?;
        let mut log = Vec::new();
        for prefix in super::log::org_prefixes(org) {
            self.scan_all(&prefix, |k, v| {
                log.push((k, v));
                Ok(true)
            })?;
        }
        let count = records.len();
        let bundle = Bundle {
            version: BUNDLE_VERSION,
            org: org.to_string(),
            taken_at_ms: now_ms,
            records,
            log,
        };
        let plain = Zeroizing::new(borsh::to_vec(&bundle).map_err(internal)?);
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
                .map_err(|_| internal("no backup recipient"))?;
        let mut out = Vec::with_capacity(plain.len() + 256);
        let mut w = encryptor
            .wrap_output(&mut out)
            .map_err(|_| internal("backup encryption failed"))?;
        w.write_all(&plain).map_err(internal)?;
        w.finish().map_err(internal)?;
        tracing::info!(org = %org, records = count, op = "backup", "vault access");
        Ok((out, count))
    }

    /// Restore `bundle` into this vault for `org` (the caller's organization; the bundle must be
    /// of it). `erased_on_ledger` says whether the ledger lists a record as erased.
    pub fn restore(
        &self,
        org: &str,
        bundle: &Bundle,
        erased_on_ledger: &dyn Fn(&str) -> bool,
        now_ms: u64,
    ) -> Result<Restored> {
        if bundle.org != org {
            return Err(VaultError::PermissionDenied);
        }
        // Check everything before writing anything.
        let mut decoded = Vec::with_capacity(bundle.records.len());
        for r in &bundle.records {
            super::validate_id(&r.id)?;
            let rec = StoredRecord::try_from_slice(&r.stored).map_err(|_| {
                VaultError::InvalidArgument("a record in the backup does not decode".into())
            })?;
            if rec.org != org {
                return Err(VaultError::InvalidArgument(
                    "the backup holds a record of another organization".into(),
                ));
            }
            decoded.push((r, rec));
        }
        if !bundle.log.iter().all(|(k, _)| {
            super::log::org_prefixes(org)
                .iter()
                .any(|p| k.starts_with(p))
        }) {
            return Err(VaultError::InvalidArgument(
                "the backup holds access log entries of another organization".into(),
            ));
        }
        let _guard = self.lock();
        let mut done = Restored::default();
        for (r, rec) in decoded {
            if self
                .inner
                .records
                .get(r.id.as_bytes())
                .map_err(internal)?
                .is_some()
            {
                done.skipped += 1;
                continue;
            }
            match (&rec.state, r.key) {
                (super::RecordState::Live { .. }, Some(_)) if erased_on_ledger(&r.id) => {
                    self.store(
                        &r.id,
                        &StoredRecord {
                            org: rec.org.clone(),
                            access: rec.access.clone(),
                            state: super::RecordState::Erased {
                                at_ms: now_ms,
                                legal_basis: String::new(),
                            },
                        },
                    )?;
                    done.erased_since += 1;
                }
                (super::RecordState::Live { generation, .. }, Some((g, key)))
                    if *generation == g =>
                {
                    // Key first: a record never points at a key that is not durable yet.
                    self.write_key(&r.id, g, &key)?;
                    self.store(&r.id, &rec)?;
                    done.live += 1;
                }
                (super::RecordState::Live { .. }, _) => {
                    return Err(VaultError::InvalidArgument(
                        "a live record in the backup has no key of its generation".into(),
                    ))
                }
                (super::RecordState::Erased { .. }, _) => {
                    self.store(&r.id, &rec)?;
                    done.erased += 1;
                }
            }
        }
        // The log: days this vault does not have yet.
        let mut batch = Batch::default();
        for (k, v) in &bundle.log {
            if self.inner.records.get(k).map_err(internal)?.is_none() {
                batch.put(k.clone(), v.clone());
            }
        }
        self.inner.records.write(batch).map_err(internal)?;
        self.inner.records.flush().map_err(internal)?;
        tracing::info!(org = %org, live = done.live, erased = done.erased, erased_since = done.erased_since, skipped = done.skipped, op = "restore", "vault access");
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::Access;

    fn access() -> Access {
        Access {
            purpose: 1,
            readers: vec![2],
            ..Access::default()
        }
    }

    #[test]
    fn backup_wipe_restore_keeps_erased_records_erased() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::open(dir.path()).unwrap();
        let phone = |n: &str| vec![("phone".to_string(), format!("090-1234-{n}"))];
        let (a, ca) = v.put("tama", access(), phone("0001")).unwrap();
        let (b, _) = v.put("tama", access(), phone("0002")).unwrap();
        let (c, _) = v.put("tama", access(), phone("0003")).unwrap();
        let (other, _) = v.put("hachioji", access(), phone("0004")).unwrap();
        v.erase("tama", &b, 1, "").unwrap();
        let (secret, recipient) = new_recovery_key();
        let (file, n) = v
            .backup("tama", &parse_recipient(&recipient).unwrap(), 2)
            .unwrap();
        assert_eq!(n, 3);
        // Encrypted: none of the values, and unreadable with another key.
        assert!(!file.windows(4).any(|w| w == b"0001"));
        let (wrong, _) = new_recovery_key();
        assert!(open_backup(&wrong, &file).is_err());
        // After the backup, c is erased; the ledger will say so.
        v.erase("tama", &c, 3, "").unwrap();
        drop(v);
        std::fs::remove_dir_all(dir.path()).unwrap();

        let v = Vault::open(dir.path()).unwrap();
        let bundle = open_backup(&secret, &file).unwrap();
        assert!(matches!(
            v.restore("hachioji", &bundle, &|_| false, 4),
            Err(VaultError::PermissionDenied)
        ));
        let done = v.restore("tama", &bundle, &|id| id == c, 4).unwrap();
        assert_eq!(
            done,
            Restored {
                live: 1,
                erased: 1,
                erased_since: 1,
                skipped: 0
            }
        );
        let got = v.get("tama", &[2], &a).unwrap();
        assert_eq!(got.fields, phone("0001"));
        assert_eq!(got.commitment, ca);
        assert_eq!(v.get("tama", &[2], &b).unwrap_err(), VaultError::Erased);
        assert_eq!(v.get("tama", &[2], &c).unwrap_err(), VaultError::Erased);
        assert_eq!(
            v.get("hachioji", &[2], &other).unwrap_err(),
            VaultError::NotFound
        );
        // A second restore changes nothing (an erased record never comes back).
        let again = v.restore("tama", &bundle, &|_| false, 5).unwrap();
        assert_eq!(again.skipped, 3);
        assert_eq!(v.get("tama", &[2], &c).unwrap_err(), VaultError::Erased);
    }
}
