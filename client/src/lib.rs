//! `yui-client`: what a Rust application backend needs to talk to a Yui node, and nothing a
//! node needs to run one. It depends only on the API messages (`yui-proto`, without the tonic
//! services) and the consensus types (`yui-consensus`), so a backend that links it pulls in
//! no storage engine, no p2p stack and no gRPC server.
//!
//! - [`tx`]: transaction bodies with a random nonce and an expiry height, signed exactly as
//!   every language must sign them; transaction ids.
//! - [`auth`]: the `x-yui-auth` header of the `PersonalData` service.
//! - [`convert`]: API messages to consensus types and back (headers, commit certificates,
//!   Merkle paths), refusing wrong sizes.
//! - [`proof`]: offline verification of inclusion proofs against a trusted validator set.
//! - [`certificate`]: the volunteer certificate's QR payload and its offline check.
//! - [`presence`]: the volunteer's signature over a facility's challenge at check-in.
//!
//! This crate must never do IO of its own (files, sockets, clocks): the caller passes the
//! time and the bytes. The one exception is the operating system's random number generator,
//! which [`tx::random_nonce`] draws from.

pub mod auth;
pub mod certificate;
pub mod convert;
pub mod notification;
pub mod presence;
pub mod proof;
pub mod tx;

pub use ed25519_dalek::SigningKey;
pub use yui_proto::v1 as pb;
