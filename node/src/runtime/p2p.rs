//! The permissioned peer-to-peer network (libp2p: TCP + noise + yamux).
//!
//! - Only nodes whose keys are listed in genesis (validators and observers) may connect: an
//!   allow-list of their peer ids refuses everyone else after the noise handshake, and the
//!   refusal is logged.
//! - Gossip (gossipsub, tuned for meshes of 3–20 peers, message ids = blake3 of the content so
//!   forwarded copies are deduplicated) carries transactions, proposals (compact: the block's
//!   header and its transactions' ids, ADR 0022), votes and evidence. Each publication carries
//!   a sequence number, so a node that re-sends its consensus messages while a height is stuck
//!   (lost messages) gets them through.
//! - Request-response (`/yui/sync/1`) serves block sync: a peer's tip height, ranges of
//!   committed blocks with their certificates, and transactions by id for a compact proposal
//!   (from the mempool, else from committed blocks), answered directly by this task.
//! - Request-response (`/yui/vault-release/1`) relays a donor's request for a shelter's contact
//!   released for a shipment to a node of the shelter's organization; the answer comes from
//!   that node's vault server (`ReleaseCall`), never from this task.
//!
//! This task never touches consensus or the chain writer: it hands decoded messages to the
//! driver over a bounded channel and takes messages to publish from it. A peer's message that
//! does not decode is dropped and logged.

use crate::admission::mempool::Mempool;
use crate::chain::{ChainReader, StoredBlock};
use anyhow::{anyhow, Context as _, Result};
use borsh::{BorshDeserialize, BorshSerialize};
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    allow_block_list, gossipsub, identity, noise, request_response, tcp, yamux, Multiaddr, PeerId,
    StreamProtocol,
};
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use yui_client::tx::RawTx;
use yui_consensus::{Evidence, Hash, Header, Proposal, Vote};

/// Largest gossip message. A compact proposal names its transactions by id (32 bytes each);
/// a full one, as a node of an earlier build sends it, carries its whole block.
pub const MAX_GOSSIP_BYTES: usize = 16 * 1024 * 1024;
/// Most transaction ids in one request for a compact proposal's missing transactions; a node
/// that lacks more asks in several requests.
pub const MAX_FETCH_IDS: usize = 8_192;
/// Most blocks in one sync response.
pub const MAX_SYNC_BLOCKS: u64 = 64;
/// Most bytes in one sync response.
pub const MAX_SYNC_BYTES: usize = 16 * 1024 * 1024;

/// A gossiped message.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Gossip {
    /// A signed proposal with the block it proposes, transactions included. This build
    /// receives it (from nodes of earlier builds) but sends [`Gossip::CompactProposal`].
    Proposal {
        /// The proposal.
        proposal: Proposal,
        /// The block header (its hash is the proposal's block hash).
        header: Header,
        /// The block's transactions.
        txs: Vec<RawTx>,
    },
    /// A signed vote.
    Vote(Vote),
    /// A transaction for the mempool. Locally, what the API hands to the network task; on the
    /// wire, transactions travel in batches (`Txs`).
    Tx(RawTx),
    /// Equivocation evidence.
    Evidence(Evidence),
    /// Transactions for the mempool, batched: the network task collects the transactions
    /// submitted to this node for up to [`TX_BATCH_MS`] (or [`TX_BATCH_MAX`] of them) and
    /// publishes them as one message, which saves the per-message cost of gossip.
    Txs(Vec<RawTx>),
    /// A signed proposal with its block's header and the ids of its transactions in order:
    /// the receiver takes the transactions from its mempool and fetches those it lacks
    /// ([`SyncRequest::Txs`]). Every gossip message stays small whatever the block's size.
    CompactProposal {
        /// The proposal.
        proposal: Proposal,
        /// The block header (its hash is the proposal's block hash; its transaction root is
        /// the Merkle root of `ids`).
        header: Header,
        /// The block's transaction ids, in order.
        ids: Vec<Hash>,
    },
}

