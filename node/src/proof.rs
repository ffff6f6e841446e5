//! Inclusion proofs: a committed transaction with its receipt, or an event, proven by Merkle
//! paths to its block header's roots, the header, and the commit certificate. `build` makes a
//! proof from a node's store; `verify` checks one offline against a trusted validator set.

use crate::chain::{ChainReader, TxLocation};
use crate::grpc::block_proto;
use crate::tx::RawTx;
use anyhow::{anyhow, bail, Context as _, Result};
use yui_consensus::merkle::{self, Proof, Side};
use yui_consensus::{Hash, Header, ValidatorSet};
use yui_contracts::root::receipt_leaf_pb;
use yui_proto::v1 as pb;

fn merkle_pb(p: &Proof) -> pb::MerkleProof {
    pb::MerkleProof {
        index: p.index,
        leaf_count: p.leaf_count,
        steps: p
            .siblings
            .iter()
            .map(|(side, h)| pb::MerkleStep {
                sibling_is_left: *side == Side::Left,
                hash: h.0.to_vec(),
            })
            .collect(),
    }
}

fn merkle_from_pb(p: &pb::MerkleProof) -> Result<Proof> {
    Ok(Proof {
        index: p.index,
        leaf_count: p.leaf_count,
        siblings: p
            .steps
            .iter()
            .map(|s| {
                let h = Hash::from_slice(&s.hash)
                    .ok_or_else(|| anyhow!("a Merkle step is not 32 bytes"))?;
                Ok((
                    if s.sibling_is_left {
                        Side::Left
                    } else {
                        Side::Right
                    },
                    h,
                ))
            })
            .collect::<Result<_>>()?,
    })
}

/// Build the proof for the transaction at `loc`.
pub fn build(chain: &ChainReader, loc: TxLocation) -> Result<pb::InclusionProof> {
    let block = chain
        .block(loc.height)?
        .ok_or_else(|| anyhow!("block {} is missing", loc.height))?;
    let ids: Vec<Hash> = block.txs.iter().map(RawTx::id).collect();
    let tx_leaves: Vec<Hash> = ids.iter().map(|id| merkle::leaf(&id.0)).collect();
    let mut receipt_leaves = Vec::with_capacity(ids.len());
    let mut receipt = None;
    for (i, id) in ids.iter().enumerate() {
        let r = chain
            .receipt_proto(TxLocation {
                height: loc.height,
                index: i as u32,
            })?
            .ok_or_else(|| anyhow!("receipt {i} of block {} is missing", loc.height))?;
        receipt_leaves.push(merkle::leaf(&receipt_leaf_pb(&id.0, &r)));
        if i == loc.index as usize {
            receipt = Some(r);
        }
    }
    let i = loc.index as usize;
    let api = block_proto(&block);
    // The cursor is not part of the committed leaf; a proof carries only committed data.
    if let Some(r) = receipt.as_mut() {
        r.first_event = None;
    }
    Ok(pb::InclusionProof {
        header: api.header,
        certificate: api.certificate,
        transaction: block.txs.get(i).map(RawTx::to_proto),
        tx_proof: merkle::prove(&tx_leaves, i).map(|p| merkle_pb(&p)),
        receipt,
        receipt_proof: merkle::prove(&receipt_leaves, i).map(|p| merkle_pb(&p)),
        event_cursor: None,
        event_index: 0,
    })
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

/// The consensus header of an API header.
pub fn header_from_pb(h: &pb::BlockHeader) -> Result<Header> {
    let hash =
        |v: &[u8], what: &str| Hash::from_slice(v).ok_or_else(|| anyhow!("{what} is not 32 bytes"));
    Ok(Header {
        chain_id: h.chain_id.clone(),
        height: h.height,
        time_ms: h.time_ms,
        parent_hash: hash(&h.parent_hash, "parent hash")?,
        proposer: <[u8; 32]>::try_from(h.proposer.as_slice())
            .map_err(|_| anyhow!("proposer is not 32 bytes"))?,
        validator_set_hash: hash(&h.validator_set_hash, "validator set hash")?,
        tx_root: hash(&h.tx_root, "tx root")?,
        state_root: hash(&h.state_root, "state root")?,
        event_root: hash(&h.event_root, "event root")?,
    })
}

/// Decode a proof file, refusing any non-canonical encoding (so no byte of a proof can be
/// changed without the proof failing).
pub fn decode(bytes: &[u8]) -> Result<pb::InclusionProof> {
    use prost::Message;
    let p =
        pb::InclusionProof::decode(bytes).map_err(|e| anyhow!("not an inclusion proof: {e}"))?;
    if p.encode_to_vec() != bytes {
        bail!("the proof is not canonically encoded (extra, reordered or altered bytes)");
    }
    Ok(p)
}

/// Check a proof against the validator set trusted for its height.
pub fn verify(p: &pb::InclusionProof, set: &ValidatorSet) -> Result<Proven> {
    let header = header_from_pb(
        p.header
            .as_ref()
            .ok_or_else(|| anyhow!("the proof has no header"))?,
    )?;
    let block_hash = header.hash();
    if header.validator_set_hash != set.hash() {
        bail!("the block was decided by a different validator set than the one trusted here (changed by governance since?)");
    }
    let cert = crate::grpc::block_from_proto(pb::Block {
        header: p.header.clone(),
        hash: vec![],
        transactions: vec![],
        certificate: p.certificate.clone(),
    })
    .context("the certificate is malformed")?
    .cert;
    cert.verify(&header.chain_id, header.height, &block_hash, set)
        .map_err(|e| anyhow!("the commit certificate does not verify: {e}"))?;
    let tx = RawTx::from_proto(
        p.transaction
            .clone()
            .ok_or_else(|| anyhow!("the proof has no transaction"))?,
    );
    let tx_id = tx.id();
    let tx_proof = merkle_from_pb(
        p.tx_proof
            .as_ref()
            .ok_or_else(|| anyhow!("the proof has no transaction path"))?,
    )?;
    if !tx_proof.verify(&tx_id.0, &header.tx_root) {
        bail!("the transaction is not in the block (its Merkle path does not lead to the header's transaction root)");
    }
    let receipt = p
        .receipt
        .as_ref()
        .ok_or_else(|| anyhow!("the proof has no receipt"))?;
    if receipt.first_event.is_some() {
        bail!("the receipt carries a cursor, which is not committed data");
    }
    let rp = merkle_from_pb(
        p.receipt_proof
            .as_ref()
            .ok_or_else(|| anyhow!("the proof has no receipt path"))?,
    )?;
    if rp.index != tx_proof.index {
        bail!("the receipt path is for another position than the transaction");
    }
    if !rp.verify(&receipt_leaf_pb(&tx_id.0, receipt), &header.event_root) {
        bail!("the receipt is not the one committed for this transaction (its Merkle path does not lead to the header's event root)");
    }
    let event = match &p.event_cursor {
        None => None,
        Some(c) => {
            if c.height != header.height {
                bail!("the event cursor names another block");
            }
            Some(
                receipt
                    .events
                    .get(p.event_index as usize)
                    .cloned()
                    .ok_or_else(|| anyhow!("the receipt has no event {}", p.event_index))?,
            )
        }
    };
    Ok(Proven {
        height: header.height,
        block_hash,
        tx_id,
        success: receipt.success,
        event,
    })
}
