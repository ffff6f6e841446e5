//! The study's relief flow over the real gRPC API of a running 4-validator network: a
//! municipality opens a disaster and registers shelters (contacts in the vault), a shelter posts
//! a need, two donors pledge part of it each, one donor offers goods and the shelter requests
//! them, the shelter gives the go-ahead, donors get QR labels and mark shipped, the shelter scans
//! and receives; then the arrivals list, the report totals, a shipment's trail, the searches,
//! and the event stream, which must have delivered every notification in order.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_stream::StreamExt;
use tonic::metadata::MetadataValue;
use yui_node::api::personal_data::{auth_header, method, AUTH_HEADER};
use yui_proto::v1 as pb;
use yui_proto::v1::personal_data_client::PersonalDataClient;
use yui_proto::v1::relief_call::Call as R;
use yui_proto::v1::relief_client::ReliefClient;
use yui_tests::call_ok as ok;
use yui_tests::*;

const WAIT: Duration = Duration::from_secs(30);
const DISASTER: &str = "2026-tama-quake";

fn relief_events(events: &[pb::Event]) -> Vec<pb::relief_event::Kind> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            Some(pb::event::Kind::Relief(r)) => r.kind.clone(),
            _ => None,
        })
        .collect()
}

/// A short name of a relief notification, for comparing sequences.
fn name(k: &pb::relief_event::Kind) -> String {
    use pb::relief_event::Kind as K;
    match k {
        K::ShelterRegistered(s) => format!("shelter {}", s.shelter_id),
        K::ShelterChanged(s) => format!("shelter changed {}", s.shelter_id),
        K::ItemChanged(i) => format!("item {}", i.item_id),
        K::DisasterChanged(d) => format!("disaster {} open={}", d.disaster_id, d.open),
        K::NeedChanged(n) => format!(
            "need {} committed={} in_transit={} fulfilled={}",
            n.need_id, n.committed, n.in_transit, n.fulfilled
        ),
        K::CommitmentChanged(c) => format!("commitment {} status={}", c.commitment_id, c.status),
        K::OfferChanged(o) => format!("offer {} requested={}", o.offer_id, o.requested),
        K::ShipmentChanged(s) => {
            let s = s.shipment.as_ref().unwrap();
            format!("shipment {} status={}", s.shipment_id, s.status)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relief_study_flow_over_grpc() {
    let net = Net::start(4, "byzantine").await.unwrap();
    let chain = net.chain_id.clone();
    let admin = &net.admin;
    let mut c = net.nodes[0].client().await.unwrap();
    let (op, donor1, donor2) = (random_key(), random_key(), random_key());
    let mut expected: Vec<String> = Vec::new();
    let mut record = |events: &[pb::Event]| {
        expected.extend(relief_events(events).iter().map(name));
    };

    // The municipality opens the disaster and registers two shelters; contacts go to the vault.
    record(
        &ok(
            &mut c,
            &chain,
            admin,
            rl(R::OpenDisaster(pb::OpenDisaster {
                disaster_id: DISASTER.into(),
                name: "Tama earthquake".into(),
            })),
        )
        .await,
    );
    let mut pd = PersonalDataClient::connect(net.nodes[0].endpoint.clone())
        .await
        .unwrap();
    for (id, name) in [
        ("minamino-es", "Minamino Elementary School gym"),
        ("yui-hall", "Yui Community Hall"),
    ] {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let mut req = tonic::Request::new(pb::PutPersonalDataRequest {
            purpose: pb::PersonalDataPurpose::ShelterContact as i32,
            readers: Vec::new(),
            fields: vec![
                pb::PersonalField {
                    name: "contact".into(),
                    value: "田中 美咲".into(),
                },
                pb::PersonalField {
                    name: "phone".into(),
                    value: "042-123-4567".into(),
                },
            ],
            ..Default::default()
        });
        req.metadata_mut().insert(
            AUTH_HEADER,
            MetadataValue::try_from(auth_header(admin, method::PUT, now)).unwrap(),
        );
        let put = pd.put(req).await.unwrap().into_inner();
        record(
            &ok(
                &mut c,
                &chain,
                admin,
                rl(R::RegisterShelter(pb::RegisterShelter {
                    shelter_id: id.into(),
                    name: name.into(),
                    area: "Hachioji Minamino".into(),
                    contact: Some(pb::PersonRef {
                        vault_id: put.id,
                        commitment: put.commitment,
                    }),
                })),
            )
            .await,
        );
    }
    for (k, kind, scope) in [
        (&op, pb::RoleKind::RoleShelterOperator, "minamino-es"),
        (&donor1, pb::RoleKind::RoleDonor, ""),
        (&donor2, pb::RoleKind::RoleDonor, ""),
    ] {
        ok(&mut c, &chain, admin, grant(k, kind, scope)).await;
    }

    // The shelter posts a need; two donors pledge part of it each.
    let ev = ok(
        &mut c,
        &chain,
        &op,
        rl(R::PostNeed(pb::PostNeed {
            disaster_id: DISASTER.into(),
            shelter_id: "minamino-es".into(),
            item_id: "food".into(),
            quantity: 100,
            details: "ready-to-eat meals for 50 evacuees, two days".into(),
            priority: pb::Priority::Critical as i32,
            needed_by_ms: 0,
        })),
    )
    .await;
    record(&ev);
    let need_id = match &relief_events(&ev)[0] {
        pb::relief_event::Kind::NeedChanged(n) => n.need_id,
        e => panic!("unexpected {e:?}"),
    };
    let mut commitments = Vec::new();
    for (d, q) in [(&donor1, 40), (&donor2, 30)] {
        let ev = ok(
            &mut c,
            &chain,
            d,
            rl(R::Pledge(pb::Pledge {
                need_id,
                quantity: q,
            })),
        )
        .await;
        record(&ev);
        commitments.push(
            relief_events(&ev)
                .iter()
                .find_map(|k| match k {
                    pb::relief_event::Kind::CommitmentChanged(c) => Some(c.commitment_id),
                    _ => None,
                })
                .unwrap(),
        );
    }
    // A donor offers blankets; the shelter requests some.
    let ev = ok(
        &mut c,
        &chain,
        &donor2,
        rl(R::PostOffer(pb::PostOffer {
            disaster_id: DISASTER.into(),
            item_id: "blankets".into(),
            quantity: 50,
            details: "new, still packed".into(),
            available_until_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64
                + 86_400_000,
        })),
    )
    .await;
    record(&ev);
    let offer_id = match &relief_events(&ev)[0] {
        pb::relief_event::Kind::OfferChanged(o) => o.offer_id,
        e => panic!("unexpected {e:?}"),
    };
    let ev = ok(
        &mut c,
        &chain,
        &op,
        rl(R::Request(pb::RequestFromOffer {
            offer_id,
            shelter_id: "minamino-es".into(),
            quantity: 20,
        })),
    )
    .await;
    record(&ev);
    commitments.push(
        relief_events(&ev)
            .iter()
            .find_map(|k| match k {
                pb::relief_event::Kind::CommitmentChanged(c) => Some(c.commitment_id),
                _ => None,
            })
            .unwrap(),
    );

    // The shelter gives the go-ahead for all three; each creates a shipment.
    let mut shipments = Vec::new();
    for id in &commitments {
        let ev = ok(
            &mut c,
            &chain,
            &op,
            rl(R::Approve(pb::ApproveShipment { commitment_id: *id })),
        )
        .await;
        record(&ev);
        shipments.push(
            relief_events(&ev)
                .iter()
                .find_map(|k| match k {
                    pb::relief_event::Kind::ShipmentChanged(s) => {
                        Some(s.shipment.as_ref().unwrap().shipment_id)
                    }
                    _ => None,
                })
                .unwrap(),
        );
    }

    // Donors get their labels (token + QR images) and mark shipped.
    let mut rc = ReliefClient::connect(net.nodes[1].endpoint.clone())
        .await
        .unwrap();
    wait_height(
        &mut net.nodes[1].client().await.unwrap(),
        height(&mut c).await.unwrap(),
        WAIT,
    )
    .await
    .unwrap();
    let mut tokens = Vec::new();
    for (sid, d) in shipments.iter().zip([&donor1, &donor2, &donor2]) {
        let label = rc
            .new_shipment_label(pb::NewShipmentLabelRequest { shipment_id: *sid })
            .await
            .unwrap()
            .into_inner();
        assert!(label.token.starts_with("YUI1-") && label.token.len() == 44);
        assert!(label.qr_png.starts_with(b"\x89PNG"));
        assert!(label.qr_svg.contains("<svg"));
        // The printable label: one A6 page naming this shipment and carrying its token.
        let pdf = String::from_utf8_lossy(&label.label_pdf);
        assert!(pdf.starts_with("%PDF-") && pdf.contains("/MediaBox [0 0 297.64 419.53]"));
        assert!(pdf.contains(&format!("(Shipment {sid})")));
        assert!(pdf.contains(&format!("({})", label.token)));
        record(
            &ok(
                &mut c,
                &chain,
                d,
                rl(R::Ship(pb::MarkShipped {
                    shipment_id: *sid,
                    token_commitment: label.token_commitment,
                })),
            )
            .await,
        );
        tokens.push(label.token);
    }
    // The shelter scans each label at arrival.
    for (sid, t) in shipments.iter().zip(&tokens) {
        record(
            &ok(
                &mut c,
                &chain,
                &op,
                rl(R::Receive(pb::ReceiveShipment {
                    shipment_id: *sid,
                    token: t.clone(),
                    ..Default::default()
                })),
            )
            .await,
        );
    }

    // Queries on another node.
    wait_height(
        &mut net.nodes[1].client().await.unwrap(),
        height(&mut c).await.unwrap(),
        WAIT,
    )
    .await
    .unwrap();
    let arrivals = rc
        .list_arrivals(pb::ListArrivalsRequest {
            shelter_id: "minamino-es".into(),
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .shipments;
    let got: Vec<(u64, String, u64)> = arrivals
        .iter()
        .map(|s| (s.shipment_id, s.item_id.clone(), s.quantity))
        .collect();
    assert_eq!(
        got,
        vec![
            (shipments[0], "food".into(), 40),
            (shipments[1], "food".into(), 30),
            (shipments[2], "blankets".into(), 20)
        ]
    );
    let totals = rc
        .get_disaster_totals(pb::GetDisasterTotalsRequest {
            disaster_id: DISASTER.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let t: Vec<(String, u64, u64, u64, u64, u64, u64)> = totals
        .items
        .iter()
        .map(|i| {
            (
                i.item_id.clone(),
                i.needed,
                i.committed,
                i.in_transit,
                i.received,
                i.offered,
                i.requested,
            )
        })
        .collect();
    assert_eq!(
        t,
        vec![
            ("blankets".into(), 0, 0, 0, 20, 50, 20),
            ("food".into(), 100, 70, 0, 70, 0, 0)
        ]
    );
    let sh = rc
        .get_shipment(pb::GetShipmentRequest {
            shipment_id: shipments[0],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sh.shipment.as_ref().unwrap().trail.len(), 3);
    assert_eq!(sh.item.unwrap().name, "Food (ready to eat)");
    assert_eq!(sh.commitment.unwrap().quantity, 40);
    let needs = rc
        .list_needs(pb::ListNeedsRequest {
            disaster_id: DISASTER.into(),
            category: "food".into(),
            min_priority: pb::Priority::High as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .needs;
    assert_eq!(needs.len(), 1);
    let n = &needs[0];
    assert_eq!((n.committed, n.in_transit, n.fulfilled), (70, 0, 70));
    assert_eq!(n.fulfilled_status, pb::FillStatus::FillPartial as i32);
    let open = rc
        .list_needs(pb::ListNeedsRequest {
            shelter_id: "yui-hall".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .needs;
    assert!(open.is_empty());
    let offers = rc
        .list_offers(pb::ListOffersRequest {
            available_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .offers;
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].requested, 20);
    let cat = rc
        .list_catalogue(pb::ListCatalogueRequest {})
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(cat.len(), 8);
    // Bad queries: clear codes.
    let err = rc
        .get_shipment(pb::GetShipmentRequest { shipment_id: 999 })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let err = rc
        .list_needs(pb::ListNeedsRequest {
            page: Some(pb::PageRequest {
                page_token: "zz".into(),
                page_size: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let err = rc
        .new_shipment_label(pb::NewShipmentLabelRequest {
            shipment_id: shipments[0],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);

    // The event stream delivered every notification, in order.
    let mut stream = c
        .subscribe_events(pb::SubscribeEventsRequest { after: None })
        .await
        .unwrap()
        .into_inner();
    let mut streamed = Vec::new();
    while streamed.len() < expected.len() {
        let env = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("the stream stalled")
            .unwrap()
            .unwrap();
        if let Some(pb::event::Kind::Relief(r)) = env.event.unwrap().kind {
            streamed.push(name(&r.kind.unwrap()));
        }
    }
    assert_eq!(streamed, expected);
    assert!(expected.len() >= 25, "{expected:?}");
}
