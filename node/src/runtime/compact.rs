//! Compact proposals: a proposal names its block's transactions by id instead of carrying
//! them, and a receiver assembles the block from transactions it already holds (its mempool,
//! filled by transaction gossip) and fetches only those it lacks from its peers (ADR 0022).
//!
//! This file owns the assembly of one block: which ids it needs, which it has, and the check
//! that a fetched transaction is the one named (its id covers its exact bytes). It never does
//! IO, talks to peers or validates the block: the driver asks, and validates the assembled
//! block as it validates any other (`Chain::validate_with`), so a list of ids that does not
//! match the header's transaction root is caught before anything is fetched, and a block
//! whose transactions are bad is caught after.

use std::collections::HashMap;
use yui_client::tx::RawTx;
use yui_consensus::{merkle, Hash, Header, Proposal};

/// Why a compact proposal is dropped before any transaction is looked up.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The header's hash is not the block hash the proposal signs.
    HeaderMismatch,
    /// The ids do not give the header's transaction root.
    RootMismatch,
    /// An id appears twice (no valid block holds a transaction twice).
    DuplicateId,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refused::HeaderMismatch => "its header does not hash to the proposed block",
            Refused::RootMismatch => {
                "its transaction ids do not give the header's transaction root"
            }
            Refused::DuplicateId => "it names one transaction twice",
        })
    }
}

/// A proposed block being assembled from its transaction ids.
#[derive(Debug)]
pub struct Assembly {
    /// The proposals for this block received so far (the same block may be proposed again in
    /// a later round); all are handed to consensus once the block is whole.
    pub proposals: Vec<Proposal>,
    /// The block's header.
    pub header: Header,
    ids: Vec<Hash>,
    txs: Vec<Option<RawTx>>,
    slots: HashMap<Hash, usize>,
    missing: usize,
    /// When this node last asked peers for the missing transactions (ms).
    pub asked_ms: u64,
}

impl Assembly {
    /// Start assembling the block `proposal` proposes, from its `header` and the ids of its
    /// transactions in order. Checks, before anything is looked up or fetched, that the header
    /// is the proposed block and that the ids are exactly the ones its transaction root commits
    /// to (the root is a Merkle tree over the ids, as `Chain::execute` builds it).
    pub fn new(proposal: Proposal, header: Header, ids: Vec<Hash>) -> Result<Assembly, Refused> {
        if header.hash() != proposal.data.block_hash {
            return Err(Refused::HeaderMismatch);
        }
        let leaves: Vec<&[u8]> = ids.iter().map(|id| id.0.as_slice()).collect();
        if merkle::root(&leaves) != header.tx_root {
            return Err(Refused::RootMismatch);
        }
        let slots: HashMap<Hash, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        if slots.len() != ids.len() {
            return Err(Refused::DuplicateId);
        }
        Ok(Assembly {
            proposals: vec![proposal],
            header,
            txs: vec![None; ids.len()],
            missing: ids.len(),
            ids,
            slots,
            asked_ms: 0,
        })
    }

    /// Fill every missing transaction that `lookup` has (by id).
    pub fn fill_from(&mut self, lookup: impl Fn(&Hash) -> Option<RawTx>) {
        if self.missing == 0 {
            return;
        }
        for (id, slot) in self.ids.iter().zip(self.txs.iter_mut()) {
            if slot.is_none() {
                if let Some(raw) = lookup(id) {
                    *slot = Some(raw);
                    self.missing -= 1;
                }
            }
        }
    }

    /// Offer a fetched transaction whose id is `id` (the caller computed it from the bytes):
    /// taken if the block names that id and lacks it; true when taken.
    pub fn offer(&mut self, id: &Hash, raw: &RawTx) -> bool {
        match self.slots.get(id) {
            Some(&i) if self.txs[i].is_none() => {
                self.txs[i] = Some(raw.clone());
                self.missing -= 1;
                true
            }
            _ => false,
        }
    }

    /// The ids still missing, in block order.
    pub fn missing_ids(&self) -> Vec<Hash> {
        self.ids
            .iter()
            .zip(&self.txs)
            .filter(|(_, t)| t.is_none())
            .map(|(id, _)| *id)
            .collect()
    }

    /// How many transactions are still missing.
    pub fn missing(&self) -> usize {
        self.missing
    }

