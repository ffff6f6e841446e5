//! A bad day on four validators, over the real gRPC API: a short delivery whose remainder goes
//! back to the need; a parcel declared lost, pledged again and delivered; a need past its
//! needed-by time that takes no pledges; an offer withdrawn with a request still waiting; a
//! volunteer who does not come; a credit report withdrawn and submitted again. Reads go to
//! another node than writes, after it reached the writes' height.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use yui_proto::v1 as pb;
use yui_proto::v1::eco_call::Call as E;
use yui_proto::v1::eco_client::EcoClient;
use yui_proto::v1::relief_call::Call as R;
use yui_proto::v1::relief_client::ReliefClient;
use yui_proto::v1::volunteer_call::Call as V;
use yui_proto::v1::volunteer_client::VolunteerClient;
use yui_tests::call_ok as ok;
use yui_tests::*;

const WAIT: Duration = Duration::from_secs(30);
const DISASTER: &str = "2026-hachioji-typhoon";

fn person(tag: u8) -> pb::PersonRef {
    pb::PersonRef {
        vault_id: format!("pd_{}", hex::encode([tag; 16])),
        commitment: vec![tag; 32],
    }
}
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn relief_of(events: &[pb::Event]) -> Vec<pb::relief_event::Kind> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            Some(pb::event::Kind::Relief(r)) => r.kind.clone(),
            _ => None,
        })
        .collect()
}
fn need_id(ev: &[pb::Event]) -> u64 {
    relief_of(ev)
        .iter()
        .find_map(|k| match k {
            pb::relief_event::Kind::NeedChanged(n) => Some(n.need_id),
            _ => None,
        })
        .unwrap()
}
fn commitment_id(ev: &[pb::Event]) -> u64 {
    relief_of(ev)
        .iter()
        .find_map(|k| match k {
            pb::relief_event::Kind::CommitmentChanged(c) => Some(c.commitment_id),
            _ => None,
        })
        .unwrap()
}
fn shipment_id(ev: &[pb::Event]) -> u64 {
    relief_of(ev)
        .iter()
        .find_map(|k| match k {
            pb::relief_event::Kind::ShipmentChanged(s) => {
                s.shipment.as_ref().map(|s| s.shipment_id)
            }
            _ => None,
        })
        .unwrap()
}

async fn same_height(c: &mut Client, c1: &mut Client) {
    let h = height(c).await.unwrap();
    wait_height(c1, h, WAIT).await.unwrap();
}

struct Relief<'a> {
    c: &'a mut Client,
    chain: String,
    op: SigningKey,
    rc: ReliefClient<tonic::transport::Channel>,
}

