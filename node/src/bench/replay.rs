//! `yui bench replay`: how fast `yui verify` replays a chain on this machine, next to the
//! machine's own single-core ed25519 verification rate (the physical reference). Builds a
//! synthetic chain of signed governance transactions in memory, writes it as an export file,
//! and times the verification of that file (re-execution on one thread, signatures checked in
//! batches on the other cores). The transactions' signers take turns, so a batch holds distinct keys
//! as on a real chain (one signer's batch is cheaper: its key's terms are shared).

use crate::audit::{export, verify};
use crate::bench::common::{batch_sig_rate, sig_rate, tempfile_dir};
use crate::chain::tx::check_stateless;
use crate::chain::{Chain, StoredBlock};
use crate::setup::genesis::GenesisDoc;
use crate::setup::network;
use crate::storage::{MemStore, Store};
use anyhow::Result;
use std::sync::Arc;
use std::time::Instant;
use yui_client::tx::RawTx;
use yui_consensus::{CommitCertificate, VoteData, VoteType};

/// Build `txs` transactions in blocks of `per_block`, signed in turn by `signers` admins, then
/// time their verification.
pub fn replay(txs: usize, per_block: usize, signers: u32) -> Result<()> {
    let dir = tempfile_dir()?;
    eprintln!("building a chain of {txs} transactions signed by {signers} accounts ...");
    let (doc, blocks) = synthetic_chain(&dir, txs, per_block, signers)?;
    let file = dir.join("bench.yexp");
    let header = export::ExportHeader {
        chain_id: doc.chain_id.clone(),
        genesis_hash: doc.hash()?,
        count: blocks.len() as u64,
    };
    export::write_export(&file, &header, blocks.into_iter().map(Ok))?;
    let sig = sig_rate(20_000);
    let batch_sig = batch_sig_rate(20_000);
    let mut rates = Vec::new();
    for run in 0..3 {
        let (h, blocks) = export::read_export(&file)?;
        let t = Instant::now();
        let report = verify::verify(&doc, blocks, Some(h.count), None, false)?;
        let secs = t.elapsed().as_secs_f64();
        if let Some(f) = report.failure {
            anyhow::bail!("benchmark chain failed to verify: {f:?}");
        }
        let rate = report.transactions as f64 / secs;
        eprintln!(
            "run {}: {} transactions in {secs:.2} s",
            run + 1,
            report.transactions
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    let threads = verify::signature_threads();
    println!("replay (yui verify, re-execution on one thread, signatures on {threads} more): {median:.0} transactions/s (median of 3, {txs} txs, {per_block} per block, {signers} signers in turn)");
    println!("single-core ed25519 (ZIP 215): {sig:.0} signatures/s one by one, {batch_sig:.0}/s in batches of 64 (median of 5)");
    println!(
        "ratio replay / batch signature rate: {:.2}",
        median / batch_sig
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A committed chain of `txs` governance grants in blocks of `per_block`, signed in turn by
/// `signers` admins of one organization with one validator; its genesis and keys are written to
/// `dir`. For the benchmark and for tests of verification.
pub(crate) fn synthetic_chain(
    dir: &std::path::Path,
    txs: usize,
    per_block: usize,
    signers: u32,
) -> Result<(GenesisDoc, Vec<StoredBlock>)> {
    let desc: network::NetworkDesc = toml::from_str(&format!(
        "chain_id = \"bench\"\nfault_model = \"byzantine\"\nmax_expiry_blocks = 100000\n[[organizations]]\nid = \"tama\"\nname = \"Tama\"\nvalidators = 1\nadmins = {signers}\n",
    ))?;
    let doc = network::genesis_from(&desc, dir, 1_000)?;
    let validator = crate::setup::keys::load(&dir.join("tama-validator-1.key"))?;
    let admins = (1..=signers)
        .map(|n| crate::setup::keys::load(&dir.join(format!("tama-admin-{n}.key"))))
        .collect::<Result<Vec<_>>>()?;
    let store: Arc<dyn Store> = Arc::new(MemStore::default());
    let mut chain = Chain::open(store, &doc)?;
    let mut blocks = Vec::new();
    let mut made = 0usize;
    while made < txs {
        let h = chain.tip().height + 1;
        let n = per_block.min(txs - made);
        let batch = (0..n)
            .map(|i| {
                let k = made + i;
                let admin = &admins[k % admins.len()];
                let t = crate::bench::common::grant_tx(admin, &doc.chain_id, h + 10, 0, k as u64);
                check_stateless(RawTx::from_proto(t), &doc.chain_id)
                    .map_err(|e| anyhow::anyhow!("{e}"))
            })
            .collect::<Result<Vec<_>>>()?;
        made += n;
        let ex = chain
            .execute(
                chain.tip().time_ms + 1000,
                validator.verifying_key().to_bytes(),
                batch,
                true,
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let hash = ex.header.hash();
        let me = validator.verifying_key().to_bytes();
        let vote = VoteData {
            chain_id: doc.chain_id.clone(),
            vote_type: VoteType::Precommit,
            height: h,
            round: 0,
            block_hash: Some(hash),
            validator: me,
        }
        .sign(&validator);
        let cert = CommitCertificate {
            height: h,
            round: 0,
            block_hash: hash,
            signatures: vec![(me, vote.signature)],
        };
        blocks.push(StoredBlock {
            header: ex.header.clone(),
            txs: ex.raw_txs(),
            cert: cert.clone(),
        });
        chain.commit(&ex, cert)?;
    }
    Ok((doc, blocks))
}
