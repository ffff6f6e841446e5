//! The eco contract in memory: the reduction formulas against hand-worked examples, the rules
//! that must reject (double registration, overlapping periods, periods across fiscal years,
//! the 500 t limit, roles), and the whole program year from registration to credit sale.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use yui_contracts::eco::{self, compute};
use yui_contracts::pb::{self, eco_call::Call as E, points_call::Call as P, tx_body::Call};
use yui_contracts::points::{self, PointType};

const GRID_FY2025: i64 = 438_000; // 0.438 kg-CO2/kWh, in g/MWh
const GRID_FY2026: i64 = 420_000;
/// The devices of these tests were monitored from the start of FY2025 (the chain starts then,
/// a few blocks before their registration).
const FY2025_START: u64 = 1_743_433_200_000; // 2025-04-01T00:00+09:00

fn eco(c: E) -> Call {
    Call::Eco(pb::EcoCall { call: Some(c) })
}
fn pts(c: P) -> Call {
    Call::Points(pb::PointsCall { call: Some(c) })
}

fn chain() -> Chain {
    Chain::new(
        jst_ms(2025, 4, 1),
        vec![
            (eco::grid_param(2025), GRID_FY2025),
            (eco::grid_param(2026), GRID_FY2026),
        ],
    )
}

// ---- the formulas, worked by hand ---------------------------------------------------------

#[test]
fn ev_reduction_worked_example() {
    // EV, one month: 1,000 km driven, 150 kWh charged; the equivalent petrol car does 15 km/L.
    // Factors: gasoline 2.32 kg-CO2/L = 2,320,000 mg/L; grid 0.438 kg/kWh = 438,000 g/MWh.
    //   BL_mg = 1,000,000 m * 2,320,000 mg/L / 15,000 m/L = 154,666,666 mg (154.67 kg)
    //   PJ_mg = 150,000 Wh * 438,000 g/MWh / 1000         =  65,700,000 mg ( 65.70 kg)
    //   ER_g  = (154,666,666 - 65,700,000) / 1000          =      88,966 g
    let r = compute(
        pb::DeviceKind::Ev,
        15_000,
        150_000,
        1_000_000,
        0,
        438_000,
        2_320_000,
    );
    assert_eq!(r.baseline_g, 154_666);
    assert_eq!(r.project_g, 65_700);
    assert_eq!(r.reduction_g, 88_966);
}

#[test]
fn phv_reduction_worked_example() {
    // PHV: 800 km, 60 kWh charged, 10 L of petrol; baseline 20 km/L.
    //   BL_mg = 800,000 * 2,320,000 / 20,000                    = 92,800,000 mg
    //   PJ_mg = 60,000 * 438,000 / 1000 + 10,000 * 2,320,000 / 1000
    //         = 26,280,000 + 23,200,000                          = 49,480,000 mg
    //   ER_g  = 43,320,000 / 1000                                 =     43,320 g
    let r = compute(
        pb::DeviceKind::Phv,
        20_000,
        60_000,
        800_000,
        10_000,
        438_000,
        2_320_000,
    );
    assert_eq!(
        (r.baseline_g, r.project_g, r.reduction_g),
        (92_800, 49_480, 43_320)
    );
}

#[test]
fn phv_driving_on_petrol_reduces_nothing_never_negative() {
    // 100 km on 10 L against a 20 km/L baseline: BL = 11,600,000 mg < PJ = 23,200,000 mg.
    let r = compute(
        pb::DeviceKind::Phv,
        20_000,
        0,
        100_000,
        10_000,
        438_000,
        2_320_000,
    );
    assert_eq!(
        (r.baseline_g, r.project_g, r.reduction_g),
        (11_600, 23_200, 0)
    );
}

#[test]
fn solar_reduction_matches_the_studys_3kw_figure() {
    // The study: a 3 kW home system saves about 1,950 kg a year. At 0.438 kg/kWh that is
    // 4,452 kWh self-consumed: ER_g = 4,452,000 Wh * 438,000 g/MWh / 1,000,000 = 1,949,976 g.
    let r = compute(
        pb::DeviceKind::Solar,
        0,
        4_452_000,
        0,
        0,
        438_000,
        2_320_000,
    );
    assert_eq!(
        (r.baseline_g, r.project_g, r.reduction_g),
        (1_949_976, 0, 1_949_976)
    );
    // Truncation happens once, on milligrams: 1 Wh * 438,000 / 1000 = 438 mg -> 0 g.
    assert_eq!(
        compute(pb::DeviceKind::Solar, 0, 1, 0, 0, 438_000, 0).reduction_g,
        0
    );
    assert_eq!(
        compute(pb::DeviceKind::Solar, 0, 3, 0, 0, 438_000, 0).reduction_g,
        1
    );
}

// ---- the contract ------------------------------------------------------------------------

fn program(c: &mut Chain) {
    c.ok(
        ADMIN,
        eco(E::CreateProgram(pb::CreateProgram {
            program_id: "hachioji-eco".into(),
            name: "Hachioji home solar and EV program".into(),
            points_per_kg: 1,
            points_expiry_days: 730,
        })),
    );
}

