//! Replay protection's memory: the bodies committed that have not expired yet. It must never
//! grow past `max_expiry_blocks` blocks' worth of bodies.

use std::collections::{BTreeMap, HashMap};
use yui_consensus::Hash;

/// The bodies committed that have not expired yet: what replay protection must remember. A
/// body whose `expires_at_height` is below the next height is rejected as expired anyway, so it
/// is forgotten; the window holds at most `max_expiry_blocks` blocks' worth of bodies.
#[derive(Debug, Default)]
pub struct ReplayWindow {
    expiry: HashMap<Hash, u64>,
    by_expiry: BTreeMap<u64, Vec<Hash>>,
}

impl ReplayWindow {
    /// Remember a committed body until its expiry height has passed.
    pub fn insert(&mut self, body_hash: Hash, expires_at_height: u64) {
        if self.expiry.insert(body_hash, expires_at_height).is_none() {
            self.by_expiry
                .entry(expires_at_height)
                .or_default()
                .push(body_hash);
        }
    }

    /// Whether a body is remembered.
    pub fn contains(&self, body_hash: &Hash) -> bool {
        self.expiry.contains_key(body_hash)
    }

    /// Forget the bodies that cannot be included at `next_height` or later (expired).
    pub fn expire_before(&mut self, next_height: u64) {
        let keep = self.by_expiry.split_off(&next_height);
        for hash in std::mem::replace(&mut self.by_expiry, keep)
            .into_values()
            .flatten()
        {
            self.expiry.remove(&hash);
        }
        // A burst leaves a table sized for its peak; give the memory back once it is mostly
        // empty (keeping room to double, so a steady load does not resize at every block).
        let len = self.expiry.len();
        if self.expiry.capacity() > 4 * len.max(SHRINK_FLOOR) {
            self.expiry.shrink_to(2 * len);
        }
    }
}

/// Below this many bodies the window keeps whatever capacity it has.
const SHRINK_FLOOR: usize = 4_096;

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(i: u64) -> Hash {
        let mut h = [0u8; 32];
        h[..8].copy_from_slice(&i.to_le_bytes());
        Hash(h)
    }

    #[test]
    fn expired_bodies_are_forgotten_and_their_memory_returned() {
        let mut w = ReplayWindow::default();
        for i in 0..100_000 {
            w.insert(hash(i), 10 + i % 2);
        }
        w.insert(hash(1_000_000), 50);
        w.expire_before(11);
        assert!(!w.contains(&hash(0)) && w.contains(&hash(1)));
        w.expire_before(12);
        assert!(!w.contains(&hash(1)) && w.contains(&hash(1_000_000)));
        assert!(
            w.expiry.capacity() < 20_000,
            "capacity {} after the burst",
            w.expiry.capacity()
        );
        w.expire_before(51);
        assert!(!w.contains(&hash(1_000_000)));
    }
}
