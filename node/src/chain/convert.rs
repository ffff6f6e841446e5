//! Stored blocks to API messages and back. The header and certificate conversions are
//! `yui_client::convert`'s, so a client verifies exactly what a node serves.

use crate::chain::StoredBlock;
use yui_client::convert::{
    certificate_from_pb, certificate_to_pb, header_from_pb, header_to_pb, ConvertError,
};
use yui_client::tx::RawTx;
use yui_proto::v1 as pb;

/// A stored block as the API serves it.
pub fn block_proto(b: &StoredBlock) -> pb::Block {
    pb::Block {
        header: Some(header_to_pb(&b.header)),
        hash: b.header.hash().0.to_vec(),
        transactions: b.txs.iter().map(RawTx::to_proto).collect(),
        certificate: Some(certificate_to_pb(&b.cert)),
    }
}

/// An API block back in its stored form (an export over gRPC). Fails on a missing part or a
/// wrong field size; the verifier then checks everything else.
pub fn block_from_proto(b: pb::Block) -> Result<StoredBlock, ConvertError> {
    Ok(StoredBlock {
        header: header_from_pb(b.header.as_ref().ok_or(ConvertError::Missing("header"))?)?,
        cert: certificate_from_pb(
            b.certificate
                .as_ref()
                .ok_or(ConvertError::Missing("commit certificate"))?,
        )?,
        txs: b.transactions.into_iter().map(RawTx::from_proto).collect(),
    })
}
