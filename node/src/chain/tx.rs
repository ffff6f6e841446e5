//! The stateless rules of a transaction that every node applies the same way at the mempool
//! and when validating a block: size, decoding, chain id, nonce, signature, expiry window.
//! The bytes and ids are `yui_client::tx`'s, so a client and a node cannot disagree on them.

use ed25519_dalek::{Signature, VerifyingKey};
use prost::Message as _;
use yui_client::tx::{sign_bytes, RawTx};
use yui_consensus::Hash;
use yui_proto::v1 as pb;

/// Largest accepted `SignedTransaction.body`.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a transaction is rejected, with the gRPC code it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    /// INVALID_ARGUMENT.
    #[error("{0}")]
    InvalidArgument(String),
    /// FAILED_PRECONDITION.
    #[error("{0}")]
    FailedPrecondition(String),
    /// PERMISSION_DENIED.
    #[error("{0}")]
    PermissionDenied(String),
    /// ALREADY_EXISTS.
    #[error("{0}")]
    AlreadyExists(String),
    /// RESOURCE_EXHAUSTED.
    #[error("{0}")]
    ResourceExhausted(String),
    /// NOT_FOUND (contract objects).
    #[error("{0}")]
    NotFound(String),
    /// INTERNAL: this node's fault.
    #[error("{0}")]
    Internal(String),
}

impl From<yui_contracts::ContractError> for Reject {
    fn from(e: yui_contracts::ContractError) -> Reject {
        use yui_contracts::InvalidKind as K;
        match e {
            yui_contracts::ContractError::Invalid(i) => match i.kind {
                K::Argument => Reject::InvalidArgument(i.message),
                K::Permission => Reject::PermissionDenied(i.message),
                K::NotFound => Reject::NotFound(i.message),
                K::AlreadyExists => Reject::AlreadyExists(i.message),
                K::Precondition => Reject::FailedPrecondition(i.message),
            },
            yui_contracts::ContractError::Failed(f) => Reject::Internal(f.to_string()),
        }
    }
}

/// A decoded transaction whose signature and chain id were checked.
#[derive(Clone, Debug)]
pub struct CheckedTx {
    /// As signed.
    pub raw: RawTx,
    /// Its id.
    pub id: Hash,
    /// Replay-protection key.
    pub body_hash: Hash,
    /// The signer's key.
    pub signer: [u8; 32],
    /// Last height it may be included at.
    pub expires_at_height: u64,
    /// The call.
    pub call: pb::tx_body::Call,
}

/// Stateless checks: size, decoding, chain id, a call present, strict signature.
pub fn check_stateless(raw: RawTx, chain_id: &str) -> Result<CheckedTx, Reject> {
    if raw.body.len() > MAX_BODY_BYTES {
        return Err(Reject::InvalidArgument(format!(
            "the transaction body is {} bytes; the limit is {MAX_BODY_BYTES} bytes",
            raw.body.len()
        )));
    }
    if raw.body.is_empty() {
        return Err(Reject::InvalidArgument(
            "the transaction body is empty".into(),
        ));
    }
    let body = pb::TxBody::decode(raw.body.as_slice()).map_err(|e| {
        Reject::InvalidArgument(format!(
            "the transaction body is not a valid TxBody protobuf message: {e}"
        ))
    })?;
    if body.chain_id != chain_id {
        return Err(Reject::InvalidArgument(format!(
            "the transaction is for chain {:?}, but this is chain {chain_id:?}",
            truncate(&body.chain_id, 64)
        )));
    }
    let signer: [u8; 32] = body.signer.as_slice().try_into().map_err(|_| {
        Reject::InvalidArgument(format!(
            "the signer must be a 32-byte ed25519 public key, got {} bytes",
            body.signer.len()
        ))
    })?;
    if body.nonce.len() != 16 {
        return Err(Reject::InvalidArgument(format!(
            "the nonce must be 16 random bytes, got {} bytes",
            body.nonce.len()
        )));
    }
    let call = body.call.ok_or_else(|| {
        Reject::InvalidArgument(
            "the transaction has no call, or a call this node does not know (is the client newer than the node?)".into(),
        )
    })?;
    let sig: [u8; 64] = raw.signature.as_slice().try_into().map_err(|_| {
        Reject::InvalidArgument(format!(
            "the signature must be 64 bytes, got {} bytes",
            raw.signature.len()
        ))
    })?;
    let key = verifying_key(&signer).ok_or_else(|| {
        Reject::InvalidArgument("the signer is not a valid ed25519 public key".into())
    })?;
    key.verify_strict(&sign_bytes(&raw.body), &Signature::from_bytes(&sig))
        .map_err(|_| {
            Reject::InvalidArgument("the signature does not verify for this body and signer".into())
        })?;
    Ok(CheckedTx {
        id: raw.id(),
        body_hash: raw.body_hash(),
        raw,
        signer,
        expires_at_height: body.expires_at_height,
        call,
    })
}

/// The expiry window: a transaction for block `next_height` must expire at or after it and
/// at most `max_expiry_blocks` after it.
pub fn check_expiry(
    tx: &CheckedTx,
    next_height: u64,
    max_expiry_blocks: u64,
) -> Result<(), Reject> {
    if tx.expires_at_height < next_height {
        return Err(Reject::FailedPrecondition(format!(
            "the transaction expired at height {}; the next block is {next_height}. Build it again with a later expires_at_height",
            tx.expires_at_height
        )));
    }
    let limit = next_height.saturating_add(max_expiry_blocks);
    if tx.expires_at_height > limit {
        return Err(Reject::FailedPrecondition(format!(
            "expires_at_height {} is too far ahead: at most {limit} (next block {next_height} + max_expiry_blocks {max_expiry_blocks})",
            tx.expires_at_height
        )));
    }
    Ok(())
}

/// Signers whose decompressed keys are kept: decompressing a public key is about a tenth of a
/// signature check, and a ledger's signers (apps' backends, meters, staff) sign again and again.
const KEY_CACHE: usize = 16_384;

/// The decompressed key of `signer` (`None` if it is not a valid point encoding), from the
/// cache when it was seen before. The same function of the bytes either way.
fn verifying_key(signer: &[u8; 32]) -> Option<VerifyingKey> {
    static CACHE: std::sync::OnceLock<quick_cache::sync::Cache<[u8; 32], VerifyingKey>> =
        std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(|| quick_cache::sync::Cache::new(KEY_CACHE));
    if let Some(k) = cache.get(signer) {
        return Some(k);
    }
    let k = VerifyingKey::from_bytes(signer).ok()?;
    cache.insert(*signer, k);
    Some(k)
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_keys_are_the_keys_the_bytes_decode_to() {
        for seed in 0u8..20 {
            let k = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key();
            let bytes = k.to_bytes();
            // First from the decoder, then from the cache: the same key both times.
            assert_eq!(verifying_key(&bytes), Some(k));
            assert_eq!(verifying_key(&bytes), Some(k));
        }
        // Not a point on the curve: refused every time, never cached as valid.
        let bad = (0u8..=255)
            .map(|b| {
                let mut x = [0xffu8; 32];
                x[0] = b;
                x
            })
            .find(|x| VerifyingKey::from_bytes(x).is_err())
            .unwrap_or([0xff; 32]);
        assert!(VerifyingKey::from_bytes(&bad).is_err());
        assert_eq!(verifying_key(&bad), None);
        assert_eq!(verifying_key(&bad), None);
    }
}
