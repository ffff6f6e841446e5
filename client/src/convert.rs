//! API messages to consensus types and back. Every byte string of fixed size is checked on the
//! way in; a wrong size is a [`ConvertError`] naming the field, never a panic.

use yui_consensus::merkle::{Proof, Side};
use yui_consensus::{CommitCertificate, Hash, Header};
use yui_proto::v1 as pb;

/// A field of an API message that does not have the size its type needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// A required part of the message is absent.
    #[error("the {0} is missing")]
    Missing(&'static str),
    /// A fixed-size field has another size.
    #[error("the {field} must be {expected} bytes, got {got}")]
    Size {
        /// Which field.
        field: &'static str,
        /// Its size.
        expected: usize,
        /// The size it had.
        got: usize,
    },
}

fn fixed<const N: usize>(v: &[u8], field: &'static str) -> Result<[u8; N], ConvertError> {
    <[u8; N]>::try_from(v).map_err(|_| ConvertError::Size {
        field,
        expected: N,
        got: v.len(),
    })
}

fn hash(v: &[u8], field: &'static str) -> Result<Hash, ConvertError> {
    fixed::<32>(v, field).map(Hash)
}

/// The API form of a header.
pub fn header_to_pb(h: &Header) -> pb::BlockHeader {
    pb::BlockHeader {
        chain_id: h.chain_id.clone(),
        height: h.height,
        time_ms: h.time_ms,
        parent_hash: h.parent_hash.0.to_vec(),
        proposer: h.proposer.to_vec(),
        validator_set_hash: h.validator_set_hash.0.to_vec(),
        tx_root: h.tx_root.0.to_vec(),
        state_root: h.state_root.0.to_vec(),
        event_root: h.event_root.0.to_vec(),
        protocol_version: h.protocol_version,
    }
}

/// The consensus header of an API header.
pub fn header_from_pb(h: &pb::BlockHeader) -> Result<Header, ConvertError> {
    Ok(Header {
        chain_id: h.chain_id.clone(),
        height: h.height,
        time_ms: h.time_ms,
        parent_hash: hash(&h.parent_hash, "parent hash")?,
        proposer: fixed(&h.proposer, "proposer")?,
        validator_set_hash: hash(&h.validator_set_hash, "validator set hash")?,
        tx_root: hash(&h.tx_root, "transaction root")?,
        state_root: hash(&h.state_root, "state root")?,
        event_root: hash(&h.event_root, "event root")?,
        protocol_version: h.protocol_version,
    })
}

/// The API form of a commit certificate.
pub fn certificate_to_pb(c: &CommitCertificate) -> pb::CommitCertificate {
    pb::CommitCertificate {
        height: c.height,
        round: c.round,
        block_hash: c.block_hash.0.to_vec(),
        signatures: c
            .signatures
            .iter()
            .map(|(k, s)| pb::CommitSignature {
                validator: k.to_vec(),
                signature: s.to_vec(),
            })
            .collect(),
    }
}

/// The consensus form of an API commit certificate.
pub fn certificate_from_pb(c: &pb::CommitCertificate) -> Result<CommitCertificate, ConvertError> {
    Ok(CommitCertificate {
        height: c.height,
        round: c.round,
        block_hash: hash(&c.block_hash, "certificate's block hash")?,
        signatures: c
            .signatures
            .iter()
            .map(|s| {
                Ok((
                    fixed(&s.validator, "certificate's validator key")?,
                    fixed(&s.signature, "certificate's signature")?,
                ))
            })
            .collect::<Result<_, ConvertError>>()?,
    })
}

/// The API form of a Merkle path.
pub fn merkle_to_pb(p: &Proof) -> pb::MerkleProof {
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

/// The Merkle path of its API form.
pub fn merkle_from_pb(p: &pb::MerkleProof) -> Result<Proof, ConvertError> {
    Ok(Proof {
        index: p.index,
        leaf_count: p.leaf_count,
        siblings: p
            .steps
            .iter()
            .map(|s| {
                let side = if s.sibling_is_left {
                    Side::Left
                } else {
                    Side::Right
                };
                Ok((side, hash(&s.hash, "Merkle step")?))
            })
            .collect::<Result<_, ConvertError>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            chain_id: "c".into(),
            height: 3,
            time_ms: 9,
            parent_hash: Hash([1; 32]),
            proposer: [2; 32],
            validator_set_hash: Hash([3; 32]),
            tx_root: Hash([4; 32]),
            state_root: Hash([5; 32]),
            event_root: Hash([6; 32]),
            protocol_version: 1,
        }
    }

    #[test]
    fn headers_and_certificates_round_trip_and_wrong_sizes_are_named() {
        let h = header();
        assert_eq!(header_from_pb(&header_to_pb(&h)), Ok(h));
        let c = CommitCertificate {
            height: 3,
            round: 1,
            block_hash: Hash([7; 32]),
            signatures: vec![([8; 32], [9; 64])],
        };
        assert_eq!(certificate_from_pb(&certificate_to_pb(&c)), Ok(c.clone()));
        let mut bad = header_to_pb(&header());
        bad.state_root.pop();
        assert_eq!(
            header_from_pb(&bad),
            Err(ConvertError::Size {
                field: "state root",
                expected: 32,
                got: 31
            })
        );
        let mut bad = certificate_to_pb(&c);
        bad.signatures[0].signature.push(0);
        assert!(matches!(
            certificate_from_pb(&bad),
            Err(ConvertError::Size {
                field: "certificate's signature",
                expected: 64,
                got: 65
            })
        ));
    }
}
