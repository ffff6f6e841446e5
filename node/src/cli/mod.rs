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

/// Install the log subscriber: `YUI_LOG` filters (default `info` when unset or empty), lines go
/// to stderr, with colours only when stderr is a terminal. A `YUI_LOG` that is not a valid
/// filter is an error: a node must not start logging less (or more) than its operator asked.
pub fn init_logging(format: LogFormat) -> Result<()> {
    let spec = std::env::var("YUI_LOG").ok();
    let filter = log_filter(spec.as_deref())?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    // A bare word is a target to log at every level, which is rarely what a misspelt level
    // meant: say so once the subscriber can.
    for word in bare_targets(spec.as_deref()) {
        tracing::warn!(
            directive = %word,
            "YUI_LOG names the target {word:?} without a level, so only that target logs (at every level); a level is one of error, warn, info, debug, trace"
        );
    }
    Ok(())
}

/// The directives of `spec` that are a bare word and not a level.
fn bare_targets(spec: Option<&str>) -> Vec<String> {
    spec.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty() && !d.contains(['=', '[']))
        .filter(|d| {
            d.parse::<tracing_subscriber::filter::LevelFilter>()
                .is_err()
        })
        .map(str::to_string)
        .collect()
}

/// Wait for Ctrl-C or SIGTERM; which of them came.
pub async fn stop_requested() -> Result<&'static str> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.map(|()| "Ctrl-C").map_err(Into::into),
        _ = term.recv() => Ok("SIGTERM"),
    }
}

/// The log filter `YUI_LOG` names (`info` when unset or empty).
fn log_filter(spec: Option<&str>) -> Result<tracing_subscriber::EnvFilter> {
    match spec.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(tracing_subscriber::EnvFilter::new("info")),
        Some(s) => tracing_subscriber::EnvFilter::try_new(s).with_context(|| {
            format!(
                "YUI_LOG={s:?} is not a log filter; use a level (error, warn, info, debug, \
                 trace) or directives such as \"info,yui_node::runtime::p2p=debug\""
            )
        }),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yui_log_is_checked() {
        assert!(log_filter(None).is_ok());
        assert!(log_filter(Some("  ")).is_ok());
        assert!(log_filter(Some("warn,yui_node::runtime::p2p=debug")).is_ok());
        let e = log_filter(Some("info,libp2p=loud")).unwrap_err();
        assert!(format!("{e:#}").contains("is not a log filter"), "{e:#}");
        assert!(log_filter(Some("[")).is_err());
        assert_eq!(bare_targets(Some("debgu, warn,libp2p=debug")), ["debgu"]);
        assert!(bare_targets(Some("INFO,off")).is_empty());
        assert!(bare_targets(None).is_empty());
    }
}