impl Relief<'_> {
    async fn need(&mut self, q: u64, needed_by_ms: u64) -> u64 {
        need_id(
            &ok(
                self.c,
                &self.chain,
                &self.op,
                rl(R::PostNeed(pb::PostNeed {
                    disaster_id: DISASTER.into(),
                    shelter_id: "minamino-es".into(),
                    item_id: "food".into(),
                    quantity: q,
                    details: "ready-to-eat meals".into(),
                    priority: pb::Priority::High as i32,
                    needed_by_ms,
                })),
            )
            .await,
        )
    }
    /// Pledge, go-ahead, label, ship: (shipment id, label token).
    async fn pledged_and_shipped(
        &mut self,
        donor: &SigningKey,
        need: u64,
        q: u64,
    ) -> (u64, String) {
        let com = commitment_id(
            &ok(
                self.c,
                &self.chain,
                donor,
                rl(R::Pledge(pb::Pledge {
                    need_id: need,
                    quantity: q,
                })),
            )
            .await,
        );
        let sid = shipment_id(
            &ok(
                self.c,
                &self.chain,
                &self.op,
                rl(R::Approve(pb::ApproveShipment { commitment_id: com })),
            )
            .await,
        );
        let label = self
            .rc
            .new_shipment_label(pb::NewShipmentLabelRequest { shipment_id: sid })
            .await
            .unwrap()
            .into_inner();
        ok(
            self.c,
            &self.chain,
            donor,
            rl(R::Ship(pb::MarkShipped {
                shipment_id: sid,
                token_commitment: label.token_commitment,
            })),
        )
        .await;
        (sid, label.token)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_day_on_four_validators() {
    let net = Net::start(4, "byzantine").await.unwrap();
    let chain = net.chain_id.clone();
    let admin = net.admin.clone();
    let mut c = net.nodes[0].client().await.unwrap();
    let mut c1 = net.nodes[1].client().await.unwrap();
    let (op, donor1, donor2) = (random_key(), random_key(), random_key());
    let (volunteer, facility, resident, meter) =
        (random_key(), random_key(), random_key(), random_key());

    // The municipality's setup: a disaster, a shelter and its operator, donors, a parcel may be
    // declared lost right after shipping (its own parameter), a volunteer facility, eco-points.
    ok(
        &mut c,
        &chain,
        &admin,
        rl(R::OpenDisaster(pb::OpenDisaster {
            disaster_id: DISASTER.into(),
            name: "Typhoon No. 10".into(),
        })),
    )
    .await;
    ok(
        &mut c,
        &chain,
        &admin,
        rl(R::RegisterShelter(pb::RegisterShelter {
            shelter_id: "minamino-es".into(),
            name: "Minamino Elementary School gym".into(),
            area: "Minamino".into(),
            contact: Some(person(1)),
        })),
    )
    .await;
    for (k, kind, scope) in [
        (&op, pb::RoleKind::RoleShelterOperator, "minamino-es"),
        (&donor1, pb::RoleKind::RoleDonor, ""),
        (&donor2, pb::RoleKind::RoleDonor, ""),
        (&volunteer, pb::RoleKind::RoleResident, ""),
        (&facility, pb::RoleKind::RoleFacility, ""),
        (&resident, pb::RoleKind::RoleResident, ""),
        (&meter, pb::RoleKind::RoleMeter, ""),
    ] {
        ok(&mut c, &chain, &admin, grant(k, kind, scope)).await;
    }
    ok(&mut c, &chain, &admin, param("relief.lost_after_hours", 0)).await;
    let rc = ReliefClient::connect(net.nodes[1].endpoint.clone())
        .await
        .unwrap();
    let mut r = Relief {
        c: &mut c,
        chain: chain.clone(),
        op: op.clone(),
        rc,
    };

    // 1. A short delivery: 100 shipped, 70 arrived; the 30 go back to the need.
    let short_need = r.need(100, 0).await;
    same_height(r.c, &mut c1).await;
    let (sid, token) = r.pledged_and_shipped(&donor1, short_need, 100).await;
    ok(
        r.c,
        &chain,
        &op,
        rl(R::Receive(pb::ReceiveShipment {
            shipment_id: sid,
            token,
            received_quantity: 70,
            damaged_quantity: 0,
            remainder: pb::RemainderHandling::RemainderReturn as i32,
            note: "3 of 10 cartons missing on arrival".into(),
        })),
    )
    .await;

    // 2. A lost parcel, pledged again by another donor and delivered.
    let lost_need = r.need(20, 0).await;
    let (lost, _) = r.pledged_and_shipped(&donor1, lost_need, 20).await;
    ok(
        r.c,
        &chain,
        &op,
        rl(R::DeclareLost(pb::DeclareShipmentLost {
            shipment_id: lost,
            reason: "the carrier has no trace of it".into(),
        })),
    )
    .await;
    same_height(r.c, &mut c1).await;
    let (again, token) = r.pledged_and_shipped(&donor2, lost_need, 20).await;
    ok(
        r.c,
        &chain,
        &op,
        rl(R::Receive(pb::ReceiveShipment {
            shipment_id: again,
            token,
            ..Default::default()
        })),
    )
    .await;

    // 3. An overdue need: needed within three seconds, pledged too late.
    let by = now_ms() + 3_000;
    let overdue = r.need(10, by).await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let h = height(r.c).await.unwrap();
        let t = header(r.c, h).await.unwrap().time_ms;
        if t > by {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no block after the needed-by time"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        call_failure(
            r.c,
            &chain,
            &donor1,
            rl(R::Pledge(pb::Pledge {
                need_id: overdue,
                quantity: 5,
            })),
        )
        .await,
        "relief.need_overdue"
    );

    // 4. A withdrawn offer with a request still waiting for the go-ahead.
    let ev = ok(
        r.c,
        &chain,
        &donor2,
        rl(R::PostOffer(pb::PostOffer {
            disaster_id: DISASTER.into(),
            item_id: "blankets".into(),
            quantity: 50,
            details: "new, still packed".into(),
            available_until_ms: now_ms() + 86_400_000,
        })),
    )
    .await;
    let offer = relief_of(&ev)
        .iter()
        .find_map(|k| match k {
            pb::relief_event::Kind::OfferChanged(o) => Some(o.offer_id),
            _ => None,
        })
        .unwrap();
    let request = |q| {
        rl(R::Request(pb::RequestFromOffer {
            offer_id: offer,
            shelter_id: "minamino-es".into(),
            quantity: q,
        }))
    };
    ok(r.c, &chain, &op, request(10)).await;
    ok(
        r.c,
        &chain,
        &donor2,
        rl(R::WithdrawOffer(pb::WithdrawOffer {
            offer_id: offer,
            quantity: 0,
            reason: "given to a neighbouring town instead".into(),
        })),
    )
    .await;
    assert_eq!(
        call_failure(r.c, &chain, &op, request(5)).await,
        "relief.offer_expired"
    );

    // What another node shows of the relief part.
    same_height(r.c, &mut c1).await;
    let mut rc1 = ReliefClient::connect(net.nodes[1].endpoint.clone())
        .await
        .unwrap();
    let needs = rc1
        .list_needs(pb::ListNeedsRequest {
            disaster_id: DISASTER.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .needs;
    let by_id = |id: u64| needs.iter().find(|n| n.need_id == id).unwrap().clone();
    let n = by_id(short_need);
    assert_eq!((n.fulfilled, n.committed, n.returned), (70, 70, 30));
    // The municipality's arrivals work list: the short delivery and the re-pledged one.
    let mut arrivals = rc1
        .list_shipments(pb::ListShipmentsRequest {
            municipality: n.municipality.clone(),
            status: pb::ShipmentStatus::ShipmentReceived as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .shipments
        .iter()
        .map(|s| s.shipment_id)
        .collect::<Vec<_>>();
    arrivals.sort();
    assert_eq!(arrivals, vec![sid, again]);
    let n = by_id(lost_need);
    assert_eq!((n.fulfilled, n.committed, n.returned), (20, 20, 20));
    assert!(by_id(overdue).overdue);
    let overdue_list = rc1
        .list_needs(pb::ListNeedsRequest {
            disaster_id: DISASTER.into(),
            overdue_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .needs;
    assert_eq!(
        overdue_list.iter().map(|n| n.need_id).collect::<Vec<_>>(),
        vec![overdue]
    );
    let shipment = |id| {
        let mut rc1 = rc1.clone();
        async move {
            rc1.get_shipment(pb::GetShipmentRequest { shipment_id: id })
                .await
                .unwrap()
                .into_inner()
        }
    };
    let s = shipment(sid).await.shipment.unwrap();
    assert_eq!((s.received_quantity, s.returned_quantity), (70, 30));
    assert_eq!(s.note, "3 of 10 cartons missing on arrival");
    let s = shipment(lost).await.shipment.unwrap();
    assert_eq!(s.status, pb::ShipmentStatus::ShipmentLost as i32);
    let totals = rc1
        .get_disaster_totals(pb::GetDisasterTotalsRequest {
            disaster_id: DISASTER.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    let food = totals.iter().find(|t| t.item_id == "food").unwrap();
    assert_eq!((food.received, food.short, food.lost), (90, 30, 20));
    // The disaster report: one line for the shelter's food, the same in CSV and JSON.
    let report = |format: pb::ExportFormat| {
        let mut rc1 = rc1.clone();
        async move {
            rc1.export_disaster_report(pb::ExportDisasterReportRequest {
                disaster_id: DISASTER.into(),
                format: format as i32,
            })
            .await
            .unwrap()
            .into_inner()
        }
    };
    let json = report(pb::ExportFormat::Json).await;
    assert_eq!(json.content_type, "application/json");
    let line = json
        .lines
        .iter()
        .find(|l| l.shelter_id == "minamino-es" && l.item_id == "food")
        .unwrap();
    assert_eq!(
        (
            line.needs,
            line.overdue_needs,
            line.needed,
            line.fulfilled,
            line.unmet
        ),
        (3, 1, 130, 90, 40)
    );
    assert_eq!(
        (
            line.shipments,
            line.received,
            line.short,
            line.lost,
            line.returned
        ),
        (3, 90, 30, 20, 50)
    );
    let doc: serde_json::Value = serde_json::from_str(&json.content).unwrap();
    let food_line = doc["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["item_id"] == "food")
        .unwrap();
    assert_eq!(food_line["shelter_name"], "Minamino Elementary School gym");
    assert_eq!(food_line["unmet"], 40);
    let csv = report(pb::ExportFormat::Csv).await;
    assert_eq!(csv.content_type, "text/csv");
    let mut rows = csv.content.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let food_row: Vec<&str> = rows
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|r| r[header.iter().position(|h| *h == "item_id").unwrap()] == "food")
        .unwrap();
    let col = |name: &str| food_row[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(
        (col("received"), col("short"), col("lost")),
        ("90", "30", "20")
    );
    // The shelter's backend mails the donor about the short delivery and records that it did:
    // the event's cursor, the channel and a keyed hash of the address, never the address.
    let mail_key = yui_client::notification::new_key();
    let mailed = pb::NotificationChannel::Email;
    let to = yui_client::notification::recipient_hash(&mail_key, mailed, "Donor@Example.JP");
    let about = height(r.c).await.unwrap();
    ok(
        r.c,
        &chain,
        &op,
        pb::tx_body::Call::Governance(pb::GovernanceCall {
            call: Some(pb::governance_call::Call::RecordNotification(
                pb::RecordNotification {
                    event: Some(pb::Cursor {
                        height: about,
                        index: 0,
                    }),
                    channel: mailed as i32,
                    recipient_hash: to.to_vec(),
                    purpose: "relief.shipment_short".into(),
                },
            )),
        }),
    )
    .await;
    same_height(r.c, &mut c1).await;
    let mut gc1 =
        yui_proto::v1::governance_client::GovernanceClient::connect(net.nodes[1].endpoint.clone())
            .await
            .unwrap();
    let sent = gc1
        .list_notifications(pb::ListNotificationsRequest {
            organization: n.municipality.clone(),
            recipient_hash: yui_client::notification::recipient_hash(
                &mail_key,
                mailed,
                "donor@example.jp ",
            )
            .to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .notifications;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].purpose, "relief.shipment_short");
    assert_eq!(sent[0].event.unwrap().height, about);
    assert_eq!(sent[0].recorded_by, op.verifying_key().to_bytes().to_vec());
    let offers = rc1
        .list_offers(pb::ListOffersRequest {
            disaster_id: DISASTER.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .offers;
    let o = offers.iter().find(|o| o.offer_id == offer).unwrap();
    assert!(o.withdrawn);
    assert_eq!((o.quantity, o.requested), (0, 0));
    drop(r);

    // 5. A volunteer who does not come: the slot is free again and the no-show recorded.
    let ev = ok(
        &mut c,
        &chain,
        &volunteer,
        vol(V::ApplyRegistration(pb::ApplyRegistration {
            skills: vec!["carrying".into()],
            person_ref: Some(person(2)),
        })),
    )
    .await;
    let application = ev
        .iter()
        .find_map(|e| match &e.kind {
            Some(pb::event::Kind::Volunteer(pb::VolunteerEvent {
                kind: Some(pb::volunteer_event::Kind::RegistrationApplied(a)),
            })) => Some(a.application_id.clone()),
            _ => None,
        })
        .unwrap();
    let ev = ok(
        &mut c,
        &chain,
        &admin,
        vol(V::ApproveRegistration(pb::ApproveRegistration {
            application_id: application,
        })),
    )
    .await;
    let volunteer_id = ev
        .iter()
        .find_map(|e| match &e.kind {
            Some(pb::event::Kind::Volunteer(pb::VolunteerEvent {
                kind: Some(pb::volunteer_event::Kind::CertificateIssued(ci)),
            })) => Some(ci.volunteer_id.clone()),
            _ => None,
        })
        .unwrap();
    let start = now_ms();
    let ev = ok(
        &mut c,
        &chain,
        &facility,
        vol(V::PostOpportunity(pb::PostOpportunity {
            title: "carry relief goods".into(),
            description: "from the gym to the classrooms".into(),
            skills: vec!["carrying".into()],
            starts_at_ms: start,
            ends_at_ms: start + 3_600_000,
            slots: 1,
        })),
    )
    .await;
    let opp = ev
        .iter()
        .find_map(|e| match &e.kind {
            Some(pb::event::Kind::Volunteer(pb::VolunteerEvent {
                kind: Some(pb::volunteer_event::Kind::OpportunityPosted(o)),
            })) => o.opportunity.as_ref().map(|o| o.opportunity_id.clone()),
            _ => None,
        })
        .unwrap();
    let activity_of = |ev: &[pb::Event]| {
        ev.iter()
            .find_map(|e| match &e.kind {
                Some(pb::event::Kind::Volunteer(pb::VolunteerEvent {
                    kind: Some(pb::volunteer_event::Kind::ActivityUpdated(a)),
                })) => a.activity.as_ref().map(|a| a.activity_id.clone()),
                _ => None,
            })
            .unwrap()
    };
    let act = activity_of(
        &ok(
            &mut c,
            &chain,
            &volunteer,
            vol(V::ApplyToOpportunity(pb::ApplyToOpportunity {
                opportunity_id: opp.clone(),
            })),
        )
        .await,
    );
    ok(
        &mut c,
        &chain,
        &facility,
        vol(V::AcceptApplication(pb::AcceptApplication {
            activity_id: act.clone(),
        })),
    )
    .await;
    ok(
        &mut c,
        &chain,
        &facility,
        vol(V::EndActivity(pb::EndActivity {
            activity_id: act.clone(),
            outcome: pb::ActivityOutcome::NoShow as i32,
            reason: "did not come; no message".into(),
        })),
    )
    .await;
    same_height(&mut c, &mut c1).await;
    let mut vc1 = VolunteerClient::connect(net.nodes[1].endpoint.clone())
        .await
        .unwrap();
    let history = vc1
        .get_volunteer_history(pb::GetVolunteerHistoryRequest {
            volunteer_id: volunteer_id.clone(),
            page: None,
        })
        .await
        .unwrap()
        .into_inner();
    let a = history
        .activities
        .iter()
        .find(|a| a.activity_id == act)
        .unwrap();
    assert_eq!(a.status, pb::ActivityStatus::ActivityNoShow as i32);
    assert_eq!(a.end_reason, "did not come; no message");
    let opps = vc1
        .list_opportunities(pb::ListOpportunitiesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .opportunities;
    let o = opps.iter().find(|o| o.opportunity_id == opp).unwrap();
    assert_eq!(o.matched, 0, "the no-show's slot is free again");
    let applicants = vc1
        .list_applicants(pb::ListApplicantsRequest {
            opportunity_id: opp.clone(),
            status: pb::ActivityStatus::ActivityNoShow as i32,
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .activities;
    assert_eq!(
        applicants
            .iter()
            .map(|a| a.activity_id.clone())
            .collect::<Vec<_>>(),
        vec![act.clone()]
    );

    // 6. A credit report withdrawn before certification and submitted again.
    ok(
        &mut c,
        &chain,
        &admin,
        param("eco.grid_g_per_mwh.fy2025", 438_000),
    )
    .await;
    ok(
        &mut c,
        &chain,
        &admin,
        eco(E::CreateProgram(pb::CreateProgram {
            program_id: "hachioji-solar".into(),
            name: "Hachioji home solar program".into(),
            points_per_kg: 1,
            points_expiry_days: 730,
        })),
    )
    .await;
    let eco_event = |ev: &[pb::Event]| {
        ev.iter()
            .find_map(|e| match &e.kind {
                Some(pb::event::Kind::Eco(pb::EcoEvent { kind: Some(k) })) => Some(k.clone()),
                _ => None,
            })
            .unwrap()
    };
    // The resident applies to join; the municipality approves the application.
    let application = match eco_event(
        &ok(
            &mut c,
            &chain,
            &resident,
            eco(E::ApplyToJoin(pb::ApplyToJoin {
                program_id: "hachioji-solar".into(),
                person: Some(person(3)),
            })),
        )
        .await,
    ) {
        pb::eco_event::Kind::ApplicationChanged(a) => a.application_id,
        e => panic!("unexpected {e:?}"),
    };
    let participant = match eco_event(
        &ok(
            &mut c,
            &chain,
            &admin,
            eco(E::DecideApplication(pb::DecideApplication {
                application_id: application.clone(),
                approve: true,
                reason: String::new(),
            })),
        )
        .await,
    ) {
        pb::eco_event::Kind::ParticipantRegistered(p) => p.participant_id,
        e => panic!("unexpected {e:?}"),
    };
    let device = match eco_event(
        &ok(
            &mut c,
            &chain,
            &admin,
            eco(E::RegisterDevice(pb::RegisterDevice {
                participant_id: participant.clone(),
                kind: pb::DeviceKind::Solar as i32,
                identity_hash: vec![0xc3; 32],
                baseline_m_per_l: 0,
                methodology: String::new(),
                fuel: 0,
                monitored_from_ms: jst_ms(2025, 4, 1),
            })),
        )
        .await,
    ) {
        pb::eco_event::Kind::DeviceRegistered(d) => d.device.unwrap().device_id,
        e => panic!("unexpected {e:?}"),
    };
    // Three months of FY2025 (JST month starts).
    let jst = |y: i64, m: i64| jst_ms(y, m, 1);
    for m in 4..7 {
        ok(
            &mut c,
            &chain,
            &meter,
            eco(E::SubmitReading(pb::SubmitReading {
                device_id: device.clone(),
                period_start_ms: jst(2025, m),
                period_end_ms: jst(2025, m + 1),
                electricity_wh: 371_000,
                ..Default::default()
            })),
        )
        .await;
    }
    let create = || {
        eco(E::CreateReport(pb::CreateCreditReport {
            program_id: "hachioji-solar".into(),
            period_start_ms: jst(2025, 4),
            period_end_ms: jst(2025, 7),
        }))
    };
    let report_of = |k: pb::eco_event::Kind| match k {
        pb::eco_event::Kind::ReportCreated(r) => r.report.unwrap(),
        e => panic!("unexpected {e:?}"),
    };
    let first = report_of(eco_event(&ok(&mut c, &chain, &admin, create()).await));
    assert_eq!(first.readings, 3);
    ok(
        &mut c,
        &chain,
        &admin,
        eco(E::WithdrawReport(pb::WithdrawCreditReport {
            report_id: first.report_id.clone(),
            reason: "the committee asked for the inverter's serial number".into(),
        })),
    )
    .await;
    let second = report_of(eco_event(&ok(&mut c, &chain, &admin, create()).await));
    assert_eq!((second.readings, second.total_g), (3, first.total_g));
    same_height(&mut c, &mut c1).await;
    let mut ec1 = EcoClient::connect(net.nodes[1].endpoint.clone())
        .await
        .unwrap();
    let listed = ec1
        .list_participants(pb::ListParticipantsRequest {
            program_id: "hachioji-solar".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .participants;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].participant_id, participant);
    let applications = ec1
        .list_applications(pb::ListApplicationsRequest {
            program_id: "hachioji-solar".into(),
            status: pb::JoinStatus::JoinApproved as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .applications;
    assert_eq!(applications.len(), 1);
    assert_eq!(applications[0].participant_id, participant);
    let get = |id: String| {
        let mut ec1 = ec1.clone();
        async move {
            ec1.get_credit_report(pb::GetCreditReportRequest { report_id: id })
                .await
                .unwrap()
                .into_inner()
                .report
                .unwrap()
        }
    };
    let w = get(first.report_id.clone()).await;
    assert!(w.withdrawn_at_ms > 0);
    assert_eq!(
        w.withdraw_reason,
        "the committee asked for the inverter's serial number"
    );
    assert_eq!(get(second.report_id.clone()).await.withdrawn_at_ms, 0);
    let export = ec1
        .export_credit_report(pb::ExportCreditReportRequest {
            report_id: second.report_id.clone(),
            format: pb::ExportFormat::Csv as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(export.content.lines().count(), 1 + 3, "{}", export.content);

    // Every node agrees on the whole day.
    let mut clients = Vec::new();
    for n in &net.nodes {
        clients.push(n.client().await.unwrap());
    }
    assert_agreement(&mut clients).await;
}
