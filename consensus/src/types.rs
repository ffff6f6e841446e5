//! The data consensus agrees on and exchanges: validator sets, headers, proposals, votes,
//! commit certificates and equivocation evidence. All borsh-encoded; every signed message
//! carries the chain id so a signature is never valid on another network.

use crate::hash::{domain, hash_borsh, Hash};
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signer, SigningKey};

/// A 32-byte ed25519 public key as bytes (validated when a signature is checked).
pub type PublicKey = [u8; 32];

/// A consensus round within a height.
pub type Round = u32;

/// Block height; the first block after genesis is 1.
pub type Height = u64;

/// How many faults the consortium is built to survive; fixed in genesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum FaultModel {
    /// Quorum is more than 2/3 of voting power: n = 3f + 1 tolerates f arbitrary faults.
    Byzantine,
    /// Quorum is more than 1/2 of voting power: n = 2f + 1 tolerates f crashes, and no lying
    /// validator at all.
    Crash,
}

impl FaultModel {
    /// The smallest voting power that is a quorum of `total`.
    pub fn quorum(self, total: u64) -> u64 {
        match self {
            FaultModel::Byzantine => total / 3 * 2 + (total % 3 * 2) / 3 + 1,
            FaultModel::Crash => total / 2 + 1,
        }
    }

    /// The largest voting power that may fail while `total` still reaches a quorum — and,
    /// under the Byzantine model, while two quorums still overlap in a correct validator.
    pub fn tolerated(self, total: u64) -> u64 {
        match self {
            FaultModel::Byzantine => (total.saturating_sub(1)) / 3,
            FaultModel::Crash => (total.saturating_sub(1)) / 2,
        }
    }

    /// Voting power that guarantees at least one correct validator among the voters
    /// (Tendermint's f + 1, used to skip to a higher round).
    pub fn one_correct(self, total: u64) -> u64 {
        self.tolerated(total) + 1
    }
}

/// One validator: a named organization's consensus key and its voting power.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Validator {
    /// The organization that runs it.
    pub organization: String,
    /// A short human name.
    pub name: String,
    /// Its ed25519 consensus key.
    pub public_key: PublicKey,
    /// Voting power, at least 1.
    pub power: u64,
}

/// The validators deciding one height, in a fixed order (the order of genesis and governance).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ValidatorSet {
    /// The validators, in proposer-rotation order. Keys are unique.
    pub validators: Vec<Validator>,
    /// The fault model the quorum follows.
    pub fault_model: FaultModel,
}

impl ValidatorSet {
    /// Build a set, rejecting an empty set, a zero power, duplicate keys or a total power
    /// that overflows.
    pub fn new(validators: Vec<Validator>, fault_model: FaultModel) -> Result<Self, SetError> {
        if validators.is_empty() {
            return Err(SetError::Empty);
        }
        let mut total: u64 = 0;
        for (i, v) in validators.iter().enumerate() {
            if v.power == 0 {
                return Err(SetError::ZeroPower(v.name.clone()));
            }
            total = total.checked_add(v.power).ok_or(SetError::PowerOverflow)?;
            if validators[..i].iter().any(|w| w.public_key == v.public_key) {
                return Err(SetError::DuplicateKey(v.name.clone()));
            }
        }
        Ok(ValidatorSet {
            validators,
            fault_model,
        })
    }

    /// Sum of voting power.
    pub fn total_power(&self) -> u64 {
        self.validators.iter().map(|v| v.power).sum()
    }

    /// Voting power a quorum needs.
    pub fn quorum_power(&self) -> u64 {
        self.fault_model.quorum(self.total_power())
    }

    /// The validator with this key, and its index.
    pub fn get(&self, key: &PublicKey) -> Option<(usize, &Validator)> {
        self.validators
            .iter()
            .enumerate()
            .find(|(_, v)| &v.public_key == key)
    }

    /// Whether `key` is a member.
    pub fn contains(&self, key: &PublicKey) -> bool {
        self.get(key).is_some()
    }

    /// The proposer of `(height, round)`: weighted round-robin over the set, so every
    /// validator proposes in proportion to its power, rotating by height and by round.
    pub fn proposer(&self, height: Height, round: Round) -> &Validator {
        let total = self.total_power().max(1);
        let slot = (height.wrapping_add(u64::from(round))) % total;
        let mut acc = 0u64;
        for v in &self.validators {
            acc += v.power;
            if slot < acc {
                return v;
            }
        }
        &self.validators[0]
    }

