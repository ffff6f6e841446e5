//! Equivocation evidence on the chain: two votes one validator signed for the same chain,
//! height, round and step, for different blocks. Anyone may report it (a node reports what its
//! engine detected, signed with its own key); every validator checks the two signatures and
//! that the signer was a validator at that height before recording it, once per offence step.
//! A removal or re-keying proposal can cite it.

use super::*;
use yui_consensus::{Evidence, Hash, Vote, VoteData, VoteType};

const K_EVIDENCE: &[u8] = b"gov/evidence/";
/// Evidence ids in the order they were recorded: `gov/evseq/{seq_be}` -> id.
const K_EVIDENCE_SEQ: &[u8] = b"gov/evseq/";
const K_EVIDENCE_NEXT: &[u8] = b"gov/evnext";

/// Recorded evidence.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct EvidenceRecord {
    /// Its id.
    pub id: [u8; 32],
    /// The validator.
    pub validator: [u8; 32],
    /// Its organization at that height.
    pub organization: String,
    /// The two votes (borsh of the consensus votes).
    pub evidence: Evidence,
    /// The height that recorded it.
    pub recorded_at_height: u64,
}

/// A consensus vote as the API carries it.
pub fn vote_to_api(v: &Vote) -> pb::SignedVote {
    pb::SignedVote {
        chain_id: v.data.chain_id.clone(),
        precommit: v.data.vote_type == VoteType::Precommit,
        height: v.data.height,
        round: v.data.round,
        block_hash: v.data.block_hash.map(|h| h.0.to_vec()).unwrap_or_default(),
        validator: v.data.validator.to_vec(),
        signature: v.signature.to_vec(),
    }
}

/// The consensus vote of an API vote, if its fields have the right sizes.
pub fn vote_from_api(v: &pb::SignedVote) -> Result<Vote> {
    let block_hash = if v.block_hash.is_empty() {
        None
    } else {
        Some(Hash(key32("vote block_hash", &v.block_hash)?))
    };
    let signature = <[u8; 64]>::try_from(v.signature.as_slice()).map_err(|_| {
        invalid_argument(
            "governance.invalid_evidence",
            "a vote signature is 64 bytes",
        )
    })?;
    Ok(Vote {
        data: VoteData {
            chain_id: v.chain_id.clone(),
            vote_type: if v.precommit {
                VoteType::Precommit
            } else {
                VoteType::Prevote
            },
            height: v.height,
            round: v.round,
            block_hash,
            validator: key32("vote validator", &v.validator)?,
        },
        signature,
    })
}

/// The evidence id: one per validator and step, whichever two conflicting votes show it.
pub fn evidence_id(e: &Evidence) -> [u8; 32] {
    let d = &e.first.data;
    yui_consensus::hash::hash_parts(
        b"yui/v1/evidence-id",
        &[
            &d.validator,
            &d.height.to_be_bytes(),
            &d.round.to_be_bytes(),
            &[u8::from(d.vote_type == VoteType::Precommit)],
        ],
    )
    .0
}

/// The evidence in a report, checked: both votes of this chain, the same validator, height,
/// round and step, different blocks, both signatures valid, the validator in the set of that
/// height, the height already reached.
fn check_report(x: &Exec<'_>, c: &pb::ReportEvidence) -> Result<(Evidence, String)> {
    let bad = |why: &str| invalid_argument("governance.invalid_evidence", why.to_string());
    let (Some(first), Some(second)) = (c.first.as_ref(), c.second.as_ref()) else {
        return Err(bad("evidence needs two votes"));
    };
    let e = Evidence {
        first: vote_from_api(first)?,
        second: vote_from_api(second)?,
    };
    if e.first.data.chain_id != x.ctx.chain_id {
        return Err(bad("the votes are of another chain"));
    }
    if !e.is_valid() {
        return Err(bad(
            "the two votes are not one validator's conflicting, validly signed votes for one step",
        ));
    }
    let h = e.first.data.height;
    if h > x.ctx.height {
        return Err(bad("the votes are for a height the chain has not reached"));
    }
    let (_, set) = validators_at(&*x.state, h)?;
    let org = set
        .iter()
        .find(|v| v.public_key == e.first.data.validator)
        .map(|v| v.organization.clone())
        .ok_or_else(|| bad("the key was not a validator at that height"))?;
    Ok((e, org))
}

