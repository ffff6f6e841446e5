//! The committed chain: block execution through `contracts`, validation of a peer's block by
//! re-execution, the one-batch commit, and the start-up check. [`ChainReader`] serves the
//! reads; [`keys`] owns the store's key layout. This module must never talk to the network
//! or a client: the driver and the API call it.

pub mod convert;
pub mod keys;
pub mod params;
mod reader;
mod replay;
mod state;
pub mod tx;
mod types;

pub use reader::ChainReader;
pub use replay::ReplayWindow;
pub use state::StoreState;
pub use types::{Cursor, Executed, StoredBlock, StoredEvent, StoredReceipt, Tip, TxLocation};

use crate::setup::genesis::GenesisDoc;
use crate::storage::{Batch, Store, StoreError};
use anyhow::{anyhow, bail, Context as _, Result};
use prost::Message as _;
use std::collections::BTreeSet;
use std::sync::Arc;
use tx::{check_expiry, check_stateless_batch, CheckedTx, Reject};
use yui_client::tx::RawTx;
use yui_consensus::{merkle, CommitCertificate, Hash, Header, ProposerRecord, PublicKey};
use yui_contracts::{pb, root, Context, Overlay, WriteSet};

/// Why a block cannot be executed or validated. The two variants are kept apart on purpose:
/// an invalid block is its proposer's fault (drop it, vote nil), a failure is this node's
/// (stop, never vote on what could not be checked).
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// The block breaks a rule: every honest node rejects it.
    #[error("the block is invalid: {0}")]
    Invalid(String),
    /// This node could not check it (its store failed, a contract hit a local fault).
    #[error("this node failed while executing the block: {0}")]
    Failed(String),
}

impl From<StoreError> for BlockError {
    fn from(e: StoreError) -> BlockError {
        BlockError::Failed(e.to_string())
    }
}

/// Why a commit failed. Every variant stops consensus on this node.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The store refused the batch or its flush.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A block whose events do not fit the event cursor (2^32 per block).
    #[error("block {0} has more events than an event cursor can number")]
    TooManyEvents(u64),
    /// The state the commit needs could not be read.
    #[error("the commit could not read the state it needs: {0}")]
    Failed(String),
}

