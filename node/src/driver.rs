//! The consensus driver: the only task that owns the engine, the WAL and the chain writer.
//! It turns real time into engine timeouts, carries out the engine's actions in order
//! (persist before broadcast), builds and validates blocks, commits decisions in one flushed
//! batch, and only then publishes the new tip to the API and event subscribers.

use crate::chain::{Chain, Executed, Tip};
use crate::genesis::ConsensusParams;
use crate::mempool::Mempool;
use crate::wal::{Wal, WalRecord};
use anyhow::{Context as _, Result};
use ed25519_dalek::SigningKey;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{watch, Notify};
use yui_consensus::{Action, Engine, EngineConfig, Event, Hash, Timeout};

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What the driver shares with the API.
#[derive(Clone)]
pub struct Shared {
    /// Pending transactions.
    pub mempool: Arc<Mutex<Mempool>>,
    /// Woken when a transaction is admitted.
    pub mempool_notify: Arc<Notify>,
    /// The committed tip, published after each flushed commit.
    pub tip: watch::Receiver<Tip>,
}

/// The driver.
pub struct Driver {
    chain: Chain,
    engine: Engine,
    wal: Wal,
    wal_records: Vec<WalRecord>,
    key: Option<SigningKey>,
    params: ConsensusParams,
    mempool: Arc<Mutex<Mempool>>,
    notify: Arc<Notify>,
    tip_tx: watch::Sender<Tip>,
    timers: BTreeSet<(u64, Timeout)>,
    pending: HashMap<Hash, Executed>,
    started: bool,
    last_commit_ms: u64,
}

impl Driver {
    /// Prepare a driver over an opened chain.
    pub fn new(
        chain: Chain,
        key: Option<SigningKey>,
        params: ConsensusParams,
        wal_path: &std::path::Path,
        mempool: Arc<Mutex<Mempool>>,
    ) -> Result<(Driver, Shared)> {
        let (wal, wal_records) = Wal::open(wal_path)
            .with_context(|| format!("cannot open the consensus WAL {}", wal_path.display()))?;
        let config = EngineConfig {
            timeout_propose_ms: params.timeout_propose_ms,
            timeout_prevote_ms: params.timeout_prevote_ms,
            timeout_precommit_ms: params.timeout_precommit_ms,
            timeout_delta_ms: params.timeout_delta_ms,
            timeout_cap_ms: params.timeout_cap_ms,
            ..EngineConfig::with_chain_id(chain.reader.chain_id.clone())
        };
        let engine = Engine::new(config, key.clone());
        let (tip_tx, tip_rx) = watch::channel(chain.tip().clone());
        let notify = Arc::new(Notify::new());
        let shared = Shared {
            mempool: mempool.clone(),
            mempool_notify: notify.clone(),
            tip: tip_rx,
        };
        let last_commit_ms = chain.tip().time_ms;
        Ok((
            Driver {
                chain,
                engine,
                wal,
                wal_records,
                key,
                params,
                mempool,
                notify,
                tip_tx,
                timers: BTreeSet::new(),
                pending: HashMap::new(),
                started: false,
                last_commit_ms,
            },
            shared,
        ))
    }

    fn next_height(&self) -> u64 {
        self.chain.tip().height + 1
    }

    /// Whether the next height should start now: transactions wait and the minimum interval
    /// passed, or the heartbeat interval passed.
    fn due_to_start(&self, now: u64) -> Option<u64> {
        let since = now.saturating_sub(self.last_commit_ms.min(now));
        let has_txs = self.mempool.lock().map(|m| !m.is_empty()).unwrap_or(false);
        if has_txs && since >= self.params.min_block_interval_ms {
            return None;
        }
        if since >= self.params.heartbeat_interval_ms {
            return None;
        }
        let wait = if has_txs {
            self.params.min_block_interval_ms - since
        } else {
            self.params.heartbeat_interval_ms - since
        };
        Some(wait)
    }

    fn start_height(&mut self, now: u64) -> Result<()> {
        let height = self.next_height();
        let validators = self.chain.reader.validator_set(height)?;
        self.started = true;
        let mut events = VecDeque::from([Event::StartHeight { height, validators }]);
        for r in self.wal_records.iter().filter(|r| r.height == height) {
            events.push_back(Event::Restored(r.message.clone()));
        }
        self.feed(now, events)
    }

