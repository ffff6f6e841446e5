//! Applications to join a program: a resident or company applies with its own account and a
//! vault reference the municipality made; a municipality admin of the program approves (the
//! applicant becomes a participant, exactly as if registered) or declines with a reason. One
//! pending application per account and program.

use super::calls::{check_can_join, emit, enroll, person_ref, req_program, require_admin};
use super::keys::key;
use super::*;
use crate::error::{already_exists, not_found, precondition};
use crate::page::Page;
use crate::state::{get_borsh, put_borsh};
use crate::text::{check_ref, check_text};
use borsh::{BorshDeserialize, BorshSerialize};

/// `eco/app/<id>`: an application.
const K_APP: &[u8] = b"eco/app/";
/// `eco/progapp/<program>\0<id>`: a program's applications, for its work list.
const K_PROG_APP: &[u8] = b"eco/progapp/";
/// `eco/apppend/<program>\0<account>`: the pending application of an account.
const K_APP_PENDING: &[u8] = b"eco/apppend/";

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
struct Application {
    id: String,
    program: String,
    account: [u8; 32],
    vault_id: String,
    commitment: [u8; 32],
    /// `pb::JoinStatus` value.
    status: i32,
    participant_id: String,
    reason: String,
    applied_at_ms: u64,
    decided_at_ms: u64,
    decided_by: [u8; 32],
}

impl Application {
    fn to_proto(&self) -> pb::JoinApplication {
        pb::JoinApplication {
            application_id: self.id.clone(),
            program_id: self.program.clone(),
            account: self.account.to_vec(),
            person: Some(pb::PersonRef {
                vault_id: self.vault_id.clone(),
                commitment: self.commitment.to_vec(),
            }),
            status: self.status,
            participant_id: self.participant_id.clone(),
            reason: self.reason.clone(),
            applied_at_ms: self.applied_at_ms,
            decided_at_ms: self.decided_at_ms,
            decided_by: if self.decided_at_ms == 0 {
                Vec::new()
            } else {
                self.decided_by.to_vec()
            },
        }
    }
}

fn pending_key(program: &str, account: &[u8; 32]) -> Vec<u8> {
    [K_APP_PENDING, program.as_bytes(), b"\0", account.as_slice()].concat()
}

fn program_prefix(program: &str) -> Vec<u8> {
    [K_PROG_APP, program.as_bytes(), b"\0"].concat()
}

/// `ApplyToJoin`: the signer applies.
pub(super) fn apply(x: &mut Exec<'_>, signer: &Account, c: &pb::ApplyToJoin) -> Result<()> {
    check_ref("eco", "program_id", &c.program_id)?;
    let p = req_program(&*x.state, &c.program_id)?;
    let (vault_id, commitment) = person_ref(c.person.as_ref())?;
    check_can_join(&*x.state, &p, &signer.key)?;
    let pk = pending_key(&p.id, &signer.key);
    if let Some(other) = get_borsh::<String>(&*x.state, &pk)? {
        return Err(already_exists(
            "eco.application_pending",
            format!(
                "this account already has application {other} waiting in program {}",
                p.id
            ),
        ));
    }
    let a = Application {
        id: id_for("a", &x.ctx.tx_id),
        program: p.id.clone(),
        account: signer.key,
        vault_id,
        commitment,
        status: pb::JoinStatus::JoinPending as i32,
        participant_id: String::new(),
        reason: String::new(),
        applied_at_ms: x.ctx.time_ms,
        decided_at_ms: 0,
        decided_by: [0; 32],
    };
    put_borsh(x.state, pk, &a.id);
    x.state.put(
        [program_prefix(&p.id).as_slice(), a.id.as_bytes()].concat(),
        Vec::new(),
    );
    put_borsh(x.state, key(K_APP, &a.id), &a);
    emit(x, pb::eco_event::Kind::ApplicationChanged(a.to_proto()));
    Ok(())
}

/// `DecideApplication`: a program admin approves or declines.
pub(super) fn decide(x: &mut Exec<'_>, signer: &Account, c: &pb::DecideApplication) -> Result<()> {
    check_ref("eco", "application_id", &c.application_id)?;
    let mut a: Application = get_borsh(&*x.state, &key(K_APP, &c.application_id))?
        .ok_or_else(|| not_found("eco.unknown_application", "no application has this id"))?;
    let p = req_program(&*x.state, &a.program)?;
    require_admin(signer, &p)?;
    if a.status != pb::JoinStatus::JoinPending as i32 {
        return Err(precondition(
            "eco.application_decided",
            "the application was already decided",
        ));
    }
    check_text("eco", "reason", &c.reason, 280, !c.approve)?;
    if c.approve {
        a.participant_id = enroll(x, &p, a.account, (a.vault_id.clone(), a.commitment))?;
        a.status = pb::JoinStatus::JoinApproved as i32;
    } else {
        a.status = pb::JoinStatus::JoinDeclined as i32;
    }
    a.reason = c.reason.clone();
    a.decided_at_ms = x.ctx.time_ms;
    a.decided_by = x.ctx.signer;
    x.state.delete(pending_key(&a.program, &a.account));
    put_borsh(x.state, key(K_APP, &a.id), &a);
    emit(x, pb::eco_event::Kind::ApplicationChanged(a.to_proto()));
    Ok(())
}

/// A program's applications, by id, optionally of one status.
pub fn list_applications(
    state: &dyn StateRead,
    r: &pb::ListApplicationsRequest,
) -> Result<pb::ListApplicationsResponse> {
    check_ref("eco", "program_id", &r.program_id)?;
    if pb::JoinStatus::try_from(r.status).is_err() {
        return Err(invalid_argument(
            "eco.bad_filter",
            "status is not a known JoinStatus",
        ));
    }
    req_program(state, &r.program_id)?;
    let prefix = program_prefix(&r.program_id);
    let (applications, next_page_token) =
        Page::of(r.page.as_ref(), &prefix)?.scan(state, &prefix, |k, _| {
            let id = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            let a: Option<Application> = get_borsh(state, &key(K_APP, &id))?;
            Ok(a.filter(|a| r.status == 0 || a.status == r.status)
                .map(|a| a.to_proto()))
        })?;
    Ok(pb::ListApplicationsResponse {
        applications,
        next_page_token,
    })
}