    /// The set's hash, committed to by every header it decides.
    pub fn hash(&self) -> Hash {
        hash_borsh(domain::VALIDATOR_SET, self)
    }
}

/// Why a validator set is not valid.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SetError {
    /// No validators.
    #[error("the validator set is empty")]
    Empty,
    /// A validator with zero power.
    #[error("validator {0} has zero voting power")]
    ZeroPower(String),
    /// Two validators with one key.
    #[error("validator {0} uses a key that another validator already uses")]
    DuplicateKey(String),
    /// Power does not fit in u64.
    #[error("total voting power overflows")]
    PowerOverflow,
}

/// A block header. The block hash is the header hash.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Header {
    /// Chain id.
    pub chain_id: String,
    /// Height, from 1.
    pub height: Height,
    /// Proposer's clock, ms since the Unix epoch; strictly above the parent's.
    pub time_ms: u64,
    /// Parent header hash (the genesis hash at height 1).
    pub parent_hash: Hash,
    /// Proposer's key.
    pub proposer: PublicKey,
    /// Hash of the validator set deciding this height.
    pub validator_set_hash: Hash,
    /// Merkle root of the transaction ids.
    pub tx_root: Hash,
    /// State root after this block.
    pub state_root: Hash,
    /// Merkle root of receipts with their events.
    pub event_root: Hash,
    /// The protocol version the block follows: 1, until the consortium schedules another by
    /// vote from a height on (`consensus.protocol_version`).
    pub protocol_version: u32,
}

impl Header {
    /// The block hash.
    pub fn hash(&self) -> Hash {
        hash_borsh(domain::HEADER, self)
    }
}

/// Prevote or precommit.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum VoteType {
    /// First voting step.
    Prevote,
    /// Second voting step; a quorum of precommits for a block commits it.
    Precommit,
}

/// The signed content of a vote.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct VoteData {
    /// Chain id.
    pub chain_id: String,
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The block voted for, or `None` for nil.
    pub block_hash: Option<Hash>,
    /// The voter.
    pub validator: PublicKey,
}

/// A signed vote.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Vote {
    /// What was voted.
    pub data: VoteData,
    /// ed25519 signature over `VOTE || borsh(data)`.
    pub signature: [u8; 64],
}

/// The signed content of a proposal. The block itself travels beside it; the engine only
/// needs its hash.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ProposalData {
    /// Chain id.
    pub chain_id: String,
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// Hash of the proposed block.
    pub block_hash: Hash,
    /// Tendermint's validRound: the round in which this value got a polka, or `None`.
    pub pol_round: Option<Round>,
    /// The proposer.
    pub proposer: PublicKey,
}

/// A signed proposal.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Proposal {
    /// What was proposed.
    pub data: ProposalData,
    /// ed25519 signature over `PROPOSAL || borsh(data)`.
    pub signature: [u8; 64],
}

fn sign_bytes<T: BorshSerialize>(domain: &[u8], data: &T) -> Vec<u8> {
    let mut out = domain.to_vec();
    // Serializing into a Vec cannot fail.
    let _ = borsh::to_writer(&mut out, data);
    out
}

fn verify_sig(key: &PublicKey, msg: &[u8], sig: &[u8; 64]) -> bool {
    crate::sig::verify(key, msg, sig)
}

impl VoteData {
    /// Bytes signed for this vote.
    pub fn sign_bytes(&self) -> Vec<u8> {
        sign_bytes(domain::VOTE, self)
    }

    /// Sign with `key` (whose public key must be `self.validator`).
    pub fn sign(self, key: &SigningKey) -> Vote {
        let signature = key.sign(&self.sign_bytes()).to_bytes();
        Vote {
            data: self,
            signature,
        }
    }
}

impl Vote {
    /// Verify the signature (ZIP 215, `sig`) against `data.validator`.
    pub fn verify_signature(&self) -> bool {
        verify_sig(
            &self.data.validator,
            &self.data.sign_bytes(),
            &self.signature,
        )
    }
}

impl ProposalData {
    /// Bytes signed for this proposal.
    pub fn sign_bytes(&self) -> Vec<u8> {
        sign_bytes(domain::PROPOSAL, self)
    }

