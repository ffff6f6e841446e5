//! Verification by replay: every block of a chain on a fresh in-memory chain, from genesis,
//! through the same `Chain::validate` the network uses — the hash link to the parent, the
//! commit certificate against the validator set that the replayed state names for that height
//! (so validator changes are followed, and a set change without its governance approval is
//! caught), every transaction's signature (ZIP 215, checked in batches on every core but the
//! one re-executing, ahead of the sequential re-execution), expiry and uniqueness, the transaction and event
//! Merkle roots, and the state root after re-executing every transaction. The first failure is
//! reported with its height (and transaction where there is one).
//!
//! Verification trusts nothing it reads and must never write to what it verifies.

use crate::chain::tx::{check_stateless_batch, CheckedTx, Reject};
use crate::chain::{keys, BlockError, Chain, StoreState, StoredBlock, TxLocation};
use crate::setup::genesis::GenesisDoc;
use crate::storage::{MemStore, Store};
use anyhow::{anyhow, Result};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use yui_client::tx::RawTx;
use yui_consensus::Hash;

/// Blocks read and signature-checked ahead of the one being re-executed, per signature thread.
const LOOKAHEAD: usize = 16;

/// The blocks of a replay, each with its transactions' signatures already checked (in batches)
/// by worker threads while the blocks before are re-executed: the replay's two expensive parts,
/// signatures and execution, run on all cores. Blocks go to the workers in turn and their
/// results are taken back in the same turn, so they come back in block order. A transaction
/// whose check failed is left out of the map, so validation checks it again and reports it; if
/// a worker is gone its blocks' maps are empty and validation checks those itself.
struct Prefetch<I> {
    inner: I,
    ahead: VecDeque<Result<StoredBlock>>,
    workers: Vec<Worker>,
    /// Blocks handed out, and results taken back: block `n` went to worker `n % workers`.
    sent: usize,
    taken: usize,
}

/// A signature-checking thread's two ends.
struct Worker {
    jobs: SyncSender<Vec<RawTx>>,
    results: Receiver<Vec<Result<CheckedTx, Reject>>>,
}

/// Signature threads for a replay: every core but the one re-executing, at least one.
pub(crate) fn signature_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .max(1)
}

impl<I: Iterator<Item = Result<StoredBlock>>> Prefetch<I> {
    fn new(inner: I, chain_id: &str, threads: usize) -> Self {
        let workers = (0..threads.max(1))
            .map(|i| {
                let (jobs, job_rx) = sync_channel::<Vec<RawTx>>(LOOKAHEAD);
                let (res_tx, results) = sync_channel(LOOKAHEAD);
                let chain_id = chain_id.to_string();
                let _ = std::thread::Builder::new()
                    .name(format!("verify-signatures-{i}"))
                    .spawn(move || {
                        for txs in job_rx {
                            if res_tx.send(check_stateless_batch(txs, &chain_id)).is_err() {
                                return;
                            }
                        }
                    });
                Worker { jobs, results }
            })
            .collect();
        Prefetch {
            inner,
            ahead: VecDeque::new(),
            workers,
            sent: 0,
            taken: 0,
        }
    }
}

impl<I: Iterator<Item = Result<StoredBlock>>> Iterator for Prefetch<I> {
    type Item = (Result<StoredBlock>, HashMap<Hash, CheckedTx>);

    fn next(&mut self) -> Option<Self::Item> {
        let lookahead = LOOKAHEAD * self.workers.len();
        while self.ahead.len() < lookahead {
            match self.inner.next() {
                Some(b) => {
                    if let Ok(b) = &b {
                        let w = &self.workers[self.sent % self.workers.len()];
                        let _ = w.jobs.send(b.txs.clone());
                        self.sent += 1;
                    }
                    self.ahead.push_back(b);
                }
                None => break,
            }
        }
        let b = self.ahead.pop_front()?;
        let checked = if b.is_ok() {
            let w = &self.workers[self.taken % self.workers.len()];
            self.taken += 1;
            w.results
                .recv()
                .map(|r| r.into_iter().flatten().map(|c| (c.id, c)).collect())
                .unwrap_or_default()
        } else {
            HashMap::new()
        };
        Some((b, checked))
    }
}