fn participant(c: &mut Chain, account: [u8; 32]) -> String {
    let ev = c.ok(
        ADMIN,
        eco(E::RegisterParticipant(pb::RegisterParticipant {
            program_id: "hachioji-eco".into(),
            account: account.to_vec(),
            person: Some(pb::PersonRef {
                vault_id: "v-1".into(),
                commitment: vec![3; 32],
            }),
        })),
    );
    match &ev[0] {
        pb::event::Kind::Eco(pb::EcoEvent {
            kind: Some(pb::eco_event::Kind::ParticipantRegistered(p)),
        }) => p.participant_id.clone(),
        e => panic!("unexpected {e:?}"),
    }
}

fn device(c: &mut Chain, part: &str, kind: pb::DeviceKind, hash: u8, baseline: u64) -> String {
    let ev = c.ok(
        ADMIN,
        eco(E::RegisterDevice(pb::RegisterDevice {
            participant_id: part.into(),
            kind: kind as i32,
            identity_hash: vec![hash; 32],
            baseline_m_per_l: baseline,
            methodology: String::new(),
            fuel: 0,
            monitored_from_ms: FY2025_START,
        })),
    );
    match &ev[0] {
        pb::event::Kind::Eco(pb::EcoEvent {
            kind: Some(pb::eco_event::Kind::DeviceRegistered(d)),
        }) => d.device.as_ref().unwrap().device_id.clone(),
        e => panic!("unexpected {e:?}"),
    }
}

fn reading(dev: &str, start: u64, end: u64, wh: u64, m: u64) -> E {
    E::SubmitReading(pb::SubmitReading {
        device_id: dev.into(),
        period_start_ms: start,
        period_end_ms: end,
        electricity_wh: wh,
        distance_m: m,
        fuel_ml: 0,
        grid_wh: 0,
        evidence_hash: Vec::new(),
    })
}

fn month(y: i64, m: i64) -> (u64, u64) {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (jst_ms(y, m, 1), jst_ms(ny, nm, 1))
}

fn reduction_of(ev: &[pb::event::Kind]) -> pb::Reduction {
    ev.iter()
        .find_map(|e| match e {
            pb::event::Kind::Eco(pb::EcoEvent {
                kind: Some(pb::eco_event::Kind::ReductionRecorded(r)),
            }) => r.reduction.clone(),
            _ => None,
        })
        .unwrap()
}

