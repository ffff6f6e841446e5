//! In-memory tests of the volunteer contract: the full flow from registration to points,
//! the rules that must reject, and property tests of the point rules.

// Test helpers outside `#[test]` functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
use proptest::prelude::*;
use yui_contracts::governance::{
    Account, ChainConfig, Genesis, OrgKind, Organization, Role, RoleKind, ValidatorRecord,
};
use yui_contracts::pb::{self, tx_body::Call, volunteer_call::Call as V};
use yui_contracts::volunteer::{self, Rules};
use yui_contracts::{Context, MemState, Receipt};

const ADMIN: [u8; 32] = [1; 32];
/// The volunteers' account keys are real ed25519 keys (seeds [2; 32] and [6; 32]): their devices
/// sign the presence challenge at check-in.
const VOL: [u8; 32] = [
    129, 57, 119, 14, 168, 125, 23, 95, 86, 163, 84, 102, 195, 76, 126, 204, 203, 141, 138, 145,
    180, 238, 55, 162, 93, 246, 15, 91, 143, 201, 179, 148,
];
const REQUESTER: [u8; 32] = [3; 32];
const FACILITY: [u8; 32] = [4; 32];
const STORE: [u8; 32] = [5; 32];
const VOL2: [u8; 32] = [
    138, 135, 95, 255, 30, 179, 132, 81, 87, 122, 205, 90, 254, 228, 5, 69, 101, 104, 221, 124,
    137, 224, 144, 134, 58, 5, 87, 188, 122, 244, 159, 23,
];
const T0: u64 = 1_750_000_000_000;

fn acct(key: [u8; 32], roles: &[RoleKind]) -> Account {
    Account {
        key,
        organization: "hachioji".into(),
        roles: roles.iter().map(|r| Role::plain(*r)).collect(),
    }
}

struct Chain {
    state: MemState,
    height: u64,
    time_ms: u64,
}

impl Chain {
    fn new(params: Vec<(String, i64)>) -> Chain {
        let g = Genesis {
            chain: ChainConfig {
                chain_id: "yui-test".into(),
                fault_model: 0,
                max_expiry_blocks: 100,
            },
            organizations: vec![Organization::genesis(
                "hachioji",
                "Hachioji City",
                OrgKind::Municipality,
            )],
            validators: vec![ValidatorRecord {
                organization: "hachioji".into(),
                name: "v1".into(),
                public_key: [9; 32],
                power: 1,
            }],
            accounts: vec![
                acct(ADMIN, &[RoleKind::OrgAdmin, RoleKind::MunicipalityAdmin]),
                acct(VOL, &[RoleKind::Resident]),
                acct(VOL2, &[RoleKind::Resident]),
                acct(REQUESTER, &[RoleKind::Resident]),
                acct(FACILITY, &[RoleKind::Facility]),
                acct(STORE, &[RoleKind::Store]),
            ],
            parameters: params,
        };
        let mut state = MemState::default();
        yui_contracts::init_genesis(&mut state, &g).unwrap();
        Chain {
            state,
            height: 1,
            time_ms: T0,
        }
    }

    fn run(&mut self, signer: [u8; 32], call: V) -> Receipt {
        self.height += 1;
        self.time_ms += 1000;
        let mut tx_id = [0u8; 32];
        tx_id[..8].copy_from_slice(&self.height.to_be_bytes());
        let ctx = Context {
            chain_id: "yui-test".into(),
            signer,
            height: self.height,
            time_ms: self.time_ms,
            tx_id,
        };
        let call = Call::Volunteer(pb::VolunteerCall { call: Some(call) });
        yui_contracts::execute(&mut self.state, &ctx, &call).unwrap()
    }

    fn ok(&mut self, signer: [u8; 32], call: V) -> Vec<pb::volunteer_event::Kind> {
        let r = self.run(signer, call);
        assert!(r.result.is_ok(), "call failed: {:?}", r.result);
        r.events
            .into_iter()
            .filter_map(|e| match e.kind {
                Some(pb::event::Kind::Volunteer(v)) => v.kind,
                _ => None,
            })
            .collect()
    }

    fn err(&mut self, signer: [u8; 32], call: V) -> String {
        let r = self.run(signer, call);
        assert!(r.events.is_empty());
        r.result.expect_err("call should fail").code
    }
}

/// The presence part of a check-in as the activity volunteer's device makes it: a fresh
/// challenge signed with the volunteer's own key (seed [2; 32] for VOL, [6; 32] for VOL2).
fn present(c: &Chain, act: &str) -> pb::CheckIn {
    let Some(a) = yui_contracts::volunteer::activity(&c.state, act).unwrap() else {
        return pb::CheckIn::default();
    };
    let v = yui_contracts::volunteer::volunteer(&c.state, &a.volunteer_id)
        .unwrap()
        .unwrap();
    let seed = if v.account == VOL {
        [2u8; 32]
    } else {
        [6u8; 32]
    };
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    assert_eq!(key.verifying_key().to_bytes(), v.account);
    let challenge = c.height.to_le_bytes().repeat(2);
    let sig =
        ed25519_dalek::Signer::sign(&key, &yui_proto::signed::presence_message(act, &challenge));
    pb::CheckIn {
        challenge,
        presence_signature: sig.to_bytes().to_vec(),
        ..Default::default()
    }
}