/// What a verification found.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    /// Chain id.
    pub chain_id: String,
    /// Genesis hash.
    pub genesis_hash: String,
    /// Blocks verified.
    pub blocks: u64,
    /// Transactions verified.
    pub transactions: u64,
    /// Transactions whose call failed (recorded with an error receipt).
    pub failed_transactions: u64,
    /// Transactions by call (`contract.call`).
    pub transactions_by_call: BTreeMap<String, u64>,
    /// Heights at which the validator set changed.
    pub validator_set_changes: Vec<u64>,
    /// Time of the first block (ms since the Unix epoch).
    pub first_block_time_ms: u64,
    /// Time of the last block.
    pub last_block_time_ms: u64,
    /// Hash of the last block verified.
    pub last_block_hash: String,
    /// "ok" or "failed".
    pub result: String,
    /// What failed, if anything.
    pub failure: Option<Failure>,
}

/// The first failure.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Failure {
    /// Height of the block that failed.
    pub height: u64,
    /// What is wrong, in words.
    pub reason: String,
}

impl Report {
    /// The report as a person reads it.
    pub fn human(&self) -> String {
        let mut s = String::new();
        let span = if self.blocks > 0 {
            format!(
                "{} .. {} ({} s)",
                fmt_time(self.first_block_time_ms),
                fmt_time(self.last_block_time_ms),
                self.last_block_time_ms
                    .saturating_sub(self.first_block_time_ms)
                    / 1000
            )
        } else {
            "no blocks".into()
        };
        s.push_str(&format!("chain            {}\n", self.chain_id));
        s.push_str(&format!("genesis          {}\n", self.genesis_hash));
        s.push_str(&format!("blocks verified  {}\n", self.blocks));
        s.push_str(&format!(
            "transactions     {} ({} failed calls, recorded)\n",
            self.transactions, self.failed_transactions
        ));
        for (k, v) in &self.transactions_by_call {
            s.push_str(&format!("  {k:<40} {v}\n"));
        }
        s.push_str(&format!(
            "validator set changes at heights {:?}\n",
            self.validator_set_changes
        ));
        s.push_str(&format!("time span        {span}\n"));
        s.push_str(&format!("last block       {}\n", self.last_block_hash));
        match &self.failure {
            None => s.push_str("RESULT           OK: every hash link, certificate, signature, Merkle root and state root verified\n"),
            Some(f) => s.push_str(&format!("RESULT           FAILED at height {}: {}\n", f.height, f.reason)),
        }
        s
    }
}

