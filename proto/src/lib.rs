//! Yui's public API, generated from `proto/yui/v1/*.proto`.
//!
//! The messages are always available; the tonic clients and servers only with the `grpc`
//! feature. App developers read the `.proto` files themselves: every message and field is
//! documented there (see also `docs/api.md`).
#![allow(missing_docs, clippy::all)]

/// Package `yui.v1`.
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/yui.v1.rs"));
}

/// The encoded `FileDescriptorSet` of all Yui protos, for the gRPC reflection service.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/yui_descriptor.bin"));
