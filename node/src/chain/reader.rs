//! Read access to the committed chain, shared by the API, the driver and the auditor tools:
//! the tip, blocks, transaction locations, receipts, the event stream, contract state and the
//! validator set of a height. It must never write.

use crate::chain::keys;
use crate::chain::replay::ReplayWindow;
use crate::chain::state::StoreState;
use crate::chain::types::{Cursor, StoredBlock, StoredEvent, StoredReceipt, Tip, TxLocation};
use crate::setup::genesis::records_to_set;
use crate::storage::{Store, StoreError};
use anyhow::{anyhow, Result};
use prost::Message as _;
use std::sync::{Arc, RwLock};
use yui_consensus::{FaultModel, Hash, ValidatorSet};
use yui_contracts::{governance, pb};

/// Read access to the committed chain, shared by the API and the driver.
#[derive(Clone)]
pub struct ChainReader {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Chain id.
    pub chain_id: String,
    /// Genesis hash.
    pub genesis_hash: Hash,
    /// Fault model.
    pub fault_model: FaultModel,
    /// Genesis' expiry window (a vote can change it: [`ChainReader::max_expiry_at`]).
    pub max_expiry_blocks: u64,
    /// Committed bodies that have not expired (replay protection).
    pub replay: Arc<RwLock<ReplayWindow>>,
}

impl ChainReader {
    /// The committed tip.
    pub fn tip(&self) -> Result<Tip, StoreError> {
        match self.store.get(keys::TIP)? {
            Some(b) => keys::decode(&b, "tip", keys::TIP),
            None => Err(StoreError::Missing("the committed tip (m/tip)".into())),
        }
    }

