//! The consortium: each member's objects are its own, what belongs to all is decided by vote,
//! and donors need no municipality. Two municipalities (Hachioji runs the only validator, so
//! its approval alone carries a vote here; the network test covers > 2/3 of several).

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use yui_contracts::governance::{self, queries, OrgKind, RoleKind};
use yui_contracts::pb::{self, tx_body::Call};
use yui_contracts::{eco, relief, volunteer};

use pb::eco_call::Call as E;
use pb::governance_call::Call as G;
use pb::relief_call::Call as R;
use pb::volunteer_call::Call as V;

/// Hachioji's shelter operator, and an account Machida's admin makes for itself.
const OP_A: [u8; 32] = [20; 32];
const OP_B: [u8; 32] = [21; 32];
const DONOR: [u8; 32] = [22; 32];
const NEW_ADMIN: [u8; 32] = [23; 32];
const NEW_VALIDATOR: [u8; 32] = [24; 32];
const DISASTER: &str = "d-hachioji";
const SHELTER: &str = "s-hachioji";
const PROGRAM: &str = "p-hachioji";
const ITEM: &str = "rice-5kg-hachioji";
const GRID_FY2026: &str = "eco.grid_g_per_mwh.fy2026";

fn gov(c: G) -> Call {
    Call::Governance(pb::GovernanceCall { call: Some(c) })
}
fn rl(c: R) -> Call {
    Call::Relief(pb::ReliefCall { call: Some(c) })
}
fn ec(c: E) -> Call {
    Call::Eco(pb::EcoCall { call: Some(c) })
}
fn vo(c: V) -> Call {
    Call::Volunteer(pb::VolunteerCall { call: Some(c) })
}

fn grant(account: [u8; 32], kind: pb::RoleKind, scope: &str) -> Call {
    gov(G::GrantRole(pb::GrantRole {
        account: account.to_vec(),
        role: Some(pb::Role {
            kind: kind as i32,
            scope: scope.into(),
        }),
    }))
}

fn set_param(key: &str, value: i64) -> Call {
    gov(G::SetParameter(pb::SetParameter {
        key: key.into(),
        value,
        effective_from_height: 0,
    }))
}

fn post_need(shelter: &str) -> Call {
    rl(R::PostNeed(pb::PostNeed {
        disaster_id: DISASTER.into(),
        shelter_id: shelter.into(),
        item_id: "blankets".into(),
        quantity: 10,
        details: String::new(),
        priority: pb::Priority::High as i32,
        needed_by_ms: 0,
    }))
}

fn offer(quantity: u64) -> Call {
    rl(R::PostOffer(pb::PostOffer {
        disaster_id: DISASTER.into(),
        item_id: "food".into(),
        quantity,
        details: String::new(),
        available_until_ms: u64::MAX / 2,
    }))
}

fn join(id: &str, kind: pb::OrganizationKind, validator: Option<[u8; 32]>) -> Call {
    join_with(id, kind, validator, NEW_ADMIN)
}

fn join_with(
    id: &str,
    kind: pb::OrganizationKind,
    validator: Option<[u8; 32]>,
    admin: [u8; 32],
) -> Call {
    gov(G::ProposeMemberChange(pb::ProposeMemberChange {
        change: Some(pb::MemberChange {
            change: Some(pb::member_change::Change::Join(pb::NewMember {
                organization: id.into(),
                name: format!("{id} city"),
                kind: kind as i32,
                admin_key: admin.to_vec(),
                validator_key: validator.map(|k| k.to_vec()).unwrap_or_default(),
                validator_name: if validator.is_some() {
                    format!("{id}-1")
                } else {
                    String::new()
                },
                validator_power: 1,
                node_key: Vec::new(),
            })),
        }),
        reason: "joins the joint consortium".into(),
    }))
}

fn remove(id: &str) -> Call {
    gov(G::ProposeMemberChange(pb::ProposeMemberChange {
        change: Some(pb::MemberChange {
            change: Some(pb::member_change::Change::Remove(id.into())),
        }),
        reason: String::new(),
    }))
}