/// Most message ids this node puts in one IHAVE. An id is a 32-byte blake3 hash, about 34 bytes
/// on the wire, so an IHAVE of this many stays under gossipsub's default 16 KiB limit on the
/// control part of a received RPC even at a peer that kept the default. The library's own
/// default (5,000 ids, about 170 KB) does not fit that limit: the receiving peer rejects the RPC
/// and closes the stream, and the sender's stream to it then never drains again (found in a
/// soak: a full send queue to one peer for the whole run, consensus messages and memory
/// included).
pub const MAX_IHAVE_IDS: usize = 400;
/// Largest control part of a received RPC this node accepts: room for an IHAVE of the
/// library's default 5,000 ids from a peer configured otherwise.
pub const MAX_CONTROL_BYTES: usize = 256 * 1024;
/// How long a peer may stay unable to take our gossip (its send queue full or its messages
/// expiring, every heartbeat) before its connection is reset: a fresh connection gets a fresh
/// gossipsub stream and queue, and the redial loop makes one within seconds.
pub const SLOW_PEER_RESET: Duration = Duration::from_secs(10);

/// Tracks peers that gossipsub reports as slow at every heartbeat (`Event::SlowPeer`).
#[derive(Debug, Default)]
pub struct SlowPeers {
    streaks: std::collections::HashMap<PeerId, (tokio::time::Instant, tokio::time::Instant)>,
}

impl SlowPeers {
    /// Record a slow report for `peer` at `now`; true when the peer has been reported at every
    /// heartbeat (no gap longer than `gap`) for at least [`SLOW_PEER_RESET`], and should be
    /// disconnected. The streak starts again after a gap or a reset.
    pub fn report(&mut self, peer: PeerId, now: tokio::time::Instant, gap: Duration) -> bool {
        let streak = self.streaks.entry(peer).or_insert((now, now));
        if now.saturating_duration_since(streak.1) > gap {
            *streak = (now, now);
        }
        streak.1 = now;
        if now.saturating_duration_since(streak.0) >= SLOW_PEER_RESET {
            self.streaks.remove(&peer);
            return true;
        }
        false
    }

    /// Forget a peer (disconnected).
    pub fn forget(&mut self, peer: &PeerId) {
        self.streaks.remove(peer);
    }
}

/// Longest a submitted transaction waits to be gossiped with others.
pub const TX_BATCH_MS: u64 = 5;
/// Most transactions in one gossiped batch.
pub const TX_BATCH_MAX: usize = 256;

/// Publish a batch of transactions.
fn publish_txs(
    swarm: &mut libp2p::Swarm<Behaviour>,
    topic: &gossipsub::IdentTopic,
    seq: u64,
    txs: Vec<RawTx>,
) {
    let bytes = borsh::to_vec(&(seq, Gossip::Txs(txs))).unwrap_or_default();
    if let Err(e) = swarm.behaviour_mut().gossip.publish(topic.clone(), bytes) {
        tracing::debug!(error = %e, "gossip publish skipped");
    }
}

/// A sync request.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum SyncRequest {
    /// What is your committed height?
    Status,
    /// Committed blocks from `from` on, at most `max`.
    Blocks {
        /// First height.
        from: u64,
        /// Most blocks wanted.
        max: u64,
    },
    /// Transactions by id (a compact proposal's that this node lacks), at most
    /// [`MAX_FETCH_IDS`]; answered with those the peer has, up to half of
    /// [`MAX_SYNC_BYTES`].
    Txs {
        /// The ids.
        ids: Vec<Hash>,
    },
}

/// A sync response.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum SyncResponse {
    /// The peer's committed height.
    Status {
        /// Height.
        height: u64,
    },
    /// Blocks in order (possibly fewer than asked).
    Blocks(Vec<StoredBlock>),
    /// The peer could not answer.
    Error(String),
    /// Transactions asked for by id, those the peer has (possibly none), in no set order.
    Txs(Vec<RawTx>),
}

/// A request for a personal-data record released for a shipment (`/yui/vault-release/1`):
/// node D relays the donor's own signed token to a node of the shelter's organization, which
/// checks the token and the shipment itself and answers from its vault.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ReleaseRequest {
    /// The donor's `x-yui-auth` token for `PersonalData/GetReleased`.
    pub token: String,
    /// The shipment.
    pub shipment_id: u64,
}

