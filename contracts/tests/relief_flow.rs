//! The relief contract in memory: the study's whole flow, the rules that must reject, expiry,
//! and property tests of the invariants over random call sequences.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use yui_contracts::pb::{self, relief_call::Call as R, tx_body::Call};
use yui_contracts::relief;

const OP: [u8; 32] = [10; 32];
const OP2: [u8; 32] = [13; 32];
const DONOR1: [u8; 32] = [11; 32];
const DONOR2: [u8; 32] = [12; 32];
const DISASTER: &str = "2026-tama-quake";

fn rl(c: R) -> Call {
    Call::Relief(pb::ReliefCall { call: Some(c) })
}

fn grant(account: [u8; 32], kind: pb::RoleKind, scope: &str) -> Call {
    Call::Governance(pb::GovernanceCall {
        call: Some(pb::governance_call::Call::GrantRole(pb::GrantRole {
            account: account.to_vec(),
            role: Some(pb::Role {
                kind: kind as i32,
                scope: scope.into(),
            }),
        })),
    })
}

fn shelter(c: &mut Chain, id: &str) {
    c.ok(
        ADMIN,
        rl(R::RegisterShelter(pb::RegisterShelter {
            shelter_id: id.into(),
            name: "Minamino Elementary School gym".into(),
            area: "Hachioji Minamino".into(),
            contact: Some(pb::PersonRef {
                vault_id: "pd_contact".into(),
                commitment: vec![1; 32],
            }),
        })),
    );
}

/// A chain with a disaster, two shelters (OP operates "s1", OP2 "s2") and two donors.
fn setup() -> Chain {
    let mut c = Chain::new(1_790_000_000_000, vec![]);
    c.ok(
        ADMIN,
        rl(R::OpenDisaster(pb::OpenDisaster {
            disaster_id: DISASTER.into(),
            name: "Tama earthquake".into(),
        })),
    );
    shelter(&mut c, "s1");
    shelter(&mut c, "s2");
    c.ok(ADMIN, grant(OP, pb::RoleKind::RoleShelterOperator, "s1"));
    c.ok(ADMIN, grant(OP2, pb::RoleKind::RoleShelterOperator, "s2"));
    c.ok(ADMIN, grant(DONOR1, pb::RoleKind::RoleDonor, ""));
    c.ok(ADMIN, grant(DONOR2, pb::RoleKind::RoleDonor, ""));
    // Parcels may be declared lost as soon as they are shipped (the default is 72 hours), so
    // random sequences reach losses.
    lost_after_hours(&mut c, 0);
    c
}

fn lost_after_hours(c: &mut Chain, hours: i64) {
    c.ok(
        ADMIN,
        Call::Governance(pb::GovernanceCall {
            call: Some(pb::governance_call::Call::SetParameter(pb::SetParameter {
                key: "relief.lost_after_hours".into(),
                value: hours,
                effective_from_height: 0,
            })),
        }),
    );
}

fn ev(events: &[pb::event::Kind]) -> Vec<pb::relief_event::Kind> {
    events
        .iter()
        .filter_map(|e| match e {
            pb::event::Kind::Relief(r) => r.kind.clone(),
            _ => None,
        })
        .collect()
}

fn post_need(c: &mut Chain, signer: [u8; 32], shelter: &str, item: &str, q: u64) -> u64 {
    let e = ev(&c.ok(
        signer,
        rl(R::PostNeed(pb::PostNeed {
            disaster_id: DISASTER.into(),
            shelter_id: shelter.into(),
            item_id: item.into(),
            quantity: q,
            details: "for 100 evacuees, two days".into(),
            priority: pb::Priority::High as i32,
            needed_by_ms: 0,
        })),
    ));
    match &e[0] {
        pb::relief_event::Kind::NeedChanged(n) => n.need_id,
        e => panic!("unexpected {e:?}"),
    }
}

fn commitment_of(events: &[pb::event::Kind]) -> u64 {
    ev(events)
        .into_iter()
        .find_map(|e| match e {
            pb::relief_event::Kind::CommitmentChanged(c) => Some(c.commitment_id),
            _ => None,
        })
        .unwrap()
}

fn shipment_of(events: &[pb::event::Kind]) -> u64 {
    ev(events)
        .into_iter()
        .find_map(|e| match e {
            pb::relief_event::Kind::ShipmentChanged(s) => Some(s.shipment.unwrap().shipment_id),
            _ => None,
        })
        .unwrap()
}

fn pledge(need_id: u64, quantity: u64) -> Call {
    rl(R::Pledge(pb::Pledge { need_id, quantity }))
}

fn token(shipment_id: u64, seed: u8) -> (String, Vec<u8>) {
    let secret = [seed; relief::TOKEN_SECRET_LEN];
    (
        relief::token_string(shipment_id, &secret),
        relief::token_commitment(shipment_id, &secret).to_vec(),
    )
}

fn ship(id: u64, commitment: Vec<u8>) -> Call {
    rl(R::Ship(pb::MarkShipped {
        shipment_id: id,
        token_commitment: commitment,
    }))
}

fn receive(id: u64, token: &str) -> Call {
    rl(R::Receive(pb::ReceiveShipment {
        shipment_id: id,
        token: token.into(),
        ..Default::default()
    }))
}

#[test]
fn catalogue_is_prefilled_with_the_eight_basic_items() {
    let c = Chain::new(0, vec![]);
    let items = relief::catalogue(&c.state).unwrap();
    assert_eq!(items.len(), 8);
    for id in [
        "food",
        "blankets",
        "infant-formula",
        "infant-diapers",
        "adult-diapers",
        "portable-toilets",
        "toilet-paper",
        "sanitary-products",
    ] {
        assert!(items.iter().any(|i| i.item_id == id), "{id} missing");
    }
}

