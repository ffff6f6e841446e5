//! The eco contract's read-only searches, which the API serves at the committed height.

use super::calls::req_program;
use super::keys::*;
use super::records::{decode_reduction, device, reduction_at, Counts, Device, Participant, Tally};
use super::MAX_READINGS_PER_REPORT;
use crate::error::Result;
use crate::page::Page;
use crate::points::{self, PointType};
use crate::state::{get_borsh, scan_borsh};
use crate::{pb, StateRead};

/// A program's participants, in the order of their account keys (one entry per account: a
/// re-registered account shows its newest participant).
pub fn list_participants(
    state: &dyn StateRead,
    r: &pb::ListParticipantsRequest,
) -> Result<pb::ListParticipantsResponse> {
    crate::text::check_ref("eco", "program_id", &r.program_id)?;
    req_program(state, &r.program_id)?;
    let prefix = [K_PART_ACCT, r.program_id.as_bytes(), b"\0"].concat();
    let (participants, next_page_token) =
        Page::of(r.page.as_ref(), &prefix)?.scan(state, &prefix, |k, v| {
            let id: String = crate::state::decode_borsh(k, v)?;
            let p: Option<Participant> = get_borsh(state, &key(K_PART, &id))?;
            Ok(p.filter(|p| r.include_removed || !p.removed)
                .map(|p| p.to_proto()))
        })?;
    Ok(pb::ListParticipantsResponse {
        participants,
        next_page_token,
    })
}

/// A participant's devices.
pub fn devices_of(state: &dyn StateRead, participant_id: &str) -> Result<Vec<Device>> {
    let prefix = [K_PART_DEV, participant_id.as_bytes(), b"/"].concat();
    let mut out = Vec::new();
    for (k, _) in state.scan(&prefix, None, 10_000)? {
        if let Some(d) = device(state, &String::from_utf8_lossy(&k[prefix.len()..]))? {
            out.push(d);
        }
    }
    Ok(out)
}

/// A page of a participant's reductions (by device, then in period order) and the token of
/// the next page (empty when there is none).
pub fn reductions_of(
    state: &dyn StateRead,
    participant_id: &str,
    page: Option<&pb::PageRequest>,
) -> Result<(Vec<pb::Reduction>, String)> {
    let prefix = [K_PART_RD, participant_id.as_bytes(), b"\0"].concat();
    Page::of(page, &prefix)?.scan(state, &prefix, |k, v| decode_reduction(k, v).map(Some))
}

/// A program's totals per (methodology, fiscal year), and its participant and device counts.
pub fn program_totals(
    state: &dyn StateRead,
    program_id: &str,
) -> Result<(Vec<pb::MethodologyTotal>, u64, u64)> {
    let prefix = [K_TOT, program_id.as_bytes(), b"\0"].concat();
    let rows: Vec<(Vec<u8>, Tally)> = scan_borsh(state, &prefix, None, 100_000)?;
    let totals = rows
        .into_iter()
        .map(|(k, t)| {
            let bad = || {
                crate::Failed(format!(
                    "eco tally key {} is not program, methodology and year",
                    crate::state::printable_key(&k)
                ))
            };
            let rest = &k[prefix.len()..];
            let nul = rest.iter().position(|&b| b == 0).ok_or_else(bad)?;
            let fy = rest
                .get(nul + 1..)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .and_then(|fy| u32::try_from(fy).ok())
                .ok_or_else(bad)?;
            Ok(pb::MethodologyTotal {
                methodology: String::from_utf8_lossy(&rest[..nul]).into_owned(),
                fiscal_year: fy,
                readings: t.readings,
                reduction_g: t.grams,
            })
        })
        .collect::<Result<_>>()?;
    let c: Counts = get_borsh(state, &key(K_COUNT, program_id))?.unwrap_or_default();
    Ok((totals, c.participants, c.devices))
}

/// Every reading claimed by a report, in reading-id order.
pub fn report_readings(state: &dyn StateRead, report_id: &str) -> Result<Vec<pb::Reduction>> {
    let prefix = report_readings_prefix(report_id);
    let mut out = Vec::new();
    for (_, record_key) in state.scan(&prefix, None, MAX_READINGS_PER_REPORT)? {
        if let Some(r) = reduction_at(state, &record_key)? {
            out.push(r);
        }
    }
    Ok(out)
}

/// The eco-points balance of a participant (issued by its program's municipality).
pub fn participant_balance(
    state: &dyn StateRead,
    p: &Participant,
    now_ms: u64,
) -> Result<pb::PointsBalance> {
    let prog = req_program(state, &p.program)?;
    points::balance(
        state,
        &p.account,
        PointType::Eco,
        &prog.organization,
        now_ms,
    )
}