/// The answer to a [`ReleaseRequest`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ReleaseResponse {
    /// The record's fields, sorted by name, and its purpose.
    Released {
        /// The record id.
        record_id: String,
        /// Its purpose (`PersonalDataPurpose`).
        purpose: i32,
        /// Its fields.
        fields: Vec<(String, String)>,
    },
    /// Refused: a gRPC status code and a sentence (never record content).
    Refused {
        /// `tonic::Code` as i32.
        code: i32,
        /// Why.
        message: String,
    },
}

/// A release request received from a peer, for the vault's server to answer.
pub struct ReleaseCall {
    /// The request.
    pub request: ReleaseRequest,
    /// Where the answer goes.
    pub reply: tokio::sync::oneshot::Sender<ReleaseResponse>,
}

/// What the network hands the driver.
#[derive(Debug)]
pub enum Inbound {
    /// A gossiped message from `from`.
    Gossip {
        /// The peer that forwarded it.
        from: PeerId,
        /// The message.
        message: Box<Gossip>,
    },
    /// A sync response from `from`.
    Sync {
        /// The peer.
        from: PeerId,
        /// Its answer.
        response: SyncResponse,
    },
    /// The number of connected peers changed.
    Peers(usize),
}

/// What the driver asks the network to do.
#[derive(Debug)]
pub enum Outbound {
    /// Publish a gossip message.
    Publish(Box<Gossip>),
    /// Send a sync request to `to` (or to every connected peer).
    Request {
        /// Target peer; `None` = all connected peers.
        to: Option<PeerId>,
        /// The request.
        request: SyncRequest,
    },
    /// Ask the first connected one of `to` for a released record.
    Release {
        /// The nodes of the record's organization.
        to: Vec<PeerId>,
        /// The request.
        request: ReleaseRequest,
        /// The answer, or why none came.
        reply: tokio::sync::oneshot::Sender<Result<ReleaseResponse, String>>,
    },
}

/// Network settings.
pub struct NetConfig {
    /// This node's network key (a validator's consensus key, or an observer's node key).
    pub keypair: identity::Keypair,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Addresses of peers to keep dialing.
    pub peers: Vec<SocketAddr>,
    /// Public keys allowed to connect at start (genesis validators and observers); from then
    /// on the list follows committed state (`ChainReader::network_keys`) plus `observers`.
    pub allowed: Vec<[u8; 32]>,
    /// Genesis observers, always allowed.
    pub observers: Vec<[u8; 32]>,
    /// Chain id (part of every topic name).
    pub chain_id: String,
}

/// The peer id of an ed25519 public key.
pub fn peer_id_of(key: &[u8; 32]) -> Result<PeerId> {
    let pk = identity::ed25519::PublicKey::try_from_bytes(key)
        .map_err(|e| anyhow!("bad ed25519 key: {e}"))?;
    Ok(identity::PublicKey::from(pk).to_peer_id())
}

/// The libp2p keypair of an ed25519 secret.
pub fn keypair_of(secret: &ed25519_dalek::SigningKey) -> Result<identity::Keypair> {
    let mut bytes = secret.to_bytes();
    identity::Keypair::ed25519_from_bytes(&mut bytes)
        .map_err(|e| anyhow!("bad ed25519 secret: {e}"))
}

fn multiaddr(a: &SocketAddr) -> Multiaddr {
    let mut m = Multiaddr::empty();
    m.push(match a.ip() {
        std::net::IpAddr::V4(ip) => libp2p::multiaddr::Protocol::Ip4(ip),
        std::net::IpAddr::V6(ip) => libp2p::multiaddr::Protocol::Ip6(ip),
    });
    m.push(libp2p::multiaddr::Protocol::Tcp(a.port()));
    m
}

/// Length-prefixed borsh over a request-response stream, for requests `Q` and responses `R`.
pub struct BorshCodec<Q, R>(std::marker::PhantomData<fn() -> (Q, R)>);

impl<Q, R> Clone for BorshCodec<Q, R> {
    fn clone(&self) -> Self {
        BorshCodec(std::marker::PhantomData)
    }
}

impl<Q, R> Default for BorshCodec<Q, R> {
    fn default() -> Self {
        BorshCodec(std::marker::PhantomData)
    }
}

