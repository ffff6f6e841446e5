//! Who proposes: the weighted rotation of the validator set, skipping validators whose
//! round-0 proposals recently failed (in the way of DiemBFT's leader reputation), so that a
//! validator that is down costs one propose timeout rather than one in every n heights.
//!
//! The rule is a pure function of the committed chain, so every node computes the same
//! proposer for every (height, round): after each committed block, [`ProposerRecord::record`]
//! compares the proposer the rule named for round 0 with the block's proposer (its header's
//! `proposer`); when they differ, the named one is skipped in round 0 for the next
//! [`SKIP_HEIGHTS`] heights, doubling with each failure in a row (at most [`MAX_SKIP_HEIGHTS`]),
//! and forgiven as soon as a block it built is committed (it keeps its turns in later rounds,
//! so a validator that is back shows it). A skipped validator still votes, and when every
//! validator is skipped nobody is.

use crate::types::{Height, PublicKey, Round, Validator, ValidatorSet};
use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::BTreeMap;

/// Heights a validator is skipped as proposer after its first round-0 failure. At load
/// (about ten heights a second) a down validator costs one propose timeout every few
/// minutes; idle, with two-second heartbeats, about one an hour.
pub const SKIP_HEIGHTS: u64 = 1_000;
/// The longest skip, after repeated failures.
pub const MAX_SKIP_HEIGHTS: u64 = 1_000_000;

/// A validator's standing as proposer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Penalty {
    /// Skipped as proposer through this height.
    pub skipped_through: Height,
    /// Round-0 failures in a row.
    pub failures: u32,
}

/// The proposers skipped, from the committed chain.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ProposerRecord {
    penalties: BTreeMap<PublicKey, Penalty>,
}

impl ProposerRecord {
    /// The validators skipped as proposers at `height`, in key order.
    pub fn skipped(&self, height: Height) -> Vec<PublicKey> {
        self.penalties
            .iter()
            .filter(|(_, p)| p.skipped_through >= height)
            .map(|(k, _)| *k)
            .collect()
    }

    /// Learn from the block committed at `height` by `set`, proposed by `proposer`.
    pub fn record(&mut self, set: &ValidatorSet, height: Height, proposer: &PublicKey) {
        let skip = self.skipped(height);
        let named = proposer_of(set, height, 0, &skip).public_key;
        // Whoever built a committed block, in any round, is alive: forgiven.
        self.penalties.remove(proposer);
        if named != *proposer {
            let failures = self
                .penalties
                .get(&named)
                .map_or(1, |p| p.failures.saturating_add(1));
            let span = SKIP_HEIGHTS
                .saturating_mul(1u64 << (failures - 1).min(20))
                .min(MAX_SKIP_HEIGHTS);
            self.penalties.insert(
                named,
                Penalty {
                    skipped_through: height.saturating_add(span),
                    failures,
                },
            );
        }
        // A validator that left the set has no standing to keep.
        self.penalties.retain(|k, _| set.contains(k));
    }
}

/// The proposer of (`height`, `round`): the set's weighted rotation, and in round 0 moved on
/// past the validators in `skip` (in set order) unless every validator is in it. Later rounds
/// keep the plain rotation: Tendermint's liveness needs every validator to propose in some
/// round of a height — a validator locked on a value can only unlock the others by
/// re-proposing it (Algorithm 1, line 28) — so skipping is only for the round that matters
/// for latency.
pub fn proposer_of<'a>(
    set: &'a ValidatorSet,
    height: Height,
    round: Round,
    skip: &[PublicKey],
) -> &'a Validator {
    let base = set.proposer(height, round);
    if skip.is_empty() || round > 0 {
        return base;
    }
    let n = set.validators.len();
    let start = set
        .validators
        .iter()
        .position(|v| v.public_key == base.public_key)
        .unwrap_or(0);
    (0..n)
        .map(|j| &set.validators[(start + j) % n])
        .find(|v| !skip.contains(&v.public_key))
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{FaultModel, Validator};

    fn set(n: u8) -> ValidatorSet {
        ValidatorSet::new(
            (0..n)
                .map(|i| Validator {
                    organization: format!("o{i}"),
                    name: format!("v{i}"),
                    public_key: [i; 32],
                    power: 1,
                })
                .collect(),
            FaultModel::Byzantine,
        )
        .unwrap()
    }

    #[test]
    fn a_failed_proposer_is_skipped_then_forgiven_and_never_everyone() {
        let s = set(4);
        let mut r = ProposerRecord::default();
        // Heights 1..=8 commit as scheduled: nobody is skipped.
        for h in 1..=8 {
            let p = s.proposer(h, 0).public_key;
            r.record(&s, h, &p);
        }
        assert!(r.skipped(9).is_empty());
        // The proposer named for height 9 fails: another validator's block commits.
        let failed = s.proposer(9, 0).public_key;
        let other = s.proposer(10, 0).public_key;
        r.record(&s, 9, &other);
        assert_eq!(r.skipped(10), vec![failed]);
        assert!(r.skipped(9 + SKIP_HEIGHTS).contains(&failed));
        assert!(r.skipped(10 + SKIP_HEIGHTS).is_empty());
        // While skipped it is never named for round 0, and keeps its turns in later rounds
        // (a locked validator must be able to re-propose its value).
        let mut later_turns = 0;
        for h in 10..200 {
            assert_ne!(proposer_of(&s, h, 0, &r.skipped(h)).public_key, failed);
            for round in 1..6 {
                if proposer_of(&s, h, round, &r.skipped(h)).public_key == failed {
                    later_turns += 1;
                }
            }
        }
        assert!(later_turns > 0);
        // Failing again right after its skip doubles the next one.
        let h = 10 + SKIP_HEIGHTS;
        let mut at = h;
        while s.proposer(at, 0).public_key != failed {
            let p = proposer_of(&s, at, 0, &r.skipped(at)).public_key;
            r.record(&s, at, &p);
            at += 1;
        }
        let stand_in = proposer_of(&s, at + 1, 0, &[failed]).public_key;
        r.record(&s, at, &stand_in);
        assert!(r.skipped(at + 2 * SKIP_HEIGHTS).contains(&failed));
        // Skipping everyone skips no one.
        let all: Vec<PublicKey> = s.validators.iter().map(|v| v.public_key).collect();
        assert_eq!(
            proposer_of(&s, 5, 0, &all).public_key,
            s.proposer(5, 0).public_key
        );
    }
}
