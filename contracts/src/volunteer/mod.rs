//! The volunteer contract (CONTRACTS.md §3): registration of volunteers with a certificate and
//! a pseudonymous id, opportunities posted by facilities and requesters, matching (applications
//! and municipal-relayed requests), check-in on a verified certificate, check-out, activity
//! reports, municipal approval, and contribution points granted by versioned rules.
//!
//! It owns every key under `vol/`. It never stores personal data: people are account keys,
//! pseudonymous volunteer ids and vault references (`vault_id` + 32-byte commitment). It never
//! keeps a points balance of its own: it decides how many contribution points an approved
//! activity earns (rate, daily maximum, annual cap, expiry) and records what it granted per
//! volunteer, day and fiscal year so the caps hold. Time is block time only.
//!
//! `keys` has every key it writes, `records` its borsh records, `calls` one function per call
//! and `queries` the searches the API serves.

mod calls;
mod keys;
mod queries;
pub mod records;
#[cfg(test)]
mod tests;

pub use queries::*;
pub use records::*;

use crate::calendar::MS_PER_DAY;
use crate::error::{invalid_argument, Result};
use crate::governance::{self, Account, RoleKind};
use crate::text::check_ref;
use crate::{pb, Exec, State, StateRead};
use pb::volunteer_call::Call as V;

/// Most skill tags on a registration or opportunity.
pub const MAX_SKILLS: usize = 16;
/// Longest skill tag.
pub const MAX_SKILL_LEN: usize = 32;
/// Longest title.
pub const MAX_TITLE_CHARS: usize = 120;
/// Longest description or summary.
pub const MAX_TEXT_CHARS: usize = 1000;
/// Longest reason.
pub const MAX_REASON_CHARS: usize = 280;
/// Most volunteers one opportunity may want.
pub const MAX_SLOTS: u32 = 100;
/// Most activities (applications and requests, any status) per opportunity, so an
/// opportunity's index stays bounded.
pub const MAX_ACTIVITIES_PER_OPPORTUNITY: u32 = 1000;
/// Longest credited activity: one day.
pub const MAX_ACTIVITY_MINUTES: u64 = 24 * 60;

/// Parameter: points per hour of approved activity.
pub const P_POINTS_PER_HOUR: &str = "volunteer.points_per_hour";
/// Parameter: most points one volunteer earns per day (JST day of check-in).
pub const P_MAX_POINTS_PER_DAY: &str = "volunteer.max_points_per_day";
/// Parameter: most points one volunteer earns per fiscal year (April to March, JST).
pub const P_ANNUAL_CAP_POINTS: &str = "volunteer.annual_cap_points";
/// Parameter: days until granted points expire.
pub const P_EXPIRY_DAYS: &str = "volunteer.expiry_days";
/// Parameter: least points a store may redeem at once (checked by the points ledger's
/// redemption; exposed here through [`rules_at`]).
pub const P_MIN_REDEEM_POINTS: &str = crate::points::P_CONTRIBUTION_MIN_REDEEM;

/// Defaults used when a parameter is unset (or set to a negative value).
pub const DEFAULT_RULES: Rules = Rules {
    points_per_hour: 100,
    max_points_per_day: 800,
    annual_cap_points: 20_000,
    expiry_days: 730,
    min_redeem_points: crate::points::DEFAULT_CONTRIBUTION_MIN_REDEEM,
};

/// The point rules in force at a height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Points per hour.
    pub points_per_hour: u64,
    /// Daily maximum per volunteer.
    pub max_points_per_day: u64,
    /// Fiscal-year cap per volunteer.
    pub annual_cap_points: u64,
    /// Expiry of granted points, days.
    pub expiry_days: u64,
    /// Minimum redemption.
    pub min_redeem_points: u64,
}

/// The rules of municipality `org` at `height`: each parameter as `org` set it, else the
/// consortium-wide value, else its default when unset or negative.
pub fn rules_at(state: &dyn StateRead, org: &str, height: u64) -> Result<Rules> {
    let get = |k: &str, d: u64| -> Result<u64> {
        Ok(governance::org_parameter_at(state, org, k, height)?
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(d))
    };
    Ok(Rules {
        points_per_hour: get(P_POINTS_PER_HOUR, DEFAULT_RULES.points_per_hour)?,
        max_points_per_day: get(P_MAX_POINTS_PER_DAY, DEFAULT_RULES.max_points_per_day)?,
        annual_cap_points: get(P_ANNUAL_CAP_POINTS, DEFAULT_RULES.annual_cap_points)?,
        expiry_days: get(P_EXPIRY_DAYS, DEFAULT_RULES.expiry_days)?,
        min_redeem_points: get(P_MIN_REDEEM_POINTS, DEFAULT_RULES.min_redeem_points)?,
    })
}