/// Block sync's codec.
pub type SyncCodec = BorshCodec<SyncRequest, SyncResponse>;
/// Vault release's codec.
pub type ReleaseCodec = BorshCodec<ReleaseRequest, ReleaseResponse>;

async fn read_frame<T: futures::AsyncRead + Unpin + Send>(io: &mut T) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_SYNC_BYTES + 1024 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "sync frame too large",
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame<T: futures::AsyncWrite + Unpin + Send>(
    io: &mut T,
    bytes: &[u8],
) -> std::io::Result<()> {
    io.write_all(&(bytes.len() as u32).to_le_bytes()).await?;
    io.write_all(bytes).await?;
    io.close().await
}

fn bad_data(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
}

impl<Q, R> request_response::Codec for BorshCodec<Q, R>
where
    Q: BorshSerialize + BorshDeserialize + Send + 'static,
    R: BorshSerialize + BorshDeserialize + Send + 'static,
{
    type Protocol = StreamProtocol;
    type Request = Q;
    type Response = R;

    async fn read_request<T: futures::AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> std::io::Result<Q> {
        Q::try_from_slice(&read_frame(io).await?).map_err(bad_data)
    }
    async fn read_response<T: futures::AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> std::io::Result<R> {
        R::try_from_slice(&read_frame(io).await?).map_err(bad_data)
    }
    async fn write_request<T: futures::AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Q,
    ) -> std::io::Result<()> {
        write_frame(io, &borsh::to_vec(&req)?).await
    }
    async fn write_response<T: futures::AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: R,
    ) -> std::io::Result<()> {
        write_frame(io, &borsh::to_vec(&res)?).await
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    allow: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    gossip: gossipsub::Behaviour,
    sync: request_response::Behaviour<SyncCodec>,
    release: request_response::Behaviour<ReleaseCodec>,
}

/// Transactions by id for a peer assembling a compact proposal: pending ones from the
/// mempool (the proposer's block came from its own, and a validator remembers what it
/// validated), others from committed blocks (for a peer that asks after the block committed
/// here). At most [`MAX_FETCH_IDS`] are looked up, and the answer stops after half of
/// [`MAX_SYNC_BYTES`]; the asker asks again for what it still lacks.
fn serve_txs(chain: &ChainReader, mempool: &Mutex<Mempool>, ids: &[Hash]) -> SyncResponse {
    let ids = &ids[..ids.len().min(MAX_FETCH_IDS)];
    let mut out = Vec::new();
    let mut bytes = 0usize;
    let mut elsewhere = Vec::new();
    {
        let Ok(m) = mempool.lock() else {
            return SyncResponse::Error("the mempool is unavailable".into());
        };
        for id in ids {
            match m.get(id) {
                Some(t) if bytes <= MAX_SYNC_BYTES / 2 => {
                    bytes += t.raw.body.len() + t.raw.signature.len();
                    out.push(RawTx::clone(&t.raw));
                }
                Some(_) => break,
                None => elsewhere.push(*id),
            }
        }
    }
    let mut blocks: HashMap<u64, Option<StoredBlock>> = HashMap::new();
    for id in elsewhere {
        if bytes > MAX_SYNC_BYTES / 2 {
            break;
        }
        let loc = match chain.tx_location(&id) {
            Ok(Some(loc)) => loc,
            Ok(None) => continue,
            Err(e) => return SyncResponse::Error(e.to_string()),
        };
        let block = match blocks.entry(loc.height) {
            std::collections::hash_map::Entry::Occupied(b) => b.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => match chain.block(loc.height) {
                Ok(b) => v.insert(b),
                Err(e) => return SyncResponse::Error(e.to_string()),
            },
        };
        if let Some(raw) = block.as_ref().and_then(|b| b.txs.get(loc.index as usize)) {
            bytes += raw.body.len() + raw.signature.len();
            out.push(raw.clone());
        }
    }
    SyncResponse::Txs(out)
}

