//! End-to-end test harness: builds the real `yui` binary, writes a network description,
//! genesis and node configs into a temporary directory, starts `yui run` processes bound to
//! 127.0.0.1 on free ports, and gives tests gRPC clients and transaction signing. Every
//! process is killed when its `NodeProc` is dropped; every wait is bounded.

use anyhow::{anyhow, bail, Context as _, Result};
use ed25519_dalek::{Signer, SigningKey};
use prost::Message;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use yui_proto::v1 as pb;
use yui_proto::v1::ledger_client::LedgerClient;

/// A gRPC client of the Ledger service.
pub type Client = LedgerClient<tonic::transport::Channel>;

/// The `yui` binary, built once per test run.
pub fn yui_bin() -> Result<PathBuf> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        // target/<profile>/deps/<test> -> target/<profile>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .ok_or("cannot locate the target directory")?
            .to_path_buf();
        let release = profile_dir.ends_with("release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-q", "-p", "yui-node", "--bin", "yui"]);
        if release {
            cmd.arg("--release");
        }
        // The build's own messages are kept, so a failure says why (CI shows only the end of
        // a run's output, which is this error, not cargo's lines far above it).
        let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let lines: Vec<&str> = stderr.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            return Err(format!(
                "building the yui binary failed ({}):\n{tail}",
                out.status
            ));
        }
        Ok(profile_dir.join("yui"))
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

/// Fetch `http://ADDR/metrics` from a node's config'd metrics address (bounded by time).
pub async fn fetch_metrics(node: &NodeProc) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let cfg = std::fs::read_to_string(&node.config)?;
    let addr = cfg
        .lines()
        .find(|l| l.starts_with("metrics_listen"))
        .and_then(|l| l.split('"').nth(1))
        .ok_or_else(|| anyhow!("no metrics_listen in config"))?
        .to_string();
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(&addr).await?;
        s.write_all(
            format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        Ok::<_, anyhow::Error>(out)
    };
    tokio::time::timeout(Duration::from_secs(10), fut).await?
}

/// A `yui run` process.
pub struct NodeProc {
    /// Its config file.
    pub config: PathBuf,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// gRPC endpoint, `http://127.0.0.1:PORT`.
    pub endpoint: String,
    child: Option<Child>,
    log: PathBuf,
}

