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

/// Signed messages of the API that are not transactions.
pub mod signed {
    /// Domain of the presence signature a volunteer's device makes at check-in.
    pub const PRESENCE_DOMAIN: &[u8] = b"yui/v1/presence\0";

    /// The bytes a volunteer signs with the volunteer's account key to show presence at
    /// check-in to `activity_id`: `"yui/v1/presence\0" || activity_id || challenge`, where the
    /// challenge is the fresh random bytes the facility's device shows (`CheckIn.challenge`).
    pub fn presence_message(activity_id: &str, challenge: &[u8]) -> Vec<u8> {
        [PRESENCE_DOMAIN, activity_id.as_bytes(), challenge].concat()
    }
}

/// The protobuf codec of Yui's gRPC services: prost's, except that a message that does not
/// decode is INVALID_ARGUMENT (the sender's fault, with a sentence), not INTERNAL as the stock
/// codec says (which reads as the node's own failure).
#[cfg(feature = "grpc")]
pub mod codec {
    use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
    use tonic::Status;
    use tonic_prost::ProstCodec;

    /// The codec the generated services use (`codec_path` in `build.rs`).
    pub struct YuiCodec<T, U>(ProstCodec<T, U>);

    impl<T, U> Default for YuiCodec<T, U> {
        fn default() -> Self {
            YuiCodec(ProstCodec::default())
        }
    }

    /// Decodes with prost; a decoding failure is the sender's.
    pub struct YuiDecoder<D>(D);

    impl<D: Decoder<Error = Status>> Decoder for YuiDecoder<D> {
        type Item = D::Item;
        type Error = Status;

        fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
            self.0.decode(buf).map_err(|e| {
                Status::invalid_argument(format!(
                    "the message is not a valid protobuf encoding of the expected type: {}",
                    e.message()
                ))
            })
        }

        fn buffer_settings(&self) -> BufferSettings {
            self.0.buffer_settings()
        }
    }

    impl<T, U> Codec for YuiCodec<T, U>
    where
        T: prost::Message + Send + 'static,
        U: prost::Message + Default + Send + 'static,
    {
        type Encode = T;
        type Decode = U;
        type Encoder = <ProstCodec<T, U> as Codec>::Encoder;
        type Decoder = YuiDecoder<<ProstCodec<T, U> as Codec>::Decoder>;

        fn encoder(&mut self) -> Self::Encoder {
            self.0.encoder()
        }

        fn decoder(&mut self) -> Self::Decoder {
            YuiDecoder(self.0.decoder())
        }
    }
}
