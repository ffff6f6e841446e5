//! A multi-host test bed on one machine: every node in a Linux network namespace of its own,
//! joined by a bridge that lives in a namespace of its own too, and the test's clients in a
//! further namespace on that bridge — so nothing is added to the host's own network, and every
//! node serves its API on a non-loopback address, over TLS, as on separate hosts. Faults are
//! real: a link set down, routes blackholed between groups of nodes (a split), processes
//! killed. Everything the bed made is removed when it is dropped.
//!
//! It needs root (`ip netns`); where namespaces cannot be made, [`run`] says that the test is
//! skipped and why, and returns.

use crate::{load_key, test_consensus, yui_bin, Client};
use anyhow::{bail, Context as _, Result};
use ed25519_dalek::SigningKey;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use yui_node::setup::certs;
use yui_node::setup::config::NodeConfig;
use yui_node::setup::genesis::FaultModelName;
use yui_node::setup::localnet::{LocalNet, LocalNode, Options, READY_TIMEOUT};
use yui_node::setup::network::{NetworkDesc, OrgDesc};

/// The bed's subnet: node `i` is `10.77.0.(10+i)`, the clients `10.77.0.2`.
fn node_ip(i: usize) -> String {
    format!("10.77.0.{}", 10 + i)
}
const CLIENT_IP: &str = "10.77.0.2";
const GRPC_PORT: u16 = 50051;
const P2P_PORT: u16 = 26656;

/// One bed at a time per test binary: each runs several node processes on 2 cores.
static TURN: Mutex<()> = Mutex::new(());
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Run `ip` with `args`; an error names the command.
fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("cannot run ip (iproute2)")?;
    if !out.status.success() {
        bail!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The network namespaces and node processes of one bed.
pub struct Bed {
    /// The nodes, in order (dropped first: their processes are killed before the namespaces go).
    pub nodes: Vec<LocalNode>,
    /// The network directory (genesis, keys, certificates, node directories).
    pub dir: tempfile::TempDir,
    /// The chain id.
    pub chain_id: String,
    /// The admin account of the one organization.
    pub admin: SigningKey,
    /// The CA every node's certificate chains to.
    pub ca: PathBuf,
    prefix: String,
    namespaces: Vec<String>,
    blackholes: Vec<(usize, String)>,
}

impl Bed {
    fn ns(&self, i: usize) -> String {
        format!("{}n{i}", self.prefix)
    }

    /// Make the namespaces, the bridge and the links for `n` nodes and the clients.
    fn network(n: usize) -> Result<Bed> {
        let prefix = format!(
            "yui{}-{}-",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut bed = Bed {
            nodes: Vec::new(),
            dir: tempfile::Builder::new().prefix("yui-bed-").tempdir()?,
            chain_id: "yui-bed".into(),
            admin: SigningKey::from_bytes(&[0; 32]),
            ca: PathBuf::new(),
            prefix: prefix.clone(),
            namespaces: Vec::new(),
            blackholes: Vec::new(),
        };
        let switch = format!("{prefix}sw");
        ip(&["netns", "add", &switch])?;
        bed.namespaces.push(switch.clone());
        ip(&["-n", &switch, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &switch, "link", "set", "br0", "up"])?;
        let members: Vec<(String, String)> =
            std::iter::once((format!("{prefix}c"), CLIENT_IP.to_string()))
                .chain((0..n).map(|i| (bed.ns(i), node_ip(i))))
                .collect();
        for (k, (ns, addr)) in members.iter().enumerate() {
            ip(&["netns", "add", ns])?;
            bed.namespaces.push(ns.clone());
            let port = format!("p{k}");
            ip(&[
                "-n", &switch, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                "netns", ns,
            ])?;
            ip(&["-n", &switch, "link", "set", &port, "master", "br0", "up"])?;
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(bed)
    }

    /// Keys, genesis (one organization with `n` validators), certificates for each node's
    /// address, and each node's config: its API and p2p port on its own address, over TLS.
    fn nodes(mut self, n: usize) -> Result<Bed> {
        let desc = NetworkDesc {
            chain_id: self.chain_id.clone(),
            fault_model: FaultModelName::Byzantine,
            max_expiry_blocks: 100,
            consensus: test_consensus(),
            parameters: Default::default(),
            organizations: vec![OrgDesc {
                id: "tama".into(),
                name: "Tama City".into(),
                validators: u32::try_from(n)?,
                ..OrgDesc::default()
            }],
        };
        let mut local = LocalNet::create(
            self.dir.path(),
            &desc,
            yui_node::runtime::driver::now_ms(),
            &Options::default(),
        )?;
        self.admin = load_key(&local.key_path("tama-admin-1"))?;
        let names: Vec<(String, Vec<String>)> = local
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| (node.name.clone(), vec![node_ip(i)]))
            .collect();
        let tls = certs::make_ca(self.dir.path(), &names)?;
        self.ca = tls.ca.clone();
        let peers: Vec<std::net::SocketAddr> = (0..n)
            .map(|i| format!("{}:{P2P_PORT}", node_ip(i)).parse())
            .collect::<Result<_, _>>()?;
        for (i, node) in local.nodes.drain(..).enumerate() {
            let config = NodeConfig {
                grpc_listen: format!("{}:{GRPC_PORT}", node_ip(i)).parse()?,
                p2p_listen: peers[i],
                peers: peers
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, a)| *a)
                    .collect(),
                grpc_tls_cert: Some(tls.servers[i].cert.clone()),
                grpc_tls_key: Some(tls.servers[i].key.clone()),
                metrics_listen: None,
                ..node.config.clone()
            };
            let mut node = LocalNode::write(&node.name, &node.dir, config)?;
            node.launcher = ["ip", "netns", "exec"]
                .iter()
                .map(Into::into)
                .chain([self.ns(i).into()])
                .collect();
            self.nodes.push(node);
        }
        Ok(self)
    }

    /// Start node `i` (in its namespace) and wait until its API answers over TLS.
    pub async fn start(&mut self, i: usize) -> Result<()> {
        self.start_with(i, &[]).await
    }

    /// [`Bed::start`] with extra environment (for example libfaketime's).
    pub async fn start_with(&mut self, i: usize, env: &[(&str, &str)]) -> Result<()> {
        self.nodes[i].spawn(&yui_bin()?, env)?;
        self.nodes[i].wait_ready(READY_TIMEOUT).await
    }

    /// A Ledger client of node `i`.
    pub async fn client(&self, i: usize) -> Result<Client> {
        self.nodes[i].ledger().await
    }

    /// Set node `i`'s only link down (nothing in or out, its API unreachable too) or up.
    pub fn link(&self, i: usize, up: bool) -> Result<()> {
        ip(&[
            "-n",
            &self.ns(i),
            "link",
            "set",
            "eth0",
            if up { "up" } else { "down" },
        ])
    }

    /// Split the nodes into `groups`: no packet passes between nodes of different groups
    /// (blackhole routes on both sides); the clients still reach every node.
    pub fn split(&mut self, groups: &[&[usize]]) -> Result<()> {
        for (g, group) in groups.iter().enumerate() {
            for (h, other) in groups.iter().enumerate() {
                if g == h {
                    continue;
                }
                for &i in group.iter() {
                    for &j in other.iter() {
                        let route = format!("{}/32", node_ip(j));
                        ip(&["-n", &self.ns(i), "route", "add", "blackhole", &route])?;
                        self.blackholes.push((i, route));
                    }
                }
            }
        }
        Ok(())
    }

    /// Undo every split.
    pub fn heal(&mut self) -> Result<()> {
        for (i, route) in std::mem::take(&mut self.blackholes) {
            ip(&["-n", &self.ns(i), "route", "del", "blackhole", &route])?;
        }
        Ok(())
    }

    /// The network directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.kill();
        }
        self.nodes.clear();
        // Deleting a namespace deletes its links; the bridge goes with the switch's.
        for ns in self.namespaces.drain(..).rev() {
            if let Err(e) = ip(&["netns", "del", &ns]) {
                eprintln!("test bed cleanup: {e}");
            }
        }
    }
}