fn fmt_time(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Replay `blocks` from `genesis`. `stored_state`, if given, is the state a data directory
/// holds; it must equal the replayed state at the end.
pub fn verify(
    genesis: &GenesisDoc,
    blocks: impl Iterator<Item = Result<StoredBlock>>,
    expected: Option<u64>,
    stored_state: Option<Arc<dyn Store>>,
    progress: bool,
) -> Result<Report> {
    verify_on(
        signature_threads(),
        genesis,
        blocks,
        expected,
        stored_state,
        progress,
    )
}

/// [`verify`] with `threads` signature-checking threads.
fn verify_on(
    threads: usize,
    genesis: &GenesisDoc,
    blocks: impl Iterator<Item = Result<StoredBlock>>,
    expected: Option<u64>,
    stored_state: Option<Arc<dyn Store>>,
    progress: bool,
) -> Result<Report> {
    let store: Arc<dyn Store> = Arc::new(MemStore::default());
    let mut chain = Chain::open(store.clone(), genesis)?;
    let mut r = Report {
        chain_id: genesis.chain_id.clone(),
        genesis_hash: chain.reader.genesis_hash.to_string(),
        result: "ok".into(),
        ..Default::default()
    };
    let bar = if progress {
        let b = indicatif::ProgressBar::new(expected.unwrap_or(0));
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} verifying {pos}/{len} blocks [{elapsed_precise}] {per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut last_set = None;
    let fail = |r: &mut Report, height: u64, reason: String| {
        r.result = "failed".into();
        r.failure = Some(Failure { height, reason });
    };
    for (b, prechecked) in Prefetch::new(blocks, &genesis.chain_id, threads) {
        let h = chain.tip().height + 1;
        let b = match b {
            Ok(b) => b,
            Err(e) => {
                fail(&mut r, h, format!("cannot read block {h}: {e:#}"));
                break;
            }
        };
        if b.header.height != h {
            fail(
                &mut r,
                h,
                format!(
                    "expected block {h} next, found block {} (a block is missing or out of order)",
                    b.header.height
                ),
            );
            break;
        }
        let hash = b.header.hash();
        if b.header.parent_hash != chain.tip().hash {
            fail(
                &mut r,
                h,
                format!(
                    "block {h} does not link to block {} (parent hash {} is not {})",
                    h - 1,
                    b.header.parent_hash,
                    chain.tip().hash
                ),
            );
            break;
        }
        let set = chain.reader.validator_set(h)?;
        if let Err(e) = b.cert.verify(&genesis.chain_id, h, &hash, &set) {
            fail(&mut r, h, format!("the commit certificate of block {h} is not valid for the validator set of that height: {e}"));
            break;
        }
        let ex = match chain.validate_with(&b.header, &b.txs, &|id| prechecked.get(id).cloned()) {
            Ok(ex) => ex,
            Err(BlockError::Invalid(why)) => {
                fail(&mut r, h, why);
                break;
            }
            // The replay's own memory store failed: no finding about the chain.
            Err(e @ BlockError::Failed(_)) => return Err(anyhow!("the replay failed: {e}")),
        };
        let set_hash = set.hash();
        if last_set.is_some_and(|s| s != set_hash) {
            r.validator_set_changes.push(h);
        }
        last_set = Some(set_hash);
        for (tx, rc) in ex.txs.iter().zip(&ex.receipts) {
            *r.transactions_by_call
                .entry(yui_contracts::call_name(&tx.call).to_string())
                .or_default() += 1;
            if rc.result.is_err() {
                r.failed_transactions += 1;
            }
        }
        r.transactions += ex.txs.len() as u64;
        if r.blocks == 0 {
            r.first_block_time_ms = b.header.time_ms;
        }
        r.last_block_time_ms = b.header.time_ms;
        r.last_block_hash = hash.to_string();
        chain.commit(&ex, b.cert)?;
        r.blocks += 1;
        bar.inc(1);
        if yui_contracts::points::touches(&ex.writes) {
            let state = StoreState(store.as_ref());
            if let Err(broken) =
                yui_contracts::points::check_invariant(&state).map_err(|e| anyhow!("{e}"))?
            {
                fail(
                    &mut r,
                    h,
                    format!("points are not conserved after block {h}: {broken}"),
                );
                break;
            }
        }
    }
    bar.finish_and_clear();
    if r.failure.is_none() {
        if let Some(n) = expected {
            let held = r.blocks;
            if held != n {
                fail(
                    &mut r,
                    held + 1,
                    format!("the source promised {n} blocks but held {held}"),
                );
            }
        }
    }
    if r.failure.is_none() {
        if let Some(stored) = stored_state {
            // Everything the data directory holds must be what the replay wrote: the state,
            // and every block, hash index, transaction index and receipt.
            for (prefix, what) in COMPARED {
                if let Some((key, how)) = first_difference(stored.as_ref(), store.as_ref(), prefix)?
                {
                    let at = height_of(&key, store.as_ref()).unwrap_or(chain.tip().height);
                    fail(
                        &mut r,
                        at,
                        format!(
                            "the data directory's {what} differ from the replay: key {} (height {at}) is {how}",
                            yui_contracts::state::printable_key(&key)
                        ),
                    );
                    break;
                }
            }
        }
    }
    Ok(r)
}

/// The keyspaces of a data directory compared with the replay, in order, with their names.
const COMPARED: [(&[u8], &str); 7] = [
    (keys::STATE, "state values"),
    (keys::BLOCK, "blocks"),
    (keys::BLOCK_HASH, "block hash index entries"),
    (keys::TX, "transaction index entries"),
    (keys::RECEIPT, "receipts"),
    (keys::TIP, "committed tip"),
    (keys::PROPOSERS, "proposer record"),
];

/// The height a chain key belongs to, from its key (blocks, receipts) or from the replay's
/// value (hash and transaction indexes).
fn height_of(key: &[u8], replay: &dyn Store) -> Option<u64> {
    if let Some(h) = key.strip_prefix(keys::BLOCK) {
        return Some(u64::from_be_bytes(h.try_into().ok()?));
    }
    if key.starts_with(keys::RECEIPT) {
        return keys::parse_receipt(key).ok().map(|(h, _)| h);
    }
    let v = replay.get(key).ok()??;
    if key.starts_with(keys::TX) {
        return keys::decode::<TxLocation>(&v, "transaction location", key)
            .ok()
            .map(|l| l.height);
    }
    if key.starts_with(keys::BLOCK_HASH) {
        return Some(u64::from_be_bytes(v.as_slice().try_into().ok()?));
    }
    None
}

/// The first key under `prefix` where two stores differ, and how.
fn first_difference(
    a: &dyn Store,
    b: &dyn Store,
    prefix: &[u8],
) -> Result<Option<(Vec<u8>, &'static str)>> {
    const PAGE: usize = 1024;
    let (mut ca, mut cb): (Option<Vec<u8>>, Option<Vec<u8>>) = (None, None);
    loop {
        let pa = a.scan(prefix, ca.as_deref(), PAGE)?;
        let pb = b.scan(prefix, cb.as_deref(), PAGE)?;
        for i in 0..pa.len().max(pb.len()) {
            match (pa.get(i), pb.get(i)) {
                (Some((ka, va)), Some((kb, vb))) => {
                    if ka != kb {
                        return Ok(Some((ka.min(kb).clone(), "present on one side only")));
                    }
                    if va != vb {
                        return Ok(Some((ka.clone(), "changed")));
                    }
                }
                (Some((k, _)), None) => {
                    return Ok(Some((
                        k.clone(),
                        "in the data directory but not in the replay",
                    )))
                }
                (None, Some((k, _))) => {
                    return Ok(Some((k.clone(), "missing from the data directory")))
                }
                (None, None) => {}
            }
        }
        if pa.len() < PAGE && pb.len() < PAGE {
            return Ok(None);
        }
        ca = pa.last().map(|(k, _)| k.clone());
        cb = pb.last().map(|(k, _)| k.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of 6 blocks of 50 transactions by 7 signers, the signature of transaction 10 of
    /// block 4 broken; its genesis and keys in a directory removed when the test ends, failed
    /// or not.
    fn chain() -> (GenesisDoc, Vec<StoredBlock>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let (doc, mut blocks) =
            crate::bench::replay::synthetic_chain(dir.path(), 300, 50, 7).unwrap();
        blocks[3].txs[10].signature[5] ^= 1;
        (doc, blocks, dir)
    }

    #[test]
    fn signatures_checked_on_several_threads_come_back_with_their_own_block() {
        let (doc, blocks, _dir) = chain();
        for threads in [1, 3] {
            let items: Vec<_> =
                Prefetch::new(blocks.clone().into_iter().map(Ok), &doc.chain_id, threads).collect();
            assert_eq!(items.len(), blocks.len());
            for (i, ((b, checked), original)) in items.into_iter().zip(&blocks).enumerate() {
                let b = b.unwrap();
                assert_eq!(b.header.height, original.header.height);
                let ids: Vec<Hash> = b
                    .txs
                    .iter()
                    .filter_map(|t| check_stateless_batch(vec![t.clone()], &doc.chain_id).pop())
                    .filter_map(|r| r.ok())
                    .map(|c| c.id)
                    .collect();
                // Every good signature of this block, none of another's, the broken one absent.
                assert_eq!(
                    checked.len(),
                    if i == 3 { 49 } else { 50 },
                    "{threads} threads, block {i}"
                );
                assert!(
                    ids.iter().all(|id| checked.contains_key(id)),
                    "{threads} threads, block {i}"
                );
            }
        }
    }

    #[test]
    fn a_broken_signature_is_found_at_its_height_whatever_the_threads() {
        let (doc, blocks, _dir) = chain();
        for threads in [1, 2, 4] {
            let report = verify_on(
                threads,
                &doc,
                blocks.clone().into_iter().map(Ok),
                None,
                None,
                false,
            )
            .unwrap();
            let f = report.failure.expect("the broken signature was not found");
            assert_eq!(
                f.height, blocks[3].header.height,
                "{threads} threads: {f:?}"
            );
            assert_eq!(report.blocks, 3, "{threads} threads");
        }
        let good = verify_on(
            3,
            &doc,
            blocks[..3].iter().cloned().map(Ok),
            None,
            None,
            false,
        )
        .unwrap();
        assert!(good.failure.is_none(), "{:?}", good.failure);
        assert_eq!(good.transactions, 150);
    }
}
