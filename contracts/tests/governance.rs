//! Governance rules: roles only by the account's own organization's admins, parameters
//! versioned and never retroactive, validator changes only with more than 2/3 of validator
//! organizations, and failed calls change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use yui_contracts::governance::{
    self, Account, ChainConfig, Genesis, OrgKind, Organization, Role, RoleKind, ValidatorRecord,
};
use yui_contracts::{execute, pb, Context, MemState, StateRead};

fn key(i: u8) -> [u8; 32] {
    [i; 32]
}

/// The organizations of keys 1 and 2.
const ORG1: &str = "hachioji";
const ORG2: &str = "tama";

fn orgs() -> Vec<&'static str> {
    vec!["hachioji", "tama", "hino", "machida"]
}

/// Four municipalities, each with a validator and an admin (key = index + 1); key 50 is a
/// donor of hachioji.
fn genesis() -> Genesis {
    let orgs = orgs();
    Genesis {
        chain: ChainConfig {
            chain_id: "test".into(),
            fault_model: pb::FaultModel::Byzantine as i32,
            max_expiry_blocks: 100,
        },
        organizations: orgs
            .iter()
            .map(|o| Organization::genesis(o, &format!("{o} city"), OrgKind::Municipality))
            .collect(),
        validators: orgs
            .iter()
            .enumerate()
            .map(|(i, o)| ValidatorRecord {
                organization: o.to_string(),
                name: format!("{o}-1"),
                public_key: key(100 + i as u8),
                power: 1,
            })
            .collect(),
        accounts: orgs
            .iter()
            .enumerate()
            .map(|(i, o)| Account {
                key: key(i as u8 + 1),
                organization: o.to_string(),
                roles: vec![
                    Role::plain(RoleKind::OrgAdmin),
                    Role::plain(RoleKind::MunicipalityAdmin),
                ],
            })
            .chain([Account {
                key: key(50),
                organization: "hachioji".into(),
                roles: vec![Role::plain(RoleKind::Donor)],
            }])
            .collect(),
        parameters: vec![("eco.points_per_kg".into(), 10)],
    }
}

fn state() -> MemState {
    let mut s = MemState::default();
    yui_contracts::init_genesis(&mut s, &genesis()).unwrap();
    s
}

fn ctx(signer: [u8; 32], height: u64) -> Context {
    Context {
        chain_id: "test".into(),
        signer,
        height,
        time_ms: 1_700_000_000_000 + height * 1000,
        tx_id: [height as u8; 32],
    }
}

fn gov(c: pb::governance_call::Call) -> pb::tx_body::Call {
    pb::tx_body::Call::Governance(pb::GovernanceCall { call: Some(c) })
}

fn grant(account: [u8; 32], kind: pb::RoleKind, scope: &str) -> pb::tx_body::Call {
    gov(pb::governance_call::Call::GrantRole(pb::GrantRole {
        account: account.to_vec(),
        role: Some(pb::Role {
            kind: kind as i32,
            scope: scope.into(),
        }),
    }))
}

fn revoke(account: [u8; 32], kind: pb::RoleKind) -> pb::tx_body::Call {
    gov(pb::governance_call::Call::RevokeRole(pb::RevokeRole {
        account: account.to_vec(),
        role: Some(pb::Role {
            kind: kind as i32,
            scope: String::new(),
        }),
    }))
}

fn code(r: &yui_contracts::Receipt) -> &str {
    r.result
        .as_ref()
        .err()
        .map(|e| e.code.as_str())
        .unwrap_or("ok")
}