/// Points an activity earns: `minutes * rate / 60` (truncated), then limited by what is left
/// of the day's maximum and the year's cap. Pure; returns (granted, before caps).
pub fn points_for(
    rules: &Rules,
    minutes: u64,
    earned_today: u64,
    earned_this_year: u64,
) -> (u64, u64) {
    let raw = minutes.saturating_mul(rules.points_per_hour) / 60;
    let day_left = rules.max_points_per_day.saturating_sub(earned_today);
    let year_left = rules.annual_cap_points.saturating_sub(earned_this_year);
    (raw.min(day_left).min(year_left), raw)
}

fn id_from_tx(prefix: &str, tx_id: &[u8; 32]) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"yui/v1/volunteer-id\0");
    h.update(prefix.as_bytes());
    h.update(b"\0");
    h.update(tx_id);
    let d = h.finalize();
    format!("{prefix}-{}", hex::encode(&d.as_bytes()[..10]))
}

/// The id of an object of `kind` ("app" application, "opp" opportunity, "act" activity, "vol"
/// volunteer, "cert" certificate) created by transaction `tx_id`.
pub fn object_id_for(kind: &str, tx_id: &[u8; 32]) -> String {
    id_from_tx(kind, tx_id)
}

/// The pseudonymous volunteer id issued by the approving transaction `tx_id`.
pub fn volunteer_id_for(tx_id: &[u8; 32]) -> String {
    id_from_tx("vol", tx_id)
}

/// The certificate id issued by the approving transaction `tx_id`.
pub fn certificate_id_for(tx_id: &[u8; 32]) -> String {
    id_from_tx("cert", tx_id)
}

/// Mempool pre-check of the signer's role for a volunteer call, and, for the calls on an
/// application or a registration committed state already holds, that the signer is an admin
/// of the municipality that owns it (execution checks again).
pub fn authorize(state: &dyn StateRead, account: &Account, call: &pb::VolunteerCall) -> Result<()> {
    use RoleKind::{Facility, MunicipalityAdmin, Resident};
    match call.call.as_ref() {
        None => Err(invalid_argument(
            "volunteer.unknown_call",
            "the volunteer call is empty or unknown to this node",
        )),
        Some(V::ApplyRegistration(_)) => {
            account.require_any(&[Resident], "applying as a volunteer")
        }
        Some(V::ApplyToOpportunity(_) | V::AcceptRequest(_)) => {
            account.require_any(&[Resident], "this volunteer call")
        }
        Some(
            V::ApproveRegistration(pb::ApproveRegistration { application_id, .. })
            | V::RejectRegistration(pb::RejectRegistration { application_id, .. }),
        ) => {
            account.require_any(&[MunicipalityAdmin], "this municipal volunteer call")?;
            match application(state, application_id)? {
                Some(a) => calls::owner_check(account, &a.municipality, "received the application"),
                None => Ok(()),
            }
        }
        Some(V::RevokeRegistration(pb::RevokeRegistration { volunteer_id, .. })) => {
            account.require_any(&[MunicipalityAdmin], "this municipal volunteer call")?;
            match volunteer(state, volunteer_id)? {
                Some(v) => calls::owner_check(account, &v.municipality, "registered the volunteer"),
                None => Ok(()),
            }
        }
        Some(
            V::ApproveOpportunity(_)
            | V::RelayRequest(_)
            | V::ApproveActivity(_)
            | V::RejectActivity(_),
        ) => account.require_any(&[MunicipalityAdmin], "this municipal volunteer call"),
        Some(V::CloseOpportunity(_)) => account.require_any(
            &[Facility, Resident, MunicipalityAdmin],
            "closing an opportunity",
        ),
        // The volunteer, the poster or the one asked: decided by the call.
        Some(V::EndActivity(_)) => Ok(()),
        Some(
            V::PostOpportunity(_)
            | V::AcceptApplication(_)
            | V::RequestVolunteer(_)
            | V::CheckIn(_)
            | V::CheckOut(_)
            | V::ReportActivity(_),
        ) => account.require_any(&[Facility, Resident, MunicipalityAdmin], "this poster call"),
    }
}