/// Hachioji owns a disaster, a shelter with its operator, a need, a program with a grid factor,
/// a registered volunteer (RES1) and a requester's opportunity waiting for approval; Machida's
/// admin made OP_B an operator "of Hachioji's shelter" (a role that must mean nothing).
fn setup() -> (Chain, String, String) {
    let mut c = Chain::new(jst_ms(2026, 6, 1), vec![]);
    c.ok(
        ADMIN,
        rl(R::OpenDisaster(pb::OpenDisaster {
            disaster_id: DISASTER.into(),
            name: "Hachioji flood".into(),
        })),
    );
    c.ok(
        ADMIN,
        rl(R::RegisterShelter(pb::RegisterShelter {
            shelter_id: SHELTER.into(),
            name: "Minamino gym".into(),
            area: "Minamino".into(),
            contact: Some(pb::PersonRef {
                vault_id: "pd_contact".into(),
                commitment: vec![1; 32],
            }),
        })),
    );
    c.ok(
        ADMIN,
        grant(OP_A, pb::RoleKind::RoleShelterOperator, SHELTER),
    );
    // Machida cannot make anyone an operator of Hachioji's shelter; its account is a resident.
    assert_eq!(
        c.err(
            ADMIN_B,
            grant(OP_B, pb::RoleKind::RoleShelterOperator, SHELTER)
        ),
        "governance.not_own_shelter"
    );
    c.ok(ADMIN_B, grant(OP_B, pb::RoleKind::RoleResident, ""));
    c.ok(OP_A, post_need(SHELTER));
    c.ok(
        ADMIN,
        rl(R::AddItem(pb::AddCatalogueItem {
            item_id: ITEM.into(),
            category: "food".into(),
            name: "Rice 5 kg".into(),
            unit: "bag".into(),
            attributes: vec![],
        })),
    );
    c.ok(
        ADMIN,
        ec(E::CreateProgram(pb::CreateProgram {
            program_id: PROGRAM.into(),
            name: "Hachioji EV".into(),
            points_per_kg: 10,
            points_expiry_days: 0,
        })),
    );
    c.ok(ADMIN, set_param(GRID_FY2026, 450_000));
    c.ok(
        RES1,
        vo(V::ApplyRegistration(pb::ApplyRegistration {
            skills: vec!["cooking".into()],
            person_ref: Some(pb::PersonRef {
                vault_id: "pd_res1".into(),
                commitment: vec![2; 32],
            }),
        })),
    );
    let app = volunteer::pending_approvals(&c.state, &Default::default())
        .unwrap()
        .items
        .into_iter()
        .next()
        .unwrap()
        .id;
    let ev = c.ok(
        ADMIN,
        vo(V::ApproveRegistration(pb::ApproveRegistration {
            application_id: app,
        })),
    );
    let vol = ev
        .iter()
        .find_map(|e| match e {
            pb::event::Kind::Volunteer(pb::VolunteerEvent {
                kind: Some(pb::volunteer_event::Kind::CertificateIssued(c)),
            }) => Some(c.volunteer_id.clone()),
            _ => None,
        })
        .unwrap();
    let ev = c.ok(
        RES2,
        vo(V::PostOpportunity(pb::PostOpportunity {
            title: "Help moving furniture".into(),
            description: "Two hours on Saturday".into(),
            skills: vec![],
            slots: 1,
            starts_at_ms: jst_ms(2026, 7, 1),
            ends_at_ms: jst_ms(2026, 7, 2),
        })),
    );
    let opp = ev
        .iter()
        .find_map(|e| match e {
            pb::event::Kind::Volunteer(pb::VolunteerEvent {
                kind: Some(pb::volunteer_event::Kind::OpportunityPosted(o)),
            }) => o.opportunity.as_ref().map(|o| o.opportunity_id.clone()),
            _ => None,
        })
        .unwrap();
    (c, vol, opp)
}

