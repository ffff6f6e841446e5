//! `yui verify`: replay a chain from genesis and report, for a person and (with `--json`) for
//! a program. Exits non-zero when the chain fails verification.

use crate::audit::{export, verify};
use crate::setup::genesis::GenesisDoc;
use anyhow::{bail, Result};
use std::path::PathBuf;
use std::process::ExitCode;

/// Replay and verify a chain from genesis: hash links, commit certificates, signatures,
/// Merkle roots and state roots. Exits non-zero on the first failure.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The network's genesis file.
    #[arg(long)]
    genesis: PathBuf,
    /// An export file.
    #[arg(long, conflicts_with = "data_dir")]
    export: Option<PathBuf>,
    /// A stopped node's data directory (its stored state is compared with the replay too).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Also write the report as JSON to this file ("-" for standard output).
    #[arg(long)]
    json: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// Run it.
pub fn run(args: Args) -> Result<ExitCode> {
    let g = GenesisDoc::load(&args.genesis)?;
    let progress = !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let report = match (args.export, args.data_dir) {
        (Some(file), None) => {
            let (header, blocks) = export::read_export(&file)?;
            if header.genesis_hash != g.hash()? {
                bail!(
                    "the export is of another network (genesis {} there, {} in the genesis file)",
                    header.genesis_hash,
                    g.hash()?
                );
            }
            verify::verify(&g, blocks, Some(header.count), None, progress)?
        }
        (None, Some(dir)) => {
            let store = export::open_data_dir(&dir)?;
            let (tip, blocks) = export::store_blocks(store.clone())?;
            verify::verify(&g, blocks, Some(tip), Some(store), progress)?
        }
        _ => bail!("give either --export or --data-dir"),
    };
    super::print_report(
        &report.human(),
        &report,
        args.json.as_deref(),
        report.failure.is_some(),
    )
}
