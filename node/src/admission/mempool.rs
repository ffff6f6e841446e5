//! The mempool: admission checks before a transaction is accepted, and the arrival-ordered,
//! bounded queue the proposer takes blocks from.
//!
//! Admission, in order (a rejection stores nothing): size, decoding, chain id, call present,
//! the signature under ZIP 215, in batches where transactions arrive together (`chain::tx::check_stateless`); the personal-data guard (`guard`); expiry
//! window; duplicate body (in the mempool or committed within its expiry window); room (count
//! and estimated memory, [`footprint`]); signer's role (`contracts::authorize`) against the committed state.

use crate::chain::tx::{check_expiry, check_stateless, check_stateless_batch, CheckedTx, Reject};
use crate::chain::ChainReader;
use crate::setup::config::MempoolConfig;
use std::collections::{BTreeMap, VecDeque};
use yui_client::tx::RawTx;
use yui_consensus::Hash;

/// The fixed part of a pending transaction's memory: its `CheckedTx`, the `RawTx` and decoded
/// call behind their `Arc`s, and its entries in the three indexes (by id, by body hash, in
/// arrival order), with the allocator's rounding. Checked against counted allocations by
/// `node/tests/mempool_memory.rs`.
const TX_FIXED_BYTES: usize = 720;

/// What a pending transaction counts against `mempool.max_bytes`: an estimate of the memory it
/// holds, not only its wire size. Its signed bytes as received, about as much again decoded
/// (the call's strings and bytes), and the fixed part.
pub fn footprint(tx: &CheckedTx) -> usize {
    2 * (tx.raw.body.len() + tx.raw.signature.len()) + TX_FIXED_BYTES
}

/// Pending transactions in arrival order.
pub struct Mempool {
    limits: MempoolConfig,
    order: VecDeque<Hash>,
    txs: BTreeMap<Hash, CheckedTx>,
    /// Body hash → id of the pending transaction with that body.
    bodies: BTreeMap<Hash, Hash>,
    /// The memory pending transactions hold, as [`footprint`] estimates it.
    bytes: usize,
    /// The expiry window in force at a next height, read once per height rather than once per
    /// transaction (it changes only with a committed block).
    window: Option<(u64, u64)>,
}

impl Mempool {
    /// An empty mempool.
    pub fn new(limits: MempoolConfig) -> Self {
        Mempool {
            limits,
            order: VecDeque::new(),
            txs: BTreeMap::new(),
            bodies: BTreeMap::new(),
            window: None,
            bytes: 0,
        }
    }

    /// Number of pending transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// A pending transaction.
    pub fn get(&self, id: &Hash) -> Option<&CheckedTx> {
        self.txs.get(id)
    }

    /// Run the admission checks and queue the transaction.
    pub fn admit(
        &mut self,
        chain: &ChainReader,
        raw: RawTx,
        tip_height: u64,
    ) -> Result<Hash, Reject> {
        let tx = precheck(raw, &chain.chain_id)?;
        self.insert(chain, tx, tip_height)
    }

    /// Whether a transaction with this id is pending.
    pub fn contains(&self, id: &Hash) -> bool {
        self.txs.contains_key(id)
    }

    /// Queue a transaction that passed [`precheck`]: the checks that need state (expiry,
    /// duplicates pending or committed, capacity, the signer's role). Cheap; run under the lock.
    pub fn insert(
        &mut self,
        chain: &ChainReader,
        tx: CheckedTx,
        tip_height: u64,
    ) -> Result<Hash, Reject> {
        let next = tip_height + 1;
        let window = match self.window {
            Some((h, w)) if h == next => w,
            _ => {
                let w = chain
                    .max_expiry_at(next)
                    .map_err(|e| Reject::Internal(e.to_string()))?;
                self.window = Some((next, w));
                w
            }
        };
        check_expiry(&tx, next, window)?;
        if let Some(pending) = self.bodies.get(&tx.body_hash) {
            return Err(Reject::DuplicatePending { pending: *pending });
        }
        if chain
            .body_committed(&tx.body_hash)
            .map_err(|e| Reject::Internal(e.to_string()))?
        {
            return Err(Reject::DuplicateCommitted);
        }
        let size = footprint(&tx);
        if self.txs.len() >= self.limits.max_txs || self.bytes + size > self.limits.max_bytes {
            return Err(Reject::MempoolFull {
                pending: self.txs.len(),
            });
        }
        yui_contracts::authorize(&chain.state(), &tx.signer, &tx.call)?;
        let id = tx.id;
        self.bytes += size;
        self.bodies.insert(tx.body_hash, tx.id);
        self.order.push_back(id);
        self.txs.insert(id, tx);
        Ok(id)
    }

