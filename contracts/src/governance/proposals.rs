//! What belongs to all changes by vote: the validator set, the members, and consortium-wide
//! parameters. A validator organization's admin proposes; the proposal is checked when opened and
//! again when carried out (the state may have changed in between); it is carried out in the
//! transaction whose approval brings it above 2/3 of the validator organizations. A validator-set
//! change applies `VALIDATOR_CHANGE_DELAY` heights later; a membership change at once (a new
//! member's validator joins the set with the same delay).

use super::*;

/// The newest set (including scheduled ones): the base a new proposal changes.
fn latest_set(state: &dyn StateRead) -> Result<Vec<ValidatorRecord>> {
    Ok(validator_history(state)?
        .sets
        .last()
        .map(|(_, s)| s.clone())
        .unwrap_or_default())
}

/// Apply a change to a set, validating it.
fn apply_change(
    state: &dyn StateRead,
    set: &[ValidatorRecord],
    change: &ChangeRecord,
) -> Result<Vec<ValidatorRecord>> {
    let mut set = set.to_vec();
    match change {
        ChangeRecord::Add(v) => {
            if v.power == 0 {
                return Err(invalid_argument(
                    "governance.zero_power",
                    "a validator needs voting power of at least 1",
                ));
            }
            check_id("validator name", &v.name, 64)?;
            match organization(state, &v.organization)? {
                Some(o) if o.active() && o.kind == OrgKind::Municipality => {}
                Some(o) if o.active() => {
                    return Err(permission_denied(
                        "governance.not_municipality",
                        format!(
                        "organization {} is not a municipality; only municipalities run validators",
                        v.organization
                    ),
                    ))
                }
                _ => {
                    return Err(not_found(
                        "governance.unknown_organization",
                        format!("organization {} is not a consortium member", v.organization),
                    ))
                }
            }
            if set.iter().any(|x| x.public_key == v.public_key) {
                return Err(already_exists(
                    "governance.validator_exists",
                    "a validator with this key exists",
                ));
            }
            set.push(v.clone());
        }
        ChangeRecord::Remove(key) => {
            let before = set.len();
            set.retain(|x| x.public_key != *key);
            if set.len() == before {
                return Err(not_found(
                    "governance.unknown_validator",
                    "no validator has this key",
                ));
            }
        }
        ChangeRecord::RotateKey { old, new } => {
            if set.iter().any(|x| x.public_key == *new) {
                return Err(already_exists(
                    "governance.validator_exists",
                    "a validator already uses the new key",
                ));
            }
            let v = set
                .iter_mut()
                .find(|x| x.public_key == *old)
                .ok_or_else(|| {
                    not_found(
                        "governance.unknown_validator",
                        "no validator has the old key",
                    )
                })?;
            v.public_key = *new;
        }
    }
    if set.is_empty() {
        return Err(precondition(
            "governance.empty_set",
            "the last validator cannot be removed",
        ));
    }
    Ok(set)
}

fn require_validator_org(
    state: &dyn StateRead,
    signer: &Account,
    height: u64,
) -> Result<Vec<String>> {
    let (_, current) = validators_at(state, height)?;
    let orgs = validator_orgs(&current);
    if !orgs.contains(&signer.organization) {
        return Err(permission_denied(
            "governance.not_validator_org",
            format!("organization {} runs no validator, so it cannot propose or approve consortium changes", signer.organization),
        ));
    }
    Ok(orgs)
}

fn check_reason(reason: &str) -> Result<()> {
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(invalid_argument(
            "governance.reason_too_long",
            format!("the reason is longer than {MAX_REASON_CHARS} characters"),
        ));
    }
    crate::text::check_text("governance", "reason", reason, MAX_REASON_CHARS, false)
}

