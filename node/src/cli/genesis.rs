//! `yui genesis init`: a genesis file from a network description.

use crate::runtime::driver::now_ms;
use crate::setup::localnet::write_json;
use crate::setup::network;
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

/// Create a genesis file.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Build a genesis file from a network description (TOML), generating missing keys.
    Init {
        /// The network description (see genesis/README.md).
        #[arg(long)]
        network: PathBuf,
        /// Where keys are read from or generated into.
        #[arg(long)]
        keys_dir: PathBuf,
        /// The genesis file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Run it.
pub fn run(cmd: Command) -> Result<ExitCode> {
    let Command::Init {
        network: desc,
        keys_dir,
        out,
    } = cmd;
    let desc = network::load(&desc)?;
    let doc = network::genesis_from(&desc, &keys_dir, now_ms())?;
    write_json(&out, &doc)?;
    println!("wrote {} (genesis hash {})", out.display(), doc.hash()?);
    Ok(ExitCode::SUCCESS)
}
