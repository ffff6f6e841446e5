//! End-to-end test harness: builds the real `yui` binary and starts a network of `yui run`
//! processes on 127.0.0.1 through the node's own local-network launcher
//! (`yui_node::setup::localnet`, the one `yui devnet` uses), and gives tests gRPC clients and
//! transaction signing (`yui-client`). Every process is killed when its `NodeProc` is
//! dropped; every wait is bounded.

pub mod hosts;

use anyhow::{anyhow, bail, Result};
pub use ed25519_dalek::SigningKey;
use nix::sys::signal::Signal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use yui_node::runtime::driver::now_ms;
use yui_node::setup::config::NodeConfig;
use yui_node::setup::genesis::{ConsensusParams, FaultModelName};
pub use yui_node::setup::localnet::free_ports;
use yui_node::setup::localnet::{LocalNet, LocalNode, Options, READY_TIMEOUT};
use yui_node::setup::network::{NetworkDesc, OrgDesc};
use yui_proto::v1 as pb;
use yui_proto::v1::ledger_client::LedgerClient;

/// A gRPC client of the Ledger service.
pub type Client = LedgerClient<tonic::transport::Channel>;

/// Build the `yui` binary of this test's profile with `features`; its path.
fn build_yui(features: &[&str]) -> Result<PathBuf, String> {
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
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
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
}

/// A second build of `yui` that also knows the next protocol version (the test-only cargo
/// feature `protocol-next`), copied beside the first; built once per test run. The ordinary
/// build is put back in place afterwards.
pub fn yui_next_bin() -> Result<PathBuf> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        let plain = yui_bin().map_err(|e| e.to_string())?;
        let next = build_yui(&["protocol-next"])?;
        let copy = next.with_file_name("yui-protocol-next");
        std::fs::copy(&next, &copy).map_err(|e| format!("cannot copy {}: {e}", next.display()))?;
        if build_yui(&[])? != plain {
            return Err("the ordinary build moved".into());
        }
        Ok(copy)
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

/// The `yui` binary, built once per test run.
pub fn yui_bin() -> Result<PathBuf> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| build_yui(&[]))
        .clone()
        .map_err(|e| anyhow!(e))
}

/// Fetch `http://ADDR/metrics` from a node's metrics address (bounded by time).
pub async fn fetch_metrics(node: &NodeProc) -> Result<String> {
    let addr = node
        .config
        .metrics_listen
        .ok_or_else(|| anyhow!("the node serves no metrics"))?;
    yui_node::runtime::telemetry::scrape(addr).await
}

/// libfaketime's preload library, if the distribution package is installed
/// (`scripts/install-test-deps`, which `.ci/run` calls). Under CI it must be: a test that needs
/// it fails there rather than skip.
pub fn libfaketime() -> Option<PathBuf> {
    let found = std::fs::read_dir("/usr/lib").ok()?.flatten().find_map(|d| {
        let p = d.path().join("faketime/libfaketime.so.1");
        p.exists().then_some(p)
    });
    assert!(
        found.is_some() || std::env::var_os("CI").is_none(),
        "libfaketime is not installed; scripts/install-test-deps installs it"
    );
    found
}

/// The environment that runs a node `offset` off the real clock (libfaketime syntax, e.g.
/// `+5m`, `-1d`), its timers left alone.
pub fn faketime_env(lib: &Path, offset: &str) -> Vec<(String, String)> {
    vec![
        ("LD_PRELOAD".into(), lib.to_string_lossy().into_owned()),
        ("FAKETIME".into(), offset.into()),
        ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
    ]
}

/// A `yui run` process of a test network: the shared launcher's node.
pub struct NodeProc(pub LocalNode);

impl std::ops::Deref for NodeProc {
    type Target = LocalNode;
    fn deref(&self) -> &LocalNode {
        &self.0
    }
}

impl std::ops::DerefMut for NodeProc {
    fn deref_mut(&mut self) -> &mut LocalNode {
        &mut self.0
    }
}