#[test]
fn the_study_flow_from_need_to_arrival() {
    let mut c = setup();
    let need = post_need(&mut c, OP, "s1", "food", 100);
    // Two donors pledge part of the need each; a third pledge may not exceed what remains.
    let p1 = commitment_of(&c.ok(DONOR1, pledge(need, 40)));
    let p2 = commitment_of(&c.ok(DONOR2, pledge(need, 30)));
    assert_eq!(c.err(DONOR1, pledge(need, 31)), "relief.exceeds_need");
    let n = relief::need(&c.state, need).unwrap().unwrap();
    assert_eq!((n.committed, n.in_transit, n.fulfilled), (70, 0, 0));
    assert_eq!(n.committed_status, pb::FillStatus::FillPartial as i32);
    // A donor offers blankets; the shelter requests part of them.
    let e = ev(&c.ok(
        DONOR2,
        rl(R::PostOffer(pb::PostOffer {
            disaster_id: DISASTER.into(),
            item_id: "blankets".into(),
            quantity: 50,
            details: "new, still packed".into(),
            available_until_ms: c.time_ms + 86_400_000,
        })),
    ));
    let offer = match &e[0] {
        pb::relief_event::Kind::OfferChanged(o) => o.offer_id,
        e => panic!("unexpected {e:?}"),
    };
    let request = |q| {
        rl(R::Request(pb::RequestFromOffer {
            offer_id: offer,
            shelter_id: "s1".into(),
            quantity: q,
        }))
    };
    assert_eq!(c.err(OP, request(51)), "relief.exceeds_offer");
    let r1 = commitment_of(&c.ok(OP, request(20)));
    // Go-ahead: only the receiving shelter's operator; then a shipment exists.
    let approve = |id| rl(R::Approve(pb::ApproveShipment { commitment_id: id }));
    assert_eq!(c.err(OP2, approve(p1)), "relief.not_shelter_operator");
    let s1 = shipment_of(&c.ok(OP, approve(p1)));
    let s2 = shipment_of(&c.ok(OP, approve(r1)));
    assert_eq!(c.err(OP, approve(p1)), "relief.not_pending");
    // Donors print labels and ship; only the shipment's own donor can.
    let (t1, k1) = token(s1, 7);
    let (t2, k2) = token(s2, 8);
    assert_eq!(c.err(DONOR2, ship(s1, k1.clone())), "relief.not_donor");
    c.ok(DONOR1, ship(s1, k1));
    c.ok(DONOR2, ship(s2, k2));
    let n = relief::need(&c.state, need).unwrap().unwrap();
    assert_eq!((n.committed, n.in_transit, n.fulfilled), (70, 40, 0));
    // The shelter scans: a wrong label is refused; the right one receives, once.
    assert_eq!(c.err(OP, receive(s1, &t2)), "relief.token_mismatch");
    let (forged, _) = token(s1, 9);
    assert_eq!(c.err(OP, receive(s1, &forged)), "relief.token_mismatch");
    c.ok(OP, receive(s1, &t1));
    assert_eq!(c.err(OP, receive(s1, &t1)), "relief.already_received");
    c.ok(OP, receive(s2, &t2.to_lowercase()));
    let n = relief::need(&c.state, need).unwrap().unwrap();
    assert_eq!((n.committed, n.in_transit, n.fulfilled), (70, 0, 40));
    assert_eq!(n.fulfilled_status, pb::FillStatus::FillPartial as i32);
    // The trail of a shipment: created, shipped, received.
    let s = relief::shipment(&c.state, s1).unwrap().unwrap();
    let steps: Vec<i32> = s.trail.iter().map(|t| t.status).collect();
    assert_eq!(
        steps,
        vec![
            pb::ShipmentStatus::ShipmentCreated as i32,
            pb::ShipmentStatus::ShipmentShipped as i32,
            pb::ShipmentStatus::ShipmentReceived as i32
        ]
    );
    // The second donor cancels; the quantity returns once.
    let cancel = |id| {
        rl(R::Cancel(pb::CancelCommitment {
            commitment_id: id,
            reason: "supplied by another route".into(),
        }))
    };
    c.ok(DONOR2, cancel(p2));
    assert_eq!(c.err(DONOR2, cancel(p2)), "relief.already_cancelled");
    assert_eq!(c.err(DONOR1, cancel(p1)), "relief.already_shipped");
    let n = relief::need(&c.state, need).unwrap().unwrap();
    assert_eq!(n.committed, 40);
    // Arrivals and totals for the municipality's report.
    let arr = relief::list_arrivals(
        &c.state,
        &pb::ListArrivalsRequest {
            shelter_id: "s1".into(),
            page: None,
        },
    )
    .unwrap();
    assert_eq!(arr.shipments.len(), 2);
    let tot = relief::disaster_totals(&c.state, DISASTER).unwrap();
    let food = tot.iter().find(|t| t.item_id == "food").unwrap();
    assert_eq!(
        (food.needed, food.committed, food.in_transit, food.received),
        (100, 40, 0, 40)
    );
    let bl = tot.iter().find(|t| t.item_id == "blankets").unwrap();
    assert_eq!((bl.offered, bl.requested, bl.received), (50, 20, 20));
    // Searches.
    let open = relief::list_needs(
        &c.state,
        &pb::ListNeedsRequest {
            category: "food".into(),
            open_only: true,
            ..Default::default()
        },
        c.time_ms,
    )
    .unwrap();
    assert_eq!(open.needs.len(), 1);
    let none = relief::list_needs(
        &c.state,
        &pb::ListNeedsRequest {
            shelter_id: "s2".into(),
            ..Default::default()
        },
        c.time_ms,
    )
    .unwrap();
    assert!(none.needs.is_empty());
}

#[test]
fn roles_are_checked_for_every_step() {
    let mut c = setup();
    // A donor cannot post needs; an operator of s2 cannot post for s1.
    let need = |shelter: &str| {
        rl(R::PostNeed(pb::PostNeed {
            disaster_id: DISASTER.into(),
            shelter_id: shelter.into(),
            item_id: "blankets".into(),
            quantity: 5,
            details: String::new(),
            priority: pb::Priority::Low as i32,
            needed_by_ms: 0,
        }))
    };
    assert_eq!(c.err(DONOR1, need("s1")), "governance.missing_role");
    assert_eq!(c.err(OP2, need("s1")), "relief.not_shelter_operator");
    // Another municipality's admin cannot close the disaster.
    assert_eq!(
        c.err(
            ADMIN_B,
            rl(R::CloseDisaster(pb::CloseDisaster {
                disaster_id: DISASTER.into()
            }))
        ),
        "relief.not_municipality_admin"
    );
    // Shelter contacts only as a vault reference.
    assert_eq!(
        c.err(
            ADMIN,
            rl(R::RegisterShelter(pb::RegisterShelter {
                shelter_id: "s3".into(),
                name: "Hall".into(),
                area: "Tama".into(),
                contact: None,
            }))
        ),
        "relief.missing_contact"
    );
    // After closing the disaster nothing new can be filed.
    c.ok(
        ADMIN,
        rl(R::CloseDisaster(pb::CloseDisaster {
            disaster_id: DISASTER.into(),
        })),
    );
    assert_eq!(c.err(OP, need("s1")), "relief.disaster_closed");
}

