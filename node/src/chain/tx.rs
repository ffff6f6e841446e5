//! The stateless rules of a transaction that every node applies the same way at the mempool
//! and when validating a block: size, decoding, chain id, nonce, signature, expiry window.
//! The bytes and ids are `yui_client::tx`'s, so a client and a node cannot disagree on them.

use prost::Message as _;
use std::sync::Arc;
use yui_client::tx::{sign_bytes, RawTx, NONCE_BYTES};
use yui_consensus::sig::Key;
use yui_consensus::Hash;
use yui_proto::v1 as pb;

/// Largest accepted `SignedTransaction.body`.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a transaction is not admitted, named by its fact. Each variant reads as a sentence
/// for the developer who sent it; `api::status` maps each to its gRPC code in one place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    /// The body is larger than [`MAX_BODY_BYTES`].
    #[error("the transaction body is {bytes} bytes; the limit is {MAX_BODY_BYTES} bytes")]
    TooLarge {
        /// Its size.
        bytes: usize,
    },
    /// The bytes are not a well-formed transaction (empty, not a `TxBody`, a field of the
    /// wrong size, no call).
    #[error("{0}")]
    Malformed(String),
    /// Signed for another chain.
    #[error("the transaction is for chain {got:?}, but this is chain {expected:?}")]
    WrongChain {
        /// The body's chain id (cut to 64 characters).
        got: String,
        /// This chain's id.
        expected: String,
    },
    /// The signature does not verify.
    #[error("the signature does not verify for this body and signer")]
    BadSignature,
    /// The personal-data guard refused a field.
    #[error("{0}")]
    PersonalData(String),
    /// Its expiry height has passed.
    #[error("the transaction expired at height {expires_at_height}; the next block is {next_height}. Build it again with a later expires_at_height")]
    Expired {
        /// The body's expiry height.
        expires_at_height: u64,
        /// The next block's height.
        next_height: u64,
    },
    /// Its expiry height is beyond the window.
    #[error("expires_at_height {expires_at_height} is too far ahead: at most {limit} (next block {next_height} + max_expiry_blocks {max_expiry_blocks})")]
    ExpiryTooFar {
        /// The body's expiry height.
        expires_at_height: u64,
        /// The highest allowed.
        limit: u64,
        /// The next block's height.
        next_height: u64,
        /// The window.
        max_expiry_blocks: u64,
    },
    /// The body is pending already.
    #[error("this transaction body was already accepted (pending as {pending}); a body is accepted once within its expiry window")]
    DuplicatePending {
        /// The pending transaction's id.
        pending: Hash,
    },
    /// The body was committed within its expiry window.
    #[error("this transaction body is already committed; a body is accepted once within its expiry window")]
    DuplicateCommitted,
    /// No room in the mempool.
    #[error("the mempool is full ({pending} transactions); retry in a few seconds")]
    MempoolFull {
        /// Transactions pending.
        pending: usize,
    },
    /// The contracts refuse the call before it runs (the signer lacks the role, an object
    /// does not exist, ...).
    #[error("{}", .0.message)]
    Refused(yui_contracts::Invalid),
    /// This node failed while checking (its store).
    #[error("{0}")]
    Internal(String),
}

impl From<yui_contracts::ContractError> for Reject {
    fn from(e: yui_contracts::ContractError) -> Reject {
        match e {
            yui_contracts::ContractError::Invalid(i) => Reject::Refused(i),
            yui_contracts::ContractError::Failed(f) => Reject::Internal(f.to_string()),
        }
    }
}

/// A decoded transaction whose signature and chain id were checked. Cheap to clone (the
/// bytes and the call are shared): the mempool hands the same transaction to every proposal
/// and block validation that needs it.
#[derive(Clone, Debug)]
pub struct CheckedTx {
    /// As signed.
    pub raw: Arc<RawTx>,
    /// Its id.
    pub id: Hash,
    /// Replay-protection key.
    pub body_hash: Hash,
    /// The signer's key.
    pub signer: [u8; 32],
    /// Last height it may be included at.
    pub expires_at_height: u64,
    /// The call.
    pub call: Arc<pb::tx_body::Call>,
}

/// Stateless checks: size, decoding, chain id, a call present, the signature (ZIP 215).
pub fn check_stateless(raw: RawTx, chain_id: &str) -> Result<CheckedTx, Reject> {
    let (tx, sig) = decode_stateless(raw, chain_id)?;
    let key = verifying_key(&tx.signer)
        .ok_or_else(|| Reject::Malformed("the signer is not a valid ed25519 public key".into()))?;
    if !key.verify(&sign_bytes(&tx.raw.body), &sig) {
        return Err(Reject::BadSignature);
    }
    Ok(tx)
}

