//! `yui bench network`: a load benchmark of a real local network. Starts validator processes
//! (byzantine fault model, separate processes, real disks) on 127.0.0.1, drives signed
//! transactions through the gRPC API from concurrent clients for a fixed duration after a
//! warm-up, and prints committed transactions per second, commit latency percentiles (submit
//! to committed event), per-node CPU and peak memory, disk bytes per transaction, and the
//! machine's single-core ed25519 verification rate measured in the same run with the bound it
//! implies. Closed loop by default; `--rate` gives an open loop at a fixed offered rate.
//!
//! The transactions are relief pledges, each client a donor (the default), or governance role
//! grants to fresh accounts signed by the network's admin account (`--workload governance`).

use crate::bench::common::median;
use crate::runtime::driver::now_ms;
use crate::setup::genesis::{ConsensusParams, FaultModelName};
use crate::setup::localnet::{LocalNet, LocalNode, Options};
use crate::setup::network::{NetworkDesc, OrgDesc};
use anyhow::{anyhow, Context as _, Result};
use ed25519_dalek::SigningKey;

use crate::bench::common::{grant_call, grant_tx, relief, signed};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;
use yui_proto::v1 as pb;

/// Benchmark settings.
pub struct BenchOptions {
    /// Validators to start.
    pub validators: u32,
    /// Measured seconds.
    pub duration_s: u64,
    /// Warm-up seconds (not measured).
    pub warmup_s: u64,
    /// Concurrent clients.
    pub clients: usize,
    /// Open loop: offered transactions per second in total (None = closed loop).
    pub rate: Option<u64>,
    /// Most unconfirmed transactions per client in the closed loop.
    pub window: usize,
    /// What the clients submit.
    pub workload: LoadWorkload,
    /// Transactions per call (1: `SubmitTransaction`; more: `SubmitTransactions`).
    pub batch: usize,
    /// Validators stopped after the start (the last ones), to measure a degraded network;
    /// the clients submit to the others.
    pub down: usize,
    /// Print throughput, latency, each node's resident memory and its store's buffers every
    /// this many seconds (warm-up included, at negative times), and the measurement's drift at
    /// the end (a soak run); 0: only the summary.
    pub report_every_s: u64,
}

fn cpu_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1.to_string();
            let f: Vec<&str> = after.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0)
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The process of a node's `yui run`: the started process itself, or, when it was started under
/// a launcher that forks (a profiler), the first process below it that runs this same program.
fn node_pid(node: &LocalNode) -> Option<u32> {
    let pid = node.pid()?;
    if node.launcher.is_empty() {
        return Some(pid);
    }
    let exe = std::env::current_exe().ok()?;
    let mut queue = std::collections::VecDeque::from([pid]);
    // A launcher's tree is a few processes deep; the bound keeps a strange one from looping.
    for _ in 0..64 {
        let p = queue.pop_front()?;
        if std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == exe) {
            return Some(p);
        }
        let children = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children"));
        queue.extend(
            children
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    None
}

/// Bytes the files under `p` occupy on disk (allocated blocks, not apparent length: fjall's
/// journal is a sparse file of 64 MiB from its start).
fn dir_bytes(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Run the benchmark and print the report.
pub async fn run(opts: BenchOptions) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("yui-bench-net-{}", std::process::id()));
    let desc = bench_network(opts.validators);
    // Metrics on: the soak report reads each node's store buffers from them.
    let net_opts = Options {
        metrics: true,
        ..Options::default()
    };
    let mut net = LocalNet::create(&dir, &desc, now_ms(), &net_opts)?;
    // Ctrl-C or SIGTERM ends the run early: the nodes are stopped and their directories
    // removed all the same (a signal would otherwise leave them running).
    let outcome = tokio::select! {
        r = measure(&opts, &mut net) => r,
        s = crate::cli::stop_requested() => Err(anyhow!("benchmark stopped by {}", s?)),
    };
    net.stop_all();
    drop(net);
    let _ = std::fs::remove_dir_all(&dir);
    if outcome? == 0 {
        return Err(anyhow!("no transaction committed")).context("benchmark failed");
    }
    Ok(())
}

