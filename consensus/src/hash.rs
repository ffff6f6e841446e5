//! Domain-separated blake3 hashing. Every kind of hashed bytes has its own prefix, so bytes of
//! one kind can never be replayed as another (a vote as a header, a leaf as a node).

use borsh::{BorshDeserialize, BorshSerialize};

/// A 32-byte blake3 hash.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash, used only as "no value".
    pub const ZERO: Hash = Hash([0; 32]);

    /// The hash as bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parse from a 32-byte slice.
    pub fn from_slice(bytes: &[u8]) -> Option<Hash> {
        <[u8; 32]>::try_from(bytes).ok().map(Hash)
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", &self.to_hex()[..12])
    }
}

impl std::fmt::Display for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The hash domains. Each is a distinct NUL-terminated ASCII tag hashed before the content.
pub mod domain {
    /// Signed transaction bytes (see tx.proto).
    pub const TX_SIGNATURE: &[u8] = b"yui/v1/tx-signature\0";
    /// Transaction id.
    pub const TX_ID: &[u8] = b"yui/v1/tx-id\0";
    /// Transaction body hash (replay protection key).
    pub const TX_BODY: &[u8] = b"yui/v1/tx-body\0";
    /// Block header.
    pub const HEADER: &[u8] = b"yui/v1/header\0";
    /// Vote sign bytes.
    pub const VOTE: &[u8] = b"yui/v1/vote\0";
    /// Proposal sign bytes.
    pub const PROPOSAL: &[u8] = b"yui/v1/proposal\0";
    /// Validator set.
    pub const VALIDATOR_SET: &[u8] = b"yui/v1/validator-set\0";
    /// State root.
    pub const STATE: &[u8] = b"yui/v1/state\0";
    /// A receipt with its events (leaf content of the event root).
    pub const EVENT: &[u8] = b"yui/v1/event\0";
    /// Merkle leaf.
    pub const MERKLE_LEAF: &[u8] = b"yui/v1/merkle-leaf\0";
    /// Merkle inner node.
    pub const MERKLE_NODE: &[u8] = b"yui/v1/merkle-node\0";
    /// Genesis document.
    pub const GENESIS: &[u8] = b"yui/v1/genesis\0";
}

/// blake3(domain || parts...).
pub fn hash_parts(domain: &[u8], parts: &[&[u8]]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(domain);
    for p in parts {
        h.update(p);
    }
    Hash(*h.finalize().as_bytes())
}

/// blake3(domain || borsh(value)).
pub fn hash_borsh<T: BorshSerialize>(domain: &[u8], value: &T) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(domain);
    // Writing into a hasher cannot fail.
    let _ = borsh::to_writer(&mut HashWriter(&mut h), value);
    Hash(*h.finalize().as_bytes())
}

struct HashWriter<'a>(&'a mut blake3::Hasher);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_distinct_and_separate_hashes() {
        let all = [
            domain::TX_SIGNATURE,
            domain::TX_ID,
            domain::TX_BODY,
            domain::HEADER,
            domain::VOTE,
            domain::PROPOSAL,
            domain::VALIDATOR_SET,
            domain::STATE,
            domain::EVENT,
            domain::MERKLE_LEAF,
            domain::MERKLE_NODE,
            domain::GENESIS,
        ];
        let hashes: std::collections::BTreeSet<Hash> = all
            .iter()
            .map(|d| hash_parts(d, &[b"same bytes"]))
            .collect();
        assert_eq!(hashes.len(), all.len(), "two domains gave the same hash");
        for d in all {
            assert!(d.ends_with(b"\0"), "domain tags are NUL-terminated");
        }
    }
}
