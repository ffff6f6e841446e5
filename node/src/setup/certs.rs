//! Certificates for a local network: a CA made for it, a server certificate per node (for
//! `localhost` and 127.0.0.1) and one client certificate, written as PEM files under
//! `dir/tls/`; and the client side, a gRPC channel that trusts such a CA. A real deployment
//! uses its own CA (docs/security.md); this module is for `yui devnet` and the tests, and must
//! never write outside the directory it is given.

use anyhow::{Context as _, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// The files of one certificate.
#[derive(Clone, Debug)]
pub struct CertFiles {
    /// PEM certificate.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// What [`make_local_ca`] wrote.
#[derive(Clone, Debug)]
pub struct LocalTls {
    /// The CA certificate clients trust (`ca.pem`).
    pub ca: PathBuf,
    /// One server certificate per node name, in the order given.
    pub servers: Vec<CertFiles>,
    /// A client certificate signed by the CA (for nodes that require client certificates).
    pub client: CertFiles,
}

fn write_secret(path: &Path, pem: &str) -> Result<()> {
    std::fs::write(path, pem).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", path.display()))?;
    }
    Ok(())
}

fn named(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Yui local network");
    dn.push(DnType::CommonName, cn);
    dn
}

/// Make a CA and certificates for `nodes` (server, for `localhost` and 127.0.0.1) and one
/// client in `dir/tls/`. Keys are readable by the owner only. Existing files are replaced.
pub fn make_local_ca(dir: &Path, nodes: &[String]) -> Result<LocalTls> {
    let hosts = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let named: Vec<(String, Vec<String>)> =
        nodes.iter().map(|n| (n.clone(), hosts.clone())).collect();
    make_ca(dir, &named)
}

/// [`make_local_ca`] with the host names and IP addresses each node's certificate names.
pub fn make_ca(dir: &Path, nodes: &[(String, Vec<String>)]) -> Result<LocalTls> {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).with_context(|| format!("cannot create {}", tls.display()))?;
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.distinguished_name = named("Yui local CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let ca = tls.join("ca.pem");
    std::fs::write(&ca, ca_cert.pem()).with_context(|| format!("cannot write {}", ca.display()))?;
    write_secret(&tls.join("ca.key"), &ca_key.serialize_pem())?;
    let issue = |name: &str, hosts: Option<&Vec<String>>| -> Result<CertFiles> {
        let key = KeyPair::generate()?;
        let server = hosts.is_some();
        let sans = hosts.cloned().unwrap_or_default();
        let mut params = CertificateParams::new(sans)?;
        params.distinguished_name = named(name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let cert = params.signed_by(&key, &ca_cert, &ca_key)?;
        let files = CertFiles {
            cert: tls.join(format!("{name}.pem")),
            key: tls.join(format!("{name}.key")),
        };
        std::fs::write(&files.cert, cert.pem())
            .with_context(|| format!("cannot write {}", files.cert.display()))?;
        write_secret(&files.key, &key.serialize_pem())?;
        Ok(files)
    };
    let servers = nodes
        .iter()
        .map(|(n, hosts)| issue(n, Some(hosts)))
        .collect::<Result<Vec<_>>>()?;
    let client = issue("client", None)?;
    Ok(LocalTls {
        ca,
        servers,
        client,
    })
}

/// A channel to `endpoint` (`http://` or `https://`): over TLS trusting the CA in `ca` (a PEM
/// file) when given, presenting `client` as its certificate when given. The `yui` commands
/// that call a node use it with `YUI_CA_CERT`, `YUI_CLIENT_CERT` and `YUI_CLIENT_KEY`
/// ([`from_env`]).
pub async fn channel(
    endpoint: &str,
    ca: Option<&Path>,
    client: Option<&CertFiles>,
) -> Result<Channel> {
    let mut ep = Endpoint::from_shared(endpoint.to_string())
        .with_context(|| format!("{endpoint} is not an endpoint URL"))?;
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
        // The server name checked is the endpoint's host (a DNS name or an IP address).
        let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem));
        if let Some(c) = client {
            tls = tls.identity(Identity::from_pem(
                std::fs::read(&c.cert)
                    .with_context(|| format!("cannot read {}", c.cert.display()))?,
                std::fs::read(&c.key)
                    .with_context(|| format!("cannot read {}", c.key.display()))?,
            ));
        }
        ep = ep.tls_config(tls)?;
    }
    Ok(ep.connect().await?)
}

/// [`channel`] with the CA and client certificate the environment names: `YUI_CA_CERT` (a PEM
/// CA file: TLS), `YUI_CLIENT_CERT` and `YUI_CLIENT_KEY` (mutual TLS).
pub async fn from_env(endpoint: &str) -> Result<Channel> {
    let ca = std::env::var_os("YUI_CA_CERT").map(PathBuf::from);
    let client = match (
        std::env::var_os("YUI_CLIENT_CERT"),
        std::env::var_os("YUI_CLIENT_KEY"),
    ) {
        (Some(cert), Some(key)) => Some(CertFiles {
            cert: cert.into(),
            key: key.into(),
        }),
        (None, None) => None,
        _ => anyhow::bail!("YUI_CLIENT_CERT and YUI_CLIENT_KEY go together"),
    };
    channel(endpoint, ca.as_deref(), client.as_ref())
        .await
        .with_context(|| format!("cannot connect to {endpoint}"))
}