impl NodeProc {
    /// Start the process and wait (bounded) until its gRPC answers.
    pub async fn start(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(yui_bin()?)
            .env("YUI_TEST_FAULTS", "1")
            .arg("run")
            .arg("--config")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start yui")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut c) = self.client().await {
                if c.get_chain_info(pb::GetChainInfoRequest {}).await.is_ok() {
                    return Ok(());
                }
            }
            if let Some(c) = self.child.as_mut() {
                if let Some(status) = c.try_wait()? {
                    bail!(
                        "yui exited with {status} at start; log:\n{}",
                        self.log_text()
                    );
                }
            }
            if Instant::now() > deadline {
                bail!("yui did not answer within 30 s; log:\n{}", self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The node's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL the process and reap it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait (bounded), then SIGKILL if needed.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Delete the data directory (the node must be stopped).
    pub fn wipe(&self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }

    /// Cut the node off the network (test-only fault injection: with `YUI_TEST_FAULTS=1` the
    /// node drops every gossip and sync message while `data_dir/partitioned` exists), or heal.
    pub fn partition(&self, cut: bool) {
        let flag = self.data_dir.join("partitioned");
        if cut {
            let _ = std::fs::write(flag, b"");
        } else {
            let _ = std::fs::remove_file(flag);
        }
    }

    /// Freeze (SIGSTOP) or resume (SIGCONT) the process: while frozen it sends and receives
    /// nothing, as if cut off from the network.
    pub fn freeze(&self, frozen: bool) {
        if let Some(c) = &self.child {
            let sig = if frozen { "-STOP" } else { "-CONT" };
            let _ = Command::new("kill")
                .arg(sig)
                .arg(c.id().to_string())
                .status();
        }
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// A node process for an arbitrary config file (for tests that add nodes by hand).
    pub fn custom(config: PathBuf, data_dir: PathBuf, endpoint: String, log: PathBuf) -> NodeProc {
        NodeProc {
            config,
            data_dir,
            endpoint,
            child: None,
            log,
        }
    }

    /// A connected client.
    pub async fn client(&self) -> Result<Client> {
        Ok(LedgerClient::connect(self.endpoint.clone()).await?)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.kill9();
        }
        if std::env::var_os("YUI_KEEP_TEST_DIRS").is_some() {
            self.dir.disable_cleanup(true);
        }
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A test network.
pub struct Net {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
    /// The nodes.
    pub nodes: Vec<NodeProc>,
    /// The first organization's admin key (org_admin + municipality_admin).
    pub admin: SigningKey,
    /// Chain id.
    pub chain_id: String,
    /// One network at a time per test binary: the machines are small (2 cores), and
    /// several 4-validator networks at once would measure CPU starvation, not Yui.
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

fn turn_lock() -> std::sync::Arc<tokio::sync::Mutex<()>> {
    static LOCK: OnceLock<std::sync::Arc<tokio::sync::Mutex<()>>> = OnceLock::new();
    LOCK.get_or_init(|| std::sync::Arc::new(tokio::sync::Mutex::new(())))
        .clone()
}

/// Load a key file written by `yui keys generate`.
pub fn load_key(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path)?;
    let seed: [u8; 32] = hex::decode(text.trim())?
        .try_into()
        .map_err(|_| anyhow!("bad key file"))?;
    Ok(SigningKey::from_bytes(&seed))
}

impl Net {
    /// Create and start a network of `validators` validators of one organization
    /// ("tama") with fast test timings.
    pub async fn start(validators: u32, fault_model: &str) -> Result<Net> {
        Net::start_with_observers(validators, fault_model, 0).await
    }

    /// Like `start`, plus `observers` non-voting nodes (listed in genesis `observers`), which
    /// come after the validators in `nodes`.
    pub async fn start_with_observers(
        validators: u32,
        fault_model: &str,
        observers: u32,
    ) -> Result<Net> {
        let turn = turn_lock().lock_owned().await;
        let dir = tempfile::Builder::new().prefix("yui-test-").tempdir()?;
        if std::env::var_os("YUI_KEEP_TEST_DIRS").is_some() {
            eprintln!("test network directory: {}", dir.path().display());
        }
        let chain_id = "yui-test".to_string();
        let network = format!(
            r#"chain_id = "{chain_id}"
fault_model = "{fault_model}"
max_expiry_blocks = 100

[consensus]
min_block_interval_ms = 20
heartbeat_interval_ms = 300
timeout_propose_ms = 1000
timeout_prevote_ms = 500
timeout_precommit_ms = 500

[[organizations]]
id = "tama"
name = "Tama City"
validators = {validators}
observers = {observers}
admins = 1
"#
        );
        std::fs::write(dir.path().join("network.toml"), network)?;
        let status = Command::new(yui_bin()?)
            .args(["genesis", "init", "--network"])
            .arg(dir.path().join("network.toml"))
            .arg("--keys-dir")
            .arg(dir.path().join("keys"))
            .arg("--out")
            .arg(dir.path().join("genesis.json"))
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("yui genesis init failed");
        }
        let total = validators + observers;
        let all = yui_node::network::free_ports(3 * total as usize)?;
        let ports: Vec<(u16, u16, u16)> = all.chunks(3).map(|c| (c[0], c[1], c[2])).collect();
        let mut nodes = Vec::new();
        for i in 1..=total {
            let node_dir = dir.path().join(format!("node{i}"));
            let key_line = if i <= validators {
                format!("validator_key = \"../keys/tama-validator-{i}.key\"")
            } else {
                format!(
                    "node_key = \"../keys/tama-observer-{}.key\"",
                    i - validators
                )
            };
            std::fs::create_dir_all(&node_dir)?;
            let (port, p2p, metrics) = ports[i as usize - 1];
            let peers: Vec<String> = ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j + 1 != i as usize)
                .map(|(_, (_, p, _))| format!("\"127.0.0.1:{p}\""))
                .collect();
            let config = node_dir.join("node.toml");
            std::fs::write(
                &config,
                format!(
                    "data_dir = \"data\"\ngenesis = \"../genesis.json\"\n{key_line}\ngrpc_listen = \"127.0.0.1:{port}\"\np2p_listen = \"127.0.0.1:{p2p}\"\nmetrics_listen = \"127.0.0.1:{metrics}\"\npeers = [{}]\n",
                    peers.join(", ")
                ),
            )?;
            nodes.push(NodeProc {
                config,
                data_dir: node_dir.join("data"),
                endpoint: format!("http://127.0.0.1:{port}"),
                child: None,
                log: node_dir.join("node.log"),
            });
        }
        for n in &mut nodes {
            n.start().await?;
        }
        let admin = load_key(&dir.path().join("keys/tama-admin-1.key"))?;
        Ok(Net {
            dir,
            nodes,
            admin,
            chain_id,
            _turn: turn,
        })
    }
}

/// 16 random bytes.
pub fn nonce() -> Vec<u8> {
    let mut n = [0u8; 16];
    getrandom::fill(&mut n).unwrap_or_default();
    n.to_vec()
}

/// A fresh random key.
pub fn random_key() -> SigningKey {
    let mut s = [0u8; 32];
    getrandom::fill(&mut s).unwrap_or_default();
    SigningKey::from_bytes(&s)
}

/// Sign a body exactly as a client in any language would: the signature covers
/// "yui/v1/tx-signature\0" || body.
pub fn sign_body(key: &SigningKey, body: &pb::TxBody) -> pb::SignedTransaction {
    let bytes = body.encode_to_vec();
    let msg = [b"yui/v1/tx-signature\0".as_slice(), &bytes].concat();
    pb::SignedTransaction {
        body: bytes,
        signature: key.sign(&msg).to_bytes().to_vec(),
    }
}

/// A body for `call` by `key`, expiring `ahead` blocks after `height`.
pub fn body(
    key: &SigningKey,
    chain_id: &str,
    expires_at_height: u64,
    call: pb::tx_body::Call,
) -> pb::TxBody {
    pb::TxBody {
        chain_id: chain_id.to_string(),
        signer: key.verifying_key().to_bytes().to_vec(),
        expires_at_height,
        nonce: nonce(),
        call: Some(call),
    }
}

/// A governance GrantRole call.
pub fn grant(account: &SigningKey, kind: pb::RoleKind, scope: &str) -> pb::tx_body::Call {
    pb::tx_body::Call::Governance(pb::GovernanceCall {
        call: Some(pb::governance_call::Call::GrantRole(pb::GrantRole {
            account: account.verifying_key().to_bytes().to_vec(),
            role: Some(pb::Role {
                kind: kind as i32,
                scope: scope.to_string(),
            }),
        })),
    })
}

/// The current height.
pub async fn height(c: &mut Client) -> Result<u64> {
    Ok(c.get_chain_info(pb::GetChainInfoRequest {})
        .await?
        .into_inner()
        .height)
}

/// Submit and return the id.
pub async fn submit(c: &mut Client, tx: pb::SignedTransaction) -> Result<Vec<u8>, tonic::Status> {
    c.submit_transaction(pb::SubmitTransactionRequest {
        transaction: Some(tx),
    })
    .await
    .map(|r| r.into_inner().tx_id)
}

/// Wait (bounded) until a transaction is committed; return its status response.
pub async fn wait_committed(
    c: &mut Client,
    id: &[u8],
    timeout: Duration,
) -> Result<pb::GetTransactionResponse> {
    let deadline = Instant::now() + timeout;
    loop {
        let r = c
            .get_transaction(pb::GetTransactionRequest { tx_id: id.to_vec() })
            .await?
            .into_inner();
        if r.status == pb::TxStatus::Committed as i32 {
            return Ok(r);
        }
        if Instant::now() > deadline {
            bail!(
                "transaction {} not committed within {timeout:?} (status {})",
                hex::encode(id),
                r.status
            );
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// Submit `call` signed by `key` (expiring 50 blocks ahead) and wait, bounded, until it is
/// committed; its receipt, successful or not.
pub async fn call_receipt(
    c: &mut Client,
    chain_id: &str,
    key: &SigningKey,
    call: pb::tx_body::Call,
) -> Result<pb::Receipt> {
    let h = height(c).await?;
    let id = submit(c, sign_body(key, &body(key, chain_id, h + 50, call))).await?;
    wait_committed(c, &id, Duration::from_secs(30))
        .await?
        .receipt
        .ok_or_else(|| anyhow!("a committed transaction without a receipt"))
}

/// Like [`call_receipt`], for a call that must succeed; its events. Panics (fails the test)
/// with the contract's error otherwise.
pub async fn call_ok(
    c: &mut Client,
    chain_id: &str,
    key: &SigningKey,
    call: pb::tx_body::Call,
) -> Vec<pb::Event> {
    match call_receipt(c, chain_id, key, call).await {
        Ok(r) if r.success => r.events,
        Ok(r) => panic!("call failed: {:?}", r.error),
        Err(e) => panic!("call not committed: {e:#}"),
    }
}

/// Wait (bounded) until the chain reaches `h`.
pub async fn wait_height(c: &mut Client, h: u64, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while height(c).await? < h {
        if Instant::now() > deadline {
            bail!("height {h} not reached within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// A block's hash by height.
pub async fn block_hash(c: &mut Client, h: u64) -> Result<Vec<u8>> {
    Ok(c.get_block(pb::GetBlockRequest {
        by: Some(pb::get_block_request::By::Height(h)),
    })
    .await?
    .into_inner()
    .block
    .ok_or_else(|| anyhow!("no block"))?
    .hash)
}

/// A block's header by height.
pub async fn header(c: &mut Client, h: u64) -> Result<pb::BlockHeader> {
    let b = c
        .get_block(pb::GetBlockRequest {
            by: Some(pb::get_block_request::By::Height(h)),
        })
        .await?
        .into_inner()
        .block
        .ok_or_else(|| anyhow!("no block"))?;
    b.header.ok_or_else(|| anyhow!("no header"))
}