/// Why namespaces cannot be made here, if they cannot.
fn unavailable() -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("it needs root to make network namespaces".into());
    }
    let probe = format!("yui{}-probe", std::process::id());
    match ip(&["netns", "add", &probe]) {
        Ok(()) => {
            let _ = ip(&["netns", "del", &probe]);
            None
        }
        Err(e) => Some(format!("network namespaces cannot be made here ({e})")),
    }
}

/// Make a bed of `n` nodes (not started) and run `body` on it from inside the clients'
/// namespace, on a runtime of its own; a panic in `body` fails the test after the bed is
/// removed. Where namespaces cannot be made, prints that the test is skipped and why.
pub fn run<F, Fut>(test: &str, n: usize, body: F)
where
    F: FnOnce(Bed) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED {test}: {why}");
        return;
    }
    let bed = Bed::network(n)
        .and_then(|b| b.nodes(n))
        .unwrap_or_else(|e| panic!("cannot make the test bed: {e:#}"));
    let client_ns = format!("/run/netns/{}c", bed.prefix);
    let outcome = std::thread::spawn(move || {
        let ns = std::fs::File::open(&client_ns)
            .unwrap_or_else(|e| panic!("cannot open {client_ns}: {e}"));
        // This thread, and the sockets it opens, now live in the clients' namespace.
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("cannot enter the clients' namespace: {e}"));
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot build the test runtime: {e}"))
            .block_on(body(bed));
    })
    .join();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
