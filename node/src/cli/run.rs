//! `yui run`: one node from its config file. Assembles the pieces in order — chain store and
//! chain, mempool, p2p network, consensus driver, personal-data vault, gRPC API — runs them
//! until SIGTERM or Ctrl-C, and stops them in reverse. When consensus stops on a local fault
//! (a store write, flush or WAL append failed) the node logs one ERROR and exits with status
//! [`EXIT_FAULT`] (crash-only: its supervisor restarts it).

use crate::admission::mempool::Mempool;
use crate::api::{self, ledger::LedgerApi, personal_data};
use crate::chain::{keys as chain_keys, Chain};
use crate::runtime::{driver, p2p, telemetry};
use crate::setup::config::{LogFormat, NodeConfig};
use crate::setup::genesis::GenesisDoc;
use crate::setup::keys;
use crate::storage::FjallStore;
use crate::vault::Vault;
use anyhow::{bail, Context as _, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

/// Run a node from its config file.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The node's TOML config.
    #[arg(long)]
    config: PathBuf,
    /// Override `grpc_listen`.
    #[arg(long)]
    grpc_listen: Option<std::net::SocketAddr>,
    /// Override `log_format`.
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
}

/// Inbound p2p messages queued for the driver before the network task waits.
const INBOUND_QUEUE: usize = 8192;

/// Run it.
pub async fn run(args: Args) -> Result<ExitCode> {
    let mut cfg = NodeConfig::load(&args.config)?;
    if let Some(a) = args.grpc_listen {
        cfg.grpc_listen = a;
    }
    if let Some(f) = args.log_format {
        cfg.log_format = f;
    }
    super::init_logging(cfg.log_format)?;
    Ok(match run_node(cfg).await? {
        Outcome::Stopped => ExitCode::SUCCESS,
        Outcome::Fault => ExitCode::from(EXIT_FAULT),
        Outcome::Upgrade => ExitCode::from(EXIT_UPGRADE),
    })
}