#[test]
fn another_municipality_can_touch_none_of_hachiojis_objects() {
    let (mut c, vol, opp) = setup();
    // Machida's accounts hold no shelter-operator role for Hachioji's shelter (it could not
    // grant one), so they cannot act for it.
    assert_eq!(c.err(OP_B, post_need(SHELTER)), "governance.missing_role");
    assert_eq!(
        c.err(
            ADMIN_B,
            rl(R::CloseDisaster(pb::CloseDisaster {
                disaster_id: DISASTER.into()
            }))
        ),
        "relief.not_municipality_admin"
    );
    assert_eq!(
        c.err(OP_B, rl(R::CloseNeed(pb::CloseNeed { need_id: 1 }))),
        "governance.missing_role"
    );
    assert_eq!(
        c.err(
            ADMIN_B,
            ec(E::CreateReport(pb::CreateCreditReport {
                program_id: PROGRAM.into(),
                period_start_ms: 0,
                period_end_ms: jst_ms(2026, 6, 1),
            }))
        ),
        "eco.not_program_admin"
    );
    // Catalogue items: Hachioji's own item is Hachioji's; the basic items are nobody's to change.
    let update = |id: &str| {
        rl(R::UpdateItem(pb::UpdateCatalogueItem {
            item_id: id.into(),
            category: "food".into(),
            name: "Rice 10 kg".into(),
            unit: "bag".into(),
            attributes: vec![],
        }))
    };
    let retire = |id: &str| {
        rl(R::RetireItem(pb::RetireCatalogueItem {
            item_id: id.into(),
        }))
    };
    let before = relief::item(&c.state, ITEM).unwrap().unwrap();
    assert_eq!(before.organization, "hachioji");
    assert_eq!(c.err(ADMIN_B, update(ITEM)), "relief.not_owner");
    assert_eq!(c.err(ADMIN_B, retire(ITEM)), "relief.not_owner");
    assert_eq!(relief::item(&c.state, ITEM).unwrap().unwrap(), before);
    assert_eq!(c.err(ADMIN, update("food")), "relief.consortium_item");
    assert_eq!(c.err(ADMIN_B, retire("food")), "relief.consortium_item");
    c.ok(ADMIN, update(ITEM));
    c.ok(ADMIN, retire(ITEM));
    let after = relief::item(&c.state, ITEM).unwrap().unwrap();
    assert_eq!(after.name, "Rice 10 kg");
    assert!(after.updated_at_height > 0 && after.retired_at_height >= after.updated_at_height);
    // A retired item is named by no new need, and is changed no more.
    let mut need = post_need(SHELTER);
    if let Call::Relief(pb::ReliefCall {
        call: Some(R::PostNeed(n)),
    }) = &mut need
    {
        n.item_id = ITEM.into();
    }
    assert_eq!(c.err(OP_A, need), "relief.item_retired");
    assert_eq!(c.err(ADMIN, update(ITEM)), "relief.item_retired");
    // Machida's admin can only set Machida's own version of a parameter.
    c.ok(ADMIN_B, set_param(GRID_FY2026, 1));
    let h = c.height + 1;
    assert_eq!(
        governance::org_parameter_at(&c.state, "hachioji", GRID_FY2026, h).unwrap(),
        Some(450_000)
    );
    assert_eq!(
        governance::org_parameter_at(&c.state, "machida", GRID_FY2026, h).unwrap(),
        Some(1)
    );
    assert_eq!(
        governance::parameter_at(&c.state, GRID_FY2026, h).unwrap(),
        None
    );
    // Volunteers and opportunities belong to the municipality the resident belongs to.
    let why = vo(V::RevokeRegistration(pb::RevokeRegistration {
        volunteer_id: vol.clone(),
        reason: String::new(),
    }));
    assert_eq!(c.err(ADMIN_B, why.clone()), "volunteer.not_owner");
    assert_eq!(
        c.err(
            ADMIN_B,
            vo(V::ApproveOpportunity(pb::ApproveOpportunity {
                opportunity_id: opp.clone()
            }))
        ),
        "volunteer.not_owner"
    );
    c.ok(
        ADMIN,
        vo(V::ApproveOpportunity(pb::ApproveOpportunity {
            opportunity_id: opp,
        })),
    );
    c.ok(ADMIN, why);
    // Where committed state names the owner, the mempool refuses already at submit, with the
    // same code execution gives.
    let mut item_again = update(ITEM);
    if let Call::Relief(pb::ReliefCall {
        call: Some(R::UpdateItem(u)),
    }) = &mut item_again
    {
        u.item_id = "food".into();
    }
    let cases = [
        (
            rl(R::CloseDisaster(pb::CloseDisaster {
                disaster_id: DISASTER.into(),
            })),
            "relief.not_municipality_admin",
        ),
        (item_again, "relief.consortium_item"),
        (
            ec(E::CreateReport(pb::CreateCreditReport {
                program_id: PROGRAM.into(),
                period_start_ms: 0,
                period_end_ms: jst_ms(2026, 6, 1),
            })),
            "eco.not_program_admin",
        ),
        (
            vo(V::RevokeRegistration(pb::RevokeRegistration {
                volunteer_id: vol.clone(),
                reason: String::new(),
            })),
            "volunteer.not_owner",
        ),
    ];
    for (call, code) in cases {
        assert_eq!(
            c.refused_at_submit(ADMIN_B, &call).as_deref(),
            Some(code),
            "{call:?}"
        );
        if code != "relief.consortium_item" {
            assert_eq!(c.refused_at_submit(ADMIN, &call), None, "{call:?}");
        }
    }
    // A role only a municipality holds cannot be granted by a company, and a company cannot
    // run a validator.
    c.ok(ADMIN, join("acme", pb::OrganizationKind::Company, None));
    assert_eq!(
        c.err(
            NEW_ADMIN,
            grant(NEW_ADMIN, pb::RoleKind::RoleMunicipalityAdmin, "")
        ),
        "governance.not_municipality"
    );
    assert_eq!(
        c.err(
            ADMIN,
            join_with(
                "acme2",
                pb::OrganizationKind::Company,
                Some([30; 32]),
                [34; 32]
            )
        ),
        "governance.not_municipality"
    );
}

