//! Operations telemetry: the Prometheus metrics endpoint and the gRPC request counter.
//! Metric names and meanings are listed in docs/operations.md.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Metric names (one place, so docs/operations.md and the code agree).
pub mod names {
    /// Gauge: latest committed height.
    pub const HEIGHT: &str = "yui_height";
    /// Gauge: consensus round of the height in progress.
    pub const ROUND: &str = "yui_consensus_round";
    /// Histogram: seconds from the start of a height to its commit.
    pub const COMMIT_SECONDS: &str = "yui_block_commit_seconds";
    /// Histogram: transactions per committed block.
    pub const BLOCK_TXS: &str = "yui_block_transactions";
    /// Counter: transactions committed.
    pub const TXS_COMMITTED: &str = "yui_transactions_committed_total";
    /// Gauge: transactions waiting in the mempool.
    pub const MEMPOOL_TXS: &str = "yui_mempool_transactions";
    /// Gauge: connected peers.
    pub const PEERS: &str = "yui_peers";
    /// Counter: gRPC requests by `method` and `code`.
    pub const GRPC_REQUESTS: &str = "yui_grpc_requests_total";
    /// Histogram: seconds to write and flush one block's batch.
    pub const STORE_FLUSH_SECONDS: &str = "yui_store_flush_seconds";
    /// Counter: equivocation evidence seen.
    pub const EVIDENCE: &str = "yui_equivocation_evidence_total";
    /// Counter: transactions of compact proposals this node lacked and fetched from peers.
    pub const PROPOSAL_TXS_FETCHED: &str = "yui_proposal_transactions_fetched_total";
    /// Counter: transactions gossiped by peers and dropped because admission was behind.
    pub const GOSSIP_TXS_DROPPED: &str = "yui_gossip_transactions_dropped_total";
    /// Gauge: bytes in the store's block cache (bounded by its capacity).
    pub const STORE_CACHE_BYTES: &str = "yui_store_cache_bytes";
    /// Gauge: bytes of written entries the store holds in memory before they reach disk.
    pub const STORE_WRITE_BUFFER_BYTES: &str = "yui_store_write_buffer_bytes";
    /// Gauge: bodies replay protection remembers (committed, not expired yet).
    pub const REPLAY_WINDOW_BODIES: &str = "yui_replay_window_bodies";
    /// Gauge: bytes of heap those bodies hold (from the window's table capacities).
    pub const REPLAY_WINDOW_BYTES: &str = "yui_replay_window_bytes";
}

/// Serve `/metrics` on `addr` (must run inside the tokio runtime).
pub fn install(addr: SocketAddr) -> anyhow::Result<()> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets(&[
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ])?
        .install()?;
    Ok(())
}

/// The text `/metrics` serves at `addr` (an HTTP/1.1 GET; for tests, benchmarks and
/// diagnosis on the node's own host), within ten seconds.
pub async fn scrape(addr: SocketAddr) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fetch = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(
            format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        Ok::<_, anyhow::Error>(out)
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), fetch).await?
}

/// The value of the unlabelled metric `name` in scraped `text`.
pub fn value_of(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let (n, v) = l.split_once(' ')?;
        (n == name).then(|| v.trim().parse().ok())?
    })
}

/// A tower layer counting gRPC requests by method and status code.
#[derive(Clone, Copy, Default)]
pub struct GrpcMetricsLayer;

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics(inner)
    }
}

/// The service made by `GrpcMetricsLayer`.
#[derive(Clone)]
pub struct GrpcMetrics<S>(S);

impl<S, B, RB> tower::Service<http::Request<B>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn std::future::Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let method = req
            .uri()
            .path()
            .rsplit('/')
            .take(2)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("/");
        let fut = self.0.call(req);
        Box::pin(async move {
            let res = fut.await;
            if let Ok(r) = &res {
                // Errors travel as "trailers-only" responses with grpc-status in the headers;
                // a success has it in the trailers, so a missing header means OK.
                let code = r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map(|c| format!("{:?}", tonic::Code::from(c)))
                    .unwrap_or_else(|| "Ok".to_string());
                metrics::counter!(names::GRPC_REQUESTS, "method" => method, "code" => code)
                    .increment(1);
            }
            res
        })
    }
}