    /// Sign with `key` (whose public key must be `self.proposer`).
    pub fn sign(self, key: &SigningKey) -> Proposal {
        let signature = key.sign(&self.sign_bytes()).to_bytes();
        Proposal {
            data: self,
            signature,
        }
    }
}

impl Proposal {
    /// Verify the signature (ZIP 215, `sig`) against `data.proposer`.
    pub fn verify_signature(&self) -> bool {
        verify_sig(
            &self.data.proposer,
            &self.data.sign_bytes(),
            &self.signature,
        )
    }
}

/// A quorum of precommits for one block: proof on its own that the block is committed,
/// checkable by anyone who holds that height's validator set.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CommitCertificate {
    /// Height.
    pub height: Height,
    /// Round of the decision.
    pub round: Round,
    /// The committed block hash.
    pub block_hash: Hash,
    /// (validator key, precommit signature) pairs, in validator-set order.
    pub signatures: Vec<(PublicKey, [u8; 64])>,
}

/// Why a commit certificate is not valid.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CertificateError {
    /// Signed by a key outside the set.
    #[error("signature by {0} who is not a validator at this height")]
    UnknownValidator(String),
    /// One validator counted twice.
    #[error("validator {0} signed twice")]
    Duplicate(String),
    /// Bad signature.
    #[error("invalid precommit signature by validator {0}")]
    BadSignature(String),
    /// Not enough power.
    #[error("signatures carry {have} voting power, a quorum needs {need}")]
    NoQuorum {
        /// Power carried.
        have: u64,
        /// Power needed.
        need: u64,
    },
    /// For another block or height.
    #[error("certificate is for height {cert_height} block {cert_block}, expected height {height} block {block}")]
    WrongBlock {
        /// Certificate height.
        cert_height: Height,
        /// Certificate block.
        cert_block: Hash,
        /// Expected height.
        height: Height,
        /// Expected block.
        block: Hash,
    },
}

impl CommitCertificate {
    /// Check that this certifies `block_hash` at `height` under `set`: every signature is a
    /// valid precommit by a distinct member for this chain, and together they reach a quorum.
    pub fn verify(
        &self,
        chain_id: &str,
        height: Height,
        block_hash: &Hash,
        set: &ValidatorSet,
    ) -> Result<(), CertificateError> {
        if self.height != height || &self.block_hash != block_hash {
            return Err(CertificateError::WrongBlock {
                cert_height: self.height,
                cert_block: self.block_hash,
                height,
                block: *block_hash,
            });
        }
        let mut seen = vec![false; set.validators.len()];
        let mut power = 0u64;
        for (key, sig) in &self.signatures {
            let Some((idx, v)) = set.get(key) else {
                return Err(CertificateError::UnknownValidator(hex8(key)));
            };
            if std::mem::replace(&mut seen[idx], true) {
                return Err(CertificateError::Duplicate(v.name.clone()));
            }
            let data = VoteData {
                chain_id: chain_id.to_string(),
                vote_type: VoteType::Precommit,
                height: self.height,
                round: self.round,
                block_hash: Some(self.block_hash),
                validator: *key,
            };
            if !verify_sig(key, &data.sign_bytes(), sig) {
                return Err(CertificateError::BadSignature(v.name.clone()));
            }
            power += v.power;
        }
        let need = set.quorum_power();
        if power < need {
            return Err(CertificateError::NoQuorum { have: power, need });
        }
        Ok(())
    }
}

fn hex8(key: &PublicKey) -> String {
    hex::encode(&key[..4])
}

/// Two different signed votes by one validator for one height, round and step.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Evidence {
    /// The first vote seen.
    pub first: Vote,
    /// The conflicting vote.
    pub second: Vote,
}

impl Evidence {
    /// True if this is real equivocation: same chain, validator, height, round and step,
    /// different values, both signatures valid.
    pub fn is_valid(&self) -> bool {
        let (a, b) = (&self.first.data, &self.second.data);
        a.chain_id == b.chain_id
            && a.validator == b.validator
            && a.height == b.height
            && a.round == b.round
            && a.vote_type == b.vote_type
            && a.block_hash != b.block_hash
            && self.first.verify_signature()
            && self.second.verify_signature()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u8) -> SigningKey {
        SigningKey::from_bytes(&[i; 32])
    }