#[test]
fn a_member_joins_by_vote_acts_for_itself_and_is_refused_once_removed() {
    let (mut c, _, _) = setup();
    // Only a validator organization proposes.
    assert_eq!(
        c.err(
            ADMIN_B,
            join("tama", pb::OrganizationKind::Municipality, None)
        ),
        "governance.not_validator_org"
    );
    let ev = c.ok(
        ADMIN,
        join(
            "tama",
            pb::OrganizationKind::Municipality,
            Some(NEW_VALIDATOR),
        ),
    );
    let scheduled = ev.iter().find_map(|e| match e {
        pb::event::Kind::Governance(pb::GovernanceEvent {
            kind: Some(pb::governance_event::Kind::ValidatorSetScheduled(s)),
        }) => Some(s.clone()),
        _ => None,
    });
    let s = scheduled.expect("the new member's validator is scheduled");
    assert!(s.validators.iter().any(|v| v.public_key == NEW_VALIDATOR));
    let (_, set) = governance::validators_at(&c.state, s.effective_height).unwrap();
    assert!(set.iter().any(|v| v.organization == "tama"));
    let orgs = queries::list_organizations(&c.state).unwrap();
    let tama = orgs.iter().find(|o| o.id == "tama").unwrap();
    assert_eq!(tama.kind, pb::OrganizationKind::Municipality as i32);
    assert_eq!(tama.admin_keys, vec![NEW_ADMIN.to_vec()]);
    assert_eq!(tama.joined_at_height, c.height);
    // Its admin manages its own accounts, and only them.
    c.ok(
        NEW_ADMIN,
        grant(NEW_ADMIN, pb::RoleKind::RoleMunicipalityAdmin, ""),
    );
    assert_eq!(
        c.err(NEW_ADMIN, grant(RES1, pb::RoleKind::RoleStore, "")),
        "governance.other_organization"
    );
    // Ids are never reused.
    assert_eq!(
        c.err(ADMIN, join("tama", pb::OrganizationKind::Npo, None)),
        "governance.organization_exists"
    );
    // Removed: with its validator in the set, the vote needs it too (2 of 2 > 2/3); then its
    // accounts are refused and its validator leaves the set.
    let changed = |ev: &[pb::event::Kind]| {
        ev.iter().any(|e| {
            matches!(
                e,
                pb::event::Kind::Governance(pb::GovernanceEvent {
                    kind: Some(pb::governance_event::Kind::MemberChanged(_))
                })
            )
        })
    };
    let ev = c.ok(ADMIN, remove("tama"));
    assert!(
        !changed(&ev),
        "one of two validator organizations is not > 2/3"
    );
    let id = ev
        .iter()
        .find_map(|e| match e {
            pb::event::Kind::Governance(pb::GovernanceEvent {
                kind: Some(pb::governance_event::Kind::ProposalOpened(p)),
            }) => Some(p.proposal_id),
            _ => None,
        })
        .unwrap();
    let ev = c.ok(
        NEW_ADMIN,
        gov(G::ApproveProposal(pb::ApproveProposal { proposal_id: id })),
    );
    assert!(changed(&ev));
    assert_eq!(
        c.err(NEW_ADMIN, grant([31; 32], pb::RoleKind::RoleResident, "")),
        "governance.organization_removed"
    );
    assert!(yui_contracts::authorize(
        &c.state,
        &NEW_ADMIN,
        &grant([31; 32], pb::RoleKind::RoleResident, "")
    )
    .unwrap_err()
    .to_string()
    .contains("no longer a consortium member"));
    let (_, set) = governance::validators_at(&c.state, c.height + 10).unwrap();
    assert!(!set.iter().any(|v| v.organization == "tama"));
    // The last validator organization cannot be removed.
    assert_eq!(c.err(ADMIN, remove("hachioji")), "governance.empty_set");
}

