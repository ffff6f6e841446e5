//! Reflection that stock tools speak: a node serves `grpc.reflection.v1` and `v1alpha` (which
//! grpcurl and Python's grpcio-reflection use), listing every Yui service and the health
//! service, and resolves a service's file so a tool can call it without the .proto files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use tonic_reflection::pb::{v1, v1alpha};
use yui_tests::*;

const SERVICES: [&str; 7] = [
    "yui.v1.Ledger",
    "yui.v1.Governance",
    "yui.v1.Relief",
    "yui.v1.Eco",
    "yui.v1.Points",
    "yui.v1.Volunteer",
    "grpc.health.v1.Health",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_reflection_versions_list_every_service_and_resolve_files() {
    let net = Net::start(1, "byzantine").await.unwrap();
    let endpoint = net.nodes[0].endpoint.clone();

    let channel = tonic::transport::Channel::from_shared(endpoint)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut alpha = v1alpha::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let requests = vec![
        v1alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
            ),
        },
        v1alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                    "yui.v1.Governance".into(),
                ),
            ),
        },
    ];
    let mut stream = alpha
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let listed = stream.message().await.unwrap().unwrap();
    let names: Vec<String> = match listed.message_response.unwrap() {
        v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(l) => {
            l.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("{other:?}"),
    };
    for s in SERVICES {
        assert!(names.iter().any(|n| n == s), "v1alpha lacks {s}: {names:?}");
    }
    let file = stream.message().await.unwrap().unwrap();
    assert!(matches!(
        file.message_response.unwrap(),
        v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(f)
            if !f.file_descriptor_proto.is_empty()
    ));

    let mut v1c = v1::server_reflection_client::ServerReflectionClient::new(channel);
    let mut stream = v1c
        .server_reflection_info(tokio_stream::iter(vec![v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            )),
        }]))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<String> = match stream.message().await.unwrap().unwrap().message_response {
        Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(l)) => {
            l.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("{other:?}"),
    };
    for s in SERVICES {
        assert!(names.iter().any(|n| n == s), "v1 lacks {s}: {names:?}");
    }
}
