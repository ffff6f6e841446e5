//! `yui check`: read and decode every stored byte of a stopped node's data directory; exit 1
//! at the first bad key, which it names with its height.

use crate::audit::{check, export};
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

/// Read every stored byte of a data directory and report the first bad key.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A stopped node's data directory.
    #[arg(long)]
    data_dir: PathBuf,
    /// Also write the report as JSON to this file ("-" for standard output).
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Run it.
pub fn run(args: Args) -> Result<ExitCode> {
    let store = export::open_data_dir(&args.data_dir)?;
    let report = check::deep_check(store.as_ref())?;
    super::print_report(
        &report.human(),
        &report,
        args.json.as_deref(),
        report.failure.is_some(),
    )
}