fn serve_sync(chain: &ChainReader, mempool: &Mutex<Mempool>, req: SyncRequest) -> SyncResponse {
    match req {
        SyncRequest::Status => match chain.tip() {
            Ok(t) => SyncResponse::Status { height: t.height },
            Err(e) => SyncResponse::Error(e.to_string()),
        },
        SyncRequest::Blocks { from, max } => {
            let mut out = Vec::new();
            let mut bytes = 0usize;
            for h in from..from.saturating_add(max.min(MAX_SYNC_BLOCKS)) {
                match chain.block(h) {
                    Ok(Some(b)) => {
                        bytes += b
                            .txs
                            .iter()
                            .map(|t| t.body.len() + t.signature.len() + 16)
                            .sum::<usize>()
                            + 512;
                        out.push(b);
                        if bytes > MAX_SYNC_BYTES / 2 {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return SyncResponse::Error(e.to_string()),
                }
            }
            SyncResponse::Blocks(out)
        }
        SyncRequest::Txs { ids } => serve_txs(chain, mempool, &ids),
    }
}

/// Start the network task. Returns the sender for outbound messages.
pub fn spawn(
    cfg: NetConfig,
    chain: ChainReader,
    mempool: Arc<Mutex<Mempool>>,
    inbound: mpsc::Sender<Inbound>,
    releases: mpsc::Sender<ReleaseCall>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(mpsc::Sender<Outbound>, tokio::task::JoinHandle<()>)> {
    let heartbeat = Duration::from_millis(500);
    let gossip_config = gossipsub::ConfigBuilder::default()
        .heartbeat_interval(heartbeat)
        .mesh_n(3)
        .mesh_n_low(2)
        .mesh_n_high(8)
        .mesh_outbound_min(1)
        .gossip_lazy(3)
        .max_transmit_size(MAX_GOSSIP_BYTES)
        .duplicate_cache_time(Duration::from_secs(120))
        .max_control_messages_sent(MAX_IHAVE_IDS)
        .max_control_message_size(MAX_CONTROL_BYTES)
        .message_id_fn(|m: &gossipsub::Message| {
            gossipsub::MessageId::from(blake3::hash(&m.data).as_bytes().to_vec())
        })
        // No gossipsub-level signatures (ADR 0007): peers are noise-authenticated and
        // allow-listed, and every payload carries its own signature (the client's on a
        // transaction, the validator's on a proposal or vote), which is what nodes check.
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .build()
        .map_err(|e| anyhow!("gossipsub config: {e}"))?;
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(cfg.keypair.clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .context("cannot set up the TCP transport")?
        .with_behaviour(|_key| {
            let gossip =
                gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Anonymous, gossip_config)
                    .map_err(|e| anyhow!("gossipsub: {e}"))?;
            let sync = request_response::Behaviour::with_codec(
                SyncCodec::default(),
                [(
                    StreamProtocol::new("/yui/sync/1"),
                    request_response::ProtocolSupport::Full,
                )],
                request_response::Config::default().with_request_timeout(Duration::from_secs(10)),
            );
            let release = request_response::Behaviour::with_codec(
                ReleaseCodec::default(),
                [(
                    StreamProtocol::new("/yui/vault-release/1"),
                    request_response::ProtocolSupport::Full,
                )],
                request_response::Config::default().with_request_timeout(Duration::from_secs(10)),
            );
            Ok(Behaviour {
                allow: allow_block_list::Behaviour::default(),
                gossip,
                sync,
                release,
            })
        })
        .map_err(|e| anyhow!("cannot build the network behaviour: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    let me = *swarm.local_peer_id();
    let mut allowed = BTreeSet::new();
    for k in &cfg.allowed {
        let p = peer_id_of(k)?;
        if p != me {
            swarm.behaviour_mut().allow.allow_peer(p);
            allowed.insert(p);
        }
    }
    let topic = |name: &str| gossipsub::IdentTopic::new(format!("yui/{}/{name}", cfg.chain_id));
    let (t_consensus, t_txs, t_evidence) = (topic("consensus"), topic("txs"), topic("evidence"));
    for t in [&t_consensus, &t_txs, &t_evidence] {
        swarm
            .behaviour_mut()
            .gossip
            .subscribe(t)
            .map_err(|e| anyhow!("subscribe: {e}"))?;
    }
    swarm
        .listen_on(multiaddr(&cfg.listen))
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let (out_tx, mut out_rx) = mpsc::channel::<Outbound>(4096);
    let peers: Vec<Multiaddr> = cfg.peers.iter().map(multiaddr).collect();
    let observers = cfg.observers.clone();
    let handle = tokio::spawn(async move {
        let mut connected: BTreeSet<PeerId> = BTreeSet::new();
        let mut slow = SlowPeers::default();
        let mut seq: u64 = 0;
        let mut redial = tokio::time::interval(Duration::from_secs(2));
        let mut tx_batch: Vec<RawTx> = Vec::new();
        let mut flush_at = tokio::time::Instant::now();
        type Answer = futures::future::BoxFuture<
            'static,
            (
                request_response::ResponseChannel<ReleaseResponse>,
                ReleaseResponse,
            ),
        >;
        let mut answering: futures::stream::FuturesUnordered<Answer> = Default::default();
        let mut asked: std::collections::HashMap<
            request_response::OutboundRequestId,
            tokio::sync::oneshot::Sender<Result<ReleaseResponse, String>>,
        > = Default::default();
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                Some((channel, answer)) = answering.next(), if !answering.is_empty() => {
                    let _ = swarm.behaviour_mut().release.send_response(channel, answer);
                }
                _ = tokio::time::sleep_until(flush_at), if !tx_batch.is_empty() => {
                    seq += 1;
                    publish_txs(&mut swarm, &t_txs, seq, std::mem::take(&mut tx_batch));
                }
                _ = redial.tick() => {
                    // The allow-list follows committed governance: members admitted or removed
                    // by vote connect or are cut off without a restart.
                    match chain.tip().map_err(anyhow::Error::from).and_then(|t| chain.network_keys(t.height)) {
                        Ok(keys) => {
                            let want: BTreeSet<PeerId> = keys
                                .iter()
                                .chain(observers.iter())
                                .filter_map(|k| peer_id_of(k).ok())
                                .filter(|p| *p != me)
                                .collect();
                            for p in want.difference(&allowed).copied().collect::<Vec<_>>() {
                                tracing::info!(peer = %p, "peer admitted by committed governance");
                                swarm.behaviour_mut().allow.allow_peer(p);
                                allowed.insert(p);
                            }
                            for p in allowed.difference(&want).copied().collect::<Vec<_>>() {
                                tracing::warn!(peer = %p, "peer no longer admitted by committed governance; disconnecting it");
                                swarm.behaviour_mut().allow.disallow_peer(p);
                                allowed.remove(&p);
                                if connected.remove(&p) {
                                    let _ = inbound.try_send(Inbound::Peers(connected.len()));
                                }
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot read the network keys from committed state; keeping the current allow-list"),
                    }
                    // Keep dialing configured peers we are not connected to (restarts, partitions).
                    if connected.len() < peers.len() {
                        for addr in &peers {
                            let _ = swarm.dial(addr.clone());
                        }
                    }
                }
                cmd = out_rx.recv() => {
                    let Some(cmd) = cmd else { return };
                    match cmd {
                        Outbound::Publish(g) if matches!(g.as_ref(), Gossip::Tx(_)) => {
                            if let Gossip::Tx(raw) = *g {
                                if tx_batch.is_empty() {
                                    flush_at = tokio::time::Instant::now() + Duration::from_millis(TX_BATCH_MS);
                                }
                                tx_batch.push(raw);
                                if tx_batch.len() >= TX_BATCH_MAX {
                                    seq += 1;
                                    publish_txs(&mut swarm, &t_txs, seq, std::mem::take(&mut tx_batch));
                                }
                            }
                        }
                        Outbound::Publish(g) => {
                            // Transactions this node batched go out before its proposal, so
                            // peers hold them (or have them on the way) when it arrives.
                            if matches!(g.as_ref(), Gossip::CompactProposal { .. }) && !tx_batch.is_empty() {
                                seq += 1;
                                publish_txs(&mut swarm, &t_txs, seq, std::mem::take(&mut tx_batch));
                            }
                            let t = match g.as_ref() {
                                Gossip::Proposal { .. } | Gossip::CompactProposal { .. } | Gossip::Vote(_) => &t_consensus,
                                Gossip::Tx(_) | Gossip::Txs(_) => &t_txs,
                                Gossip::Evidence(_) => &t_evidence,
                            };
                            // A sequence number makes a re-sent message new to gossipsub's
                            // duplicate filter; consensus ignores copies it already counted.
                            seq += 1;
                            let bytes = borsh::to_vec(&(seq, g.as_ref())).unwrap_or_default();
                            if let Err(e) = swarm.behaviour_mut().gossip.publish(t.clone(), bytes) {
                                tracing::debug!(error = %e, "gossip publish skipped");
                            }
                        }
                        Outbound::Release { to, request, reply } => {
                            match to.iter().find(|p| connected.contains(p)) {
                                Some(p) => {
                                    let id = swarm.behaviour_mut().release.send_request(p, request);
                                    asked.insert(id, reply);
                                }
                                None => {
                                    let _ = reply.send(Err("no node of the record's organization is connected".into()));
                                }
                            }
                        }
                        Outbound::Request { to, request } => {
                            let targets: Vec<PeerId> = match to {
                                Some(p) => vec![p],
                                None => connected.iter().copied().collect(),
                            };
                            for p in targets {
                                swarm.behaviour_mut().sync.send_request(&p, request.clone());
                            }
                        }
                    }
                }
                ev = swarm.select_next_some() => match ev {
                    SwarmEvent::NewListenAddr { address, .. } => tracing::info!(%address, "p2p listening"),
                    SwarmEvent::ConnectionEstablished { peer_id, .. } if allowed.contains(&peer_id) && connected.insert(peer_id) => {
                        tracing::info!(peer = %peer_id, "peer connected");
                        let _ = inbound.try_send(Inbound::Peers(connected.len()));
                    }
                    SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } if connected.remove(&peer_id) => {
                        slow.forget(&peer_id);
                        tracing::info!(peer = %peer_id, "peer disconnected");
                        let _ = inbound.try_send(Inbound::Peers(connected.len()));
                    }
                    SwarmEvent::IncomingConnectionError { send_back_addr, error, peer_id, .. } => {
                        let key = peer_id.as_ref().and_then(public_key_hex).unwrap_or_else(|| "unknown (the handshake did not finish)".into());
                        tracing::warn!(from = %send_back_addr, peer = ?peer_id, key = %key, error = %error, "refused an incoming connection (a key neither in genesis nor admitted by committed governance, or a failed handshake)");
                    }
                    SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                        tracing::debug!(peer = ?peer_id, error = %error, "dial failed");
                    }
                    SwarmEvent::Behaviour(BehaviourEvent::Gossip(gossipsub::Event::Message { propagation_source, message, .. })) => {
                        match <(u64, Gossip)>::try_from_slice(&message.data) {
                            Ok((_, Gossip::Txs(txs))) => {
                                for raw in txs {
                                    if inbound.try_send(Inbound::Gossip { from: propagation_source, message: Box::new(Gossip::Tx(raw)) }).is_err() {
                                        tracing::warn!("driver is behind; dropped a gossiped transaction");
                                    }
                                }
                            }
                            Ok((_, g)) => {
                                if inbound.try_send(Inbound::Gossip { from: propagation_source, message: Box::new(g) }).is_err() {
                                    tracing::warn!("driver is behind; dropped a gossip message");
                                }
                            }
                            Err(e) => tracing::warn!(peer = %propagation_source, error = %e, "dropped an undecodable gossip message"),
                        }
                    }
                    // `report` records the heartbeat's report whatever it answers.
                    SwarmEvent::Behaviour(BehaviourEvent::Gossip(gossipsub::Event::SlowPeer { peer_id, failed_messages }))
                        if slow.report(peer_id, tokio::time::Instant::now(), heartbeat * 3) => {
                        tracing::warn!(peer = %peer_id, dropped_last_heartbeat = failed_messages.priority + failed_messages.non_priority, "a peer has not taken our gossip for 10 s; resetting the connection to it");
                        let _ = swarm.disconnect_peer_id(peer_id);
                    }
                    SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message { peer, message, .. })) => match message {
                        request_response::Message::Request { request, channel, .. } => {
                            let resp = serve_sync(&chain, &mempool, request);
                            let _ = swarm.behaviour_mut().sync.send_response(channel, resp);
                        }
                        request_response::Message::Response { response, .. } => {
                            let _ = inbound.try_send(Inbound::Sync { from: peer, response });
                        }
                    },
                    SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::OutboundFailure { peer, error, .. })) => {
                        tracing::debug!(%peer, %error, "sync request failed");
                    }
                    SwarmEvent::Behaviour(BehaviourEvent::Release(request_response::Event::Message { peer, message, .. })) => match message {
                        request_response::Message::Request { request, channel, .. } => {
                            let (tx, rx) = tokio::sync::oneshot::channel();
                            let refused = |m: &str| ReleaseResponse::Refused { code: tonic::Code::Unavailable as i32, message: m.to_string() };
                            if releases.try_send(ReleaseCall { request, reply: tx }).is_err() {
                                tracing::warn!(%peer, "the vault is busy; refused a release request");
                                let _ = swarm.behaviour_mut().release.send_response(channel, refused("the record's node is busy; retry shortly"));
                            } else {
                                answering.push(Box::pin(async move {
                                    let answer = rx.await.unwrap_or_else(|_| refused("the record's node could not answer"));
                                    (channel, answer)
                                }));
                            }
                        }
                        request_response::Message::Response { request_id, response } => {
                            if let Some(reply) = asked.remove(&request_id) {
                                let _ = reply.send(Ok(response));
                            }
                        }
                    },
                    SwarmEvent::Behaviour(BehaviourEvent::Release(request_response::Event::OutboundFailure { request_id, error, peer, .. })) => {
                        tracing::debug!(%peer, %error, "release request failed");
                        if let Some(reply) = asked.remove(&request_id) {
                            let _ = reply.send(Err(format!("the record's node did not answer: {error}")));
                        }
                    }
                    _ => {}
                },
            }
        }
    });
    Ok((out_tx, handle))
}