    /// Add transactions a validated proposal carried and this node had not seen, so their
    /// signatures are not checked again when their gossip arrives late. No other checks: the
    /// block they came in was fully validated. Pruned at commit like any other.
    pub fn remember_validated(&mut self, txs: &[CheckedTx]) {
        for tx in txs {
            if self.txs.contains_key(&tx.id)
                || self.bodies.contains_key(&tx.body_hash)
                || crate::admission::guard::check_call(&tx.call).is_err()
            {
                continue;
            }
            let size = footprint(tx);
            if self.txs.len() >= self.limits.max_txs || self.bytes + size > self.limits.max_bytes {
                return;
            }
            self.bytes += size;
            self.bodies.insert(tx.body_hash, tx.id);
            self.order.push_back(tx.id);
            self.txs.insert(tx.id, tx.clone());
        }
    }

    /// Up to `max_txs` transactions and `max_bytes` bytes, in arrival order.
    pub fn candidates(&self, max_txs: usize, max_bytes: u64) -> Vec<CheckedTx> {
        let mut out = Vec::new();
        let mut bytes = 0u64;
        for id in &self.order {
            if out.len() >= max_txs {
                break;
            }
            let Some(tx) = self.txs.get(id) else { continue };
            let size = (tx.raw.body.len() + tx.raw.signature.len()) as u64;
            if bytes + size > max_bytes {
                break;
            }
            bytes += size;
            out.push(tx.clone());
        }
        out
    }

    /// Remove committed transactions (by id, and any pending copy of the same body signed
    /// differently, which can never be included) and those that can no longer be included.
    pub fn prune(&mut self, committed: &[(Hash, Hash)], next_height: u64) {
        for (id, body_hash) in committed {
            self.remove(id);
            if let Some(copy) = self.bodies.get(body_hash).copied() {
                self.remove(&copy);
            }
        }
        let expired: Vec<Hash> = self
            .txs
            .values()
            .filter(|t| t.expires_at_height < next_height)
            .map(|t| t.id)
            .collect();
        for id in &expired {
            self.remove(id);
        }
        if self.order.len() > self.txs.len() {
            let txs = &self.txs;
            self.order.retain(|id| txs.contains_key(id));
        }
    }

    fn remove(&mut self, id: &Hash) {
        if let Some(tx) = self.txs.remove(id) {
            self.bytes -= footprint(&tx);
            self.bodies.remove(&tx.body_hash);
        }
    }
}

/// The stateless part of admission: decoding, chain id, strict signature, and the personal-data
/// guard. The expensive part; run it without holding the mempool lock.
pub fn precheck(raw: RawTx, chain_id: &str) -> Result<CheckedTx, Reject> {
    let tx = check_stateless(raw, chain_id)?;
    guard(tx)
}

/// [`precheck`] of many transactions, their signatures checked in one batch; results in input
/// order.
pub fn precheck_batch(raws: Vec<RawTx>, chain_id: &str) -> Vec<Result<CheckedTx, Reject>> {
    check_stateless_batch(raws, chain_id)
        .into_iter()
        .map(|r| r.and_then(guard))
        .collect()
}

fn guard(tx: CheckedTx) -> Result<CheckedTx, Reject> {
    crate::admission::guard::check_call(&tx.call).map_err(|v| {
        if v.kind.is_format() {
            Reject::Malformed(v.to_string())
        } else {
            Reject::PersonalData(v.to_string())
        }
    })?;
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use yui_proto::v1 as pb;

    #[test]
    fn committing_a_body_prunes_every_pending_copy_of_it() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let tx = |seq| {
            let call = pb::tx_body::Call::Governance(pb::GovernanceCall { call: None });
            let mut nonce = [0u8; 16];
            nonce[..8].copy_from_slice(&u64::to_le_bytes(seq));
            let body = yui_client::tx::body_with_nonce(&key, "c", 10, nonce, call);
            let raw = RawTx::from_proto(yui_client::tx::sign(&key, &body));
            check_stateless(raw, "c").map_err(|e| e.to_string())
        };
        let (Ok(a), Ok(other)) = (tx(1), tx(2)) else {
            panic!("test transactions must check");
        };
        // The same body under another signature (as a randomized signer would produce): a
        // different id, the same body hash.
        let mut copy = a.clone();
        copy.id = Hash([0xcc; 32]);
        let mut m = Mempool::new(MempoolConfig::default());
        m.remember_validated(&[copy.clone(), other.clone()]);
        assert_eq!(m.len(), 2);
        // `a` is committed (it came in a block from elsewhere): its pending copy goes too.
        m.prune(&[(a.id, a.body_hash)], 2);
        assert!(
            !m.contains(&copy.id),
            "the copy of a committed body stayed pending"
        );
        assert!(m.contains(&other.id));
        assert_eq!(m.len(), 1);
        assert_eq!(m.candidates(10, u64::MAX).len(), 1);
    }
}