    fn set(n: u8, fm: FaultModel) -> (Vec<SigningKey>, ValidatorSet) {
        let keys: Vec<SigningKey> = (1..=n).map(key).collect();
        let vals = keys
            .iter()
            .enumerate()
            .map(|(i, k)| Validator {
                organization: format!("org{i}"),
                name: format!("v{i}"),
                public_key: k.verifying_key().to_bytes(),
                power: 1,
            })
            .collect();
        (keys, ValidatorSet::new(vals, fm).unwrap())
    }

    #[test]
    fn quorum_thresholds() {
        // Byzantine: more than 2/3.
        assert_eq!(FaultModel::Byzantine.quorum(1), 1);
        assert_eq!(FaultModel::Byzantine.quorum(3), 3);
        assert_eq!(FaultModel::Byzantine.quorum(4), 3);
        assert_eq!(FaultModel::Byzantine.quorum(6), 5);
        assert_eq!(FaultModel::Byzantine.quorum(7), 5);
        assert_eq!(FaultModel::Byzantine.tolerated(4), 1);
        assert_eq!(FaultModel::Byzantine.tolerated(3), 0);
        // Crash: majority.
        assert_eq!(FaultModel::Crash.quorum(3), 2);
        assert_eq!(FaultModel::Crash.quorum(4), 3);
        assert_eq!(FaultModel::Crash.tolerated(3), 1);
        for total in 1..200u64 {
            let q = FaultModel::Byzantine.quorum(total);
            assert!(
                3 * q > 2 * total && 3 * (q - 1) <= 2 * total,
                "total {total}"
            );
            let q = FaultModel::Crash.quorum(total);
            assert!(2 * q > total && 2 * (q - 1) <= total, "total {total}");
        }
    }

    #[test]
    fn certificate_needs_quorum_of_distinct_members() {
        let (keys, vs) = set(4, FaultModel::Byzantine);
        let block = Hash([7; 32]);
        let sigs: Vec<(PublicKey, [u8; 64])> = keys
            .iter()
            .map(|k| {
                let v = VoteData {
                    chain_id: "c".into(),
                    vote_type: VoteType::Precommit,
                    height: 5,
                    round: 1,
                    block_hash: Some(block),
                    validator: k.verifying_key().to_bytes(),
                }
                .sign(k);
                (v.data.validator, v.signature)
            })
            .collect();
        let cert = |s: Vec<(PublicKey, [u8; 64])>| CommitCertificate {
            height: 5,
            round: 1,
            block_hash: block,
            signatures: s,
        };
        assert_eq!(cert(sigs[..3].to_vec()).verify("c", 5, &block, &vs), Ok(()));
        assert!(matches!(
            cert(sigs[..2].to_vec()).verify("c", 5, &block, &vs),
            Err(CertificateError::NoQuorum { have: 2, need: 3 })
        ));
        let dup = vec![sigs[0], sigs[0], sigs[1]];
        assert!(matches!(
            cert(dup).verify("c", 5, &block, &vs),
            Err(CertificateError::Duplicate(_))
        ));
        assert!(matches!(
            cert(sigs[..3].to_vec()).verify("other-chain", 5, &block, &vs),
            Err(CertificateError::BadSignature(_))
        ));
        let mut forged = sigs[..3].to_vec();
        forged[1].1[0] ^= 1;
        assert!(matches!(
            cert(forged).verify("c", 5, &block, &vs),
            Err(CertificateError::BadSignature(_))
        ));
        let outsider = key(99);
        let mut with_outsider = sigs[..2].to_vec();
        with_outsider.push((outsider.verifying_key().to_bytes(), sigs[2].1));
        assert!(matches!(
            cert(with_outsider).verify("c", 5, &block, &vs),
            Err(CertificateError::UnknownValidator(_))
        ));
        assert!(matches!(
            cert(sigs.clone()).verify("c", 6, &block, &vs),
            Err(CertificateError::WrongBlock { .. })
        ));
    }

    #[test]
    fn proposer_rotates_by_height_and_round() {
        let (_, vs) = set(4, FaultModel::Byzantine);
        let p = |h, r| vs.proposer(h, r).public_key;
        assert_ne!(p(1, 0), p(2, 0));
        assert_ne!(p(1, 0), p(1, 1));
        let all: std::collections::BTreeSet<_> = (0..4).map(|h| p(h, 0)).collect();
        assert_eq!(all.len(), 4);
    }
}
