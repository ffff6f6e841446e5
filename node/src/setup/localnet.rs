//! A local network on 127.0.0.1: the one launcher that `yui devnet`, the load benchmark and
//! the end-to-end tests share. From a network description it writes the keys and the genesis
//! file, picks free ports, writes each node's `node.toml` by serializing [`NodeConfig`], and
//! starts, stops, kills and freezes `yui run` processes by signal. Every wait is bounded and
//! every process it started is killed when its [`LocalNode`] is dropped.
//!
//! It must never bind or connect to any address but 127.0.0.1, and never signal a process it
//! did not start.

use crate::setup::certs;
use crate::setup::config::{MempoolConfig, NodeConfig};
use crate::setup::genesis::GenesisDoc;
use crate::setup::network::{self, NetworkDesc};
use anyhow::{bail, Context as _, Result};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use yui_proto::v1 as pb;

/// How long [`LocalNode::wait_ready`] waits by default for a node's gRPC to answer.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`LocalNode::stop`] waits after SIGTERM before it sends SIGKILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a wait polls.
const POLL: Duration = Duration::from_millis(100);

/// What to launch besides the network description.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Serve each node's Prometheus metrics on a port of its own.
    pub metrics: bool,
    /// First port: node `i` gets `base_port + 3i` (gRPC), `+1` (p2p), `+2` (metrics). `None`
    /// picks free ports.
    pub base_port: Option<u16>,
    /// Mempool bounds of every node (the default when `None`).
    pub mempool: Option<MempoolConfig>,
    /// Serve each node's gRPC API over TLS, with certificates from a CA made for this network
    /// (`dir/tls/`, [`certs::make_local_ca`]).
    pub tls: bool,
}

/// One node of a local network.
pub struct LocalNode {
    /// The key name, e.g. `tama-validator-1` or `tama-observer-1`.
    pub name: String,
    /// Whether it votes.
    pub validator: bool,
    /// Its directory (config, log, data).
    pub dir: PathBuf,
    /// Its `node.toml`.
    pub config_path: PathBuf,
    /// The config as written (paths relative to `dir`).
    pub config: NodeConfig,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Its log file (stderr of the process, appended across restarts).
    pub log: PathBuf,
    /// `http://127.0.0.1:PORT`, or `https://` when it serves TLS.
    pub endpoint: String,
    /// The CA certificate its TLS certificate chains to, when it serves TLS.
    pub ca: Option<PathBuf>,
    /// A command the node is started under (its program, then its arguments), for example
    /// `ip netns exec NAME` to run it in a network namespace; empty: started directly.
    pub launcher: Vec<std::ffi::OsString>,
    child: Option<Child>,
    /// How the process ended, once it was seen to have exited by itself.
    exited: Option<std::process::ExitStatus>,
}