#[test]
fn admin_grants_and_revokes_roles_of_its_own_organization_only() {
    let mut s = state();
    let r = execute(
        &mut s,
        &ctx(key(1), 1),
        &grant(key(60), pb::RoleKind::RoleResident, ""),
    )
    .unwrap();
    assert_eq!(code(&r), "ok");
    assert_eq!(r.events.len(), 1);
    let acct = governance::account(&s, &key(60)).unwrap().unwrap();
    assert_eq!(acct.organization, "hachioji");
    assert!(acct.has(RoleKind::Resident, ""));
    // Tama's admin cannot touch a hachioji account.
    let before = s.clone();
    let r = execute(
        &mut s,
        &ctx(key(2), 2),
        &grant(key(60), pb::RoleKind::RoleDonor, ""),
    )
    .unwrap();
    assert_eq!(code(&r), "governance.other_organization");
    assert_eq!(s, before, "a failed call changed state");
    let r = execute(
        &mut s,
        &ctx(key(2), 2),
        &revoke(key(60), pb::RoleKind::RoleResident),
    )
    .unwrap();
    assert_eq!(code(&r), "governance.other_organization");
    // A donor is not an admin.
    let r = execute(
        &mut s,
        &ctx(key(50), 2),
        &grant(key(61), pb::RoleKind::RoleDonor, ""),
    )
    .unwrap();
    assert_eq!(code(&r), "governance.missing_role");
    // Unknown signer.
    let r = execute(
        &mut s,
        &ctx(key(99), 2),
        &grant(key(61), pb::RoleKind::RoleDonor, ""),
    )
    .unwrap();
    assert_eq!(code(&r), "governance.unknown_signer");
    // Revoke by the right admin.
    let r = execute(
        &mut s,
        &ctx(key(1), 3),
        &revoke(key(60), pb::RoleKind::RoleResident),
    )
    .unwrap();
    assert_eq!(code(&r), "ok");
    assert!(!governance::account(&s, &key(60))
        .unwrap()
        .unwrap()
        .has(RoleKind::Resident, ""));
    let r = execute(
        &mut s,
        &ctx(key(1), 3),
        &revoke(key(60), pb::RoleKind::RoleResident),
    )
    .unwrap();
    assert_eq!(code(&r), "governance.role_not_held");
    // No self-lockout.
    let r = execute(
        &mut s,
        &ctx(key(1), 4),
        &revoke(key(1), pb::RoleKind::RoleOrgAdmin),
    )
    .unwrap();
    assert_eq!(code(&r), "governance.self_lockout");
}

#[test]
fn role_arguments_are_validated() {
    let mut s = state();
    let cases = [
        (
            grant(key(70), pb::RoleKind::RoleShelterOperator, ""),
            "governance.scope_required",
        ),
        (
            grant(key(70), pb::RoleKind::RoleDonor, "shelter-1"),
            "governance.scope_not_allowed",
        ),
        (
            grant(key(70), pb::RoleKind::RoleUnspecified, ""),
            "governance.unknown_role",
        ),
        (
            gov(pb::governance_call::Call::GrantRole(pb::GrantRole {
                account: vec![1, 2, 3],
                role: Some(pb::Role {
                    kind: pb::RoleKind::RoleDonor as i32,
                    scope: String::new(),
                }),
            })),
            "invalid_key",
        ),
        (
            grant(key(70), pb::RoleKind::RoleShelterOperator, "Shelter 1"),
            "invalid_id",
        ),
    ];
    for (call, want) in cases {
        let before = s.clone();
        let r = execute(&mut s, &ctx(key(1), 1), &call).unwrap();
        assert_eq!(code(&r), want);
        assert_eq!(s, before);
    }
    let operator = grant(key(70), pb::RoleKind::RoleShelterOperator, "shelter-1");
    // The shelter must be one of the granting municipality's.
    let r = execute(&mut s, &ctx(key(1), 1), &operator).unwrap();
    assert_eq!(code(&r), "governance.not_own_shelter");
    let register = pb::tx_body::Call::Relief(pb::ReliefCall {
        call: Some(pb::relief_call::Call::RegisterShelter(
            pb::RegisterShelter {
                shelter_id: "shelter-1".into(),
                name: "Gym".into(),
                area: "North".into(),
                contact: Some(pb::PersonRef {
                    vault_id: "pd_1".into(),
                    commitment: vec![1; 32],
                }),
            },
        )),
    });
    let r = execute(&mut s, &ctx(key(1), 1), &register).unwrap();
    assert_eq!(code(&r), "ok");
    let r = execute(&mut s, &ctx(key(1), 1), &operator).unwrap();
    assert_eq!(code(&r), "ok");
    assert!(governance::account(&s, &key(70))
        .unwrap()
        .unwrap()
        .has(RoleKind::ShelterOperator, "shelter-1"));
}

fn set_param(k: &str, v: i64, from: u64) -> pb::tx_body::Call {
    gov(pb::governance_call::Call::SetParameter(pb::SetParameter {
        key: k.into(),
        value: v,
        effective_from_height: from,
    }))
}

