//! The `yui` subcommands, one file each. `main.rs` holds the clap types of the top level and
//! dispatches here on one tokio runtime; each subcommand owns its arguments and returns the
//! process's exit code (failure for a verification that fails, success otherwise), or an
//! error that `main` prints.
//!
//! A subcommand assembles the node's pieces and talks to the person at the terminal; the
//! logic it calls lives in the concern folders, never here.

pub mod bench;
pub mod certificate;
pub mod check;
pub mod devnet;
pub mod docs;
pub mod export;
pub mod genesis;
pub mod gov;
pub mod keys;
pub mod proof;
pub mod run;
pub mod vault;
pub mod verify;

use crate::setup::config::LogFormat;
use crate::setup::genesis::{FaultModelName, GenesisDoc, GenesisValidator};
use anyhow::{bail, Context as _, Result};
use std::path::PathBuf;

/// Install the log subscriber: `YUI_LOG` filters (default `info`), lines go to stderr, with
/// colours only when stderr is a terminal.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("YUI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// A `PersonalData` request carrying a fresh auth token of `key` for `method`.
pub fn authed<T>(
    key: &ed25519_dalek::SigningKey,
    method: &str,
    message: T,
) -> Result<tonic::Request<T>> {
    let mut req = tonic::Request::new(message);
    let token = yui_client::auth::auth_header(key, method, crate::runtime::driver::now_ms());
    req.metadata_mut()
        .insert(yui_client::auth::AUTH_HEADER, token.parse()?);
    Ok(req)
}

/// Print an auditor's report for a person, and as JSON to `json` ("-" for standard output)
/// when asked; the exit code says whether it `failed`.
pub fn print_report<T: serde::Serialize>(
    human: &str,
    report: &T,
    json: Option<&std::path::Path>,
    failed: bool,
) -> Result<std::process::ExitCode> {
    print!("{human}");
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(report)? + "\n";
        if path.as_os_str() == "-" {
            print!("{text}");
        } else {
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    })
}

/// Where the validator set to trust comes from.
#[derive(clap::Args, Debug, Clone)]
pub struct TrustArgs {
    /// Trust the validator set of this genesis file.
    #[arg(long, conflicts_with = "validators")]
    pub genesis: Option<PathBuf>,
    /// Trust this validator set: a JSON object {"fault_model": "byzantine", "validators": [...]}
    /// with validators as in genesis.
    #[arg(long)]
    pub validators: Option<PathBuf>,
}

#[derive(serde::Deserialize)]
struct TrustedSet {
    fault_model: FaultModelName,
    validators: Vec<GenesisValidator>,
}

impl TrustArgs {
    /// The validator set to trust.
    pub fn validator_set(&self) -> Result<yui_consensus::ValidatorSet> {
        match (&self.genesis, &self.validators) {
            (Some(g), None) => GenesisDoc::load(g)?.validator_set(),
            (None, Some(v)) => {
                let text = std::fs::read_to_string(v)
                    .with_context(|| format!("cannot read {}", v.display()))?;
                let t: TrustedSet =
                    serde_json::from_str(&text).context("the validator set file is not valid")?;
                let records = t
                    .validators
                    .iter()
                    .map(|v| {
                        Ok(yui_contracts::governance::ValidatorRecord {
                            organization: v.organization.clone(),
                            name: v.name.clone(),
                            public_key: crate::setup::genesis::parse_key(&v.public_key)?,
                            power: v.power,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                crate::setup::genesis::records_to_set(&records, t.fault_model.model())
            }
            _ => bail!("give --genesis or --validators"),
        }
    }
}
