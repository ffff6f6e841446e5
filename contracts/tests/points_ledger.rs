//! The shared points ledger: property tests over random sequences of grants, payments,
//! redemptions, expiries and the passing of time. After every call, for every point type and
//! issuer, minted - burned - expired = sum of balances = sum of lots; a failed call changes
//! nothing; a successful one moves exactly what it says and announces it with events.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use yui_contracts::pb::{self, points_call::Call as P, tx_body::Call};
use yui_contracts::points::{self, PointType};

const HOLDERS: [[u8; 32]; 4] = [RES1, RES2, STORE, STORE_B];
const ISSUERS: [&str; 2] = ["hachioji", "machida"];
const DAY: u64 = 86_400_000;

#[derive(Clone, Debug)]
enum Op {
    Grant {
        admin: usize,
        ty: bool,
        holder: usize,
        amount: u64,
        days: u64,
    },
    Transfer {
        from: usize,
        to: usize,
        ty: bool,
        issuer: usize,
        amount: u64,
    },
    Redeem {
        store: usize,
        ty: bool,
        issuer: usize,
        amount: u64,
    },
    Expire {
        holder: usize,
        ty: bool,
        issuer: usize,
    },
    Settle {
        admin: usize,
    },
    Wait {
        days: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2usize, any::<bool>(), 0..4usize, 0..400u64, 0..4u64).prop_map(
            |(admin, ty, holder, amount, days)| Op::Grant { admin, ty, holder, amount, days }
        ),
        4 => (0..4usize, 0..4usize, any::<bool>(), 0..2usize, 0..500u64).prop_map(
            |(from, to, ty, issuer, amount)| Op::Transfer { from, to, ty, issuer, amount }
        ),
        2 => (2..4usize, any::<bool>(), 0..2usize, 0..700u64).prop_map(
            |(store, ty, issuer, amount)| Op::Redeem { store, ty, issuer, amount }
        ),
        1 => (0..4usize, any::<bool>(), 0..2usize)
            .prop_map(|(holder, ty, issuer)| Op::Expire { holder, ty, issuer }),
        1 => (0..2usize).prop_map(|admin| Op::Settle { admin }),
        1 => (0..3u64).prop_map(|days| Op::Wait { days }),
    ]
}

fn ty_of(eco: bool) -> (PointType, i32) {
    if eco {
        (PointType::Eco, pb::PointType::Eco as i32)
    } else {
        (PointType::Contribution, pb::PointType::Contribution as i32)
    }
}

fn spendable(c: &Chain, h: [u8; 32], ty: PointType, issuer: &str) -> u64 {
    points::balance(&c.state, &h, ty, issuer, c.time_ms)
        .unwrap()
        .spendable
}