/// Start the nodes, drive the load and print the report; the transactions committed in total.
async fn measure(opts: &BenchOptions, net: &mut LocalNet) -> Result<u64> {
    let doc = net.genesis.clone();
    let admin = crate::setup::keys::load(&net.key_path("m0-admin-1"))?;
    // The nodes log warnings only, unless `YUI_BENCH_NODE_LOG` sets their filter (diagnosis).
    let node_log = std::env::var("YUI_BENCH_NODE_LOG").unwrap_or_else(|_| "warn".into());
    // `YUI_BENCH_PROFILE` (diagnosis): a command, split at whitespace, that the second node is
    // started under, for example `heaptrack -o /tmp/heap` with a `system-alloc` build.
    if let Ok(launcher) = std::env::var("YUI_BENCH_PROFILE") {
        let node = net
            .nodes
            .get_mut(1)
            .ok_or_else(|| anyhow!("YUI_BENCH_PROFILE needs at least two nodes"))?;
        node.launcher = launcher.split_whitespace().map(Into::into).collect();
        eprintln!("{} starts under `{launcher}`", node.name);
    }
    net.start_all(&std::env::current_exe()?, &[("YUI_LOG", node_log.as_str())])
        .await?;
    if opts.down >= net.nodes.len() {
        return Err(anyhow!("--down must leave at least one validator running"));
    }
    for n in net.nodes.iter_mut().rev().take(opts.down) {
        n.stop();
    }
    let live = net.nodes.len() - opts.down;
    let procs = &net.nodes[..live];
    if opts.workload == LoadWorkload::Relief {
        relief_setup(&procs[0].endpoint, &admin, &doc.chain_id, opts.clients).await?;
    }
    eprintln!(
        "network up: {} validators ({} stopped); warming up {} s, measuring {} s",
        opts.validators, opts.down, opts.warmup_s, opts.duration_s
    );
    // Committed events from node 0: tx id -> commit instant.
    let submitted: Arc<Mutex<HashMap<Vec<u8>, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let committed: Arc<Mutex<Vec<(Instant, f64)>>> = Arc::new(Mutex::new(Vec::new()));
    let inflight: Arc<std::sync::atomic::AtomicI64> =
        Arc::new(std::sync::atomic::AtomicI64::new(0));
    {
        let mut c = pb::ledger_client::LedgerClient::connect(procs[0].endpoint.clone()).await?;
        let mut stream = c
            .subscribe_events(pb::SubscribeEventsRequest { after: None })
            .await?
            .into_inner();
        let (submitted, committed, inflight) =
            (submitted.clone(), committed.clone(), inflight.clone());
        tokio::spawn(async move {
            while let Some(Ok(env)) = stream.next().await {
                let now = Instant::now();
                if let Some(t) = submitted.lock().ok().and_then(|mut m| m.remove(&env.tx_id)) {
                    inflight.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                    if let Ok(mut c) = committed.lock() {
                        c.push((now, now.duration_since(t).as_secs_f64()));
                    }
                }
            }
        });
    }
    let chain_id = doc.chain_id.clone();
    let stop = Instant::now() + Duration::from_secs(opts.warmup_s + opts.duration_s);
    let batch = opts.batch.clamp(1, crate::api::ledger::MAX_SUBMIT_BATCH);
    // Open loop: each client sends one call of `batch` transactions per interval.
    let per_client_interval = opts
        .rate
        .map(|r| Duration::from_secs_f64((opts.clients * batch) as f64 / r.max(1) as f64));
    let mut tasks = Vec::new();
    for k in 0..opts.clients {
        let endpoint = procs[k % procs.len()].endpoint.clone();
        let (admin, chain_id, submitted, inflight) = (
            admin.clone(),
            chain_id.clone(),
            submitted.clone(),
            inflight.clone(),
        );
        let window = (opts.window * opts.clients) as i64;
        let workload = opts.workload;
        // Derived once: deriving a key from its seed costs a scalar multiplication.
        let donor = donor_key(k);
        tasks.push(tokio::spawn(async move {
            let Ok(mut c) = pb::ledger_client::LedgerClient::connect(endpoint).await else {
                return 0u64;
            };
            let mut n = 0u64;
            let mut seq = 0u64;
            let mut height = 0u64;
            let mut height_at: Option<Instant> = None;
            let mut next = Instant::now();
            while Instant::now() < stop {
                if let Some(iv) = per_client_interval {
                    tokio::time::sleep_until(next.into()).await;
                    next += iv;
                } else if inflight.load(std::sync::atomic::Ordering::Relaxed) >= window {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                }
                if height_at.is_none_or(|t| t.elapsed() > Duration::from_secs(1)) {
                    if let Ok(info) = c.get_chain_info(pb::GetChainInfoRequest {}).await {
                        height = info.into_inner().height;
                        height_at = Some(Instant::now());
                    }
                }
                let txs: Vec<pb::SignedTransaction> = (0..batch)
                    .map(|_| {
                        seq += 1;
                        match workload {
                            LoadWorkload::Relief => pledge_tx(&donor, &chain_id, height + 500),
                            LoadWorkload::Governance => {
                                grant_tx(&admin, &chain_id, height + 500, k as u64, seq)
                            }
                        }
                    })
                    .collect();
                let t0 = Instant::now();
                let accepted: Vec<Vec<u8>> = if batch == 1 {
                    c.submit_transaction(pb::SubmitTransactionRequest {
                        transaction: txs.into_iter().next(),
                    })
                    .await
                    .map(|r| vec![r.into_inner().tx_id])
                    .unwrap_or_default()
                } else {
                    c.submit_transactions(pb::SubmitTransactionsRequest { transactions: txs })
                        .await
                        .map(|r| {
                            r.into_inner()
                                .results
                                .into_iter()
                                .filter(|r| r.code == 0)
                                .map(|r| r.tx_id)
                                .collect()
                        })
                        .unwrap_or_default()
                };
                if let Ok(mut m) = submitted.lock() {
                    for id in &accepted {
                        m.insert(id.clone(), t0);
                    }
                }
                let count = accepted.len() as u64;
                inflight.fetch_add(count as i64, std::sync::atomic::Ordering::Relaxed);
                n += count;
            }
            n
        }));
    }
    let pids: Vec<u32> = procs.iter().filter_map(node_pid).collect();
    let metrics: Vec<std::net::SocketAddr> = procs
        .iter()
        .filter_map(|p| p.config.metrics_listen)
        .collect();
    let watch = Watch {
        every_s: opts.report_every_s,
        committed: &committed,
        pids: &pids,
        metrics: &metrics,
    };
    let t_warm = Instant::now();
    let t_start = t_warm + Duration::from_secs(opts.warmup_s);
    if watch.every_s > 0 {
        println!("elapsed_s  committed_tx_s  p99_s  rss_mb_per_node  store_buffers_mb_per_node");
    }
    // Warm-up lines have negative elapsed times and count in no figure.
    watch.report(t_warm, t_start, t_start).await;
    let cpu0: Vec<u64> = procs
        .iter()
        .map(|p| node_pid(p).map_or(0, cpu_ticks))
        .collect();
    let intervals = watch
        .report(
            t_start,
            t_start + Duration::from_secs(opts.duration_s),
            t_start,
        )
        .await;
    let t_end = Instant::now();
    let cpu1: Vec<u64> = procs
        .iter()
        .map(|p| node_pid(p).map_or(0, cpu_ticks))
        .collect();
    let mut sent = 0;
    for t in tasks {
        sent += t.await.unwrap_or(0);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let window_commits: Vec<f64> = committed
        .lock()
        .map_err(|_| anyhow!("lock"))?
        .iter()
        .filter(|(t, _)| *t >= t_start && *t <= t_end)
        .map(|(_, l)| *l)
        .collect();
    let all_commits = committed.lock().map_err(|_| anyhow!("lock"))?.len() as u64;
    let mut lat = window_commits.clone();
    lat.sort_by(f64::total_cmp);
    let secs = t_end.duration_since(t_start).as_secs_f64();
    let tps = window_commits.len() as f64 / secs;
    let sig = crate::bench::common::sig_rate(20_000);
    let batch_sig = crate::bench::common::batch_sig_rate(20_000);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    // Every node verifies every transaction's signature once (at its mempool, or when
    // validating a proposal that carries one it has not seen), in batches where they arrive
    // together: the cores' batch verification rate shared by the validators bounds the
    // throughput.
    let bound = cores * batch_sig / f64::from(opts.validators);
    let ticks_per_s = 100.0;
    let mode = match opts.rate {
        Some(r) => format!("open loop at {r} tx/s offered"),
        None => format!(
            "closed loop, {} clients x window {}",
            opts.clients, opts.window
        ),
    };
    let mode = if batch == 1 {
        format!("{mode}, one transaction per SubmitTransaction call")
    } else {
        format!("{mode}, {batch} transactions per SubmitTransactions call")
    };
    println!(
        "Yui network benchmark — {} validators (byzantine), {:?} workload, {mode}, {} s after {} s warm-up",
        opts.validators, opts.workload, opts.duration_s, opts.warmup_s
    );
    println!("committed transactions/s : {tps:.0}   (submitted in total {sent}, committed in total {all_commits})");
    println!(
        "commit latency p50/p90/p99 : {:.3} / {:.3} / {:.3} s",
        percentile(&lat, 0.5),
        percentile(&lat, 0.9),
        percentile(&lat, 0.99)
    );
    for (i, p) in procs.iter().enumerate() {
        let cpu = (cpu1[i].saturating_sub(cpu0[i])) as f64 / ticks_per_s / secs * 100.0;
        let fetched = match p.config.metrics_listen {
            Some(addr) => fetched_txs(addr).await,
            None => None,
        };
        println!(
            "node {i}: CPU {cpu:.0}%  peak RSS {} MB  RSS now {} MB  proposals' transactions fetched {}",
            node_pid(p).map_or(0, |pid| status_kb(pid, "VmHWM:")) / 1024,
            node_pid(p).map_or(0, |pid| status_kb(pid, "VmRSS:")) / 1024,
            fetched.map_or("?".to_string(), |n| n.to_string())
        );
    }
    let disk: u64 = procs.iter().map(|p| dir_bytes(&p.data_dir)).sum::<u64>() / procs.len() as u64;
    println!(
        "disk per node: {} bytes per committed transaction",
        disk.checked_div(all_commits).unwrap_or(0)
    );
    if !intervals.is_empty() {
        print_drift(&intervals);
    }
    println!("machine: {cores} cores, single-core ed25519 (ZIP 215) {sig:.0}/s one by one, {batch_sig:.0}/s in batches of 64; bound for {} validators sharing the cores at the batch rate ≈ {bound:.0} tx/s; throughput/bound = {:.2}", opts.validators, tps / bound);
    Ok(all_commits)
}

/// One reporting interval of a soak run.
struct Interval {
    tps: f64,
    /// Resident memory of each node at the interval's end, MB.
    rss_mb: Vec<u64>,
    /// Memory each node's store holds in its bounded buffers (block cache and write
    /// buffers) at the interval's end, MB, as its metrics report it (`None`: unreadable).
    store_mb: Vec<Option<u64>>,
}

/// What a soak run watches: the committed events and the nodes' processes and metrics.
struct Watch<'a> {
    /// Seconds per interval; 0: print nothing and only wait.
    every_s: u64,
    committed: &'a Arc<Mutex<Vec<(Instant, f64)>>>,
    pids: &'a [u32],
    metrics: &'a [std::net::SocketAddr],
}

