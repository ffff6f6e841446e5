//! The gRPC API: the `Ledger` service over the committed chain and the mempool, plus the
//! standard health and reflection services. Every error is a status with the right code and a
//! sentence a person understands; nothing a client sends can crash the node.

use crate::chain::ChainReader;
use crate::driver::Shared;
use crate::tx::{RawTx, Reject};
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};
use yui_consensus::Hash;
use yui_proto::v1 as pb;
use yui_proto::v1::ledger_server::{Ledger, LedgerServer};

/// The Ledger service.
#[derive(Clone)]
pub struct LedgerApi {
    /// Committed chain.
    pub chain: ChainReader,
    /// Driver-shared state.
    pub shared: Shared,
    /// An observer serves reads only.
    pub read_only: bool,
}

pub(crate) fn internal(e: impl std::fmt::Display) -> Status {
    tracing::error!(error = %e, "internal error serving a request");
    Status::internal(format!("the node failed to read its store: {e}"))
}

/// The status for a contract query's error: the node's own failure is INTERNAL (and logged);
/// a caller's mistake gets the code of its kind and the contract's sentence.
pub(crate) fn contract_status(e: yui_contracts::ContractError) -> Status {
    use yui_contracts::{ContractError, InvalidKind};
    match e {
        ContractError::Failed(f) => internal(f),
        ContractError::Invalid(i) => match i.kind {
            InvalidKind::NotFound => Status::not_found(i.message),
            InvalidKind::Permission => Status::permission_denied(i.message),
            InvalidKind::Precondition => Status::failed_precondition(i.message),
            InvalidKind::AlreadyExists => Status::already_exists(i.message),
            InvalidKind::Argument => Status::invalid_argument(i.message),
        },
    }
}

fn hash_arg(what: &str, bytes: &[u8]) -> Result<Hash, Status> {
    Hash::from_slice(bytes).ok_or_else(|| {
        Status::invalid_argument(format!(
            "{what} must be 32 bytes, got {} bytes",
            bytes.len()
        ))
    })
}

/// Convert a stored block to the API message.
pub fn block_proto(b: &crate::chain::StoredBlock) -> pb::Block {
    let h = &b.header;
    pb::Block {
        header: Some(pb::BlockHeader {
            chain_id: h.chain_id.clone(),
            height: h.height,
            time_ms: h.time_ms,
            parent_hash: h.parent_hash.0.to_vec(),
            proposer: h.proposer.to_vec(),
            validator_set_hash: h.validator_set_hash.0.to_vec(),
            tx_root: h.tx_root.0.to_vec(),
            state_root: h.state_root.0.to_vec(),
            event_root: h.event_root.0.to_vec(),
        }),
        hash: h.hash().0.to_vec(),
        transactions: b.txs.iter().map(RawTx::to_proto).collect(),
        certificate: Some(pb::CommitCertificate {
            height: b.cert.height,
            round: b.cert.round,
            block_hash: b.cert.block_hash.0.to_vec(),
            signatures: b
                .cert
                .signatures
                .iter()
                .map(|(k, s)| pb::CommitSignature {
                    validator: k.to_vec(),
                    signature: s.to_vec(),
                })
                .collect(),
        }),
    }
}

/// Convert an API block back to the stored form (for export over gRPC). Fails on wrong
/// field sizes; the verifier then checks everything else.
pub fn block_from_proto(b: pb::Block) -> anyhow::Result<crate::chain::StoredBlock> {
    use anyhow::anyhow;
    let h = b.header.ok_or_else(|| anyhow!("block without header"))?;
    let hash =
        |v: &[u8], what: &str| Hash::from_slice(v).ok_or_else(|| anyhow!("{what} is not 32 bytes"));
    let key = |v: &[u8], what: &str| {
        <[u8; 32]>::try_from(v).map_err(|_| anyhow!("{what} is not 32 bytes"))
    };
    let cert = b
        .certificate
        .ok_or_else(|| anyhow!("block without certificate"))?;
    Ok(crate::chain::StoredBlock {
        header: yui_consensus::Header {
            chain_id: h.chain_id,
            height: h.height,
            time_ms: h.time_ms,
            parent_hash: hash(&h.parent_hash, "parent hash")?,
            proposer: key(&h.proposer, "proposer")?,
            validator_set_hash: hash(&h.validator_set_hash, "validator set hash")?,
            tx_root: hash(&h.tx_root, "tx root")?,
            state_root: hash(&h.state_root, "state root")?,
            event_root: hash(&h.event_root, "event root")?,
        },
        txs: b.transactions.into_iter().map(RawTx::from_proto).collect(),
        cert: yui_consensus::CommitCertificate {
            height: cert.height,
            round: cert.round,
            block_hash: hash(&cert.block_hash, "certificate block hash")?,
            signatures: cert
                .signatures
                .into_iter()
                .map(|s| {
                    Ok((
                        key(&s.validator, "certificate validator")?,
                        <[u8; 64]>::try_from(s.signature.as_slice())
                            .map_err(|_| anyhow!("signature is not 64 bytes"))?,
                    ))
                })
                .collect::<anyhow::Result<_>>()?,
        },
    })
}

