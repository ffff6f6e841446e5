//! The eco-points program over the real gRPC API of a running 4-validator network: register
//! participants (their personal data in the vault, only its id on the ledger) and devices,
//! submit a year of monthly meter readings, grant points, pay a store, redeem and settle,
//! build a credit report, export it, certify it, record a sale, and check the totals and
//! balances every service reports.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::metadata::MetadataValue;
use yui_node::api::personal_data::{auth_header, method, AUTH_HEADER};
use yui_proto::v1 as pb;
use yui_proto::v1::eco_call::Call as E;
use yui_proto::v1::eco_client::EcoClient;
use yui_proto::v1::personal_data_client::PersonalDataClient;
use yui_proto::v1::points_call::Call as P;
use yui_proto::v1::points_client::PointsClient;
use yui_proto::v1::tx_body::Call;
use yui_tests::*;
use yui_tests::{call_ok as ok, call_receipt};

const WAIT: Duration = Duration::from_secs(30);

fn pts(c: P) -> Call {
    Call::Points(pb::PointsCall { call: Some(c) })
}

async fn vault_ref(net: &Net, pseudonym: &str) -> pb::PersonRef {
    let mut pd = PersonalDataClient::connect(net.nodes[0].endpoint.clone())
        .await
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut req = tonic::Request::new(pb::PutPersonalDataRequest {
        purpose: pb::PersonalDataPurpose::ParticipantIdentity as i32,
        readers: Vec::new(),
        fields: vec![pb::PersonalField {
            name: "name".into(),
            value: pseudonym.into(),
        }],
        ..Default::default()
    });
    req.metadata_mut().insert(
        AUTH_HEADER,
        MetadataValue::try_from(auth_header(&net.admin, method::PUT, now)).unwrap(),
    );
    let put = pd.put(req).await.unwrap().into_inner();
    pb::PersonRef {
        vault_id: put.id,
        commitment: put.commitment,
    }
}