impl Watch<'_> {
    /// Sleep from `from` until `until`; with `every_s`, print a line per interval (seconds
    /// since `origin`, committed tx/s, p99 latency, each node's RSS and store buffers) and
    /// return the intervals.
    async fn report(&self, from: Instant, until: Instant, origin: Instant) -> Vec<Interval> {
        if self.every_s == 0 {
            tokio::time::sleep_until(until.into()).await;
            return Vec::new();
        }
        let every = Duration::from_secs(self.every_s);
        let mut out = Vec::new();
        let mut from = from;
        while from < until {
            let to = (from + every).min(until);
            tokio::time::sleep_until(to.into()).await;
            let mut lat: Vec<f64> = self
                .committed
                .lock()
                .map(|c| {
                    c.iter()
                        .rev()
                        .take_while(|(t, _)| *t >= from)
                        .filter(|(t, _)| *t < to)
                        .map(|(_, l)| *l)
                        .collect()
                })
                .unwrap_or_default();
            lat.sort_by(f64::total_cmp);
            let secs = to.duration_since(from).as_secs_f64().max(1e-9);
            let rss_mb: Vec<u64> = self
                .pids
                .iter()
                .map(|p| status_kb(*p, "VmRSS:") / 1024)
                .collect();
            let mut store_mb = Vec::new();
            for addr in self.metrics {
                store_mb.push(store_buffers(*addr).await.map(|b| b / (1024 * 1024)));
            }
            let tps = lat.len() as f64 / secs;
            let elapsed = to.duration_since(origin).as_secs_f64()
                - origin.saturating_duration_since(to).as_secs_f64();
            let join = |v: Vec<String>| v.join(" ");
            println!(
                "{elapsed:>9.0}  {tps:>14.0}  {:>5.3}  {:<15}  {}",
                percentile(&lat, 0.99),
                join(rss_mb.iter().map(u64::to_string).collect()),
                // `?`: the node's metrics could not be read this time.
                join(
                    store_mb
                        .iter()
                        .map(|m| m.map_or_else(|| "?".into(), |m| m.to_string()))
                        .collect()
                )
            );
            out.push(Interval {
                tps,
                rss_mb,
                store_mb,
            });
            from = to;
        }
        out
    }
}