#[test]
fn an_admin_key_is_replaced_by_vote() {
    let (mut c, _, _) = setup();
    let change = gov(G::ProposeMemberChange(pb::ProposeMemberChange {
        change: Some(pb::MemberChange {
            change: Some(pb::member_change::Change::ChangeAdmin(pb::AdminKeyChange {
                organization: "machida".into(),
                old_admin_key: ADMIN_B.to_vec(),
                new_admin_key: NEW_ADMIN.to_vec(),
            })),
        }),
        reason: "key lost".into(),
    }));
    c.ok(ADMIN, change);
    let old = governance::account(&c.state, &ADMIN_B).unwrap().unwrap();
    assert!(!old.has_kind(RoleKind::OrgAdmin));
    let new = governance::account(&c.state, &NEW_ADMIN).unwrap().unwrap();
    assert_eq!(new.organization, "machida");
    assert!(new.has_kind(RoleKind::OrgAdmin));
    assert_eq!(
        c.err(ADMIN_B, grant([32; 32], pb::RoleKind::RoleResident, "")),
        "governance.missing_role"
    );
    c.ok(NEW_ADMIN, grant([32; 32], pb::RoleKind::RoleResident, ""));
}

#[test]
fn consortium_wide_parameters_change_only_by_vote() {
    let (mut c, _, _) = setup();
    let propose = |value| {
        gov(G::ProposeParameterChange(pb::ProposeParameterChange {
            key: "eco.min_redeem_points".into(),
            value,
            effective_from_height: 0,
            reason: String::new(),
        }))
    };
    assert_eq!(c.err(ADMIN_B, propose(5)), "governance.not_validator_org");
    c.ok(ADMIN, propose(7));
    let h = c.height + 1;
    assert_eq!(
        governance::parameter_at(&c.state, "eco.min_redeem_points", h).unwrap(),
        Some(7)
    );
    // An organization's own version wins for its own objects only.
    c.ok(ADMIN_B, set_param("eco.min_redeem_points", 50));
    let h = c.height + 1;
    assert_eq!(
        governance::org_parameter_at(&c.state, "machida", "eco.min_redeem_points", h).unwrap(),
        Some(50)
    );
    assert_eq!(
        governance::org_parameter_at(&c.state, "hachioji", "eco.min_redeem_points", h).unwrap(),
        Some(7)
    );
    let v = queries::parameter_versions(&c.state, "eco.min_redeem_points", "machida", h).unwrap();
    assert_eq!(v.versions.len(), 2);
    assert_eq!(v.value, 50);
    let proposals = queries::list_proposals(&c.state).unwrap();
    assert!(proposals
        .iter()
        .any(|p| p.decided && p.opened.as_ref().unwrap().parameter_change.is_some()));
}

