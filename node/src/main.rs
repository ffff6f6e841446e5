//! The `yui` binary: one command for keys, genesis, running a node and a local devnet.

use yui_node::{
    apidoc, audit, chain, config, driver, genesis, grpc, keys, mempool, network, p2p, store,
};

use anyhow::{bail, Context as _, Result};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

// glibc's malloc was about a sixth of a node's time under load (many small, short-lived
// allocations across threads); mimalloc without transparent huge pages keeps the peak
// resident memory within the budget (docs/adr/0009).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Yui: the ledger municipalities run together.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage ed25519 keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Create a genesis file.
    Genesis {
        #[command(subcommand)]
        command: GenesisCommand,
    },
    /// Run a node from its config file.
    Run {
        /// The node's TOML config.
        #[arg(long)]
        config: PathBuf,
        /// Override `grpc_listen`.
        #[arg(long)]
        grpc_listen: Option<std::net::SocketAddr>,
        /// Override `log_format`.
        #[arg(long, value_enum)]
        log_format: Option<config::LogFormat>,
    },
    /// Write the chain (blocks with their commit certificates) to one file.
    Export {
        /// Read a stopped node's data directory.
        #[arg(long, conflicts_with = "endpoint")]
        data_dir: Option<PathBuf>,
        /// Read a running node over gRPC, e.g. http://127.0.0.1:50051.
        #[arg(long)]
        endpoint: Option<String>,
        /// The export file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Replay and verify a chain from genesis: hash links, commit certificates, signatures,
    /// Merkle roots and state roots. Exits non-zero on the first failure.
    Verify {
        /// The network's genesis file.
        #[arg(long)]
        genesis: PathBuf,
        /// An export file.
        #[arg(long, conflicts_with = "data_dir")]
        export: Option<PathBuf>,
        /// A stopped node's data directory (its stored state is compared with the replay too).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Also write the report as JSON to this file ("-" for standard output).
        #[arg(long)]
        json: Option<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Inclusion proofs of transactions and events.
    Proof {
        #[command(subcommand)]
        command: ProofCommand,
    },
    /// Volunteer certificates: fetch the proof a volunteer carries, verify one.
    Certificate {
        #[command(subcommand)]
        command: CertificateCommand,
    },
    /// Benchmarks that print figures for this machine.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Print documentation generated from the code.
    Docs {
        #[command(subcommand)]
        command: DocsCommand,
    },
    /// Start a local network on 127.0.0.1 and print its endpoints. Ctrl-C stops it.
    Devnet {
        /// Directory for keys, genesis, configs and data (default: a new temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Number of validators (one municipality each).
        #[arg(long, default_value_t = 4)]
        validators: u32,
        /// Fault model.
        #[arg(long, value_enum, default_value = "byzantine")]
        fault_model: genesis::FaultModelName,
        /// First gRPC port (0 = pick free ports).
        #[arg(long, default_value_t = 0)]
        base_port: u16,
    },
}

#[derive(Subcommand)]
enum ProofCommand {
    /// Fetch a proof from a node and write it to a file (protobuf `yui.v1.InclusionProof`).
    Get {
        /// The node, e.g. http://127.0.0.1:50051.
        #[arg(long)]
        endpoint: String,
        /// A transaction id (hex).
        #[arg(long, conflicts_with = "event")]
        tx: Option<String>,
        /// An event cursor, HEIGHT:INDEX.
        #[arg(long)]
        event: Option<String>,
        /// Where to write the proof.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a proof offline against the genesis validator set or a trusted validator set.
    Verify {
        /// The proof file.
        proof: PathBuf,
        /// Trust the validator set of this genesis file.
        #[arg(long, conflicts_with = "validators")]
        genesis: Option<PathBuf>,
        /// Trust this validator set: a JSON object {"fault_model": "byzantine", "validators": [...]}
        /// with validators as in genesis.
        #[arg(long)]
        validators: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CertificateCommand {
    /// Fetch a certificate's proof from a node: writes the proof, its QR payload (.txt) and
    /// the QR code (.svg and .png) next to OUT.
    Get {
        /// The node, e.g. http://127.0.0.1:50051.
        #[arg(long)]
        endpoint: String,
        /// The certificate id.
        #[arg(long)]
        id: String,
        /// Where to write the proof (protobuf `yui.v1.InclusionProof`).
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a volunteer certificate offline against the consortium's validator keys and,
    /// with --endpoint, online that it has not been revoked. Exit status 1 if not valid.
    Verify {
        /// The scanned QR payload ("YUICERT1:...").
        #[arg(long, conflicts_with_all = ["qr_file", "proof"])]
        qr: Option<String>,
        /// A file holding the QR payload.
        #[arg(long, conflicts_with = "proof")]
        qr_file: Option<PathBuf>,
        /// A proof file written by `yui certificate get`.
        #[arg(long)]
        proof: Option<PathBuf>,
        /// Trust the validator set of this genesis file.
        #[arg(long, conflicts_with = "validators")]
        genesis: Option<PathBuf>,
        /// Trust this validator set (JSON, as for `yui proof verify`).
        #[arg(long)]
        validators: Option<PathBuf>,
        /// Also ask this node whether the certificate is still valid (not revoked).
        #[arg(long)]
        endpoint: Option<String>,
    },
}

/// The validator set to trust: from a genesis file or a trusted-set JSON file.
fn trusted_set(
    genesis: Option<PathBuf>,
    validators: Option<PathBuf>,
) -> Result<yui_consensus::ValidatorSet> {
    match (genesis, validators) {
        (Some(g), None) => genesis::GenesisDoc::load(&g)?.validator_set(),
        (None, Some(v)) => {
            let t: TrustedSet = serde_json::from_str(&std::fs::read_to_string(&v)?)
                .context("the validator set file is not valid")?;
            let records = t
                .validators
                .iter()
                .map(|v| {
                    Ok(yui_contracts::governance::ValidatorRecord {
                        organization: v.organization.clone(),
                        name: v.name.clone(),
                        public_key: genesis::parse_key(&v.public_key)?,
                        power: v.power,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            genesis::records_to_set(&records, t.fault_model.model())
        }
        _ => bail!("give --genesis or --validators"),
    }
}

#[derive(serde::Deserialize)]
struct TrustedSet {
    fault_model: genesis::FaultModelName,
    validators: Vec<genesis::GenesisValidator>,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Load benchmark of a real local network (separate validator processes).
    Network {
        /// Validators.
        #[arg(long, default_value_t = 4)]
        validators: u32,
        /// Measured seconds.
        #[arg(long, default_value_t = 20)]
        duration: u64,
        /// Warm-up seconds.
        #[arg(long, default_value_t = 5)]
        warmup: u64,
        /// Concurrent clients.
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Open loop at this many offered transactions per second (default: closed loop).
        #[arg(long)]
        rate: Option<u64>,
        /// Closed loop: unconfirmed transactions allowed per client.
        #[arg(long, default_value_t = 200)]
        window: usize,
        /// What the clients submit: relief pledges (each client a donor) or governance grants.
        #[arg(long, value_enum, default_value = "relief")]
        workload: yui_node::loadbench::LoadWorkload,
        /// Transactions per call: 1 uses `SubmitTransaction`, more use `SubmitTransactions`
        /// (at most 1,000).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
        batch: u16,
    },
    /// Contract execution alone (no signatures, network or consensus), in memory and on disk
    /// (fjall, sled).
    Contract {
        /// Measured calls per workload.
        #[arg(long, default_value_t = 100_000)]
        calls: usize,
        /// Calls per block (one store batch and flush per block on disk).
        #[arg(long, default_value_t = 1_000)]
        per_block: usize,
        /// Workloads to run (by default all).
        #[arg(long, value_enum)]
        workload: Vec<yui_node::contractbench::ContractWorkload>,
    },
    /// Replay speed of `yui verify` (one thread) against the machine's signature rate.
    Replay {
        /// Transactions in the synthetic chain.
        #[arg(long, default_value_t = 100_000)]
        txs: usize,
        /// Transactions per block.
        #[arg(long, default_value_t = 2_000)]
        per_block: usize,
    },
}

#[derive(Subcommand)]
enum DocsCommand {
    /// The gRPC API reference (Markdown) from the .proto files: `yui docs api > docs/api.md`.
    Api,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Generate a key into FILE (secret, mode 0600) and FILE.pub; print the public key.
    Generate {
        /// Where to write the secret key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public key of a key file.
    Show {
        /// The key file.
        key: PathBuf,
    },
}

#[derive(Subcommand)]
enum GenesisCommand {
    /// Build a genesis file from a network description (TOML), generating missing keys.
    Init {
        /// The network description (see genesis/README.md).
        #[arg(long)]
        network: PathBuf,
        /// Where keys are read from or generated into.
        #[arg(long)]
        keys_dir: PathBuf,
        /// The genesis file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

fn init_logging(format: config::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("YUI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        config::LogFormat::Json => builder.json().init(),
        config::LogFormat::Text => builder.init(),
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Keys { command } => match command {
            KeysCommand::Generate { out } => {
                let k = keys::generate(&out)?;
                println!("{}", hex::encode(k.verifying_key().to_bytes()));
                Ok(())
            }
            KeysCommand::Show { key } => {
                println!(
                    "{}",
                    hex::encode(keys::load(&key)?.verifying_key().to_bytes())
                );
                Ok(())
            }
        },
        Command::Genesis { command } => match command {
            GenesisCommand::Init {
                network,
                keys_dir,
                out,
            } => {
                let desc = network::load(&network)?;
                let doc = network::genesis_from(&desc, &keys_dir, driver::now_ms())?;
                write_json(&out, &doc)?;
                println!("wrote {} (genesis hash {})", out.display(), doc.hash()?);
                Ok(())
            }
        },
        Command::Export {
            data_dir,
            endpoint,
            out,
        } => {
            let n = match (data_dir, endpoint) {
                (Some(dir), None) => {
                    let store = audit::open_data_dir(&dir)?;
                    let genesis_hash = store
                        .get(b"m/genesis")?
                        .and_then(|g| yui_consensus::Hash::from_slice(&g))
                        .ok_or_else(|| anyhow::anyhow!("{} holds no chain", dir.display()))?;
                    let chain_id =
                        match store.get(&[b"b/".as_slice(), &1u64.to_be_bytes()].concat())? {
                            Some(b) => borsh::from_slice::<chain::StoredBlock>(&b)?.header.chain_id,
                            None => String::new(),
                        };
                    let (tip, blocks) = audit::store_blocks(store)?;
                    audit::write_export(
                        &out,
                        &audit::ExportHeader {
                            chain_id,
                            genesis_hash,
                            count: tip,
                        },
                        blocks,
                    )?
                }
                (None, Some(endpoint)) => {
                    let rt = tokio::runtime::Builder::new_multi_thread()
                        .enable_all()
                        .build()?;
                    rt.block_on(export_grpc(&endpoint, &out))?
                }
                _ => bail!("give either --data-dir or --endpoint"),
            };
            println!("exported {n} blocks to {}", out.display());
            Ok(())
        }
        Command::Verify {
            genesis,
            export,
            data_dir,
            json,
            quiet,
        } => {
            let g = genesis::GenesisDoc::load(&genesis)?;
            let progress = !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
            let report = match (export, data_dir) {
                (Some(file), None) => {
                    let (header, blocks) = audit::read_export(&file)?;
                    if header.genesis_hash != g.hash()? {
                        bail!("the export is of another network (genesis {} there, {} in the genesis file)", header.genesis_hash, g.hash()?);
                    }
                    audit::verify(&g, blocks, Some(header.count), None, progress)?
                }
                (None, Some(dir)) => {
                    let store = audit::open_data_dir(&dir)?;
                    let (tip, blocks) = audit::store_blocks(store.clone())?;
                    audit::verify(&g, blocks, Some(tip), Some(store), progress)?
                }
                _ => bail!("give either --export or --data-dir"),
            };
            print!("{}", report.human());
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(&report)? + "\n";
                if path.as_os_str() == "-" {
                    print!("{text}");
                } else {
                    std::fs::write(&path, text)?;
                }
            }
            if report.failure.is_some() {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Proof {
            command:
                ProofCommand::Get {
                    endpoint,
                    tx,
                    event,
                    out,
                },
        } => {
            use yui_proto::v1 as pb;
            let target = match (tx, event) {
                (Some(t), None) => pb::get_proof_request::Target::TxId(
                    hex::decode(t.trim()).context("--tx must be hex")?,
                ),
                (None, Some(e)) => {
                    let (h, i) = e
                        .split_once(':')
                        .ok_or_else(|| anyhow::anyhow!("--event is HEIGHT:INDEX"))?;
                    pb::get_proof_request::Target::Event(pb::Cursor {
                        height: h.parse()?,
                        index: i.parse()?,
                    })
                }
                _ => bail!("give --tx or --event"),
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let proof = rt.block_on(async {
                let mut c = pb::ledger_client::LedgerClient::connect(endpoint.clone()).await?;
                Ok::<_, anyhow::Error>(
                    c.get_proof(pb::GetProofRequest {
                        target: Some(target),
                    })
                    .await?
                    .into_inner(),
                )
            })?;
            std::fs::write(&out, prost::Message::encode_to_vec(&proof))?;
            println!("wrote {}", out.display());
            Ok(())
        }
        Command::Proof {
            command:
                ProofCommand::Verify {
                    proof,
                    genesis,
                    validators,
                },
        } => {
            let set = trusted_set(genesis, validators)?;
            let bytes = std::fs::read(&proof)
                .with_context(|| format!("cannot read {}", proof.display()))?;
            match yui_node::proof::decode(&bytes).and_then(|p| yui_node::proof::verify(&p, &set)) {
                Ok(v) => {
                    println!("VALID: transaction {} is in block {} ({}), committed by a quorum of the trusted validators; call {}", v.tx_id, v.height, v.block_hash, if v.success { "succeeded" } else { "failed (recorded)" });
                    if let Some(e) = v.event {
                        println!("event: {e:?}");
                    }
                    Ok(())
                }
                Err(e) => {
                    println!("INVALID: {e:#}");
                    std::process::exit(1);
                }
            }
        }
        Command::Certificate {
            command: CertificateCommand::Get { endpoint, id, out },
        } => {
            use yui_proto::v1 as pb;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let r = rt.block_on(async {
                let mut c = pb::volunteer_client::VolunteerClient::connect(endpoint).await?;
                Ok::<_, anyhow::Error>(
                    c.get_certificate_proof(pb::GetCertificateProofRequest { certificate_id: id })
                        .await?
                        .into_inner(),
                )
            })?;
            std::fs::write(&out, &r.proof)?;
            std::fs::write(out.with_extension("txt"), &r.qr_text)?;
            std::fs::write(out.with_extension("svg"), &r.qr_svg)?;
            std::fs::write(out.with_extension("png"), &r.qr_png)?;
            println!(
                "wrote {} ({} bytes) and its QR code ({} characters, QR version {}) as .txt, .svg and .png",
                out.display(),
                r.proof.len(),
                r.qr_text.len(),
                r.qr_version
            );
            Ok(())
        }
        Command::Certificate {
            command:
                CertificateCommand::Verify {
                    qr,
                    qr_file,
                    proof,
                    genesis,
                    validators,
                    endpoint,
                },
        } => {
            use yui_node::volunteer_api::{proof_from_qr, verify_proof};
            let bytes = match (qr, qr_file, proof) {
                (Some(t), None, None) => proof_from_qr(&t)?,
                (None, Some(f), None) => proof_from_qr(&std::fs::read_to_string(&f)?)?,
                (None, None, Some(p)) => {
                    std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?
                }
                _ => bail!("give one of --qr, --qr-file or --proof"),
            };
            let set = trusted_set(genesis, validators)?;
            let cert = match verify_proof(&bytes, &set) {
                Ok(c) => c,
                Err(e) => {
                    println!("INVALID: {e:#}");
                    std::process::exit(1);
                }
            };
            let c = &cert.certificate;
            println!(
                "PROOF VALID: certificate {} of volunteer {} was issued by {} in block {} ({}), committed by a quorum of the trusted validators; skills: {}",
                c.certificate_id,
                c.volunteer_id,
                c.issuer_organization,
                cert.height,
                cert.block_hash,
                c.skills.join(", ")
            );
            let Some(endpoint) = endpoint else {
                println!("(offline check only: give --endpoint to check that it has not been revoked since)");
                return Ok(());
            };
            use yui_proto::v1 as pb;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let r = rt.block_on(async {
                let mut v = pb::volunteer_client::VolunteerClient::connect(endpoint).await?;
                Ok::<_, anyhow::Error>(
                    v.verify_certificate(pb::VerifyCertificateRequest {
                        certificate_id: c.certificate_id.clone(),
                        proof: bytes,
                        qr_text: String::new(),
                    })
                    .await?
                    .into_inner(),
                )
            })?;
            if r.valid {
                println!("VALID: the certificate is in force (not revoked)");
                Ok(())
            } else {
                println!("INVALID: {}", r.reason);
                std::process::exit(1);
            }
        }
        Command::Bench {
            command: BenchCommand::Replay { txs, per_block },
        } => yui_node::bench::replay(txs, per_block),
        Command::Bench {
            command:
                BenchCommand::Contract {
                    calls,
                    per_block,
                    workload,
                },
        } => yui_node::contractbench::run(calls, per_block, &workload),
        Command::Bench {
            command:
                BenchCommand::Network {
                    validators,
                    duration,
                    warmup,
                    clients,
                    rate,
                    window,
                    workload,
                    batch,
                },
        } => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(yui_node::loadbench::run(
                yui_node::loadbench::BenchOptions {
                    validators,
                    duration_s: duration,
                    warmup_s: warmup,
                    clients,
                    rate,
                    window,
                    workload,
                    batch: usize::from(batch),
                },
            ))
        }
        Command::Docs {
            command: DocsCommand::Api,
        } => {
            print!("{}", apidoc::render(yui_proto::FILE_DESCRIPTOR_SET)?);
            Ok(())
        }
        Command::Run {
            config,
            grpc_listen,
            log_format,
        } => {
            let mut cfg = config::NodeConfig::load(&config)?;
            if let Some(a) = grpc_listen {
                cfg.grpc_listen = a;
            }
            if let Some(f) = log_format {
                cfg.log_format = f;
            }
            init_logging(cfg.log_format);
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(run_node(cfg))
        }
        Command::Devnet {
            dir,
            validators,
            fault_model,
            base_port,
        } => {
            init_logging(config::LogFormat::Text);
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(devnet(dir, validators, fault_model, base_port))
        }
    }
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(value)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))
}

async fn run_node(cfg: config::NodeConfig) -> Result<()> {
    let genesis = genesis::GenesisDoc::load(&cfg.genesis)?;
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data directory {}", cfg.data_dir.display()))?;
    let (engine, store) = store::open_dir(&cfg.data_dir.join("chain"))
        .context("cannot open the chain store (is another node using this data directory?)")?;
    tracing::info!(engine = engine.name(), "chain store opened");
    let chain = chain::Chain::open(store, &genesis)?;
    let key = cfg.validator_key.as_deref().map(keys::load).transpose()?;
    if let Some(k) = &key {
        let set = chain.reader.validator_set(chain.tip().height + 1)?;
        if !set.contains(&k.verifying_key().to_bytes()) {
            bail!(
                "the validator key {} is not in the validator set of this network",
                hex::encode(k.verifying_key().to_bytes())
            );
        }
    }
    let tip = chain.tip().clone();
    tracing::info!(chain_id = %genesis.chain_id, height = tip.height, hash = %tip.hash, "chain opened");
    let mempool = Arc::new(Mutex::new(mempool::Mempool::new(mempool::MempoolLimits {
        max_txs: cfg.mempool.max_txs,
        max_bytes: cfg.mempool.max_bytes,
    })));
    let reader = chain.reader.clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if let Some(m) = cfg.metrics_listen {
        yui_node::telemetry::install(m).with_context(|| format!("cannot serve metrics on {m}"))?;
        println!("metrics: http://{m}/metrics");
    }
    let net_key = match (&key, &cfg.node_key) {
        (Some(k), _) => k.clone(),
        (None, Some(path)) => keys::load(path)?,
        (None, None) => bail!("an observer needs `node_key` (listed in genesis observers); a validator needs `validator_key`"),
    };
    let allowed = genesis.network_keys()?;
    if !allowed.contains(&net_key.verifying_key().to_bytes()) {
        bail!("this node's key is not listed in genesis (validators or observers), so no peer would accept it");
    }
    let p2p_listen = {
        let l = std::net::TcpListener::bind(cfg.p2p_listen)
            .with_context(|| format!("cannot listen for peers on {}", cfg.p2p_listen))?;
        l.local_addr()?
    };
    let (in_tx, in_rx) = tokio::sync::mpsc::channel(8192);
    let (net_out, net_task) = p2p::spawn(
        p2p::NetConfig {
            keypair: p2p::keypair_of(&net_key)?,
            listen: p2p_listen,
            peers: cfg.peers.clone(),
            allowed,
            chain_id: genesis.chain_id.clone(),
            partition_flag: std::env::var_os("YUI_TEST_FAULTS")
                .map(|_| cfg.data_dir.join("partitioned")),
        },
        reader.clone(),
        in_tx,
        stop_rx.clone(),
    )?;
    let (driver, shared) = driver::Driver::new(
        chain,
        key,
        genesis.consensus.clone(),
        &cfg.data_dir.join("consensus.wal"),
        mempool,
        Some(driver::NetLink {
            out: net_out,
            inbound: in_rx,
        }),
    )?;
    let listener = std::net::TcpListener::bind(cfg.grpc_listen)
        .with_context(|| format!("cannot listen on {}", cfg.grpc_listen))?;
    let addr = listener.local_addr()?;
    drop(listener);
    let api = grpc::LedgerApi {
        chain: reader,
        shared,
        read_only: cfg.validator_key.is_none(),
    };
    // The personal-data vault: a store separate from the ledger, never gossiped (issue 8).
    let vault = yui_node::vault::Vault::open(&cfg.data_dir.join("vault"))
        .map_err(|e| anyhow::anyhow!("cannot open the personal-data vault: {e}"))?;
    let personal_data = yui_node::vault_api::PersonalDataApi::new(
        vault,
        Arc::new(yui_node::vault_api::LedgerAccounts(api.chain.clone())),
    );
    let server = tokio::spawn(grpc::serve(addr, api, Some(personal_data), stop_rx.clone()));
    println!(
        "yui node ready: gRPC http://{addr} (chain {}, height {})",
        genesis.chain_id, tip.height
    );
    let driver_task = tokio::spawn(driver.run(stop_rx));
    tokio::select! {
        r = tokio::signal::ctrl_c() => { r?; tracing::info!("stopping on Ctrl-C"); }
        r = sigterm() => { r?; tracing::info!("stopping on SIGTERM"); }
    }
    let _ = stop_tx.send(true);
    driver_task.await??;
    server.await??;
    let _ = net_task.await;
    Ok(())
}

async fn sigterm() -> Result<()> {
    #[cfg(unix)]
    {
        let mut s = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        s.recv().await;
        Ok(())
    }
    #[cfg(not(unix))]
    {
        std::future::pending::<()>().await;
        Ok(())
    }
}

const DEVNET_ORGS: [(&str, &str); 7] = [
    ("hachioji", "Hachioji City"),
    ("tama", "Tama City"),
    ("hino", "Hino City"),
    ("machida", "Machida City"),
    ("inagi", "Inagi City"),
    ("fuchu", "Fuchu City"),
    ("chofu", "Chofu City"),
];

async fn devnet(
    dir: Option<PathBuf>,
    validators: u32,
    fm: genesis::FaultModelName,
    base_port: u16,
) -> Result<()> {
    if validators == 0 || validators as usize > DEVNET_ORGS.len() {
        bail!("a devnet has 1 to {} validators", DEVNET_ORGS.len());
    }
    let dir = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("yui-devnet-{}", driver::now_ms())),
    };
    std::fs::create_dir_all(&dir)?;
    let orgs = &DEVNET_ORGS[..validators as usize];
    let desc = network::NetworkDesc {
        chain_id: "yui-devnet".into(),
        fault_model: fm,
        max_expiry_blocks: 600,
        consensus: genesis::ConsensusParams::default(),
        parameters: Default::default(),
        organizations: orgs
            .iter()
            .map(|(id, name)| network::OrgDesc {
                id: id.to_string(),
                name: name.to_string(),
                validators: 1,
                observers: 0,
                admins: 1,
                admin_roles: vec!["org_admin".into(), "municipality_admin".into()],
            })
            .collect(),
    };
    let keys_dir = dir.join("keys");
    let genesis_path = dir.join("genesis.json");
    if !genesis_path.exists() {
        let doc = network::genesis_from(&desc, &keys_dir, driver::now_ms())?;
        write_json(&genesis_path, &doc)?;
    }
    let mut ports = Vec::new();
    let free = network::free_ports(3 * validators as usize)?;
    for i in 0..validators as u16 {
        ports.push(if base_port == 0 {
            let j = 3 * usize::from(i);
            (free[j], free[j + 1], free[j + 2])
        } else {
            (
                base_port + 3 * i,
                base_port + 3 * i + 1,
                base_port + 3 * i + 2,
            )
        });
    }
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    println!(
        "Yui devnet: {validators} validators, {fm:?} fault model, directory {}",
        dir.display()
    );
    for (i, (id, _)) in orgs.iter().enumerate() {
        let (grpc, p2p, metrics) = ports[i];
        let node_dir = dir.join(format!("node{}", i + 1));
        std::fs::create_dir_all(&node_dir)?;
        let peers: Vec<String> = ports
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, (_, p, _))| format!("\"127.0.0.1:{p}\""))
            .collect();
        let cfg = format!(
            "data_dir = \"data\"\ngenesis = \"../genesis.json\"\nvalidator_key = \"../keys/{id}-validator-1.key\"\ngrpc_listen = \"127.0.0.1:{grpc}\"\np2p_listen = \"127.0.0.1:{p2p}\"\nmetrics_listen = \"127.0.0.1:{metrics}\"\npeers = [{}]\n",
            peers.join(", ")
        );
        std::fs::write(node_dir.join("node.toml"), cfg)?;
        let log = std::fs::File::create(node_dir.join("node.log"))?;
        let child = tokio::process::Command::new(&exe)
            .arg("run")
            .arg("--config")
            .arg(node_dir.join("node.toml"))
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?;
        println!(
            "  {id}-validator-1  gRPC http://127.0.0.1:{grpc}  p2p 127.0.0.1:{p2p}  metrics http://127.0.0.1:{metrics}/metrics  log {}",
            node_dir.join("node.log").display()
        );
        children.push(child);
    }
    println!(
        "Admin keys (org_admin + municipality_admin) are in {}. Press Ctrl-C to stop.",
        keys_dir.display()
    );
    tokio::signal::ctrl_c().await?;
    for c in &mut children {
        if let Some(pid) = c.id() {
            // SIGTERM lets each node flush and stop cleanly.
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
    }
    for c in &mut children {
        let _ = c.wait().await;
    }
    Ok(())
}

async fn export_grpc(endpoint: &str, out: &Path) -> Result<u64> {
    use yui_proto::v1 as pb;
    let mut c = pb::ledger_client::LedgerClient::connect(endpoint.to_string())
        .await
        .with_context(|| format!("cannot connect to {endpoint}"))?
        .max_decoding_message_size(64 * 1024 * 1024);
    let info = c
        .get_chain_info(pb::GetChainInfoRequest {})
        .await?
        .into_inner();
    let genesis_hash = yui_consensus::Hash::from_slice(&info.genesis_hash)
        .ok_or_else(|| anyhow::anyhow!("bad genesis hash"))?;
    let mut blocks = Vec::with_capacity(info.height as usize);
    for h in 1..=info.height {
        let b = c
            .get_block(pb::GetBlockRequest {
                by: Some(pb::get_block_request::By::Height(h)),
            })
            .await?
            .into_inner()
            .block
            .ok_or_else(|| anyhow::anyhow!("node returned no block {h}"))?;
        blocks.push(grpc::block_from_proto(b));
    }
    audit::write_export(
        out,
        &audit::ExportHeader {
            chain_id: info.chain_id,
            genesis_hash,
            count: info.height,
        },
        blocks.into_iter(),
    )
}