/// [`check_stateless`] of many transactions, their signatures checked in one batch (the same
/// answers, about twice as fast; `yui_consensus::sig`). Results in input order.
pub fn check_stateless_batch(raws: Vec<RawTx>, chain_id: &str) -> Vec<Result<CheckedTx, Reject>> {
    let decoded: Vec<Result<(CheckedTx, [u8; 64]), Reject>> = raws
        .into_iter()
        .map(|raw| decode_stateless(raw, chain_id))
        .collect();
    let mut batch = yui_consensus::sig::Batch::new();
    for (tx, sig) in decoded.iter().flatten() {
        batch.queue(tx.signer, sign_bytes(&tx.raw.body), *sig);
    }
    let mut valid = batch.verify_each().into_iter();
    decoded
        .into_iter()
        .map(|d| {
            let (tx, _) = d?;
            if valid.next().unwrap_or(false) {
                Ok(tx)
            } else {
                Err(Reject::BadSignature)
            }
        })
        .collect()
}

/// Everything [`check_stateless`] checks but the signature, which it returns.
fn decode_stateless(raw: RawTx, chain_id: &str) -> Result<(CheckedTx, [u8; 64]), Reject> {
    if raw.body.len() > MAX_BODY_BYTES {
        return Err(Reject::TooLarge {
            bytes: raw.body.len(),
        });
    }
    if raw.body.is_empty() {
        return Err(Reject::Malformed("the transaction body is empty".into()));
    }
    let body = pb::TxBody::decode(raw.body.as_slice()).map_err(|e| {
        Reject::Malformed(format!(
            "the transaction body is not a valid TxBody protobuf message: {e}"
        ))
    })?;
    // Canonical bytes only (tx.proto): what was signed is exactly what the node understood.
    // prost drops unknown fields when decoding and writes fields in number order without
    // defaults, so any unknown field (at any depth), duplicate, out-of-order or default-valued
    // field makes the re-encoding differ.
    if body.encoded_len() != raw.body.len() || body.encode_to_vec() != raw.body {
        return Err(Reject::Malformed(
            "the transaction body is not in canonical form: it has fields this chain does not define (at some depth), or fields repeated, out of order or set to their default value. Encode the TxBody with a standard protobuf encoder from the published .proto files and sign exactly those bytes".into(),
        ));
    }
    if body.chain_id != chain_id {
        return Err(Reject::WrongChain {
            got: truncate(&body.chain_id, 64),
            expected: chain_id.to_string(),
        });
    }
    let signer: [u8; 32] = body.signer.as_slice().try_into().map_err(|_| {
        Reject::Malformed(format!(
            "the signer must be a 32-byte ed25519 public key, got {} bytes",
            body.signer.len()
        ))
    })?;
    if body.nonce.len() != NONCE_BYTES {
        return Err(Reject::Malformed(format!(
            "the nonce must be 16 random bytes, got {} bytes",
            body.nonce.len()
        )));
    }
    let call = body.call.ok_or_else(|| {
        Reject::Malformed(
            "the transaction has no call, or a call this node does not know (is the client newer than the node?)".into(),
        )
    })?;
    let sig: [u8; 64] = raw.signature.as_slice().try_into().map_err(|_| {
        Reject::Malformed(format!(
            "the signature must be 64 bytes, got {} bytes",
            raw.signature.len()
        ))
    })?;
    Ok((
        CheckedTx {
            id: raw.id(),
            body_hash: raw.body_hash(),
            raw: Arc::new(raw),
            signer,
            expires_at_height: body.expires_at_height,
            call: Arc::new(call),
        },
        sig,
    ))
}

/// The expiry window: a transaction for block `next_height` must expire at or after it and
/// at most `max_expiry_blocks` after it.
pub fn check_expiry(
    tx: &CheckedTx,
    next_height: u64,
    max_expiry_blocks: u64,
) -> Result<(), Reject> {
    if tx.expires_at_height < next_height {
        return Err(Reject::Expired {
            expires_at_height: tx.expires_at_height,
            next_height,
        });
    }
    let limit = next_height.saturating_add(max_expiry_blocks);
    if tx.expires_at_height > limit {
        return Err(Reject::ExpiryTooFar {
            expires_at_height: tx.expires_at_height,
            limit,
            next_height,
            max_expiry_blocks,
        });
    }
    Ok(())
}

/// Signers whose decompressed keys are kept: decompressing a public key is about a tenth of a
/// signature check, and a ledger's signers (apps' backends, meters, staff) sign again and again.
const KEY_CACHE: usize = 16_384;