impl NodeProc {
    /// Start the process and wait (bounded) until its gRPC answers.
    pub async fn start(&mut self) -> Result<()> {
        self.start_with(&[]).await
    }

    /// [`NodeProc::start`] with extra environment (for example libfaketime's).
    pub async fn start_with(&mut self, env: &[(&str, &str)]) -> Result<()> {
        self.0.spawn(&yui_bin()?, env)?;
        self.0.wait_ready(READY_TIMEOUT).await
    }

    /// SIGKILL the process and reap it.
    pub fn kill9(&mut self) {
        self.0.kill();
    }

    /// SIGTERM and wait (bounded), then SIGKILL if needed.
    pub fn stop(&mut self) {
        self.0.stop();
    }

    /// Delete the data directory (the node must be stopped).
    pub fn wipe(&self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }

    /// Freeze (SIGSTOP) or resume (SIGCONT) the process: while frozen it sends and receives
    /// nothing, as if cut off from the network.
    pub fn freeze(&self, frozen: bool) {
        self.0.signal(if frozen {
            Signal::SIGSTOP
        } else {
            Signal::SIGCONT
        });
    }

    /// A connected client (over TLS trusting the network's CA when the node serves TLS).
    pub async fn client(&self) -> Result<Client> {
        self.0.ledger().await
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
    /// Every organization's first admin key (org_admin + municipality_admin), in the order of
    /// `create_consortium`'s organizations (the one of `create` holds `admin` only).
    pub admins: Vec<SigningKey>,
    /// One network at a time per test binary: the machines are small (2 cores), and
    /// several 4-validator networks at once would measure CPU starvation, not Yui.
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

fn turn_lock() -> std::sync::Arc<tokio::sync::Mutex<()>> {
    static LOCK: OnceLock<std::sync::Arc<tokio::sync::Mutex<()>>> = OnceLock::new();
    LOCK.get_or_init(|| std::sync::Arc::new(tokio::sync::Mutex::new(())))
        .clone()
}

/// The one organization of a single-municipality test network.
fn tama(validators: u32) -> Vec<OrgDesc> {
    vec![OrgDesc {
        id: "tama".into(),
        name: "Tama City".into(),
        validators,
        ..OrgDesc::default()
    }]
}

/// Load a key file written by `yui keys generate`.
pub fn load_key(path: &Path) -> Result<SigningKey> {
    yui_node::setup::keys::load(path)
}

/// The test networks' consensus timings: fast blocks and timeouts.
pub fn test_consensus() -> ConsensusParams {
    ConsensusParams {
        min_block_interval_ms: 20,
        heartbeat_interval_ms: 300,
        timeout_propose_ms: 1000,
        timeout_prevote_ms: 500,
        timeout_precommit_ms: 500,
        ..ConsensusParams::default()
    }
}

impl Net {
    /// The last `lines` lines of every node's log, headed by the node's name: what a test
    /// that gave up waiting on the network prints, so a failure in CI says what the nodes did.
    pub fn logs_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for n in &self.nodes {
            let text = n.log_text();
            let all: Vec<&str> = text.lines().collect();
            out.push_str(&format!("--- {} (last {lines} log lines)\n", n.name));
            for l in &all[all.len().saturating_sub(lines)..] {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

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
        let mut net = Net::create(validators, fault_model, observers).await?;
        for n in &mut net.nodes {
            n.start().await?;
        }
        Ok(net)
    }

    /// Write the network's files (keys, genesis, configs) without starting any node, for a
    /// test that prepares a node's directory first.
    pub async fn create(validators: u32, fault_model: &str, observers: u32) -> Result<Net> {
        let model = match fault_model {
            "byzantine" => FaultModelName::Byzantine,
            "crash" => FaultModelName::Crash,
            other => bail!("unknown fault model {other:?}"),
        };
        Net::create_from(
            model,
            vec![OrgDesc {
                id: "tama".into(),
                name: "Tama City".into(),
                validators,
                observers,
                ..OrgDesc::default()
            }],
        )
        .await
    }

    /// Start a byzantine network of one municipality per id, each running one validator.
    pub async fn start_consortium(orgs: &[&str]) -> Result<Net> {
        let mut net = Net::create_from(
            FaultModelName::Byzantine,
            orgs.iter()
                .map(|id| OrgDesc {
                    id: id.to_string(),
                    name: format!("{id} city"),
                    validators: 1,
                    ..OrgDesc::default()
                })
                .collect(),
        )
        .await?;
        for n in &mut net.nodes {
            n.start().await?;
        }
        Ok(net)
    }

    /// Like `start`, with every node serving its API over TLS (certificates of a CA made for
    /// the network, in `dir/tls/`).
    pub async fn start_tls(validators: u32) -> Result<Net> {
        let mut net =
            Net::create_with(FaultModelName::Byzantine, tama(validators), true, now_ms()).await?;
        for n in &mut net.nodes {
            n.start().await?;
        }
        Ok(net)
    }

    async fn create_from(fault_model: FaultModelName, organizations: Vec<OrgDesc>) -> Result<Net> {
        Net::create_with(fault_model, organizations, false, now_ms()).await
    }

    /// [`Net::create`] of a network whose genesis time is `genesis_time_ms` (for nodes run on
    /// a clock behind the real one).
    pub async fn create_dated(validators: u32, genesis_time_ms: u64) -> Result<Net> {
        Net::create_with(
            FaultModelName::Byzantine,
            tama(validators),
            false,
            genesis_time_ms,
        )
        .await
    }

    async fn create_with(
        fault_model: FaultModelName,
        organizations: Vec<OrgDesc>,
        tls: bool,
        genesis_time_ms: u64,
    ) -> Result<Net> {
        let turn = turn_lock().lock_owned().await;
        let dir = tempfile::Builder::new().prefix("yui-test-").tempdir()?;
        if std::env::var_os("YUI_KEEP_TEST_DIRS").is_some() {
            eprintln!("test network directory: {}", dir.path().display());
        }
        let chain_id = "yui-test".to_string();
        let ids: Vec<String> = organizations.iter().map(|o| o.id.clone()).collect();
        let desc = NetworkDesc {
            chain_id: chain_id.clone(),
            fault_model,
            max_expiry_blocks: 100,
            consensus: test_consensus(),
            parameters: Default::default(),
            organizations,
        };
        let opts = Options {
            metrics: true,
            tls,
            ..Options::default()
        };
        let mut local = LocalNet::create(dir.path(), &desc, genesis_time_ms, &opts)?;
        let admins = ids
            .iter()
            .map(|id| load_key(&local.key_path(&format!("{id}-admin-1"))))
            .collect::<Result<Vec<_>>>()?;
        let nodes: Vec<NodeProc> = local.nodes.drain(..).map(NodeProc).collect();
        Ok(Net {
            dir,
            nodes,
            admin: admins[0].clone(),
            admins,
            chain_id,
            _turn: turn,
        })
    }

    /// A node that is not in genesis (a member admitted by vote runs it): its own directory
    /// under the network's, the network's genesis, every node of the network as a peer, and
    /// `node_key` as its network key. Not started.
    pub fn outside_node(&self, name: &str, node_key: &Path) -> Result<NodeProc> {
        self.extra_node(name, None, Some(node_key), Path::new("../genesis.json"))
    }

    /// A node beyond the network's own, in `dir/name`, with every node of the network as a
    /// peer: a validator if it has a validator key, known on the network by `node_key` if
    /// given (else by its validator key), reading the genesis file `genesis` (paths relative
    /// to its directory). Not started.
    pub fn extra_node(
        &self,
        name: &str,
        validator_key: Option<&Path>,
        node_key: Option<&Path>,
        genesis: &Path,
    ) -> Result<NodeProc> {
        let ports = free_ports(2)?;
        let config = NodeConfig {
            data_dir: "data".into(),
            genesis: genesis.to_path_buf(),
            validator_key: validator_key.map(Path::to_path_buf),
            node_key: node_key.map(Path::to_path_buf),
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], ports[0])),
            p2p_listen: SocketAddr::from(([127, 0, 0, 1], ports[1])),
            peers: self.nodes.iter().map(|n| n.config.p2p_listen).collect(),
            metrics_listen: None,
            log_format: Default::default(),
            grpc_tls_cert: None,
            grpc_tls_key: None,
            grpc_client_ca: None,
            allow_plaintext: false,
            mempool: Default::default(),
        };
        Ok(NodeProc(LocalNode::write(
            name,
            &self.dir.path().join(name),
            config,
        )?))
    }
}