/// Most transactions in one `SubmitTransactions` call.
pub const MAX_SUBMIT_BATCH: usize = 1_000;

impl LedgerApi {
    fn check_writable(&self) -> Result<(), Status> {
        if self.read_only {
            return Err(Status::failed_precondition(
                "this node is an observer and serves reads only; submit transactions to a validator",
            ));
        }
        Ok(())
    }

    /// Admit submitted transactions, each independently: the signature and guard checks run
    /// outside the mempool lock (submissions on different threads verify in parallel and never
    /// stall the consensus driver), then one lock inserts them all; the accepted ones are
    /// gossiped.
    fn admit(&self, raws: Vec<RawTx>) -> Vec<Result<Hash, Reject>> {
        let tip = self.shared.tip.borrow().height;
        let checked: Vec<Result<(crate::tx::CheckedTx, RawTx), Reject>> = raws
            .into_iter()
            .map(|raw| {
                let gossip = raw.clone();
                crate::mempool::precheck(raw, &self.chain.chain_id).map(|tx| (tx, gossip))
            })
            .collect();
        let mut accepted = Vec::new();
        let results: Vec<Result<Hash, Reject>> = match self.shared.mempool.lock() {
            Ok(mut m) => {
                let results = checked
                    .into_iter()
                    .map(|c| {
                        let (tx, gossip) = c?;
                        let id = m.insert(&self.chain, tx, tip)?;
                        accepted.push(gossip);
                        Ok(id)
                    })
                    .collect();
                metrics::gauge!(crate::telemetry::names::MEMPOOL_TXS).set(m.len() as f64);
                results
            }
            Err(_) => checked
                .into_iter()
                .map(|_| Err(Reject::Internal("mempool lock poisoned".into())))
                .collect(),
        };
        if !accepted.is_empty() {
            self.shared.mempool_notify.notify_one();
        }
        if let Some(net) = &self.shared.net {
            for gossip in accepted {
                let _ = net.try_send(crate::p2p::Outbound::Publish(Box::new(
                    crate::p2p::Gossip::Tx(gossip),
                )));
            }
        }
        for r in &results {
            if let Err(e @ Reject::Internal(_)) = r {
                tracing::error!(error = %e, "mempool admission failed");
            }
        }
        results
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::EventEnvelope, Status>> + Send>>;

#[tonic::async_trait]
impl Ledger for LedgerApi {
    async fn submit_transaction(
        &self,
        request: Request<pb::SubmitTransactionRequest>,
    ) -> Result<Response<pb::SubmitTransactionResponse>, Status> {
        self.check_writable()?;
        let tx = request
            .into_inner()
            .transaction
            .ok_or_else(|| Status::invalid_argument("the request has no transaction"))?;
        match self.admit(vec![RawTx::from_proto(tx)]).pop() {
            Some(Ok(id)) => Ok(Response::new(pb::SubmitTransactionResponse {
                tx_id: id.0.to_vec(),
            })),
            Some(Err(r)) => Err(r.into()),
            None => Err(Status::internal("the transaction was not checked")),
        }
    }

    async fn submit_transactions(
        &self,
        request: Request<pb::SubmitTransactionsRequest>,
    ) -> Result<Response<pb::SubmitTransactionsResponse>, Status> {
        self.check_writable()?;
        let txs = request.into_inner().transactions;
        if txs.is_empty() || txs.len() > MAX_SUBMIT_BATCH {
            return Err(Status::invalid_argument(format!(
                "a call carries 1 to {MAX_SUBMIT_BATCH} transactions, this one {}",
                txs.len()
            )));
        }
        let results = self
            .admit(txs.into_iter().map(RawTx::from_proto).collect())
            .into_iter()
            .map(|r| match r {
                Ok(id) => pb::SubmitResult {
                    tx_id: id.0.to_vec(),
                    code: 0,
                    message: String::new(),
                },
                Err(r) => {
                    let status = Status::from(r);
                    pb::SubmitResult {
                        tx_id: Vec::new(),
                        code: status.code() as u32,
                        message: status.message().to_string(),
                    }
                }
            })
            .collect();
        Ok(Response::new(pb::SubmitTransactionsResponse { results }))
    }

    async fn get_transaction(
        &self,
        request: Request<pb::GetTransactionRequest>,
    ) -> Result<Response<pb::GetTransactionResponse>, Status> {
        let id = hash_arg("tx_id", &request.into_inner().tx_id)?;
        if let Some(loc) = self.chain.tx_location(&id).map_err(internal)? {
            let block = self.chain.block(loc.height).map_err(internal)?;
            let tx = block.and_then(|b| b.txs.get(loc.index as usize).map(RawTx::to_proto));
            let receipt = self.chain.receipt_proto(loc).map_err(internal)?;
            return Ok(Response::new(pb::GetTransactionResponse {
                status: pb::TxStatus::Committed as i32,
                height: loc.height,
                index: loc.index,
                receipt,
                transaction: tx,
            }));
        }
        let pending = self
            .shared
            .mempool
            .lock()
            .map_err(|_| Status::internal("mempool lock poisoned"))?
            .get(&id)
            .map(|t| t.raw.to_proto());
        Ok(Response::new(pb::GetTransactionResponse {
            status: if pending.is_some() {
                pb::TxStatus::Pending as i32
            } else {
                pb::TxStatus::Unknown as i32
            },
            transaction: pending,
            ..Default::default()
        }))
    }

    async fn get_block(
        &self,
        request: Request<pb::GetBlockRequest>,
    ) -> Result<Response<pb::GetBlockResponse>, Status> {
        use pb::get_block_request::By;
        let tip = self.shared.tip.borrow().height;
        let height = match request.into_inner().by {
            None => {
                return Err(Status::invalid_argument(
                    "say which block: height, hash or latest",
                ))
            }
            Some(By::Height(h)) => h,
            Some(By::Latest(_)) => tip,
            Some(By::Hash(h)) => {
                let hash = hash_arg("hash", &h)?;
                self.chain
                    .height_of(&hash)
                    .map_err(internal)?
                    .ok_or_else(|| Status::not_found("no committed block has this hash"))?
            }
        };
        if height == 0 {
            return Err(Status::not_found(
                "height 0 is the genesis, not a block; the first block is height 1",
            ));
        }
        let block = self.chain.block(height).map_err(internal)?.ok_or_else(|| {
            Status::not_found(format!(
                "block {height} is not committed yet (latest is {tip})"
            ))
        })?;
        Ok(Response::new(pb::GetBlockResponse {
            block: Some(block_proto(&block)),
        }))
    }

    async fn get_chain_info(
        &self,
        _request: Request<pb::GetChainInfoRequest>,
    ) -> Result<Response<pb::GetChainInfoResponse>, Status> {
        let tip = self.shared.tip.borrow().clone();
        let set = self.chain.validator_set(tip.height + 1).map_err(internal)?;
        let total = set.total_power();
        let min_power = set.validators.iter().map(|v| v.power).max().unwrap_or(1);
        let tolerated = self.chain.fault_model.tolerated(total) / min_power.max(1);
        Ok(Response::new(pb::GetChainInfoResponse {
            chain_id: self.chain.chain_id.clone(),
            height: tip.height,
            latest_hash: tip.hash.0.to_vec(),
            latest_time_ms: tip.time_ms,
            validators: set
                .validators
                .iter()
                .map(|v| pb::Validator {
                    organization: v.organization.clone(),
                    name: v.name.clone(),
                    public_key: v.public_key.to_vec(),
                    power: v.power,
                })
                .collect(),
            fault_model: match self.chain.fault_model {
                yui_consensus::FaultModel::Byzantine => pb::FaultModel::Byzantine as i32,
                yui_consensus::FaultModel::Crash => pb::FaultModel::Crash as i32,
            },
            quorum_power: set.quorum_power(),
            total_power: total,
            genesis_hash: self.chain.genesis_hash.0.to_vec(),
            max_expiry_blocks: self.chain.max_expiry_blocks,
            tolerated_faults: tolerated as u32,
        }))
    }

    async fn get_proof(
        &self,
        request: Request<pb::GetProofRequest>,
    ) -> Result<Response<pb::InclusionProof>, Status> {
        use pb::get_proof_request::Target;
        let (tx_id, cursor) = match request.into_inner().target {
            None => {
                return Err(Status::invalid_argument(
                    "say what to prove: tx_id or event",
                ))
            }
            Some(Target::TxId(id)) => (hash_arg("tx_id", &id)?, None),
            Some(Target::Event(c)) => {
                let after = c.index.checked_sub(1).map(|i| (c.height, i));
                let found = if let Some(a) = after {
                    self.chain.events_after(Some(a), 1).map_err(internal)?
                } else {
                    self.chain
                        .events_after(c.height.checked_sub(1).map(|h| (h, u32::MAX)), 1)
                        .map_err(internal)?
                };
                match found.into_iter().next() {
                    Some(((h, i), ev)) if h == c.height && i == c.index => {
                        (Hash(ev.tx_id), Some(c))
                    }
                    _ => {
                        return Err(Status::not_found(format!(
                            "no committed event at cursor {}:{}",
                            c.height, c.index
                        )))
                    }
                }
            }
        };
        let loc = self
            .chain
            .tx_location(&tx_id)
            .map_err(internal)?
            .ok_or_else(|| Status::not_found("the transaction is not committed on this node"))?;
        let mut proof = crate::proof::build(&self.chain, loc).map_err(internal)?;
        if let Some(c) = cursor {
            let first = self
                .chain
                .receipt(loc)
                .map_err(internal)?
                .map(|r| r.first_event)
                .unwrap_or(0);
            proof.event_index = c.index.saturating_sub(first);
            proof.event_cursor = Some(c);
        }
        Ok(Response::new(proof))
    }

    type SubscribeEventsStream = EventStream;

    async fn subscribe_events(
        &self,
        request: Request<pb::SubscribeEventsRequest>,
    ) -> Result<Response<Self::SubscribeEventsStream>, Status> {
        let mut cursor = request.into_inner().after.map(|c| (c.height, c.index));
        let chain = self.chain.clone();
        let mut tip_rx = self.shared.tip.clone();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<pb::EventEnvelope, Status>>(256);
        tokio::spawn(async move {
            const PAGE: usize = 256;
            loop {
                let page = match chain.events_after(cursor, PAGE) {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = tx.send(Err(internal(e))).await;
                        return;
                    }
                };
                let n = page.len();
                for ((h, i), ev) in page {
                    let event = match prost::Message::decode(ev.event.as_slice()) {
                        Ok(e) => e,
                        Err(e) => {
                            let _ = tx.send(Err(internal(e))).await;
                            return;
                        }
                    };
                    let env = pb::EventEnvelope {
                        cursor: Some(pb::Cursor {
                            height: h,
                            index: i,
                        }),
                        tx_id: ev.tx_id.to_vec(),
                        time_ms: ev.time_ms,
                        event: Some(event),
                    };
                    if tx.send(Ok(env)).await.is_err() {
                        return; // client went away
                    }
                    cursor = Some((h, i));
                }
                if n < PAGE {
                    // Caught up: wait for the next commit (or poll, in case a change was missed).
                    tokio::select! {
                        r = tip_rx.changed() => if r.is_err() { return },
                        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                        _ = tx.closed() => return,
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}

/// Serve the API on `addr` until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    api: LedgerApi,
    personal_data: Option<crate::vault_api::PersonalDataApi>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<LedgerServer<LedgerApi>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(yui_proto::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    // Small request/response messages: without TCP_NODELAY, Nagle's algorithm and delayed
    // ACKs add ~40 ms to every call.
    let incoming = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        |s| {
            s.inspect(|s| {
                let _ = s.set_nodelay(true);
            })
        },
    );
    let eco = crate::eco_api::EcoApi {
        chain: api.chain.clone(),
    };
    tonic::transport::Server::builder()
        .layer(crate::telemetry::GrpcMetricsLayer)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(eco.eco_server())
        .add_service(eco.points_server())
        .add_service(
            crate::relief_api::ReliefApi {
                chain: api.chain.clone(),
            }
            .into_server(),
        )
        .add_service(
            crate::volunteer_api::VolunteerApi {
                chain: api.chain.clone(),
            }
            .into_server(),
        )
        .add_service(LedgerServer::new(api).max_decoding_message_size(4 * 1024 * 1024))
        .add_optional_service(
            personal_data.map(|p| p.into_server().max_decoding_message_size(1024 * 1024)),
        )
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = shutdown.changed().await;
        })
        .await?;
    Ok(())
}