fn points_events(r: &yui_contracts::Receipt) -> usize {
    r.events
        .iter()
        .filter(|e| matches!(e.kind, Some(pb::event::Kind::Points(_))))
        .count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn ledger_invariants_hold_over_random_call_sequences(ops in prop::collection::vec(op(), 1..60)) {
        let mut c = Chain::new(1_750_000_000_000, vec![
            ("eco.min_redeem_points".into(), 50),
            ("volunteer.min_redeem_points".into(), 200),
        ]);
        let mut settlements: Vec<(String, usize)> = Vec::new();
        for op in ops {
            match op {
                Op::Wait { days } => {
                    c.time_ms += days * DAY;
                    continue;
                }
                Op::Grant { admin, ty, holder, amount, days } => {
                    let (t, tp) = ty_of(ty);
                    let h = HOLDERS[holder];
                    let was = spendable(&c, h, t, ISSUERS[admin]);
                    let r = c.run([ADMIN, ADMIN_B][admin], Call::Points(pb::PointsCall {
                        call: Some(P::Grant(pb::GrantPoints {
                            point_type: tp,
                            holder: h.to_vec(),
                            amount,
                            reason: "spring campaign".into(),
                            expires_at_ms: if days == 0 { 0 } else { c.time_ms + days * DAY },
                        })),
                    }));
                    prop_assert_eq!(r.result.is_ok(), amount > 0, "{:?}", r.result);
                    if r.result.is_ok() {
                        prop_assert_eq!(spendable(&c, h, t, ISSUERS[admin]), was + amount);
                    }
                }
                Op::Transfer { from, to, ty, issuer, amount } => {
                    let (t, tp) = ty_of(ty);
                    let (f, d, i) = (HOLDERS[from], HOLDERS[to], ISSUERS[issuer]);
                    let (fb, db) = (spendable(&c, f, t, i), spendable(&c, d, t, i));
                    let r = c.run(f, Call::Points(pb::PointsCall {
                        call: Some(P::Transfer(pb::TransferPoints {
                            point_type: tp,
                            issuer: i.into(),
                            to: d.to_vec(),
                            amount,
                            memo: String::new(),
                        })),
                    }));
                    // Only to a store, never to oneself, never more than is spendable.
                    let allowed = amount > 0 && from != to && to >= 2 && amount <= fb;
                    prop_assert_eq!(r.result.is_ok(), allowed, "{:?}", r.result);
                    if allowed {
                        prop_assert_eq!(spendable(&c, f, t, i), fb - amount);
                        prop_assert_eq!(spendable(&c, d, t, i), db + amount);
                    }
                }
                Op::Redeem { store, ty, issuer, amount } => {
                    let (t, tp) = ty_of(ty);
                    let (s, i) = (HOLDERS[store], ISSUERS[issuer]);
                    let sb = spendable(&c, s, t, i);
                    let burned = points::totals(&c.state, t, i).unwrap().burned;
                    let r = c.run(s, Call::Points(pb::PointsCall {
                        call: Some(P::Redeem(pb::RedeemPoints { point_type: tp, issuer: i.into(), amount })),
                    }));
                    let min = if ty { 50 } else { 200 };
                    let allowed = amount >= min && amount <= sb;
                    prop_assert_eq!(r.result.is_ok(), allowed, "{:?}", r.result);
                    if allowed {
                        prop_assert_eq!(spendable(&c, s, t, i), sb - amount);
                        prop_assert_eq!(points::totals(&c.state, t, i).unwrap().burned, burned + amount);
                        let id = r.events.iter().find_map(|e| match &e.kind {
                            Some(pb::event::Kind::Points(pb::PointsEvent {
                                kind: Some(pb::points_event::Kind::Redeemed(x)),
                            })) => Some(x.settlement_id.clone()),
                            _ => None,
                        }).unwrap();
                        settlements.push((id, issuer));
                    }
                }
                Op::Expire { holder, ty, issuer } => {
                    let (t, tp) = ty_of(ty);
                    let (h, i) = (HOLDERS[holder], ISSUERS[issuer]);
                    let pending = points::balance(&c.state, &h, t, i, c.time_ms).unwrap().expired_pending;
                    let r = c.run(RES1, Call::Points(pb::PointsCall {
                        call: Some(P::Expire(pb::ExpirePoints { point_type: tp, issuer: i.into(), holder: h.to_vec() })),
                    }));
                    prop_assert_eq!(r.result.is_ok(), pending > 0, "{:?}", r.result);
                    let after = points::balance(&c.state, &h, t, i, c.time_ms).unwrap();
                    prop_assert_eq!(after.expired_pending, 0);
                }
                Op::Settle { admin } => {
                    let Some((id, issuer)) = settlements.pop() else { continue };
                    let r = c.run([ADMIN, ADMIN_B][admin], Call::Points(pb::PointsCall {
                        call: Some(P::Settle(pb::SettleRedemption { settlement_id: id.clone(), payment_reference: "paid".into() })),
                    }));
                    prop_assert_eq!(r.result.is_ok(), admin == issuer, "{:?}", r.result);
                    if r.result.is_ok() {
                        prop_assert!(points::settlement(&c.state, &id).unwrap().unwrap().settled_at_ms > 0);
                    }
                }
            }
            // Every call: the invariant holds, and the holders' balances add up to it.
            prop_assert_eq!(points::check_invariant(&c.state).unwrap(), Ok(()));
            for t in [PointType::Eco, PointType::Contribution] {
                for i in ISSUERS {
                    let tot = points::totals(&c.state, t, i).unwrap();
                    let held: u64 = HOLDERS
                        .iter()
                        .map(|h| {
                            let b = points::balance(&c.state, h, t, i, c.time_ms).unwrap();
                            b.spendable + b.expired_pending
                        })
                        .sum();
                    prop_assert_eq!(tot.outstanding(), held);
                }
            }
        }
    }
}