    /// The whole block's transactions in order, once none is missing.
    pub fn take_txs(&mut self) -> Option<Vec<RawTx>> {
        if self.missing > 0 {
            return None;
        }
        Some(self.txs.drain(..).flatten().collect())
    }
}

/// The ids a compact proposal of these transactions names.
pub fn ids_of(txs: &[RawTx]) -> Vec<Hash> {
    txs.iter().map(RawTx::id).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use yui_consensus::ProposalData;

    fn tx(i: u8) -> RawTx {
        RawTx {
            body: vec![i; 40 + usize::from(i)],
            signature: vec![i; 64],
        }
    }

    fn block(txs: &[RawTx]) -> (Proposal, Header) {
        let ids = ids_of(txs);
        let leaves: Vec<&[u8]> = ids.iter().map(|id| id.0.as_slice()).collect();
        let header = Header {
            chain_id: "test".into(),
            height: 7,
            time_ms: 1,
            parent_hash: Hash::ZERO,
            proposer: [1; 32],
            validator_set_hash: Hash::ZERO,
            tx_root: merkle::root(&leaves),
            state_root: Hash::ZERO,
            event_root: Hash::ZERO,
            protocol_version: 1,
        };
        let proposal = Proposal {
            data: ProposalData {
                chain_id: "test".into(),
                height: 7,
                round: 0,
                block_hash: header.hash(),
                pol_round: None,
                proposer: [1; 32],
            },
            signature: [0; 64],
        };
        (proposal, header)
    }

    #[test]
    fn a_block_is_assembled_from_what_the_node_has_and_what_it_fetches_in_order() {
        let txs: Vec<RawTx> = (0..6).map(tx).collect();
        let (p, h) = block(&txs);
        let mut a = Assembly::new(p, h, ids_of(&txs)).unwrap();
        assert_eq!(a.missing(), 6);
        assert!(a.take_txs().is_none());
        // The node holds transactions 0, 2 and 5.
        let held: HashMap<Hash, RawTx> = [0usize, 2, 5]
            .iter()
            .map(|&i| (txs[i].id(), txs[i].clone()))
            .collect();
        a.fill_from(|id| held.get(id).cloned());
        assert_eq!(a.missing(), 3);
        assert_eq!(a.missing_ids(), vec![txs[1].id(), txs[3].id(), txs[4].id()]);
        // A fetched transaction the block does not name is not taken; one it has already is not
        // taken twice.
        let stranger = tx(99);
        assert!(!a.offer(&stranger.id(), &stranger));
        assert!(!a.offer(&txs[0].id(), &txs[0]));
        // The fetched ones arrive out of order.
        for i in [4usize, 1, 3] {
            assert!(a.offer(&txs[i].id(), &txs[i]));
        }
        assert_eq!(a.missing(), 0);
        assert_eq!(a.take_txs().unwrap(), txs);
    }

    #[test]
    fn a_list_of_ids_that_is_not_the_headers_is_refused_before_anything_is_fetched() {
        let txs: Vec<RawTx> = (0..4).map(tx).collect();
        let (p, h) = block(&txs);
        // One id changed, one left out, two swapped: each gives another root.
        let mut changed = ids_of(&txs);
        changed[2] = tx(50).id();
        let mut short = ids_of(&txs);
        short.pop();
        let mut swapped = ids_of(&txs);
        swapped.swap(0, 1);
        for ids in [changed, short, swapped] {
            assert_eq!(
                Assembly::new(p.clone(), h.clone(), ids).unwrap_err(),
                Refused::RootMismatch
            );
        }
        // A header that is not the proposed block.
        let mut other = h.clone();
        other.time_ms += 1;
        assert_eq!(
            Assembly::new(p.clone(), other, ids_of(&txs)).unwrap_err(),
            Refused::HeaderMismatch
        );
        // A block naming one transaction twice (its root matches its own list).
        let twice = vec![txs[0].clone(), txs[1].clone(), txs[0].clone()];
        let (p2, h2) = block(&twice);
        assert_eq!(
            Assembly::new(p2, h2, ids_of(&twice)).unwrap_err(),
            Refused::DuplicateId
        );
    }

    #[test]
    fn an_empty_block_is_whole_at_once() {
        let (p, h) = block(&[]);
        let mut a = Assembly::new(p, h, Vec::new()).unwrap();
        assert_eq!(a.missing(), 0);
        assert!(a.missing_ids().is_empty());
        assert_eq!(a.take_txs().unwrap(), Vec::<RawTx>::new());
    }
}
