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

use crate::calendar::MS_PER_DAY;
use crate::error::{
    already_exists, invalid_argument, not_found, permission_denied, precondition, Result,
};
use crate::governance::{self, Account, RoleKind};
use crate::page::Page;
use crate::state::{decode_borsh, get_borsh, put_borsh};
use crate::text::{check_ref, check_text};
use crate::{pb, Exec, State, StateRead};
use borsh::{BorshDeserialize, BorshSerialize};
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

const MS_PER_MIN: u64 = 60_000;

const K_APP: &[u8] = b"vol/app/";
const K_APP_BY_ACCT: &[u8] = b"vol/appacct/";
const K_VOL: &[u8] = b"vol/v/";
const K_VOL_BY_ACCT: &[u8] = b"vol/vacct/";
const K_CERT: &[u8] = b"vol/cert/";
const K_OPP: &[u8] = b"vol/opp/";
const K_ACT: &[u8] = b"vol/act/";
const K_HIST: &[u8] = b"vol/hist/";
const K_OPP_ACT: &[u8] = b"vol/oppact/";
const K_PENDING: &[u8] = b"vol/pending/";
const K_DAY: &[u8] = b"vol/day/";
const K_YEAR: &[u8] = b"vol/year/";

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

/// The rules at `height`: each parameter's value, or its default when unset or negative.
pub fn rules_at(state: &dyn StateRead, height: u64) -> Result<Rules> {
    let get = |k: &str, d: u64| -> Result<u64> {
        Ok(governance::parameter_at(state, k, height)?
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

use crate::calendar::{fiscal_year, jst_day};

/// A person's vault reference.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct PersonRef {
    /// Vault record id.
    pub vault_id: String,
    /// Commitment.
    pub commitment: [u8; 32],
}

/// A registration application.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Application {
    /// Id.
    pub id: String,
    /// Applicant account.
    pub applicant: [u8; 32],
    /// Skills.
    pub skills: Vec<String>,
    /// Vault reference.
    pub person_ref: PersonRef,
    /// `pb::ApplicationStatus` value.
    pub status: i32,
    /// Filed at.
    pub applied_at_ms: u64,
}

/// A registered volunteer.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Volunteer {
    /// Pseudonymous id.
    pub id: String,
    /// Account.
    pub account: [u8; 32],
    /// Skills.
    pub skills: Vec<String>,
    /// Current certificate id.
    pub certificate_id: String,
    /// Revoked.
    pub revoked: bool,
    /// Approved activities.
    pub completed_activities: u32,
    /// Approved minutes.
    pub total_minutes: u64,
    /// Points granted.
    pub total_points_granted: u64,
    /// Registered at.
    pub registered_at_ms: u64,
}

/// A certificate record: created at approval, marked on revocation.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CertificateRecord {
    /// Id.
    pub id: String,
    /// Volunteer id.
    pub volunteer_id: String,
    /// Volunteer account.
    pub account: [u8; 32],
    /// Issued at, ms.
    pub issued_at_ms: u64,
    /// Height of the issuing block.
    pub issued_at_height: u64,
    /// The transaction that issued it (whose receipt holds the `CertificateIssued` event a
    /// certificate proof includes).
    pub issued_in_tx: [u8; 32],
    /// Issuer organization.
    pub issuer_organization: String,
    /// Revoked at, ms.
    pub revoked_at_ms: Option<u64>,
}

/// An opportunity.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Opportunity {
    /// Id.
    pub id: String,
    /// Poster.
    pub poster: [u8; 32],
    /// Posted by a facility.
    pub by_facility: bool,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Skills.
    pub skills: Vec<String>,
    /// Planned start.
    pub starts_at_ms: u64,
    /// Planned end.
    pub ends_at_ms: u64,
    /// Slots.
    pub slots: u32,
    /// Matched volunteers.
    pub matched: u32,
    /// Activities created (bounded).
    pub activities: u32,
    /// `pb::OpportunityStatus` value.
    pub status: i32,
    /// Posted at.
    pub posted_at_ms: u64,
}

/// An activity: one volunteer on one opportunity.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Activity {
    /// Id.
    pub id: String,
    /// Opportunity.
    pub opportunity_id: String,
    /// Volunteer.
    pub volunteer_id: String,
    /// Poster.
    pub poster: [u8; 32],
    /// `pb::ActivityStatus` value.
    pub status: i32,
    /// Check-in.
    pub checked_in_at_ms: u64,
    /// Check-out.
    pub checked_out_at_ms: u64,
    /// Minutes reported.
    pub minutes: u32,
    /// Report summary.
    pub summary: String,
    /// Points granted.
    pub points: u64,
    /// Created.
    pub created_at_ms: u64,
    /// Updated.
    pub updated_at_ms: u64,
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

/// The pseudonymous volunteer id issued by the approving transaction `tx_id`.
pub fn volunteer_id_for(tx_id: &[u8; 32]) -> String {
    id_from_tx("vol", tx_id)
}

/// The certificate id issued by the approving transaction `tx_id`.
pub fn certificate_id_for(tx_id: &[u8; 32]) -> String {
    id_from_tx("cert", tx_id)
}

fn key(prefix: &[u8], id: &str) -> Vec<u8> {
    [prefix, id.as_bytes()].concat()
}
fn key2(prefix: &[u8], a: &str, b: &str) -> Vec<u8> {
    [prefix, a.as_bytes(), b"/", b.as_bytes()].concat()
}

