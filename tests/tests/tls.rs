//! The gRPC API over TLS, end to end with real processes: a node with a certificate serves
//! only TLS, to clients that trust its CA; with `grpc_client_ca` it also requires a client
//! certificate of that CA; and a node refuses to start serving plaintext beyond its own host
//! unless its config says `allow_plaintext = true`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};
use yui_node::setup::certs::{self, CertFiles};
use yui_proto::v1 as pb;
use yui_tests::*;

async fn chain_info(
    endpoint: &str,
    ca: Option<&Path>,
    client: Option<&CertFiles>,
) -> anyhow::Result<pb::GetChainInfoResponse> {
    let ch = certs::channel(endpoint, ca, client).await?;
    Ok(pb::ledger_client::LedgerClient::new(ch)
        .get_chain_info(pb::GetChainInfoRequest {})
        .await?
        .into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_serves_tls_to_clients_that_trust_its_ca_and_checks_client_certificates() {
    let mut net = Net::start_tls(1).await.unwrap();
    let endpoint = net.nodes[0].endpoint.clone();
    assert!(endpoint.starts_with("https://"), "{endpoint}");
    let ca = net.dir.path().join("tls/ca.pem");
    let info = chain_info(&endpoint, Some(&ca), None).await.unwrap();
    assert_eq!(info.chain_id, net.chain_id);
    // Plaintext on the same port gets nothing.
    let plain = endpoint.replacen("https://", "http://", 1);
    assert!(chain_info(&plain, None, None).await.is_err());
    // A client trusting another CA refuses the node's certificate.
    let other = tempfile::tempdir().unwrap();
    let other_ca = certs::make_local_ca(other.path(), &["x".into()]).unwrap();
    assert!(chain_info(&endpoint, Some(&other_ca.ca), None)
        .await
        .is_err());
    // The `yui` commands that call a node trust the CA `YUI_CA_CERT` names.
    let gov = |ca: Option<&Path>| {
        let mut cmd = std::process::Command::new(yui_bin().unwrap());
        cmd.args(["gov", "organizations", "--endpoint", &endpoint]);
        cmd.env_remove("YUI_CA_CERT");
        if let Some(ca) = ca {
            cmd.env("YUI_CA_CERT", ca);
        }
        cmd.output().unwrap()
    };
    let out = gov(Some(&ca));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("tama"));
    assert!(
        !gov(None).status.success(),
        "a plaintext call to a TLS node succeeded"
    );

    // Mutual TLS: the same node, now requiring a client certificate of the local CA.
    net.nodes[0].stop();
    let mut config = net.nodes[0].config.clone();
    config.grpc_client_ca = Some("../tls/ca.pem".into());
    std::fs::write(&net.nodes[0].config_path, toml::to_string(&config).unwrap()).unwrap();
    net.nodes[0].config = config;
    net.nodes[0].start().await.unwrap();
    let client = CertFiles {
        cert: net.dir.path().join("tls/client.pem"),
        key: net.dir.path().join("tls/client.key"),
    };
    assert_eq!(
        chain_info(&endpoint, Some(&ca), Some(&client))
            .await
            .unwrap()
            .chain_id,
        net.chain_id
    );
    assert!(
        chain_info(&endpoint, Some(&ca), None).await.is_err(),
        "a client without a certificate was served"
    );
    let stranger = CertFiles {
        cert: other.path().join("tls/client.pem"),
        key: other.path().join("tls/client.key"),
    };
    assert!(
        chain_info(&endpoint, Some(&ca), Some(&stranger))
            .await
            .is_err(),
        "a client certificate of another CA was accepted"
    );
}

/// Run `yui run` on `config` (a TOML text written into `dir`) and return its exit status and
/// stderr; it must exit by itself within 30 s.
fn run_config(dir: &Path, config: &str) -> (std::process::ExitStatus, String) {
    let path = dir.join("node.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = std::process::Command::new(yui_bin().unwrap())
        .args(["run", "--config"])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read as _;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status, err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the node did not exit by itself");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_node_refuses_plaintext_beyond_loopback_and_half_a_tls_config() {
    let dir = tempfile::tempdir().unwrap();
    let ports = free_ports(1).unwrap();
    // The check comes before anything is opened or bound: nothing listens on 0.0.0.0.
    let base = format!(
        "data_dir = \"data\"\ngenesis = \"genesis.json\"\np2p_listen = \"127.0.0.1:{}\"\n",
        ports[0]
    );
    let (status, err) = run_config(
        dir.path(),
        &format!("{base}grpc_listen = \"0.0.0.0:50999\"\n"),
    );
    assert!(!status.success());
    assert!(
        err.contains("refusing to serve the gRPC API on 0.0.0.0:50999 without TLS")
            && err.contains("allow_plaintext = true"),
        "{err}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "the node opened its data directory"
    );
    let (status, err) = run_config(
        dir.path(),
        &format!("{base}grpc_listen = \"127.0.0.1:0\"\ngrpc_tls_cert = \"cert.pem\"\n"),
    );
    assert!(!status.success());
    assert!(
        err.contains("grpc_tls_cert and grpc_tls_key go together"),
        "{err}"
    );
    let (status, err) = run_config(
        dir.path(),
        &format!("{base}grpc_listen = \"127.0.0.1:0\"\ngrpc_client_ca = \"ca.pem\"\n"),
    );
    assert!(!status.success());
    assert!(
        err.contains("grpc_client_ca is set but TLS is not"),
        "{err}"
    );
    // A certificate that is not one stops the node at start.
    std::fs::write(dir.path().join("cert.pem"), "not a certificate").unwrap();
    std::fs::write(dir.path().join("key.pem"), "not a key").unwrap();
    let (status, err) = run_config(
        dir.path(),
        &format!("{base}grpc_listen = \"127.0.0.1:0\"\ngrpc_tls_cert = \"cert.pem\"\ngrpc_tls_key = \"key.pem\"\n"),
    );
    assert!(!status.success());
    assert!(
        err.contains("do not make a valid server configuration"),
        "{err}"
    );
}
