//! The consensus driver: the only task that owns the engine, the WAL and the chain writer.
//! It turns real time into engine timeouts, carries out the engine's actions in order
//! (persist before broadcast), builds and validates blocks, commits decisions in one flushed
//! batch, and only then publishes the new tip to the API and event subscribers. It also runs
//! block sync: a node that is behind (down for a while, or with a wiped data directory) asks
//! its peers for committed blocks, checks each certificate against the validator set of its
//! height, re-executes the block and commits it. Proposals travel compact (ADR 0022): the
//! driver assembles a proposed block from its mempool and asks peers for the transactions it
//! lacks before it hands the proposal to the engine.

use crate::admission::mempool::Mempool;
use crate::chain::{Chain, Executed, StoredBlock, Tip};
use crate::runtime::compact::{self, Assembly};
use crate::runtime::p2p::{
    Gossip, Inbound, Outbound, SyncRequest, SyncResponse, MAX_FETCH_IDS, MAX_SYNC_BLOCKS,
};
use crate::runtime::signing;
use crate::runtime::telemetry::names;
use crate::setup::genesis::ConsensusParams;
use crate::storage::last_signed::LastSigned;
use crate::storage::wal::{Wal, WalRecord, WalTail};
use anyhow::{anyhow, Context as _, Result};
use ed25519_dalek::SigningKey;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch, Notify};
use yui_client::tx::RawTx;
use yui_consensus::{
    Action, Engine, EngineConfig, Event, Hash, Header, Message, Proposal, Timeout,
};

/// How often a node asks its peers for their height.
const SYNC_POLL_MS: u64 = 1_000;
/// While a height has not committed for this long, re-send this node's own proposal and
/// votes of the height (gossip delivers at most once; Tendermint needs eventual delivery).
const REBROADCAST_MS: u64 = 1_000;
/// Most blocks received by gossip kept while undecided (and, apart, most being assembled).
const MAX_RECEIVED_BLOCKS: usize = 64;
/// How long a compact proposal waits for the transactions it asked for before the driver
/// looks in its mempool again and asks every connected peer.
const FETCH_RETRY_MS: u64 = 300;

/// The consensus WAL's file name in the data directory.
pub const WAL_FILE: &str = "consensus.wal";
/// The last-signed record's file name in the data directory.
pub const LAST_SIGNED_FILE: &str = "last_signed";

/// Most engine events one input may cascade into before the driver stops as a bug (an input
/// yields a few dozen in practice).
const MAX_EVENTS_PER_FEED: usize = 100_000;

/// The block a message is for, for logs (`None`: nil).
fn message_value(m: &Message) -> Option<Hash> {
    match m {
        Message::Proposal(p) => Some(p.data.block_hash),
        Message::Vote(v) => v.data.block_hash,
    }
}

/// A node more than this many blocks below the highest height its peers report is behind: it
/// says so in its health and `GetChainInfo` and refuses submissions until it catches up.
pub const BEHIND_BLOCKS: u64 = 3;

/// How the node stands, as its health and `GetChainInfo` report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    /// Started, and has not yet heard the height of any peer: it cannot know whether it is
    /// at the tip.
    Starting,
    /// At the tip its peers report (within [`BEHIND_BLOCKS`]), or alone in its network.
    Serving,
    /// More than [`BEHIND_BLOCKS`] below its peers: catching up.
    Syncing,
    /// Consensus stopped on a local fault (the store or the WAL failed); the process exits.
    Stopped,
}

/// The node's status with the highest height its peers reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusView {
    /// The status.
    pub status: NodeStatus,
    /// The highest committed height a peer reported (0 before any report).
    pub peer_height: u64,
}

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
    /// Where to publish gossip (transactions submitted to this node).
    pub net: Option<mpsc::Sender<Outbound>>,
    /// How the node stands.
    pub status: watch::Receiver<StatusView>,
}

/// The network side of the driver.
pub struct NetLink {
    /// Messages to publish / requests to send.
    pub out: mpsc::Sender<Outbound>,
    /// Messages from peers.
    pub inbound: mpsc::Receiver<Inbound>,
    /// Whether this node is the only one of its network (no peer can ever report a height).
    pub solo: bool,
}

