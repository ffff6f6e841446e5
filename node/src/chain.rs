//! The committed chain on disk: block execution through `contracts`, the one-batch commit,
//! the start-up check, and the reads the API serves.
//!
//! Key layout in the `Store` (all heights and indexes big-endian, so keys sort in order):
//! - `b/{height}`             borsh `StoredBlock` (header, transactions, commit certificate)
//! - `h/{hash}`               height of a block hash
//! - `t/{tx id}`              borsh `TxLocation`
//! - `r/{height}{index:u32}`  borsh `StoredReceipt`, with the transaction's events (the event
//!   stream reads them in key order; an event's cursor is (height, index in the block))
//! - `s/{state key}`          contract state
//! - `m/tip`, `m/genesis`     borsh `Tip`, the genesis hash
//!
//! Replay protection needs no key of its own: a body can only be committed again while it has
//! not expired, so the bodies committed in the last `max_expiry_blocks` blocks are kept in
//! memory ([`ReplayWindow`]), rebuilt from those blocks when the node starts.

use crate::genesis::{records_to_set, GenesisDoc};
use crate::store::{Batch, Store, StoreError};
use crate::tx::{check_expiry, check_stateless, CheckedTx, RawTx, Reject};
use anyhow::{anyhow, bail, Context as _, Result};
use borsh::{BorshDeserialize, BorshSerialize};
use prost::Message as _;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use yui_consensus::{merkle, CommitCertificate, FaultModel, Hash, Header, PublicKey, ValidatorSet};
use yui_contracts::state::Entries;
use yui_contracts::{governance, pb, root, Context, Failed, Overlay, Receipt, StateRead, WriteSet};

/// An event's position: (height, index within the block).
pub type Cursor = (u64, u32);

/// The committed tip.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Tip {
    /// Height (0 = only genesis).
    pub height: u64,
    /// Block hash (genesis hash at 0).
    pub hash: Hash,
    /// State root after this height.
    pub state_root: [u8; 32],
    /// Block time.
    pub time_ms: u64,
}

/// A block as stored.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StoredBlock {
    /// Header.
    pub header: Header,
    /// Transactions in order.
    pub txs: Vec<RawTx>,
    /// The certificate that committed it.
    pub cert: CommitCertificate,
}

/// Where a committed transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TxLocation {
    /// Height.
    pub height: u64,
    /// Index in the block.
    pub index: u32,
}

/// A receipt as stored.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StoredReceipt {
    /// Transaction id.
    pub tx_id: [u8; 32],
    /// Succeeded?
    pub success: bool,
    /// Error code (failure only).
    pub error_code: String,
    /// Error message (failure only).
    pub error_message: String,
    /// Index of its first event in the block's event stream.
    pub first_event: u32,
    /// Block time.
    pub time_ms: u64,
    /// Its events, each a protobuf `yui.v1.Event`.
    pub events: Vec<Vec<u8>>,
}

/// An event of the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// Emitting transaction.
    pub tx_id: [u8; 32],
    /// Block time.
    pub time_ms: u64,
    /// protobuf `yui.v1.Event`.
    pub event: Vec<u8>,
}

fn block_key(h: u64) -> Vec<u8> {
    [b"b/".as_slice(), &h.to_be_bytes()].concat()
}
fn receipt_key(h: u64, i: u32) -> Vec<u8> {
    [b"r/".as_slice(), &h.to_be_bytes(), &i.to_be_bytes()].concat()
}
/// Prefix of contract state keys in the store.
pub const STATE_PREFIX: &[u8] = b"s/";

fn decode<T: BorshDeserialize>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    T::try_from_slice(bytes).map_err(|e| StoreError(format!("stored {what} does not decode: {e}")))
}

/// Contract state read from the store.
pub struct StoreState<'a>(pub &'a dyn Store);

impl StateRead for StoreState<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Failed> {
        self.0
            .get(&[STATE_PREFIX, key].concat())
            .map_err(|e| Failed(e.to_string()))
    }

    fn scan(&self, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Entries, Failed> {
        let p = [STATE_PREFIX, prefix].concat();
        let a = after.map(|a| [STATE_PREFIX, a].concat());
        Ok(self
            .0
            .scan(&p, a.as_deref(), limit)
            .map_err(|e| Failed(e.to_string()))?
            .into_iter()
            .map(|(k, v)| (k[STATE_PREFIX.len()..].to_vec(), v))
            .collect())
    }
}

