//! `yui devnet`: a local network of validators on 127.0.0.1, one municipality each, with its
//! endpoints printed; Ctrl-C or SIGTERM stops it and its nodes.

use crate::runtime::driver::now_ms;
use crate::setup::genesis::{ConsensusParams, FaultModelName};
use crate::setup::localnet::{LocalNet, Options};
use crate::setup::network::{NetworkDesc, OrgDesc};
use anyhow::{bail, Result};
use std::path::PathBuf;
use std::process::ExitCode;

/// Start a local network on 127.0.0.1 and print its endpoints. Ctrl-C stops it.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory for keys, genesis, configs and data (default: a new temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Number of validators (one municipality each).
    #[arg(long, default_value_t = 4)]
    validators: u32,
    /// Fault model.
    #[arg(long, value_enum, default_value = "byzantine")]
    fault_model: FaultModelName,
    /// First gRPC port (0 = pick free ports).
    #[arg(long, default_value_t = 0)]
    base_port: u16,
    /// Serve the gRPC APIs over TLS, with a CA and certificates made for this network in
    /// `DIR/tls/` (as a deployment on separate hosts must; see docs/security.md).
    #[arg(long)]
    tls: bool,
}

/// The municipalities of a devnet, in order.
const DEVNET_ORGS: [(&str, &str); 7] = [
    ("hachioji", "Hachioji City"),
    ("tama", "Tama City"),
    ("hino", "Hino City"),
    ("machida", "Machida City"),
    ("inagi", "Inagi City"),
    ("fuchu", "Fuchu City"),
    ("chofu", "Chofu City"),
];

/// Run it.
pub async fn run(args: Args) -> Result<ExitCode> {
    let n = args.validators as usize;
    if n == 0 || n > DEVNET_ORGS.len() {
        bail!("a devnet has 1 to {} validators", DEVNET_ORGS.len());
    }
    let dir = args
        .dir
        .unwrap_or_else(|| std::env::temp_dir().join(format!("yui-devnet-{}", now_ms())));
    let desc = NetworkDesc {
        chain_id: "yui-devnet".into(),
        fault_model: args.fault_model,
        max_expiry_blocks: 600,
        consensus: ConsensusParams::default(),
        parameters: Default::default(),
        organizations: DEVNET_ORGS[..n]
            .iter()
            .map(|(id, name)| OrgDesc {
                id: id.to_string(),
                name: name.to_string(),
                validators: 1,
                ..OrgDesc::default()
            })
            .collect(),
    };
    let opts = Options {
        metrics: true,
        base_port: (args.base_port != 0).then_some(args.base_port),
        mempool: None,
        tls: args.tls,
    };
    let mut net = LocalNet::create(&dir, &desc, now_ms(), &opts)?;
    println!(
        "Yui devnet: {n} validators, {:?} fault model, directory {}",
        args.fault_model,
        dir.display()
    );
    let exe = std::env::current_exe()?;
    for node in &mut net.nodes {
        node.spawn(&exe, &[])?;
        let metrics = node
            .config
            .metrics_listen
            .map(|m| format!("  metrics http://{m}/metrics"))
            .unwrap_or_default();
        println!(
            "  {}  gRPC {}  p2p {}{metrics}  log {}",
            node.name,
            node.endpoint,
            node.config.p2p_listen,
            node.log.display()
        );
    }
    println!(
        "Admin keys (org_admin + municipality_admin) are in {}.",
        dir.join("keys").display()
    );
    if let Some(first) = net.nodes.first() {
        let addr = first.config.grpc_listen;
        match &net.tls {
            Some(tls) => {
                let ca = tls.ca.display();
                println!("TLS: the nodes' certificates chain to the CA {ca} (for localhost and 127.0.0.1).");
                println!("  grpcurl -cacert {ca} {addr} yui.v1.Ledger/GetChainInfo");
                println!("  python: grpc.secure_channel(\"{addr}\", grpc.ssl_channel_credentials(open(\"{ca}\", \"rb\").read()))");
            }
            None => {
                println!("  grpcurl -plaintext {addr} yui.v1.Ledger/GetChainInfo");
                println!("  python: grpc.insecure_channel(\"{addr}\")");
            }
        }
    }
    println!("Press Ctrl-C to stop.");
    // SIGTERM too (a supervisor, `timeout`): the nodes must not outlive the command.
    let why = super::stop_requested().await?;
    println!("stopping the network ({why})");
    // SIGTERM lets each node flush and stop cleanly.
    net.stop_all();
    Ok(ExitCode::SUCCESS)
}