#[test]
fn parameters_are_versioned_and_never_retroactive() {
    let mut s = state();
    assert_eq!(
        governance::org_parameter_at(&s, ORG1, "eco.points_per_kg", 1).unwrap(),
        Some(10)
    );
    let r = execute(
        &mut s,
        &ctx(key(1), 5),
        &set_param("eco.points_per_kg", 12, 20),
    )
    .unwrap();
    assert_eq!(code(&r), "ok");
    let r = execute(
        &mut s,
        &ctx(key(1), 6),
        &set_param("eco.points_per_kg", 15, 0),
    )
    .unwrap();
    assert_eq!(code(&r), "ok");
    assert_eq!(
        governance::org_parameter_at(&s, ORG1, "eco.points_per_kg", 6).unwrap(),
        Some(10)
    );
    assert_eq!(
        governance::org_parameter_at(&s, ORG1, "eco.points_per_kg", 7).unwrap(),
        Some(15)
    );
    assert_eq!(
        governance::org_parameter_at(&s, ORG1, "eco.points_per_kg", 19).unwrap(),
        Some(15)
    );
    assert_eq!(
        governance::org_parameter_at(&s, ORG1, "eco.points_per_kg", 20).unwrap(),
        Some(12)
    );
    assert_eq!(
        governance::org_parameter_at(&s, ORG1, "eco.points_per_kg", 1_000).unwrap(),
        Some(12)
    );
    assert_eq!(
        governance::parameter_at(&s, "eco.unknown", 1_000).unwrap(),
        None
    );
    // Those were key 1's organization's own versions: the consortium-wide value and every
    // other organization's stay as they were.
    assert_eq!(
        governance::parameter_at(&s, "eco.points_per_kg", 1_000).unwrap(),
        Some(10)
    );
    assert_eq!(
        governance::org_parameter_at(&s, ORG2, "eco.points_per_kg", 1_000).unwrap(),
        Some(10)
    );
    let r = execute(
        &mut s,
        &ctx(key(1), 30),
        &set_param("eco.points_per_kg", 1, 10),
    )
    .unwrap();
    assert_eq!(code(&r), "governance.retroactive_parameter");
    let r = execute(&mut s, &ctx(key(1), 30), &set_param("Bad Key", 1, 0)).unwrap();
    assert_eq!(code(&r), "invalid_id");
    let r = execute(
        &mut s,
        &ctx(key(50), 30),
        &set_param("eco.points_per_kg", 1, 0),
    )
    .unwrap();
    assert_eq!(code(&r), "governance.missing_role");
}

fn propose_add(k: [u8; 32], org: &str) -> pb::tx_body::Call {
    gov(pb::governance_call::Call::ProposeValidatorChange(
        pb::ProposeValidatorChange {
            change: Some(pb::ValidatorChange {
                change: Some(pb::validator_change::Change::Add(pb::Validator {
                    organization: org.into(),
                    name: "extra-1".into(),
                    public_key: k.to_vec(),
                    power: 1,
                })),
            }),
            reason: "a fifth node for redundancy".into(),
            cites_evidence: Vec::new(),
        },
    ))
}

fn approve(id: u64) -> pb::tx_body::Call {
    gov(pb::governance_call::Call::ApproveProposal(
        pb::ApproveProposal { proposal_id: id },
    ))
}

#[test]
fn validator_change_needs_more_than_two_thirds_of_validator_organizations() {
    let mut s = state();
    assert_eq!(governance::required_approvals(4), 3);
    assert_eq!(governance::required_approvals(3), 3);
    let r = execute(&mut s, &ctx(key(1), 10), &propose_add(key(120), "hachioji")).unwrap();
    assert_eq!(code(&r), "ok");
    let r = execute(&mut s, &ctx(key(2), 11), &approve(1)).unwrap();
    assert_eq!(code(&r), "ok");
    // Two of four: not yet.
    assert_eq!(governance::validator_history(&s).unwrap().sets.len(), 1);
    let r = execute(&mut s, &ctx(key(2), 11), &approve(1)).unwrap();
    assert_eq!(code(&r), "governance.already_approved");
    let r = execute(&mut s, &ctx(key(50), 11), &approve(1)).unwrap();
    assert_eq!(code(&r), "governance.missing_role");
    let r = execute(&mut s, &ctx(key(3), 12), &approve(1)).unwrap();
    assert_eq!(code(&r), "ok");
    // Three of four: scheduled VALIDATOR_CHANGE_DELAY blocks later.
    let eff = 12 + governance::VALIDATOR_CHANGE_DELAY;
    assert_eq!(governance::validators_at(&s, eff - 1).unwrap().1.len(), 4);
    assert_eq!(governance::validators_at(&s, eff).unwrap().1.len(), 5);
    assert_eq!(governance::validators_at(&s, eff).unwrap().0, eff);
    let r = execute(&mut s, &ctx(key(4), 13), &approve(1)).unwrap();
    assert_eq!(code(&r), "governance.proposal_closed");
    // A duplicate key or an unknown organization is refused at proposal time.
    let r = execute(&mut s, &ctx(key(1), 20), &propose_add(key(120), "hachioji")).unwrap();
    assert_eq!(code(&r), "governance.validator_exists");
    let r = execute(&mut s, &ctx(key(1), 20), &propose_add(key(121), "nowhere")).unwrap();
    assert_eq!(code(&r), "governance.unknown_organization");
}