/// A block executed but not yet committed.
#[derive(Clone, Debug)]
pub struct Executed {
    /// The block (its certificate is filled in at commit).
    pub header: Header,
    /// Transactions.
    pub txs: Vec<CheckedTx>,
    /// Receipts, one per transaction.
    pub receipts: Vec<Receipt>,
    /// State writes of the whole block.
    pub writes: WriteSet,
}

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
    /// Max expiry window.
    pub max_expiry_blocks: u64,
    /// Committed bodies that have not expired (replay protection).
    pub replay: Arc<RwLock<ReplayWindow>>,
}

impl ChainReader {
    /// The committed tip.
    pub fn tip(&self) -> Result<Tip, StoreError> {
        match self.store.get(b"m/tip")? {
            Some(b) => decode(&b, "tip"),
            None => Err(StoreError("the store has no tip".into())),
        }
    }

    /// Contract state view.
    pub fn state(&self) -> StoreState<'_> {
        StoreState(self.store.as_ref())
    }

    /// Block by height.
    pub fn block(&self, height: u64) -> Result<Option<StoredBlock>, StoreError> {
        self.store
            .get(&block_key(height))?
            .map(|b| decode(&b, "block"))
            .transpose()
    }

    /// Height of a block hash.
    pub fn height_of(&self, hash: &Hash) -> Result<Option<u64>, StoreError> {
        Ok(self
            .store
            .get(&[b"h/".as_slice(), &hash.0].concat())?
            .and_then(|b| b.try_into().ok().map(u64::from_be_bytes)))
    }

    /// Where a transaction is.
    pub fn tx_location(&self, id: &Hash) -> Result<Option<TxLocation>, StoreError> {
        self.store
            .get(&[b"t/".as_slice(), &id.0].concat())?
            .map(|b| decode(&b, "tx location"))
            .transpose()
    }

    /// A receipt.
    pub fn receipt(&self, loc: TxLocation) -> Result<Option<StoredReceipt>, StoreError> {
        self.store
            .get(&receipt_key(loc.height, loc.index))?
            .map(|b| decode(&b, "receipt"))
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
            let page = self.store.scan(b"r/", scan_after.as_deref(), PAGE)?;
            let n = page.len();
            for (k, v) in page {
                let height = k
                    .get(2..10)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| StoreError("bad receipt key".into()))?;
                let r: StoredReceipt = decode(&v, "receipt")?;
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
        let prefix = [b"r/".as_slice(), &h.to_be_bytes()].concat();
        let Some((last, _)) = self.store.scan_rev(&prefix, 1)?.into_iter().next() else {
            return Ok(receipt_key(h, u32::MAX));
        };
        let count = last
            .get(10..14)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
            .ok_or_else(|| StoreError("bad receipt key".into()))?
            .saturating_add(1);
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
                .ok_or_else(|| StoreError(format!("receipt {mid} of block {h} is missing")))?;
            if first <= i {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(match lo.checked_sub(1) {
            Some(before) => receipt_key(h, before),
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
            events.push(
                pb::Event::decode(e.as_slice())
                    .map_err(|e| StoreError(format!("stored event does not decode: {e}")))?,
            );
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
            .map_err(|_| StoreError("the replay window lock is poisoned".into()))
    }

    /// The validator set deciding `height`, from committed state.
    pub fn validator_set(&self, height: u64) -> Result<ValidatorSet> {
        let (_, records) = governance::validators_at(&self.state(), height)
            .map_err(|e| anyhow!("cannot read the validator set: {e}"))?;
        records_to_set(&records, self.fault_model)
    }
}

/// The writer side of the chain: executes and commits blocks. Owned by the driver.
pub struct Chain {
    /// Shared reads.
    pub reader: ChainReader,
    tip: Tip,
}

impl Chain {
    /// Open the chain in `store`: write genesis if the store is empty, else run the start-up
    /// check (genesis matches, tip block present and consistent, hash links and certificates
    /// of the last blocks verify).
    pub fn open(store: Arc<dyn Store>, genesis: &GenesisDoc) -> Result<Chain> {
        let genesis_hash = genesis.hash()?;
        let reader = ChainReader {
            store: store.clone(),
            chain_id: genesis.chain_id.clone(),
            genesis_hash,
            fault_model: genesis.fault_model.model(),
            max_expiry_blocks: genesis.max_expiry_blocks,
            replay: Arc::default(),
        };
        match store.get(b"m/genesis")? {
            None => {
                let g = genesis.contracts_genesis()?;
                let writes = {
                    let base = StoreState(store.as_ref());
                    let mut ov = Overlay::new(&base);
                    yui_contracts::init_genesis(&mut ov, &g)
                        .map_err(|e| anyhow!("genesis is not valid: {e}"))?;
                    ov.writes
                };
                let tip = Tip {
                    height: 0,
                    hash: genesis_hash,
                    state_root: root::genesis_root(&writes),
                    time_ms: genesis.genesis_time_ms,
                };
                let mut batch = Batch::default();
                apply_state_writes(&mut batch, &writes);
                batch.put(b"m/genesis".to_vec(), genesis_hash.0.to_vec());
                batch.put(b"m/tip".to_vec(), borsh::to_vec(&tip)?);
                store.write(batch)?;
                store.flush()?;
                Ok(Chain { reader, tip })
            }
            Some(g) => {
                if g != genesis_hash.0 {
                    bail!(
                        "the data directory belongs to another network (genesis {} there, {} in the genesis file)",
                        hex::encode(&g),
                        genesis_hash
                    );
                }
                let tip = reader
                    .tip()
                    .context("the data directory has no committed tip")?;
                let chain = Chain { reader, tip };
                chain.startup_check().context(
                    "the data directory fails its start-up check; move it away and start the node again \
                     to rebuild it from its peers (docs/operations.md, 'Rebuilding a node')",
                )?;
                chain.load_replay_window()?;
                Ok(chain)
            }
        }
    }

    fn startup_check(&self) -> Result<()> {
        const CHECK_LAST: u64 = 16;
        let r = &self.reader;
        if self.tip.height == 0 {
            return Ok(());
        }
        let mut child: Option<StoredBlock> = None;
        let from = self.tip.height.saturating_sub(CHECK_LAST).max(1);
        for h in (from..=self.tip.height).rev() {
            let b = r.block(h)?.ok_or_else(|| anyhow!("block {h} is missing"))?;
            let hash = b.header.hash();
            if h == self.tip.height {
                if hash != self.tip.hash {
                    bail!("the tip block's hash does not match the recorded tip");
                }
                if b.header.state_root.0 != self.tip.state_root {
                    bail!("the tip block's state root does not match the recorded state root");
                }
            }
            if let Some(c) = &child {
                if c.header.parent_hash != hash {
                    bail!("block {} does not link to block {h}", h + 1);
                }
            }
            let set = r.validator_set(h)?;
            b.cert
                .verify(&r.chain_id, h, &hash, &set)
                .map_err(|e| anyhow!("the commit certificate of block {h} does not verify: {e}"))?;
            child = Some(b);
        }
        if from == 1 {
            if let Some(c) = &child {
                if c.header.parent_hash != r.genesis_hash {
                    bail!("block 1 does not link to the genesis");
                }
            }
        }
        Ok(())
    }

    /// Rebuild the replay window from the blocks that can hold unexpired bodies: a body
    /// committed at height `c` expires at most at `c + max_expiry_blocks`.
    fn load_replay_window(&self) -> Result<()> {
        let r = &self.reader;
        let next = self.tip.height + 1;
        let from = self.tip.height.saturating_sub(r.max_expiry_blocks).max(1);
        let mut w = r
            .replay
            .write()
            .map_err(|_| anyhow!("the replay window lock is poisoned"))?;
        for h in from..=self.tip.height {
            let b = r.block(h)?.ok_or_else(|| anyhow!("block {h} is missing"))?;
            for (i, t) in b.txs.iter().enumerate() {
                let body = pb::TxBody::decode(t.body.as_slice()).map_err(|e| {
                    anyhow!("transaction {i} of committed block {h} does not decode: {e}")
                })?;
                if body.expires_at_height >= next {
                    w.insert(t.body_hash(), body.expires_at_height);
                }
            }
        }
        Ok(())
    }

    /// The committed tip.
    pub fn tip(&self) -> &Tip {
        &self.tip
    }

    /// Execute transactions as block `height` on top of the tip. With `strict`, any invalid
    /// transaction (expired, duplicate, bad signature) is an error (validating a proposal);
    /// without, such transactions are left out (building a proposal).
    pub fn execute(
        &self,
        time_ms: u64,
        proposer: PublicKey,
        candidates: Vec<CheckedTx>,
        strict: bool,
    ) -> Result<Executed, Reject> {
        let height = self.tip.height + 1;
        let r = &self.reader;
        let base = r.state();
        let mut block_state = Overlay::new(&base);
        let mut txs = Vec::with_capacity(candidates.len());
        let mut receipts = Vec::with_capacity(candidates.len());
        let mut bodies = BTreeSet::new();
        let internal = |e: StoreError| Reject::Internal(e.to_string());
        for (index, tx) in candidates.into_iter().enumerate() {
            let dup = !bodies.insert(tx.body_hash)
                || r.body_committed(&tx.body_hash).map_err(internal)?;
            let check = if dup {
                Err(Reject::AlreadyExists(
                    "the transaction is already committed".into(),
                ))
            } else {
                check_expiry(&tx, height, r.max_expiry_blocks)
            };
            if let Err(e) = check {
                if strict {
                    return Err(Reject::InvalidArgument(format!(
                        "transaction {index} ({}): {e}",
                        tx.id
                    )));
                }
                continue;
            }
            let ctx = Context {
                chain_id: r.chain_id.clone(),
                signer: tx.signer,
                height,
                time_ms,
                tx_id: tx.id.0,
            };
            let receipt = yui_contracts::execute(&mut block_state, &ctx, &tx.call)
                .map_err(|f| Reject::Internal(f.to_string()))?;
            receipts.push(receipt);
            txs.push(tx);
        }
        let writes = block_state.writes;
        let tx_ids: Vec<&[u8]> = txs.iter().map(|t| t.id.0.as_slice()).collect();
        let leaves: Vec<Vec<u8>> = txs
            .iter()
            .zip(&receipts)
            .map(|(t, rc)| root::receipt_leaf(&t.id.0, rc))
            .collect();
        let validators = r
            .validator_set(height)
            .map_err(|e| Reject::Internal(e.to_string()))?;
        let header = Header {
            chain_id: r.chain_id.clone(),
            height,
            time_ms,
            parent_hash: self.tip.hash,
            proposer,
            validator_set_hash: validators.hash(),
            tx_root: merkle::root(&tx_ids),
            state_root: Hash(root::next_root(&self.tip.state_root, height, &writes)),
            event_root: merkle::root(&leaves),
        };
        Ok(Executed {
            header,
            txs,
            receipts,
            writes,
        })
    }

    /// Re-execute a block received from a peer and check it matches its header.
    pub fn validate(&self, header: &Header, txs: &[RawTx]) -> Result<Executed, Reject> {
        self.validate_with(header, txs, &|_| None)
    }

    /// `validate`, reusing transactions this node already checked (its mempool): a
    /// transaction's id covers its exact body and signature bytes, so a known id needs no
    /// second signature check.
    pub fn validate_with(
        &self,
        header: &Header,
        txs: &[RawTx],
        known: &dyn Fn(&Hash) -> Option<CheckedTx>,
    ) -> Result<Executed, Reject> {
        let bad = |m: String| Reject::InvalidArgument(m);
        if header.chain_id != self.reader.chain_id || header.height != self.tip.height + 1 {
            return Err(bad(format!(
                "block for height {} does not extend the tip",
                header.height
            )));
        }
        if header.parent_hash != self.tip.hash {
            return Err(bad("block does not link to the tip".into()));
        }
        if header.time_ms <= self.tip.time_ms {
            return Err(bad("block time is not after its parent's".into()));
        }
        let mut checked = Vec::with_capacity(txs.len());
        for (i, t) in txs.iter().enumerate() {
            let id = t.id();
            let c = match known(&id) {
                Some(c) => c,
                None => check_stateless(t.clone(), &self.reader.chain_id)
                    .map_err(|e| bad(format!("transaction {i} ({id}): {e}")))?,
            };
            checked.push(c);
        }
        let ex = self.execute(header.time_ms, header.proposer, checked, true)?;
        let mismatch = |what: &str, want: &Hash, got: &Hash| {
            bad(format!(
                "block {}: the {what} in the header is {want} but re-execution gives {got}",
                header.height
            ))
        };
        let e = &ex.header;
        if e.validator_set_hash != header.validator_set_hash {
            return Err(mismatch(
                "validator-set hash (the set the state names for this height)",
                &header.validator_set_hash,
                &e.validator_set_hash,
            ));
        }
        if e.tx_root != header.tx_root {
            return Err(mismatch("transaction root", &header.tx_root, &e.tx_root));
        }
        if e.state_root != header.state_root {
            return Err(mismatch("state root", &header.state_root, &e.state_root));
        }
        if e.event_root != header.event_root {
            return Err(mismatch("event root", &header.event_root, &e.event_root));
        }
        if e != header {
            return Err(bad(format!(
                "block {} does not match its re-execution",
                header.height
            )));
        }
        Ok(ex)
    }

    /// Commit an executed block with its certificate: one atomic batch, flushed.
    pub fn commit(&mut self, ex: &Executed, cert: CommitCertificate) -> Result<Tip, StoreError> {
        let h = ex.header.height;
        let hash = ex.header.hash();
        let mut batch = Batch::default();
        let block = StoredBlock {
            header: ex.header.clone(),
            txs: ex.txs.iter().map(|t| t.raw.clone()).collect(),
            cert,
        };
        batch.put(
            block_key(h),
            borsh::to_vec(&block).map_err(|e| StoreError(e.to_string()))?,
        );
        batch.put(
            [b"h/".as_slice(), &hash.0].concat(),
            h.to_be_bytes().to_vec(),
        );
        let mut event_index: u32 = 0;
        for (i, (tx, rc)) in ex.txs.iter().zip(&ex.receipts).enumerate() {
            let i = i as u32;
            let loc = TxLocation {
                height: h,
                index: i,
            };
            batch.put(
                [b"t/".as_slice(), &tx.id.0].concat(),
                borsh::to_vec(&loc).unwrap_or_default(),
            );
            let (code, message) = match &rc.result {
                Ok(()) => (String::new(), String::new()),
                Err(e) => (e.code.clone(), e.message.clone()),
            };
            let stored = StoredReceipt {
                tx_id: tx.id.0,
                success: rc.result.is_ok(),
                error_code: code,
                error_message: message,
                first_event: event_index,
                time_ms: ex.header.time_ms,
                events: rc.events.iter().map(|e| e.encode_to_vec()).collect(),
            };
            event_index += rc.events.len() as u32;
            batch.put(
                receipt_key(h, i),
                borsh::to_vec(&stored).unwrap_or_default(),
            );
        }
        apply_state_writes(&mut batch, &ex.writes);
        let tip = Tip {
            height: h,
            hash,
            state_root: ex.header.state_root.0,
            time_ms: ex.header.time_ms,
        };
        batch.put(b"m/tip".to_vec(), borsh::to_vec(&tip).unwrap_or_default());
        self.reader.store.write(batch)?;
        self.reader.store.flush()?;
        let mut w = self
            .reader
            .replay
            .write()
            .map_err(|_| StoreError("the replay window lock is poisoned".into()))?;
        for tx in &ex.txs {
            w.insert(tx.body_hash, tx.expires_at_height);
        }
        w.expire_before(h + 1);
        drop(w);
        self.tip = tip.clone();
        Ok(tip)
    }
}

fn apply_state_writes(batch: &mut Batch, writes: &WriteSet) {
    for (k, v) in writes {
        let key = [STATE_PREFIX, k].concat();
        match v {
            Some(v) => batch.put(key, v.clone()),
            None => batch.delete(key),
        }
    }
}