#[test]
fn consensus_parameters_are_known_keys_within_their_ranges() {
    let (mut c, _, _) = setup();
    let propose = |key: &str, value| {
        gov(G::ProposeParameterChange(pb::ProposeParameterChange {
            key: key.into(),
            value,
            effective_from_height: 0,
            reason: String::new(),
        }))
    };
    for (key, lo, hi) in governance::CONSENSUS_PARAMETERS {
        for bad in [lo - 1, hi + 1, i64::MIN, i64::MAX] {
            assert_eq!(
                c.err(ADMIN, propose(key, bad)),
                "governance.parameter_out_of_range",
                "{key} = {bad}"
            );
        }
        assert_eq!(
            governance::parameter_at(&c.state, key, u64::MAX).unwrap(),
            None
        );
    }
    assert_eq!(
        c.err(ADMIN, propose("consensus.max_validators", 10)),
        "governance.unknown_consensus_parameter"
    );
    c.ok(ADMIN, propose("consensus.max_expiry_blocks", 20));
    // The protocol version never goes down once a higher one is scheduled.
    c.ok(ADMIN, propose("consensus.protocol_version", 3));
    assert_eq!(
        c.err(ADMIN, propose("consensus.protocol_version", 2)),
        "governance.protocol_downgrade"
    );
    assert_eq!(
        governance::parameter_at(&c.state, "consensus.max_expiry_blocks", c.height + 1).unwrap(),
        Some(20)
    );
}

#[test]
fn a_self_registered_donor_pledges_anywhere_within_its_limit_and_owns_nothing_else() {
    let (mut c, _, _) = setup();
    let register = gov(G::RegisterDonor(pb::RegisterDonor {}));
    assert!(yui_contracts::authorize(&c.state, &DONOR, &register).is_ok());
    c.ok(DONOR, register.clone());
    let a = governance::account(&c.state, &DONOR).unwrap().unwrap();
    assert_eq!(a.organization, "");
    assert!(a.has_kind(RoleKind::Donor));
    assert_eq!(c.err(DONOR, register), "governance.already_registered");
    // It pledges to Hachioji's need; the shelter's go-ahead stays the control point.
    c.ok(
        DONOR,
        rl(R::Pledge(pb::Pledge {
            need_id: 1,
            quantity: 1,
        })),
    );
    assert_eq!(relief::need(&c.state, 1).unwrap().unwrap().committed, 1);
    c.ok(
        OP_A,
        rl(R::Approve(pb::ApproveShipment { commitment_id: 1 })),
    );
    let (token, commitment) = {
        let secret = [5u8; relief::TOKEN_SECRET_LEN];
        (
            relief::token_string(1, &secret),
            relief::token_commitment(1, &secret),
        )
    };
    c.ok(
        DONOR,
        rl(R::Ship(pb::MarkShipped {
            shipment_id: 1,
            token_commitment: commitment.to_vec(),
        })),
    );
    c.ok(
        OP_A,
        rl(R::Receive(pb::ReceiveShipment {
            shipment_id: 1,
            token,
            ..Default::default()
        })),
    );
    assert_eq!(relief::need(&c.state, 1).unwrap().unwrap().fulfilled, 1);
    // It has no organization: no parameters, no volunteer registration, no roles to grant.
    assert_eq!(c.err(DONOR, set_param("x.y", 1)), "governance.missing_role");
    assert_eq!(
        c.err(DONOR, grant([33; 32], pb::RoleKind::RoleDonor, "")),
        "governance.missing_role"
    );
    // Its open pledges and offers are bounded (the received pledge is no longer open).
    for _ in 0..relief::MAX_OPEN_PER_DONOR {
        c.ok(DONOR, offer(1));
    }
    assert_eq!(c.err(DONOR, offer(1)), "relief.donor_limit");
    // A member organization's donor account is not bounded: its organization answers for it.
    let member_donor = [40u8; 32];
    c.ok(ADMIN, grant(member_donor, pb::RoleKind::RoleDonor, ""));
    for _ in 0..=relief::MAX_OPEN_PER_DONOR {
        c.ok(member_donor, offer(1));
    }
}