/// Bytes a node's store holds in its block cache and write buffers, from its metrics (`None`
/// when they cannot be read or lack either gauge).
async fn store_buffers(addr: std::net::SocketAddr) -> Option<u64> {
    use crate::runtime::telemetry::{names, scrape, value_of};
    let text = scrape(addr).await.ok()?;
    let cache = value_of(&text, names::STORE_CACHE_BYTES)?;
    let buffers = value_of(&text, names::STORE_WRITE_BUFFER_BYTES)?;
    Some((cache + buffers) as u64)
}

/// Transactions a node fetched for compact proposals since it started (ADR 0022), from its
/// metrics (0 before its first fetch; `None` when they cannot be read).
async fn fetched_txs(addr: std::net::SocketAddr) -> Option<u64> {
    use crate::runtime::telemetry::{names, scrape, value_of};
    let text = scrape(addr).await.ok()?;
    Some(value_of(&text, names::PROPOSAL_TXS_FETCHED).unwrap_or(0.0) as u64)
}

/// Drift of a soak run: the median of the last quarter of the intervals against the median of
/// the first quarter, for throughput and for each node's resident memory.
fn print_drift(iv: &[Interval]) {
    let q = (iv.len() / 4).max(1);
    let (first, last) = (&iv[..q], &iv[iv.len() - q..]);
    let drift = |a: f64, b: f64| if a > 0.0 { (b - a) / a * 100.0 } else { 0.0 };
    let (t0, t1) = (
        median(first.iter().map(|i| i.tps).collect()),
        median(last.iter().map(|i| i.tps).collect()),
    );
    println!(
        "drift, last quarter against first ({q} of {} intervals, medians): throughput {t0:.0} -> {t1:.0} tx/s ({:+.1} %)",
        iv.len(),
        drift(t0, t1)
    );
    let nodes = iv[0].rss_mb.len();
    for n in 0..nodes {
        let rss = |s: &[Interval]| {
            median(
                s.iter()
                    .filter_map(|i| i.rss_mb.get(n).map(|m| *m as f64))
                    .collect(),
            )
        };
        let rest = |s: &[Interval]| {
            median(
                s.iter()
                    .filter_map(|i| {
                        let store = i.store_mb.get(n).copied().flatten()?;
                        i.rss_mb.get(n).map(|m| m.saturating_sub(store) as f64)
                    })
                    .collect(),
            )
        };
        let (r0, r1) = (rss(first), rss(last));
        let (o0, o1) = (rest(first), rest(last));
        println!(
            "drift, node {n} resident memory: {r0:.0} -> {r1:.0} MB ({:+.1} %); without the store's buffers {o0:.0} -> {o1:.0} MB ({:+.1} %)",
            drift(r0, r1),
            drift(o0, o1)
        );
    }
}