/// Check a membership change against the state now.
fn check_member_change(state: &dyn StateRead, change: &ProposalChange) -> Result<()> {
    match change {
        ProposalChange::Join(m) => {
            check_id("organization id", &m.id, 64)?;
            if m.id.is_empty() {
                return Err(invalid_argument(
                    "governance.invalid_organization",
                    "the new organization's id is empty",
                ));
            }
            crate::text::check_text("governance", "name", &m.name, 120, true)?;
            if organization(state, &m.id)?.is_some() {
                return Err(already_exists(
                    "governance.organization_exists",
                    format!(
                        "organization id {} is or was in use; ids are never reused",
                        m.id
                    ),
                ));
            }
            if account(state, &m.admin_key)?.is_some() {
                return Err(already_exists(
                    "governance.account_exists",
                    "the admin key is already an account of another organization",
                ));
            }
            if m.kind != OrgKind::Municipality && (m.validator.is_some() || m.node_key.is_some()) {
                return Err(permission_denied(
                    "governance.not_municipality",
                    "only a municipality may run a validator or a node",
                ));
            }
            if let Some(v) = &m.validator {
                check_id("validator name", &v.name, 64)?;
                if latest_set(state)?
                    .iter()
                    .any(|x| x.public_key == v.public_key)
                {
                    return Err(already_exists(
                        "governance.validator_exists",
                        "a validator with this key exists",
                    ));
                }
            }
            Ok(())
        }
        ProposalChange::Remove(id) => {
            match organization(state, id)? {
                Some(o) if o.active() => {}
                _ => {
                    return Err(not_found(
                        "governance.unknown_organization",
                        format!("organization {id} is not a consortium member"),
                    ))
                }
            }
            let rest: Vec<ValidatorRecord> = latest_set(state)?
                .into_iter()
                .filter(|v| v.organization != *id)
                .collect();
            if rest.is_empty() {
                return Err(precondition(
                    "governance.empty_set",
                    "the organization runs every validator; removing it would leave none",
                ));
            }
            Ok(())
        }
        ProposalChange::AdminKey {
            organization: org,
            old,
            new,
        } => {
            if !organization(state, org)?.is_some_and(|o| o.active()) {
                return Err(not_found(
                    "governance.unknown_organization",
                    format!("organization {org} is not a consortium member"),
                ));
            }
            if !account(state, old)?
                .is_some_and(|a| a.organization == *org && a.has_kind(RoleKind::OrgAdmin))
            {
                return Err(not_found(
                    "governance.unknown_admin",
                    format!("the old key is not an admin account of {org}"),
                ));
            }
            if account(state, new)?.is_some_and(|a| a.organization != *org) {
                return Err(already_exists(
                    "governance.account_exists",
                    "the new key is an account of another organization",
                ));
            }
            Ok(())
        }
        ProposalChange::Parameter { key, value, .. } => {
            check_param_key(key)?;
            if !key.starts_with(CONSORTIUM_ONLY_PREFIX) {
                return Ok(());
            }
            match consensus_parameter_range(key) {
                Some((lo, hi)) if (lo..=hi).contains(value) => {
                    if key == PROTOCOL_VERSION {
                        let newest = get_borsh::<(u64, i64)>(
                            state,
                            &[K_PARAM_NEWEST, key.as_bytes()].concat(),
                        )?
                        .map_or(1, |(_, v)| v);
                        if *value < newest {
                            return Err(invalid_argument(
                            "governance.protocol_downgrade",
                            format!("the protocol version never goes down: version {newest} is already scheduled, {value} was proposed"),
                        ));
                        }
                    }
                    Ok(())
                }
                Some((lo, hi)) => Err(invalid_argument(
                    "governance.parameter_out_of_range",
                    format!("{key} must be between {lo} and {hi}; {value} was proposed"),
                )),
                None => Err(invalid_argument(
                    "governance.unknown_consensus_parameter",
                    format!(
                        "{key} is not a consortium parameter; the known ones are {}",
                        CONSENSUS_PARAMETERS
                            .iter()
                            .map(|(k, _, _)| *k)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            }
        }
        ProposalChange::Validator(_) => Ok(()),
    }
}

fn open_proposal(
    x: &mut Exec<'_>,
    signer: &Account,
    change: ProposalChange,
    reason: &str,
    cites: Option<[u8; 32]>,
) -> Result<()> {
    let id: u64 = get_borsh(&*x.state, K_NEXT_PROPOSAL)?.unwrap_or(1);
    put_borsh(x.state, K_NEXT_PROPOSAL.to_vec(), &(id + 1));
    let p = Proposal {
        id,
        change,
        proposed_by: signer.organization.clone(),
        reason: reason.to_string(),
        approvals: Vec::new(),
        decided: false,
        effective_height: None,
        cites,
    };
    put_borsh(x.state, proposal_key(id), &p);
    x.emit(pb::event::Kind::Governance(pb::GovernanceEvent {
        kind: Some(pb::governance_event::Kind::ProposalOpened(p.opened())),
    }));
    approve(x, signer, id)
}

pub(super) fn proposal_key(id: u64) -> Vec<u8> {
    [K_PROPOSAL, &id.to_be_bytes()].concat()
}

pub(super) fn propose(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::ProposeValidatorChange,
) -> Result<()> {
    require_validator_org(&*x.state, signer, x.ctx.height)?;
    check_reason(&c.reason)?;
    let change = c.change.as_ref().ok_or_else(|| {
        invalid_argument("governance.empty_change", "the validator change is missing")
    })?;
    let change = ChangeRecord::from_api(change)?;
    apply_change(&*x.state, &latest_set(&*x.state)?, &change)?;
    let cites = if c.cites_evidence.is_empty() {
        None
    } else {
        let offender = match &change {
            ChangeRecord::Remove(k) => *k,
            ChangeRecord::RotateKey { old, .. } => *old,
            ChangeRecord::Add(_) => {
                return Err(invalid_argument(
                    "governance.evidence_mismatch",
                    "evidence can be cited by a removal or a key rotation only",
                ))
            }
        };
        super::evidence::check_citation(&*x.state, &c.cites_evidence, &offender)?;
        Some(key32("cites_evidence", &c.cites_evidence)?)
    };
    open_proposal(
        x,
        signer,
        ProposalChange::Validator(change),
        &c.reason,
        cites,
    )
}

pub(super) fn propose_member(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::ProposeMemberChange,
) -> Result<()> {
    use pb::member_change::Change;
    require_validator_org(&*x.state, signer, x.ctx.height)?;
    check_reason(&c.reason)?;
    let change = match c.change.as_ref().and_then(|m| m.change.as_ref()) {
        None => {
            return Err(invalid_argument(
                "governance.empty_change",
                "the membership change is missing",
            ))
        }
        Some(Change::Join(j)) => {
            let kind = OrgKind::from_api(j.kind).map_err(|_| {
                invalid_argument(
                    "governance.invalid_kind",
                    "kind must be ORGANIZATION_KIND_MUNICIPALITY, _COMPANY, _NPO or _CITIZEN_GROUP",
                )
            })?;
            let validator = if j.validator_key.is_empty() {
                None
            } else {
                Some(ValidatorRecord {
                    organization: j.organization.clone(),
                    name: j.validator_name.clone(),
                    public_key: key32("validator_key", &j.validator_key)?,
                    power: j.validator_power.max(1),
                })
            };
            let node_key = if j.node_key.is_empty() {
                None
            } else {
                Some(key32("node_key", &j.node_key)?)
            };
            ProposalChange::Join(NewMemberRecord {
                id: j.organization.clone(),
                name: j.name.clone(),
                kind,
                admin_key: key32("admin_key", &j.admin_key)?,
                validator,
                node_key,
            })
        }
        Some(Change::Remove(id)) => ProposalChange::Remove(id.clone()),
        Some(Change::ChangeAdmin(a)) => ProposalChange::AdminKey {
            organization: a.organization.clone(),
            old: key32("old_admin_key", &a.old_admin_key)?,
            new: key32("new_admin_key", &a.new_admin_key)?,
        },
    };
    check_member_change(&*x.state, &change)?;
    open_proposal(x, signer, change, &c.reason, None)
}

pub(super) fn propose_parameter(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::ProposeParameterChange,
) -> Result<()> {
    require_validator_org(&*x.state, signer, x.ctx.height)?;
    check_reason(&c.reason)?;
    let change = ProposalChange::Parameter {
        key: c.key.clone(),
        value: c.value,
        from: c.effective_from_height,
    };
    check_member_change(&*x.state, &change)?;
    open_proposal(x, signer, change, &c.reason, None)
}

pub(super) fn approve(x: &mut Exec<'_>, signer: &Account, id: u64) -> Result<()> {
    let orgs = require_validator_org(&*x.state, signer, x.ctx.height)?;
    let key = proposal_key(id);
    let mut p: Proposal = get_borsh(&*x.state, &key)?.ok_or_else(|| {
        not_found(
            "governance.unknown_proposal",
            format!("there is no proposal {id}"),
        )
    })?;
    if p.decided {
        return Err(precondition(
            "governance.proposal_closed",
            format!("proposal {id} was already approved and carried out"),
        ));
    }
    if p.approvals.contains(&signer.organization) {
        return Err(already_exists(
            "governance.already_approved",
            format!(
                "organization {} already approved proposal {id}",
                signer.organization
            ),
        ));
    }
    p.approvals.push(signer.organization.clone());
    p.approvals.sort();
    let have = p.approvals.iter().filter(|o| orgs.contains(o)).count();
    let need = required_approvals(orgs.len());
    x.emit(pb::event::Kind::Governance(pb::GovernanceEvent {
        kind: Some(pb::governance_event::Kind::ProposalApproved(
            pb::ProposalApproved {
                proposal_id: id,
                organization: signer.organization.clone(),
                approvals: have as u32,
                required: need as u32,
            },
        )),
    }));
    if have >= need {
        p.effective_height = carry_out(x, id, &p.change)?;
        p.decided = true;
    }
    put_borsh(x.state, key, &p);
    Ok(())
}

/// Schedule `new_set` to decide from `VALIDATOR_CHANGE_DELAY` heights on; the first height.
fn schedule_set(x: &mut Exec<'_>, id: u64, new_set: Vec<ValidatorRecord>) -> Result<u64> {
    let mut history = validator_history(&*x.state)?;
    let effective = x.ctx.height + VALIDATOR_CHANGE_DELAY;
    let effective = history
        .sets
        .last()
        .map_or(effective, |(h, _)| effective.max(*h));
    if history.sets.last().is_some_and(|(h, _)| *h == effective) {
        history.sets.pop();
    }
    history.sets.push((effective, new_set.clone()));
    put_borsh(x.state, K_VALSETS.to_vec(), &history);
    x.emit(pb::event::Kind::Governance(pb::GovernanceEvent {
        kind: Some(pb::governance_event::Kind::ValidatorSetScheduled(
            pb::ValidatorSetScheduled {
                proposal_id: id,
                effective_height: effective,
                validators: new_set.iter().map(ValidatorRecord::to_proto).collect(),
            },
        )),
    }));
    Ok(effective)
}

/// Carry out an approved change, re-checked against the state now. Returns the first height
/// of a new validator set, if it changes one.
fn carry_out(x: &mut Exec<'_>, id: u64, change: &ProposalChange) -> Result<Option<u64>> {
    check_member_change(&*x.state, change)?;
    let member = |x: &mut Exec<'_>, organization: &str| {
        x.emit(pb::event::Kind::Governance(pb::GovernanceEvent {
            kind: Some(pb::governance_event::Kind::MemberChanged(
                pb::MemberChanged {
                    proposal_id: id,
                    organization: organization.to_string(),
                    change: change.member_api(),
                },
            )),
        }));
    };
    match change {
        ProposalChange::Validator(c) => {
            let new_set = apply_change(&*x.state, &latest_set(&*x.state)?, c)?;
            schedule_set(x, id, new_set).map(Some)
        }
        ProposalChange::Join(m) => {
            let org = Organization {
                id: m.id.clone(),
                name: m.name.clone(),
                kind: m.kind,
                node_key: m.node_key,
                joined_at_height: x.ctx.height,
                removed_at_height: None,
            };
            put_borsh(x.state, [K_ORG, m.id.as_bytes()].concat(), &org);
            put_borsh(
                x.state,
                account_key(&m.admin_key),
                &Account {
                    key: m.admin_key,
                    organization: m.id.clone(),
                    roles: vec![Role::plain(RoleKind::OrgAdmin)],
                },
            );
            member(x, &m.id);
            match &m.validator {
                Some(v) => {
                    let new_set = apply_change(
                        &*x.state,
                        &latest_set(&*x.state)?,
                        &ChangeRecord::Add(v.clone()),
                    )?;
                    schedule_set(x, id, new_set).map(Some)
                }
                None => Ok(None),
            }
        }
        ProposalChange::Remove(org_id) => {
            let mut org = organization(&*x.state, org_id)?.ok_or_else(|| {
                not_found(
                    "governance.unknown_organization",
                    format!("organization {org_id} is not a consortium member"),
                )
            })?;
            org.removed_at_height = Some(x.ctx.height);
            put_borsh(x.state, [K_ORG, org_id.as_bytes()].concat(), &org);
            member(x, org_id);
            let set = latest_set(&*x.state)?;
            let rest: Vec<ValidatorRecord> = set
                .iter()
                .filter(|v| v.organization != *org_id)
                .cloned()
                .collect();
            if rest.len() == set.len() {
                Ok(None)
            } else {
                schedule_set(x, id, rest).map(Some)
            }
        }
        ProposalChange::AdminKey {
            organization: org,
            old,
            new,
        } => {
            let admin = Role::plain(RoleKind::OrgAdmin);
            if let Some(mut a) = account(&*x.state, old)? {
                a.roles.retain(|r| *r != admin);
                put_borsh(x.state, account_key(old), &a);
            }
            let mut a = account(&*x.state, new)?.unwrap_or(Account {
                key: *new,
                organization: org.clone(),
                roles: Vec::new(),
            });
            if !a.roles.contains(&admin) {
                a.roles.push(admin);
                a.roles.sort();
            }
            put_borsh(x.state, account_key(new), &a);
            member(x, org);
            Ok(None)
        }
        ProposalChange::Parameter { key, value, from } => {
            let next = x.ctx.height + 1;
            let from = (*from).max(next);
            record_parameter(x, key, key, *value, from, "", By::Proposal(id))?;
            Ok(None)
        }
    }
}

impl Proposal {
    /// The `ProposalOpened` view of this proposal.
    pub fn opened(&self) -> pb::ProposalOpened {
        let (change, parameter_change) = match &self.change {
            ProposalChange::Validator(c) => (Some(c.to_api()), None),
            ProposalChange::Parameter { key, value, from } => (
                None,
                Some(pb::ProposeParameterChange {
                    key: key.clone(),
                    value: *value,
                    effective_from_height: *from,
                    reason: self.reason.clone(),
                }),
            ),
            _ => (None, None),
        };
        pb::ProposalOpened {
            proposal_id: self.id,
            change,
            proposed_by: self.proposed_by.clone(),
            reason: self.reason.clone(),
            member_change: self.change.member_api(),
            parameter_change,
            cites_evidence: self.cites.map(|c| c.to_vec()).unwrap_or_default(),
        }
    }
}

impl ProposalChange {
    /// The membership change as the API shows it, if this is one.
    pub fn member_api(&self) -> Option<pb::MemberChange> {
        use pb::member_change::Change;
        let change = match self {
            ProposalChange::Join(m) => Change::Join(pb::NewMember {
                organization: m.id.clone(),
                name: m.name.clone(),
                kind: m.kind.to_api(),
                admin_key: m.admin_key.to_vec(),
                validator_key: m
                    .validator
                    .as_ref()
                    .map(|v| v.public_key.to_vec())
                    .unwrap_or_default(),
                validator_name: m
                    .validator
                    .as_ref()
                    .map(|v| v.name.clone())
                    .unwrap_or_default(),
                validator_power: m.validator.as_ref().map_or(0, |v| v.power),
                node_key: m.node_key.map(|k| k.to_vec()).unwrap_or_default(),
            }),
            ProposalChange::Remove(id) => Change::Remove(id.clone()),
            ProposalChange::AdminKey {
                organization,
                old,
                new,
            } => Change::ChangeAdmin(pb::AdminKeyChange {
                organization: organization.clone(),
                old_admin_key: old.to_vec(),
                new_admin_key: new.to_vec(),
            }),
            ProposalChange::Validator(_) | ProposalChange::Parameter { .. } => return None,
        };
        Some(pb::MemberChange {
            change: Some(change),
        })
    }
}