#[derive(Debug, Clone)]
enum Op {
    Grant(u8, u8, u8),
    Revoke(u8, u8, u8),
    Param(u8, i64, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..6, 40u8..48, 1u8..9).prop_map(|(s, a, r)| Op::Grant(s, a, r)),
        (0u8..6, 40u8..48, 1u8..9).prop_map(|(s, a, r)| Op::Revoke(s, a, r)),
        (0u8..6, -5i64..5, 0u8..4).prop_map(|(s, v, f)| Op::Param(s, v, f)),
    ]
}

proptest! {
    /// Over random call sequences: every account stays in the organization of the admin who
    /// first granted it a role, a rejected call never changes state, and no account ever
    /// holds a role granted by an admin of another organization.
    #[test]
    fn random_governance_sequences_keep_the_rules(ops in proptest::collection::vec(op(), 1..60)) {
        let mut s = state();
        let signers = [key(1), key(2), key(3), key(4), key(50), key(99)];
        let mut owner: std::collections::BTreeMap<u8, String> = Default::default();
        for (h, op) in ops.into_iter().enumerate() {
            let h = h as u64 + 1;
            let (signer, call) = match &op {
                Op::Grant(si, a, r) => (signers[*si as usize], grant(key(*a), pb::RoleKind::try_from(*r as i32).unwrap(), if *r == 3 { "shelter-1" } else { "" })),
                Op::Revoke(si, a, r) => (signers[*si as usize], revoke(key(*a), pb::RoleKind::try_from(*r as i32).unwrap())),
                Op::Param(si, v, f) => (signers[*si as usize], set_param("p.x", *v, if *f == 0 { 0 } else { h + *f as u64 })),
            };
            let before = s.clone();
            let r = execute(&mut s, &ctx(signer, h), &call).unwrap();
            if r.result.is_err() {
                prop_assert_eq!(&s, &before);
                prop_assert!(r.events.is_empty());
                continue;
            }
            prop_assert!(!r.events.is_empty(), "every change emits an event");
            let signer_org = governance::account(&s, &signer).unwrap().unwrap().organization;
            if let Op::Grant(_, a, _) | Op::Revoke(_, a, _) = op {
                let acct = governance::account(&s, &key(a)).unwrap().unwrap();
                let first = owner.entry(a).or_insert_with(|| signer_org.clone());
                prop_assert_eq!(&acct.organization, first);
                prop_assert_eq!(&acct.organization, &signer_org);
            }
        }
        // Every stored account decodes and has sorted, unique roles.
        let accounts = s.scan(b"gov/acct/", None, 1000).unwrap();
        for (_, v) in accounts {
            let a: Account = borsh::from_slice(&v).unwrap();
            let mut sorted = a.roles.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(sorted, a.roles);
        }
    }
}

#[test]
fn call_encoding_round_trips() {
    use prost::Message;
    let call = grant(key(7), pb::RoleKind::RoleShelterOperator, "shelter-9");
    let body = pb::TxBody {
        chain_id: "c".into(),
        signer: key(1).to_vec(),
        expires_at_height: 9,
        nonce: vec![3; 16],
        call: Some(call),
    };
    let bytes = body.encode_to_vec();
    assert_eq!(pb::TxBody::decode(bytes.as_slice()).unwrap(), body);
    let rec = ValidatorRecord {
        organization: "a".into(),
        name: "b".into(),
        public_key: key(5),
        power: 3,
    };
    let enc = borsh::to_vec(&rec).unwrap();
    assert_eq!(borsh::from_slice::<ValidatorRecord>(&enc).unwrap(), rec);
}