/// The driver.
pub struct Driver {
    chain: Chain,
    engine: Engine,
    wal: Wal,
    wal_records: Vec<WalRecord>,
    /// The last-signed record (validators only), written before a signed message leaves.
    last_signed: Option<LastSigned>,
    /// Published status.
    status_tx: watch::Sender<StatusView>,
    /// The highest height a peer reported (None before any report).
    peer_height: Option<u64>,
    /// Alone in its network.
    solo: bool,
    key: Option<SigningKey>,
    params: ConsensusParams,
    mempool: Arc<Mutex<Mempool>>,
    notify: Arc<Notify>,
    tip_tx: watch::Sender<Tip>,
    net_out: Option<mpsc::Sender<Outbound>>,
    net_in: Option<mpsc::Receiver<Inbound>>,
    /// Transactions gossiped by peers, to the admission thread.
    gossip_txs: std::sync::mpsc::SyncSender<RawTx>,
    timers: BTreeSet<(u64, Timeout)>,
    /// Blocks this node executed (built or validated), by hash.
    pending: HashMap<Hash, Executed>,
    /// Blocks received with proposals, not yet validated.
    received: HashMap<Hash, (Header, Vec<RawTx>)>,
    /// Blocks of compact proposals still missing transactions, by hash.
    assembling: HashMap<Hash, Assembly>,
    /// A decided block we do not have yet (fetched by sync).
    awaiting: Option<yui_consensus::CommitCertificate>,
    started: bool,
    started_at: std::time::Instant,
    last_commit_ms: u64,
    last_sync_poll_ms: u64,
    last_blocks_request_ms: u64,
    last_rebroadcast_ms: u64,
    last_round: u32,
}

impl Driver {
    /// Prepare a driver over an opened chain.
    pub fn new(
        chain: Chain,
        key: Option<SigningKey>,
        params: ConsensusParams,
        data_dir: &std::path::Path,
        mempool: Arc<Mutex<Mempool>>,
        net: Option<NetLink>,
    ) -> Result<(Driver, Shared)> {
        let wal_path = &data_dir.join(WAL_FILE);
        let last_signed_path = &data_dir.join(LAST_SIGNED_FILE);
        let (wal, contents) = Wal::open(wal_path)
            .with_context(|| format!("cannot open the consensus WAL {}", wal_path.display()))?;
        let config = EngineConfig {
            timeout_propose_ms: params.timeout_propose_ms,
            timeout_prevote_ms: params.timeout_prevote_ms,
            timeout_precommit_ms: params.timeout_precommit_ms,
            timeout_delta_ms: params.timeout_delta_ms,
            timeout_cap_ms: params.timeout_cap_ms,
            ..EngineConfig::with_chain_id(chain.reader.chain_id.clone())
        };
        let mut engine = Engine::new(config, key.clone());
        let last_signed = match &key {
            None => None,
            Some(_) => {
                let (file, state) = LastSigned::open(last_signed_path).with_context(|| {
                    format!(
                        "cannot open the last-signed record {}",
                        last_signed_path.display()
                    )
                })?;
                let next = chain.tip().height + 1;
                if let WalTail::Torn { bytes } = contents.tail {
                    tracing::warn!(
                        bytes,
                        "the consensus WAL ended in a record cut short by a crash; it was never sent and is dropped"
                    );
                }
                let f = signing::floor(next, &contents, state);
                if let Some((height, why)) = &f.refrain {
                    tracing::error!(
                        through_height = height,
                        "{why}: this validator cannot know what it signed there, so it signs nothing for heights up to {height} and follows them as a non-signing node until the others decide them; it signs again from height {}. Check the disk of this data directory",
                        height + 1
                    );
                }
                if let Some(point) = f.floor {
                    engine.refrain_through(point);
                }
                Some(file)
            }
        };
        let wal_records = contents.records;
        let (tip_tx, tip_rx) = watch::channel(chain.tip().clone());
        let notify = Arc::new(Notify::new());
        let (net_out, net_in, solo) = match net {
            Some(n) => (Some(n.out), Some(n.inbound), n.solo),
            None => (None, None, true),
        };
        let (status_tx, status_rx) = watch::channel(StatusView {
            status: if solo {
                NodeStatus::Serving
            } else {
                NodeStatus::Starting
            },
            peer_height: 0,
        });
        let shared = Shared {
            mempool: mempool.clone(),
            mempool_notify: notify.clone(),
            tip: tip_rx,
            net: net_out.clone(),
            status: status_rx,
        };
        let last_commit_ms = chain.tip().time_ms;
        let gossip_txs = spawn_admission(mempool.clone(), chain.reader.clone(), notify.clone())?;
        Ok((
            Driver {
                chain,
                engine,
                wal,
                wal_records,
                last_signed,
                key,
                params,
                mempool,
                notify,
                tip_tx,
                net_out,
                net_in,
                gossip_txs,
                timers: BTreeSet::new(),
                pending: HashMap::new(),
                received: HashMap::new(),
                assembling: HashMap::new(),
                awaiting: None,
                started: false,
                started_at: std::time::Instant::now(),
                last_commit_ms,
                last_sync_poll_ms: 0,
                last_blocks_request_ms: 0,
                last_rebroadcast_ms: 0,
                last_round: 0,
                status_tx,
                peer_height: None,
                solo,
            },
            shared,
        ))
    }

    fn next_height(&self) -> u64 {
        self.chain.tip().height + 1
    }

    /// Milliseconds until the next height should start (0 = now): when transactions wait
    /// and the minimum interval passed, or when the heartbeat interval passed.
    fn wait_to_start(&self, now: u64) -> u64 {
        let since = now.saturating_sub(self.last_commit_ms.min(now));
        let has_txs = self.mempool.lock().map(|m| !m.is_empty()).unwrap_or(false);
        let interval = if has_txs {
            self.params.min_block_interval_ms
        } else {
            self.params.heartbeat_interval_ms
        };
        interval.saturating_sub(since)
    }

