//! Binary Merkle trees over blake3 with leaf/node domain separation, for the transaction and
//! event roots of a header and their inclusion proofs.
//!
//! Shape: leaves are `H(LEAF || item)`; a level with an odd count carries its last node up
//! unchanged (no duplication, so two different lists never share a root the way Bitcoin's
//! duplicated-last-node trees can). The empty tree's root is `H(NODE)` of nothing.

use crate::hash::{domain, hash_parts, Hash};
use borsh::{BorshDeserialize, BorshSerialize};

/// Leaf hash of an item.
pub fn leaf(item: &[u8]) -> Hash {
    hash_parts(domain::MERKLE_LEAF, &[item])
}

fn node(left: &Hash, right: &Hash) -> Hash {
    hash_parts(domain::MERKLE_NODE, &[&left.0, &right.0])
}

/// Root of the empty tree.
pub fn empty_root() -> Hash {
    hash_parts(domain::MERKLE_NODE, &[])
}

/// Root over already-hashed leaves.
pub fn root_of_leaves(mut level: Vec<Hash>) -> Hash {
    if level.is_empty() {
        return empty_root();
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => node(l, r),
                [single] => *single,
                _ => unreachable!("chunks(2) yields one or two items"),
            })
            .collect();
    }
    level[0]
}

/// Root over items (each hashed as a leaf).
pub fn root<I: AsRef<[u8]>>(items: &[I]) -> Hash {
    root_of_leaves(items.iter().map(|i| leaf(i.as_ref())).collect())
}

/// Which side a sibling is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Side {
    /// The sibling is the left input of the parent.
    Left,
    /// The sibling is the right input of the parent.
    Right,
}

/// An inclusion proof: the leaf's index, the tree size and the siblings from the leaf up.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Proof {
    /// Index of the leaf.
    pub index: u32,
    /// Number of leaves in the tree.
    pub leaf_count: u32,
    /// Siblings from the bottom level up; levels where the node was carried up have none.
    pub siblings: Vec<(Side, Hash)>,
}

/// Build the proof for leaf `index` over already-hashed leaves.
pub fn prove(leaves: &[Hash], index: usize) -> Option<Proof> {
    if index >= leaves.len() {
        return None;
    }
    let mut siblings = Vec::new();
    let mut level = leaves.to_vec();
    let mut i = index;
    while level.len() > 1 {
        let sib = i ^ 1;
        if sib < level.len() {
            let side = if sib < i { Side::Left } else { Side::Right };
            siblings.push((side, level[sib]));
        }
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => node(l, r),
                [single] => *single,
                _ => unreachable!("chunks(2) yields one or two items"),
            })
            .collect();
        i /= 2;
    }
    Some(Proof {
        index: u32::try_from(index).ok()?,
        leaf_count: u32::try_from(leaves.len()).ok()?,
        siblings,
    })
}

impl Proof {
    /// The root this proof leads to from `leaf_hash`, or `None` if the proof's shape does not
    /// match its index and leaf count (so a proof cannot claim a position it does not have).
    pub fn root_from(&self, leaf_hash: Hash) -> Option<Hash> {
        if self.index >= self.leaf_count {
            return None;
        }
        let mut acc = leaf_hash;
        let mut i = self.index as usize;
        let mut n = self.leaf_count as usize;
        let mut sibs = self.siblings.iter();
        while n > 1 {
            let sib = i ^ 1;
            if sib < n {
                let (side, h) = sibs.next()?;
                let expected = if sib < i { Side::Left } else { Side::Right };
                if *side != expected {
                    return None;
                }
                acc = match side {
                    Side::Left => node(h, &acc),
                    Side::Right => node(&acc, h),
                };
            }
            i /= 2;
            n = n.div_ceil(2);
        }
        if sibs.next().is_some() {
            return None;
        }
        Some(acc)
    }

    /// True if `item` is at `self.index` of a tree with root `root`.
    pub fn verify(&self, item: &[u8], root: &Hash) -> bool {
        self.root_from(leaf(item)).as_ref() == Some(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_leaf_proves_and_no_other_item_does(n in 1usize..40, pick in 0usize..40) {
            let items: Vec<Vec<u8>> = (0..n).map(|i| format!("item-{i}").into_bytes()).collect();
            let r = root(&items);
            let leaves: Vec<Hash> = items.iter().map(|i| leaf(i)).collect();
            let idx = pick % n;
            let p = prove(&leaves, idx).unwrap();
            prop_assert!(p.verify(&items[idx], &r));
            prop_assert!(!p.verify(b"not in the tree", &r));
            if n > 1 {
                let mut wrong = p.clone();
                wrong.index = ((idx + 1) % n) as u32;
                prop_assert!(!wrong.verify(&items[idx], &r));
            }
        }
    }

    #[test]
    fn order_and_count_change_the_root() {
        assert_ne!(root(&[b"a", b"b"]), root(&[b"b", b"a"]));
        assert_ne!(
            root(&[b"a".as_slice(), b"b", b"c"]),
            root(&[b"a".as_slice(), b"b", b"c", b"c"])
        );
        assert_ne!(root::<&[u8]>(&[]), root(&[b""]));
    }
}
