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

/// Committed encodings of API messages that are part of the chain's hashes.
pub mod commit {
    use prost::Message as _;

    /// Domain separator of a receipt's leaf in a block's event root.
    pub const EVENT_DOMAIN: &[u8] = b"yui/v1/event\0";

    /// The bytes of a receipt's leaf in a block's event root:
    /// `"yui/v1/event\0" || tx_id || protobuf(receipt without first_event)`. The cursor
    /// (`first_event`) is not committed: it is the receipt's place in the node's event stream.
    pub fn receipt_leaf(tx_id: &[u8], receipt: &crate::v1::Receipt) -> Vec<u8> {
        let mut r = receipt.clone();
        r.first_event = None;
        [EVENT_DOMAIN, tx_id, &r.encode_to_vec()].concat()
    }
}
