//! Offline verification of inclusion proofs (`yui.v1.InclusionProof`): a committed
//! transaction with its receipt, or one of its events, proven by Merkle paths to its block
//! header's roots, the header, and the commit certificate signed by a quorum of the validator
//! set the verifier trusts for that height. Nothing here asks a node anything.

use crate::convert::{certificate_from_pb, header_from_pb, merkle_from_pb, ConvertError};
use crate::tx::RawTx;
use prost::Message as _;
use yui_consensus::{merkle, CertificateError, Hash, ValidatorSet};
use yui_proto::v1 as pb;

/// Why a proof does not prove what it claims. Each variant reads as a sentence for the
/// auditor or facility worker who checked it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The bytes are not an `InclusionProof` message.
    #[error("this is not an inclusion proof: {0}")]
    NotAProof(String),
    /// Decodes, but not from its canonical encoding.
    #[error("the proof is not canonically encoded (extra, reordered or altered bytes)")]
    NotCanonical,
    /// A field has the wrong size or is missing.
    #[error("the proof is malformed: {0}")]
    Malformed(#[from] ConvertError),
    /// Signed off by another validator set.
    #[error("the block was decided by a different validator set than the one trusted here (changed by governance since?)")]
    OtherValidatorSet,
    /// The commit certificate does not verify.
    #[error("the commit certificate does not verify: {0}")]
    Certificate(#[from] CertificateError),
    /// The transaction's path does not lead to the header's root.
    #[error("the transaction is not in the block (its Merkle path does not lead to the header's transaction root)")]
    TxNotInBlock,
    /// The receipt carries its stream cursor, which is not committed data.
    #[error("the receipt carries a cursor, which is not committed data")]
    ReceiptHasCursor,
    /// The receipt's path is for another position.
    #[error("the receipt path is for another position than the transaction")]
    ReceiptPosition,
    /// The receipt's path does not lead to the header's event root.
    #[error("the receipt is not the one committed for this transaction (its Merkle path does not lead to the header's event root)")]
    ReceiptNotCommitted,
    /// The event cursor names another block.
    #[error("the event cursor names block {cursor}, but the proof is of block {block}")]
    EventOtherBlock {
        /// The cursor's height.
        cursor: u64,
        /// The proven block's height.
        block: u64,
    },
    /// The receipt has no event at the given index.
    #[error("the receipt has no event {0}")]
    NoSuchEvent(u32),
}

impl ProofError {
    /// A stable short code for this reason, the same in every SDK and in the test vectors
    /// (`clients/vectors`), for programs that act on the reason rather than print it.
    pub fn code(&self) -> &'static str {
        match self {
            ProofError::NotAProof(_) => "not_a_proof",
            ProofError::NotCanonical => "not_canonical",
            ProofError::Malformed(_) => "malformed",
            ProofError::OtherValidatorSet => "other_validator_set",
            ProofError::Certificate(c) => match c {
                CertificateError::UnknownValidator(_) => "unknown_validator",
                CertificateError::Duplicate(_) => "duplicate_signature",
                CertificateError::BadSignature(_) => "bad_signature",
                CertificateError::NoQuorum { .. } => "no_quorum",
                CertificateError::WrongBlock { .. } => "wrong_block",
            },
            ProofError::TxNotInBlock => "tx_not_in_block",
            ProofError::ReceiptHasCursor => "receipt_has_cursor",
            ProofError::ReceiptPosition => "receipt_position",
            ProofError::ReceiptNotCommitted => "receipt_not_committed",
            ProofError::EventOtherBlock { .. } => "event_other_block",
            ProofError::NoSuchEvent(_) => "no_such_event",
        }
    }
}

/// What a verified proof proves.
#[derive(Debug, Clone, PartialEq)]
pub struct Proven {
    /// Block height.
    pub height: u64,
    /// Block hash.
    pub block_hash: Hash,
    /// Transaction id.
    pub tx_id: Hash,
    /// Whether the transaction's call succeeded.
    pub success: bool,
    /// The proven event, if the proof is for an event.
    pub event: Option<pb::Event>,
}

/// Decode a proof, refusing any non-canonical encoding (so no byte of a proof can be changed
/// without the proof failing).
pub fn decode(bytes: &[u8]) -> Result<pb::InclusionProof, ProofError> {
    let p = pb::InclusionProof::decode(bytes).map_err(|e| ProofError::NotAProof(e.to_string()))?;
    if p.encode_to_vec() != bytes {
        return Err(ProofError::NotCanonical);
    }
    Ok(p)
}

/// Check a proof against the validator set trusted for its height.
pub fn verify(p: &pb::InclusionProof, set: &ValidatorSet) -> Result<Proven, ProofError> {
    let header = header_from_pb(p.header.as_ref().ok_or(ConvertError::Missing("header"))?)?;
    let block_hash = header.hash();
    if header.validator_set_hash != set.hash() {
        return Err(ProofError::OtherValidatorSet);
    }
    let cert = certificate_from_pb(
        p.certificate
            .as_ref()
            .ok_or(ConvertError::Missing("commit certificate"))?,
    )?;
    cert.verify(&header.chain_id, header.height, &block_hash, set)?;
    let tx = RawTx::from_proto(
        p.transaction
            .clone()
            .ok_or(ConvertError::Missing("transaction"))?,
    );
    let tx_id = tx.id();
    let tx_path = merkle_from_pb(
        p.tx_proof
            .as_ref()
            .ok_or(ConvertError::Missing("transaction's Merkle path"))?,
    )?;
    if !tx_path.verify(&tx_id.0, &header.tx_root) {
        return Err(ProofError::TxNotInBlock);
    }
    let receipt = p.receipt.as_ref().ok_or(ConvertError::Missing("receipt"))?;
    if receipt.first_event.is_some() {
        return Err(ProofError::ReceiptHasCursor);
    }
    let receipt_path = merkle_from_pb(
        p.receipt_proof
            .as_ref()
            .ok_or(ConvertError::Missing("receipt's Merkle path"))?,
    )?;
    if receipt_path.index != tx_path.index {
        return Err(ProofError::ReceiptPosition);
    }
    let leaf = yui_proto::commit::receipt_leaf(&tx_id.0, receipt);
    if !receipt_path.verify(&leaf, &header.event_root) {
        return Err(ProofError::ReceiptNotCommitted);
    }
    let event = match &p.event_cursor {
        None => None,
        Some(c) if c.height != header.height => {
            return Err(ProofError::EventOtherBlock {
                cursor: c.height,
                block: header.height,
            })
        }
        Some(_) => Some(
            receipt
                .events
                .get(p.event_index as usize)
                .cloned()
                .ok_or(ProofError::NoSuchEvent(p.event_index))?,
        ),
    };
    Ok(Proven {
        height: header.height,
        block_hash,
        tx_id,
        success: receipt.success,
        event,
    })
}

/// The leaves of a block's transaction root, for building proofs: `merkle::leaf(tx id)`.
pub fn tx_leaves(txs: &[RawTx]) -> Vec<Hash> {
    txs.iter().map(|t| merkle::leaf(&t.id().0)).collect()
}