fn notify(
    height: u64,
    channel: pb::NotificationChannel,
    hash: &[u8],
    purpose: &str,
) -> pb::tx_body::Call {
    gov(pb::governance_call::Call::RecordNotification(
        pb::RecordNotification {
            event: Some(pb::Cursor { height, index: 2 }),
            channel: channel as i32,
            recipient_hash: hash.to_vec(),
            purpose: purpose.into(),
        },
    ))
}

#[test]
fn an_organization_records_the_notifications_it_sent_and_lists_them() {
    let mut s = state();
    let email = pb::NotificationChannel::Email;
    let (h1, h2) = ([7u8; 32], [9u8; 32]);
    // Key 50 (a donor account of hachioji) records two, key 2 (tama's admin) one.
    for (signer, height, hash, purpose) in [
        (key(50), 3, h1, "relief.pledge_approved"),
        (key(50), 4, h2, "relief.shipment_arrived"),
        (key(2), 4, h1, "volunteer.reminder"),
    ] {
        let r = execute(
            &mut s,
            &ctx(signer, 10),
            &notify(height, email, &hash, purpose),
        );
        assert_eq!(code(&r.unwrap()), "ok");
    }
    let list = |org: &str, hash: &[u8], height: u64| {
        governance::notices::list_notifications(
            &s,
            &pb::ListNotificationsRequest {
                organization: org.into(),
                recipient_hash: hash.to_vec(),
                event_height: height,
                page: None,
            },
        )
        .unwrap()
        .notifications
    };
    let all = list(ORG1, &[], 0);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].purpose, "relief.pledge_approved");
    assert_eq!(all[0].recorded_by, key(50).to_vec());
    assert_eq!(all[0].event.unwrap().height, 3);
    assert_eq!(all[0].height, 10);
    assert_eq!(list(ORG1, &h2, 0).len(), 1);
    assert_eq!(list(ORG1, &[], 4).len(), 1);
    // Another organization's record is its own, under the same recipient hash.
    let tama = list(ORG2, &h1, 0);
    assert_eq!(tama.len(), 1);
    assert_eq!(tama[0].organization, ORG2);
    assert!(all
        .iter()
        .all(|n| n.notification_id != tama[0].notification_id));
}

#[test]
fn a_notification_record_is_checked_and_needs_an_organization() {
    let mut s = state();
    let email = pb::NotificationChannel::Email;
    let before = s.clone();
    for (call, expected) in [
        // An event not committed before the block.
        (
            notify(10, email, &[1; 32], "p"),
            "governance.invalid_notification",
        ),
        (
            notify(0, email, &[1; 32], "p"),
            "governance.invalid_notification",
        ),
        // No channel, a hash of the wrong length or all zero, no purpose, a purpose with spaces.
        (
            notify(3, pb::NotificationChannel::Unspecified, &[1; 32], "p"),
            "governance.invalid_notification",
        ),
        (
            notify(3, email, b"alice@example.jp", "p"),
            "governance.invalid_notification",
        ),
        (
            notify(3, email, &[0; 32], "p"),
            "governance.invalid_notification",
        ),
        (
            notify(3, email, &[1; 32], ""),
            "governance.invalid_notification",
        ),
        (notify(3, email, &[1; 32], "sent a mail"), "invalid_id"),
    ] {
        let r = execute(&mut s, &ctx(key(1), 10), &call);
        assert_eq!(code(&r.unwrap()), expected);
    }
    assert_eq!(s, before, "a refused record changes nothing");
    // A donor that registered itself belongs to no organization and has nothing to record.
    let r = execute(
        &mut s,
        &ctx(key(70), 10),
        &gov(pb::governance_call::Call::RegisterDonor(
            pb::RegisterDonor {},
        )),
    );
    assert_eq!(code(&r.unwrap()), "ok");
    let r = execute(&mut s, &ctx(key(70), 11), &notify(3, email, &[1; 32], "p"));
    assert_eq!(code(&r.unwrap()), "governance.no_organization");
    // An unknown key is not an account.
    let r = execute(&mut s, &ctx(key(71), 11), &notify(3, email, &[1; 32], "p"));
    assert_ne!(code(&r.unwrap()), "ok");
}
