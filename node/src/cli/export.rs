//! `yui export`: write a chain to one export file, from a stopped node's data directory or a
//! running node over gRPC, one block at a time.

use crate::audit::export::{self, ExportHeader, ExportWriter};
use crate::chain::convert::block_from_proto;
use anyhow::{anyhow, bail, Context as _, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use yui_proto::v1 as pb;

/// Write the chain (blocks with their commit certificates) to one file.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Read a stopped node's data directory.
    #[arg(long, conflicts_with = "endpoint")]
    data_dir: Option<PathBuf>,
    /// Read a running node over gRPC, e.g. http://127.0.0.1:50051.
    #[arg(long)]
    endpoint: Option<String>,
    /// The export file to write.
    #[arg(long)]
    out: PathBuf,
}

/// Largest block message accepted from a node (a block is at most `max_block_bytes` of
/// transactions, 8 MiB by default, plus its header and certificate).
const MAX_BLOCK_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Run it.
pub async fn run(args: Args) -> Result<ExitCode> {
    let n = match (args.data_dir, args.endpoint) {
        (Some(dir), None) => export::export_data_dir(&dir, &args.out)?,
        (None, Some(endpoint)) => from_node(&endpoint, &args.out).await?,
        _ => bail!("give either --data-dir or --endpoint"),
    };
    println!("exported {n} blocks to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

/// Export blocks 1..=the node's height at the start, asking for one block at a time.
async fn from_node(endpoint: &str, out: &Path) -> Result<u64> {
    let mut c =
        pb::ledger_client::LedgerClient::new(crate::setup::certs::from_env(endpoint).await?)
            .max_decoding_message_size(MAX_BLOCK_MESSAGE_BYTES);
    let info = c
        .get_chain_info(pb::GetChainInfoRequest {})
        .await?
        .into_inner();
    let genesis_hash = yui_consensus::Hash::from_slice(&info.genesis_hash)
        .ok_or_else(|| anyhow!("the node's genesis hash is not 32 bytes"))?;
    let mut w = ExportWriter::create(
        out,
        &ExportHeader {
            chain_id: info.chain_id,
            genesis_hash,
            count: info.height,
        },
    )?;
    for h in 1..=info.height {
        let b = c
            .get_block(pb::GetBlockRequest {
                by: Some(pb::get_block_request::By::Height(h)),
            })
            .await
            .with_context(|| format!("cannot read block {h}"))?
            .into_inner()
            .block
            .ok_or_else(|| anyhow!("the node returned no block {h}"))?;
        let block =
            block_from_proto(b).with_context(|| format!("the node's block {h} is malformed"))?;
        w.push(&block)?;
    }
    w.finish()
}