async fn run_node(cfg: NodeConfig) -> Result<Outcome> {
    // Decided first: a node that may not serve its API as configured opens nothing.
    let transport = api::tls::transport(&cfg)?;
    let genesis = GenesisDoc::load(&cfg.genesis)?;
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data directory {}", cfg.data_dir.display()))?;
    // Locked and read-only directories each say so (StoreError); other failures name the store.
    let store = FjallStore::open(&cfg.data_dir.join("chain"), chain_keys::LAYOUT).map_err(|e| {
        anyhow::anyhow!(
            "cannot open the chain store in {}: {e}",
            cfg.data_dir.display()
        )
    })?;
    let chain = Chain::open(Arc::new(store), &genesis)?;
    let key = cfg.validator_key.as_deref().map(keys::load).transpose()?;
    if let Some(k) = &key {
        let set = chain.reader.validator_set(chain.tip().height + 1)?;
        let scheduled = chain
            .reader
            .network_keys(chain.tip().height)?
            .contains(&k.verifying_key().to_bytes());
        if !set.contains(&k.verifying_key().to_bytes()) && !scheduled {
            tracing::warn!(
                key = %hex::encode(k.verifying_key().to_bytes()),
                height = chain.tip().height,
                "the validator key is not in the validator set of the chain this node has; it signs only once it has synced a block that admits it (a membership or validator vote)"
            );
        }
    }
    let tip = chain.tip().clone();
    tracing::info!(chain_id = %genesis.chain_id, height = tip.height, hash = %tip.hash, "chain opened");
    let mempool = Arc::new(Mutex::new(Mempool::new(cfg.mempool)));
    let reader = chain.reader.clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if let Some(m) = cfg.metrics_listen {
        telemetry::install(m).with_context(|| format!("cannot serve metrics on {m}"))?;
        println!("metrics: http://{m}/metrics");
    }
    let net_key = match (&key, &cfg.node_key) {
        (_, Some(path)) => keys::load(path)?,
        (Some(k), None) => k.clone(),
        (None, None) => bail!("an observer needs `node_key` (listed in genesis observers); a validator needs `validator_key`"),
    };
    let allowed = genesis.network_keys()?;
    let solo = allowed.len() == 1;
    if !allowed.contains(&net_key.verifying_key().to_bytes())
        && !reader
            .network_keys(tip.height)?
            .contains(&net_key.verifying_key().to_bytes())
    {
        tracing::warn!(
            key = %hex::encode(net_key.verifying_key().to_bytes()),
            "this node's key is not in genesis nor in the chain this node has: peers accept it only if a committed vote admitted it"
        );
    }
    let p2p_listen = {
        let l = std::net::TcpListener::bind(cfg.p2p_listen)
            .with_context(|| format!("cannot listen for peers on {}", cfg.p2p_listen))?;
        l.local_addr()?
    };
    let (in_tx, in_rx) = tokio::sync::mpsc::channel(INBOUND_QUEUE);
    let (release_tx, mut release_rx) = tokio::sync::mpsc::channel::<p2p::ReleaseCall>(64);
    let (net_out, net_task) = p2p::spawn(
        p2p::NetConfig {
            keypair: p2p::keypair_of(&net_key)?,
            listen: p2p_listen,
            peers: cfg.peers.clone(),
            allowed,
            observers: genesis.observer_keys()?,
            chain_id: genesis.chain_id.clone(),
        },
        reader.clone(),
        mempool.clone(),
        in_tx,
        release_tx,
        stop_rx.clone(),
    )?;
    let net_for_vault = net_out.clone();
    let (driver, shared) = driver::Driver::new(
        chain,
        key,
        genesis.consensus.clone(),
        &cfg.data_dir,
        mempool,
        Some(driver::NetLink {
            out: net_out,
            inbound: in_rx,
            solo,
        }),
    )?;
    let listener = std::net::TcpListener::bind(cfg.grpc_listen)
        .with_context(|| format!("cannot listen on {}", cfg.grpc_listen))?;
    let addr = listener.local_addr()?;
    drop(listener);
    let api = LedgerApi {
        chain: reader,
        shared,
        read_only: cfg.validator_key.is_none(),
    };
    // The personal-data vault: a store separate from the ledger, never gossiped.
    let vault = Vault::open(&cfg.data_dir.join("vault"))
        .map_err(|e| anyhow::anyhow!("cannot open the personal-data vault: {e}"))?;
    let personal_data = personal_data::PersonalDataApi::new(
        vault,
        Arc::new(personal_data::LedgerAccounts(api.chain.clone())),
    )
    .with_network(net_for_vault);
    // Release requests peers relay for records this node holds.
    let releases = personal_data.clone();
    tokio::spawn(async move {
        while let Some(call) = release_rx.recv().await {
            let pd = releases.clone();
            tokio::spawn(async move {
                let answer = pd.serve_release(call.request).await;
                let _ = call.reply.send(answer);
            });
        }
    });
    let scheme = transport.scheme();
    let tls_note = match &transport {
        api::tls::Transport::Tls { mutual: true, .. } => ", TLS with client certificates",
        api::tls::Transport::Tls { .. } => ", TLS",
        api::tls::Transport::Plaintext => "",
    };
    let server = tokio::spawn(api::serve(
        addr,
        transport,
        api,
        Some(personal_data),
        stop_rx.clone(),
    ));
    println!(
        "yui node ready: gRPC {scheme}://{addr} (chain {}, height {}{tls_note})",
        genesis.chain_id, tip.height
    );
    let mut driver_task = tokio::spawn(driver.run(stop_rx));
    let fault = tokio::select! {
        r = super::stop_requested() => { tracing::info!("stopping on {}", r?); None }
        r = &mut driver_task => Some(match r {
            Ok(Ok(())) => anyhow::anyhow!("the consensus driver ended by itself"),
            Ok(Err(e)) => e,
            Err(e) => anyhow::anyhow!("the consensus driver panicked: {e}"),
        }),
    };
    // Every receiver may be gone already (a task that ended); nothing is left to tell then.
    let _ = stop_tx.send(true);
    if let Some(up) = fault
        .as_ref()
        .and_then(|e| e.downcast_ref::<crate::chain::params::UpgradeRequired>())
    {
        // Not a fault: the consortium moved on to rules this build does not know.
        tracing::error!(
            version = up.version,
            height = up.height,
            "stopping before height {}: {up}",
            up.height
        );
        let _ = server.await;
        let _ = net_task.await;
        return Ok(Outcome::Upgrade);
    }
    if let Some(e) = fault {
        // Fail stop: one line that says what failed and what to do, then a non-zero exit for
        // the supervisor. Nothing acknowledged is lost: a commit is reported only after its
        // flush, and the restarted node catches up from its peers.
        tracing::error!(
            "consensus stopped on this node: {e:#}. The node exits; its supervisor should restart it, and it catches up from its peers. If the disk is full or read-only, free space or fix the mount first"
        );
        let _ = server.await;
        let _ = net_task.await;
        return Ok(Outcome::Fault);
    }
    driver_task.await??;
    server.await??;
    let _ = net_task.await;
    Ok(Outcome::Stopped)
}

/// How a node run ended.
enum Outcome {
    /// Stopped on request (SIGTERM, Ctrl-C).
    Stopped,
    /// Consensus stopped on a local fault.
    Fault,
    /// Stopped before a protocol version this build does not know.
    Upgrade,
}

/// The exit status of a node whose consensus stopped on a local fault (a supervisor restarts
/// it; 1 is left to errors at start).
pub const EXIT_FAULT: u8 = 2;

/// The exit status of a node that stopped before a protocol version its build does not know:
/// restarting the same binary cannot help (`deploy/yui.service` does not), installing a
/// release that supports the version does.
pub const EXIT_UPGRADE: u8 = 3;