fn apply(skills: &[&str]) -> V {
    V::ApplyRegistration(pb::ApplyRegistration {
        skills: skills.iter().map(|s| s.to_string()).collect(),
        person_ref: Some(pb::PersonRef {
            vault_id: "vault-1".into(),
            commitment: vec![7; 32],
        }),
    })
}

/// Registers `who`; returns (volunteer id, certificate id).
fn register(c: &mut Chain, who: [u8; 32], skills: &[&str]) -> (String, String) {
    let ev = c.ok(who, apply(skills));
    let app_id = match &ev[0] {
        pb::volunteer_event::Kind::RegistrationApplied(a) => a.application_id.clone(),
        e => panic!("unexpected {e:?}"),
    };
    let ev = c.ok(
        ADMIN,
        V::ApproveRegistration(pb::ApproveRegistration {
            application_id: app_id,
        }),
    );
    match &ev[0] {
        pb::volunteer_event::Kind::CertificateIssued(ci) => {
            (ci.volunteer_id.clone(), ci.certificate_id.clone())
        }
        e => panic!("unexpected {e:?}"),
    }
}

fn post(c: &mut Chain, who: [u8; 32], slots: u32) -> String {
    let ev = c.ok(
        who,
        V::PostOpportunity(pb::PostOpportunity {
            title: "change a light bulb".into(),
            description: "ceiling light in the hallway".into(),
            skills: vec!["diy".into()],
            starts_at_ms: T0,
            ends_at_ms: T0 + 3_600_000,
            slots,
        }),
    );
    match &ev[0] {
        pb::volunteer_event::Kind::OpportunityPosted(o) => {
            o.opportunity.as_ref().unwrap().opportunity_id.clone()
        }
        e => panic!("unexpected {e:?}"),
    }
}

fn act_id(ev: &[pb::volunteer_event::Kind]) -> String {
    match ev.last() {
        Some(pb::volunteer_event::Kind::ActivityUpdated(a)) => {
            a.activity.as_ref().unwrap().activity_id.clone()
        }
        e => panic!("unexpected {e:?}"),
    }
}

/// Applies to `opp`, gets accepted by `poster`; returns the activity id.
fn matched(c: &mut Chain, vol: [u8; 32], poster: [u8; 32], opp: &str) -> String {
    let a = act_id(&c.ok(
        vol,
        V::ApplyToOpportunity(pb::ApplyToOpportunity {
            opportunity_id: opp.into(),
        }),
    ));
    c.ok(
        poster,
        V::AcceptApplication(pb::AcceptApplication {
            activity_id: a.clone(),
        }),
    );
    a
}

/// Checks in, waits `minutes`, checks out, reports, approves; returns points granted.
fn work(c: &mut Chain, poster: [u8; 32], act: &str, cert: &str, minutes: u64) -> u64 {
    c.ok(
        poster,
        V::CheckIn(pb::CheckIn {
            activity_id: act.into(),
            certificate_id: cert.into(),
            ..present(c, act)
        }),
    );
    c.time_ms += minutes * 60_000;
    c.ok(
        poster,
        V::CheckOut(pb::CheckOut {
            activity_id: act.into(),
        }),
    );
    c.ok(
        poster,
        V::ReportActivity(pb::ReportActivity {
            activity_id: act.into(),
            minutes: 0,
            summary: "done".into(),
        }),
    );
    let ev = c.ok(
        ADMIN,
        V::ApproveActivity(pb::ApproveActivity {
            activity_id: act.into(),
        }),
    );
    ev.iter()
        .find_map(|e| match e {
            pb::volunteer_event::Kind::ContributionGranted(g) => Some(g.points),
            _ => None,
        })
        .unwrap()
}

