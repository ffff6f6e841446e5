//! The consortium-wide parameters the node itself obeys: the block limits, the expiry
//! window and the protocol version. Each starts at its genesis value and changes only by the > 2/3 vote of
//! `ProposeParameterChange` on a `consensus.` key, from the height the proposal names. Every
//! node reads the same committed versions, so every node computes the same limits for a
//! height. A voted value outside the range a node can carry is ignored (genesis' value stays in
//! force) and logged. This module only reads state; it must never write.

use crate::chain::ChainReader;
use anyhow::{anyhow, Result};
use yui_contracts::governance;

/// The most transactions per block.
pub const P_MAX_BLOCK_TXS: &str = "consensus.max_block_txs";
/// The most transaction bytes per block.
pub const P_MAX_BLOCK_BYTES: &str = "consensus.max_block_bytes";
/// How far ahead of the next block a transaction may expire (`expires_at_height`).
pub const P_MAX_EXPIRY_BLOCKS: &str = "consensus.max_expiry_blocks";
/// The protocol version blocks follow from the height a vote names (an upgrade).
pub const P_PROTOCOL_VERSION: &str = governance::PROTOCOL_VERSION;

/// The protocol versions this build of the node can follow. A build with the test-only cargo
/// feature `protocol-next` also knows the next one (the upgrade test runs two builds).
pub const SUPPORTED_PROTOCOL: std::ops::RangeInclusive<u32> = 1
    ..=if cfg!(feature = "protocol-next") {
        2
    } else {
        1
    };

/// The consortium scheduled a protocol version this build does not know: the node stops
/// before the height it applies at (exit status [`crate::cli::run::EXIT_UPGRADE`]).
#[derive(Debug, thiserror::Error)]
#[error("the consortium scheduled protocol version {version} from height {height}; this build knows versions {min} to {max}: install a release that supports protocol version {version}, then start the node again")]
pub struct UpgradeRequired {
    /// The version scheduled.
    pub version: u32,
    /// The first height it applies at.
    pub height: u64,
    /// The lowest version this build knows.
    pub min: u32,
    /// The highest version this build knows.
    pub max: u32,
}

/// The highest value a vote may set `key` to (the contracts refuse a proposal outside).
fn cap(key: &str) -> u64 {
    governance::consensus_parameter_range(key)
        .and_then(|(_, hi)| u64::try_from(hi).ok())
        .unwrap_or(0)
}

// A block's transactions, with the proposal's other fields, must fit in one gossip message.
const _: () = assert!(8 * 1024 * 1024 <= crate::runtime::p2p::MAX_GOSSIP_BYTES / 2);

impl ChainReader {
    /// The value of consortium parameter `key` in force at `height`, if a vote set one in
    /// `1..=cap`; a value outside is ignored with a warning.
    fn consensus_param(&self, key: &str, height: u64) -> Result<Option<u64>> {
        let cap = cap(key);
        let state = self.state();
        let v = governance::parameter_at(&state, key, height)
            .map_err(|e| anyhow!("cannot read consensus parameter {key}: {e}"))?;
        Ok(v.and_then(|v| {
            let ok = u64::try_from(v).ok().filter(|v| (1..=cap).contains(v));
            if ok.is_none() {
                tracing::warn!(
                    parameter = key,
                    value = v,
                    cap,
                    "a voted consensus parameter is out of range; genesis' value stays in force"
                );
            }
            ok
        }))
    }

    /// The block limits at `height`: (most transactions, most transaction bytes).
    pub fn block_limits_at(
        &self,
        height: u64,
        genesis_txs: u32,
        genesis_bytes: u64,
    ) -> Result<(usize, u64)> {
        let txs = self
            .consensus_param(P_MAX_BLOCK_TXS, height)?
            .unwrap_or(u64::from(genesis_txs));
        let bytes = self
            .consensus_param(P_MAX_BLOCK_BYTES, height)?
            .unwrap_or(genesis_bytes);
        Ok((usize::try_from(txs).unwrap_or(usize::MAX), bytes))
    }

    /// The expiry window in force at `height`: a transaction in block `height` must expire at
    /// most this many blocks after it.
    pub fn max_expiry_at(&self, height: u64) -> Result<u64> {
        Ok(self
            .consensus_param(P_MAX_EXPIRY_BLOCKS, height)?
            .unwrap_or(self.max_expiry_blocks))
    }

    /// The protocol version blocks at `height` follow: 1 until a vote scheduled another.
    pub fn protocol_version_at(&self, height: u64) -> Result<u32> {
        Ok(self
            .consensus_param(P_PROTOCOL_VERSION, height)?
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(1))
    }

    /// The protocol version of block `height`, if this build can follow it; [`UpgradeRequired`]
    /// if not.
    pub fn supported_protocol_at(&self, height: u64) -> Result<u32> {
        let version = self.protocol_version_at(height)?;
        if SUPPORTED_PROTOCOL.contains(&version) {
            return Ok(version);
        }
        Err(UpgradeRequired {
            version,
            height,
            min: *SUPPORTED_PROTOCOL.start(),
            max: *SUPPORTED_PROTOCOL.end(),
        }
        .into())
    }

    /// The longest expiry window any height up to `height` had: how far back a committed body
    /// can still be unexpired.
    pub fn longest_expiry_until(&self, height: u64) -> Result<u64> {
        let state = self.state();
        let versions =
            governance::queries::parameter_versions(&state, P_MAX_EXPIRY_BLOCKS, "", height)
                .map_err(|e| {
                    anyhow!("cannot read consensus parameter {P_MAX_EXPIRY_BLOCKS}: {e}")
                })?;
        Ok(versions
            .versions
            .iter()
            .filter(|v| v.effective_from_height <= height)
            .filter_map(|v| u64::try_from(v.value).ok())
            .filter(|v| (1..=cap(P_MAX_EXPIRY_BLOCKS)).contains(v))
            .fold(self.max_expiry_blocks, u64::max))
    }
}