    fn start_height(&mut self, now: u64) -> Result<()> {
        let height = self.next_height();
        let validators = self.chain.reader.validator_set(height)?;
        self.started = true;
        self.started_at = std::time::Instant::now();
        let mut events: VecDeque<Event> = self
            .wal_records
            .iter()
            .filter(|r| r.height == height)
            .map(|r| Event::Restored(r.message.clone()))
            .collect();
        self.engine
            .skip_proposers(height, self.chain.skipped_proposers());
        events.push_back(Event::StartHeight { height, validators });
        self.feed(now, events)
    }

    /// Run until `shutdown` resolves. An error is a local fault that stopped consensus on
    /// this node (fail stop): the status turns `Stopped` before it is returned.
    pub async fn run(mut self, shutdown: watch::Receiver<bool>) -> Result<()> {
        let next = self.chain.tip().height + 1;
        let result = match self.chain.reader.supported_protocol_at(next) {
            Ok(_) => self.run_until(shutdown).await,
            Err(e) => Err(e),
        };
        if result.is_err() {
            self.status_tx
                .send_modify(|s| s.status = NodeStatus::Stopped);
        }
        result
    }

    /// Recompute the status after the tip or a peer's height changed.
    fn update_status(&self) {
        let tip = self.chain.tip().height;
        self.status_tx.send_if_modified(|s| {
            let status = match (s.status, self.peer_height) {
                (NodeStatus::Stopped, _) => NodeStatus::Stopped,
                (_, None) if self.solo => NodeStatus::Serving,
                (_, None) => NodeStatus::Starting,
                (_, Some(p)) if tip.saturating_add(BEHIND_BLOCKS) < p => NodeStatus::Syncing,
                (_, Some(_)) => NodeStatus::Serving,
            };
            let peer_height = self.peer_height.unwrap_or(0);
            let changed = s.status != status || s.peer_height != peer_height;
            if s.status != status {
                tracing::info!(from = ?s.status, to = ?status, height = tip, peer_height, "node status changed");
            }
            *s = StatusView {
                status,
                peer_height,
            };
            changed
        });
    }