/// The decompressed key of `signer` (`None` if it is not a valid point encoding), from the
/// cache when it was seen before. The same function of the bytes either way.
fn verifying_key(signer: &[u8; 32]) -> Option<Key> {
    static CACHE: std::sync::OnceLock<quick_cache::sync::Cache<[u8; 32], Key>> =
        std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(|| quick_cache::sync::Cache::new(KEY_CACHE));
    if let Some(k) = cache.get(signer) {
        return Some(k);
    }
    let k = Key::from_bytes(signer)?;
    cache.insert(*signer, k);
    Some(k)
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(key: &ed25519_dalek::SigningKey, body: Vec<u8>) -> RawTx {
        let signature = ed25519_dalek::Signer::sign(key, &sign_bytes(&body))
            .to_bytes()
            .to_vec();
        RawTx { body, signature }
    }

    fn grant_body(key: &ed25519_dalek::SigningKey) -> pb::TxBody {
        yui_client::tx::body_with_nonce(
            key,
            "c",
            10,
            [7; 16],
            pb::tx_body::Call::Governance(pb::GovernanceCall {
                call: Some(pb::governance_call::Call::GrantRole(pb::GrantRole {
                    account: vec![1; 32],
                    role: Some(pb::Role {
                        kind: pb::RoleKind::RoleDonor as i32,
                        scope: "s".into(),
                    }),
                })),
            }),
        )
    }

    /// A length-delimited field `n` holding `inner`.
    fn field(n: u32, inner: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        prost::encoding::encode_key(n, prost::encoding::WireType::LengthDelimited, &mut out);
        prost::encoding::encode_varint(inner.len() as u64, &mut out);
        out.extend_from_slice(inner);
        out
    }

    fn refused_as_non_canonical(raw: RawTx) {
        match check_stateless(raw.clone(), "c") {
            Err(Reject::Malformed(m)) => assert!(m.contains("canonical"), "{m}"),
            other => panic!("accepted or refused otherwise: {other:?}"),
        }
        let batch = check_stateless_batch(vec![raw], "c");
        assert!(matches!(&batch[0], Err(Reject::Malformed(m)) if m.contains("canonical")));
    }

    #[test]
    fn only_canonical_bodies_are_accepted_at_any_depth() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let body = grant_body(&key);
        let canonical = body.encode_to_vec();
        assert!(check_stateless(signed(&key, canonical.clone()), "c").is_ok());
        // An unknown field in the body itself (a string smuggling text).
        let mut top = canonical.clone();
        top.extend(field(99, "山田太郎 090-1234-5678".as_bytes()));
        refused_as_non_canonical(signed(&key, top));
        // An unknown field inside the nested Role (TxBody.governance.grant_role.role).
        let mut role = pb::Role {
            kind: pb::RoleKind::RoleDonor as i32,
            scope: "s".into(),
        }
        .encode_to_vec();
        role.extend(field(15, b"hidden"));
        let mut grant = pb::GrantRole {
            account: vec![1; 32],
            role: None,
        }
        .encode_to_vec();
        grant.extend(field(2, &role));
        let gov = field(1, &grant);
        let mut nested = pb::TxBody {
            call: None,
            ..body.clone()
        }
        .encode_to_vec();
        nested.extend(field(10, &gov));
        refused_as_non_canonical(signed(&key, nested));
        // A default value written out: the empty scope string, encoded anyway.
        let mut with_default = pb::TxBody {
            call: None,
            ..body.clone()
        }
        .encode_to_vec();
        let mut g2 = pb::GrantRole {
            account: vec![1; 32],
            role: None,
        }
        .encode_to_vec();
        let mut r2 = pb::Role {
            kind: pb::RoleKind::RoleDonor as i32,
            scope: String::new(),
        }
        .encode_to_vec();
        r2.extend(field(2, b""));
        g2.extend(field(2, &r2));
        with_default.extend(field(10, &field(1, &g2)));
        refused_as_non_canonical(signed(&key, with_default));
        // The same fields in another order.
        let chain = field(1, b"c");
        let rest = &canonical[chain.len()..];
        let mut reordered = rest.to_vec();
        reordered.extend(&chain);
        assert_eq!(
            pb::TxBody::decode(reordered.as_slice()).unwrap(),
            body,
            "the same message, other bytes"
        );
        refused_as_non_canonical(signed(&key, reordered));
    }

    #[test]
    fn cached_keys_check_the_signatures_the_bytes_check() {
        for seed in 0u8..20 {
            let sk = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
            let bytes = sk.verifying_key().to_bytes();
            let sig = ed25519_dalek::Signer::sign(&sk, b"m").to_bytes();
            // First from the decoder, then from the cache: the same answers both times.
            for _ in 0..2 {
                let k = verifying_key(&bytes).expect("a valid key");
                assert!(k.verify(b"m", &sig));
                assert!(!k.verify(b"n", &sig));
            }
        }
        // Not a point on the curve: refused every time, never cached as valid.
        let bad = (0u8..=255)
            .map(|b| {
                let mut x = [0xffu8; 32];
                x[0] = b;
                x
            })
            .find(|x| Key::from_bytes(x).is_none())
            .unwrap_or([0xff; 32]);
        assert!(verifying_key(&bad).is_none());
        assert!(verifying_key(&bad).is_none());
    }
}