    /// Run until `shutdown` resolves.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<()> {
        loop {
            let now = now_ms();
            if !self.started && self.due_to_start(now).is_none() {
                self.start_height(now)?;
            }
            // Fire due timers.
            while let Some(&(at, t)) = self.timers.first() {
                if at > now_ms() {
                    break;
                }
                self.timers.pop_first();
                self.feed(now_ms(), VecDeque::from([Event::Timeout(t)]))?;
            }
            let now = now_ms();
            let mut wait_ms = 1_000u64;
            if let Some(&(at, _)) = self.timers.first() {
                wait_ms = wait_ms.min(at.saturating_sub(now));
            }
            if !self.started {
                if let Some(w) = self.due_to_start(now) {
                    wait_ms = wait_ms.min(w);
                } else {
                    wait_ms = 0;
                }
            }
            if wait_ms == 0 {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait_ms)) => {}
                _ = self.notify.notified() => {}
                _ = shutdown.changed() => {
                    tracing::info!("consensus driver stopping");
                    return Ok(());
                }
            }
        }
    }

    fn feed(&mut self, now: u64, mut events: VecDeque<Event>) -> Result<()> {
        // Bounded: each event yields finitely many actions; cap the loop anyway.
        let mut steps = 0usize;
        while let Some(ev) = events.pop_front() {
            steps += 1;
            if steps > 100_000 {
                anyhow::bail!("consensus driver loop did not settle");
            }
            for action in self.engine.handle(now, ev) {
                self.carry_out(now, action, &mut events)?;
            }
        }
        Ok(())
    }

    fn carry_out(&mut self, now: u64, action: Action, events: &mut VecDeque<Event>) -> Result<()> {
        match action {
            Action::Persist(message) => {
                let record = WalRecord {
                    height: self.next_height(),
                    message,
                };
                self.wal
                    .append(&record)
                    .context("cannot write the consensus WAL")?;
                self.wal_records.push(record);
            }
            Action::Broadcast(_message) => {
                // Single process: nothing to send. The network issue adds gossip here.
            }
            Action::BuildProposal { height, round } => {
                let time_ms = now.max(self.chain.tip().time_ms + 1);
                let candidates = {
                    let m = self
                        .mempool
                        .lock()
                        .map_err(|_| anyhow::anyhow!("mempool lock poisoned"))?;
                    m.candidates(
                        self.params.max_block_txs as usize,
                        self.params.max_block_bytes,
                    )
                };
                let proposer = self
                    .key
                    .as_ref()
                    .map(|k| k.verifying_key().to_bytes())
                    .unwrap_or_default();
                let ex = self
                    .chain
                    .execute(time_ms, proposer, candidates, false)
                    .map_err(|e| anyhow::anyhow!("cannot build block {height}: {e}"))?;
                let block_hash = ex.header.hash();
                tracing::debug!(height, round, txs = ex.txs.len(), "built proposal");
                self.pending.insert(block_hash, ex);
                events.push_back(Event::ProposalReady {
                    height,
                    round,
                    block_hash,
                });
            }
            Action::ValidateBlock {
                height,
                round,
                block_hash,
            } => {
                if self.pending.contains_key(&block_hash) {
                    events.push_back(Event::BlockValidated {
                        height,
                        round,
                        block_hash,
                        valid: true,
                    });
                }
            }
            Action::ScheduleTimeout { timeout, at_ms } => {
                self.timers.insert((at_ms, timeout));
            }
            Action::Decide(cert) => {
                let Some(ex) = self.pending.remove(&cert.block_hash) else {
                    anyhow::bail!(
                        "decided block {} is not known to this node",
                        cert.block_hash
                    );
                };
                let tip = self
                    .chain
                    .commit(&ex, cert)
                    .context("cannot commit the decided block")?;
                tracing::info!(height = tip.height, txs = ex.txs.len(), hash = %tip.hash, "committed block");
                self.pending.clear();
                self.timers.clear();
                self.started = false;
                self.last_commit_ms = now_ms();
                let next = tip.height + 1;
                self.wal
                    .truncate_below(next, &self.wal_records)
                    .context("cannot truncate the consensus WAL")?;
                self.wal_records.retain(|r| r.height >= next);
                let ids: Vec<Hash> = ex.txs.iter().map(|t| t.id).collect();
                if let Ok(mut m) = self.mempool.lock() {
                    m.prune(&ids, next);
                }
                let _ = self.tip_tx.send(tip);
            }
            Action::Evidence(e) => {
                tracing::warn!(validator = %hex::encode(e.first.data.validator), "equivocation evidence");
            }
        }
        Ok(())
    }
}
