//! One function per volunteer call. Each checks the signer's right and the arguments, then
//! writes records and emits the events that show the change; a failure returns before any write.

use super::keys::*;
use super::records::*;
use super::*;
use crate::calendar::{fiscal_year, jst_day};
use crate::error::{already_exists, invalid_argument, not_found, permission_denied, precondition};
use crate::state::put_borsh;
use crate::text::{check_ref, check_text};

const MS_PER_MIN: u64 = 60_000;

pub(super) fn check_skills(skills: &[String]) -> Result<Vec<String>> {
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

fn req_app(state: &dyn StateRead, id: &str) -> Result<Application> {
    application(state, id)?.ok_or_else(|| {
        not_found(
            "volunteer.unknown_application",
            format!("there is no application {id}"),
        )
    })
}
pub(super) fn req_vol(state: &dyn StateRead, id: &str) -> Result<Volunteer> {
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

/// The signer must be a municipality admin of `owner`, the organization that owns the object.
fn require_owner(x: &Exec<'_>, owner: &str, what: &str) -> Result<()> {
    owner_check(&governance::signer_account(x)?, owner, what)
}

/// [`require_owner`] for a known account.
pub(super) fn owner_check(signer: &Account, owner: &str, what: &str) -> Result<()> {
    if signer.has_kind(RoleKind::MunicipalityAdmin)
        && !owner.is_empty()
        && signer.organization == owner
    {
        return Ok(());
    }
    Err(permission_denied(
        "volunteer.not_owner",
        format!("only a municipality admin of {owner}, which {what}, may do this"),
    ))
}

fn require_status(a: &Activity, want: ActivityStatus, action: &str) -> Result<()> {
    if a.status != want {
        return Err(precondition(
            "volunteer.wrong_status",
            format!(
                "cannot {action}: activity {} is {}, not {}",
                a.id,
                a.status.to_pb().as_str_name(),
                want.to_pb().as_str_name()
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

pub(super) fn apply_registration(x: &mut Exec<'_>, c: &pb::ApplyRegistration) -> Result<()> {
    let skills = check_skills(&c.skills)?;
    let municipality = governance::signer_account(x)?.organization;
    if municipality.is_empty() {
        return Err(permission_denied(
            "volunteer.no_municipality",
            "a volunteer registers with the municipality its account belongs to; this account belongs to none",
        ));
    }
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
        status: ApplicationStatus::Pending,
        municipality,
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
    if app.status != ApplicationStatus::Pending {
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

pub(super) fn approve_registration(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::ApproveRegistration,
) -> Result<()> {
    let mut app = take_pending_app(x, &c.application_id)?;
    require_owner(x, &app.municipality, "received the application")?;
    if volunteer_of_account(&*x.state, &app.applicant)?.is_some() {
        return Err(already_exists(
            "volunteer.already_registered",
            "the applicant is already a registered volunteer",
        ));
    }
    app.status = ApplicationStatus::Approved;
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
        municipality: signer.organization.clone(),
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

pub(super) fn reject_registration(x: &mut Exec<'_>, c: &pb::RejectRegistration) -> Result<()> {
    check_text("volunteer", "reason", &c.reason, MAX_REASON_CHARS, false)?;
    let mut app = take_pending_app(x, &c.application_id)?;
    require_owner(x, &app.municipality, "received the application")?;
    app.status = ApplicationStatus::Rejected;
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

pub(super) fn revoke_registration(x: &mut Exec<'_>, c: &pb::RevokeRegistration) -> Result<()> {
    check_ref("volunteer", "volunteer_id", &c.volunteer_id)?;
    check_text("volunteer", "reason", &c.reason, MAX_REASON_CHARS, false)?;
    let mut v = req_vol(&*x.state, &c.volunteer_id)?;
    require_owner(x, &v.municipality, "registered the volunteer")?;
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

pub(super) fn post_opportunity(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::PostOpportunity,
) -> Result<()> {
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
    // A facility account posts as a facility even if it also holds other roles; the
    // municipality (any of its departments' admin accounts) recruits directly too: both open
    // at once, a resident's request waits for the municipality's approval.
    let by_facility = signer.has_kind(RoleKind::Facility);
    let opens_at_once = by_facility || signer.has_kind(RoleKind::MunicipalityAdmin);
    let status = if opens_at_once {
        OpportunityStatus::Open
    } else {
        OpportunityStatus::PendingApproval
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
        status,
        posted_at_ms: x.ctx.time_ms,
    };
    put_borsh(x.state, key(K_OPP, &id), &o);
    if !opens_at_once {
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

fn set_opp_status(x: &mut Exec<'_>, mut o: Opportunity, s: OpportunityStatus) {
    o.status = s;
    put_borsh(x.state, key(K_OPP, &o.id), &o);
    emit(
        x,
        pb::volunteer_event::Kind::OpportunityStatusChanged(pb::OpportunityStatusChanged {
            opportunity_id: o.id.clone(),
            status: s.to_api(),
            poster: o.poster.to_vec(),
        }),
    );
}

pub(super) fn approve_opportunity(x: &mut Exec<'_>, c: &pb::ApproveOpportunity) -> Result<()> {
    check_ref("volunteer", "opportunity_id", &c.opportunity_id)?;
    let o = req_opp(&*x.state, &c.opportunity_id)?;
    let poster_org = governance::account(&*x.state, &o.poster)?
        .map(|a| a.organization)
        .unwrap_or_default();
    require_owner(x, &poster_org, "the requester belongs to")?;
    if o.status != OpportunityStatus::PendingApproval {
        return Err(precondition(
            "volunteer.not_pending",
            format!("opportunity {} is not waiting for approval", o.id),
        ));
    }
    x.state
        .delete(pending_key(pb::PendingKind::PendingOpportunity, &o.id));
    set_opp_status(x, o, OpportunityStatus::Open);
    Ok(())
}

pub(super) fn close_opportunity(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::CloseOpportunity,
) -> Result<()> {
    check_ref("volunteer", "opportunity_id", &c.opportunity_id)?;
    let o = req_opp(&*x.state, &c.opportunity_id)?;
    if o.poster != x.ctx.signer && !signer.has_kind(RoleKind::MunicipalityAdmin) {
        return Err(permission_denied(
            "volunteer.not_poster",
            "only the poster or a municipality admin may close an opportunity",
        ));
    }
    if o.status == OpportunityStatus::Closed {
        return Err(precondition(
            "volunteer.closed",
            format!("opportunity {} is already closed", o.id),
        ));
    }
    x.state
        .delete(pending_key(pb::PendingKind::PendingOpportunity, &o.id));
    set_opp_status(x, o, OpportunityStatus::Closed);
    Ok(())
}

/// Create an activity for `v` on open opportunity `o`.
fn new_activity(
    x: &mut Exec<'_>,
    mut o: Opportunity,
    v: &Volunteer,
    status: ActivityStatus,
) -> Result<Activity> {
    if o.status != OpportunityStatus::Open {
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
        status,
        checked_in_at_ms: 0,
        checked_out_at_ms: 0,
        minutes: 0,
        summary: String::new(),
        points: 0,
        created_at_ms: x.ctx.time_ms,
        updated_at_ms: x.ctx.time_ms,
        end_reason: String::new(),
    };
    Ok(a)
}

pub(super) fn apply_to_opportunity(x: &mut Exec<'_>, c: &pb::ApplyToOpportunity) -> Result<()> {
    check_ref("volunteer", "opportunity_id", &c.opportunity_id)?;
    let v = signer_volunteer(&*x.state, &x.ctx.signer)?;
    let o = req_opp(&*x.state, &c.opportunity_id)?;
    let a = new_activity(x, o, &v, ActivityStatus::Applied)?;
    save_act(x, &a);
    Ok(())
}

/// Confirm a match, taking a slot.
fn confirm_match(x: &mut Exec<'_>, mut a: Activity) -> Result<()> {
    let mut o = req_opp(&*x.state, &a.opportunity_id)?;
    if o.status != OpportunityStatus::Open {
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
    a.status = ActivityStatus::Matched;
    a.updated_at_ms = x.ctx.time_ms;
    save_act(x, &a);
    Ok(())
}

pub(super) fn accept_application(x: &mut Exec<'_>, c: &pb::AcceptApplication) -> Result<()> {
    check_ref("volunteer", "activity_id", &c.activity_id)?;
    let a = req_act(&*x.state, &c.activity_id)?;
    require_poster(&a.poster, &x.ctx.signer, "accept an application")?;
    require_status(&a, ActivityStatus::Applied, "accept the application")?;
    let v = req_vol(&*x.state, &a.volunteer_id)?;
    if v.revoked {
        return Err(precondition(
            "volunteer.revoked",
            format!("volunteer {} was revoked", v.id),
        ));
    }
    confirm_match(x, a)
}

pub(super) fn request_volunteer(x: &mut Exec<'_>, c: &pb::RequestVolunteer) -> Result<()> {
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
    let a = new_activity(x, o, &v, ActivityStatus::Requested)?;
    put_borsh(
        x.state,
        pending_key(pb::PendingKind::PendingRelay, &a.id),
        &(),
    );
    save_act(x, &a);
    Ok(())
}

pub(super) fn relay_request(x: &mut Exec<'_>, c: &pb::RelayRequest) -> Result<()> {
    check_ref("volunteer", "activity_id", &c.activity_id)?;
    let mut a = req_act(&*x.state, &c.activity_id)?;
    let v = req_vol(&*x.state, &a.volunteer_id)?;
    require_owner(x, &v.municipality, "registered the volunteer")?;
    require_status(&a, ActivityStatus::Requested, "relay the request")?;
    x.state
        .delete(pending_key(pb::PendingKind::PendingRelay, &a.id));
    a.status = ActivityStatus::Relayed;
    a.updated_at_ms = x.ctx.time_ms;
    save_act(x, &a);
    Ok(())
}

pub(super) fn accept_request(x: &mut Exec<'_>, c: &pb::AcceptRequest) -> Result<()> {
    check_ref("volunteer", "activity_id", &c.activity_id)?;
    let v = signer_volunteer(&*x.state, &x.ctx.signer)?;
    let a = req_act(&*x.state, &c.activity_id)?;
    if a.volunteer_id != v.id {
        return Err(permission_denied(
            "volunteer.not_requested",
            "only the requested volunteer may accept this request",
        ));
    }
    require_status(&a, ActivityStatus::Relayed, "accept the request")?;
    confirm_match(x, a)
}

pub(super) fn check_in(x: &mut Exec<'_>, c: &pb::CheckIn) -> Result<()> {
    check_ref("volunteer", "activity_id", &c.activity_id)?;
    check_ref("volunteer", "certificate_id", &c.certificate_id)?;
    let mut a = req_act(&*x.state, &c.activity_id)?;
    require_poster(&a.poster, &x.ctx.signer, "check a volunteer in")?;
    require_status(&a, ActivityStatus::Matched, "check in")?;
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
    check_presence(&*x.state, &a, c)?;
    // One person, one place: not while checked in to another activity.
    let present = key(K_PRESENT, &a.volunteer_id);
    if let Some(other) = crate::state::get_borsh::<String>(&*x.state, &present)? {
        if other != a.id
            && req_act(&*x.state, &other).is_ok_and(|o| o.status == ActivityStatus::CheckedIn)
        {
            return Err(precondition(
                "volunteer.already_checked_in",
                format!(
                    "the volunteer is checked in to activity {other}; check them out there first (one person, one place)"
                ),
            ));
        }
    }
    put_borsh(x.state, present, &a.id);
    a.status = ActivityStatus::CheckedIn;
    a.checked_in_at_ms = x.ctx.time_ms;
    a.updated_at_ms = x.ctx.time_ms;
    save_act(x, &a);
    Ok(())
}

pub(super) fn check_out(x: &mut Exec<'_>, c: &pb::CheckOut) -> Result<()> {
    check_ref("volunteer", "activity_id", &c.activity_id)?;
    let mut a = req_act(&*x.state, &c.activity_id)?;
    require_poster(&a.poster, &x.ctx.signer, "check a volunteer out")?;
    require_status(&a, ActivityStatus::CheckedIn, "check out")?;
    x.state.delete(key(K_PRESENT, &a.volunteer_id));
    a.status = ActivityStatus::CheckedOut;
    a.checked_out_at_ms = x.ctx.time_ms.max(a.checked_in_at_ms);
    a.updated_at_ms = x.ctx.time_ms;
    save_act(x, &a);
    Ok(())
}

pub(super) fn report_activity(x: &mut Exec<'_>, c: &pb::ReportActivity) -> Result<()> {
    check_ref("volunteer", "activity_id", &c.activity_id)?;
    check_text("volunteer", "summary", &c.summary, MAX_TEXT_CHARS, false)?;
    let mut a = req_act(&*x.state, &c.activity_id)?;
    require_poster(&a.poster, &x.ctx.signer, "report the activity")?;
    require_status(&a, ActivityStatus::CheckedOut, "report")?;
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
    a.status = ActivityStatus::Reported;
    a.updated_at_ms = x.ctx.time_ms;
    put_borsh(
        x.state,
        pending_key(pb::PendingKind::PendingReport, &a.id),
        &(),
    );
    save_act(x, &a);
    Ok(())
}

pub(super) fn approve_activity(x: &mut Exec<'_>, c: &pb::ApproveActivity) -> Result<()> {
    check_ref("volunteer", "activity_id", &c.activity_id)?;
    let mut a = req_act(&*x.state, &c.activity_id)?;
    require_status(&a, ActivityStatus::Reported, "approve")?;
    x.state
        .delete(pending_key(pb::PendingKind::PendingReport, &a.id));
    let mut v = req_vol(&*x.state, &a.volunteer_id)?;
    require_owner(x, &v.municipality, "registered the volunteer")?;
    let rules = rules_at(&*x.state, &v.municipality, x.ctx.height)?;
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
    a.status = ActivityStatus::Approved;
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
            // As the points ledger keeps it: rounded up to the end of the JST day.
            expires_at_ms: if expires_at_ms == 0 {
                0
            } else {
                crate::points::round_expiry(expires_at_ms)
            },
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

pub(super) fn reject_activity(x: &mut Exec<'_>, c: &pb::RejectActivity) -> Result<()> {
    check_ref("volunteer", "activity_id", &c.activity_id)?;
    check_text("volunteer", "reason", &c.reason, MAX_REASON_CHARS, false)?;
    let mut a = req_act(&*x.state, &c.activity_id)?;
    let v = req_vol(&*x.state, &a.volunteer_id)?;
    require_owner(x, &v.municipality, "registered the volunteer")?;
    require_status(&a, ActivityStatus::Reported, "reject")?;
    x.state
        .delete(pending_key(pb::PendingKind::PendingReport, &a.id));
    a.status = ActivityStatus::Rejected;
    a.summary = c.reason.clone();
    a.updated_at_ms = x.ctx.time_ms;
    save_act(x, &a);
    Ok(())
}

/// End an activity before it happened: withdrawn, declined, cancelled or a no-show, each by
/// the party who may say so; a matched one frees its slot.
pub(super) fn end_activity(x: &mut Exec<'_>, c: &pb::EndActivity) -> Result<()> {
    check_ref("volunteer", "activity_id", &c.activity_id)?;
    check_text("volunteer", "reason", &c.reason, MAX_REASON_CHARS, false)?;
    let mut a = req_act(&*x.state, &c.activity_id)?;
    let signer = x.ctx.signer;
    let is_poster = a.poster == signer;
    let is_volunteer = signer_volunteer(&*x.state, &signer).is_ok_and(|v| v.id == a.volunteer_id);
    use ActivityStatus as S;
    let (allowed, by, to) = match pb::ActivityOutcome::try_from(c.outcome) {
        Ok(pb::ActivityOutcome::Withdrawn) => (
            matches!(
                a.status,
                S::Applied | S::Requested | S::Relayed | S::Matched
            ),
            is_volunteer,
            S::Withdrawn,
        ),
        Ok(pb::ActivityOutcome::Declined) => (
            (is_poster && a.status == S::Applied) || (is_volunteer && a.status == S::Relayed),
            is_poster || is_volunteer,
            S::Declined,
        ),
        Ok(pb::ActivityOutcome::Cancelled) => (
            matches!(a.status, S::Requested | S::Relayed | S::Matched),
            is_poster,
            S::Cancelled,
        ),
        Ok(pb::ActivityOutcome::NoShow) => (a.status == S::Matched, is_poster, S::NoShow),
        _ => {
            return Err(invalid_argument(
                "volunteer.bad_outcome",
                "outcome must be WITHDRAWN, DECLINED, CANCELLED or NO_SHOW",
            ))
        }
    };
    if !by {
        return Err(permission_denied(
            "volunteer.not_party",
            "only the volunteer withdraws, the poster cancels or records a no-show, and the one asked declines",
        ));
    }
    if !allowed {
        return Err(precondition(
            "volunteer.cannot_end",
            format!(
                "activity {} is {:?}: it can no longer be ended this way (checked in, done or already ended)",
                a.id, a.status
            ),
        ));
    }
    let mut o = req_opp(&*x.state, &a.opportunity_id)?;
    if to == S::NoShow && x.ctx.time_ms < o.starts_at_ms {
        return Err(precondition(
            "volunteer.not_started",
            "a no-show is recorded once the opportunity has started; before that, cancel",
        ));
    }
    if a.status == S::Matched {
        o.matched = o.matched.saturating_sub(1);
        put_borsh(x.state, key(K_OPP, &o.id), &o);
    }
    a.status = to;
    a.end_reason = c.reason.clone();
    a.updated_at_ms = x.ctx.time_ms;
    save_act(x, &a);
    Ok(())
}

/// The volunteer is there: the check-in carries the volunteer's own signature over the
/// facility's fresh challenge for this activity.
fn check_presence(state: &dyn StateRead, a: &Activity, c: &pb::CheckIn) -> Result<()> {
    if c.challenge.len() < 16 || c.challenge.len() > 64 {
        return Err(invalid_argument(
            "volunteer.bad_challenge",
            "challenge must be 16 to 64 random bytes shown by the facility's device at check-in",
        ));
    }
    let v = req_vol(state, &a.volunteer_id)?;
    let sig = <[u8; 64]>::try_from(c.presence_signature.as_slice()).map_err(|_| {
        invalid_argument(
            "volunteer.no_presence",
            "presence_signature must be the volunteer's 64-byte signature over the challenge (a certificate alone does not check anyone in)",
        )
    })?;
    if !yui_consensus::sig::verify(
        &v.account,
        &yui_proto::signed::presence_message(&a.id, &c.challenge),
        &sig,
    ) {
        return Err(permission_denied(
            "volunteer.presence_not_shown",
            "the presence signature is not the volunteer's over this challenge and activity: ask the volunteer to scan the code shown now",
        ));
    }
    Ok(())
}
