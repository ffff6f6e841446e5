//! The gRPC API's transport: TLS by rustls (through tonic) from the PEM files `node.toml`
//! names, optionally verifying client certificates (mutual TLS), and the rule that a node
//! never serves plaintext beyond its own host unless its operator says so in so many words.
//! It reads the certificate files once at start and must never serve with a configuration it
//! could not load: a bad file stops the node before it opens anything.

use crate::setup::config::NodeConfig;
use anyhow::{bail, Context as _, Result};
use std::path::Path;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// How the API is served, decided from the config before anything is opened.
pub enum Transport {
    /// TLS with this configuration (client certificates verified if `mutual`).
    Tls {
        /// The tonic configuration.
        config: ServerTlsConfig,
        /// Whether clients must present a certificate.
        mutual: bool,
    },
    /// Plaintext: on a loopback address, or allowed by `allow_plaintext`.
    Plaintext,
}

impl Transport {
    /// The URL scheme clients use.
    pub fn scheme(&self) -> &'static str {
        match self {
            Transport::Tls { .. } => "https",
            Transport::Plaintext => "http",
        }
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))
}

/// Decide the transport from `cfg`, or refuse to start with a sentence that says why and what
/// to set.
pub fn transport(cfg: &NodeConfig) -> Result<Transport> {
    let addr = cfg.grpc_listen;
    let (cert, key) = match (&cfg.grpc_tls_cert, &cfg.grpc_tls_key) {
        (Some(c), Some(k)) => (c, k),
        (None, None) => {
            if cfg.grpc_client_ca.is_some() {
                bail!("grpc_client_ca is set but TLS is not: client certificates are checked only over TLS, so set grpc_tls_cert and grpc_tls_key too");
            }
            if addr.ip().is_loopback() {
                return Ok(Transport::Plaintext);
            }
            if !cfg.allow_plaintext {
                bail!(
                    "refusing to serve the gRPC API on {addr} without TLS: backends send personal data and personal-data auth tokens over it, and anyone on the network path could read and replay them. Set grpc_tls_cert and grpc_tls_key in node.toml (docs/security.md), or, only if a TLS proxy on this host terminates TLS for it, set allow_plaintext = true"
                );
            }
            tracing::warn!(%addr, "serving the gRPC API without TLS on a non-loopback address because allow_plaintext = true: whoever can reach this address can read what backends send, personal data included");
            return Ok(Transport::Plaintext);
        }
        _ => bail!("grpc_tls_cert and grpc_tls_key go together: set both (a PEM certificate chain and its private key) or neither"),
    };
    let identity = Identity::from_pem(
        read(cert, "TLS certificate (grpc_tls_cert)")?,
        read(key, "TLS private key (grpc_tls_key)")?,
    );
    let mut config = ServerTlsConfig::new().identity(identity);
    let mutual = match &cfg.grpc_client_ca {
        Some(ca) => {
            config = config.client_ca_root(Certificate::from_pem(read(
                ca,
                "client CA certificate (grpc_client_ca)",
            )?));
            true
        }
        None => false,
    };
    // Build the acceptor once now, so a certificate that does not parse or a key that does not
    // match stops the node at start instead of failing the API after it.
    tonic::transport::Server::builder()
        .tls_config(config.clone())
        .with_context(|| {
            format!(
                "the TLS files do not make a valid server configuration (grpc_tls_cert {}, grpc_tls_key {})",
                cert.display(),
                key.display()
            )
        })?;
    Ok(Transport::Tls { config, mutual })
}
