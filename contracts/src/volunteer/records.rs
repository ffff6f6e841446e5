//! The volunteer contract's state records (borsh), their getters and their API messages.

use super::keys::*;
use crate::calendar::{fiscal_year, jst_day};
use crate::error::Result;
use crate::state::get_borsh;
use crate::stored::stored_enum;
use crate::{pb, StateRead};
use borsh::{BorshDeserialize, BorshSerialize};

stored_enum!(
    /// Application status.
    ApplicationStatus: pb::ApplicationStatus { Pending = ApplicationPending, Approved = ApplicationApproved, Rejected = ApplicationRejected }
);
stored_enum!(
    /// Opportunity status.
    OpportunityStatus: pb::OpportunityStatus { PendingApproval = OpportunityPendingApproval, Open = OpportunityOpen, Closed = OpportunityClosed }
);
stored_enum!(
    /// Activity status.
    ActivityStatus: pb::ActivityStatus { Applied = ActivityApplied, Requested = ActivityRequested, Relayed = ActivityRelayed, Matched = ActivityMatched, CheckedIn = ActivityCheckedIn, CheckedOut = ActivityCheckedOut, Reported = ActivityReported, Approved = ActivityApproved, Rejected = ActivityRejected, Withdrawn = ActivityWithdrawn, Declined = ActivityDeclined, Cancelled = ActivityCancelled, NoShow = ActivityNoShow }
);

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
    /// Status.
    pub status: ApplicationStatus,
    /// The municipality that decides it: the applicant account's organization.
    pub municipality: String,
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
    /// The municipality that registered it (decides its activities, issues its points).
    pub municipality: String,
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
    /// Status.
    pub status: OpportunityStatus,
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
    /// Status.
    pub status: ActivityStatus,
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
    /// Why it ended early (withdrawn, declined, cancelled, no-show).
    pub end_reason: String,
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
            status: self.status.to_api(),
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
            status: self.status.to_api(),
            checked_in_at_ms: self.checked_in_at_ms,
            checked_out_at_ms: self.checked_out_at_ms,
            minutes: self.minutes,
            summary: self.summary.clone(),
            points: self.points,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
            end_reason: self.end_reason.clone(),
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