// ---- property: no call of Machida's accounts changes anything Hachioji owns ---------------

/// What Hachioji owns, as the queries show it.
fn hachioji_view(c: &Chain, vol: &str) -> String {
    let s = &c.state;
    let h = c.height + 1;
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        relief::shelter(s, SHELTER).unwrap(),
        relief::item(s, ITEM).unwrap(),
        relief::disaster(s, DISASTER).unwrap(),
        relief::need(s, 1)
            .unwrap()
            .map(|n| (n.quantity, n.open, n.fulfilled)),
        eco::program(s, PROGRAM).unwrap(),
        governance::org_parameter_at(s, "hachioji", GRID_FY2026, h).unwrap(),
        governance::account(s, &OP_A).unwrap(),
        governance::account(s, &ADMIN).unwrap(),
        volunteer::volunteer(s, vol).unwrap().map(|v| v.revoked),
    )
}

fn machida_call() -> impl Strategy<Value = ([u8; 32], Call)> {
    let signer = prop_oneof![Just(ADMIN_B), Just(RES_B), Just(STORE_B), Just(OP_B)];
    let call = prop_oneof![
        Just(post_need(SHELTER)),
        Just(rl(R::CloseNeed(pb::CloseNeed { need_id: 1 }))),
        Just(rl(R::CloseDisaster(pb::CloseDisaster {
            disaster_id: DISASTER.into()
        }))),
        any::<i64>().prop_map(|v| set_param(GRID_FY2026, v)),
        Just(grant(OP_A, pb::RoleKind::RoleStore, "")),
        Just(gov(G::RevokeRole(pb::RevokeRole {
            account: OP_A.to_vec(),
            role: Some(pb::Role {
                kind: pb::RoleKind::RoleShelterOperator as i32,
                scope: SHELTER.into()
            })
        }))),
        Just(grant(ADMIN, pb::RoleKind::RoleResident, "")),
        Just(ec(E::GrantPoints(pb::GrantEcoPoints {
            participant_id: "nobody".into()
        }))),
        Just(remove("hachioji")),
        Just(rl(R::RetireItem(pb::RetireCatalogueItem {
            item_id: ITEM.into()
        }))),
        Just(rl(R::UpdateItem(pb::UpdateCatalogueItem {
            item_id: ITEM.into(),
            category: "food".into(),
            name: "x".into(),
            unit: "x".into(),
            attributes: vec![],
        }))),
        Just(join("machida2", pb::OrganizationKind::Municipality, None)),
        Just(gov(G::ProposeParameterChange(pb::ProposeParameterChange {
            key: GRID_FY2026.into(),
            value: 1,
            effective_from_height: 0,
            reason: String::new(),
        }))),
    ];
    (signer, call)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random sequences of calls signed by Machida's accounts, aimed at Hachioji's objects,
    /// change nothing Hachioji owns (each call either fails or changes only Machida's things).
    #[test]
    fn no_call_of_another_organization_changes_what_an_organization_owns(
        calls in proptest::collection::vec(machida_call(), 1..12),
        revoke_target in any::<bool>(),
    ) {
        let (mut c, vol, _) = setup();
        let before = hachioji_view(&c, &vol);
        for (signer, call) in calls {
            c.run(signer, call);
            prop_assert_eq!(&hachioji_view(&c, &vol), &before);
        }
        if revoke_target {
            c.run(ADMIN_B, vo(V::RevokeRegistration(pb::RevokeRegistration {
                volunteer_id: vol.clone(),
                reason: String::new(),
            })));
            prop_assert_eq!(&hachioji_view(&c, &vol), &before);
        }
        let _ = OrgKind::Municipality;
    }
}

// ---- equivocation evidence ------------------------------------------------------------------

