//! The state root and the receipt leaves of the event root.
//!
//! State root (v1): a hash chain over every block's write set,
//! `root_h = H(STATE || root_{h-1} || height || borsh(write set of h))`, with the write set in
//! key order. It commits to the exact state transition of every block, so two nodes agree on
//! it only if they executed the same blocks to the same writes, and a replay detects the first
//! height where execution differs. It is not a Merkle tree of the current state, so it does
//! not give proofs of single state values (see docs/adr/0004-state-root.md).

use crate::state::WriteSet;
use crate::Receipt;

/// The 32-byte state root before the first block: a hash of the genesis state's entries.
pub fn genesis_root(genesis_writes: &WriteSet) -> [u8; 32] {
    next_root(&[0; 32], 0, genesis_writes)
}

/// The state root after a block with `writes` at `height`, given the previous root.
pub fn next_root(prev: &[u8; 32], height: u64, writes: &WriteSet) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"yui/v1/state\0");
    h.update(prev);
    h.update(&height.to_le_bytes());
    h.update(&(writes.len() as u64).to_le_bytes());
    for (k, v) in writes {
        h.update(&(k.len() as u64).to_le_bytes());
        h.update(k);
        match v {
            Some(v) => {
                h.update(&[1]);
                h.update(&(v.len() as u64).to_le_bytes());
                h.update(v);
            }
            None => {
                h.update(&[0]);
            }
        }
    }
    *h.finalize().as_bytes()
}

/// The bytes of a receipt's leaf in the event root (`yui_proto::commit::receipt_leaf`).
pub fn receipt_leaf(tx_id: &[u8; 32], receipt: &Receipt) -> Vec<u8> {
    yui_proto::commit::receipt_leaf(tx_id, &receipt.to_proto())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_depends_on_every_write_and_on_history() {
        let mut w = WriteSet::new();
        w.insert(b"a".to_vec(), Some(b"1".to_vec()));
        let r1 = next_root(&[0; 32], 1, &w);
        let mut w2 = w.clone();
        w2.insert(b"a".to_vec(), Some(b"2".to_vec()));
        assert_ne!(r1, next_root(&[0; 32], 1, &w2));
        let mut w3 = w.clone();
        w3.insert(b"a".to_vec(), None);
        assert_ne!(r1, next_root(&[0; 32], 1, &w3));
        assert_ne!(r1, next_root(&[1; 32], 1, &w));
        assert_ne!(r1, next_root(&[0; 32], 2, &w));
        // Length-prefixing: moving a byte from key to value changes the root.
        let mut a = WriteSet::new();
        a.insert(b"ab".to_vec(), Some(b"c".to_vec()));
        let mut b = WriteSet::new();
        b.insert(b"a".to_vec(), Some(b"bc".to_vec()));
        assert_ne!(next_root(&[0; 32], 1, &a), next_root(&[0; 32], 1, &b));
    }
}