fn check_skills(skills: &[String]) -> Result<Vec<String>> {
    if skills.len() > MAX_SKILLS {
        return Err(invalid_argument(
            "volunteer.too_many_skills",
            format!("at most {MAX_SKILLS} skill tags are allowed"),
        ));
    }
    for s in skills {
        if s.is_empty() {
            return Err(invalid_argument(
                "volunteer.invalid_skill",
                "a skill tag is empty",
            ));
        }
        governance::check_id("skill tag", s, MAX_SKILL_LEN)?;
    }
    let mut out = skills.to_vec();
    out.sort();
    out.dedup();
    Ok(out)
}

fn pending_key(kind: pb::PendingKind, id: &str) -> Vec<u8> {
    [K_PENDING, &[kind as i32 as u8], b"/", id.as_bytes()].concat()
}

/// The application with this id.
pub fn application(state: &dyn StateRead, id: &str) -> Result<Option<Application>> {
    get_borsh(state, &key(K_APP, id))
}

/// The volunteer with this id.
pub fn volunteer(state: &dyn StateRead, id: &str) -> Result<Option<Volunteer>> {
    get_borsh(state, &key(K_VOL, id))
}

/// The volunteer id registered for an account.
pub fn volunteer_of_account(state: &dyn StateRead, acct: &[u8; 32]) -> Result<Option<String>> {
    get_borsh(state, &[K_VOL_BY_ACCT, acct.as_slice()].concat())
}

/// The certificate record with this id (issued at approval; revocation marked on it).
pub fn certificate_record(
    state: &dyn StateRead,
    certificate_id: &str,
) -> Result<Option<CertificateRecord>> {
    get_borsh(state, &key(K_CERT, certificate_id))
}

/// The opportunity with this id.
pub fn opportunity(state: &dyn StateRead, id: &str) -> Result<Option<Opportunity>> {
    get_borsh(state, &key(K_OPP, id))
}

/// The activity with this id.
pub fn activity(state: &dyn StateRead, id: &str) -> Result<Option<Activity>> {
    get_borsh(state, &key(K_ACT, id))
}

/// Points granted to a volunteer on a JST day and in a fiscal year.
pub fn earned(state: &dyn StateRead, volunteer_id: &str, time_ms: u64) -> Result<(u64, u64)> {
    let d: Option<u64> = get_borsh(state, &day_key(volunteer_id, jst_day(time_ms)))?;
    let y: Option<u64> = get_borsh(state, &year_key(volunteer_id, fiscal_year(time_ms)))?;
    Ok((d.unwrap_or(0), y.unwrap_or(0)))
}

fn day_key(vid: &str, day: u64) -> Vec<u8> {
    [K_DAY, vid.as_bytes(), b"/", &day.to_be_bytes()].concat()
}
fn year_key(vid: &str, fy: u64) -> Vec<u8> {
    [K_YEAR, vid.as_bytes(), b"/", &fy.to_be_bytes()].concat()
}

fn req_app(state: &dyn StateRead, id: &str) -> Result<Application> {
    application(state, id)?.ok_or_else(|| {
        not_found(
            "volunteer.unknown_application",
            format!("there is no application {id}"),
        )
    })
}
fn req_vol(state: &dyn StateRead, id: &str) -> Result<Volunteer> {
    volunteer(state, id)?.ok_or_else(|| {
        not_found(
            "volunteer.unknown_volunteer",
            format!("there is no volunteer {id}"),
        )
    })
}
fn req_opp(state: &dyn StateRead, id: &str) -> Result<Opportunity> {
    opportunity(state, id)?.ok_or_else(|| {
        not_found(
            "volunteer.unknown_opportunity",
            format!("there is no opportunity {id}"),
        )
    })
}
fn req_act(state: &dyn StateRead, id: &str) -> Result<Activity> {
    activity(state, id)?.ok_or_else(|| {
        not_found(
            "volunteer.unknown_activity",
            format!("there is no activity {id}"),
        )
    })
}

/// The signer's active (unrevoked) volunteer record.
fn signer_volunteer(state: &dyn StateRead, signer: &[u8; 32]) -> Result<Volunteer> {
    let vid = volunteer_of_account(state, signer)?.ok_or_else(|| {
        permission_denied(
            "volunteer.not_volunteer",
            "the signer is not a registered volunteer",
        )
    })?;
    let v = req_vol(state, &vid)?;
    if v.revoked {
        return Err(permission_denied(
            "volunteer.revoked",
            format!("volunteer {vid}'s registration was revoked"),
        ));
    }
    Ok(v)
}

fn require_status(a: &Activity, want: pb::ActivityStatus, action: &str) -> Result<()> {
    if a.status != want as i32 {
        let have = pb::ActivityStatus::try_from(a.status)
            .map(|s| s.as_str_name())
            .unwrap_or("UNKNOWN");
        return Err(precondition(
            "volunteer.wrong_status",
            format!(
                "cannot {action}: activity {} is {have}, not {}",
                a.id,
                want.as_str_name()
            ),
        ));
    }
    Ok(())
}

fn require_poster(a_poster: &[u8; 32], signer: &[u8; 32], what: &str) -> Result<()> {
    if a_poster != signer {
        return Err(permission_denied(
            "volunteer.not_poster",
            format!("only the account that posted the opportunity may {what}"),
        ));
    }
    Ok(())
}