/// A local network: its directory, genesis and nodes (validators first, in the order of the
/// description's organizations, then observers).
pub struct LocalNet {
    /// The directory holding `genesis.json`, `keys/` and one `nodeN/` per node.
    pub dir: PathBuf,
    /// The genesis document.
    pub genesis: GenesisDoc,
    /// The nodes.
    pub nodes: Vec<LocalNode>,
    /// The CA and certificates, when the nodes serve TLS.
    pub tls: Option<certs::LocalTls>,
}

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// `n` distinct free TCP ports on 127.0.0.1. All listeners are held until every port is chosen:
/// a port released at once can be handed out again by the next bind, and two nodes given the
/// same port would fail to start.
pub fn free_ports(n: usize) -> std::io::Result<Vec<u16>> {
    let held: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<_>>()?;
    held.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

/// The key names of a description's nodes, in launch order, with whether each votes.
fn node_names(desc: &NetworkDesc) -> Vec<(String, bool)> {
    let validators = desc
        .organizations
        .iter()
        .flat_map(|o| (1..=o.validators).map(move |n| (format!("{}-validator-{n}", o.id), true)));
    let observers = desc
        .organizations
        .iter()
        .flat_map(|o| (1..=o.observers).map(move |n| (format!("{}-observer-{n}", o.id), false)));
    validators.chain(observers).collect()
}

impl LocalNet {
    /// Write keys, genesis (kept if `dir` already has one) and node configs into `dir`.
    /// `genesis_time_ms` is the genesis time of a new genesis file.
    pub fn create(
        dir: &Path,
        desc: &NetworkDesc,
        genesis_time_ms: u64,
        opts: &Options,
    ) -> Result<LocalNet> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let genesis_path = dir.join("genesis.json");
        let genesis = if genesis_path.exists() {
            GenesisDoc::load(&genesis_path)?
        } else {
            let doc = network::genesis_from(desc, &dir.join("keys"), genesis_time_ms)?;
            write_json(&genesis_path, &doc)?;
            doc
        };
        let names = node_names(desc);
        if names.is_empty() {
            bail!("the network description has no validators");
        }
        let ports: Vec<u16> = match opts.base_port {
            None => free_ports(3 * names.len())?,
            Some(base) => (0..3 * names.len())
                .map(|i| {
                    u16::try_from(i)
                        .ok()
                        .and_then(|i| base.checked_add(i))
                        .context("the ports past --base-port do not fit in 16 bits")
                })
                .collect::<Result<_>>()?,
        };
        let p2p: Vec<SocketAddr> = ports.chunks(3).map(|c| localhost(c[1])).collect();
        let tls = if opts.tls {
            let names: Vec<String> = names.iter().map(|(n, _)| n.clone()).collect();
            Some(certs::make_local_ca(dir, &names)?)
        } else {
            None
        };
        let mut nodes = Vec::with_capacity(names.len());
        for (i, ((name, validator), ports)) in names.into_iter().zip(ports.chunks(3)).enumerate() {
            let node_dir = dir.join(format!("node{}", i + 1));
            let key = PathBuf::from(format!("../keys/{name}.key"));
            let config = NodeConfig {
                data_dir: "data".into(),
                genesis: "../genesis.json".into(),
                validator_key: validator.then(|| key.clone()),
                node_key: (!validator).then_some(key),
                grpc_listen: localhost(ports[0]),
                p2p_listen: p2p[i],
                peers: p2p
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, a)| *a)
                    .collect(),
                metrics_listen: opts.metrics.then(|| localhost(ports[2])),
                log_format: Default::default(),
                grpc_tls_cert: tls.as_ref().map(|t| t.servers[i].cert.clone()),
                grpc_tls_key: tls.as_ref().map(|t| t.servers[i].key.clone()),
                grpc_client_ca: None,
                allow_plaintext: false,
                mempool: opts.mempool.unwrap_or_default(),
            };
            nodes.push(LocalNode::write(&name, &node_dir, config)?);
        }
        Ok(LocalNet {
            dir: dir.to_path_buf(),
            genesis,
            nodes,
            tls,
        })
    }

    /// Start every node with `exe` and wait (bounded) until each answers.
    pub async fn start_all(&mut self, exe: &Path, env: &[(&str, &str)]) -> Result<()> {
        for n in &mut self.nodes {
            n.spawn(exe, env)?;
        }
        for n in &mut self.nodes {
            n.wait_ready(READY_TIMEOUT).await?;
        }
        Ok(())
    }

    /// SIGTERM every node, then wait for each (SIGKILL after [`STOP_TIMEOUT`]).
    pub fn stop_all(&mut self) {
        for n in &mut self.nodes {
            n.signal(Signal::SIGTERM);
        }
        for n in &mut self.nodes {
            n.stop();
        }
    }

    /// The key file of an account or node named as in the network description (for example
    /// `tama-admin-1`).
    pub fn key_path(&self, name: &str) -> PathBuf {
        self.dir.join("keys").join(format!("{name}.key"))
    }
}