    /// Contract state view.
    pub fn state(&self) -> StoreState<'_> {
        StoreState(self.store.as_ref())
    }

    /// Block by height.
    pub fn block(&self, height: u64) -> Result<Option<StoredBlock>, StoreError> {
        let key = keys::block(height);
        self.store
            .get(&key)?
            .map(|b| keys::decode(&b, "block", &key))
            .transpose()
    }

    /// Height of a block hash.
    pub fn height_of(&self, hash: &Hash) -> Result<Option<u64>, StoreError> {
        let key = keys::block_hash(&hash.0);
        match self.store.get(&key)? {
            None => Ok(None),
            Some(b) => <[u8; 8]>::try_from(b.as_slice())
                .map(|h| Some(u64::from_be_bytes(h)))
                .map_err(|_| StoreError::corrupt("block height", &key, "not 8 bytes")),
        }
    }

    /// Where a transaction is.
    pub fn tx_location(&self, id: &Hash) -> Result<Option<TxLocation>, StoreError> {
        let key = keys::tx(&id.0);
        self.store
            .get(&key)?
            .map(|b| keys::decode(&b, "transaction location", &key))
            .transpose()
    }

    /// A receipt.
    pub fn receipt(&self, loc: TxLocation) -> Result<Option<StoredReceipt>, StoreError> {
        let key = keys::receipt(loc.height, loc.index);
        self.store
            .get(&key)?
            .map(|b| keys::decode(&b, "receipt", &key))
            .transpose()
    }

    /// Events strictly after `after` (or from the start), at most `limit`.
    pub fn events_after(
        &self,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<(Cursor, StoredEvent)>, StoreError> {
        const PAGE: usize = 64;
        let mut out = Vec::new();
        // Receipts are read from the one holding the first event after `after`.
        let mut scan_after = match after {
            None => None,
            Some((h, i)) => Some(self.receipt_scan_start(h, i)?),
        };
        while out.len() < limit {
            let page = self
                .store
                .scan(keys::RECEIPT, scan_after.as_deref(), PAGE)?;
            let n = page.len();
            for (k, v) in page {
                let (height, _) = keys::parse_receipt(&k)?;
                let r: StoredReceipt = keys::decode(&v, "receipt", &k)?;
                for (j, event) in r.events.into_iter().enumerate() {
                    let cursor = (height, r.first_event.saturating_add(j as u32));
                    if after.is_some_and(|a| cursor <= a) {
                        continue;
                    }
                    out.push((
                        cursor,
                        StoredEvent {
                            tx_id: r.tx_id,
                            time_ms: r.time_ms,
                            event,
                        },
                    ));
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
                scan_after = Some(k);
            }
            if n < PAGE {
                break;
            }
        }
        Ok(out)
    }

    /// The scan start (exclusive key) for events after (h, i): just before the last receipt of
    /// block h whose first event is at most i (events after i are in it or later), found by
    /// binary search; after the whole block if it has no receipt.
    fn receipt_scan_start(&self, h: u64, i: u32) -> Result<Vec<u8>, StoreError> {
        let prefix = keys::receipts_of(h);
        let Some((last, _)) = self.store.scan_rev(&prefix, 1)?.into_iter().next() else {
            return Ok(keys::receipt(h, u32::MAX));
        };
        let count = keys::parse_receipt(&last)?.1.saturating_add(1);
        // Invariant: receipt lo starts at or before i (receipt 0 starts at 0); hi is past it.
        let (mut lo, mut hi) = (0u32, count);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            let first = self
                .receipt(TxLocation {
                    height: h,
                    index: mid,
                })?
                .map(|r| r.first_event)
                .ok_or_else(|| StoreError::Missing(format!("receipt {mid} of block {h}")))?;
            if first <= i {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(match lo.checked_sub(1) {
            Some(before) => keys::receipt(h, before),
            None => prefix,
        })
    }

    /// The API receipt of a committed transaction, with its events.
    pub fn receipt_proto(&self, loc: TxLocation) -> Result<Option<pb::Receipt>, StoreError> {
        let Some(r) = self.receipt(loc)? else {
            return Ok(None);
        };
        let mut events = Vec::with_capacity(r.events.len());
        for e in &r.events {
            events.push(pb::Event::decode(e.as_slice()).map_err(|e| {
                StoreError::corrupt("event", &keys::receipt(loc.height, loc.index), e)
            })?);
        }
        Ok(Some(pb::Receipt {
            success: r.success,
            error: (!r.success).then(|| pb::TxError {
                code: r.error_code.clone(),
                message: r.error_message.clone(),
            }),
            events,
            first_event: Some(pb::Cursor {
                height: loc.height,
                index: r.first_event,
            }),
        }))
    }

    /// Whether a body was committed and has not expired yet (an expired one is rejected as
    /// expired).
    pub fn body_committed(&self, body_hash: &Hash) -> Result<bool, StoreError> {
        self.replay
            .read()
            .map(|w| w.contains(body_hash))
            .map_err(|_| StoreError::Poisoned)
    }

    /// The node keys committed state lets onto the network after `height`: the validators of
    /// the set deciding the next height and of every set scheduled after it (a new validator
    /// connects before its first height; a removed one stays until its last), and the node keys
    /// of member organizations. Genesis observers are added by the caller.
    pub fn network_keys(&self, height: u64) -> Result<Vec<[u8; 32]>> {
        let state = self.state();
        let history = governance::validator_history(&state)
            .map_err(|e| anyhow!("cannot read the validator sets: {e}"))?;
        let (current_from, _) = governance::validators_at(&state, height + 1)
            .map_err(|e| anyhow!("cannot read the validator set: {e}"))?;
        let mut keys: Vec<[u8; 32]> = history
            .sets
            .iter()
            .filter(|(from, _)| *from >= current_from)
            .flat_map(|(_, set)| set.iter().map(|v| v.public_key))
            .collect();
        keys.extend(
            governance::queries::member_node_keys(&state)
                .map_err(|e| anyhow!("cannot read the members' node keys: {e}"))?,
        );
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// The network keys of `organization`'s nodes after `height`: its validators' and its
    /// non-voting node's. Empty for an unknown organization.
    pub fn organization_network_keys(
        &self,
        organization: &str,
        height: u64,
    ) -> Result<Vec<[u8; 32]>> {
        let state = self.state();
        let (_, validators) = governance::validators_at(&state, height + 1)
            .map_err(|e| anyhow!("cannot read the validator set: {e}"))?;
        let mut keys: Vec<[u8; 32]> = validators
            .iter()
            .filter(|v| v.organization == organization)
            .map(|v| v.public_key)
            .collect();
        if let Some(k) = governance::organization(&state, organization)
            .map_err(|e| anyhow!("cannot read organization {organization}: {e}"))?
            .and_then(|o| o.node_key)
        {
            keys.push(k);
        }
        Ok(keys)
    }

    /// The validator set deciding `height`, from committed state.
    pub fn validator_set(&self, height: u64) -> Result<ValidatorSet> {
        let (_, records) = governance::validators_at(&self.state(), height)
            .map_err(|e| anyhow!("cannot read the validator set: {e}"))?;
        records_to_set(&records, self.fault_model)
    }
}
