//! `yui proof`: fetch an inclusion proof from a node, verify one offline.

use crate::cli::TrustArgs;
use anyhow::{anyhow, bail, Context as _, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use yui_proto::v1 as pb;

/// Inclusion proofs of transactions and events.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Fetch a proof from a node and write it to a file (protobuf `yui.v1.InclusionProof`).
    Get {
        /// The node, e.g. http://127.0.0.1:50051.
        #[arg(long)]
        endpoint: String,
        /// A transaction id (hex).
        #[arg(long, conflicts_with = "event")]
        tx: Option<String>,
        /// An event cursor, HEIGHT:INDEX.
        #[arg(long)]
        event: Option<String>,
        /// Where to write the proof.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a proof offline against the genesis validator set or a trusted validator set.
    Verify {
        /// The proof file.
        proof: PathBuf,
        /// The validator set to trust.
        #[command(flatten)]
        trust: TrustArgs,
    },
}

/// Run it.
pub async fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Get {
            endpoint,
            tx,
            event,
            out,
        } => {
            let target = match (tx, event) {
                (Some(t), None) => pb::get_proof_request::Target::TxId(
                    hex::decode(t.trim()).context("--tx must be hex")?,
                ),
                (None, Some(e)) => {
                    let (h, i) = e
                        .split_once(':')
                        .ok_or_else(|| anyhow!("--event is HEIGHT:INDEX"))?;
                    pb::get_proof_request::Target::Event(pb::Cursor {
                        height: h.parse().context("--event: the height is not a number")?,
                        index: i.parse().context("--event: the index is not a number")?,
                    })
                }
                _ => bail!("give --tx or --event"),
            };
            let mut c = pb::ledger_client::LedgerClient::new(
                crate::setup::certs::from_env(&endpoint).await?,
            );
            let proof = c
                .get_proof(pb::GetProofRequest {
                    target: Some(target),
                })
                .await?
                .into_inner();
            std::fs::write(&out, prost::Message::encode_to_vec(&proof))
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("wrote {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { proof, trust } => {
            let set = trust.validator_set()?;
            let bytes = std::fs::read(&proof)
                .with_context(|| format!("cannot read {}", proof.display()))?;
            match yui_client::proof::decode(&bytes)
                .and_then(|p| yui_client::proof::verify(&p, &set))
            {
                Ok(v) => {
                    println!(
                        "VALID: transaction {} is in block {} ({}), committed by a quorum of the trusted validators; call {}",
                        v.tx_id,
                        v.height,
                        v.block_hash,
                        if v.success { "succeeded" } else { "failed (recorded)" }
                    );
                    if let Some(e) = v.event {
                        println!("event: {e:?}");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("INVALID: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}
