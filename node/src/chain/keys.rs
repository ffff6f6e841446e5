//! Every key of the chain store, in one place. All heights and indexes are big-endian, so
//! keys sort in height order:
//! - `b/{height}`             borsh [`StoredBlock`](super::StoredBlock) (header, transactions,
//!   commit certificate)
//! - `h/{hash}`               height of a block hash
//! - `t/{tx id}`              borsh [`TxLocation`](super::TxLocation)
//! - `r/{height}{index:u32}`  borsh [`StoredReceipt`](super::StoredReceipt), with the
//!   transaction's events (the event stream reads them in key order; an event's cursor is
//!   (height, index in the block))
//! - `s/{state key}`          contract state
//! - `m/tip`, `m/genesis`     borsh [`Tip`](super::Tip), the genesis hash
//! - `m/proposers`           borsh `ProposerRecord`: who is skipped as proposer, after the tip
//!
//! Replay protection needs no key of its own: a body can only be committed again while it has
//! not expired, so the bodies committed in the last `max_expiry_blocks` blocks are kept in
//! memory ([`ReplayWindow`](super::ReplayWindow)), rebuilt from those blocks at start.
//!
//! This module owns the byte layout and must never read or write a store itself.

use crate::storage::{Layout, StoreError};
use borsh::{BorshDeserialize, BorshSerialize};

/// Blocks by height.
pub const BLOCK: &[u8] = b"b/";
/// Block heights by hash.
pub const BLOCK_HASH: &[u8] = b"h/";
/// Transaction locations by id.
pub const TX: &[u8] = b"t/";
/// Receipts by (height, index).
pub const RECEIPT: &[u8] = b"r/";
/// Contract state.
pub const STATE: &[u8] = b"s/";
/// The committed tip.
pub const TIP: &[u8] = b"m/tip";
/// The genesis hash.
pub const GENESIS: &[u8] = b"m/genesis";
/// The proposers skipped (`yui_consensus::ProposerRecord`), after the tip.
pub const PROPOSERS: &[u8] = b"m/proposers";

/// What the store treats specially: blocks and receipts are written in height order, and
/// contract state is read by every block.
pub const LAYOUT: Layout = Layout {
    append: &[BLOCK, RECEIPT],
    cached: STATE,
};

/// `b/{height}`.
pub fn block(height: u64) -> Vec<u8> {
    [BLOCK, &height.to_be_bytes()].concat()
}

/// `h/{hash}`.
pub fn block_hash(hash: &[u8; 32]) -> Vec<u8> {
    [BLOCK_HASH, hash].concat()
}

/// `t/{id}`.
pub fn tx(id: &[u8; 32]) -> Vec<u8> {
    [TX, id].concat()
}

/// `r/{height}`: the prefix of a block's receipts.
pub fn receipts_of(height: u64) -> Vec<u8> {
    [RECEIPT, &height.to_be_bytes()].concat()
}

/// `r/{height}{index}`.
pub fn receipt(height: u64, index: u32) -> Vec<u8> {
    [RECEIPT, &height.to_be_bytes(), &index.to_be_bytes()].concat()
}

/// The (height, index) of a receipt key.
pub fn parse_receipt(key: &[u8]) -> Result<(u64, u32), StoreError> {
    let rest = key
        .strip_prefix(RECEIPT)
        .filter(|r| r.len() == 12)
        .ok_or_else(|| StoreError::corrupt("receipt key", key, "not r/ + height + index"))?;
    let mut h = [0u8; 8];
    let mut i = [0u8; 4];
    h.copy_from_slice(&rest[..8]);
    i.copy_from_slice(&rest[8..]);
    Ok((u64::from_be_bytes(h), u32::from_be_bytes(i)))
}

/// `s/{key}`.
pub fn state(key: &[u8]) -> Vec<u8> {
    [STATE, key].concat()
}

/// The borsh encoding of a stored value. Encoding into a `Vec` cannot fail for these types
/// (plain structs of integers, byte strings and vectors; the only error borsh's writer can
/// return is the `Vec`'s, which grows instead), so a failure is a bug and stops the node.
pub fn encode<T: BorshSerialize>(value: &T) -> Vec<u8> {
    borsh::to_vec(value).expect("borsh encoding of a stored value into a Vec cannot fail")
}

/// The value stored at `key`, or the damage named.
pub fn decode<T: BorshDeserialize>(
    bytes: &[u8],
    what: &'static str,
    key: &[u8],
) -> Result<T, StoreError> {
    T::try_from_slice(bytes).map_err(|e| StoreError::corrupt(what, key, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_keys_round_trip_and_sort_in_height_order() {
        assert_eq!(parse_receipt(&receipt(7, 3)).unwrap(), (7, 3));
        assert!(receipt(1, u32::MAX) < receipt(2, 0));
        assert!(receipt(2, 0).starts_with(&receipts_of(2)));
        assert!(parse_receipt(b"r/short").is_err());
        assert!(parse_receipt(&block(1)).is_err());
    }
}
