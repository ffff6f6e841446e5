//! What the chain stores and hands out: the tip, blocks with their certificates, transaction
//! locations, receipts with their events, and a block executed but not yet committed. Plain
//! data, borsh-encoded in the store ([`keys`](super::keys) says where).

use crate::chain::tx::CheckedTx;
use borsh::{BorshDeserialize, BorshSerialize};
use yui_client::tx::RawTx;
use yui_consensus::{CommitCertificate, Hash, Header};
use yui_contracts::{Receipt, WriteSet};

/// An event's position: (height, index within the block).
pub type Cursor = (u64, u32);

/// The committed tip.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Tip {
    /// Height (0 = only genesis).
    pub height: u64,
    /// Block hash (genesis hash at 0).
    pub hash: Hash,
    /// State root after this height.
    pub state_root: [u8; 32],
    /// Block time.
    pub time_ms: u64,
}

/// A block as stored.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StoredBlock {
    /// Header.
    pub header: Header,
    /// Transactions in order.
    pub txs: Vec<RawTx>,
    /// The certificate that committed it.
    pub cert: CommitCertificate,
}

/// Where a committed transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TxLocation {
    /// Height.
    pub height: u64,
    /// Index in the block.
    pub index: u32,
}

/// A receipt as stored.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StoredReceipt {
    /// Transaction id.
    pub tx_id: [u8; 32],
    /// Succeeded?
    pub success: bool,
    /// Error code (failure only).
    pub error_code: String,
    /// Error message (failure only).
    pub error_message: String,
    /// Index of its first event in the block's event stream.
    pub first_event: u32,
    /// Block time.
    pub time_ms: u64,
    /// Its events, each a protobuf `yui.v1.Event`.
    pub events: Vec<Vec<u8>>,
}

/// An event of the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// Emitting transaction.
    pub tx_id: [u8; 32],
    /// Block time.
    pub time_ms: u64,
    /// protobuf `yui.v1.Event`.
    pub event: Vec<u8>,
}

/// A block executed but not yet committed.
#[derive(Clone, Debug)]
pub struct Executed {
    /// The block (its certificate is filled in at commit).
    pub header: Header,
    /// Transactions.
    pub txs: Vec<CheckedTx>,
    /// Receipts, one per transaction.
    pub receipts: Vec<Receipt>,
    /// State writes of the whole block.
    pub writes: WriteSet,
}

impl Executed {
    /// The transactions as signed, as a stored or gossiped block carries them.
    pub fn raw_txs(&self) -> Vec<RawTx> {
        self.txs.iter().map(|t| RawTx::clone(&t.raw)).collect()
    }
}