/// The writer side of the chain: executes and commits blocks. Owned by the driver.
pub struct Chain {
    /// Shared reads.
    pub reader: ChainReader,
    tip: Tip,
    /// Who is skipped as proposer after the tip (`yui_consensus::proposer`).
    proposers: ProposerRecord,
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
        match store.get(keys::GENESIS)? {
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
                batch.put(keys::GENESIS, genesis_hash.0.to_vec());
                batch.put(keys::TIP, keys::encode(&tip));
                store.write(batch)?;
                store.flush()?;
                Ok(Chain {
                    reader,
                    tip,
                    proposers: ProposerRecord::default(),
                })
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
                let proposers = match reader.store.get(keys::PROPOSERS)? {
                    Some(b) => keys::decode(&b, "proposer record", keys::PROPOSERS)?,
                    None => ProposerRecord::default(),
                };
                let chain = Chain {
                    reader,
                    tip,
                    proposers,
                };
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
    /// committed at height `c` expires at most at `c` + the expiry window then, so the longest
    /// window the chain ever had bounds how far back to read.
    fn load_replay_window(&self) -> Result<()> {
        let r = &self.reader;
        let next = self.tip.height + 1;
        let window = r.longest_expiry_until(self.tip.height)?;
        let from = self.tip.height.saturating_sub(window).max(1);
        let mut w = r
            .replay
            .write()
            .map_err(|_| anyhow!("the replay window lock is poisoned"))?;
        for h in from..=self.tip.height {
            let b = r.block(h)?.ok_or_else(|| anyhow!("block {h} is missing"))?;
            let mut bodies = Vec::with_capacity(b.txs.len());
            for (i, t) in b.txs.iter().enumerate() {
                let body = pb::TxBody::decode(t.body.as_slice()).map_err(|e| {
                    anyhow!("transaction {i} of committed block {h} does not decode: {e}")
                })?;
                if body.expires_at_height >= next {
                    bodies.push((t.body_hash(), body.expires_at_height));
                }
            }
            w.insert_block(bodies);
        }
        Ok(())
    }

    /// The committed tip.
    pub fn tip(&self) -> &Tip {
        &self.tip
    }

    /// The proposers skipped at the next height, as every node computes them from the
    /// committed chain.
    pub fn skipped_proposers(&self) -> Vec<PublicKey> {
        self.proposers.skipped(self.tip.height + 1)
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
    ) -> Result<Executed, BlockError> {
        let height = self.tip.height + 1;
        let r = &self.reader;
        let base = r.state();
        let mut block_state = Overlay::new(&base);
        let mut txs = Vec::with_capacity(candidates.len());
        let mut receipts = Vec::with_capacity(candidates.len());
        let mut bodies = BTreeSet::new();
        let window = r
            .max_expiry_at(height)
            .map_err(|e| BlockError::Failed(e.to_string()))?;
        for (index, tx) in candidates.into_iter().enumerate() {
            let dup = !bodies.insert(tx.body_hash) || r.body_committed(&tx.body_hash)?;
            let check = if dup {
                Err(Reject::DuplicateCommitted)
            } else {
                check_expiry(&tx, height, window)
            };
            if let Err(e) = check {
                if strict {
                    return Err(BlockError::Invalid(format!(
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
                .map_err(|f| BlockError::Failed(f.to_string()))?;
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
            .map_err(|e| BlockError::Failed(format!("{e:#}")))?;
        let protocol_version = r
            .supported_protocol_at(height)
            .map_err(|e| BlockError::Failed(format!("{e:#}")))?;
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
            protocol_version,
        };
        Ok(Executed {
            header,
            txs,
            receipts,
            writes,
        })
    }

    /// Re-execute a block received from a peer and check it matches its header.
    pub fn validate(&self, header: &Header, txs: &[RawTx]) -> Result<Executed, BlockError> {
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
    ) -> Result<Executed, BlockError> {
        let bad = BlockError::Invalid;
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
        // Transactions this node admitted before were checked then; the others are checked
        // here, their signatures in one batch.
        let mut checked: Vec<Option<CheckedTx>> = txs.iter().map(|t| known(&t.id())).collect();
        let unknown: Vec<usize> = (0..txs.len()).filter(|i| checked[*i].is_none()).collect();
        let results = check_stateless_batch(
            unknown.iter().map(|i| txs[*i].clone()).collect(),
            &self.reader.chain_id,
        );
        for (i, r) in unknown.into_iter().zip(results) {
            let c = r.map_err(|e| bad(format!("transaction {i} ({}): {e}", txs[i].id())))?;
            checked[i] = Some(c);
        }
        let checked: Vec<CheckedTx> = checked.into_iter().flatten().collect();
        let ex = self.execute(header.time_ms, header.proposer, checked, true)?;
        let mismatch = |what: &str, want: &Hash, got: &Hash| {
            bad(format!(
                "block {}: the {what} in the header is {want} but re-execution gives {got}",
                header.height
            ))
        };
        let e = &ex.header;
        if e.protocol_version != header.protocol_version {
            return Err(bad(format!(
                "block {} says protocol version {}, but version {} is in force at its height",
                header.height, header.protocol_version, e.protocol_version
            )));
        }
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
    pub fn commit(&mut self, ex: &Executed, cert: CommitCertificate) -> Result<Tip, CommitError> {
        let h = ex.header.height;
        let hash = ex.header.hash();
        let mut batch = Batch::default();
        let block = StoredBlock {
            header: ex.header.clone(),
            txs: ex.raw_txs(),
            cert,
        };
        batch.put(keys::block(h), keys::encode(&block));
        batch.put(keys::block_hash(&hash.0), h.to_be_bytes().to_vec());
        let mut event_index: u32 = 0;
        for (i, (tx, rc)) in ex.txs.iter().zip(&ex.receipts).enumerate() {
            let i = index_u32(i)?;
            let loc = TxLocation {
                height: h,
                index: i,
            };
            batch.put(keys::tx(&tx.id.0), keys::encode(&loc));
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
            event_index = index_u32(rc.events.len())
                .ok()
                .and_then(|n| event_index.checked_add(n))
                .ok_or(CommitError::TooManyEvents(h))?;
            batch.put(keys::receipt(h, i), keys::encode(&stored));
        }
        apply_state_writes(&mut batch, &ex.writes);
        let tip = Tip {
            height: h,
            hash,
            state_root: ex.header.state_root.0,
            time_ms: ex.header.time_ms,
        };
        batch.put(keys::TIP, keys::encode(&tip));
        let set = self
            .reader
            .validator_set(h)
            .map_err(|e| CommitError::Failed(format!("{e:#}")))?;
        let mut proposers = self.proposers.clone();
        proposers.record(&set, h, &ex.header.proposer);
        batch.put(keys::PROPOSERS, keys::encode(&proposers));
        self.reader.store.write(batch)?;
        self.reader.store.flush()?;
        let mut w = self
            .reader
            .replay
            .write()
            .map_err(|_| StoreError::Poisoned)?;
        w.insert_block(ex.txs.iter().map(|tx| (tx.body_hash, tx.expires_at_height)));
        w.expire_before(h + 1);
        drop(w);
        self.tip = tip.clone();
        self.proposers = proposers;
        Ok(tip)
    }
}

fn apply_state_writes(batch: &mut Batch, writes: &WriteSet) {
    for (k, v) in writes {
        let key = keys::state(k);
        match v {
            Some(v) => batch.put(key, v.clone()),
            None => batch.delete(key),
        }
    }
}

/// A position in a block as the store keys it. A block holds at most `max_block_txs`
/// transactions (a `u32` in genesis), so this fails only on a block no validator accepts.
fn index_u32(i: usize) -> Result<u32, CommitError> {
    u32::try_from(i).map_err(|_| CommitError::TooManyEvents(0))
}