fn eco_event(events: &[pb::Event]) -> pb::eco_event::Kind {
    events
        .iter()
        .find_map(|e| match &e.kind {
            Some(pb::event::Kind::Eco(x)) => x.kind.clone(),
            _ => None,
        })
        .expect("an eco event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eco_program_year_over_grpc() {
    let net = Net::start(4, "byzantine").await.unwrap();
    let chain = net.chain_id.clone();
    let admin = &net.admin;
    let mut c = net.nodes[0].client().await.unwrap();
    let (res1, res2, store, meter) = (random_key(), random_key(), random_key(), random_key());
    for (k, role) in [
        (&res1, pb::RoleKind::RoleResident),
        (&res2, pb::RoleKind::RoleResident),
        (&store, pb::RoleKind::RoleStore),
        (&meter, pb::RoleKind::RoleMeter),
    ] {
        ok(&mut c, &chain, admin, grant(k, role, "")).await;
    }
    ok(
        &mut c,
        &chain,
        admin,
        param("eco.grid_g_per_mwh.fy2025", 438_000),
    )
    .await;
    ok(&mut c, &chain, admin, param("eco.min_redeem_points", 100)).await;
    ok(&mut c, &chain, admin, param("eco.yen_per_point", 1)).await;
    ok(
        &mut c,
        &chain,
        admin,
        eco(E::CreateProgram(pb::CreateProgram {
            program_id: "tama-eco".into(),
            name: "Tama home solar and EV program".into(),
            points_per_kg: 1,
            points_expiry_days: 730,
        })),
    )
    .await;

    // Participants: the vault holds who they are; the ledger only the reference.
    let mut parts = Vec::new();
    for (k, who) in [(&res1, "山田 太郎"), (&res2, "佐藤 花子")] {
        let person = vault_ref(&net, who).await;
        let ev = ok(
            &mut c,
            &chain,
            admin,
            eco(E::RegisterParticipant(pb::RegisterParticipant {
                program_id: "tama-eco".into(),
                account: k.verifying_key().to_bytes().to_vec(),
                person: Some(person),
            })),
        )
        .await;
        match eco_event(&ev) {
            pb::eco_event::Kind::ParticipantRegistered(p) => parts.push(p.participant_id),
            e => panic!("unexpected {e:?}"),
        }
    }
    let mut devices = Vec::new();
    for (p, kind, baseline, hash) in [
        (&parts[0], pb::DeviceKind::Solar, 0, [0xa1u8; 32]),
        (&parts[1], pb::DeviceKind::Ev, 15_000, [0xb2u8; 32]),
    ] {
        let ev = ok(
            &mut c,
            &chain,
            admin,
            eco(E::RegisterDevice(pb::RegisterDevice {
                participant_id: p.clone(),
                kind: kind as i32,
                identity_hash: hash.to_vec(),
                baseline_m_per_l: baseline,
                methodology: String::new(),
                fuel: 0,
                monitored_from_ms: jst_ms(2025, 4, 1),
            })),
        )
        .await;
        match eco_event(&ev) {
            pb::eco_event::Kind::DeviceRegistered(d) => devices.push(d.device.unwrap().device_id),
            e => panic!("unexpected {e:?}"),
        }
    }
    // The same installation again is refused with a clear code.
    let r = call_receipt(
        &mut c,
        &chain,
        admin,
        eco(E::RegisterDevice(pb::RegisterDevice {
            participant_id: parts[1].clone(),
            kind: pb::DeviceKind::Solar as i32,
            identity_hash: vec![0xa1; 32],
            baseline_m_per_l: 0,
            methodology: String::new(),
            fuel: 0,
            monitored_from_ms: jst_ms(2025, 4, 1),
        })),
    )
    .await
    .unwrap();
    assert_eq!(r.error.unwrap().code, "eco.device_already_registered");

    // A year of monthly readings (FY2025) from the meter gateway, submitted in parallel.
    let h = height(&mut c).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..12 {
        let (y, m) = if i < 9 { (2025, 4 + i) } else { (2026, i - 8) };
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        for (dev, wh, dist) in [
            (&devices[0], 371_000u64, 0u64),
            (&devices[1], 150_000, 1_000_000),
        ] {
            let call = eco(E::SubmitReading(pb::SubmitReading {
                device_id: dev.clone(),
                period_start_ms: jst_ms(y, m, 1),
                period_end_ms: jst_ms(ny, nm, 1),
                electricity_wh: wh,
                distance_m: dist,
                ..Default::default()
            }));
            ids.push(
                submit(
                    &mut c,
                    sign_body(&meter, &body(&meter, &chain, h + 50, call)),
                )
                .await
                .unwrap(),
            );
        }
    }
    for id in &ids {
        let r = wait_committed(&mut c, id, WAIT).await.unwrap();
        assert!(r.receipt.unwrap().success);
    }
    // 371 kWh * 438 g/kWh = 162,498 g a month; the EV saves 88,966 g a month (see the
    // worked example in contracts/tests/eco_flow.rs).
    let (solar_g, ev_g) = (12 * 162_498u64, 12 * 88_966u64);

    // An overlapping reading is refused.
    let r = call_receipt(
        &mut c,
        &chain,
        &meter,
        eco(E::SubmitReading(pb::SubmitReading {
            device_id: devices[0].clone(),
            period_start_ms: jst_ms(2025, 4, 15),
            period_end_ms: jst_ms(2025, 5, 15),
            electricity_wh: 1,
            ..Default::default()
        })),
    )
    .await
    .unwrap();
    assert_eq!(r.error.unwrap().code, "eco.overlapping_reading");

    // Grant points at 1 point per kg.
    for p in &parts {
        ok(
            &mut c,
            &chain,
            admin,
            eco(E::GrantPoints(pb::GrantEcoPoints {
                participant_id: p.clone(),
            })),
        )
        .await;
    }
    // Pay a store, redeem, settle.
    let res1_key = res1.verifying_key().to_bytes().to_vec();
    let store_key = store.verifying_key().to_bytes().to_vec();
    ok(
        &mut c,
        &chain,
        &res1,
        pts(P::Transfer(pb::TransferPoints {
            point_type: pb::PointType::Eco as i32,
            issuer: "tama".into(),
            to: store_key.clone(),
            amount: 1500,
            memo: "receipt 42".into(),
        })),
    )
    .await;
    let ev = ok(
        &mut c,
        &chain,
        &store,
        pts(P::Redeem(pb::RedeemPoints {
            point_type: pb::PointType::Eco as i32,
            issuer: "tama".into(),
            amount: 1200,
        })),
    )
    .await;
    let settlement = ev
        .iter()
        .find_map(|e| match &e.kind {
            Some(pb::event::Kind::Points(pb::PointsEvent {
                kind: Some(pb::points_event::Kind::Redeemed(r)),
            })) => Some(r.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(settlement.yen, 1200);
    ok(
        &mut c,
        &chain,
        admin,
        pts(P::Settle(pb::SettleRedemption {
            settlement_id: settlement.settlement_id.clone(),
            payment_reference: "furikomi 2026-0417".into(),
        })),
    )
    .await;

    // Credit report for FY2025, certified and partly sold.
    let ev = ok(
        &mut c,
        &chain,
        admin,
        eco(E::CreateReport(pb::CreateCreditReport {
            program_id: "tama-eco".into(),
            period_start_ms: jst_ms(2025, 4, 1),
            period_end_ms: jst_ms(2026, 4, 1),
        })),
    )
    .await;
    let report_id = match eco_event(&ev) {
        pb::eco_event::Kind::ReportCreated(r) => r.report.unwrap().report_id,
        e => panic!("unexpected {e:?}"),
    };
    ok(
        &mut c,
        &chain,
        admin,
        eco(E::CertifyReport(pb::CertifyCreditReport {
            report_id: report_id.clone(),
            certified_tonnes: 3,
            serial_numbers: vec!["JCR-0123-0001".into(), "JCR-0123-0002".into()],
        })),
    )
    .await;
    ok(
        &mut c,
        &chain,
        admin,
        eco(E::RecordSale(pb::RecordCreditSale {
            report_id: report_id.clone(),
            buyer: "Tama Shinkin Bank".into(),
            tonnes: 2,
            price_yen_per_tonne: 2536,
        })),
    )
    .await;

    // Now every query agrees, on another node than the one we submitted to.
    let endpoint = net.nodes[2].endpoint.clone();
    wait_height(
        &mut net.nodes[2].client().await.unwrap(),
        height(&mut c).await.unwrap(),
        WAIT,
    )
    .await
    .unwrap();
    let mut e = EcoClient::connect(endpoint.clone()).await.unwrap();
    let mut p = PointsClient::connect(endpoint).await.unwrap();

    let got = e
        .get_participant(pb::GetParticipantRequest {
            participant_id: parts[0].clone(),
            page: Some(pb::PageRequest {
                page_token: String::new(),
                page_size: 5,
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let part = got.participant.unwrap();
    assert_eq!(part.reduced_g, solar_g);
    assert_eq!(part.points_granted, solar_g / 1000);
    assert!(part.person.unwrap().vault_id.starts_with("pd_"));
    assert_eq!(got.devices.len(), 1);
    assert_eq!(got.reductions.len(), 5);
    let bal = got.balance.unwrap();
    assert_eq!(bal.spendable, solar_g / 1000 - 1500);
    assert!(bal.next_expiry_ms > 0);
    // The remaining pages give all 12 months, in period order.
    let mut all = got.reductions;
    let mut token = got.next_page_token;
    for _ in 0..10 {
        if token.is_empty() {
            break;
        }
        let page = e
            .get_participant(pb::GetParticipantRequest {
                participant_id: parts[0].clone(),
                page: Some(pb::PageRequest {
                    page_token: token,
                    page_size: 5,
                }),
            })
            .await
            .unwrap()
            .into_inner();
        all.extend(page.reductions);
        token = page.next_page_token;
    }
    assert_eq!(all.len(), 12);
    assert!(all
        .windows(2)
        .all(|w| w[0].period_end_ms == w[1].period_start_ms));
    assert!(all.iter().all(|r| r.report_id == report_id));

    let totals = e
        .get_program_totals(pb::GetProgramTotalsRequest {
            program_id: "tama-eco".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((totals.participants, totals.devices), (2, 2));
    let by: Vec<(String, u32, u64, u64)> = totals
        .totals
        .iter()
        .map(|t| {
            (
                t.methodology.clone(),
                t.fiscal_year,
                t.readings,
                t.reduction_g,
            )
        })
        .collect();
    assert_eq!(
        by,
        vec![
            ("EN-S-012".to_string(), 2025, 12, ev_g),
            ("EN-S-025".to_string(), 2025, 12, solar_g),
        ]
    );
    let minted = solar_g / 1000 + ev_g / 1000;
    let pt = totals.points.unwrap();
    assert_eq!(
        (pt.minted, pt.burned, pt.expired, pt.outstanding),
        (minted, 1200, 0, minted - 1200)
    );

    let report = e
        .get_credit_report(pb::GetCreditReportRequest {
            report_id: report_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(report.readings, 24);
    assert_eq!(report.total_g, solar_g + ev_g);
    assert_eq!(report.certified_tonnes, 3);
    assert_eq!(report.sales.len(), 1);
    let csv = e
        .export_credit_report(pb::ExportCreditReportRequest {
            report_id: report_id.clone(),
            format: pb::ExportFormat::Csv as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(csv.content_type, "text/csv");
    let lines: Vec<&str> = csv.content.lines().collect();
    assert_eq!(lines.len(), 25);
    assert!(lines[0].starts_with("report_id,program_id,reading_id"));
    let csv_sum: u64 = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(16).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(csv_sum, solar_g + ev_g);
    // Rows are in reading-id order; times are JST. 1 April 2025 only starts periods (two
    // devices); 1 March 2026 ends February's and starts March's.
    for (day, rows) in [
        ("2025-04-01T00:00:00+09:00", 2),
        ("2026-03-01T00:00:00+09:00", 4),
    ] {
        assert_eq!(
            lines.iter().filter(|l| l.contains(day)).count(),
            rows,
            "{day}"
        );
    }
    let json = e
        .export_credit_report(pb::ExportCreditReportRequest {
            report_id: report_id.clone(),
            format: pb::ExportFormat::Json as i32,
        })
        .await
        .unwrap()
        .into_inner();
    let v: serde_json::Value = serde_json::from_str(&json.content).unwrap();
    assert_eq!(v["total_g_co2"], solar_g + ev_g);
    assert_eq!(v["total_t_co2_truncated"], 3);
    assert_eq!(v["reductions"].as_array().unwrap().len(), 24);
    // No personal data in the export: only pseudonymous ids.
    assert!(!json.content.contains("山田") && !csv.content.contains("山田"));
    // What a verifier needs per line: device kind, baseline, factor and its fiscal year,
    // credited grams, and the transaction and height, so any line can be proven.
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let first: Vec<&str> = lines[1].split(',').collect();
    assert!(["ev", "solar"].contains(&first[col("device_kind")]));
    assert_eq!(first[col("grid_g_per_mwh")], "438000");
    assert_eq!(first[col("fiscal_year")], "2025");
    assert_eq!(first[col("credited_g")], first[col("reduction_g")]);
    let tx = hex::decode(first[col("tx_id")]).unwrap();
    let proof = c
        .get_proof(pb::GetProofRequest {
            target: Some(pb::get_proof_request::Target::TxId(tx)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        proof.header.unwrap().height.to_string(),
        first[col("height")],
        "the line's height is its transaction's block"
    );
    let subtotals = v["participants"].as_array().unwrap();
    assert_eq!(subtotals.len(), 2);
    assert!(subtotals
        .iter()
        .all(|p| p["joined_at_jst"].as_str().is_some()));
    assert_eq!(
        subtotals
            .iter()
            .map(|p| p["credited_g"].as_u64().unwrap())
            .sum::<u64>(),
        solar_g + ev_g
    );

    let balances = p
        .get_balances(pb::GetBalancesRequest {
            holder: store_key.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .balances;
    assert_eq!(balances.len(), 1);
    assert_eq!(balances[0].spendable, 300);
    let hist = p
        .get_history(pb::GetPointsHistoryRequest {
            holder: res1_key,
            page: None,
        })
        .await
        .unwrap()
        .into_inner();
    let kinds: Vec<&str> = hist
        .movements
        .iter()
        .map(|m| match m.event.as_ref().unwrap().kind.as_ref().unwrap() {
            pb::points_event::Kind::Minted(_) => "minted",
            pb::points_event::Kind::Transferred(_) => "transferred",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, vec!["minted", "transferred"]);
    let settled = p
        .list_settlements(pb::ListSettlementsRequest {
            issuer: "tama".into(),
            unpaid_only: false,
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .settlements;
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].payment_reference, "furikomi 2026-0417");
    let unpaid = p
        .list_settlements(pb::ListSettlementsRequest {
            issuer: "tama".into(),
            unpaid_only: true,
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .settlements;
    assert!(unpaid.is_empty());

    // Bad queries get the right codes and a sentence.
    let err = e
        .get_participant(pb::GetParticipantRequest {
            participant_id: "p-0000000000000000".into(),
            page: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let err = e
        .get_participant(pb::GetParticipantRequest {
            participant_id: parts[0].clone(),
            page: Some(pb::PageRequest {
                page_token: "zz".into(),
                page_size: 0,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("page_token"));
    let err = p
        .get_balances(pb::GetBalancesRequest { holder: vec![1; 5] })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let err = e
        .export_credit_report(pb::ExportCreditReportRequest {
            report_id,
            format: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
}