    async fn run_until(&mut self, mut shutdown: watch::Receiver<bool>) -> Result<()> {
        let mut net_in = self.net_in.take();
        loop {
            let now = now_ms();
            if !self.started && self.awaiting.is_none() && self.wait_to_start(now) == 0 {
                self.start_height(now)?;
            }
            while let Some(&(at, t)) = self.timers.first() {
                if at > now_ms() {
                    break;
                }
                self.timers.pop_first();
                self.feed(now_ms(), VecDeque::from([Event::Timeout(t)]))?;
            }
            let now = now_ms();
            if self.net_out.is_some() && now.saturating_sub(self.last_sync_poll_ms) >= SYNC_POLL_MS
            {
                self.last_sync_poll_ms = now;
                self.send(Outbound::Request {
                    to: None,
                    request: SyncRequest::Status,
                });
            }
            if self.started
                && now.saturating_sub(self.last_commit_ms.max(self.last_rebroadcast_ms))
                    >= REBROADCAST_MS
            {
                self.last_rebroadcast_ms = now;
                self.rebroadcast();
            }
            self.progress_assemblies(now)?;
            let mut wait_ms = SYNC_POLL_MS.min(REBROADCAST_MS);
            if !self.assembling.is_empty() {
                wait_ms = wait_ms.min(FETCH_RETRY_MS);
            }
            if let Some(&(at, _)) = self.timers.first() {
                wait_ms = wait_ms.min(at.saturating_sub(now));
            }
            if !self.started && self.awaiting.is_none() {
                wait_ms = wait_ms.min(self.wait_to_start(now));
            }
            if wait_ms == 0 {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait_ms)) => {}
                _ = self.notify.notified() => {}
                msg = async { match net_in.as_mut() { Some(r) => r.recv().await, None => std::future::pending().await } } => {
                    if let Some(m) = msg {
                        self.on_inbound(m)?;
                    }
                }
                _ = shutdown.changed() => {
                    tracing::info!("consensus driver stopping");
                    return Ok(());
                }
            }
        }
    }

    /// The compact proposal of `p`, from the block this node built, validated or received:
    /// its header and its transactions' ids. `None` when this node does not have the block.
    fn compact_proposal(&self, p: Proposal) -> Option<Gossip> {
        let hash = p.data.block_hash;
        let (header, ids) = match self.pending.get(&hash) {
            Some(ex) => (ex.header.clone(), ex.txs.iter().map(|t| t.id).collect()),
            None => {
                let (header, txs) = self.received.get(&hash)?;
                (header.clone(), compact::ids_of(txs))
            }
        };
        Some(Gossip::CompactProposal {
            proposal: p,
            header,
            ids,
        })
    }

    /// Re-send this node's own messages of the height in progress, and relay the proposal and
    /// prevotes that justify its valid value (`Engine::justification`: their signers may be
    /// gone, and the others need them to unlock).
    fn rebroadcast(&mut self) {
        let next = self.next_height();
        let mut mine: Vec<Message> = self
            .wal_records
            .iter()
            .filter(|r| r.height == next)
            .map(|r| r.message.clone())
            .collect();
        let own = mine.len();
        for m in self.engine.justification() {
            if !mine.contains(&m) {
                mine.push(m);
            }
        }
        if !mine.is_empty() {
            tracing::debug!(
                height = next,
                own,
                relayed = mine.len() - own,
                "re-sending own consensus messages"
            );
        }
        for m in mine {
            match m {
                Message::Vote(v) => self.send(Outbound::Publish(Box::new(Gossip::Vote(v)))),
                Message::Proposal(p) => {
                    if let Some(g) = self.compact_proposal(p) {
                        self.send(Outbound::Publish(Box::new(g)));
                    }
                }
            }
        }
    }

    /// Put detected equivocation on the chain: a `ReportEvidence` transaction signed with this
    /// validator's key (any key may report evidence), into the local mempool and gossiped. A
    /// report the chain already has, or one another node got in first, is refused as a
    /// duplicate there; that is not an error.
    fn report_evidence(&self, e: &yui_consensus::Evidence) {
        let Some(key) = &self.key else { return };
        use yui_contracts::governance::evidence::vote_to_api;
        let call = yui_proto::v1::tx_body::Call::Governance(yui_proto::v1::GovernanceCall {
            call: Some(yui_proto::v1::governance_call::Call::ReportEvidence(
                yui_proto::v1::ReportEvidence {
                    first: Some(vote_to_api(&e.first)),
                    second: Some(vote_to_api(&e.second)),
                },
            )),
        });
        let tip = self.chain.tip().height;
        let window = match self.chain.reader.max_expiry_at(tip + 1) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the expiry window; the equivocation is not reported (the store is failing)");
                return;
            }
        };
        let body = yui_client::tx::body(
            key,
            &self.chain.reader.chain_id,
            tip + EVIDENCE_EXPIRY_BLOCKS.min(window),
            call,
        );
        let raw = RawTx::from_proto(yui_client::tx::sign(key, &body));
        let admitted = match self.mempool.lock() {
            Ok(mut m) => m.admit(&self.chain.reader, raw.clone(), tip),
            Err(_) => return,
        };
        match admitted {
            Ok(_) => {
                tracing::info!(validator = %hex::encode(e.first.data.validator), "reported the equivocation for the chain");
                self.notify.notify_one();
                self.send(Outbound::Publish(Box::new(Gossip::Tx(raw))));
            }
            Err(r) => tracing::info!(reason = %r, "equivocation report not queued"),
        }
    }

    fn send(&self, o: Outbound) {
        if let Some(n) = &self.net_out {
            if n.try_send(o).is_err() {
                tracing::warn!("network queue full; dropped an outbound message");
            }
        }
    }

    fn on_inbound(&mut self, m: Inbound) -> Result<()> {
        let now = now_ms();
        match m {
            Inbound::Peers(n) => {
                metrics::gauge!(names::PEERS).set(n as f64);
                tracing::debug!(peers = n, "peer count");
            }
            Inbound::Gossip { from, message } => match *message {
                Gossip::Tx(raw) => {
                    // Admission (signature and guard checks) runs on its own thread, so
                    // consensus keeps moving while transactions are verified. When that thread
                    // is behind, the transaction is dropped here: it still arrives in a
                    // proposal, or its submitter's node proposes it.
                    if self.gossip_txs.try_send(raw).is_err() {
                        metrics::counter!(names::GOSSIP_TXS_DROPPED).increment(1);
                    }
                }
                Gossip::Txs(txs) => {
                    // The network task unpacks batches; should one arrive here, admit each.
                    for raw in txs {
                        if self.gossip_txs.try_send(raw).is_err() {
                            metrics::counter!(names::GOSSIP_TXS_DROPPED).increment(1);
                        }
                    }
                }
                Gossip::Proposal {
                    proposal,
                    header,
                    txs,
                } => {
                    if header.hash() != proposal.data.block_hash {
                        tracing::warn!(peer = %from, "dropped a proposal whose block does not match its hash");
                        return Ok(());
                    }
                    if self.is_current(from, now, &proposal) {
                        self.accept_block(now, vec![proposal], header, txs)?;
                    }
                }
                Gossip::CompactProposal {
                    proposal,
                    header,
                    ids,
                } => self.on_compact_proposal(from, now, proposal, header, ids)?,
                Gossip::Vote(v) => {
                    let h = v.data.height;
                    if h > self.next_height() {
                        self.request_blocks(Some(from), now);
                        return Ok(());
                    }
                    if h == self.next_height() {
                        self.consensus_event(now, Event::Vote(v))?;
                    }
                }
                Gossip::Evidence(e) => {
                    if e.is_valid() {
                        tracing::warn!(validator = %hex::encode(e.first.data.validator), height = e.first.data.height, "equivocation evidence received");
                    }
                }
            },
            Inbound::Sync { from, response } => match response {
                SyncResponse::Status { height } => {
                    self.peer_height = Some(self.peer_height.map_or(height, |p| p.max(height)));
                    self.update_status();
                    if height > self.chain.tip().height {
                        self.request_blocks(Some(from), now);
                    }
                }
                SyncResponse::Blocks(blocks) => self.apply_synced(blocks)?,
                SyncResponse::Txs(txs) => self.on_fetched(now, txs)?,
                SyncResponse::Error(e) => {
                    tracing::debug!(peer = %from, error = %e, "sync error from peer")
                }
            },
        }
        Ok(())
    }

    /// Whether a proposal is for the height in progress; one for a later height means this
    /// node is behind, and it asks `from` for blocks.
    fn is_current(&mut self, from: libp2p::PeerId, now: u64, proposal: &Proposal) -> bool {
        let h = proposal.data.height;
        if h > self.next_height() {
            self.request_blocks(Some(from), now);
        }
        h == self.next_height()
    }

    /// Keep a whole proposed block for validation and hand its proposals to the engine.
    fn accept_block(
        &mut self,
        now: u64,
        proposals: Vec<Proposal>,
        header: Header,
        txs: Vec<RawTx>,
    ) -> Result<()> {
        if self.received.len() >= MAX_RECEIVED_BLOCKS {
            self.received.clear();
        }
        self.received.insert(header.hash(), (header, txs));
        for p in proposals {
            self.consensus_event(now, Event::Proposal(p))?;
        }
        Ok(())
    }

    /// A compact proposal: its block is assembled from the mempool; what is missing is asked
    /// of the proposer (which built the block from its mempool), and after
    /// [`FETCH_RETRY_MS`] of every peer. The engine sees the proposal once the block is whole.
    fn on_compact_proposal(
        &mut self,
        from: libp2p::PeerId,
        now: u64,
        proposal: Proposal,
        header: Header,
        ids: Vec<Hash>,
    ) -> Result<()> {
        if !self.is_current(from, now, &proposal) {
            return Ok(());
        }
        let hash = proposal.data.block_hash;
        if self.pending.contains_key(&hash) || self.received.contains_key(&hash) {
            return self.consensus_event(now, Event::Proposal(proposal));
        }
        if let Some(a) = self.assembling.get_mut(&hash) {
            if !a.proposals.contains(&proposal) {
                a.proposals.push(proposal);
            }
            return Ok(());
        }
        let (max_txs, _) = self.block_limits(proposal.data.height);
        if ids.len() > max_txs {
            tracing::warn!(peer = %from, txs = ids.len(), max_txs, "dropped a proposal over the block limits");
            return Ok(());
        }
        // Only a proposal signed by its proposer makes this node look up or fetch anything.
        if !proposal.verify_signature() {
            tracing::warn!(peer = %from, "dropped a proposal with a bad signature");
            return Ok(());
        }
        let mut a = match Assembly::new(proposal, header, ids) {
            Ok(a) => a,
            Err(why) => {
                tracing::warn!(peer = %from, %why, "dropped a compact proposal");
                return Ok(());
            }
        };
        self.fill_from_mempool(&mut a);
        if let Some(txs) = a.take_txs() {
            return self.accept_block(now, a.proposals, a.header, txs);
        }
        let proposer = crate::runtime::p2p::peer_id_of(&a.header.proposer).unwrap_or(from);
        tracing::debug!(height = a.header.height, missing = a.missing(), peer = %proposer, "asking for a proposal's missing transactions");
        self.ask_for(&a, Some(proposer));
        a.asked_ms = now;
        if self.assembling.len() >= MAX_RECEIVED_BLOCKS {
            self.assembling.clear();
        }
        self.assembling.insert(hash, a);
        Ok(())
    }

    fn fill_from_mempool(&self, a: &mut Assembly) {
        if let Ok(m) = self.mempool.lock() {
            a.fill_from(|id| m.get(id).map(|t| RawTx::clone(&t.raw)));
        }
    }

    /// Ask `to` (or every connected peer) for an assembly's missing transactions.
    fn ask_for(&self, a: &Assembly, to: Option<libp2p::PeerId>) {
        for ids in a.missing_ids().chunks(MAX_FETCH_IDS) {
            self.send(Outbound::Request {
                to,
                request: SyncRequest::Txs { ids: ids.to_vec() },
            });
        }
    }

    /// Transactions a peer sent for the blocks being assembled: each is taken where a block
    /// names its id (computed here from its bytes, so a peer cannot substitute another).
    fn on_fetched(&mut self, now: u64, txs: Vec<RawTx>) -> Result<()> {
        let mut taken = 0u64;
        for raw in &txs {
            let id = raw.id();
            for a in self.assembling.values_mut() {
                if a.offer(&id, raw) {
                    taken += 1;
                }
            }
        }
        metrics::counter!(names::PROPOSAL_TXS_FETCHED).increment(taken);
        self.finish_assemblies(now)
    }

    /// Look again in the mempool for the blocks being assembled (the admission thread may
    /// have admitted their transactions since), and ask every peer for what is still missing
    /// after [`FETCH_RETRY_MS`].
    fn progress_assemblies(&mut self, now: u64) -> Result<()> {
        if self.assembling.is_empty() {
            return Ok(());
        }
        let mut assembling = std::mem::take(&mut self.assembling);
        for a in assembling.values_mut() {
            self.fill_from_mempool(a);
            if a.missing() > 0 && now.saturating_sub(a.asked_ms) >= FETCH_RETRY_MS {
                self.ask_for(a, None);
                a.asked_ms = now;
            }
        }
        self.assembling = assembling;
        self.finish_assemblies(now)
    }

    /// Hand every whole assembled block to validation.
    fn finish_assemblies(&mut self, now: u64) -> Result<()> {
        let whole: Vec<Hash> = self
            .assembling
            .iter()
            .filter(|(_, a)| a.missing() == 0)
            .map(|(h, _)| *h)
            .collect();
        for hash in whole {
            if let Some(mut a) = self.assembling.remove(&hash) {
                if let Some(txs) = a.take_txs() {
                    self.accept_block(now, a.proposals, a.header, txs)?;
                }
            }
        }
        Ok(())
    }

    fn consensus_event(&mut self, now: u64, ev: Event) -> Result<()> {
        if self.awaiting.is_some() {
            return Ok(());
        }
        if !self.started {
            // A peer already works on the next height: join it now.
            self.start_height(now)?;
        }
        self.feed(now, VecDeque::from([ev]))
    }

    fn request_blocks(&mut self, to: Option<libp2p::PeerId>, now: u64) {
        if now.saturating_sub(self.last_blocks_request_ms) < 500 {
            return;
        }
        self.last_blocks_request_ms = now;
        self.send(Outbound::Request {
            to,
            request: SyncRequest::Blocks {
                from: self.next_height(),
                max: MAX_SYNC_BLOCKS,
            },
        });
    }

    /// Apply blocks from a peer: each must extend the tip, carry a certificate valid for the
    /// validator set of its height, and re-execute to exactly its header.
    fn apply_synced(&mut self, blocks: Vec<StoredBlock>) -> Result<()> {
        let mut applied = 0;
        for b in blocks {
            let h = b.header.height;
            if h != self.next_height() {
                continue;
            }
            let hash = b.header.hash();
            let set = self.chain.reader.validator_set(h)?;
            if let Err(e) = b.cert.verify(&self.chain.reader.chain_id, h, &hash, &set) {
                tracing::warn!(height = h, error = %e, "dropped a synced block: its commit certificate does not verify");
                break;
            }
            let ex = match self.chain.validate(&b.header, &b.txs) {
                Ok(ex) => ex,
                Err(e) => {
                    tracing::warn!(height = h, error = %e, "dropped a synced block: it does not re-execute to its header");
                    break;
                }
            };
            self.commit(ex, b.cert)?;
            applied += 1;
        }
        if applied > 0 {
            tracing::info!(
                blocks = applied,
                height = self.chain.tip().height,
                "caught up from peers"
            );
            // Ask for more right away if the peer has them.
            self.last_blocks_request_ms = 0;
            self.last_sync_poll_ms = 0;
        }
        Ok(())
    }

    fn feed(&mut self, now: u64, mut events: VecDeque<Event>) -> Result<()> {
        // Each event yields finitely many actions; the cap only guards against a bug.
        let mut steps = 0usize;
        while let Some(ev) = events.pop_front() {
            steps += 1;
            if steps > MAX_EVENTS_PER_FEED {
                anyhow::bail!(
                    "the consensus driver loop did not settle after {MAX_EVENTS_PER_FEED} events"
                );
            }
            for action in self.engine.handle(now, ev) {
                self.carry_out(now, action, &mut events)?;
            }
        }
        let round = self.engine.round();
        if round != self.last_round {
            self.last_round = round;
            if round > 0 {
                tracing::info!(
                    height = self.next_height(),
                    round,
                    "consensus moved to a new round"
                );
            }
        }
        metrics::gauge!(names::ROUND).set(f64::from(round));
        Ok(())
    }

    fn validate_block(&mut self, now: u64, hash: &Hash) -> Option<bool> {
        if self.pending.contains_key(hash) {
            return Some(true);
        }
        let (header, txs) = self.received.get(hash)?.clone();
        let (max_txs, max_bytes) = self.block_limits(header.height);
        let bytes: u64 = txs
            .iter()
            .map(|t| (t.body.len() + t.signature.len()) as u64)
            .sum();
        if txs.len() > max_txs || bytes > max_bytes {
            tracing::warn!(
                height = header.height,
                txs = txs.len(),
                bytes,
                max_txs,
                max_bytes,
                "proposed block is over the block limits"
            );
            return Some(false);
        }
        if header.time_ms > now + self.params.max_clock_drift_ms {
            tracing::warn!(
                height = header.height,
                "proposed block time is too far ahead of this node's clock"
            );
            return Some(false);
        }
        let mempool = self.mempool.clone();
        let known = move |id: &Hash| mempool.lock().ok().and_then(|m| m.get(id).cloned());
        match self.chain.validate_with(&header, &txs, &known) {
            Ok(ex) => {
                if let Ok(mut m) = self.mempool.lock() {
                    m.remember_validated(&ex.txs);
                }
                self.pending.insert(*hash, ex);
                Some(true)
            }
            Err(e) => {
                tracing::warn!(height = header.height, error = %e, "proposed block is invalid");
                Some(false)
            }
        }
    }

    /// The block limits at `height` (genesis', or the ones voted for: [`crate::chain::params`]).
    /// A failing read is logged and genesis' limits apply.
    fn block_limits(&self, height: u64) -> (usize, u64) {
        let genesis = (
            usize::try_from(self.params.max_block_txs).unwrap_or(usize::MAX),
            self.params.max_block_bytes,
        );
        self.chain
            .reader
            .block_limits_at(height, self.params.max_block_txs, self.params.max_block_bytes)
            .unwrap_or_else(|e| {
                tracing::error!(height, error = %e, "cannot read the block limits; using genesis' (the store is failing)");
                genesis
            })
    }

    fn commit(&mut self, ex: Executed, cert: yui_consensus::CommitCertificate) -> Result<()> {
        let flush_started = std::time::Instant::now();
        let tip = self
            .chain
            .commit(&ex, cert)
            .context("cannot commit the decided block")?;
        metrics::histogram!(names::STORE_FLUSH_SECONDS)
            .record(flush_started.elapsed().as_secs_f64());
        let memory = self.chain.reader.store.memory();
        metrics::gauge!(names::STORE_CACHE_BYTES).set(memory.cache_bytes as f64);
        metrics::gauge!(names::STORE_WRITE_BUFFER_BYTES).set(memory.write_buffer_bytes as f64);
        if let Ok(w) = self.chain.reader.replay.read() {
            metrics::gauge!(names::REPLAY_WINDOW_BODIES).set(w.len() as f64);
            metrics::gauge!(names::REPLAY_WINDOW_BYTES).set(w.heap_bytes() as f64);
        }
        metrics::histogram!(names::COMMIT_SECONDS).record(self.started_at.elapsed().as_secs_f64());
        metrics::histogram!(names::BLOCK_TXS).record(ex.txs.len() as f64);
        metrics::counter!(names::TXS_COMMITTED).increment(ex.txs.len() as u64);
        metrics::gauge!(names::HEIGHT).set(tip.height as f64);
        tracing::info!(height = tip.height, txs = ex.txs.len(), hash = %tip.hash, "committed block");
        self.pending.clear();
        self.received.retain(|_, (h, _)| h.height > tip.height);
        self.assembling.retain(|_, a| {
            let live = a.header.height > tip.height;
            if !live {
                tracing::info!(
                    height = a.header.height,
                    missing = a.missing(),
                    "a proposed block was never whole here: its missing transactions did not arrive from peers before the height committed"
                );
            }
            live
        });
        self.timers.clear();
        self.started = false;
        self.awaiting = None;
        self.last_commit_ms = now_ms();
        let next = tip.height + 1;
        self.wal
            .truncate_below(next, &self.wal_records)
            .context("cannot truncate the consensus WAL")?;
        self.wal_records.retain(|r| r.height >= next);
        let ids: Vec<(Hash, Hash)> = ex.txs.iter().map(|t| (t.id, t.body_hash)).collect();
        if let Ok(mut m) = self.mempool.lock() {
            m.prune(&ids, next);
            metrics::gauge!(names::MEMPOOL_TXS).set(m.len() as f64);
        }
        let _ = self.tip_tx.send(tip);
        self.update_status();
        // An upgrade the consortium scheduled from the next height, which this build cannot
        // follow: stop here, cleanly, rather than vote on rules it does not know.
        self.chain.reader.supported_protocol_at(next).map(|_| ())
    }

    fn carry_out(&mut self, now: u64, action: Action, events: &mut VecDeque<Event>) -> Result<()> {
        match action {
            Action::Persist(message) => {
                let height = match &message {
                    Message::Proposal(p) => p.data.height,
                    Message::Vote(v) => v.data.height,
                };
                let point = message.sign_point();
                tracing::debug!(
                    height,
                    round = point.round,
                    step = point.step,
                    what = ?message_value(&message),
                    "signed"
                );
                let record = WalRecord { height, message };
                self.wal
                    .append(&record)
                    .context("cannot write the consensus WAL")?;
                self.wal_records.push(record);
                if let Some(ls) = self.last_signed.as_mut() {
                    ls.record(point).with_context(|| {
                        format!(
                            "cannot write the last-signed record {}",
                            ls.path().display()
                        )
                    })?;
                }
            }
            Action::Broadcast(Message::Proposal(p)) => match self.compact_proposal(p) {
                Some(g) => self.send(Outbound::Publish(Box::new(g))),
                None => tracing::warn!(
                    "cannot broadcast a proposal for a block this node does not have"
                ),
            },
            Action::Broadcast(Message::Vote(v)) => {
                self.send(Outbound::Publish(Box::new(Gossip::Vote(v))))
            }
            Action::BuildProposal { height, round } => {
                let time_ms = now.max(self.chain.tip().time_ms + 1);
                let candidates = {
                    let m = self
                        .mempool
                        .lock()
                        .map_err(|_| anyhow!("mempool lock poisoned"))?;
                    let (max_txs, max_bytes) = self.block_limits(height);
                    m.candidates(max_txs, max_bytes)
                };
                let proposer = self
                    .key
                    .as_ref()
                    .map(|k| k.verifying_key().to_bytes())
                    .unwrap_or_default();
                let ex = self
                    .chain
                    .execute(time_ms, proposer, candidates, false)
                    .map_err(|e| anyhow!("cannot build block {height}: {e}"))?;
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
                if let Some(valid) = self.validate_block(now, &block_hash) {
                    events.push_back(Event::BlockValidated {
                        height,
                        round,
                        block_hash,
                        valid,
                    });
                }
            }
            Action::ScheduleTimeout { timeout, at_ms } => {
                self.timers.insert((at_ms, timeout));
            }
            Action::Decide(cert) => {
                let ex = match self.pending.remove(&cert.block_hash) {
                    Some(ex) => Some(ex),
                    None => {
                        let hash = cert.block_hash;
                        self.validate_block(now, &hash);
                        self.pending.remove(&hash)
                    }
                };
                match ex {
                    Some(ex) => self.commit(ex, cert)?,
                    None => {
                        tracing::info!(
                            height = cert.height,
                            "decided a block this node does not have; fetching it from peers"
                        );
                        self.awaiting = Some(cert);
                        self.last_blocks_request_ms = 0;
                        self.request_blocks(None, now);
                    }
                }
            }
            Action::Evidence(e) => {
                metrics::counter!(names::EVIDENCE).increment(1);
                tracing::warn!(validator = %hex::encode(e.first.data.validator), height = e.first.data.height, "equivocation detected");
                self.report_evidence(&e);
                self.send(Outbound::Publish(Box::new(Gossip::Evidence(e))));
            }
        }
        Ok(())
    }
}