#[test]
fn full_flow_from_registration_to_points() {
    let mut c = Chain::new(vec![]);
    let (vid, cert) = register(&mut c, VOL, &["diy", "carrying"]);
    assert!(vid.starts_with("vol-") && cert.starts_with("cert-"));
    let rec = volunteer::certificate_record(&c.state, &cert)
        .unwrap()
        .unwrap();
    assert_eq!(rec.volunteer_id, vid);
    assert_eq!(rec.account, VOL);
    assert!(rec.revoked_at_ms.is_none());

    // A requester's post waits for approval and cannot be applied to.
    let opp = post(&mut c, REQUESTER, 1);
    let o = volunteer::opportunity(&c.state, &opp).unwrap().unwrap();
    assert_eq!(o.status, volunteer::OpportunityStatus::PendingApproval);
    let pend = volunteer::pending_approvals(&c.state, &Default::default()).unwrap();
    assert!(pend.items.iter().any(|p| p.id == opp));
    assert_eq!(
        c.err(
            VOL,
            V::ApplyToOpportunity(pb::ApplyToOpportunity {
                opportunity_id: opp.clone()
            })
        ),
        "volunteer.not_open"
    );
    c.ok(
        ADMIN,
        V::ApproveOpportunity(pb::ApproveOpportunity {
            opportunity_id: opp.clone(),
        }),
    );

    let act = matched(&mut c, VOL, REQUESTER, &opp);
    // 90 minutes at the default 100 points/hour = 150 points.
    let pts = work(&mut c, REQUESTER, &act, &cert, 90);
    assert_eq!(pts, 150);

    let h = volunteer::volunteer_history(
        &c.state,
        &pb::GetVolunteerHistoryRequest {
            volunteer_id: vid.clone(),
            page: None,
        },
    )
    .unwrap();
    assert_eq!(h.activities.len(), 1);
    assert_eq!(
        h.activities[0].status,
        pb::ActivityStatus::ActivityApproved as i32
    );
    assert_eq!(h.activities[0].minutes, 90);
    assert_eq!(h.volunteer.as_ref().unwrap().total_points_granted, 150);
    // The points are on the shared ledger, issued by the approving municipality.
    let bal = yui_contracts::points::balance(
        &c.state,
        &VOL,
        yui_contracts::points::PointType::Contribution,
        "hachioji",
        c.time_ms,
    )
    .unwrap();
    assert_eq!(bal.spendable, 150);
    assert!(bal.next_expiry_ms > c.time_ms);
    let pend = volunteer::pending_approvals(&c.state, &Default::default()).unwrap();
    assert!(pend.items.is_empty(), "{:?}", pend.items);

    // Search by skill and history finds the volunteer; other skills do not.
    let s = volunteer::search_volunteers(
        &c.state,
        &pb::SearchVolunteersRequest {
            skill: "diy".into(),
            min_completed_activities: 1,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(s.volunteers.len(), 1);
    let s = volunteer::search_volunteers(
        &c.state,
        &pb::SearchVolunteersRequest {
            skill: "cooking".into(),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(s.volunteers.is_empty());
}

#[test]
fn find_a_volunteer_needs_relay_and_acceptance() {
    let mut c = Chain::new(vec![]);
    let (vid, cert) = register(&mut c, VOL, &["diy"]);
    let opp = post(&mut c, FACILITY, 2);
    let act = act_id(&c.ok(
        FACILITY,
        V::RequestVolunteer(pb::RequestVolunteer {
            opportunity_id: opp.clone(),
            volunteer_id: vid.clone(),
        }),
    ));
    // The volunteer cannot accept before the municipality relays.
    assert_eq!(
        c.err(
            VOL,
            V::AcceptRequest(pb::AcceptRequest {
                activity_id: act.clone()
            })
        ),
        "volunteer.wrong_status"
    );
    // Only the municipality relays.
    assert_eq!(
        c.err(
            FACILITY,
            V::RelayRequest(pb::RelayRequest {
                activity_id: act.clone()
            })
        ),
        "governance.missing_role"
    );
    c.ok(
        ADMIN,
        V::RelayRequest(pb::RelayRequest {
            activity_id: act.clone(),
        }),
    );
    // Another volunteer cannot accept someone else's request.
    register(&mut c, VOL2, &[]);
    assert_eq!(
        c.err(
            VOL2,
            V::AcceptRequest(pb::AcceptRequest {
                activity_id: act.clone()
            })
        ),
        "volunteer.not_requested"
    );
    c.ok(
        VOL,
        V::AcceptRequest(pb::AcceptRequest {
            activity_id: act.clone(),
        }),
    );
    assert_eq!(work(&mut c, FACILITY, &act, &cert, 60), 100);
}

#[test]
fn check_in_requires_valid_own_certificate_and_no_checkout_without_checkin() {
    let mut c = Chain::new(vec![]);
    let (vid, cert) = register(&mut c, VOL, &[]);
    let (_, cert2) = register(&mut c, VOL2, &[]);
    let opp = post(&mut c, FACILITY, 1);
    let act = matched(&mut c, VOL, FACILITY, &opp);
    assert_eq!(
        c.err(
            FACILITY,
            V::CheckOut(pb::CheckOut {
                activity_id: act.clone()
            })
        ),
        "volunteer.wrong_status"
    );
    assert_eq!(
        c.err(
            FACILITY,
            V::ReportActivity(pb::ReportActivity {
                activity_id: act.clone(),
                minutes: 0,
                summary: String::new()
            })
        ),
        "volunteer.wrong_status"
    );
    assert_eq!(
        c.err(
            FACILITY,
            V::CheckIn(pb::CheckIn {
                activity_id: act.clone(),
                certificate_id: cert2,
                ..present(&c, &act)
            })
        ),
        "volunteer.certificate_mismatch"
    );
    assert_eq!(
        c.err(
            FACILITY,
            V::CheckIn(pb::CheckIn {
                activity_id: act.clone(),
                certificate_id: "cert-nope".into(),
                ..present(&c, &act)
            })
        ),
        "volunteer.unknown_certificate"
    );
    // Only the poster checks in.
    assert_eq!(
        c.err(
            REQUESTER,
            V::CheckIn(pb::CheckIn {
                activity_id: act.clone(),
                certificate_id: cert.clone(),
                ..present(&c, &act)
            })
        ),
        "volunteer.not_poster"
    );
    c.ok(
        ADMIN,
        V::RevokeRegistration(pb::RevokeRegistration {
            volunteer_id: vid,
            reason: "moved away".into(),
        }),
    );
    assert_eq!(
        c.err(
            FACILITY,
            V::CheckIn(pb::CheckIn {
                activity_id: act.clone(),
                certificate_id: cert.clone(),
                ..present(&c, &act)
            })
        ),
        "volunteer.certificate_revoked"
    );
    let v = volunteer::verify_certificate(
        &c.state,
        &pb::VerifyCertificateRequest {
            certificate_id: cert,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!v.valid);
    assert!(v.certificate.unwrap().revoked);
}

#[test]
fn no_points_without_approval_and_rejection_grants_none() {
    let mut c = Chain::new(vec![]);
    let (vid, cert) = register(&mut c, VOL, &[]);
    let opp = post(&mut c, FACILITY, 1);
    let act = matched(&mut c, VOL, FACILITY, &opp);
    c.ok(
        FACILITY,
        V::CheckIn(pb::CheckIn {
            activity_id: act.clone(),
            certificate_id: cert,
            ..present(&c, &act)
        }),
    );
    c.time_ms += 3_600_000;
    c.ok(
        FACILITY,
        V::CheckOut(pb::CheckOut {
            activity_id: act.clone(),
        }),
    );
    // Reporting more than the checked-in time is refused.
    assert_eq!(
        c.err(
            FACILITY,
            V::ReportActivity(pb::ReportActivity {
                activity_id: act.clone(),
                minutes: 61,
                summary: String::new()
            })
        ),
        "volunteer.minutes_exceed_checked_time"
    );
    c.ok(
        FACILITY,
        V::ReportActivity(pb::ReportActivity {
            activity_id: act.clone(),
            minutes: 30,
            summary: String::new(),
        }),
    );
    // The facility cannot approve its own report.
    assert_eq!(
        c.err(
            FACILITY,
            V::ApproveActivity(pb::ApproveActivity {
                activity_id: act.clone()
            })
        ),
        "governance.missing_role"
    );
    c.ok(
        ADMIN,
        V::RejectActivity(pb::RejectActivity {
            activity_id: act.clone(),
            reason: "duplicate".into(),
        }),
    );
    assert_eq!(
        c.err(
            ADMIN,
            V::ApproveActivity(pb::ApproveActivity {
                activity_id: act.clone()
            })
        ),
        "volunteer.wrong_status"
    );
    let v = volunteer::volunteer(&c.state, &vid).unwrap().unwrap();
    assert_eq!(v.total_points_granted, 0);
    assert_eq!(v.completed_activities, 0);
}

#[test]
fn registration_rules() {
    let mut c = Chain::new(vec![]);
    // Only residents apply.
    assert_eq!(c.err(FACILITY, apply(&[])), "governance.missing_role");
    // Skill tags are ids, not free text.
    assert_eq!(c.err(VOL, apply(&["Taro Yamada"])), "invalid_id");
    c.ok(VOL, apply(&[]));
    assert_eq!(c.err(VOL, apply(&[])), "volunteer.application_pending");
    let bad = V::ApplyRegistration(pb::ApplyRegistration {
        skills: vec![],
        person_ref: Some(pb::PersonRef {
            vault_id: "v".into(),
            commitment: vec![1; 31],
        }),
    });
    assert_eq!(c.err(VOL2, bad), "invalid_key");
    // A store cannot approve; a non-volunteer cannot apply to opportunities.
    let opp = post(&mut c, FACILITY, 1);
    assert_eq!(
        c.err(
            VOL2,
            V::ApplyToOpportunity(pb::ApplyToOpportunity {
                opportunity_id: opp
            })
        ),
        "volunteer.not_volunteer"
    );
}

#[test]
fn slots_limit_matches() {
    let mut c = Chain::new(vec![]);
    register(&mut c, VOL, &[]);
    register(&mut c, VOL2, &[]);
    let opp = post(&mut c, FACILITY, 1);
    matched(&mut c, VOL, FACILITY, &opp);
    let a2 = act_id(&c.ok(
        VOL2,
        V::ApplyToOpportunity(pb::ApplyToOpportunity {
            opportunity_id: opp.clone(),
        }),
    ));
    assert_eq!(
        c.err(
            FACILITY,
            V::AcceptApplication(pb::AcceptApplication { activity_id: a2 })
        ),
        "volunteer.no_slots"
    );
    assert_eq!(
        c.err(
            VOL,
            V::ApplyToOpportunity(pb::ApplyToOpportunity {
                opportunity_id: opp
            })
        ),
        "volunteer.already_involved"
    );
}

#[test]
fn daily_max_and_parameters_apply() {
    let mut c = Chain::new(vec![
        ("volunteer.points_per_hour".into(), 60),
        ("volunteer.max_points_per_day".into(), 100),
    ]);
    let (_, cert) = register(&mut c, VOL, &[]);
    let opp1 = post(&mut c, FACILITY, 1);
    let opp2 = post(&mut c, FACILITY, 1);
    let a1 = matched(&mut c, VOL, FACILITY, &opp1);
    let a2 = matched(&mut c, VOL, FACILITY, &opp2);
    assert_eq!(work(&mut c, FACILITY, &a1, &cert, 90), 90);
    // Same JST day: only 10 left of the daily 100.
    assert_eq!(work(&mut c, FACILITY, &a2, &cert, 90), 10);
}

#[test]
fn queries_paginate() {
    let mut c = Chain::new(vec![]);
    for _ in 0..5 {
        post(&mut c, FACILITY, 1);
    }
    let mut token = String::new();
    let mut seen = Vec::new();
    loop {
        let r = volunteer::list_opportunities(
            &c.state,
            &pb::ListOpportunitiesRequest {
                status: pb::OpportunityStatus::OpportunityOpen as i32,
                page: Some(pb::PageRequest {
                    page_token: token.clone(),
                    page_size: 2,
                }),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(r.opportunities.len() <= 2);
        seen.extend(r.opportunities.into_iter().map(|o| o.opportunity_id));
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    let mut dedup = seen.clone();
    dedup.dedup();
    assert_eq!(seen.len(), 5);
    assert_eq!(dedup.len(), 5);
}

#[test]
fn certificate_event_round_trips() {
    let mut c = Chain::new(vec![]);
    let r = c.run(VOL, apply(&["diy"]));
    let app = match &r.events[0].kind {
        Some(pb::event::Kind::Volunteer(pb::VolunteerEvent {
            kind: Some(pb::volunteer_event::Kind::RegistrationApplied(a)),
        })) => a.application_id.clone(),
        _ => panic!(),
    };
    let r = c.run(
        ADMIN,
        V::ApproveRegistration(pb::ApproveRegistration {
            application_id: app,
        }),
    );
    let bytes = prost::Message::encode_to_vec(&r.events[0]);
    let ci = volunteer::decode_certificate_event(&bytes).unwrap();
    let rec = volunteer::certificate_record(&c.state, &ci.certificate_id)
        .unwrap()
        .unwrap();
    assert_eq!(ci.volunteer_id, rec.volunteer_id);
    assert_eq!(ci.person_commitment, vec![7; 32]);
    assert!(volunteer::decode_certificate_event(b"garbage").is_none());
}

#[test]
fn fiscal_year_and_day_boundaries() {
    // 2025-03-31T15:00:00Z is 2025-04-01 00:00 JST: FY2025 starts.
    let fy_start = 1_743_433_200_000u64;
    assert_eq!(yui_contracts::calendar::fiscal_year(fy_start), 2025);
    assert_eq!(yui_contracts::calendar::fiscal_year(fy_start - 1), 2024);
    assert_eq!(
        yui_contracts::calendar::jst_day(fy_start),
        yui_contracts::calendar::jst_day(fy_start - 1) + 1
    );
}

proptest! {
    /// Caps are never exceeded and grants never exceed the rate.
    #[test]
    fn points_respect_caps(
        rate in 0u64..10_000, day in 0u64..5_000, year in 0u64..50_000,
        minutes in 0u64..2_000, today in 0u64..6_000, this_year in 0u64..60_000,
    ) {
        let r = Rules { points_per_hour: rate, max_points_per_day: day, annual_cap_points: year, expiry_days: 730, min_redeem_points: 1 };
        let (p, raw) = volunteer::points_for(&r, minutes, today, this_year);
        prop_assert!(p <= raw);
        prop_assert_eq!(raw, minutes * rate / 60);
        prop_assert!(p == 0 || today + p <= day);
        prop_assert!(p == 0 || this_year + p <= year);
    }

    /// Over any sequence of activities in one day, the granted total equals the sum of grants,
    /// never exceeds the daily maximum, and what the contract records per volunteer matches.
    #[test]
    fn granted_points_conserved_and_capped(minutes in proptest::collection::vec(1u64..300, 1..5)) {
        let mut c = Chain::new(vec![("volunteer.max_points_per_day".into(), 400)]);
        let (vid, cert) = register(&mut c, VOL, &[]);
        let mut sum = 0u64;
        for m in &minutes {
            let opp = post(&mut c, FACILITY, 1);
            let a = matched(&mut c, VOL, FACILITY, &opp);
            sum += work(&mut c, FACILITY, &a, &cert, *m);
        }
        let v = volunteer::volunteer(&c.state, &vid).unwrap().unwrap();
        prop_assert_eq!(v.total_points_granted, sum);
        prop_assert!(sum <= 400);
        // Conserved: what the contract granted is exactly what the points ledger holds.
        let held = yui_contracts::points::balance(
            &c.state,
            &VOL,
            yui_contracts::points::PointType::Contribution,
            "hachioji",
            c.time_ms,
        )
        .unwrap()
        .spendable;
        prop_assert_eq!(held, sum);
        prop_assert_eq!(yui_contracts::points::check_invariant(&c.state).unwrap(), Ok(()));
        // T0 is 00:06 JST and at most 4 x 299 minutes are worked: all in one JST day.
        let (today, this_year) = volunteer::earned(&c.state, &vid, c.time_ms).unwrap();
        prop_assert_eq!(today, sum);
        prop_assert_eq!(this_year, sum);
        let raw: u64 = minutes.iter().map(|m| m * 100 / 60).sum();
        prop_assert_eq!(sum, raw.min(400));
    }

    /// Check-out, report and approval never succeed on an activity that was not checked in.
    #[test]
    fn no_checkout_without_checkin(step in 0usize..3) {
        let mut c = Chain::new(vec![]);
        register(&mut c, VOL, &[]);
        let opp = post(&mut c, FACILITY, 1);
        let a = matched(&mut c, VOL, FACILITY, &opp);
        let call = match step {
            0 => V::CheckOut(pb::CheckOut { activity_id: a.clone() }),
            1 => V::ReportActivity(pb::ReportActivity { activity_id: a.clone(), minutes: 0, summary: String::new() }),
            _ => V::ApproveActivity(pb::ApproveActivity { activity_id: a.clone() }),
        };
        let signer = if step == 2 { ADMIN } else { FACILITY };
        prop_assert_eq!(c.err(signer, call), "volunteer.wrong_status");
        let act = volunteer::activity(&c.state, &a).unwrap().unwrap();
        prop_assert_eq!(act.checked_out_at_ms, 0);
        prop_assert_eq!(act.points, 0);
    }
}

#[test]
fn pending_requester_post_cannot_be_used_and_revoked_volunteer_cannot_apply() {
    let mut c = Chain::new(vec![]);
    let (vid, _) = register(&mut c, VOL, &[]);
    let opp = post(&mut c, REQUESTER, 1);
    assert_eq!(
        c.err(
            REQUESTER,
            V::RequestVolunteer(pb::RequestVolunteer {
                opportunity_id: opp.clone(),
                volunteer_id: vid.clone()
            })
        ),
        "volunteer.not_open"
    );
    c.ok(
        ADMIN,
        V::ApproveOpportunity(pb::ApproveOpportunity {
            opportunity_id: opp.clone(),
        }),
    );
    c.ok(
        ADMIN,
        V::RevokeRegistration(pb::RevokeRegistration {
            volunteer_id: vid,
            reason: String::new(),
        }),
    );
    assert_eq!(
        c.err(
            VOL,
            V::ApplyToOpportunity(pb::ApplyToOpportunity {
                opportunity_id: opp
            })
        ),
        "volunteer.revoked"
    );
    // A revoked account cannot re-apply for registration either.
    assert_eq!(c.err(VOL, apply(&[])), "volunteer.already_registered");
}

#[test]
fn the_announced_expiry_is_the_expiry_of_the_minted_points() {
    let mut c = Chain::new(vec![]);
    let (_, cert) = register(&mut c, VOL, &["diy"]);
    let opp = post(&mut c, FACILITY, 1);
    let act = matched(&mut c, VOL, FACILITY, &opp);
    c.ok(
        FACILITY,
        V::CheckIn(pb::CheckIn {
            activity_id: act.clone(),
            certificate_id: cert.clone(),
            ..present(&c, &act)
        }),
    );
    c.time_ms += 90 * 60_000;
    c.ok(
        FACILITY,
        V::CheckOut(pb::CheckOut {
            activity_id: act.clone(),
        }),
    );
    c.ok(
        FACILITY,
        V::ReportActivity(pb::ReportActivity {
            activity_id: act.clone(),
            minutes: 0,
            summary: "done".into(),
        }),
    );
    let r = c.run(
        ADMIN,
        V::ApproveActivity(pb::ApproveActivity {
            activity_id: act.clone(),
        }),
    );
    assert!(r.result.is_ok(), "{:?}", r.result);
    let mut announced = None;
    let mut minted = None;
    for e in r.events.into_iter().filter_map(|e| e.kind) {
        match e {
            pb::event::Kind::Volunteer(pb::VolunteerEvent {
                kind: Some(pb::volunteer_event::Kind::ContributionGranted(g)),
            }) => announced = Some(g.expires_at_ms),
            pb::event::Kind::Points(pb::PointsEvent {
                kind: Some(pb::points_event::Kind::Minted(m)),
            }) => minted = Some(m.expires_at_ms),
            _ => {}
        }
    }
    let (announced, minted) = (announced.unwrap(), minted.unwrap());
    assert!(minted > 0);
    assert_eq!(announced, minted);
}

#[test]
fn one_person_one_place_a_volunteer_checked_in_cannot_check_in_elsewhere() {
    let mut c = Chain::new(vec![]);
    let (_, cert) = register(&mut c, VOL, &["diy"]);
    let acts: Vec<String> = (0..3)
        .map(|_| {
            let opp = post(&mut c, FACILITY, 1);
            matched(&mut c, VOL, FACILITY, &opp)
        })
        .collect();
    let check_in = |c: &Chain, act: &str| {
        V::CheckIn(pb::CheckIn {
            activity_id: act.into(),
            certificate_id: cert.clone(),
            ..present(c, act)
        })
    };
    c.ok(FACILITY, check_in(&c, &acts[0]));
    // While there, the same certificate opens no other activity.
    for a in &acts[1..] {
        assert_eq!(
            c.err(FACILITY, check_in(&c, a)),
            "volunteer.already_checked_in"
        );
    }
    c.time_ms += 30 * 60_000;
    c.ok(
        FACILITY,
        V::CheckOut(pb::CheckOut {
            activity_id: acts[0].clone(),
        }),
    );
    // Checked out, the volunteer can go on to the next one.
    c.ok(FACILITY, check_in(&c, &acts[1]));
    assert_eq!(
        c.err(FACILITY, check_in(&c, &acts[2])),
        "volunteer.already_checked_in"
    );
}

fn end(act: &str, outcome: pb::ActivityOutcome, reason: &str) -> V {
    V::EndActivity(pb::EndActivity {
        activity_id: act.into(),
        outcome: outcome as i32,
        reason: reason.into(),
    })
}

fn activity_status(c: &Chain, act: &str) -> (i32, String) {
    let h = yui_contracts::volunteer::activity(&c.state, act)
        .unwrap()
        .unwrap();
    (h.to_proto().status, h.end_reason)
}

#[test]
fn withdraw_decline_cancel_and_no_show_free_the_slot_and_are_recorded() {
    use pb::ActivityOutcome as O;
    let mut c = Chain::new(vec![]);
    register(&mut c, VOL, &[]);
    register(&mut c, VOL2, &[]);
    let opp = post(&mut c, FACILITY, 1);
    // A matched volunteer withdraws: the slot is free for the next one.
    let a1 = matched(&mut c, VOL, FACILITY, &opp);
    assert_eq!(
        c.err(VOL2, end(&a1, O::Withdrawn, "")),
        "volunteer.not_party"
    );
    assert_eq!(
        c.err(FACILITY, end(&a1, O::Withdrawn, "")),
        "volunteer.not_party"
    );
    c.ok(VOL, end(&a1, O::Withdrawn, "caught a cold"));
    assert_eq!(
        activity_status(&c, &a1),
        (
            pb::ActivityStatus::ActivityWithdrawn as i32,
            "caught a cold".into()
        )
    );
    assert_eq!(
        c.err(VOL, end(&a1, O::Withdrawn, "")),
        "volunteer.cannot_end"
    );
    let a2 = matched(&mut c, VOL2, FACILITY, &opp);
    // The poster records a no-show (the opportunity started at T0): the slot is free again.
    c.ok(FACILITY, end(&a2, O::NoShow, "did not come"));
    assert_eq!(
        activity_status(&c, &a2).0,
        pb::ActivityStatus::ActivityNoShow as i32
    );
    // No check-in after a no-show, and no points.
    assert_eq!(
        c.err(VOL2, end(&a2, O::Withdrawn, "")),
        "volunteer.cannot_end"
    );
    let o = yui_contracts::volunteer::opportunity(&c.state, &opp)
        .unwrap()
        .unwrap();
    assert_eq!(o.matched, 0);

    // Declines: the poster declines an application; cancelling a matched one frees its slot.
    let opp2 = post(&mut c, FACILITY, 1);
    let a3 = act_id(&c.ok(
        VOL,
        V::ApplyToOpportunity(pb::ApplyToOpportunity {
            opportunity_id: opp2.clone(),
        }),
    ));
    assert_eq!(
        c.err(VOL, end(&a3, O::Declined, "")),
        "volunteer.cannot_end"
    );
    c.ok(
        FACILITY,
        end(&a3, O::Declined, "we need someone with a licence"),
    );
    assert_eq!(
        activity_status(&c, &a3).0,
        pb::ActivityStatus::ActivityDeclined as i32
    );
    let a4 = matched(&mut c, VOL2, FACILITY, &opp2);
    c.ok(FACILITY, end(&a4, O::Cancelled, "the event was called off"));
    assert_eq!(
        activity_status(&c, &a4).0,
        pb::ActivityStatus::ActivityCancelled as i32
    );
    let o = yui_contracts::volunteer::opportunity(&c.state, &opp2)
        .unwrap()
        .unwrap();
    assert_eq!(o.matched, 0);
    assert_eq!(
        c.err(FACILITY, end(&a4, O::NoShow, "")),
        "volunteer.cannot_end"
    );
    assert_eq!(
        c.err(FACILITY, end(&a4, O::Unspecified, "")),
        "volunteer.bad_outcome"
    );
}

#[test]
fn a_no_show_waits_for_the_start_and_a_checked_in_volunteer_cannot_be_ended() {
    use pb::ActivityOutcome as O;
    let mut c = Chain::new(vec![]);
    let (_, cert) = register(&mut c, VOL, &[]);
    let ev = c.ok(
        FACILITY,
        V::PostOpportunity(pb::PostOpportunity {
            title: "reading to residents".into(),
            description: "the library corner".into(),
            skills: vec![],
            starts_at_ms: c.time_ms + 86_400_000,
            ends_at_ms: c.time_ms + 90_000_000,
            slots: 2,
        }),
    );
    let opp = match &ev[0] {
        pb::volunteer_event::Kind::OpportunityPosted(o) => {
            o.opportunity.as_ref().unwrap().opportunity_id.clone()
        }
        e => panic!("unexpected {e:?}"),
    };
    let a = matched(&mut c, VOL, FACILITY, &opp);
    assert_eq!(
        c.err(FACILITY, end(&a, O::NoShow, "")),
        "volunteer.not_started"
    );
    c.ok(
        FACILITY,
        V::CheckIn(pb::CheckIn {
            activity_id: a.clone(),
            certificate_id: cert,
            ..present(&c, &a)
        }),
    );
    assert_eq!(
        c.err(FACILITY, end(&a, O::Cancelled, "")),
        "volunteer.cannot_end"
    );
    assert_eq!(
        c.err(VOL, end(&a, O::Withdrawn, "")),
        "volunteer.cannot_end"
    );
}

#[test]
fn a_copied_certificate_alone_checks_no_one_in() {
    let mut c = Chain::new(vec![]);
    let (_, cert) = register(&mut c, VOL, &[]);
    register(&mut c, VOL2, &[]);
    let opp = post(&mut c, FACILITY, 2);
    let act = matched(&mut c, VOL, FACILITY, &opp);
    let other = matched(&mut c, VOL2, FACILITY, &opp);
    let check_in = |p: pb::CheckIn| {
        V::CheckIn(pb::CheckIn {
            activity_id: act.clone(),
            certificate_id: cert.clone(),
            ..p
        })
    };
    // The certificate id alone, as anyone reads it from the history or a copied QR code.
    assert_eq!(
        c.err(FACILITY, check_in(pb::CheckIn::default())),
        "volunteer.bad_challenge"
    );
    let good = present(&c, &act);
    assert_eq!(
        c.err(
            FACILITY,
            check_in(pb::CheckIn {
                presence_signature: vec![],
                ..good.clone()
            })
        ),
        "volunteer.no_presence"
    );
    // Another volunteer's device signing this challenge, or this volunteer's signature made
    // for another activity, or over another challenge: not presence.
    let by_other = present(&c, &other);
    let forged_key = ed25519_dalek::Signer::sign(
        &ed25519_dalek::SigningKey::from_bytes(&[6; 32]),
        &yui_proto::signed::presence_message(&act, &good.challenge),
    );
    for p in [
        pb::CheckIn {
            presence_signature: forged_key.to_bytes().to_vec(),
            ..good.clone()
        },
        pb::CheckIn {
            challenge: by_other.challenge.clone(),
            presence_signature: by_other.presence_signature.clone(),
            ..Default::default()
        },
        pb::CheckIn {
            challenge: [0xee; 16].to_vec(),
            ..good.clone()
        },
    ] {
        assert_eq!(c.err(FACILITY, check_in(p)), "volunteer.presence_not_shown");
    }
    c.ok(FACILITY, check_in(good));
}

#[test]
fn the_municipality_recruits_itself_and_lists_an_opportunity_s_applicants() {
    let mut c = Chain::new(vec![]);
    register(&mut c, VOL, &[]);
    register(&mut c, VOL2, &[]);
    // Posted by the municipality: open at once, no approval to wait for.
    let opp = post(&mut c, ADMIN, 1);
    let o = yui_contracts::volunteer::opportunity(&c.state, &opp)
        .unwrap()
        .unwrap();
    assert_eq!(
        o.status.to_api(),
        pb::OpportunityStatus::OpportunityOpen as i32
    );
    let a1 = matched(&mut c, VOL, ADMIN, &opp);
    let a2 = act_id(&c.ok(
        VOL2,
        V::ApplyToOpportunity(pb::ApplyToOpportunity {
            opportunity_id: opp.clone(),
        }),
    ));
    let list = |c: &Chain, status: pb::ActivityStatus| {
        yui_contracts::volunteer::list_applicants(
            &c.state,
            &pb::ListApplicantsRequest {
                opportunity_id: opp.clone(),
                status: status as i32,
                page: None,
            },
        )
        .unwrap()
        .activities
        .into_iter()
        .map(|a| a.activity_id)
        .collect::<Vec<_>>()
    };
    let mut all = list(&c, pb::ActivityStatus::Unspecified);
    all.sort();
    let mut want = vec![a1.clone(), a2.clone()];
    want.sort();
    assert_eq!(all, want);
    assert_eq!(list(&c, pb::ActivityStatus::ActivityMatched), vec![a1]);
    assert_eq!(list(&c, pb::ActivityStatus::ActivityApplied), vec![a2]);
    let unknown = yui_contracts::volunteer::list_applicants(
        &c.state,
        &pb::ListApplicantsRequest {
            opportunity_id: "opp-none".into(),
            ..Default::default()
        },
    );
    assert!(unknown.is_err());
}