fn vote(key: &ed25519_dalek::SigningKey, height: u64, block: u8) -> pb::SignedVote {
    let v = yui_consensus::VoteData {
        chain_id: "yui-test".into(),
        vote_type: yui_consensus::VoteType::Precommit,
        height,
        round: 0,
        block_hash: Some(yui_consensus::Hash([block; 32])),
        validator: key.verifying_key().to_bytes(),
    }
    .sign(key);
    governance::evidence::vote_to_api(&v)
}

fn report(first: pb::SignedVote, second: pb::SignedVote) -> Call {
    gov(G::ReportEvidence(pb::ReportEvidence {
        first: Some(first),
        second: Some(second),
    }))
}

#[test]
fn equivocation_evidence_is_checked_recorded_once_and_cited_by_a_removal() {
    let (mut c, _, _) = setup();
    let key = ed25519_dalek::SigningKey::from_bytes(&[77; 32]);
    let validator = key.verifying_key().to_bytes();
    c.ok(
        ADMIN,
        join("tama", pb::OrganizationKind::Municipality, Some(validator)),
    );
    let from = governance::validators_at(&c.state, c.height + 10)
        .unwrap()
        .0;
    while c.height < from + 1 {
        c.ok(ADMIN, set_param("x.filler", c.height as i64));
    }
    // Not a validator at that height, the future, the same block twice, another chain, or a
    // forged signature: refused.
    assert_eq!(
        c.err(
            DONOR,
            report(vote(&key, from - 1, 1), vote(&key, from - 1, 2))
        ),
        "governance.invalid_evidence"
    );
    assert_eq!(
        c.err(
            DONOR,
            report(vote(&key, c.height + 5, 1), vote(&key, c.height + 5, 2))
        ),
        "governance.invalid_evidence"
    );
    assert_eq!(
        c.err(DONOR, report(vote(&key, from, 1), vote(&key, from, 1))),
        "governance.invalid_evidence"
    );
    let mut forged = vote(&key, from, 2);
    forged.signature[0] ^= 1;
    assert_eq!(
        c.err(DONOR, report(vote(&key, from, 1), forged)),
        "governance.invalid_evidence"
    );
    // Real equivocation, reported by a key that is no account: recorded once.
    let ev = c.ok(DONOR, report(vote(&key, from, 1), vote(&key, from, 2)));
    let recorded = ev
        .iter()
        .find_map(|e| match e {
            pb::event::Kind::Governance(pb::GovernanceEvent {
                kind: Some(pb::governance_event::Kind::EvidenceRecorded(r)),
            }) => Some(r.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(recorded.validator, validator.to_vec());
    assert_eq!(recorded.organization, "tama");
    assert_eq!(
        c.err(DONOR, report(vote(&key, from, 3), vote(&key, from, 1))),
        "governance.evidence_recorded"
    );
    assert_eq!(
        queries::list_evidence(&c.state).unwrap(),
        vec![recorded.clone()]
    );
    // A removal cites it; citing it against another validator is refused.
    let remove = |k: [u8; 32]| {
        gov(G::ProposeValidatorChange(pb::ProposeValidatorChange {
            change: Some(pb::ValidatorChange {
                change: Some(pb::validator_change::Change::Remove(k.to_vec())),
            }),
            reason: "equivocated".into(),
            cites_evidence: recorded.evidence_id.clone(),
        }))
    };
    assert_eq!(
        c.err(ADMIN, remove([9; 32])),
        "governance.evidence_mismatch"
    );
    let ev = c.ok(ADMIN, remove(validator));
    let opened = ev
        .iter()
        .find_map(|e| match e {
            pb::event::Kind::Governance(pb::GovernanceEvent {
                kind: Some(pb::governance_event::Kind::ProposalOpened(p)),
            }) => Some(p.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(opened.cites_evidence, recorded.evidence_id);
    c.ok(
        NEW_ADMIN,
        gov(G::ApproveProposal(pb::ApproveProposal {
            proposal_id: opened.proposal_id,
        })),
    );
    let (_, set) = governance::validators_at(&c.state, c.height + 10).unwrap();
    assert!(!set.iter().any(|v| v.public_key == validator));
}