impl LocalNode {
    /// A node named `name` in `dir`: writes `dir/node.toml` from `config`, whose relative
    /// paths are relative to `dir`. It votes if the config names a validator key.
    pub fn write(name: &str, dir: &Path, config: NodeConfig) -> Result<LocalNode> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let config_path = dir.join("node.toml");
        std::fs::write(&config_path, toml::to_string(&config)?)
            .with_context(|| format!("cannot write {}", config_path.display()))?;
        Ok(LocalNode {
            name: name.to_string(),
            validator: config.validator_key.is_some(),
            endpoint: format!(
                "{}://{}",
                if config.grpc_tls_cert.is_some() {
                    "https"
                } else {
                    "http"
                },
                config.grpc_listen
            ),
            // A mutual-TLS node's CA is the same local CA, next to its certificate.
            ca: config
                .grpc_tls_cert
                .as_ref()
                .and_then(|c| c.parent())
                .map(|d| dir.join(d).join("ca.pem")),
            data_dir: dir.join(&config.data_dir),
            log: dir.join("node.log"),
            config_path,
            config,
            dir: dir.to_path_buf(),
            launcher: Vec::new(),
            child: None,
            exited: None,
        })
    }

    /// Start the process (no wait); its stderr is appended to [`LocalNode::log`].
    pub fn spawn(&mut self, exe: &Path, env: &[(&str, &str)]) -> Result<()> {
        if self.is_running() {
            bail!("{} is already running", self.name);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        let mut cmd = match self.launcher.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        if !self.launcher.is_empty() {
            // A launcher may fork rather than exec (a profiler runs the node as its child): the
            // node gets a process group of its own, and signals go to the whole group, so that
            // stopping it stops the node too and not only the launcher.
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        }
        cmd.arg("run")
            .arg("--config")
            .arg(&self.config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        self.child = Some(
            cmd.spawn()
                .with_context(|| format!("cannot start {}", exe.display()))?,
        );
        Ok(())
    }

    /// A channel to its API: over TLS trusting the local CA when it serves TLS, presenting the
    /// local client certificate when it asks for one.
    pub async fn channel(&self) -> Result<tonic::transport::Channel> {
        let client = match (&self.ca, &self.config.grpc_client_ca) {
            (Some(ca), Some(_)) => ca.parent().map(|d| certs::CertFiles {
                cert: d.join("client.pem"),
                key: d.join("client.key"),
            }),
            _ => None,
        };
        certs::channel(&self.endpoint, self.ca.as_deref(), client.as_ref()).await
    }

    /// A `Ledger` client of its API ([`LocalNode::channel`]).
    pub async fn ledger(
        &self,
    ) -> Result<pb::ledger_client::LedgerClient<tonic::transport::Channel>> {
        Ok(pb::ledger_client::LedgerClient::new(self.channel().await?))
    }

    /// Wait until the node's gRPC answers `GetChainInfo`, at most `timeout`; fails at once if
    /// the process exits, with its log.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(mut c) = self.ledger().await {
                if c.get_chain_info(pb::GetChainInfoRequest {}).await.is_ok() {
                    return Ok(());
                }
            }
            if let Some(c) = self.child.as_mut() {
                if let Some(status) = c.try_wait()? {
                    self.child = None;
                    bail!(
                        "{} exited with {status} at start; log:\n{}",
                        self.name,
                        self.log_text()
                    );
                }
            } else {
                bail!("{} is not running", self.name);
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not answer within {timeout:?}; log:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Send `signal` to the process, if it runs. It is our own child (never reaped while we
    /// hold it), so the pid cannot name another process.
    pub fn signal(&self, signal: Signal) {
        if let Some(pid) = self.pid() {
            if let Err(e) = self.send(pid, signal) {
                tracing::warn!(node = %self.name, %signal, error = %e, "cannot signal the node");
            }
        }
    }

    /// Signal the process, or its process group when it was started under a launcher.
    fn send(&self, pid: u32, signal: Signal) -> nix::Result<()> {
        let pid = Pid::from_raw(i32::try_from(pid).map_err(|_| nix::errno::Errno::ESRCH)?);
        if self.launcher.is_empty() {
            kill(pid, signal)
        } else {
            killpg(pid, signal)
        }
    }

    /// SIGTERM, wait up to [`STOP_TIMEOUT`] for a clean stop, then SIGKILL; the exit status,
    /// if it stopped by itself.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        self.signal_child(&child, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.send(child.id(), Signal::SIGKILL);
        let _ = child.wait();
        None
    }

    fn signal_child(&self, child: &Child, signal: Signal) {
        let _ = self.send(child.id(), signal);
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = self.send(c.id(), Signal::SIGKILL);
            let _ = c.wait();
        }
    }

    /// Whether the process runs (a process that exited is reaped here, its status kept for
    /// [`LocalNode::last_exit`]).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(Ok(Some(status))) => {
                self.exited = Some(status);
                self.child = None;
                false
            }
            Some(Err(_)) => {
                self.child = None;
                false
            }
            None => false,
        }
    }

    /// The exit status of the last run that ended by itself (seen by [`LocalNode::is_running`]
    /// or [`LocalNode::wait_exit`]).
    pub fn last_exit(&self) -> Option<std::process::ExitStatus> {
        self.exited
    }

    /// Wait (bounded) for the process to exit by itself; its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => {
                    self.child = None;
                    self.exited = Some(status);
                    return Some(status);
                }
                Some(Ok(None)) => std::thread::sleep(Duration::from_millis(20)),
                _ => return None,
            }
        }
        None
    }

    /// The log so far (empty if unreadable).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for LocalNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Write `value` as pretty JSON with a final newline, creating the parent directory.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(value)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_written_as_toml_the_node_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let desc: NetworkDesc = toml::from_str(
            r#"chain_id = "t"
fault_model = "byzantine"
[[organizations]]
id = "a"
name = "A"
validators = 2
observers = 1
[[organizations]]
id = "b"
name = "B"
validators = 1
"#,
        )
        .unwrap();
        let net = LocalNet::create(
            dir.path(),
            &desc,
            1,
            &Options {
                metrics: true,
                ..Options::default()
            },
        )
        .unwrap();
        let names: Vec<&str> = net.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "a-validator-1",
                "a-validator-2",
                "b-validator-1",
                "a-observer-1"
            ]
        );
        let mut p2p = std::collections::BTreeSet::new();
        for n in &net.nodes {
            let back = NodeConfig::load(&n.config_path).unwrap();
            assert_eq!(back.grpc_listen, n.config.grpc_listen);
            assert_eq!(back.peers, n.config.peers);
            assert_eq!(back.peers.len(), 3, "every other node is a peer");
            assert!(!back.peers.contains(&back.p2p_listen));
            assert_eq!(back.data_dir, n.dir.join("data"));
            assert!(back.metrics_listen.is_some());
            assert_eq!(back.validator_key.is_some(), n.validator);
            assert_eq!(back.node_key.is_some(), !n.validator);
            let key = back.validator_key.or(back.node_key).unwrap();
            assert!(key.exists(), "{} names an existing key", n.name);
            p2p.insert(back.p2p_listen);
        }
        assert_eq!(p2p.len(), 4, "distinct ports");
        assert_eq!(net.genesis.validators.len(), 3);
        assert_eq!(net.genesis.observers.len(), 1);
    }
}
