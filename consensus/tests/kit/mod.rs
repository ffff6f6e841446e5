//! The consensus test kit, shared by the test files of this crate (`mod kit;`): keys and
//! validator sets, the seeded network simulator with its byzantine behaviours (`sim`), and a
//! probe that drives one engine message by message (`probe`), as the Algorithm 1 tests do.

#![allow(dead_code)]

pub mod probe;
pub mod sim;

use ed25519_dalek::SigningKey;
use yui_consensus::*;

/// `n` deterministic validator keys.
pub fn keys(n: u8) -> Vec<SigningKey> {
    (1..=n).map(|i| SigningKey::from_bytes(&[i; 32])).collect()
}

/// A set of `keys` with power 1 each, one organization per key.
pub fn set_of(keys: &[SigningKey], fault_model: FaultModel) -> ValidatorSet {
    ValidatorSet::new(
        keys.iter()
            .enumerate()
            .map(|(i, k)| Validator {
                organization: format!("o{i}"),
                name: format!("v{i}"),
                public_key: k.verifying_key().to_bytes(),
                power: 1,
            })
            .collect(),
        fault_model,
    )
    .expect("a valid set")
}

/// A distinct block hash per (height, round, tag).
pub fn block_hash(h: u64, r: u32, tag: usize) -> Hash {
    hash::hash_parts(
        b"test-block",
        &[
            &h.to_le_bytes(),
            &r.to_le_bytes(),
            &(tag as u64).to_le_bytes(),
        ],
    )
}
