//! `yui keys`: generate a key file, show a key file's public key.

use crate::setup::keys;
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

/// Manage ed25519 keys.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Generate a key into FILE (secret, mode 0600) and FILE.pub; print the public key.
    Generate {
        /// Where to write the secret key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public key of a key file.
    Show {
        /// The key file.
        key: PathBuf,
    },
}

/// Run it.
pub fn run(cmd: Command) -> Result<ExitCode> {
    let key = match cmd {
        Command::Generate { out } => keys::generate(&out)?,
        Command::Show { key } => keys::load(&key)?,
    };
    println!("{}", hex::encode(key.verifying_key().to_bytes()));
    Ok(ExitCode::SUCCESS)
}
