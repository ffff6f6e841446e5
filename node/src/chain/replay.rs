//! Replay protection's memory: the bodies committed that have not expired yet. It must never
//! grow past `max_expiry_blocks` blocks' worth of bodies.
//!
//! A body is remembered by the first 16 bytes of its BLAKE3 hash: at a million bodies (a
//! saturated network with a long expiry window) that is about 50 bytes each instead of about
//! 160 with the whole hash beside its expiry height in a map. Two different bodies are taken
//! for one only if their hashes agree on 128 bits: finding such a pair of one's own takes about
//! 2^64 hashes and only makes one's own second transaction a duplicate; matching someone else's
//! committed body takes about 2^128 (docs/adr/0020).

use std::collections::{BTreeMap, HashSet};
use yui_consensus::Hash;

/// What the window keeps of a body hash.
type Key = [u8; 16];

fn key(body_hash: &Hash) -> Key {
    let mut k = [0; 16];
    k.copy_from_slice(&body_hash.0[..16]);
    k
}

/// The bodies committed that have not expired yet: what replay protection must remember. A
/// body whose `expires_at_height` is below the next height is rejected as expired anyway, so it
/// is forgotten; the window holds at most `max_expiry_blocks` blocks' worth of bodies.
#[derive(Debug, Default)]
pub struct ReplayWindow {
    bodies: HashSet<Key>,
    /// The bodies by expiry height, to forget them when it has passed: one exactly sized list
    /// per committed block that has bodies expiring then.
    by_expiry: BTreeMap<u64, Vec<Box<[Key]>>>,
}

impl ReplayWindow {
    /// Remember a committed block's bodies (hash and expiry height) until their expiry height
    /// has passed.
    pub fn insert_block(&mut self, bodies: impl IntoIterator<Item = (Hash, u64)>) {
        let mut lists: BTreeMap<u64, Vec<Key>> = BTreeMap::new();
        for (body_hash, expires_at_height) in bodies {
            let k = key(&body_hash);
            if self.bodies.insert(k) {
                lists.entry(expires_at_height).or_default().push(k);
            }
        }
        for (at, list) in lists {
            self.by_expiry
                .entry(at)
                .or_default()
                .push(list.into_boxed_slice());
        }
    }

    /// Whether a body is remembered.
    pub fn contains(&self, body_hash: &Hash) -> bool {
        self.bodies.contains(&key(body_hash))
    }

    /// How many bodies are remembered.
    pub fn len(&self) -> usize {
        self.bodies.len()
    }

    /// Whether no body is remembered.
    pub fn is_empty(&self) -> bool {
        self.bodies.is_empty()
    }

    /// The heap the window holds, counted from its tables' capacities (an estimate: the
    /// allocator's own overhead is not in it).
    pub fn heap_bytes(&self) -> usize {
        // hashbrown fills at most 7/8 of a power-of-two number of slots, and keeps one
        // control byte per slot beside the slot itself.
        let slots = (self.bodies.capacity() * 8 / 7).next_power_of_two();
        let set = slots * (std::mem::size_of::<Key>() + 1);
        let lists: usize = self
            .by_expiry
            .values()
            .flatten()
            .map(|l| l.len() * std::mem::size_of::<Key>() + 32)
            .sum();
        set + lists
    }

    /// Forget the bodies that cannot be included at `next_height` or later (expired).
    pub fn expire_before(&mut self, next_height: u64) {
        let keep = self.by_expiry.split_off(&next_height);
        for list in std::mem::replace(&mut self.by_expiry, keep)
            .into_values()
            .flatten()
        {
            for k in list {
                self.bodies.remove(&k);
            }
        }
        // A burst leaves a table sized for its peak; give the memory back once it is mostly
        // empty (keeping room to double, so a steady load does not resize at every block).
        let len = self.bodies.len();
        if self.bodies.capacity() > 4 * len.max(SHRINK_FLOOR) {
            self.bodies.shrink_to(2 * len);
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
        w.insert_block((0..100_000).map(|i| (hash(i), 10 + i % 2)));
        w.insert_block([(hash(1_000_000), 50)]);
        w.expire_before(11);
        assert!(!w.contains(&hash(0)) && w.contains(&hash(1)));
        w.expire_before(12);
        assert!(!w.contains(&hash(1)) && w.contains(&hash(1_000_000)));
        assert!(
            w.bodies.capacity() < 20_000,
            "capacity {} after the burst",
            w.bodies.capacity()
        );
        w.expire_before(51);
        assert!(!w.contains(&hash(1_000_000)));
    }

    #[test]
    fn a_million_bodies_take_about_fifty_bytes_each() {
        let mut w = ReplayWindow::default();
        // As a saturated network commits them: a block of 2,000 bodies at a time, each
        // block's bodies expiring 500 heights on (clients refresh their height once a second,
        // so ten blocks share an expiry height).
        let h = |n: u64| Hash(*blake3::hash(&n.to_le_bytes()).as_bytes());
        for block in 0..500u64 {
            w.insert_block((0..2_000).map(|i| (h(block * 2_000 + i), 500 + block / 10 * 10)));
        }
        // A body committed again in a later block is remembered once.
        w.insert_block([(h(7), 1_000)]);
        assert_eq!(w.len(), 1_000_000);
        let per_body = w.heap_bytes() / w.len();
        assert!(per_body <= 60, "{per_body} bytes per body");
        // Not a probabilistic set: every body inserted is found, one never inserted is not.
        assert!((0..1_000_000).step_by(997).all(|n| w.contains(&h(n))));
        assert!(!w.contains(&h(1_000_000)));
    }
}
