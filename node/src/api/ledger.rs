//! The `Ledger` service over the committed chain and the mempool: submission (one or a batch),
//! transactions, blocks, chain info, the event stream and inclusion proofs.

use crate::api::status::internal;
use crate::chain::convert::block_proto;
use crate::chain::tx::{CheckedTx, Reject};
use crate::chain::ChainReader;
use crate::runtime::driver::{NodeStatus, Shared};
use std::pin::Pin;
use std::time::Duration;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};
use yui_client::tx::RawTx;
use yui_consensus::Hash;
use yui_proto::v1 as pb;
use yui_proto::v1::ledger_server::Ledger;

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

/// The API form of a node status.
pub fn status_proto(s: NodeStatus) -> pb::NodeStatus {
    match s {
        NodeStatus::Starting => pb::NodeStatus::Starting,
        NodeStatus::Serving => pb::NodeStatus::Serving,
        NodeStatus::Syncing => pb::NodeStatus::Syncing,
        NodeStatus::Stopped => pb::NodeStatus::Stopped,
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

/// Most transactions in one `SubmitTransactions` call.
pub const MAX_SUBMIT_BATCH: usize = 1_000;

impl LedgerApi {
    fn check_writable(&self) -> Result<(), Status> {
        if self.read_only {
            return Err(Status::failed_precondition(
                "this node is an observer and serves reads only; submit transactions to a validator",
            ));
        }
        let view = *self.shared.status.borrow();
        match view.status {
            NodeStatus::Serving | NodeStatus::Starting => Ok(()),
            NodeStatus::Syncing => Err(Status::unavailable(format!(
                "this node is catching up with its peers (height {} of {}); submit to another node, or retry when it is at the tip",
                self.shared.tip.borrow().height,
                view.peer_height
            ))),
            NodeStatus::Stopped => Err(Status::unavailable(
                "consensus stopped on this node after a local fault (see its log); submit to another node",
            )),
        }
    }

    /// Admit submitted transactions, each independently: the signature and guard checks run
    /// outside the mempool lock (submissions on different threads verify in parallel and never
    /// stall the consensus driver), then one lock inserts them all; the accepted ones are
    /// gossiped.
    fn admit(&self, raws: Vec<RawTx>) -> Vec<Result<Hash, Reject>> {
        let tip = self.shared.tip.borrow().height;
        let gossip: Vec<RawTx> = raws.clone();
        let checked: Vec<Result<(CheckedTx, RawTx), Reject>> =
            crate::admission::mempool::precheck_batch(raws, &self.chain.chain_id)
                .into_iter()
                .zip(gossip)
                .map(|(r, raw)| r.map(|tx| (tx, raw)))
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
                metrics::gauge!(crate::runtime::telemetry::names::MEMPOOL_TXS).set(m.len() as f64);
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
                let _ = net.try_send(crate::runtime::p2p::Outbound::Publish(Box::new(
                    crate::runtime::p2p::Gossip::Tx(gossip),
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
                    error_code: String::new(),
                },
                Err(r) => {
                    let error_code = match &r {
                        Reject::Refused(i) => i.code.clone(),
                        _ => String::new(),
                    };
                    let status = Status::from(r);
                    pb::SubmitResult {
                        tx_id: Vec::new(),
                        code: status.code() as u32,
                        message: status.message().to_string(),
                        error_code,
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
        // One borrow, copied out: two read guards of one watch channel in one expression
        // deadlock when the driver's update comes between them (the second read waits behind
        // the waiting writer, which waits for the first read).
        let view = *self.shared.status.borrow();
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
            max_expiry_blocks: self.chain.max_expiry_at(tip.height + 1).map_err(internal)?,
            tolerated_faults: tolerated as u32,
            status: status_proto(view.status) as i32,
            peer_height: view.peer_height,
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
        let mut proof = crate::audit::proof::build(&self.chain, loc).map_err(internal)?;
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