/// Mempool pre-check of the signer's role for a volunteer call.
pub fn authorize(
    _state: &dyn StateRead,
    account: &Account,
    call: &pb::VolunteerCall,
) -> Result<()> {
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
            V::ApproveRegistration(_)
            | V::RejectRegistration(_)
            | V::RevokeRegistration(_)
            | V::ApproveOpportunity(_)
            | V::RelayRequest(_)
            | V::ApproveActivity(_)
            | V::RejectActivity(_),
        ) => account.require_any(&[MunicipalityAdmin], "this municipal volunteer call"),
        Some(V::CloseOpportunity(_)) => account.require_any(
            &[Facility, Resident, MunicipalityAdmin],
            "closing an opportunity",
        ),
        Some(
            V::PostOpportunity(_)
            | V::AcceptApplication(_)
            | V::RequestVolunteer(_)
            | V::CheckIn(_)
            | V::CheckOut(_)
            | V::ReportActivity(_),
        ) => account.require_any(&[Facility, Resident], "this poster call"),
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
        Some(V::ApplyRegistration(c)) => apply_registration(x, c),
        Some(V::ApproveRegistration(c)) => approve_registration(x, &signer, c),
        Some(V::RejectRegistration(c)) => reject_registration(x, c),
        Some(V::RevokeRegistration(c)) => revoke_registration(x, c),
        Some(V::PostOpportunity(c)) => post_opportunity(x, &signer, c),
        Some(V::ApproveOpportunity(c)) => approve_opportunity(x, c),
        Some(V::CloseOpportunity(c)) => close_opportunity(x, &signer, c),
        Some(V::ApplyToOpportunity(c)) => apply_to_opportunity(x, c),
        Some(V::AcceptApplication(c)) => accept_application(x, c),
        Some(V::RequestVolunteer(c)) => request_volunteer(x, c),
        Some(V::RelayRequest(c)) => relay_request(x, c),
        Some(V::AcceptRequest(c)) => accept_request(x, c),
        Some(V::CheckIn(c)) => check_in(x, c),
        Some(V::CheckOut(c)) => check_out(x, c),
        Some(V::ReportActivity(c)) => report_activity(x, c),
        Some(V::ApproveActivity(c)) => approve_activity(x, c),
        Some(V::RejectActivity(c)) => reject_activity(x, c),
    }
}

fn emit(x: &mut Exec<'_>, kind: pb::volunteer_event::Kind) {
    x.emit(pb::event::Kind::Volunteer(pb::VolunteerEvent {
        kind: Some(kind),
    }));
}

fn save_act(x: &mut Exec<'_>, a: &Activity) {
    put_borsh(x.state, key(K_ACT, &a.id), a);
    emit(
        x,
        pb::volunteer_event::Kind::ActivityUpdated(pb::ActivityUpdated {
            activity: Some(a.to_proto()),
        }),
    );
}

fn apply_registration(x: &mut Exec<'_>, c: &pb::ApplyRegistration) -> Result<()> {
    let skills = check_skills(&c.skills)?;
    let pr = c
        .person_ref
        .as_ref()
        .ok_or_else(|| invalid_argument("volunteer.missing_person_ref", "person_ref is missing"))?;
    check_ref("volunteer", "person_ref.vault_id", &pr.vault_id)?;
    let commitment = governance::key32("person_ref.commitment", &pr.commitment)?;
    let signer = x.ctx.signer;
    if volunteer_of_account(&*x.state, &signer)?.is_some() {
        return Err(already_exists(
            "volunteer.already_registered",
            "the signer is already a registered volunteer",
        ));
    }
    let by_acct = [K_APP_BY_ACCT, signer.as_slice()].concat();
    if x.state.get(&by_acct)?.is_some() {
        return Err(already_exists(
            "volunteer.application_pending",
            "the signer already has a pending application",
        ));
    }
    let id = id_from_tx("app", &x.ctx.tx_id);
    let app = Application {
        id: id.clone(),
        applicant: signer,
        skills: skills.clone(),
        person_ref: PersonRef {
            vault_id: pr.vault_id.clone(),
            commitment,
        },
        status: pb::ApplicationStatus::ApplicationPending as i32,
        applied_at_ms: x.ctx.time_ms,
    };
    put_borsh(x.state, key(K_APP, &id), &app);
    put_borsh(x.state, by_acct, &id);
    put_borsh(
        x.state,
        pending_key(pb::PendingKind::PendingRegistration, &id),
        &(),
    );
    emit(
        x,
        pb::volunteer_event::Kind::RegistrationApplied(pb::RegistrationApplied {
            application_id: id,
            applicant: signer.to_vec(),
            skills,
        }),
    );
    Ok(())
}

fn take_pending_app(x: &mut Exec<'_>, id: &str) -> Result<Application> {
    check_ref("volunteer", "application_id", id)?;
    let app = req_app(&*x.state, id)?;
    if app.status != pb::ApplicationStatus::ApplicationPending as i32 {
        return Err(precondition(
            "volunteer.application_decided",
            format!("application {id} was already decided"),
        ));
    }
    x.state
        .delete(pending_key(pb::PendingKind::PendingRegistration, id));
    x.state
        .delete([K_APP_BY_ACCT, app.applicant.as_slice()].concat());
    Ok(app)
}

