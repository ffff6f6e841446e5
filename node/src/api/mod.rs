//! The gRPC API: one file per service over the committed chain (`Ledger`, `Governance`,
//! `Relief`, `Eco` and `Points`, `Volunteer`) and the personal-data vault (`PersonalData`), plus health and
//! reflection, all served by [`serve`] (over TLS as [`tls`] decides; gRPC-web for browsers on the same port). Every error becomes a status in [`status`]; QR codes
//! for labels and certificates are drawn in [`qr`]; [`reference`] renders the API reference
//! from the `.proto` files, with the contracts' error catalogue.
//!
//! The API reads committed state and hands transactions to the mempool; it must never write
//! the chain store, and nothing a client sends may crash the node.

pub mod eco;
pub mod governance;
pub mod label;
pub mod ledger;
pub mod personal_data;
pub mod qr;
pub mod reference;
pub mod relief;
pub mod report;
pub mod status;
pub mod tls;
pub mod volunteer;

use crate::runtime::driver::NodeStatus;
use eco::EcoApi;
use governance::GovernanceApi;
use ledger::LedgerApi;
use personal_data::PersonalDataApi;
use relief::ReliefApi;
use std::net::SocketAddr;
use tonic::server::NamedService;
use tonic_health::ServingStatus;
use volunteer::VolunteerApi;
use yui_proto::v1::ledger_server::LedgerServer;

/// Serve the API on `addr` until `shutdown` resolves, over TLS if `transport` says so.
pub async fn serve(
    addr: SocketAddr,
    transport: tls::Transport,
    api: LedgerApi,
    personal_data: Option<PersonalDataApi>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    // Health tells the truth: SERVING exactly while the node is at the tip and consensus runs.
    let mut status = api.shared.status.clone();
    tokio::spawn(async move {
        loop {
            let serving = status.borrow_and_update().status == NodeStatus::Serving;
            let s = if serving {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            health_reporter.set_service_status("", s).await;
            health_reporter
                .set_service_status(<LedgerServer<LedgerApi> as NamedService>::NAME, s)
                .await;
            if status.changed().await.is_err() {
                // The driver is gone: consensus no longer runs here.
                health_reporter
                    .set_service_status("", ServingStatus::NotServing)
                    .await;
                health_reporter
                    .set_not_serving::<LedgerServer<LedgerApi>>()
                    .await;
                return;
            }
        }
    });
    // Reflection in both versions stock tools speak (grpcurl and Python's grpcio-reflection
    // use v1alpha, newer tools v1), listing the health service too.
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(yui_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(yui_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    // Small request/response messages: without TCP_NODELAY, Nagle's algorithm and delayed
    // ACKs add ~40 ms to every call.
    let incoming = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        |s| {
            s.inspect(|s| {
                let _ = s.set_nodelay(true);
            })
        },
    );
    let eco = EcoApi {
        chain: api.chain.clone(),
    };
    // gRPC-web on the same port, for apps in a browser (ADR 0018): HTTP/1.1 accepted beside
    // HTTP/2, requests of the grpc-web content types translated. Any origin may call: the API
    // authenticates by signatures in the messages and headers, never by cookies, so CORS
    // protects nothing here and a refusal would only stop vendors' web apps.
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([http::Method::POST, http::Method::OPTIONS])
        .allow_headers(tower_http::cors::Any)
        .expose_headers([
            http::HeaderName::from_static("grpc-status"),
            http::HeaderName::from_static("grpc-message"),
            http::HeaderName::from_static("grpc-status-details-bin"),
        ])
        .max_age(std::time::Duration::from_secs(3600));
    let mut builder = tonic::transport::Server::builder().accept_http1(true);
    if let tls::Transport::Tls { config, .. } = transport {
        builder = builder.tls_config(config)?;
    }
    builder
        .layer(cors)
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(crate::runtime::telemetry::GrpcMetricsLayer)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(eco.eco_server())
        .add_service(eco.points_server())
        .add_service(
            ReliefApi {
                chain: api.chain.clone(),
            }
            .into_server(),
        )
        .add_service(
            GovernanceApi {
                chain: api.chain.clone(),
            }
            .into_server(),
        )
        .add_service(
            VolunteerApi {
                chain: api.chain.clone(),
            }
            .into_server(),
        )
        .add_service(LedgerServer::new(api).max_decoding_message_size(4 * 1024 * 1024))
        .add_optional_service(
            personal_data.map(|p| p.into_server().max_decoding_message_size(1024 * 1024)),
        )
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = shutdown.changed().await;
        })
        .await?;
    Ok(())
}
