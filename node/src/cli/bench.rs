//! `yui bench`: benchmarks that print figures for this machine.

use crate::bench::{contract, network, replay};
use anyhow::Result;
use std::process::ExitCode;

/// Benchmarks that print figures for this machine.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Load benchmark of a real local network (separate validator processes).
    Network {
        /// Validators.
        #[arg(long, default_value_t = 4)]
        validators: u32,
        /// Measured seconds.
        #[arg(long, default_value_t = 20)]
        duration: u64,
        /// Warm-up seconds.
        #[arg(long, default_value_t = 5)]
        warmup: u64,
        /// Concurrent clients.
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Open loop at this many offered transactions per second (default: closed loop).
        #[arg(long)]
        rate: Option<u64>,
        /// Closed loop: unconfirmed transactions allowed per client.
        #[arg(long, default_value_t = 200)]
        window: usize,
        /// What the clients submit: relief pledges (each client a donor) or governance grants.
        #[arg(long, value_enum, default_value = "relief")]
        workload: network::LoadWorkload,
        /// Transactions per call: 1 uses `SubmitTransaction`, more use `SubmitTransactions`
        /// (at most 1,000).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
        batch: u16,
        /// Stop this many validators once the network is up (a degraded network: latency
        /// with a validator down).
        #[arg(long, default_value_t = 0)]
        down: usize,
        /// Print committed tx/s, p99 latency and each node's resident memory every this many
        /// seconds, and their drift at the end (soak runs; `scripts/soak`). 0: summary only.
        #[arg(long, default_value_t = 0)]
        report_every: u64,
    },
    /// Contract execution alone (no signatures, network or consensus), in memory and on disk.
    Contract {
        /// Measured calls per workload.
        #[arg(long, default_value_t = 100_000)]
        calls: usize,
        /// Calls per block (one store batch and flush per block on disk).
        #[arg(long, default_value_t = 1_000)]
        per_block: usize,
        /// Workloads to run (by default all).
        #[arg(long, value_enum)]
        workload: Vec<contract::ContractWorkload>,
    },
    /// Replay speed of `yui verify` (one thread) against the machine's signature rate.
    Replay {
        /// Transactions in the synthetic chain.
        #[arg(long, default_value_t = 100_000)]
        txs: usize,
        /// Transactions per block.
        #[arg(long, default_value_t = 2_000)]
        per_block: usize,
        /// Distinct signers, taking turns (1 to 100,000). A batch that repeats a key verifies
        /// faster than one of distinct keys, so the default repeats none within a block of up
        /// to 10,000 transactions, as on a chain of many residents.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        signers: u32,
    },
}

/// Run it.
pub async fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Replay {
            txs,
            per_block,
            signers,
        } => replay::replay(txs, per_block, signers)?,
        Command::Contract {
            calls,
            per_block,
            workload,
        } => contract::run(calls, per_block, &workload)?,
        Command::Network {
            validators,
            duration,
            warmup,
            clients,
            rate,
            window,
            workload,
            batch,
            down,
            report_every,
        } => {
            network::run(network::BenchOptions {
                validators,
                duration_s: duration,
                warmup_s: warmup,
                clients,
                rate,
                window,
                workload,
                batch: usize::from(batch),
                down,
                report_every_s: report_every,
            })
            .await?
        }
    }
    Ok(ExitCode::SUCCESS)
}
