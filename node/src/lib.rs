//! The Yui node: the drivers around the two pure cores. Storage (fjall or sled behind `Store`), the
//! consensus WAL and driver, the mempool, the gRPC API, genesis and configuration. The `yui`
//! binary (`main.rs`) is a thin CLI over this library.

pub mod apidoc;
pub mod audit;
pub mod bench;
pub mod chain;
pub mod config;
pub mod contractbench;
pub mod driver;
pub mod eco_api;
pub mod genesis;
pub mod grpc;
pub mod guard;
pub mod keys;
pub mod loadbench;
pub mod mempool;
pub mod network;
pub mod p2p;
pub mod proof;
pub mod qr;
pub mod relief_api;
pub mod store;
pub mod telemetry;
pub mod tx;
pub mod vault;
pub mod vault_api;
pub mod volunteer_api;
pub mod wal;