/// How many blocks an equivocation report stays valid for (bounded by the chain's limit).
const EVIDENCE_EXPIRY_BLOCKS: u64 = 100;

/// Gossiped transactions checked in one signature batch, at most.
const ADMISSION_BATCH: usize = 64;

/// Gossiped transactions waiting for admission, at most.
const ADMISSION_QUEUE: usize = 20_000;

/// Start the thread that admits transactions gossiped by peers: a transaction already pending
/// or committed is dropped before its signature is checked; the signature and guard checks run
/// without the mempool lock.
fn spawn_admission(
    mempool: Arc<Mutex<Mempool>>,
    reader: crate::chain::ChainReader,
    notify: Arc<Notify>,
) -> Result<std::sync::mpsc::SyncSender<RawTx>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<RawTx>(ADMISSION_QUEUE);
    std::thread::Builder::new()
        .name("tx-admission".into())
        .spawn(move || {
            // Transactions gossiped together arrive together: take what is waiting (up to a
            // batch) and check their signatures in one batch.
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while batch.len() < ADMISSION_BATCH {
                    match rx.try_recv() {
                        Ok(raw) => batch.push(raw),
                        Err(_) => break,
                    }
                }
                let fresh: Vec<RawTx> = batch
                    .into_iter()
                    .filter(|raw| {
                        let seen = mempool
                            .lock()
                            .map(|m| m.contains(&raw.id()))
                            .unwrap_or(true);
                        !seen && !reader.body_committed(&raw.body_hash()).unwrap_or(true)
                    })
                    .collect();
                if fresh.is_empty() {
                    continue;
                }
                let checked = crate::admission::mempool::precheck_batch(fresh, &reader.chain_id);
                let Ok(tip) = reader.tip() else { continue };
                let admitted = mempool
                    .lock()
                    .map(|mut m| {
                        checked
                            .into_iter()
                            .flatten()
                            .filter_map(|c| m.insert(&reader, c, tip.height).ok())
                            .count()
                    })
                    .unwrap_or(0);
                if admitted > 0 {
                    notify.notify_one();
                }
            }
        })
        .context("cannot start the transaction admission thread")?;
    Ok(tx)
}