fn approve_registration(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::ApproveRegistration,
) -> Result<()> {
    let mut app = take_pending_app(x, &c.application_id)?;
    if volunteer_of_account(&*x.state, &app.applicant)?.is_some() {
        return Err(already_exists(
            "volunteer.already_registered",
            "the applicant is already a registered volunteer",
        ));
    }
    app.status = pb::ApplicationStatus::ApplicationApproved as i32;
    put_borsh(x.state, key(K_APP, &app.id), &app);
    let vid = volunteer_id_for(&x.ctx.tx_id);
    let cid = certificate_id_for(&x.ctx.tx_id);
    let v = Volunteer {
        id: vid.clone(),
        account: app.applicant,
        skills: app.skills.clone(),
        certificate_id: cid.clone(),
        revoked: false,
        completed_activities: 0,
        total_minutes: 0,
        total_points_granted: 0,
        registered_at_ms: x.ctx.time_ms,
    };
    let cert = CertificateRecord {
        id: cid.clone(),
        volunteer_id: vid.clone(),
        account: app.applicant,
        issued_at_ms: x.ctx.time_ms,
        issued_at_height: x.ctx.height,
        issued_in_tx: x.ctx.tx_id,
        issuer_organization: signer.organization.clone(),
        revoked_at_ms: None,
    };
    put_borsh(x.state, key(K_VOL, &vid), &v);
    put_borsh(
        x.state,
        [K_VOL_BY_ACCT, app.applicant.as_slice()].concat(),
        &vid,
    );
    put_borsh(x.state, key(K_CERT, &cid), &cert);
    let ev = certificate_issued_event(
        &cert,
        &app.person_ref.commitment,
        &app.skills,
        &x.ctx.signer,
    );
    emit(x, pb::volunteer_event::Kind::CertificateIssued(ev));
    Ok(())
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

fn reject_registration(x: &mut Exec<'_>, c: &pb::RejectRegistration) -> Result<()> {
    check_text("volunteer", "reason", &c.reason, MAX_REASON_CHARS, false)?;
    let mut app = take_pending_app(x, &c.application_id)?;
    app.status = pb::ApplicationStatus::ApplicationRejected as i32;
    put_borsh(x.state, key(K_APP, &app.id), &app);
    emit(
        x,
        pb::volunteer_event::Kind::RegistrationRejected(pb::RegistrationRejected {
            application_id: app.id,
            reason: c.reason.clone(),
        }),
    );
    Ok(())
}

fn revoke_registration(x: &mut Exec<'_>, c: &pb::RevokeRegistration) -> Result<()> {
    check_ref("volunteer", "volunteer_id", &c.volunteer_id)?;
    check_text("volunteer", "reason", &c.reason, MAX_REASON_CHARS, false)?;
    let mut v = req_vol(&*x.state, &c.volunteer_id)?;
    if v.revoked {
        return Err(precondition(
            "volunteer.revoked",
            format!("volunteer {} is already revoked", v.id),
        ));
    }
    v.revoked = true;
    put_borsh(x.state, key(K_VOL, &v.id), &v);
    if let Some(mut cert) = certificate_record(&*x.state, &v.certificate_id)? {
        cert.revoked_at_ms = Some(x.ctx.time_ms);
        put_borsh(x.state, key(K_CERT, &cert.id), &cert);
    }
    emit(
        x,
        pb::volunteer_event::Kind::RegistrationRevoked(pb::RegistrationRevoked {
            volunteer_id: v.id,
            certificate_id: v.certificate_id,
            reason: c.reason.clone(),
            revoked_at_ms: x.ctx.time_ms,
        }),
    );
    Ok(())
}

fn post_opportunity(x: &mut Exec<'_>, signer: &Account, c: &pb::PostOpportunity) -> Result<()> {
    check_text("volunteer", "title", &c.title, MAX_TITLE_CHARS, true)?;
    check_text(
        "volunteer",
        "description",
        &c.description,
        MAX_TEXT_CHARS,
        false,
    )?;
    let skills = check_skills(&c.skills)?;
    if c.ends_at_ms <= c.starts_at_ms {
        return Err(invalid_argument(
            "volunteer.bad_times",
            "ends_at_ms must be after starts_at_ms",
        ));
    }
    if c.slots == 0 || c.slots > MAX_SLOTS {
        return Err(invalid_argument(
            "volunteer.bad_slots",
            format!("slots must be between 1 and {MAX_SLOTS}"),
        ));
    }
    // A facility account posts as a facility even if it also holds other roles.
    let by_facility = signer.has_kind(RoleKind::Facility);
    let status = if by_facility {
        pb::OpportunityStatus::OpportunityOpen
    } else {
        pb::OpportunityStatus::OpportunityPendingApproval
    };
    let id = id_from_tx("opp", &x.ctx.tx_id);
    let o = Opportunity {
        id: id.clone(),
        poster: x.ctx.signer,
        by_facility,
        title: c.title.clone(),
        description: c.description.clone(),
        skills,
        starts_at_ms: c.starts_at_ms,
        ends_at_ms: c.ends_at_ms,
        slots: c.slots,
        matched: 0,
        activities: 0,
        status: status as i32,
        posted_at_ms: x.ctx.time_ms,
    };
    put_borsh(x.state, key(K_OPP, &id), &o);
    if !by_facility {
        put_borsh(
            x.state,
            pending_key(pb::PendingKind::PendingOpportunity, &id),
            &(),
        );
    }
    emit(
        x,
        pb::volunteer_event::Kind::OpportunityPosted(pb::OpportunityPosted {
            opportunity: Some(o.to_proto()),
        }),
    );
    Ok(())
}

fn set_opp_status(x: &mut Exec<'_>, mut o: Opportunity, s: pb::OpportunityStatus) {
    o.status = s as i32;
    put_borsh(x.state, key(K_OPP, &o.id), &o);
    emit(
        x,
        pb::volunteer_event::Kind::OpportunityStatusChanged(pb::OpportunityStatusChanged {
            opportunity_id: o.id.clone(),
            status: s as i32,
            poster: o.poster.to_vec(),
        }),
    );
}

fn approve_opportunity(x: &mut Exec<'_>, c: &pb::ApproveOpportunity) -> Result<()> {
    check_ref("volunteer", "opportunity_id", &c.opportunity_id)?;
    let o = req_opp(&*x.state, &c.opportunity_id)?;
    if o.status != pb::OpportunityStatus::OpportunityPendingApproval as i32 {
        return Err(precondition(
            "volunteer.not_pending",
            format!("opportunity {} is not waiting for approval", o.id),
        ));
    }
    x.state
        .delete(pending_key(pb::PendingKind::PendingOpportunity, &o.id));
    set_opp_status(x, o, pb::OpportunityStatus::OpportunityOpen);
    Ok(())
}

fn close_opportunity(x: &mut Exec<'_>, signer: &Account, c: &pb::CloseOpportunity) -> Result<()> {
    check_ref("volunteer", "opportunity_id", &c.opportunity_id)?;
    let o = req_opp(&*x.state, &c.opportunity_id)?;
    if o.poster != x.ctx.signer && !signer.has_kind(RoleKind::MunicipalityAdmin) {
        return Err(permission_denied(
            "volunteer.not_poster",
            "only the poster or a municipality admin may close an opportunity",
        ));
    }
    if o.status == pb::OpportunityStatus::OpportunityClosed as i32 {
        return Err(precondition(
            "volunteer.closed",
            format!("opportunity {} is already closed", o.id),
        ));
    }
    x.state
        .delete(pending_key(pb::PendingKind::PendingOpportunity, &o.id));
    set_opp_status(x, o, pb::OpportunityStatus::OpportunityClosed);
    Ok(())
}

/// Create an activity for `v` on open opportunity `o`.
fn new_activity(
    x: &mut Exec<'_>,
    mut o: Opportunity,
    v: &Volunteer,
    status: pb::ActivityStatus,
) -> Result<Activity> {
    if o.status != pb::OpportunityStatus::OpportunityOpen as i32 {
        return Err(precondition(
            "volunteer.not_open",
            format!("opportunity {} is not open", o.id),
        ));
    }
    if o.poster == v.account {
        return Err(precondition(
            "volunteer.own_opportunity",
            "a volunteer cannot take part in their own opportunity",
        ));
    }
    let marker = key2(K_OPP_ACT, &o.id, &v.id);
    if x.state.get(&marker)?.is_some() {
        return Err(already_exists(
            "volunteer.already_involved",
            format!(
                "volunteer {} already applied or was asked for {}",
                v.id, o.id
            ),
        ));
    }
    if o.activities >= MAX_ACTIVITIES_PER_OPPORTUNITY {
        return Err(precondition(
            "volunteer.too_many_activities",
            format!(
                "opportunity {} has reached {MAX_ACTIVITIES_PER_OPPORTUNITY} applications",
                o.id
            ),
        ));
    }
    o.activities += 1;
    put_borsh(x.state, key(K_OPP, &o.id), &o);
    let id = id_from_tx("act", &x.ctx.tx_id);
    put_borsh(x.state, marker, &id);
    put_borsh(x.state, key2(K_HIST, &v.id, &id), &());
    let a = Activity {
        id,
        opportunity_id: o.id.clone(),
        volunteer_id: v.id.clone(),
        poster: o.poster,
        status: status as i32,
        checked_in_at_ms: 0,
        checked_out_at_ms: 0,
        minutes: 0,
        summary: String::new(),
        points: 0,
        created_at_ms: x.ctx.time_ms,
        updated_at_ms: x.ctx.time_ms,
    };
    Ok(a)
}

fn apply_to_opportunity(x: &mut Exec<'_>, c: &pb::ApplyToOpportunity) -> Result<()> {
    check_ref("volunteer", "opportunity_id", &c.opportunity_id)?;
    let v = signer_volunteer(&*x.state, &x.ctx.signer)?;
    let o = req_opp(&*x.state, &c.opportunity_id)?;
    let a = new_activity(x, o, &v, pb::ActivityStatus::ActivityApplied)?;
    save_act(x, &a);
    Ok(())
}

/// Confirm a match, taking a slot.
fn confirm_match(x: &mut Exec<'_>, mut a: Activity) -> Result<()> {
    let mut o = req_opp(&*x.state, &a.opportunity_id)?;
    if o.status != pb::OpportunityStatus::OpportunityOpen as i32 {
        return Err(precondition(
            "volunteer.not_open",
            format!("opportunity {} is not open", o.id),
        ));
    }
    if o.matched >= o.slots {
        return Err(precondition(
            "volunteer.no_slots",
            format!("opportunity {} has all {} slots matched", o.id, o.slots),
        ));
    }
    o.matched += 1;
    put_borsh(x.state, key(K_OPP, &o.id), &o);
    a.status = pb::ActivityStatus::ActivityMatched as i32;
    a.updated_at_ms = x.ctx.time_ms;
    save_act(x, &a);
    Ok(())
}

fn accept_application(x: &mut Exec<'_>, c: &pb::AcceptApplication) -> Result<()> {
    check_ref("volunteer", "activity_id", &c.activity_id)?;
    let a = req_act(&*x.state, &c.activity_id)?;
    require_poster(&a.poster, &x.ctx.signer, "accept an application")?;
    require_status(
        &a,
        pb::ActivityStatus::ActivityApplied,
        "accept the application",
    )?;
    let v = req_vol(&*x.state, &a.volunteer_id)?;
    if v.revoked {
        return Err(precondition(
            "volunteer.revoked",
            format!("volunteer {} was revoked", v.id),
        ));
    }
    confirm_match(x, a)
}

fn request_volunteer(x: &mut Exec<'_>, c: &pb::RequestVolunteer) -> Result<()> {
    check_ref("volunteer", "opportunity_id", &c.opportunity_id)?;
    check_ref("volunteer", "volunteer_id", &c.volunteer_id)?;
    let o = req_opp(&*x.state, &c.opportunity_id)?;
    require_poster(&o.poster, &x.ctx.signer, "ask a volunteer for it")?;
    let v = req_vol(&*x.state, &c.volunteer_id)?;
    if v.revoked {
        return Err(precondition(
            "volunteer.revoked",
            format!("volunteer {} was revoked", v.id),
        ));
    }
    let a = new_activity(x, o, &v, pb::ActivityStatus::ActivityRequested)?;
    put_borsh(
        x.state,
        pending_key(pb::PendingKind::PendingRelay, &a.id),
        &(),
    );
    save_act(x, &a);
    Ok(())
}

fn relay_request(x: &mut Exec<'_>, c: &pb::RelayRequest) -> Result<()> {
    check_ref("volunteer", "activity_id", &c.activity_id)?;
    let mut a = req_act(&*x.state, &c.activity_id)?;
    require_status(
        &a,
        pb::ActivityStatus::ActivityRequested,
        "relay the request",
    )?;
    x.state
        .delete(pending_key(pb::PendingKind::PendingRelay, &a.id));
    a.status = pb::ActivityStatus::ActivityRelayed as i32;
    a.updated_at_ms = x.ctx.time_ms;
    save_act(x, &a);
    Ok(())
}

fn accept_request(x: &mut Exec<'_>, c: &pb::AcceptRequest) -> Result<()> {
    check_ref("volunteer", "activity_id", &c.activity_id)?;
    let v = signer_volunteer(&*x.state, &x.ctx.signer)?;
    let a = req_act(&*x.state, &c.activity_id)?;
    if a.volunteer_id != v.id {
        return Err(permission_denied(
            "volunteer.not_requested",
            "only the requested volunteer may accept this request",
        ));
    }
    require_status(
        &a,
        pb::ActivityStatus::ActivityRelayed,
        "accept the request",
    )?;
    confirm_match(x, a)
}

fn check_in(x: &mut Exec<'_>, c: &pb::CheckIn) -> Result<()> {
    check_ref("volunteer", "activity_id", &c.activity_id)?;
    check_ref("volunteer", "certificate_id", &c.certificate_id)?;
    let mut a = req_act(&*x.state, &c.activity_id)?;
    require_poster(&a.poster, &x.ctx.signer, "check a volunteer in")?;
    require_status(&a, pb::ActivityStatus::ActivityMatched, "check in")?;
    let cert = certificate_record(&*x.state, &c.certificate_id)?.ok_or_else(|| {
        not_found(
            "volunteer.unknown_certificate",
            format!("there is no certificate {}", c.certificate_id),
        )
    })?;
    if cert.revoked_at_ms.is_some() {
        return Err(precondition(
            "volunteer.certificate_revoked",
            format!("certificate {} was revoked", cert.id),
        ));
    }
    if cert.volunteer_id != a.volunteer_id {
        return Err(precondition(
            "volunteer.certificate_mismatch",
            format!(
                "certificate {} belongs to another volunteer than activity {}",
                cert.id, a.id
            ),
        ));
    }
    a.status = pb::ActivityStatus::ActivityCheckedIn as i32;
    a.checked_in_at_ms = x.ctx.time_ms;
    a.updated_at_ms = x.ctx.time_ms;
    save_act(x, &a);
    Ok(())
}

fn check_out(x: &mut Exec<'_>, c: &pb::CheckOut) -> Result<()> {
    check_ref("volunteer", "activity_id", &c.activity_id)?;
    let mut a = req_act(&*x.state, &c.activity_id)?;
    require_poster(&a.poster, &x.ctx.signer, "check a volunteer out")?;
    require_status(&a, pb::ActivityStatus::ActivityCheckedIn, "check out")?;
    a.status = pb::ActivityStatus::ActivityCheckedOut as i32;
    a.checked_out_at_ms = x.ctx.time_ms.max(a.checked_in_at_ms);
    a.updated_at_ms = x.ctx.time_ms;
    save_act(x, &a);
    Ok(())
}

fn report_activity(x: &mut Exec<'_>, c: &pb::ReportActivity) -> Result<()> {
    check_ref("volunteer", "activity_id", &c.activity_id)?;
    check_text("volunteer", "summary", &c.summary, MAX_TEXT_CHARS, false)?;
    let mut a = req_act(&*x.state, &c.activity_id)?;
    require_poster(&a.poster, &x.ctx.signer, "report the activity")?;
    require_status(&a, pb::ActivityStatus::ActivityCheckedOut, "report")?;
    let worked_min = a.checked_out_at_ms.saturating_sub(a.checked_in_at_ms) / MS_PER_MIN;
    let worked_min = worked_min.min(MAX_ACTIVITY_MINUTES);
    let minutes = if c.minutes == 0 {
        worked_min
    } else {
        u64::from(c.minutes)
    };
    if minutes > worked_min {
        return Err(invalid_argument(
            "volunteer.minutes_exceed_checked_time",
            format!("{minutes} minutes reported but only {worked_min} were checked in"),
        ));
    }
    a.minutes = u32::try_from(minutes).unwrap_or(u32::MAX);
    a.summary = c.summary.clone();
    a.status = pb::ActivityStatus::ActivityReported as i32;
    a.updated_at_ms = x.ctx.time_ms;
    put_borsh(
        x.state,
        pending_key(pb::PendingKind::PendingReport, &a.id),
        &(),
    );
    save_act(x, &a);
    Ok(())
}

fn approve_activity(x: &mut Exec<'_>, c: &pb::ApproveActivity) -> Result<()> {
    check_ref("volunteer", "activity_id", &c.activity_id)?;
    let mut a = req_act(&*x.state, &c.activity_id)?;
    require_status(&a, pb::ActivityStatus::ActivityReported, "approve")?;
    x.state
        .delete(pending_key(pb::PendingKind::PendingReport, &a.id));
    let mut v = req_vol(&*x.state, &a.volunteer_id)?;
    let rules = rules_at(&*x.state, x.ctx.height)?;
    // The day and year of the work, not of the approval, carry the caps.
    let (today, this_year) = earned(&*x.state, &v.id, a.checked_in_at_ms)?;
    let (points, raw) = points_for(&rules, u64::from(a.minutes), today, this_year);
    let expires_at_ms = x
        .ctx
        .time_ms
        .saturating_add(rules.expiry_days.saturating_mul(MS_PER_DAY));
    if points > 0 {
        put_borsh(
            x.state,
            day_key(&v.id, jst_day(a.checked_in_at_ms)),
            &today.saturating_add(points),
        );
        put_borsh(
            x.state,
            year_key(&v.id, fiscal_year(a.checked_in_at_ms)),
            &this_year.saturating_add(points),
        );
        mint_contribution(x, &v.account, points, &a.id, expires_at_ms)?;
    }
    v.completed_activities = v.completed_activities.checked_add(1).ok_or_else(|| {
        crate::error::precondition(
            "volunteer.total_overflow",
            "completed_activities would exceed its limit",
        )
    })?;
    v.total_minutes = crate::arith::add(
        "volunteer",
        "total_minutes",
        v.total_minutes,
        u64::from(a.minutes),
    )?;
    v.total_points_granted = crate::arith::add(
        "volunteer",
        "total_points_granted",
        v.total_points_granted,
        points,
    )?;
    put_borsh(x.state, key(K_VOL, &v.id), &v);
    a.points = points;
    a.status = pb::ActivityStatus::ActivityApproved as i32;
    a.updated_at_ms = x.ctx.time_ms;
    save_act(x, &a);
    emit(
        x,
        pb::volunteer_event::Kind::ContributionGranted(pb::ContributionGranted {
            activity_id: a.id.clone(),
            volunteer_id: v.id.clone(),
            holder: v.account.to_vec(),
            points,
            points_before_caps: raw,
            expires_at_ms,
        }),
    );
    Ok(())
}

/// Mint contribution points on the shared points ledger: the one place this contract touches
/// it. The issuer is the approving municipality admin's organization, which later settles the
/// points with the stores that redeem them.
fn mint_contribution(
    x: &mut Exec<'_>,
    holder: &[u8; 32],
    points: u64,
    activity_id: &str,
    expires_at_ms: u64,
) -> Result<()> {
    let issuer = governance::signer_account(x)?.organization;
    crate::points::mint(
        x,
        crate::points::PointType::Contribution,
        &issuer,
        holder,
        points,
        &format!("volunteer.activity {activity_id}"),
        expires_at_ms,
    )
}

fn reject_activity(x: &mut Exec<'_>, c: &pb::RejectActivity) -> Result<()> {
    check_ref("volunteer", "activity_id", &c.activity_id)?;
    check_text("volunteer", "reason", &c.reason, MAX_REASON_CHARS, false)?;
    let mut a = req_act(&*x.state, &c.activity_id)?;
    require_status(&a, pb::ActivityStatus::ActivityReported, "reject")?;
    x.state
        .delete(pending_key(pb::PendingKind::PendingReport, &a.id));
    a.status = pb::ActivityStatus::ActivityRejected as i32;
    a.summary = c.reason.clone();
    a.updated_at_ms = x.ctx.time_ms;
    save_act(x, &a);
    Ok(())
}

impl Volunteer {
    /// To protobuf.
    pub fn to_proto(&self) -> pb::VolunteerProfile {
        pb::VolunteerProfile {
            volunteer_id: self.id.clone(),
            account: self.account.to_vec(),
            skills: self.skills.clone(),
            certificate_id: self.certificate_id.clone(),
            revoked: self.revoked,
            completed_activities: self.completed_activities,
            total_minutes: self.total_minutes,
            total_points_granted: self.total_points_granted,
            registered_at_ms: self.registered_at_ms,
        }
    }
}

impl Opportunity {
    /// To protobuf.
    pub fn to_proto(&self) -> pb::VolunteerOpportunity {
        pb::VolunteerOpportunity {
            opportunity_id: self.id.clone(),
            poster: self.poster.to_vec(),
            by_facility: self.by_facility,
            title: self.title.clone(),
            description: self.description.clone(),
            skills: self.skills.clone(),
            starts_at_ms: self.starts_at_ms,
            ends_at_ms: self.ends_at_ms,
            slots: self.slots,
            matched: self.matched,
            status: self.status,
            posted_at_ms: self.posted_at_ms,
        }
    }
}

impl Activity {
    /// To protobuf.
    pub fn to_proto(&self) -> pb::VolunteerActivity {
        pb::VolunteerActivity {
            activity_id: self.id.clone(),
            opportunity_id: self.opportunity_id.clone(),
            volunteer_id: self.volunteer_id.clone(),
            poster: self.poster.to_vec(),
            status: self.status,
            checked_in_at_ms: self.checked_in_at_ms,
            checked_out_at_ms: self.checked_out_at_ms,
            minutes: self.minutes,
            summary: self.summary.clone(),
            points: self.points,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
        }
    }
}

impl CertificateRecord {
    /// To protobuf.
    pub fn to_proto(&self) -> pb::VolunteerCertificate {
        pb::VolunteerCertificate {
            certificate_id: self.id.clone(),
            volunteer_id: self.volunteer_id.clone(),
            account: self.account.to_vec(),
            issued_at_ms: self.issued_at_ms,
            issuer_organization: self.issuer_organization.clone(),
            revoked: self.revoked_at_ms.is_some(),
            revoked_at_ms: self.revoked_at_ms.unwrap_or(0),
            issued_at_height: self.issued_at_height,
            issued_in_tx: self.issued_in_tx.to_vec(),
        }
    }
}

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
            let ok = (req.status == 0 || o.status == req.status)
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemState;

    #[test]
    fn ids_are_deterministic_and_distinct_by_kind_and_tx() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        assert_eq!(volunteer_id_for(&a), volunteer_id_for(&a));
        assert_ne!(volunteer_id_for(&a), volunteer_id_for(&b));
        assert_ne!(
            volunteer_id_for(&a).trim_start_matches("vol-"),
            certificate_id_for(&a).trim_start_matches("cert-")
        );
        assert!(governance::check_id("id", &volunteer_id_for(&a), 64).is_ok());
    }

    #[test]
    fn fiscal_year_runs_april_to_march_jst() {
        // 2026-01-15T00:00Z: FY2025. 2026-04-01T00:00Z (09:00 JST): FY2026.
        assert_eq!(fiscal_year(1_768_435_200_000), 2025);
        assert_eq!(fiscal_year(1_775_001_600_000), 2026);
        // 2026-03-31T14:59:59.999Z is still March 31 JST.
        assert_eq!(fiscal_year(1_774_969_199_999), 2025);
        assert_eq!(fiscal_year(1_774_969_200_000), 2026);
    }

    #[test]
    fn points_rule_examples() {
        let r = DEFAULT_RULES;
        assert_eq!(points_for(&r, 90, 0, 0), (150, 150));
        assert_eq!(points_for(&r, 90, 700, 0), (100, 150));
        assert_eq!(points_for(&r, 90, 0, 19_990), (10, 150));
        assert_eq!(points_for(&r, 90, 900, 0), (0, 150));
        assert_eq!(points_for(&r, 0, 0, 0), (0, 0));
    }

    #[test]
    fn rules_default_when_unset_or_negative() {
        let mut s = MemState::default();
        assert_eq!(rules_at(&s, 5).unwrap(), DEFAULT_RULES);
        let g = governance::Genesis {
            chain: governance::ChainConfig {
                chain_id: "t".into(),
                fault_model: 0,
                max_expiry_blocks: 10,
            },
            organizations: vec![governance::Organization {
                id: "o".into(),
                name: "O".into(),
            }],
            validators: vec![governance::ValidatorRecord {
                organization: "o".into(),
                name: "v".into(),
                public_key: [1; 32],
                power: 1,
            }],
            accounts: vec![],
            parameters: vec![(P_POINTS_PER_HOUR.into(), 30), (P_EXPIRY_DAYS.into(), -1)],
        };
        governance::init_genesis(&mut s, &g).unwrap();
        let r = rules_at(&s, 5).unwrap();
        assert_eq!(r.points_per_hour, 30);
        assert_eq!(r.expiry_days, DEFAULT_RULES.expiry_days);
    }

    #[test]
    fn skills_are_sorted_deduplicated_and_bounded() {
        let s = check_skills(&["b".into(), "a".into(), "b".into()]).unwrap();
        assert_eq!(s, vec!["a".to_string(), "b".to_string()]);
        let many: Vec<String> = (0..=MAX_SKILLS).map(|i| format!("s{i}")).collect();
        assert!(check_skills(&many).is_err());
        assert!(check_skills(&[String::new()]).is_err());
    }
}
