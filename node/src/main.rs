//! The `yui` binary: the command line's types and the dispatch to `yui_node::cli`, on one
//! tokio runtime. Nothing else lives here.

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use yui_node::cli;

// glibc's malloc was about a sixth of a node's time under load (many small, short-lived
// allocations across threads, docs/adr/0009). jemalloc, without transparent huge pages and with
// a background thread that returns freed pages (options compiled in from `.cargo/config.toml`),
// keeps resident memory level over hours where mimalloc's kept creeping up (docs/adr/0024).
// The `system-alloc` feature keeps the system allocator instead, for heap profilers that see
// only malloc (heaptrack).
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Yui: the ledger municipalities run together.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage ed25519 keys.
    Keys {
        #[command(subcommand)]
        command: cli::keys::Command,
    },
    /// Create a genesis file.
    Genesis {
        #[command(subcommand)]
        command: cli::genesis::Command,
    },
    /// Run a node from its config file.
    Run(cli::run::Args),
    /// Write the chain (blocks with their commit certificates) to one file.
    Export(cli::export::Args),
    /// Replay and verify a chain from genesis: hash links, commit certificates, signatures,
    /// Merkle roots and state roots. Exits non-zero on the first failure.
    Verify(cli::verify::Args),
    /// Read and decode every stored byte of a stopped node's data directory; exits non-zero
    /// at the first bad key, named with its height.
    Check(cli::check::Args),
    /// Consortium governance: list members and proposals, propose a member's joining or
    /// leaving, approve a proposal.
    Gov {
        #[command(subcommand)]
        command: cli::gov::Command,
    },
    /// Vault backups: a recovery key to keep offline, encrypted backups, restore.
    Vault {
        #[command(subcommand)]
        command: cli::vault::Command,
    },
    /// Inclusion proofs of transactions and events.
    Proof {
        #[command(subcommand)]
        command: cli::proof::Command,
    },
    /// Volunteer certificates: fetch the proof a volunteer carries, verify one.
    Certificate {
        #[command(subcommand)]
        command: cli::certificate::Command,
    },
    /// Benchmarks that print figures for this machine.
    Bench {
        #[command(subcommand)]
        command: cli::bench::Command,
    },
    /// Print documentation generated from the code.
    Docs {
        #[command(subcommand)]
        command: cli::docs::Command,
    },
    /// Start a local network on 127.0.0.1 and print its endpoints. Ctrl-C stops it.
    Devnet(cli::devnet::Args),
}

async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Keys { command } => cli::keys::run(command),
        Command::Genesis { command } => cli::genesis::run(command),
        Command::Run(args) => cli::run::run(args).await,
        Command::Export(args) => cli::export::run(args).await,
        Command::Verify(args) => cli::verify::run(args),
        Command::Check(args) => cli::check::run(args),
        Command::Gov { command } => cli::gov::run(command).await,
        Command::Vault { command } => cli::vault::run(command).await,
        Command::Proof { command } => cli::proof::run(command).await,
        Command::Certificate { command } => cli::certificate::run(command).await,
        Command::Bench { command } => cli::bench::run(command).await,
        Command::Docs { command } => cli::docs::run(command),
        Command::Devnet(args) => {
            cli::init_logging(yui_node::setup::config::LogFormat::Text)?;
            cli::devnet::run(args).await
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:?}");
            ExitCode::FAILURE
        }
    }
}
