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
    }
}