#[test]
fn an_expired_offer_returns_the_quantity_of_requests_waiting_for_the_go_ahead() {
    let mut c = setup();
    let until = c.time_ms + 60_000;
    let e = ev(&c.ok(
        DONOR1,
        rl(R::PostOffer(pb::PostOffer {
            disaster_id: DISASTER.into(),
            item_id: "toilet-paper".into(),
            quantity: 100,
            details: String::new(),
            available_until_ms: until,
        })),
    ));
    let offer = match &e[0] {
        pb::relief_event::Kind::OfferChanged(o) => o.offer_id,
        e => panic!("unexpected {e:?}"),
    };
    let req = |shelter: &str, q| {
        rl(R::Request(pb::RequestFromOffer {
            offer_id: offer,
            shelter_id: shelter.into(),
            quantity: q,
        }))
    };
    let r1 = commitment_of(&c.ok(OP, req("s1", 30)));
    let r2 = commitment_of(&c.ok(OP2, req("s2", 20)));
    c.ok(
        OP,
        rl(R::Approve(pb::ApproveShipment { commitment_id: r1 })),
    );
    let expire = rl(R::ExpireOffer(pb::ExpireOffer { offer_id: offer }));
    assert_eq!(c.err(DONOR2, expire.clone()), "relief.not_yet_expired");
    c.time_ms = until + 1;
    assert_eq!(c.err(OP2, req("s2", 1)), "relief.offer_expired");
    c.ok(DONOR2, expire.clone());
    assert_eq!(c.err(DONOR2, expire), "relief.already_expired");
    let o = relief::offer(&c.state, offer).unwrap().unwrap();
    assert!(o.expired);
    assert_eq!(
        o.requested, 30,
        "the approved request stays, the waiting one returned"
    );
    let r2c = relief::commitment(&c.state, r2).unwrap().unwrap();
    assert_eq!(r2c.status, pb::CommitmentStatus::CommitmentCancelled as i32);
    let t = relief::totals(&c.state, DISASTER, "toilet-paper").unwrap();
    assert_eq!((t.offered, t.requested), (100, 30));
}

// ---- property tests ----------------------------------------------------------------------

const SIGNERS: [[u8; 32]; 5] = [OP, OP2, DONOR1, DONOR2, ADMIN];
const OPS: [[u8; 32]; 2] = [OP, OP2];

/// Who signs: mostly the party the call needs (so sequences get far), sometimes anyone.
#[derive(Clone, Copy, Debug)]
struct Who {
    right: bool,
    any: usize,
}

fn who() -> impl Strategy<Value = Who> {
    (prop::bool::weighted(0.85), 0..5usize).prop_map(|(right, any)| Who { right, any })
}

