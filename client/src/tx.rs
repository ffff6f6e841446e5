//! Signed transactions as every client builds them (the Cosmos SIGN_MODE_DIRECT idea): a
//! `TxBody` is encoded once, the signature covers `"yui/v1/tx-signature\0" || body`, and the
//! node stores and hashes those exact bytes. A transaction's id covers body and signature;
//! replay protection is keyed on the body alone, so a re-signed copy of a body is a duplicate.

use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signer as _, SigningKey};
use prost::Message as _;
use yui_consensus::hash::{domain, hash_parts};
use yui_consensus::Hash;
use yui_proto::v1 as pb;

/// Length of a body's nonce: 16 random bytes make every body unique, so a backend may submit
/// many transactions in parallel with no nonce ordering.
pub const NONCE_BYTES: usize = 16;

/// A signed transaction exactly as submitted and stored in blocks.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct RawTx {
    /// The exact `TxBody` bytes that were signed.
    pub body: Vec<u8>,
    /// The signature.
    pub signature: Vec<u8>,
}

impl RawTx {
    /// From the API message.
    pub fn from_proto(t: pb::SignedTransaction) -> RawTx {
        RawTx {
            body: t.body,
            signature: t.signature,
        }
    }
    /// To the API message.
    pub fn to_proto(&self) -> pb::SignedTransaction {
        pb::SignedTransaction {
            body: self.body.clone(),
            signature: self.signature.clone(),
        }
    }
    /// The transaction id: `blake3("yui/v1/tx-id\0" || u32_le(len(body)) || body || signature)`.
    pub fn id(&self) -> Hash {
        tx_id(&self.body, &self.signature)
    }
    /// The replay-protection key: a hash of the body alone, so a re-signed copy of the same
    /// body is still a duplicate.
    pub fn body_hash(&self) -> Hash {
        hash_parts(domain::TX_BODY, &[&self.body])
    }
}

/// The id of the transaction with these body bytes and signature.
pub fn tx_id(body: &[u8], signature: &[u8]) -> Hash {
    // A body is at most 64 KiB (the node refuses larger ones), so its length fits in a u32;
    // a longer slice would saturate and never be accepted by any node anyway.
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes();
    hash_parts(domain::TX_ID, &[&len, body, signature])
}

/// The bytes a signer signs for a body.
pub fn sign_bytes(body: &[u8]) -> Vec<u8> {
    [domain::TX_SIGNATURE, body].concat()
}

/// 16 bytes from the operating system's random number generator.
///
/// # Panics
/// If the operating system has no random number generator to give: a transaction with a
/// predictable nonce could collide with another one, so there is no safe fallback.
pub fn random_nonce() -> [u8; NONCE_BYTES] {
    let mut n = [0u8; NONCE_BYTES];
    getrandom::fill(&mut n).expect("the operating system's random number generator failed");
    n
}

/// A fresh random signing key.
///
/// # Panics
/// As [`random_nonce`], if the operating system has no random number generator.
pub fn random_key() -> SigningKey {
    let mut s = [0u8; 32];
    getrandom::fill(&mut s).expect("the operating system's random number generator failed");
    SigningKey::from_bytes(&s)
}

/// The body of `call` by `key` for chain `chain_id`, valid up to `expires_at_height`, with a
/// random nonce.
pub fn body(
    key: &SigningKey,
    chain_id: &str,
    expires_at_height: u64,
    call: pb::tx_body::Call,
) -> pb::TxBody {
    body_with_nonce(key, chain_id, expires_at_height, random_nonce(), call)
}

/// [`body`] with a nonce of the caller's choosing (benchmarks and tests that need
/// reproducible bodies; any two bodies of one signer must differ somewhere).
pub fn body_with_nonce(
    key: &SigningKey,
    chain_id: &str,
    expires_at_height: u64,
    nonce: [u8; NONCE_BYTES],
    call: pb::tx_body::Call,
) -> pb::TxBody {
    pb::TxBody {
        chain_id: chain_id.to_string(),
        signer: key.verifying_key().to_bytes().to_vec(),
        expires_at_height,
        nonce: nonce.to_vec(),
        call: Some(call),
    }
}

/// Encode `body` and sign the bytes: the transaction to submit.
pub fn sign(key: &SigningKey, body: &pb::TxBody) -> pb::SignedTransaction {
    let bytes = body.encode_to_vec();
    let signature = key.sign(&sign_bytes(&bytes)).to_bytes().to_vec();
    pb::SignedTransaction {
        body: bytes,
        signature,
    }
}

/// Builds and signs one account's transactions for one chain.
#[derive(Clone)]
pub struct TxBuilder {
    key: SigningKey,
    chain_id: String,
}

impl TxBuilder {
    /// Transactions of `key`'s account on chain `chain_id`.
    pub fn new(key: SigningKey, chain_id: impl Into<String>) -> TxBuilder {
        TxBuilder {
            key,
            chain_id: chain_id.into(),
        }
    }
    /// The signing account's public key.
    pub fn account(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }
    /// The chain these transactions are for.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }
    /// `call`, signed, valid up to `expires_at_height`, with a random nonce.
    pub fn build(&self, expires_at_height: u64, call: pb::tx_body::Call) -> pb::SignedTransaction {
        sign(
            &self.key,
            &body(&self.key, &self.chain_id, expires_at_height, call),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier as _};

    fn call() -> pb::tx_body::Call {
        pb::tx_body::Call::Governance(pb::GovernanceCall { call: None })
    }

    #[test]
    fn a_signed_body_verifies_and_its_id_covers_body_and_signature() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let tx = TxBuilder::new(key.clone(), "c").build(10, call());
        let sig = Signature::from_slice(&tx.signature).unwrap();
        key.verifying_key()
            .verify(&sign_bytes(&tx.body), &sig)
            .unwrap();
        let body = pb::TxBody::decode(tx.body.as_slice()).unwrap();
        assert_eq!(body.chain_id, "c");
        assert_eq!(body.expires_at_height, 10);
        assert_eq!(body.nonce.len(), NONCE_BYTES);
        let raw = RawTx::from_proto(tx.clone());
        let mut other_sig = raw.clone();
        other_sig.signature[0] ^= 1;
        assert_ne!(raw.id(), other_sig.id());
        assert_eq!(raw.body_hash(), other_sig.body_hash());
        // Two builds of one call differ by their nonce.
        let again = TxBuilder::new(key, "c").build(10, call());
        assert_ne!(again.body, tx.body);
    }

    #[test]
    fn the_id_is_length_prefixed() {
        // Moving a byte from the body to the signature changes the id.
        assert_ne!(tx_id(b"ab", b"c"), tx_id(b"a", b"bc"));
    }
}