#[test]
fn a_program_year_from_registration_to_credit_sale() {
    let mut c = chain();
    program(&mut c);
    let solar_p = participant(&mut c, RES1);
    let ev_p = participant(&mut c, RES2);
    let solar = device(&mut c, &solar_p, pb::DeviceKind::Solar, 0xa1, 0);
    let car = device(&mut c, &ev_p, pb::DeviceKind::Ev, 0xb2, 15_000);
    // A year of monthly readings, April 2025 to March 2026, submitted after each month.
    c.time_ms = jst_ms(2026, 4, 2);
    let mut solar_g = 0;
    let mut ev_g = 0;
    for i in 0..12 {
        let (y, m) = if i < 9 { (2025, 4 + i) } else { (2026, i - 8) };
        let (s, e) = month(y, m);
        // 371 kWh a month self-consumed = 4,452 kWh a year.
        let r = reduction_of(&c.ok(METER, eco(reading(&solar, s, e, 371_000, 0))));
        assert_eq!(r.fiscal_year, 2025);
        assert_eq!(r.methodology, "EN-S-025");
        assert_eq!(r.reduction_g, 371_000 * 438_000 / 1_000_000);
        solar_g += r.reduction_g;
        let r = reduction_of(&c.ok(METER, eco(reading(&car, s, e, 150_000, 1_000_000))));
        assert_eq!(r.reduction_g, 88_966);
        ev_g += r.reduction_g;
    }
    assert_eq!(solar_g, 12 * 162_498);
    assert_eq!(ev_g, 12 * 88_966);

    // Grant points at 1 point per kg: whole kilograms, the remainder waits.
    c.ok(
        ADMIN,
        eco(E::GrantPoints(pb::GrantEcoPoints {
            participant_id: solar_p.clone(),
        })),
    );
    let now = c.time_ms;
    let bal = points::balance(&c.state, &RES1, PointType::Eco, "hachioji", now).unwrap();
    assert_eq!(bal.spendable, solar_g / 1000);
    let p = eco::participant(&c.state, &solar_p).unwrap().unwrap();
    assert_eq!(p.ungranted_mg, (solar_g % 1000) * 1000);
    assert_eq!(
        c.err(
            ADMIN,
            eco(E::GrantPoints(pb::GrantEcoPoints {
                participant_id: solar_p.clone()
            }))
        ),
        "eco.nothing_to_grant"
    );

    // Pay a store, which redeems with the municipality; the municipality settles.
    c.ok(
        RES1,
        pts(P::Transfer(pb::TransferPoints {
            point_type: pb::PointType::Eco as i32,
            issuer: "hachioji".into(),
            to: STORE.to_vec(),
            amount: 1500,
            memo: "receipt 0042".into(),
        })),
    );
    let ev = c.ok(
        STORE,
        pts(P::Redeem(pb::RedeemPoints {
            point_type: pb::PointType::Eco as i32,
            issuer: "hachioji".into(),
            amount: 1200,
        })),
    );
    let sid = ev
        .iter()
        .find_map(|e| match e {
            pb::event::Kind::Points(pb::PointsEvent {
                kind: Some(pb::points_event::Kind::Redeemed(r)),
            }) => Some(r.settlement_id.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        c.err(
            ADMIN_B,
            pts(P::Settle(pb::SettleRedemption {
                settlement_id: sid.clone(),
                payment_reference: "bank 1".into()
            }))
        ),
        "points.other_issuer"
    );
    c.ok(
        ADMIN,
        pts(P::Settle(pb::SettleRedemption {
            settlement_id: sid.clone(),
            payment_reference: "transfer 2026-0417".into(),
        })),
    );
    let t = points::totals(&c.state, PointType::Eco, "hachioji").unwrap();
    assert_eq!((t.minted, t.burned, t.expired), (solar_g / 1000, 1200, 0));
    assert_eq!(
        points::balance(&c.state, &STORE, PointType::Eco, "hachioji", c.time_ms)
            .unwrap()
            .spendable,
        300
    );
    assert!(points::check_invariant(&c.state).unwrap().is_ok());

    // The credit report claims the fiscal year's readings exactly once.
    let ev = c.ok(
        ADMIN,
        eco(E::CreateReport(pb::CreateCreditReport {
            program_id: "hachioji-eco".into(),
            period_start_ms: jst_ms(2025, 4, 1),
            period_end_ms: jst_ms(2026, 4, 1),
        })),
    );
    let rep = match &ev[0] {
        pb::event::Kind::Eco(pb::EcoEvent {
            kind: Some(pb::eco_event::Kind::ReportCreated(r)),
        }) => r.report.clone().unwrap(),
        e => panic!("unexpected {e:?}"),
    };
    assert_eq!(rep.readings, 24);
    assert_eq!(rep.participants, 2);
    assert_eq!(rep.total_g, solar_g + ev_g);
    assert_eq!(rep.by_methodology.len(), 2);
    assert_eq!(
        eco::report_readings(&c.state, &rep.report_id)
            .unwrap()
            .len(),
        24
    );
    assert_eq!(
        c.err(
            ADMIN,
            eco(E::CreateReport(pb::CreateCreditReport {
                program_id: "hachioji-eco".into(),
                period_start_ms: jst_ms(2025, 1, 1),
                period_end_ms: jst_ms(2026, 12, 1),
            }))
        ),
        "eco.nothing_to_claim"
    );
    // 3,017,568 g: at most 3 whole tonnes can be certified.
    let certify = |t: u64| {
        eco(E::CertifyReport(pb::CertifyCreditReport {
            report_id: rep.report_id.clone(),
            certified_tonnes: t,
            serial_numbers: vec!["JCR-0001-2026".into()],
        }))
    };
    assert_eq!(c.err(ADMIN, certify(4)), "eco.certified_above_report");
    c.ok(ADMIN, certify(3));
    assert_eq!(c.err(ADMIN, certify(3)), "eco.already_certified");
    let sale = |t: u64| {
        eco(E::RecordSale(pb::RecordCreditSale {
            report_id: rep.report_id.clone(),
            buyer: "Tama Shinkin Bank".into(),
            tonnes: t,
            price_yen_per_tonne: 2536,
        }))
    };
    c.ok(ADMIN, sale(2));
    assert_eq!(c.err(ADMIN, sale(2)), "eco.sale_above_certified");
    c.ok(ADMIN, sale(1));
    let rep = eco::report(&c.state, &rep.report_id).unwrap().unwrap();
    assert_eq!(rep.certified_tonnes, 3);
    assert_eq!(rep.sales.len(), 2);

    // Totals for the admin view by methodology and fiscal year.
    let (totals, parts, devs) = eco::program_totals(&c.state, "hachioji-eco").unwrap();
    assert_eq!((parts, devs), (2, 2));
    let by: Vec<(String, u32, u64, u64)> = totals
        .into_iter()
        .map(|t| (t.methodology, t.fiscal_year, t.readings, t.reduction_g))
        .collect();
    assert_eq!(
        by,
        vec![
            ("EN-S-012".into(), 2025, 12, ev_g),
            ("EN-S-025".into(), 2025, 12, solar_g)
        ]
    );
}

#[test]
fn rules_that_must_reject() {
    let mut c = chain();
    program(&mut c);
    let p1 = participant(&mut c, RES1);
    let solar = device(&mut c, &p1, pb::DeviceKind::Solar, 0xa1, 0);
    // The same installation cannot join again, here or in another municipality's program.
    assert_eq!(
        c.err(
            ADMIN,
            eco(E::RegisterDevice(pb::RegisterDevice {
                participant_id: p1.clone(),
                kind: pb::DeviceKind::Solar as i32,
                identity_hash: vec![0xa1; 32],
                baseline_m_per_l: 0,
                methodology: String::new(),
                fuel: 0,
                monitored_from_ms: FY2025_START,
            }))
        ),
        "eco.device_already_registered"
    );
    // Another municipality's admin cannot manage this program.
    assert_eq!(
        c.err(
            ADMIN_B,
            eco(E::RegisterParticipant(pb::RegisterParticipant {
                program_id: "hachioji-eco".into(),
                account: RES_B.to_vec(),
                person: Some(pb::PersonRef {
                    vault_id: "v-2".into(),
                    commitment: vec![3; 32],
                }),
            }))
        ),
        "eco.not_program_admin"
    );
    c.time_ms = jst_ms(2026, 6, 1);
    let (s, e) = month(2025, 5);
    c.ok(METER, eco(reading(&solar, s, e, 100_000, 0)));
    // Overlapping the same month, or straddling its end.
    assert_eq!(
        c.err(METER, eco(reading(&solar, s, e, 1, 0))),
        "eco.overlapping_reading"
    );
    assert_eq!(
        c.err(
            METER,
            eco(reading(&solar, s + 86_400_000, e + 86_400_000, 1, 0))
        ),
        "eco.overlapping_reading"
    );
    assert_eq!(
        c.err(METER, eco(reading(&solar, s - 86_400_000, s + 1, 1, 0))),
        "eco.overlapping_reading"
    );
    // Adjacent periods are fine, before and after.
    let (s0, _) = month(2025, 4);
    c.ok(METER, eco(reading(&solar, s0, s, 1, 0)));
    let (_, e2) = month(2025, 6);
    c.ok(METER, eco(reading(&solar, e, e2, 1, 0)));
    // Across 1 April: must be split.
    assert_eq!(
        c.err(
            METER,
            eco(reading(
                &solar,
                jst_ms(2026, 3, 15),
                jst_ms(2026, 4, 15),
                1,
                0
            ))
        ),
        "eco.period_spans_fiscal_years"
    );
    // The factor of the year the reduction happened: FY2026 uses 420,000 g/MWh.
    let r = reduction_of(&c.ok(
        METER,
        eco(reading(
            &solar,
            jst_ms(2026, 4, 1),
            jst_ms(2026, 5, 1),
            1_000_000,
            0,
        )),
    ));
    assert_eq!(
        (r.fiscal_year, r.grid_g_per_mwh, r.reduction_g),
        (2026, 420_000, 420_000)
    );
    // A year without a factor is refused with the parameter to set.
    let now = c.time_ms;
    c.time_ms = jst_ms(2027, 5, 2);
    assert_eq!(
        c.err(
            METER,
            eco(reading(
                &solar,
                jst_ms(2027, 4, 1),
                jst_ms(2027, 5, 1),
                1,
                0
            ))
        ),
        "eco.missing_grid_factor"
    );
    c.time_ms = now;
    // Manual entry needs the evidence hash; a stranger may not submit at all.
    let (s7, e7) = month(2025, 7);
    assert_eq!(
        c.err(RES1, eco(reading(&solar, s7, e7, 1, 0))),
        "eco.missing_evidence"
    );
    let mut manual = reading(&solar, s7, e7, 1000, 0);
    if let E::SubmitReading(r) = &mut manual {
        r.evidence_hash = vec![0xee; 32];
    }
    assert!(reduction_of(&c.ok(RES1, eco(manual.clone()))).manual);
    assert_eq!(c.err(RES2, eco(manual)), "eco.not_allowed_to_submit");
    // No readings of the future.
    assert_eq!(
        c.err(
            METER,
            eco(reading(
                &solar,
                jst_ms(2026, 5, 1),
                jst_ms(2026, 7, 1),
                1,
                0
            ))
        ),
        "eco.future_period"
    );
    // The 500 t-CO2 per participant and year limit: 1,141 MWh at 438 g/kWh is 499.758 t;
    // one more MWh crosses it. The crossing reading is recorded whole and flagged, and only
    // the part up to the limit is credited; after it, readings are recorded and credit nothing.
    let (s8, e8) = month(2025, 8);
    let fy2025 = |c: &Chain| {
        let p = eco::participant(&c.state, &p1).unwrap().unwrap();
        p.years
            .iter()
            .find(|(y, _)| *y == 2025)
            .map_or(0, |(_, g)| *g)
    };
    let before = fy2025(&c);
    let big = reduction_of(&c.ok(METER, eco(reading(&solar, s8, e8, 1_141_000_000, 0))));
    assert!(!big.over_limit);
    let (s9, e9) = month(2025, 9);
    let crossing = reduction_of(&c.ok(METER, eco(reading(&solar, s9, e9, 1_000_000, 0))));
    assert_eq!(crossing.reduction_g, 438_000);
    assert!(crossing.over_limit);
    let year_so_far = before + big.credited_g;
    assert_eq!(
        crossing.credited_g,
        500_000_000 - year_so_far.min(500_000_000)
    );
    assert!(crossing.credited_g < crossing.reduction_g);
    let (s10, e10) = month(2025, 10);
    let after = reduction_of(&c.ok(METER, eco(reading(&solar, s10, e10, 1_000_000, 0))));
    assert_eq!(
        (after.reduction_g, after.credited_g, after.over_limit),
        (438_000, 0, true)
    );
    assert_eq!(fy2025(&c), 500_000_000);
    // Removing the participant releases its device for another program.
    c.ok(
        ADMIN,
        eco(E::RemoveParticipant(pb::RemoveParticipant {
            participant_id: p1.clone(),
        })),
    );
    c.ok(
        ADMIN_B,
        eco(E::CreateProgram(pb::CreateProgram {
            program_id: "machida-eco".into(),
            name: "Machida eco".into(),
            points_per_kg: 2,
            points_expiry_days: 0,
        })),
    );
    let ev = c.ok(
        ADMIN_B,
        eco(E::RegisterParticipant(pb::RegisterParticipant {
            program_id: "machida-eco".into(),
            account: RES_B.to_vec(),
            person: Some(pb::PersonRef {
                vault_id: "v-3".into(),
                commitment: vec![4; 32],
            }),
        })),
    );
    let pb_id = match &ev[0] {
        pb::event::Kind::Eco(pb::EcoEvent {
            kind: Some(pb::eco_event::Kind::ParticipantRegistered(p)),
        }) => p.participant_id.clone(),
        e => panic!("unexpected {e:?}"),
    };
    c.ok(
        ADMIN_B,
        eco(E::RegisterDevice(pb::RegisterDevice {
            participant_id: pb_id,
            kind: pb::DeviceKind::Solar as i32,
            identity_hash: vec![0xa1; 32],
            baseline_m_per_l: 0,
            methodology: "EN-R-002".into(),
            fuel: 0,
            monitored_from_ms: FY2025_START,
        })),
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Readings in any order on two devices of one participant: a reading is accepted exactly
    /// when its period overlaps no earlier accepted reading of the same device, whether the
    /// check takes the in-order fast path or scans the index.
    #[test]
    fn overlap_check_matches_a_naive_interval_model(
        periods in proptest::collection::vec((0u64..2, 0u64..360, 1u64..40), 1..24)
    ) {
        let mut c = chain();
        program(&mut c);
        let p = participant(&mut c, RES1);
        let devs = [
            device(&mut c, &p, pb::DeviceKind::Solar, 0xb1, 0),
            device(&mut c, &p, pb::DeviceKind::Solar, 0xb2, 0),
        ];
        c.time_ms = jst_ms(2026, 4, 2);
        let day0 = jst_ms(2025, 4, 1);
        let day = 86_400_000;
        let mut accepted: Vec<(usize, u64, u64)> = Vec::new();
        let mut rejected = 0;
        for (dev, start, len) in periods {
            let dev = dev as usize;
            let (s, e) = (start, (start + len).min(365));
            let overlaps = accepted.iter().any(|&(d, s2, e2)| d == dev && s < e2 && s2 < e);
            let r = c.run(METER, eco(reading(&devs[dev], day0 + s * day, day0 + e * day, 1_000, 0)));
            match r.result {
                Ok(()) => {
                    proptest::prop_assert!(!overlaps, "accepted an overlapping period {s}..{e}");
                    accepted.push((dev, s, e));
                }
                Err(err) => {
                    proptest::prop_assert!(overlaps, "refused {s}..{e}: {}", err.code);
                    proptest::prop_assert_eq!(err.code, "eco.overlapping_reading");
                    rejected += 1;
                }
            }
        }
        proptest::prop_assert!(accepted.len() + rejected > 0);
    }
}

#[test]
fn grants_keep_the_exact_remainder_at_a_rate_that_does_not_divide_a_kilogram() {
    // 3 points per kg: a point is worth 333⅓ g. Eight readings of 400 g each, each followed by
    // a grant: 3,200 g in all are worth 9.6 points, so 9 points are granted and 200 g remain.
    // Rounding each grant's grams up to whole grams used to lose about 0.67 g a grant.
    let mut c = chain();
    c.ok(
        ADMIN,
        eco(E::CreateProgram(pb::CreateProgram {
            program_id: "hachioji-eco".into(),
            name: "Hachioji home solar and EV program".into(),
            points_per_kg: 3,
            points_expiry_days: 730,
        })),
    );
    let p = participant(&mut c, RES1);
    let solar = device(&mut c, &p, pb::DeviceKind::Solar, 0xa1, 0);
    c.time_ms = jst_ms(2026, 4, 2);
    let mut granted = 0;
    let mut milligrams = 0;
    for i in 0..8 {
        let (s, e) = month(2025, 4 + i);
        // 914 Wh at 438 g/kWh = 400.3 g, recorded as 400 g.
        let r = reduction_of(&c.ok(METER, eco(reading(&solar, s, e, 914, 0))));
        assert_eq!(r.reduction_g, 400);
        let r = c.run(
            ADMIN,
            eco(E::GrantPoints(pb::GrantEcoPoints {
                participant_id: p.clone(),
            })),
        );
        for e in r.events.into_iter().filter_map(|e| e.kind) {
            if let pb::event::Kind::Eco(pb::EcoEvent {
                kind: Some(pb::eco_event::Kind::PointsGranted(g)),
            }) = e
            {
                granted += g.points;
                milligrams += g.milligrams;
            }
        }
    }
    assert_eq!(granted, 9);
    // 9 points are worth exactly 3,000 g; the participant keeps 200 g.
    assert_eq!(milligrams, 3_000_000);
    let part = eco::participant(&c.state, &p).unwrap().unwrap();
    assert_eq!(part.ungranted_mg, 200_000);
    assert_eq!(part.reduced_g, 3_200);
}

#[test]
fn a_withdrawn_report_frees_its_readings_for_a_new_one_and_cannot_be_certified() {
    let mut c = chain();
    program(&mut c);
    let p = participant(&mut c, RES1);
    let solar = device(&mut c, &p, pb::DeviceKind::Solar, 0xa1, 0);
    c.time_ms = jst_ms(2025, 8, 2);
    for m in 4..8 {
        let (s, e) = month(2025, m);
        c.ok(METER, eco(reading(&solar, s, e, 371_000, 0)));
    }
    let create = || {
        eco(E::CreateReport(pb::CreateCreditReport {
            program_id: "hachioji-eco".into(),
            period_start_ms: jst_ms(2025, 4, 1),
            period_end_ms: jst_ms(2025, 8, 1),
        }))
    };
    let report_of = |ev: &[pb::event::Kind]| match &ev[0] {
        pb::event::Kind::Eco(pb::EcoEvent {
            kind: Some(pb::eco_event::Kind::ReportCreated(r)),
        }) => r.report.clone().unwrap(),
        e => panic!("unexpected {e:?}"),
    };
    let first = report_of(&c.ok(ADMIN, create()));
    assert_eq!(first.readings, 4);
    assert_eq!(c.err(ADMIN, create()), "eco.nothing_to_claim");
    let withdraw = |id: &str, reason: &str| {
        eco(E::WithdrawReport(pb::WithdrawCreditReport {
            report_id: id.into(),
            reason: reason.into(),
        }))
    };
    assert_eq!(
        c.err(ADMIN, withdraw(&first.report_id, "")),
        "eco.missing_text"
    );
    let by_resident = c.err(RES1, withdraw(&first.report_id, "x"));
    assert_eq!(by_resident, "governance.missing_role");
    let ev = c.ok(
        ADMIN,
        withdraw(
            &first.report_id,
            "the committee asked for the April meter photo",
        ),
    );
    match &ev[0] {
        pb::event::Kind::Eco(pb::EcoEvent {
            kind: Some(pb::eco_event::Kind::ReportWithdrawn(r)),
        }) => assert!(r.report.as_ref().unwrap().withdrawn_at_ms > 0),
        e => panic!("unexpected {e:?}"),
    }
    assert!(eco::report_readings(&c.state, &first.report_id)
        .unwrap()
        .is_empty());
    assert_eq!(
        c.err(ADMIN, withdraw(&first.report_id, "again")),
        "eco.report_withdrawn"
    );
    assert_eq!(
        c.err(
            ADMIN,
            eco(E::CertifyReport(pb::CertifyCreditReport {
                report_id: first.report_id.clone(),
                certified_tonnes: 0,
                serial_numbers: vec!["JCR-1".into()],
            }))
        ),
        "eco.report_withdrawn"
    );
    // Re-submitted: the same readings, claimed by the new report.
    let second = report_of(&c.ok(ADMIN, create()));
    assert_ne!(second.report_id, first.report_id);
    assert_eq!(
        (second.readings, second.total_g),
        (first.readings, first.total_g)
    );
    let claimed = eco::report_readings(&c.state, &second.report_id).unwrap();
    assert_eq!(claimed.len(), 4);
    assert!(claimed.iter().all(|r| r.report_id == second.report_id));
    // A certified report cannot be withdrawn.
    c.ok(
        ADMIN,
        eco(E::CertifyReport(pb::CertifyCreditReport {
            report_id: second.report_id.clone(),
            certified_tonnes: 0,
            serial_numbers: vec!["JCR-2".into()],
        })),
    );
    assert_eq!(
        c.err(ADMIN, withdraw(&second.report_id, "late")),
        "eco.already_certified"
    );
}

#[test]
fn a_self_use_generator_reduces_the_grid_electricity_it_replaces_less_its_fuel() {
    // By hand: 100 kWh at 0.438 kg/kWh replace 43.8 kg; 10 L of diesel at 2.58 kg/L emit
    // 25.8 kg; the reduction is 18.0 kg.
    assert_eq!(
        compute(
            pb::DeviceKind::Generator,
            0,
            100_000,
            0,
            10_000,
            438_000,
            2_580_000
        ),
        eco::Computed {
            baseline_g: 43_800,
            project_g: 25_800,
            reduction_g: 18_000
        }
    );
    let mut c = chain();
    program(&mut c);
    let part = participant(&mut c, RES1);
    let register = |fuel: pb::Fuel, methodology: &str, hash: u8| {
        eco(E::RegisterDevice(pb::RegisterDevice {
            participant_id: part.clone(),
            kind: pb::DeviceKind::Generator as i32,
            identity_hash: vec![hash; 32],
            baseline_m_per_l: 0,
            methodology: methodology.into(),
            fuel: fuel as i32,
            monitored_from_ms: FY2025_START,
        }))
    };
    // A generator needs its fuel and its methodology; no other kind takes a fuel.
    assert_eq!(
        c.err(ADMIN, register(pb::Fuel::Unspecified, "EN-S-007", 0xc1)),
        "eco.invalid_fuel"
    );
    assert_eq!(
        c.err(ADMIN, register(pb::Fuel::Diesel, "", 0xc1)),
        "eco.invalid_methodology"
    );
    assert_eq!(
        c.err(
            ADMIN,
            eco(E::RegisterDevice(pb::RegisterDevice {
                participant_id: part.clone(),
                kind: pb::DeviceKind::Solar as i32,
                identity_hash: vec![0xc2; 32],
                baseline_m_per_l: 0,
                methodology: String::new(),
                fuel: pb::Fuel::Diesel as i32,
                monitored_from_ms: FY2025_START,
            }))
        ),
        "eco.invalid_fuel"
    );
    let ev = c.ok(ADMIN, register(pb::Fuel::Diesel, "EN-S-007", 0xc1));
    let dev = match &ev[0] {
        pb::event::Kind::Eco(pb::EcoEvent {
            kind: Some(pb::eco_event::Kind::DeviceRegistered(d)),
        }) => d.device.clone().unwrap(),
        e => panic!("unexpected {e:?}"),
    };
    assert_eq!(dev.fuel, pb::Fuel::Diesel as i32);
    c.time_ms = jst_ms(2025, 6, 2);
    let (s, e) = month(2025, 5);
    let generated = |wh: u64, fuel_ml: u64, start: u64, end: u64| {
        eco(E::SubmitReading(pb::SubmitReading {
            device_id: dev.device_id.clone(),
            period_start_ms: start,
            period_end_ms: end,
            electricity_wh: wh,
            distance_m: 0,
            fuel_ml,
            grid_wh: 0,
            evidence_hash: Vec::new(),
        }))
    };
    let r = reduction_of(&c.ok(METER, generated(100_000, 10_000, s, e)));
    assert_eq!(
        (r.baseline_g, r.project_g, r.reduction_g),
        (43_800, 25_800, 18_000)
    );
    // The diesel factor applied (the national default), recorded with the reading.
    assert_eq!(r.gasoline_mg_per_l, 2_580_000);
    assert_eq!(r.methodology, "EN-S-007");
    assert_eq!(r.device_kind, pb::DeviceKind::Generator as i32);
    // A generator that burns more than the grid would have emitted reduces nothing.
    let (s, e) = (jst_ms(2025, 6, 1), jst_ms(2025, 6, 2));
    let r = reduction_of(&c.ok(METER, generated(10_000, 10_000, s, e)));
    assert_eq!(r.reduction_g, 0);
    // A generator drives nowhere.
    let (s, e) = (jst_ms(2025, 4, 1), jst_ms(2025, 4, 2));
    let mut with_distance = generated(1, 1, s, e);
    if let Call::Eco(pb::EcoCall {
        call: Some(E::SubmitReading(r)),
    }) = &mut with_distance
    {
        r.distance_m = 5;
    }
    assert_eq!(c.err(METER, with_distance), "eco.vehicle_values_for_solar");
}

#[test]
fn a_reading_dated_before_its_device_counts_is_refused() {
    let mut c = chain();
    program(&mut c);
    let part = participant(&mut c, RES1);
    c.time_ms = jst_ms(2025, 6, 1);
    let register = |hash: u8, from: u64| {
        eco(E::RegisterDevice(pb::RegisterDevice {
            participant_id: part.clone(),
            kind: pb::DeviceKind::Solar as i32,
            identity_hash: vec![hash; 32],
            baseline_m_per_l: 0,
            methodology: String::new(),
            fuel: 0,
            monitored_from_ms: from,
        }))
    };
    // Monitored from a time still to come: refused.
    let later = c.time_ms + 86_400_000;
    assert_eq!(
        c.err(ADMIN, register(0xd1, later)),
        "eco.invalid_monitored_from"
    );
    // Registered without a time: its readings count from the registration's block time.
    let ev = c.ok(ADMIN, register(0xd1, 0));
    let d = match &ev[0] {
        pb::event::Kind::Eco(pb::EcoEvent {
            kind: Some(pb::eco_event::Kind::DeviceRegistered(d)),
        }) => d.device.clone().unwrap(),
        e => panic!("unexpected {e:?}"),
    };
    assert_eq!(d.monitored_from_ms, d.registered_at_ms);
    assert!(d.registered_at_ms >= FY2025_START);
    c.time_ms = d.registered_at_ms + 10 * 86_400_000;
    let day = 86_400_000;
    let r = |start: u64| eco(reading(&d.device_id, start, start + day, 1_000, 0));
    assert_eq!(
        c.err(METER, r(d.registered_at_ms - day)),
        "eco.reading_before_registration"
    );
    assert_eq!(
        c.err(METER, r(d.registered_at_ms - 1)),
        "eco.reading_before_registration"
    );
    c.ok(METER, r(d.registered_at_ms));
    // Onboarded with an earlier monitoring start: readings from then count, not before.
    let from = d.registered_at_ms - 5 * day;
    let ev = c.ok(ADMIN, register(0xd2, from));
    let d2 = match &ev[0] {
        pb::event::Kind::Eco(pb::EcoEvent {
            kind: Some(pb::eco_event::Kind::DeviceRegistered(d)),
        }) => d.device.clone().unwrap(),
        e => panic!("unexpected {e:?}"),
    };
    assert_eq!(d2.monitored_from_ms, from);
    let r2 = |start: u64| eco(reading(&d2.device_id, start, start + day, 1_000, 0));
    assert_eq!(
        c.err(METER, r2(from - day)),
        "eco.reading_before_registration"
    );
    c.ok(METER, r2(from));
}

#[test]
fn a_resident_applies_to_join_and_the_program_approves_or_declines() {
    let mut c = chain();
    program(&mut c);
    let person = |tag: u8| pb::PersonRef {
        vault_id: format!("v-{tag}"),
        commitment: vec![tag; 32],
    };
    let apply = |tag: u8| {
        eco(E::ApplyToJoin(pb::ApplyToJoin {
            program_id: "hachioji-eco".into(),
            person: Some(person(tag)),
        }))
    };
    let application_of = |ev: &[pb::event::Kind]| -> pb::JoinApplication {
        ev.iter()
            .find_map(|e| match e {
                pb::event::Kind::Eco(pb::EcoEvent {
                    kind: Some(pb::eco_event::Kind::ApplicationChanged(a)),
                }) => Some(a.clone()),
                _ => None,
            })
            .unwrap()
    };
    let a1 = application_of(&c.ok(RES1, apply(1)));
    assert_eq!(a1.status, pb::JoinStatus::JoinPending as i32);
    // One pending application per account and program.
    assert_eq!(c.err(RES1, apply(1)), "eco.application_pending");
    let a2 = application_of(&c.ok(RES2, apply(2)));
    let decide = |id: &str, approve: bool, reason: &str| {
        eco(E::DecideApplication(pb::DecideApplication {
            application_id: id.into(),
            approve,
            reason: reason.into(),
        }))
    };
    let pending = |c: &Chain| {
        eco::list_applications(
            &c.state,
            &pb::ListApplicationsRequest {
                program_id: "hachioji-eco".into(),
                status: pb::JoinStatus::JoinPending as i32,
                page: None,
            },
        )
        .unwrap()
        .applications
        .len()
    };
    assert_eq!(pending(&c), 2);
    // Only the program's municipality decides; a decline needs a reason.
    assert_eq!(
        c.err(RES2, decide(&a1.application_id, true, "")),
        "governance.missing_role"
    );
    assert_eq!(
        c.err(ADMIN_B, decide(&a1.application_id, true, "")),
        "eco.not_program_admin"
    );
    assert_eq!(
        c.err(ADMIN, decide(&a2.application_id, false, "")),
        "eco.missing_text"
    );
    let approved = application_of(&c.ok(ADMIN, decide(&a1.application_id, true, "")));
    assert_eq!(approved.status, pb::JoinStatus::JoinApproved as i32);
    let part = eco::participant(&c.state, &approved.participant_id)
        .unwrap()
        .unwrap();
    assert_eq!((part.account, part.vault_id.as_str()), (RES1, "v-1"));
    assert_eq!(
        c.err(ADMIN, decide(&a1.application_id, false, "late")),
        "eco.application_decided"
    );
    let declined =
        application_of(&c.ok(ADMIN, decide(&a2.application_id, false, "outside the city")));
    assert_eq!(declined.status, pb::JoinStatus::JoinDeclined as i32);
    assert_eq!(declined.reason, "outside the city");
    assert_eq!(pending(&c), 0);
    // A participant does not apply again; a declined applicant may.
    assert_eq!(c.err(RES1, apply(1)), "eco.already_participating");
    c.ok(RES2, apply(2));
    // The participants list, and an update of the vault reference.
    let listed = eco::list_participants(
        &c.state,
        &pb::ListParticipantsRequest {
            program_id: "hachioji-eco".into(),
            include_removed: false,
            page: None,
        },
    )
    .unwrap()
    .participants;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].participant_id, approved.participant_id);
    let update = |p: pb::PersonRef| {
        eco(E::UpdateParticipant(pb::UpdateParticipant {
            participant_id: approved.participant_id.clone(),
            person: Some(p),
        }))
    };
    assert_eq!(c.err(RES1, update(person(9))), "governance.missing_role");
    c.ok(ADMIN, update(person(9)));
    let part = eco::participant(&c.state, &approved.participant_id)
        .unwrap()
        .unwrap();
    assert_eq!(part.vault_id, "v-9");
}