impl Who {
    fn pick(self, right: [u8; 32]) -> [u8; 32] {
        if self.right {
            right
        } else {
            SIGNERS[self.any]
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Need {
        who: Who,
        shelter: usize,
        q: u64,
    },
    Pledge {
        who: Who,
        donor: usize,
        need: u64,
        q: u64,
    },
    Offer {
        who: Who,
        donor: usize,
        q: u64,
    },
    Request {
        who: Who,
        shelter: usize,
        offer: u64,
        q: u64,
    },
    Approve {
        who: Who,
        com: u64,
    },
    Cancel {
        who: Who,
        by_donor: bool,
        com: u64,
    },
    Ship {
        who: Who,
        ship: u64,
    },
    Receive {
        who: Who,
        ship: u64,
        good: bool,
        // Percent of the shipment that arrived (100: all), percent of that damaged, and
        // whether the remainder is written off.
        arrived_pct: u64,
        damaged_pct: u64,
        write_off: bool,
    },
    Lost {
        who: Who,
        ship: u64,
    },
    Withdraw {
        who: Who,
        offer: u64,
        q: u64,
    },
    Expire {
        offer: u64,
    },
    Wait,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (who(), 0..2usize, 1..60u64).prop_map(|(who, shelter, q)| Op::Need { who, shelter, q }),
        3 => (who(), 0..2usize, 1..6u64, 1..40u64)
            .prop_map(|(who, donor, need, q)| Op::Pledge { who, donor, need, q }),
        1 => (who(), 0..2usize, 1..60u64).prop_map(|(who, donor, q)| Op::Offer { who, donor, q }),
        2 => (who(), 0..2usize, 1..5u64, 1..40u64)
            .prop_map(|(who, shelter, offer, q)| Op::Request { who, shelter, offer, q }),
        3 => (who(), 1..6u64).prop_map(|(who, com)| Op::Approve { who, com }),
        2 => (who(), any::<bool>(), 1..8u64).prop_map(|(who, by_donor, com)| Op::Cancel { who, by_donor, com }),
        3 => (who(), 1..5u64).prop_map(|(who, ship)| Op::Ship { who, ship }),
        3 => (
            who(),
            1..5u64,
            prop::bool::weighted(0.8),
            prop_oneof![2 => Just(100u64), 1 => 0..=100u64],
            prop_oneof![2 => Just(0u64), 1 => 0..=100u64],
            any::<bool>(),
        )
            .prop_map(|(who, ship, good, arrived_pct, damaged_pct, write_off)| Op::Receive {
                who,
                ship,
                good,
                arrived_pct,
                damaged_pct,
                write_off,
            }),
        1 => (who(), 1..5u64).prop_map(|(who, ship)| Op::Lost { who, ship }),
        1 => (who(), 1..5u64, 0..30u64).prop_map(|(who, offer, q)| Op::Withdraw { who, offer, q }),
        1 => (1..5u64).prop_map(|offer| Op::Expire { offer }),
        1 => Just(Op::Wait),
    ]
}

fn operator_of(shelter: &str) -> [u8; 32] {
    if shelter == "s1" {
        OP
    } else {
        OP2
    }
}

fn donor_key(d: &[u8]) -> [u8; 32] {
    <[u8; 32]>::try_from(d).unwrap_or([0; 32])
}

/// How far a sequence got: cancelled commitments, received shipments, received short or
/// damaged, and lost.
type Reached = (u32, u32, u32, u32);

/// Every invariant, recomputed from the records. Returns how far the sequence got (so the
/// test can show it reached every kind of step).
fn check(c: &Chain) -> Result<Reached, TestCaseError> {
    let mut pledged = std::collections::BTreeMap::<u64, u64>::new();
    let mut requested = std::collections::BTreeMap::<u64, u64>::new();
    let mut transit = std::collections::BTreeMap::<u64, u64>::new();
    let mut received = std::collections::BTreeMap::<u64, u64>::new();
    let mut returned = std::collections::BTreeMap::<u64, u64>::new();
    let mut written_off = std::collections::BTreeMap::<u64, u64>::new();
    let (mut cancelled, mut arrived, mut partial, mut lost) = (0, 0, 0, 0);
    for id in 1..=60u64 {
        if let Some(com) = relief::commitment(&c.state, id).unwrap() {
            if com.status != pb::CommitmentStatus::CommitmentCancelled as i32 {
                let m = if com.need_id != 0 {
                    &mut pledged
                } else {
                    &mut requested
                };
                *m.entry(com.need_id.max(com.offer_id)).or_default() += com.quantity;
            } else {
                cancelled += 1;
            }
        }
        if let Some(s) = relief::shipment(&c.state, id).unwrap() {
            // A shipment ends once: received or lost, never both, never twice.
            let ends = s
                .trail
                .iter()
                .filter(|t| {
                    t.status == pb::ShipmentStatus::ShipmentReceived as i32
                        || t.status == pb::ShipmentStatus::ShipmentLost as i32
                })
                .count();
            prop_assert!(ends <= 1, "shipment {} ended {} times", id, ends);
            let good = s.received_quantity.saturating_sub(s.damaged_quantity);
            if s.status == pb::ShipmentStatus::ShipmentLost as i32 {
                lost += 1;
            }
            if s.status == pb::ShipmentStatus::ShipmentReceived as i32 {
                arrived += 1;
                if good < s.quantity {
                    partial += 1;
                }
                prop_assert!(s.damaged_quantity <= s.received_quantity);
                prop_assert!(s.received_quantity <= s.quantity && s.received_quantity > 0);
            }
            if s.need_id != 0 {
                // Every unit of a finished shipment is accounted for exactly once: usable,
                // returned to the need, or written off.
                match pb::ShipmentStatus::try_from(s.status).unwrap() {
                    pb::ShipmentStatus::ShipmentReceived => prop_assert_eq!(
                        good + s.returned_quantity + s.written_off_quantity,
                        s.quantity,
                        "{:?}",
                        s
                    ),
                    pb::ShipmentStatus::ShipmentLost => {
                        prop_assert_eq!(s.returned_quantity, s.quantity)
                    }
                    _ => prop_assert_eq!(s.returned_quantity + s.written_off_quantity, 0),
                }
                if s.status == pb::ShipmentStatus::ShipmentShipped as i32 {
                    *transit.entry(s.need_id).or_default() += s.quantity;
                }
                if s.status == pb::ShipmentStatus::ShipmentReceived as i32 {
                    *received.entry(s.need_id).or_default() += good;
                }
                *returned.entry(s.need_id).or_default() += s.returned_quantity;
                *written_off.entry(s.need_id).or_default() += s.written_off_quantity;
            }
        }
    }
    for id in 1..=60u64 {
        if let Some(n) = relief::need(&c.state, id).unwrap() {
            prop_assert!(
                n.fulfilled + n.in_transit <= n.committed && n.committed <= n.quantity,
                "{:?}",
                n
            );
            // What a pledge committed, less what came back or was written off.
            let gone = returned.get(&id).copied().unwrap_or(0)
                + written_off.get(&id).copied().unwrap_or(0);
            prop_assert_eq!(n.committed + gone, pledged.get(&id).copied().unwrap_or(0));
            prop_assert_eq!(n.returned, returned.get(&id).copied().unwrap_or(0));
            prop_assert_eq!(n.written_off, written_off.get(&id).copied().unwrap_or(0));
            prop_assert_eq!(n.in_transit, transit.get(&id).copied().unwrap_or(0));
            prop_assert_eq!(n.fulfilled, received.get(&id).copied().unwrap_or(0));
        }
        if let Some(o) = relief::offer(&c.state, id).unwrap() {
            prop_assert!(o.requested <= o.quantity);
            prop_assert_eq!(o.requested, requested.get(&id).copied().unwrap_or(0));
        }
    }
    // The disaster report's lines add up to the running totals, item by item, and each line's
    // arrivals, shortfalls and damage add up to what its received shipments carried.
    let lines = relief::disaster_report(&c.state, DISASTER, c.time_ms).unwrap();
    for t in relief::disaster_totals(&c.state, DISASTER).unwrap() {
        let of = |f: fn(&pb::DisasterReportLine) -> u64| -> u64 {
            lines.iter().filter(|l| l.item_id == t.item_id).map(f).sum()
        };
        prop_assert_eq!(of(|l| l.received), t.received);
        prop_assert_eq!(of(|l| l.short), t.short);
        prop_assert_eq!(of(|l| l.damaged), t.damaged);
        prop_assert_eq!(of(|l| l.lost), t.lost);
        prop_assert_eq!(
            of(|l| l.in_transit),
            t.in_transit - requests_in_transit(c, &t.item_id)
        );
    }
    for l in &lines {
        let mut carried = 0;
        for id in 1..=60u64 {
            if let Some(s) = relief::shipment(&c.state, id).unwrap() {
                if s.shelter_id == l.shelter_id
                    && s.item_id == l.item_id
                    && s.status == pb::ShipmentStatus::ShipmentReceived as i32
                {
                    carried += s.quantity;
                }
            }
        }
        prop_assert_eq!(l.received + l.short + l.damaged, carried, "{:?}", l);
        prop_assert_eq!(l.unmet, l.needed - l.fulfilled);
    }
    Ok((cancelled, arrived, partial, lost))
}

/// What shipments from offers (no need) of `item` carry in transit: the totals count them, the
/// report's need columns do not.
fn requests_in_transit(c: &Chain, item: &str) -> u64 {
    (1..=60u64)
        .filter_map(|id| relief::shipment(&c.state, id).unwrap())
        .filter(|s| {
            s.need_id == 0
                && s.item_id == item
                && s.status == pb::ShipmentStatus::ShipmentShipped as i32
        })
        .map(|s| s.quantity)
        .sum()
}

/// One random sequence: every call checked, every invariant after every call. Returns the
/// cancellations and arrivals reached at the end.
fn run_case(ops: Vec<Op>) -> Result<Reached, TestCaseError> {
    let mut c = setup();
    let shelters = ["s1", "s2"];
    let donors = [DONOR1, DONOR2];
    for op in ops {
        match op {
            Op::Wait => {
                c.time_ms += 30 * 60_000;
                continue;
            }
            Op::Need { who, shelter, q } => {
                let signer = who.pick(OPS[shelter]);
                let r = c.run(
                    signer,
                    rl(R::PostNeed(pb::PostNeed {
                        disaster_id: DISASTER.into(),
                        shelter_id: shelters[shelter].into(),
                        item_id: "food".into(),
                        quantity: q,
                        details: String::new(),
                        priority: pb::Priority::Medium as i32,
                        needed_by_ms: 0,
                    })),
                );
                // Only the shelter's own operator can post for it.
                prop_assert_eq!(r.result.is_ok(), signer == OPS[shelter]);
            }
            Op::Pledge {
                who,
                donor,
                need,
                q,
            } => {
                let signer = who.pick(donors[donor]);
                let r = c.run(signer, pledge(need, q));
                if r.result.is_ok() {
                    prop_assert!(donors.contains(&signer), "a non-donor pledged");
                }
            }
            Op::Offer { who, donor, q } => {
                let signer = who.pick(donors[donor]);
                let until = c.time_ms + 60 * 60_000;
                let r = c.run(
                    signer,
                    rl(R::PostOffer(pb::PostOffer {
                        disaster_id: DISASTER.into(),
                        item_id: "blankets".into(),
                        quantity: q,
                        details: String::new(),
                        available_until_ms: until,
                    })),
                );
                prop_assert_eq!(r.result.is_ok(), donors.contains(&signer));
            }
            Op::Request {
                who,
                shelter,
                offer,
                q,
            } => {
                let signer = who.pick(OPS[shelter]);
                let r = c.run(
                    signer,
                    rl(R::Request(pb::RequestFromOffer {
                        offer_id: offer,
                        shelter_id: shelters[shelter].into(),
                        quantity: q,
                    })),
                );
                if r.result.is_ok() {
                    prop_assert_eq!(signer, OPS[shelter]);
                }
            }
            Op::Approve { who, com } => {
                let before = relief::commitment(&c.state, com).unwrap();
                let right = before.as_ref().map_or(OP, |b| operator_of(&b.shelter_id));
                let signer = who.pick(right);
                let r = c.run(
                    signer,
                    rl(R::Approve(pb::ApproveShipment { commitment_id: com })),
                );
                if r.result.is_ok() {
                    prop_assert_eq!(signer, right);
                }
            }
            Op::Cancel { who, by_donor, com } => {
                let before = relief::commitment(&c.state, com).unwrap();
                let (d, o) = before.as_ref().map_or((DONOR1, OP), |b| {
                    (donor_key(&b.donor), operator_of(&b.shelter_id))
                });
                let signer = who.pick(if by_donor { d } else { o });
                let r = c.run(
                    signer,
                    rl(R::Cancel(pb::CancelCommitment {
                        commitment_id: com,
                        reason: String::new(),
                    })),
                );
                if r.result.is_ok() {
                    prop_assert!(signer == d || signer == o, "a stranger cancelled");
                }
            }
            Op::Ship { who, ship: id } => {
                let (_, k) = token(id, 5);
                let before = relief::shipment(&c.state, id).unwrap();
                let right = before.as_ref().map_or(DONOR1, |b| donor_key(&b.donor));
                let signer = who.pick(right);
                let r = c.run(signer, ship(id, k));
                if r.result.is_ok() {
                    prop_assert_eq!(signer, right);
                }
            }
            Op::Receive {
                who,
                ship: id,
                good,
                arrived_pct,
                damaged_pct,
                write_off,
            } => {
                let (t, _) = token(id, if good { 5 } else { 6 });
                let before = relief::shipment(&c.state, id).unwrap();
                let right = before.as_ref().map_or(OP, |b| operator_of(&b.shelter_id));
                let signer = who.pick(right);
                let q = before.as_ref().map_or(10, |b| b.quantity);
                let arrived = (q * arrived_pct / 100).max(1);
                let damaged = arrived * damaged_pct / 100;
                let r = c.run(
                    signer,
                    rl(R::Receive(pb::ReceiveShipment {
                        shipment_id: id,
                        token: t,
                        received_quantity: arrived,
                        damaged_quantity: damaged,
                        remainder: if write_off {
                            pb::RemainderHandling::RemainderWriteOff as i32
                        } else {
                            pb::RemainderHandling::RemainderReturn as i32
                        },
                        note: "two cartons missing, one crushed".into(),
                    })),
                );
                if r.result.is_ok() {
                    prop_assert!(good, "a wrong token was accepted");
                    prop_assert_eq!(signer, right);
                }
            }
            Op::Lost { who, ship: id } => {
                let before = relief::shipment(&c.state, id).unwrap();
                let right = before.as_ref().map_or(OP, |b| operator_of(&b.shelter_id));
                let signer = who.pick(right);
                let r = c.run(
                    signer,
                    rl(R::DeclareLost(pb::DeclareShipmentLost {
                        shipment_id: id,
                        reason: "the carrier has no trace of it".into(),
                    })),
                );
                if r.result.is_ok() {
                    prop_assert_eq!(signer, right);
                    let b = before.unwrap();
                    prop_assert_eq!(b.status, pb::ShipmentStatus::ShipmentShipped as i32);
                }
            }
            Op::Withdraw { who, offer, q } => {
                let before = relief::offer(&c.state, offer).unwrap();
                let right = before.as_ref().map_or(DONOR1, |b| donor_key(&b.donor));
                let signer = who.pick(right);
                let r = c.run(
                    signer,
                    rl(R::WithdrawOffer(pb::WithdrawOffer {
                        offer_id: offer,
                        quantity: q,
                        reason: String::new(),
                    })),
                );
                if r.result.is_ok() {
                    prop_assert_eq!(signer, right);
                }
            }
            Op::Expire { offer } => {
                let _ = c.run(
                    DONOR1,
                    rl(R::ExpireOffer(pb::ExpireOffer { offer_id: offer })),
                );
            }
        }
        check(&c)?;
    }
    check(&c)
}

#[test]
fn relief_invariants_hold_over_random_call_sequences() {
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new(Config::with_cases(128));
    let reached = std::cell::Cell::new((0u32, 0u32, 0u32, 0u32));
    runner
        .run(&prop::collection::vec(op(), 1..120), |ops| {
            let (k, a, p, l) = run_case(ops)?;
            let (k0, a0, p0, l0) = reached.get();
            reached.set((k0 + k, a0 + a, p0 + p, l0 + l));
            Ok(())
        })
        .unwrap();
    // The property is only as good as how far the sequences get.
    let (cancelled, arrived, partial, lost) = reached.get();
    eprintln!("reached: cancelled {cancelled}, arrived {arrived}, short or damaged {partial}, lost {lost}");
    assert!(
        cancelled > 0 && arrived > 0 && partial > 0 && lost > 0,
        "cancelled {cancelled}, arrived {arrived}, short or damaged {partial}, lost {lost}"
    );
}

#[test]
fn a_shelter_changes_a_need_s_quantity_never_below_what_is_pledged() {
    let mut c = setup();
    let need = post_need(&mut c, OP, "s1", "blankets", 10);
    c.ok(DONOR1, pledge(need, 4));
    let change = |quantity| {
        rl(R::ChangeNeedQuantity(pb::ChangeNeedQuantity {
            need_id: need,
            quantity,
        }))
    };
    assert_eq!(c.err(OP, change(3)), "relief.below_committed");
    assert_eq!(c.err(OP2, change(6)), "relief.not_shelter_operator");
    assert_eq!(c.err(OP, change(0)), "relief.invalid_quantity");
    c.ok(OP, change(6));
    let n = relief::need(&c.state, need).unwrap().unwrap();
    assert_eq!((n.quantity, n.committed), (6, 4));
    assert_eq!(
        relief::totals(&c.state, DISASTER, "blankets")
            .unwrap()
            .needed,
        6
    );
    // The remaining 2 can be pledged, no more.
    assert_eq!(c.err(DONOR2, pledge(need, 3)), "relief.exceeds_need");
    c.ok(DONOR2, pledge(need, 2));
    // Exactly what is committed is allowed; a closed need changes no more.
    c.ok(OP, change(6));
    c.ok(OP, rl(R::CloseNeed(pb::CloseNeed { need_id: need })));
    assert_eq!(c.err(OP, change(8)), "relief.need_closed");
}

// ---- a bad day: short, damaged and lost shipments, overdue needs, withdrawn offers ----------

/// A need of `q` in s1, pledged whole by DONOR1, approved and shipped: (need, shipment).
fn shipped(c: &mut Chain, q: u64) -> (u64, u64) {
    let need = post_need(c, OP, "s1", "food", q);
    let com = commitment_of(&c.ok(DONOR1, pledge(need, q)));
    let sid = shipment_of(&c.ok(
        OP,
        rl(R::Approve(pb::ApproveShipment { commitment_id: com })),
    ));
    let (_, k) = token(sid, 5);
    c.ok(DONOR1, ship(sid, k));
    (need, sid)
}

fn receive_part(
    sid: u64,
    received: u64,
    damaged: u64,
    h: pb::RemainderHandling,
    note: &str,
) -> Call {
    rl(R::Receive(pb::ReceiveShipment {
        shipment_id: sid,
        token: token(sid, 5).0,
        received_quantity: received,
        damaged_quantity: damaged,
        remainder: h as i32,
        note: note.into(),
    }))
}

#[test]
fn a_short_and_damaged_delivery_returns_the_rest_to_the_need_once() {
    let mut c = setup();
    let (need, sid) = shipped(&mut c, 100);
    // Short without saying what happened: refused.
    assert_eq!(
        c.err(
            OP,
            receive_part(sid, 80, 0, pb::RemainderHandling::RemainderReturn, "")
        ),
        "relief.missing_text"
    );
    assert_eq!(
        c.err(
            OP,
            receive_part(sid, 120, 0, pb::RemainderHandling::RemainderReturn, "x")
        ),
        "relief.received_above_shipped"
    );
    assert_eq!(
        c.err(
            OP,
            receive_part(sid, 80, 81, pb::RemainderHandling::RemainderReturn, "x")
        ),
        "relief.damaged_above_received"
    );
    // 80 arrived, 5 of them crushed: 75 usable, 25 back to the need.
    c.ok(
        OP,
        receive_part(
            sid,
            80,
            5,
            pb::RemainderHandling::RemainderReturn,
            "2 cartons missing, 5 meals crushed",
        ),
    );
    let n = relief::need(&c.state, need).unwrap().unwrap();
    assert_eq!(
        (
            n.quantity,
            n.committed,
            n.in_transit,
            n.fulfilled,
            n.returned
        ),
        (100, 75, 0, 75, 25)
    );
    let s = relief::shipment(&c.state, sid).unwrap().unwrap();
    assert_eq!(
        (s.received_quantity, s.damaged_quantity, s.returned_quantity),
        (80, 5, 25)
    );
    assert_eq!(s.note, "2 cartons missing, 5 meals crushed");
    let t = relief::totals(&c.state, DISASTER, "food").unwrap();
    assert_eq!(
        (t.received, t.short, t.damaged, t.committed),
        (75, 20, 5, 75)
    );
    // The 25 can be pledged again, and no more.
    assert_eq!(c.err(DONOR2, pledge(need, 26)), "relief.exceeds_need");
    c.ok(DONOR2, pledge(need, 25));
    // Received once.
    assert_eq!(
        c.err(
            OP,
            receive_part(sid, 80, 0, pb::RemainderHandling::RemainderReturn, "again")
        ),
        "relief.already_received"
    );
}

#[test]
fn a_written_off_remainder_shrinks_the_need() {
    let mut c = setup();
    let (need, sid) = shipped(&mut c, 40);
    c.ok(
        OP,
        receive_part(
            sid,
            30,
            0,
            pb::RemainderHandling::RemainderWriteOff,
            "enough for now",
        ),
    );
    let n = relief::need(&c.state, need).unwrap().unwrap();
    assert_eq!(
        (
            n.quantity,
            n.committed,
            n.fulfilled,
            n.written_off,
            n.returned
        ),
        (30, 30, 30, 10, 0)
    );
    assert_eq!(n.fulfilled_status, pb::FillStatus::FillComplete as i32);
    assert_eq!(c.err(DONOR2, pledge(need, 1)), "relief.exceeds_need");
    let t = relief::totals(&c.state, DISASTER, "food").unwrap();
    assert_eq!((t.needed, t.received, t.short), (30, 30, 10));
}

#[test]
fn a_parcel_is_declared_lost_only_after_the_limit_and_is_pledged_again() {
    let mut c = setup();
    lost_after_hours(&mut c, 1);
    let (need, sid) = shipped(&mut c, 20);
    let lost = |c: &mut Chain, who| {
        c.run(
            who,
            rl(R::DeclareLost(pb::DeclareShipmentLost {
                shipment_id: sid,
                reason: "the carrier has no trace of it".into(),
            })),
        )
    };
    // Too early (the limit is one hour here), and only by the receiving shelter.
    assert_eq!(
        lost(&mut c, OP).result.unwrap_err().code,
        "relief.not_overdue"
    );
    c.time_ms += 61 * 60_000;
    assert!(lost(&mut c, OP2).result.is_err());
    assert!(lost(&mut c, DONOR1).result.is_err());
    assert!(lost(&mut c, OP).result.is_ok());
    let n = relief::need(&c.state, need).unwrap().unwrap();
    assert_eq!(
        (n.committed, n.in_transit, n.fulfilled, n.returned),
        (0, 0, 0, 20)
    );
    let s = relief::shipment(&c.state, sid).unwrap().unwrap();
    assert_eq!(s.status, pb::ShipmentStatus::ShipmentLost as i32);
    assert_eq!(relief::totals(&c.state, DISASTER, "food").unwrap().lost, 20);
    // Lost once; a late arrival cannot be received any more.
    assert_eq!(
        lost(&mut c, OP).result.unwrap_err().code,
        "relief.not_in_transit"
    );
    assert_eq!(
        c.err(
            OP,
            receive_part(sid, 0, 0, pb::RemainderHandling::RemainderReturn, "")
        ),
        "relief.not_shipped"
    );
    // Pledged again by another donor, and delivered.
    let com = commitment_of(&c.ok(DONOR2, pledge(need, 20)));
    let sid2 = shipment_of(&c.ok(
        OP,
        rl(R::Approve(pb::ApproveShipment { commitment_id: com })),
    ));
    c.ok(DONOR2, ship(sid2, token(sid2, 5).1));
    c.ok(OP, receive(sid2, &token(sid2, 5).0));
    let n = relief::need(&c.state, need).unwrap().unwrap();
    assert_eq!((n.committed, n.fulfilled, n.returned), (20, 20, 20));
}

#[test]
fn an_overdue_need_takes_no_pledges_and_is_listed_as_overdue() {
    let mut c = setup();
    let by = c.time_ms + 3_600_000;
    c.ok(
        OP,
        rl(R::PostNeed(pb::PostNeed {
            disaster_id: DISASTER.into(),
            shelter_id: "s1".into(),
            item_id: "blankets".into(),
            quantity: 10,
            details: String::new(),
            priority: pb::Priority::High as i32,
            needed_by_ms: by,
        })),
    );
    let need = 1;
    c.ok(DONOR1, pledge(need, 4));
    c.time_ms = by + 1;
    assert_eq!(c.err(DONOR2, pledge(need, 1)), "relief.need_overdue");
    let list = |c: &Chain, r: pb::ListNeedsRequest| {
        relief::list_needs(&c.state, &r, c.time_ms).unwrap().needs
    };
    let all = list(&c, pb::ListNeedsRequest::default());
    assert!(all[0].overdue);
    assert_eq!(
        list(
            &c,
            pb::ListNeedsRequest {
                overdue_only: true,
                ..Default::default()
            }
        )
        .len(),
        1
    );
    assert!(list(
        &c,
        pb::ListNeedsRequest {
            open_only: true,
            ..Default::default()
        }
    )
    .is_empty());
    assert_eq!(
        list(
            &c,
            pb::ListNeedsRequest {
                needed_by_before_ms: by + 1,
                ..Default::default()
            }
        )
        .len(),
        1
    );
    assert!(list(
        &c,
        pb::ListNeedsRequest {
            needed_by_before_ms: by,
            ..Default::default()
        }
    )
    .is_empty());
}

#[test]
fn needs_sort_by_needed_by_or_priority_across_pages() {
    let mut c = setup();
    let h = 3_600_000;
    let t0 = c.time_ms;
    // (priority, needed_by offset in hours; 0 = none)
    let posted = [
        (pb::Priority::Low, 5),
        (pb::Priority::High, 0),
        (pb::Priority::Medium, 2),
        (pb::Priority::High, 9),
        (pb::Priority::Low, 2),
        (pb::Priority::Medium, 0),
        (pb::Priority::High, 2),
    ];
    for (p, hours) in posted {
        c.ok(
            OP,
            rl(R::PostNeed(pb::PostNeed {
                disaster_id: DISASTER.into(),
                shelter_id: "s1".into(),
                item_id: "blankets".into(),
                quantity: 10,
                details: String::new(),
                priority: p as i32,
                needed_by_ms: if hours == 0 { 0 } else { t0 + hours * h },
            })),
        );
    }
    let walk = |order: pb::NeedOrder| {
        let mut ids = Vec::new();
        let mut token = String::new();
        for _ in 0..10 {
            let r = relief::list_needs(
                &c.state,
                &pb::ListNeedsRequest {
                    order: order as i32,
                    page: Some(pb::PageRequest {
                        page_size: 3,
                        page_token: token.clone(),
                    }),
                    ..Default::default()
                },
                c.time_ms,
            )
            .unwrap();
            ids.extend(r.needs.iter().map(|n| n.need_id));
            if r.next_page_token.is_empty() {
                return ids;
            }
            token = r.next_page_token;
        }
        panic!("pages did not end");
    };
    // Earliest needed-by first (ties: higher priority, then id), none last.
    assert_eq!(walk(pb::NeedOrder::NeededBy), vec![7, 3, 5, 1, 4, 2, 6]);
    // Highest priority first (ties: earliest needed-by, none last, then id).
    assert_eq!(walk(pb::NeedOrder::Priority), vec![7, 4, 2, 3, 6, 5, 1]);
    assert_eq!(
        walk(pb::NeedOrder::Unspecified),
        (1..=7).collect::<Vec<_>>()
    );
    // Filters still apply to a sorted list.
    let high = relief::list_needs(
        &c.state,
        &pb::ListNeedsRequest {
            order: pb::NeedOrder::NeededBy as i32,
            min_priority: pb::Priority::High as i32,
            ..Default::default()
        },
        c.time_ms,
    )
    .unwrap();
    assert_eq!(
        high.needs.iter().map(|n| n.need_id).collect::<Vec<_>>(),
        vec![7, 4, 2]
    );
    let bad = relief::list_needs(
        &c.state,
        &pb::ListNeedsRequest {
            order: 9,
            ..Default::default()
        },
        c.time_ms,
    );
    assert!(
        matches!(bad, Err(yui_contracts::ContractError::Invalid(i)) if i.code == "relief.bad_filter")
    );
}

#[test]
fn a_donor_reduces_and_withdraws_an_offer() {
    let mut c = setup();
    let until = c.time_ms + 86_400_000;
    c.ok(
        DONOR1,
        rl(R::PostOffer(pb::PostOffer {
            disaster_id: DISASTER.into(),
            item_id: "blankets".into(),
            quantity: 50,
            details: String::new(),
            available_until_ms: until,
        })),
    );
    let req = |q| {
        rl(R::Request(pb::RequestFromOffer {
            offer_id: 1,
            shelter_id: "s1".into(),
            quantity: q,
        }))
    };
    let approved = commitment_of(&c.ok(OP, req(10)));
    c.ok(
        OP,
        rl(R::Approve(pb::ApproveShipment {
            commitment_id: approved,
        })),
    );
    let waiting = commitment_of(&c.ok(OP, req(15)));
    let withdraw = |q| {
        rl(R::WithdrawOffer(pb::WithdrawOffer {
            offer_id: 1,
            quantity: q,
            reason: "some were given to a neighbour".into(),
        }))
    };
    // Only the donor; never into what shelters requested.
    assert_eq!(c.err(DONOR2, withdraw(5)), "relief.not_donor");
    assert_eq!(c.err(DONOR1, withdraw(26)), "relief.exceeds_offer");
    c.ok(DONOR1, withdraw(20));
    let o = relief::offer(&c.state, 1).unwrap().unwrap();
    assert_eq!((o.quantity, o.requested), (30, 25));
    // The whole offer: the waiting request is cancelled, the approved one stays.
    c.ok(DONOR1, withdraw(0));
    let o = relief::offer(&c.state, 1).unwrap().unwrap();
    assert!(o.withdrawn);
    assert_eq!((o.quantity, o.requested), (10, 10));
    let w = relief::commitment(&c.state, waiting).unwrap().unwrap();
    assert_eq!(w.status, pb::CommitmentStatus::CommitmentCancelled as i32);
    assert_eq!(
        relief::commitment(&c.state, approved)
            .unwrap()
            .unwrap()
            .status,
        pb::CommitmentStatus::CommitmentApproved as i32
    );
    assert_eq!(c.err(OP, req(1)), "relief.offer_expired");
    assert_eq!(c.err(DONOR1, withdraw(0)), "relief.offer_closed");
    let t = relief::totals(&c.state, DISASTER, "blankets").unwrap();
    assert_eq!((t.offered, t.requested), (10, 10));
}

#[test]
fn work_lists_show_what_waits_for_whom() {
    let mut c = setup();
    // s1: one pledge waiting for the go-ahead, one shipment in transit, one received; s2: one
    // approved but not sent.
    let need = post_need(&mut c, OP, "s1", "food", 100);
    let waiting = commitment_of(&c.ok(DONOR2, pledge(need, 5)));
    let (_, in_transit) = shipped(&mut c, 10);
    let (_, arrived) = shipped(&mut c, 10);
    c.ok(OP, receive(arrived, &token(arrived, 5).0));
    let need2 = post_need(&mut c, OP2, "s2", "food", 10);
    let com2 = commitment_of(&c.ok(DONOR2, pledge(need2, 10)));
    let to_send = shipment_of(&c.ok(
        OP2,
        rl(R::Approve(pb::ApproveShipment {
            commitment_id: com2,
        })),
    ));
    let coms = |r: pb::ListCommitmentsRequest| {
        relief::list_commitments(&c.state, &r)
            .unwrap()
            .commitments
            .into_iter()
            .map(|c| c.commitment_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        coms(pb::ListCommitmentsRequest {
            shelter_id: "s1".into(),
            status: pb::CommitmentStatus::CommitmentPending as i32,
            ..Default::default()
        }),
        vec![waiting]
    );
    assert_eq!(
        coms(pb::ListCommitmentsRequest {
            donor: DONOR2.to_vec(),
            ..Default::default()
        }),
        vec![waiting, com2]
    );
    let ships = |r: pb::ListShipmentsRequest, now: u64| {
        relief::list_shipments(&c.state, &r, now)
            .unwrap()
            .shipments
            .into_iter()
            .map(|s| s.shipment_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ships(
            pb::ListShipmentsRequest {
                donor: DONOR2.to_vec(),
                status: pb::ShipmentStatus::ShipmentCreated as i32,
                ..Default::default()
            },
            c.time_ms
        ),
        vec![to_send]
    );
    let day = 86_400_000;
    let late = pb::ListShipmentsRequest {
        in_transit_longer_than_ms: 2 * day,
        ..Default::default()
    };
    assert!(ships(late.clone(), c.time_ms).is_empty());
    assert_eq!(ships(late, c.time_ms + 3 * day), vec![in_transit]);
    // Arrivals of the whole municipality (both shelters are the test municipality's).
    let m = relief::shelter(&c.state, "s1")
        .unwrap()
        .unwrap()
        .municipality;
    assert_eq!(
        ships(
            pb::ListShipmentsRequest {
                municipality: m,
                status: pb::ShipmentStatus::ShipmentReceived as i32,
                ..Default::default()
            },
            c.time_ms
        ),
        vec![arrived]
    );
    assert!(relief::list_shipments(
        &c.state,
        &pb::ListShipmentsRequest {
            donor: vec![1; 5],
            ..Default::default()
        },
        c.time_ms
    )
    .is_err());
}

#[test]
fn a_municipality_updates_and_closes_a_shelter() {
    let mut c = setup();
    let update = |u: pb::UpdateShelter| rl(R::UpdateShelter(u));
    // Only an admin of the shelter's municipality.
    assert!(c
        .run(
            OP,
            update(pb::UpdateShelter {
                shelter_id: "s1".into(),
                name: "x".into(),
                ..Default::default()
            })
        )
        .result
        .is_err());
    c.ok(
        ADMIN,
        update(pb::UpdateShelter {
            shelter_id: "s1".into(),
            name: "Minamino Elementary School, north gym".into(),
            ..Default::default()
        }),
    );
    let s = relief::shelter(&c.state, "s1").unwrap().unwrap();
    assert_eq!(s.name, "Minamino Elementary School, north gym");
    assert_eq!(
        s.area, "Hachioji Minamino",
        "an empty field keeps the value"
    );
    // A need posted before closing proceeds; no new needs or requests after.
    let need = post_need(&mut c, OP, "s1", "food", 10);
    c.ok(
        ADMIN,
        update(pb::UpdateShelter {
            shelter_id: "s1".into(),
            close: true,
            ..Default::default()
        }),
    );
    assert!(
        relief::shelter(&c.state, "s1")
            .unwrap()
            .unwrap()
            .closed_at_ms
            > 0
    );
    let need_again = rl(R::PostNeed(pb::PostNeed {
        disaster_id: DISASTER.into(),
        shelter_id: "s1".into(),
        item_id: "food".into(),
        quantity: 1,
        details: String::new(),
        priority: pb::Priority::Low as i32,
        needed_by_ms: 0,
    }));
    assert_eq!(c.err(OP, need_again.clone()), "relief.shelter_closed");
    c.ok(DONOR1, pledge(need, 10));
    assert_eq!(
        c.err(
            ADMIN,
            update(pb::UpdateShelter {
                shelter_id: "s1".into(),
                close: true,
                reopen: true,
                ..Default::default()
            })
        ),
        "relief.close_and_reopen"
    );
    c.ok(
        ADMIN,
        update(pb::UpdateShelter {
            shelter_id: "s1".into(),
            reopen: true,
            ..Default::default()
        }),
    );
    c.ok(OP, need_again);
}
