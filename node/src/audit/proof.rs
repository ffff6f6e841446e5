//! Building inclusion proofs from a node's store: a committed transaction with its receipt,
//! or one of its events (a volunteer certificate is the proof of its `CertificateIssued`
//! event), proven by Merkle paths to its block header's roots, the header, and the commit
//! certificate. Their verification is `yui_client::proof`'s and `yui_client::certificate`'s,
//! so the party checking a proof needs none of this code.

use crate::chain::convert::block_proto;
use crate::chain::{ChainReader, TxLocation};
use anyhow::{anyhow, Result};
use yui_client::certificate::certificate_event;
use yui_client::convert::merkle_to_pb;
use yui_client::proof::tx_leaves;
use yui_consensus::{merkle, Hash};
use yui_contracts::volunteer;
use yui_proto::v1 as pb;

/// Build the proof for the transaction at `loc`.
pub fn build(chain: &ChainReader, loc: TxLocation) -> Result<pb::InclusionProof> {
    let block = chain
        .block(loc.height)?
        .ok_or_else(|| anyhow!("block {} is missing", loc.height))?;
    let leaves = tx_leaves(&block.txs);
    let mut receipt_leaves = Vec::with_capacity(block.txs.len());
    let mut receipt = None;
    for (i, tx) in block.txs.iter().enumerate() {
        let index = u32::try_from(i)?;
        let r = chain
            .receipt_proto(TxLocation {
                height: loc.height,
                index,
            })?
            .ok_or_else(|| anyhow!("receipt {i} of block {} is missing", loc.height))?;
        receipt_leaves.push(merkle::leaf(&yui_proto::commit::receipt_leaf(
            &tx.id().0,
            &r,
        )));
        if index == loc.index {
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
        transaction: api.transactions.into_iter().nth(i),
        tx_proof: merkle::prove(&leaves, i).map(|p| merkle_to_pb(&p)),
        receipt,
        receipt_proof: merkle::prove(&receipt_leaves, i).map(|p| merkle_to_pb(&p)),
        event_cursor: None,
        event_index: 0,
    })
}

/// Build the proof of a volunteer certificate: the proof of its `CertificateIssued` event.
pub fn certificate(chain: &ChainReader, certificate_id: &str) -> Result<pb::InclusionProof> {
    let cert = volunteer::certificate_record(&chain.state(), certificate_id)
        .map_err(|e| anyhow!("{e}"))?
        .ok_or_else(|| anyhow!("no certificate has this id"))?;
    let loc = chain
        .tx_location(&Hash(cert.issued_in_tx))?
        .ok_or_else(|| anyhow!("the issuing transaction is not on this node"))?;
    let mut proof = build(chain, loc)?;
    let receipt = proof
        .receipt
        .as_ref()
        .ok_or_else(|| anyhow!("the proof has no receipt"))?;
    let index = receipt
        .events
        .iter()
        .position(|e| certificate_event(e).is_some_and(|c| c.certificate_id == certificate_id))
        .ok_or_else(|| anyhow!("the issuing receipt has no CertificateIssued event"))?;
    let first = chain
        .receipt(loc)?
        .map(|r| r.first_event)
        .ok_or_else(|| anyhow!("the issuing receipt is missing"))?;
    let index = u32::try_from(index)?;
    proof.event_index = index;
    proof.event_cursor = Some(pb::Cursor {
        height: loc.height,
        index: first
            .checked_add(index)
            .ok_or_else(|| anyhow!("the event cursor overflows"))?,
    });
    Ok(proof)
}