#[test]
fn expired_points_leave_by_rule_and_are_never_spent() {
    let mut c = Chain::new(1_750_000_000_000, vec![]);
    let grant = |amount, expires_at_ms| {
        Call::Points(pb::PointsCall {
            call: Some(P::Grant(pb::GrantPoints {
                point_type: pb::PointType::Eco as i32,
                holder: RES1.to_vec(),
                amount,
                reason: "campaign".into(),
                expires_at_ms,
            })),
        })
    };
    let t0 = c.time_ms;
    let r = c.run(ADMIN, grant(100, t0 + DAY));
    assert!(r.result.is_ok());
    let r = c.run(ADMIN, grant(50, t0 + 10 * DAY));
    assert!(r.result.is_ok());
    // Expiry is rounded up to the end of the JST day.
    let b = points::balance(&c.state, &RES1, PointType::Eco, "hachioji", c.time_ms).unwrap();
    assert_eq!(b.spendable, 150);
    assert_eq!(b.next_expiry_ms, points::round_expiry(t0 + DAY));
    assert_eq!(b.next_expiry_amount, 100);
    assert_eq!(b.next_expiry_ms % DAY, 15 * 3_600_000); // midnight JST = 15:00 UTC
                                                        // Two days later the first lot is past its expiry: not spendable, removed on the next move.
    c.time_ms += 2 * DAY;
    let b = points::balance(&c.state, &RES1, PointType::Eco, "hachioji", c.time_ms).unwrap();
    assert_eq!((b.spendable, b.expired_pending), (50, 100));
    let pay = |amount| {
        Call::Points(pb::PointsCall {
            call: Some(P::Transfer(pb::TransferPoints {
                point_type: pb::PointType::Eco as i32,
                issuer: "hachioji".into(),
                to: STORE.to_vec(),
                amount,
                memo: String::new(),
            })),
        })
    };
    assert_eq!(c.err(RES1, pay(120)), "points.insufficient_balance");
    let r = c.run(RES1, pay(40));
    assert!(r.result.is_ok());
    assert_eq!(points_events(&r), 2); // expired, then transferred
    let t = points::totals(&c.state, PointType::Eco, "hachioji").unwrap();
    assert_eq!(
        (t.minted, t.burned, t.expired, t.outstanding()),
        (150, 0, 100, 50)
    );
    // The store received the points with their expiry.
    let s = points::balance(&c.state, &STORE, PointType::Eco, "hachioji", c.time_ms).unwrap();
    assert_eq!(s.next_expiry_ms, points::round_expiry(t0 + 10 * DAY));
    // History: each holder sees its own movements, oldest first.
    let page = |size, token: &str| pb::PageRequest {
        page_size: size,
        page_token: token.to_string(),
    };
    let (h, more) = points::history(&c.state, &RES1, Some(&page(10, ""))).unwrap();
    assert_eq!(h.len(), 4);
    assert!(more.is_empty());
    let (h, more) = points::history(&c.state, &RES1, Some(&page(3, ""))).unwrap();
    assert_eq!(h.len(), 3);
    assert!(!more.is_empty());
    let (h, last) = points::history(&c.state, &RES1, Some(&page(3, &more))).unwrap();
    assert_eq!(h.len(), 1);
    assert!(last.is_empty());
    assert!(matches!(
        h[0].event.as_ref().unwrap().kind,
        Some(pb::points_event::Kind::Transferred(_))
    ));
    // Minting by hand needs a reason and a municipality admin.
    assert_eq!(
        c.err(
            ADMIN,
            Call::Points(pb::PointsCall {
                call: Some(P::Grant(pb::GrantPoints {
                    point_type: pb::PointType::Eco as i32,
                    holder: RES1.to_vec(),
                    amount: 5,
                    reason: " ".into(),
                    expires_at_ms: 0,
                })),
            })
        ),
        "points.missing_text"
    );
    assert_eq!(c.err(STORE, grant(5, 0)), "governance.missing_role");
}
