//! The node's TOML configuration (`node.toml`). Every setting is documented here and in the
//! README's configuration section; command-line flags override the file.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// `node.toml`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Directory for the chain store and the consensus WAL. Relative paths are relative to
    /// the config file.
    pub data_dir: PathBuf,
    /// The network's genesis file.
    pub genesis: PathBuf,
    /// This validator's consensus key file (hex secret, from `yui keys generate`). Omit it
    /// to run an observer that follows the chain without voting.
    #[serde(default)]
    pub validator_key: Option<PathBuf>,
    /// Address the gRPC API listens on. Port 0 picks a free port (printed at start). Any
    /// address but a loopback one needs TLS (`grpc_tls_cert` and `grpc_tls_key`), or
    /// `allow_plaintext = true`.
    #[serde(default = "default_grpc")]
    pub grpc_listen: SocketAddr,
    /// PEM certificate chain the gRPC API presents (TLS 1.2/1.3 by rustls). Set together with
    /// `grpc_tls_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_tls_cert: Option<PathBuf>,
    /// PEM private key of `grpc_tls_cert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_tls_key: Option<PathBuf>,
    /// PEM CA certificate(s): when set, a client must present a certificate signed by one of
    /// them (mutual TLS). Needs `grpc_tls_cert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_client_ca: Option<PathBuf>,
    /// Serve the gRPC API without TLS on a non-loopback address. Off by default: backends
    /// send personal data and auth tokens over this API, and anyone on the path reads them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_plaintext: bool,
    /// This node's network key file: an observer's identity on the peer-to-peer network. A
    /// validator uses its validator key unless this is set too (to keep the transport identity
    /// apart from the signing key). Its public key must be listed in genesis `observers` or
    /// admitted by a membership vote.
    #[serde(default)]
    pub node_key: Option<PathBuf>,
    /// Address the peer-to-peer network listens on. Port 0 picks a free port.
    #[serde(default = "default_p2p")]
    pub p2p_listen: SocketAddr,
    /// Peers to connect to (their `p2p_listen` addresses). Only nodes listed in genesis or
    /// admitted by committed governance are accepted, whatever is written here.
    #[serde(default)]
    pub peers: Vec<SocketAddr>,
    /// Serve Prometheus metrics at `http://ADDR/metrics` (off when absent).
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// "text" (default) or "json" log lines on stderr.
    #[serde(default)]
    pub log_format: LogFormat,
    /// Mempool bounds.
    #[serde(default)]
    pub mempool: MempoolConfig,
}

fn default_p2p() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 26656))
}

fn default_grpc() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50051))
}

/// Log line format.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Mempool bounds.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MempoolConfig {
    /// Most pending transactions.
    pub max_txs: usize,
    /// Most memory pending transactions may hold, as estimated by
    /// [`crate::admission::mempool::footprint`] (about twice their signed bytes, plus some
    /// 700 bytes each).
    pub max_bytes: usize,
}

/// Default `mempool.max_txs`: ten full default blocks.
pub const DEFAULT_MEMPOOL_TXS: usize = 50_000;
/// Default `mempool.max_bytes`: 64 MiB, about four full blocks' worth of signed bytes. With
/// small transactions `max_txs` binds first (50,000 of about 1 KB each).
pub const DEFAULT_MEMPOOL_BYTES: usize = 64 * 1024 * 1024;

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            max_txs: DEFAULT_MEMPOOL_TXS,
            max_bytes: DEFAULT_MEMPOOL_BYTES,
        }
    }
}

impl NodeConfig {
    /// Read a config file; relative paths in it are made relative to its directory.
    pub fn load(path: &Path) -> anyhow::Result<NodeConfig> {
        use anyhow::Context as _;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let mut c: NodeConfig = toml::from_str(&text)
            .with_context(|| format!("config file {} is not valid", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        c.data_dir = base.join(&c.data_dir);
        c.genesis = base.join(&c.genesis);
        c.validator_key = c.validator_key.map(|k| base.join(k));
        c.node_key = c.node_key.map(|k| base.join(k));
        c.grpc_tls_cert = c.grpc_tls_cert.map(|k| base.join(k));
        c.grpc_tls_key = c.grpc_tls_key.map(|k| base.join(k));
        c.grpc_client_ca = c.grpc_client_ca.map(|k| base.join(k));
        Ok(c)
    }
}