/// What the clients submit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LoadWorkload {
    /// Relief pledges of one unit against a large need, each client a donor.
    Relief,
    /// Governance grants of a resident role to fresh accounts, all by the admin.
    Governance,
}

/// The network the benchmark runs: `validators` municipalities with one validator each.
fn bench_network(validators: u32) -> NetworkDesc {
    NetworkDesc {
        chain_id: "bench".into(),
        fault_model: FaultModelName::Byzantine,
        max_expiry_blocks: 1000,
        consensus: ConsensusParams {
            min_block_interval_ms: 50,
            heartbeat_interval_ms: 1000,
            max_block_txs: 10_000,
            ..ConsensusParams::default()
        },
        parameters: Default::default(),
        organizations: (0..validators)
            .map(|i| OrgDesc {
                id: format!("m{i}"),
                name: format!("Municipality {i}"),
                validators: 1,
                ..OrgDesc::default()
            })
            .collect(),
    }
}

/// The donor key of client `k` (deterministic, bench only).
fn donor_key(k: usize) -> SigningKey {
    let mut seed = [0xd0u8; 32];
    seed[..8].copy_from_slice(&(k as u64).to_le_bytes());
    SigningKey::from_bytes(&seed)
}

/// A pledge of one unit against need 1 by a client's donor.
fn pledge_tx(donor: &SigningKey, chain_id: &str, expires: u64) -> pb::SignedTransaction {
    signed(
        donor,
        chain_id,
        expires,
        relief(pb::relief_call::Call::Pledge(pb::Pledge {
            need_id: 1,
            quantity: 1,
        })),
    )
}

