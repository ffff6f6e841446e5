//! The volunteer contract's read-only searches (pure; the node's `Volunteer` gRPC service calls
//! these).

use super::calls::req_vol;
use super::keys::*;
use super::records::*;
use super::*;
use crate::page::Page;
use crate::state::decode_borsh;
use borsh::BorshDeserialize;

// ---------------------------------------------------------------------------------------
// Queries (pure; the node's `Volunteer` gRPC service calls these).

/// A page of the borsh records under `prefix` that `keep` accepts (`page::Page::scan`).
fn filtered_scan<T: BorshDeserialize, O>(
    state: &dyn StateRead,
    prefix: &[u8],
    page: Option<&pb::PageRequest>,
    mut keep: impl FnMut(&[u8], T) -> Result<Option<O>>,
) -> Result<(Vec<O>, String)> {
    Page::of(page, prefix)?.scan(state, prefix, |k, v| keep(k, decode_borsh(k, v)?))
}

/// Opportunities, filtered by status, skill and poster, in id order.
pub fn list_opportunities(
    state: &dyn StateRead,
    req: &pb::ListOpportunitiesRequest,
) -> Result<pb::ListOpportunitiesResponse> {
    let (opportunities, next_page_token) =
        filtered_scan(state, K_OPP, req.page.as_ref(), |_, o: Opportunity| {
            let ok = (req.status == 0 || o.status.to_api() == req.status)
                && (req.skill.is_empty() || o.skills.contains(&req.skill))
                && (req.poster.is_empty() || o.poster.as_slice() == req.poster.as_slice());
            Ok(ok.then(|| o.to_proto()))
        })?;
    Ok(pb::ListOpportunitiesResponse {
        opportunities,
        next_page_token,
    })
}

/// A volunteer's history (visible to every participant: ids are pseudonymous) and balance.
/// `points_balance` is filled by the caller from the points ledger at the latest block time.
pub fn volunteer_history(
    state: &dyn StateRead,
    req: &pb::GetVolunteerHistoryRequest,
) -> Result<pb::GetVolunteerHistoryResponse> {
    check_ref("volunteer", "volunteer_id", &req.volunteer_id)?;
    let v = req_vol(state, &req.volunteer_id)?;
    let prefix = [K_HIST, v.id.as_bytes(), b"/"].concat();
    let (activities, next_page_token) =
        filtered_scan(state, &prefix, req.page.as_ref(), |k, ()| {
            let id = std::str::from_utf8(k.get(prefix.len()..).unwrap_or_default()).unwrap_or("");
            Ok(activity(state, id)?.map(|a| a.to_proto()))
        })?;
    Ok(pb::GetVolunteerHistoryResponse {
        volunteer: Some(v.to_proto()),
        activities,
        points_balance: 0,
        next_page_token,
    })
}

/// What waits for the municipality, by kind.
pub fn pending_approvals(
    state: &dyn StateRead,
    req: &pb::ListPendingApprovalsRequest,
) -> Result<pb::ListPendingApprovalsResponse> {
    let prefix = if req.kind == 0 {
        K_PENDING.to_vec()
    } else {
        let k = u8::try_from(req.kind)
            .map_err(|_| invalid_argument("volunteer.bad_kind", "unknown pending kind"))?;
        [K_PENDING, &[k], b"/"].concat()
    };
    let (items, next_page_token) = filtered_scan(state, &prefix, req.page.as_ref(), |k, ()| {
        let rest = k.get(K_PENDING.len()..).unwrap_or_default();
        let kind = rest.first().copied().map(i32::from).unwrap_or(0);
        let id = std::str::from_utf8(rest.get(2..).unwrap_or_default()).unwrap_or("");
        Ok(Some(pb::PendingApproval {
            kind,
            id: id.to_string(),
        }))
    })?;
    Ok(pb::ListPendingApprovalsResponse {
        items,
        next_page_token,
    })
}

/// Volunteers by skill and history.
pub fn search_volunteers(
    state: &dyn StateRead,
    req: &pb::SearchVolunteersRequest,
) -> Result<pb::SearchVolunteersResponse> {
    let (volunteers, next_page_token) =
        filtered_scan(state, K_VOL, req.page.as_ref(), |_, v: Volunteer| {
            let ok = (req.include_revoked || !v.revoked)
                && (req.skill.is_empty() || v.skills.contains(&req.skill))
                && v.completed_activities >= req.min_completed_activities;
            Ok(ok.then(|| v.to_proto()))
        })?;
    Ok(pb::SearchVolunteersResponse {
        volunteers,
        next_page_token,
    })
}

/// Online part of certificate verification: the certificate exists and is not revoked. The
/// node checks a given proof (Merkle path, header, commit certificate) first, passes
/// `proof_checked`, and must also compare the proof's event (see
/// [`decode_certificate_event`]) with the record.
pub fn verify_certificate(
    state: &dyn StateRead,
    req: &pb::VerifyCertificateRequest,
) -> Result<pb::VerifyCertificateResponse> {
    check_ref("volunteer", "certificate_id", &req.certificate_id)?;
    let Some(cert) = certificate_record(state, &req.certificate_id)? else {
        return Ok(pb::VerifyCertificateResponse {
            valid: false,
            certificate: None,
            reason: "unknown certificate".into(),
            proof_checked: false,
            reason_code: "unknown_certificate".into(),
        });
    };
    let revoked = cert.revoked_at_ms.is_some();
    Ok(pb::VerifyCertificateResponse {
        valid: !revoked,
        certificate: Some(cert.to_proto()),
        reason: if revoked {
            "certificate revoked".into()
        } else {
            String::new()
        },
        proof_checked: false,
        reason_code: if revoked { "revoked" } else { "" }.into(),
    })
}

/// The activities of one opportunity (who applied or was asked), in volunteer-id order.
pub fn list_applicants(
    state: &dyn StateRead,
    req: &pb::ListApplicantsRequest,
) -> Result<pb::ListApplicantsResponse> {
    check_ref("volunteer", "opportunity_id", &req.opportunity_id)?;
    if pb::ActivityStatus::try_from(req.status).is_err() {
        return Err(crate::error::invalid_argument(
            "volunteer.bad_status",
            "status is not a known ActivityStatus",
        ));
    }
    if opportunity(state, &req.opportunity_id)?.is_none() {
        return Err(crate::error::not_found(
            "volunteer.unknown_opportunity",
            format!("there is no opportunity {}", req.opportunity_id),
        ));
    }
    let prefix = [K_OPP_ACT, req.opportunity_id.as_bytes(), b"/"].concat();
    let (activities, next_page_token) =
        filtered_scan(state, &prefix, req.page.as_ref(), |_, id: String| {
            Ok(activity(state, &id)?
                .map(|a| a.to_proto())
                .filter(|a| req.status == 0 || a.status == req.status))
        })?;
    Ok(pb::ListApplicantsResponse {
        activities,
        next_page_token,
    })
}