/// The ed25519 public key (hex) a peer id carries, as genesis lists keys.
pub fn public_key_hex(peer: &PeerId) -> Option<String> {
    let key = identity::PublicKey::try_decode_protobuf(peer.as_ref().digest()).ok()?;
    Some(hex::encode(key.try_into_ed25519().ok()?.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ihave_of_the_most_ids_fits_the_default_receive_limit() {
        // Wire size of one IHAVE: per id a tag, a length and the 32-byte id; the topic name
        // (`yui/<chain id>/consensus`, here with a chain id of 64 characters) with its tag and
        // length; the control message's own framing.
        let per_id = 1 + 1 + 32;
        let topic = 2 + "yui/".len() + 64 + "/consensus".len();
        let framing = 16;
        let ihave = MAX_IHAVE_IDS * per_id + topic + framing;
        assert!(
            ihave <= 16 * 1024,
            "an IHAVE of {ihave} bytes would be refused"
        );
        // And what we accept takes the library's default IHAVE (5,000 ids).
        assert!(5000 * per_id + topic + framing <= MAX_CONTROL_BYTES);
    }

    #[test]
    fn a_peer_is_reset_only_after_slow_reports_at_every_heartbeat_for_the_whole_period() {
        let peer = PeerId::random();
        let other = PeerId::random();
        let hb = Duration::from_millis(500);
        let gap = hb * 3;
        let t0 = tokio::time::Instant::now();
        let mut slow = SlowPeers::default();
        // Reports every heartbeat: not yet at 9.5 s, reset at 10 s.
        let mut t = t0;
        while t < t0 + SLOW_PEER_RESET {
            assert!(
                !slow.report(peer, t, gap),
                "reset too early at {:?}",
                t - t0
            );
            assert!(!slow.report(other, t, gap));
            t += hb;
        }
        assert!(slow.report(peer, t, gap));
        // After a reset the streak starts again.
        assert!(!slow.report(peer, t + hb, gap));
        // A gap longer than three heartbeats starts the streak again: a peer slow now and then
        // is never reset.
        let mut slow = SlowPeers::default();
        let mut t = t0;
        for _ in 0..100 {
            assert!(!slow.report(peer, t, gap));
            t += Duration::from_secs(2);
        }
        // A forgotten peer starts from nothing.
        let mut slow = SlowPeers::default();
        let mut t = t0;
        for _ in 0..19 {
            slow.report(peer, t, gap);
            t += hb;
        }
        slow.forget(&peer);
        assert!(!slow.report(peer, t, gap));
    }
}