/// Prepare the relief workload: a disaster, a shelter operated by the admin, a need of a
/// million units (need 1), and a donor role for every client. Each call is committed before
/// the next.
async fn relief_setup(
    endpoint: &str,
    admin: &SigningKey,
    chain_id: &str,
    clients: usize,
) -> Result<()> {
    use pb::relief_call::Call as R;
    let mut c = pb::ledger_client::LedgerClient::connect(endpoint.to_string()).await?;
    let me = admin.verifying_key().to_bytes();
    let mut calls = vec![
        relief(R::OpenDisaster(pb::OpenDisaster {
            disaster_id: "bench".into(),
            name: "Bench disaster".into(),
        })),
        relief(R::RegisterShelter(pb::RegisterShelter {
            shelter_id: "s0".into(),
            name: "Bench shelter".into(),
            area: "Bench".into(),
            contact: Some(pb::PersonRef {
                vault_id: format!("pd_{}", "b".repeat(32)),
                commitment: vec![7; 32],
            }),
        })),
        grant_call(&me, pb::RoleKind::RoleShelterOperator, "s0"),
        relief(R::PostNeed(pb::PostNeed {
            disaster_id: "bench".into(),
            shelter_id: "s0".into(),
            item_id: "food".into(),
            quantity: yui_contracts::relief::MAX_QUANTITY,
            details: "bench".into(),
            priority: pb::Priority::High as i32,
            needed_by_ms: 0,
        })),
    ];
    for k in 0..clients {
        calls.push(grant_call(
            &donor_key(k).verifying_key().to_bytes(),
            pb::RoleKind::RoleDonor,
            "",
        ));
    }
    for call in calls {
        let h = c
            .get_chain_info(pb::GetChainInfoRequest {})
            .await?
            .into_inner()
            .height;
        let id = c
            .submit_transaction(pb::SubmitTransactionRequest {
                transaction: Some(signed(admin, chain_id, h + 100, call)),
            })
            .await?
            .into_inner()
            .tx_id;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = c
                .get_transaction(pb::GetTransactionRequest { tx_id: id.clone() })
                .await?
                .into_inner();
            if r.status == pb::TxStatus::Committed as i32 {
                match r.receipt {
                    Some(rc) if rc.success => break,
                    rc => return Err(anyhow!("benchmark setup call failed: {rc:?}")),
                }
            }
            if Instant::now() > deadline {
                return Err(anyhow!("benchmark setup call not committed within 30 s"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}