/// Transaction building and signing, exactly as a client in any language does it: the
/// signature covers `"yui/v1/tx-signature\0" || body` (`yui-client`).
pub use yui_client::tx::{body, random_key, sign as sign_body};

/// 16 random bytes.
pub fn nonce() -> Vec<u8> {
    yui_client::tx::random_nonce().to_vec()
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
    // Bounded: a node that stops answering fails the test instead of hanging it.
    let info = tokio::time::timeout(
        Duration::from_secs(20),
        c.get_chain_info(pb::GetChainInfoRequest {}),
    )
    .await
    .map_err(|_| anyhow!("GetChainInfo did not answer within 20 s"))??;
    Ok(info.into_inner().height)
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

/// All `clients` agree on the block hash of every height up to the lowest of their tips; that
/// tip.
pub async fn assert_agreement(clients: &mut [Client]) -> u64 {
    let mut min = u64::MAX;
    for c in clients.iter_mut() {
        min = min.min(height(c).await.unwrap_or_else(|e| panic!("height: {e:#}")));
    }
    for h in 1..=min {
        let mut hashes = std::collections::BTreeSet::new();
        for c in clients.iter_mut() {
            hashes.insert(
                block_hash(c, h)
                    .await
                    .unwrap_or_else(|e| panic!("block {h}: {e:#}")),
            );
        }
        assert_eq!(hashes.len(), 1, "nodes disagree at height {h}");
    }
    min
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

/// Midnight JST starting a civil date, as Unix ms.
pub fn jst_ms(y: i64, m: i64, d: i64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    (days * 86_400_000 - 9 * 3_600_000) as u64
}

/// The code a call fails with: refused at submit (its ErrorInfo reason) or committed with a
/// failed receipt.
pub async fn call_failure(
    c: &mut Client,
    chain: &str,
    key: &SigningKey,
    call: pb::tx_body::Call,
) -> String {
    match call_receipt(c, chain, key, call).await {
        Ok(r) => {
            assert!(!r.success, "the call succeeded");
            r.error.map(|e| e.code).unwrap_or_default()
        }
        Err(e) => {
            let Ok(s) = e.downcast::<tonic::Status>() else {
                panic!("the call was neither refused nor committed");
            };
            tonic_types::StatusExt::get_error_details(&s)
                .error_info()
                .map(|i| i.reason.clone())
                .unwrap_or_else(|| s.message().to_string())
        }
    }
}

/// A relief call.
pub fn rl(c: pb::relief_call::Call) -> pb::tx_body::Call {
    pb::tx_body::Call::Relief(pb::ReliefCall { call: Some(c) })
}

/// A volunteer call.
pub fn vol(c: pb::volunteer_call::Call) -> pb::tx_body::Call {
    pb::tx_body::Call::Volunteer(pb::VolunteerCall { call: Some(c) })
}

/// An eco call.
pub fn eco(c: pb::eco_call::Call) -> pb::tx_body::Call {
    pb::tx_body::Call::Eco(pb::EcoCall { call: Some(c) })
}

/// Set the signer's organization's version of parameter `key`, in force at once.
pub fn param(key: &str, value: i64) -> pb::tx_body::Call {
    pb::tx_body::Call::Governance(pb::GovernanceCall {
        call: Some(pb::governance_call::Call::SetParameter(pb::SetParameter {
            key: key.into(),
            value,
            effective_from_height: 0,
        })),
    })
}