/// Name of a volunteer call.
pub fn call_name(call: &pb::VolunteerCall) -> &'static str {
    match call.call {
        None => "volunteer.unknown",
        Some(V::ApplyRegistration(_)) => "volunteer.apply_registration",
        Some(V::ApproveRegistration(_)) => "volunteer.approve_registration",
        Some(V::RejectRegistration(_)) => "volunteer.reject_registration",
        Some(V::RevokeRegistration(_)) => "volunteer.revoke_registration",
        Some(V::PostOpportunity(_)) => "volunteer.post_opportunity",
        Some(V::ApproveOpportunity(_)) => "volunteer.approve_opportunity",
        Some(V::CloseOpportunity(_)) => "volunteer.close_opportunity",
        Some(V::ApplyToOpportunity(_)) => "volunteer.apply_to_opportunity",
        Some(V::AcceptApplication(_)) => "volunteer.accept_application",
        Some(V::RequestVolunteer(_)) => "volunteer.request_volunteer",
        Some(V::RelayRequest(_)) => "volunteer.relay_request",
        Some(V::AcceptRequest(_)) => "volunteer.accept_request",
        Some(V::CheckIn(_)) => "volunteer.check_in",
        Some(V::CheckOut(_)) => "volunteer.check_out",
        Some(V::ReportActivity(_)) => "volunteer.report_activity",
        Some(V::ApproveActivity(_)) => "volunteer.approve_activity",
        Some(V::RejectActivity(_)) => "volunteer.reject_activity",
        Some(V::EndActivity(_)) => "volunteer.end_activity",
    }
}

/// Initial volunteer state: nothing.
pub fn init_genesis(_state: &mut dyn State) -> Result<()> {
    Ok(())
}

/// Execute a volunteer call.
pub fn execute(x: &mut Exec<'_>, call: &pb::VolunteerCall) -> Result<()> {
    let signer = governance::signer_account(x)?;
    authorize(&*x.state, &signer, call)?;
    match call.call.as_ref() {
        None => Err(invalid_argument(
            "volunteer.unknown_call",
            "the volunteer call is empty",
        )),
        Some(V::ApplyRegistration(c)) => calls::apply_registration(x, c),
        Some(V::ApproveRegistration(c)) => calls::approve_registration(x, &signer, c),
        Some(V::RejectRegistration(c)) => calls::reject_registration(x, c),
        Some(V::RevokeRegistration(c)) => calls::revoke_registration(x, c),
        Some(V::PostOpportunity(c)) => calls::post_opportunity(x, &signer, c),
        Some(V::ApproveOpportunity(c)) => calls::approve_opportunity(x, c),
        Some(V::CloseOpportunity(c)) => calls::close_opportunity(x, &signer, c),
        Some(V::ApplyToOpportunity(c)) => calls::apply_to_opportunity(x, c),
        Some(V::AcceptApplication(c)) => calls::accept_application(x, c),
        Some(V::RequestVolunteer(c)) => calls::request_volunteer(x, c),
        Some(V::RelayRequest(c)) => calls::relay_request(x, c),
        Some(V::AcceptRequest(c)) => calls::accept_request(x, c),
        Some(V::CheckIn(c)) => calls::check_in(x, c),
        Some(V::CheckOut(c)) => calls::check_out(x, c),
        Some(V::ReportActivity(c)) => calls::report_activity(x, c),
        Some(V::ApproveActivity(c)) => calls::approve_activity(x, c),
        Some(V::RejectActivity(c)) => calls::reject_activity(x, c),
        Some(V::EndActivity(c)) => calls::end_activity(x, c),
    }
}

/// The canonical `CertificateIssued` event for a certificate: the exact message whose
/// encoding (inside `Event`) a certificate proof includes in the block's event root.
pub fn certificate_issued_event(
    cert: &CertificateRecord,
    person_commitment: &[u8; 32],
    skills: &[String],
    issued_by: &[u8; 32],
) -> pb::CertificateIssued {
    pb::CertificateIssued {
        certificate_id: cert.id.clone(),
        volunteer_id: cert.volunteer_id.clone(),
        account: cert.account.to_vec(),
        person_commitment: person_commitment.to_vec(),
        skills: skills.to_vec(),
        issued_at_ms: cert.issued_at_ms,
        issuer_organization: cert.issuer_organization.clone(),
        issued_by: issued_by.to_vec(),
    }
}

/// The `CertificateIssued` event carried in a proof's event bytes, if the bytes are an
/// `Event` holding one. The node uses it after checking the Merkle path and header.
pub fn decode_certificate_event(event_bytes: &[u8]) -> Option<pb::CertificateIssued> {
    let ev: pb::Event = prost::Message::decode(event_bytes).ok()?;
    match ev.kind? {
        pb::event::Kind::Volunteer(pb::VolunteerEvent {
            kind: Some(pb::volunteer_event::Kind::CertificateIssued(c)),
        }) => Some(c),
        _ => None,
    }
}