pub(super) fn report_evidence(x: &mut Exec<'_>, c: &pb::ReportEvidence) -> Result<()> {
    let (e, organization) = check_report(x, c)?;
    let id = evidence_id(&e);
    let key = [K_EVIDENCE, id.as_slice()].concat();
    if x.state.get(&key)?.is_some() {
        return Err(already_exists(
            "governance.evidence_recorded",
            "this equivocation is already recorded",
        ));
    }
    let record = EvidenceRecord {
        id,
        validator: e.first.data.validator,
        organization,
        evidence: e,
        recorded_at_height: x.ctx.height,
    };
    let seq: u64 = get_borsh(&*x.state, K_EVIDENCE_NEXT)?.unwrap_or(0);
    put_borsh(x.state, K_EVIDENCE_NEXT.to_vec(), &(seq + 1));
    put_borsh(x.state, [K_EVIDENCE_SEQ, &seq.to_be_bytes()].concat(), &id);
    x.emit(pb::event::Kind::Governance(pb::GovernanceEvent {
        kind: Some(pb::governance_event::Kind::EvidenceRecorded(
            record.to_api(),
        )),
    }));
    put_borsh(x.state, key, &record);
    Ok(())
}

impl EvidenceRecord {
    /// As the API shows it.
    pub fn to_api(&self) -> pb::EvidenceRecorded {
        let d = &self.evidence.first.data;
        pb::EvidenceRecorded {
            evidence_id: self.id.to_vec(),
            validator: self.validator.to_vec(),
            organization: self.organization.clone(),
            height: d.height,
            round: d.round,
            precommit: d.vote_type == VoteType::Precommit,
            evidence: Some(pb::ReportEvidence {
                first: Some(vote_to_api(&self.evidence.first)),
                second: Some(vote_to_api(&self.evidence.second)),
            }),
            recorded_at_height: self.recorded_at_height,
        }
    }
}

/// Recorded evidence by id.
pub fn evidence(state: &dyn StateRead, id: &[u8]) -> Result<Option<EvidenceRecord>> {
    get_borsh(state, &[K_EVIDENCE, id].concat())
}

/// All recorded evidence, oldest first (at most `queries::MAX_LISTED`).
pub fn list_evidence(state: &dyn StateRead) -> Result<Vec<pb::EvidenceRecorded>> {
    let ids: Vec<(Vec<u8>, [u8; 32])> =
        scan_borsh(state, K_EVIDENCE_SEQ, None, queries::MAX_LISTED)?;
    let mut out = Vec::with_capacity(ids.len());
    for (_, id) in ids {
        let r = evidence(state, &id)?.ok_or_else(|| {
            crate::Failed(format!(
                "evidence {} is listed but not stored",
                hex::encode(id)
            ))
        })?;
        out.push(r.to_api());
    }
    Ok(out)
}

/// A proposal's cited evidence must exist and name `validator` (the one it removes or
/// re-keys).
pub(super) fn check_citation(
    state: &dyn StateRead,
    cited: &[u8],
    validator: &[u8; 32],
) -> Result<()> {
    if cited.is_empty() {
        return Ok(());
    }
    match evidence(state, cited)? {
        Some(r) if &r.validator == validator => Ok(()),
        Some(_) => Err(invalid_argument(
            "governance.evidence_mismatch",
            "the cited evidence is against another validator",
        )),
        None => Err(not_found(
            "governance.unknown_evidence",
            "no recorded evidence has this id",
        )),
    }
}
