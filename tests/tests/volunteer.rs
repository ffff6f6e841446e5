//! The volunteer service over the real gRPC API of a running 4-validator network: registration
//! with the vault, approval and certificate, an opportunity matched, check-in after verifying the
//! certificate from its QR payload, check-out, report, approval and contribution points on the
//! shared ledger, payment to a store and redemption; the queries; the certificate proof checked
//! offline by `yui certificate verify` (and a tampered one refused); revocation seen online.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tonic::metadata::MetadataValue;
use yui_node::api::personal_data::{auth_header, method, AUTH_HEADER};
use yui_proto::v1 as pb;
use yui_proto::v1::personal_data_client::PersonalDataClient;
use yui_proto::v1::points_call::Call as P;
use yui_proto::v1::tx_body::Call;
use yui_proto::v1::volunteer_call::Call as V;
use yui_proto::v1::volunteer_client::VolunteerClient;
use yui_tests::call_ok as ok;
use yui_tests::*;

const WAIT: Duration = Duration::from_secs(30);

fn vol_events(events: &[pb::Event]) -> Vec<pb::volunteer_event::Kind> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            Some(pb::event::Kind::Volunteer(v)) => v.kind.clone(),
            _ => None,
        })
        .collect()
}

fn activity_id(events: &[pb::Event]) -> String {
    vol_events(events)
        .into_iter()
        .find_map(|k| match k {
            pb::volunteer_event::Kind::ActivityUpdated(a) => Some(a.activity.unwrap().activity_id),
            _ => None,
        })
        .unwrap()
}

fn cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(yui_bin().unwrap())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volunteer_flow_certificate_and_points_over_grpc() {
    let net = Net::start(4, "byzantine").await.unwrap();
    let chain = net.chain_id.clone();
    let admin = &net.admin;
    let mut c = net.nodes[0].client().await.unwrap();
    // Reads go to another node than writes: before each, that node is let catch up with the
    // height the writes were committed at.
    let mut c1 = net.nodes[1].client().await.unwrap();
    let mut v = VolunteerClient::connect(net.nodes[1].endpoint.clone())
        .await
        .unwrap();
    let (volunteer, facility, store) = (random_key(), random_key(), random_key());
    for (k, role) in [
        (&volunteer, pb::RoleKind::RoleResident),
        (&facility, pb::RoleKind::RoleFacility),
        (&store, pb::RoleKind::RoleStore),
    ] {
        ok(&mut c, &chain, admin, grant(k, role, "")).await;
    }
    // A point rule generous enough to earn points in the minute this test waits.
    for (key, value) in [
        ("volunteer.points_per_hour", 6_000),
        ("volunteer.min_redeem_points", 10),
    ] {
        ok(
            &mut c,
            &chain,
            admin,
            Call::Governance(pb::GovernanceCall {
                call: Some(pb::governance_call::Call::SetParameter(pb::SetParameter {
                    key: key.into(),
                    value,
                    effective_from_height: 0,
                })),
            }),
        )
        .await;
    }

    // Registration: the vault keeps who the volunteer is; the ledger a reference.
    let mut pd = PersonalDataClient::connect(net.nodes[0].endpoint.clone())
        .await
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut req = tonic::Request::new(pb::PutPersonalDataRequest {
        purpose: pb::PersonalDataPurpose::VolunteerIdentity as i32,
        readers: Vec::new(),
        fields: vec![pb::PersonalField {
            name: "name".into(),
            value: "鈴木 一郎".into(),
        }],
        ..Default::default()
    });
    req.metadata_mut().insert(
        AUTH_HEADER,
        MetadataValue::try_from(auth_header(admin, method::PUT, now)).unwrap(),
    );
    let put = pd.put(req).await.unwrap().into_inner();
    let ev = ok(
        &mut c,
        &chain,
        &volunteer,
        vol(V::ApplyRegistration(pb::ApplyRegistration {
            skills: vec!["diy".into(), "carrying".into()],
            person_ref: Some(pb::PersonRef {
                vault_id: put.id,
                commitment: put.commitment,
            }),
        })),
    )
    .await;
    let app_id = match &vol_events(&ev)[0] {
        pb::volunteer_event::Kind::RegistrationApplied(a) => a.application_id.clone(),
        e => panic!("unexpected {e:?}"),
    };
    same_height(&mut c, &mut c1).await;
    let pending = v
        .list_pending_approvals(pb::ListPendingApprovalsRequest {
            kind: pb::PendingKind::PendingRegistration as i32,
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, app_id);
    let ev = ok(
        &mut c,
        &chain,
        admin,
        vol(V::ApproveRegistration(pb::ApproveRegistration {
            application_id: app_id,
        })),
    )
    .await;
    let (vid, cert_id) = match &vol_events(&ev)[0] {
        pb::volunteer_event::Kind::CertificateIssued(ci) => {
            (ci.volunteer_id.clone(), ci.certificate_id.clone())
        }
        e => panic!("unexpected {e:?}"),
    };

    // The facility posts an opportunity; the volunteer applies; the facility accepts.
    let ev = ok(
        &mut c,
        &chain,
        &facility,
        vol(V::PostOpportunity(pb::PostOpportunity {
            title: "carry parcels to the community hall".into(),
            description: "boxes of donated books, second floor".into(),
            skills: vec!["carrying".into()],
            starts_at_ms: now,
            ends_at_ms: now + 3_600_000,
            slots: 1,
        })),
    )
    .await;
    let opp = match &vol_events(&ev)[0] {
        pb::volunteer_event::Kind::OpportunityPosted(o) => {
            o.opportunity.as_ref().unwrap().opportunity_id.clone()
        }
        e => panic!("unexpected {e:?}"),
    };
    same_height(&mut c, &mut c1).await;
    let listed = v
        .list_opportunities(pb::ListOpportunitiesRequest {
            status: 0,
            skill: "carrying".into(),
            poster: vec![],
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .opportunities;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].opportunity_id, opp);
    let act = activity_id(
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

    // The volunteer shows the QR code; the facility checks it before checking in.
    same_height(&mut c, &mut c1).await;
    let proof = v
        .get_certificate_proof(pb::GetCertificateProofRequest {
            certificate_id: cert_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(proof.qr_text.starts_with("YUICERT1:"));
    assert!(proof.qr_png.starts_with(b"\x89PNG"));
    assert!(proof.qr_svg.contains("<svg"));
    assert!(proof.qr_version >= 1 && proof.qr_version <= 40);
    eprintln!(
        "certificate proof: {} bytes, QR payload {} characters, QR version {}",
        proof.proof.len(),
        proof.qr_text.len(),
        proof.qr_version
    );
    same_height(&mut c, &mut c1).await;
    let verdict = v
        .verify_certificate(pb::VerifyCertificateRequest {
            certificate_id: String::new(),
            proof: vec![],
            qr_text: proof.qr_text.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(verdict.valid, "{}", verdict.reason);
    assert!(verdict.proof_checked);
    assert_eq!(verdict.certificate.unwrap().volunteer_id, vid);
    // Presence: the facility's device shows a fresh challenge, the volunteer's phone signs it.
    let challenge = yui_client::presence::challenge();
    let presence = yui_client::presence::sign(&volunteer, &act, &challenge);
    // The certificate alone (as a copied QR code gives it) does not check in.
    let refused = call_failure(
        &mut c,
        &chain,
        &facility,
        vol(V::CheckIn(pb::CheckIn {
            activity_id: act.clone(),
            certificate_id: cert_id.clone(),
            ..Default::default()
        })),
    )
    .await;
    assert_eq!(refused, "volunteer.bad_challenge");
    ok(
        &mut c,
        &chain,
        &facility,
        vol(V::CheckIn(pb::CheckIn {
            activity_id: act.clone(),
            certificate_id: cert_id.clone(),
            challenge: challenge.to_vec(),
            presence_signature: presence.to_vec(),
        })),
    )
    .await;
    let checked_in = Instant::now();

    // While the volunteer works: the proof checks offline with the CLI against genesis; any
    // changed byte is refused, by the CLI and by the node.
    let dir = tempfile::tempdir().unwrap();
    let qr_file = dir.path().join("cert.txt");
    std::fs::write(&qr_file, &proof.qr_text).unwrap();
    let genesis = net.dir.path().join("genesis.json");
    let (good, out) = cli(&[
        "certificate",
        "verify",
        "--qr-file",
        qr_file.to_str().unwrap(),
        "--genesis",
        genesis.to_str().unwrap(),
        "--endpoint",
        &net.nodes[2].endpoint,
    ]);
    assert!(good, "{out}");
    assert!(
        out.contains("PROOF VALID")
            && out.contains(&cert_id)
            && out.contains("VALID: the certificate is in force"),
        "{out}"
    );
    for i in [5, proof.proof.len() / 2, proof.proof.len() - 3] {
        let mut bad = proof.proof.clone();
        bad[i] ^= 0x01;
        same_height(&mut c, &mut c1).await;
        let verdict = v
            .verify_certificate(pb::VerifyCertificateRequest {
                certificate_id: cert_id.clone(),
                proof: bad.clone(),
                qr_text: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!verdict.valid, "a proof with byte {i} changed was accepted");
        assert!(verdict.reason.contains("proof"), "{}", verdict.reason);
        assert!(!verdict.reason_code.is_empty(), "{}", verdict.reason);
        // Without the certificate id, the broken proof is an answer too, not an RPC error.
        let verdict = v
            .verify_certificate(pb::VerifyCertificateRequest {
                certificate_id: String::new(),
                proof: bad.clone(),
                qr_text: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!verdict.valid && verdict.proof_checked, "{verdict:?}");
        assert!(!verdict.reason_code.is_empty(), "{}", verdict.reason);
        let bad_file = dir.path().join("bad.proof");
        std::fs::write(&bad_file, &bad).unwrap();
        let (good, out) = cli(&[
            "certificate",
            "verify",
            "--proof",
            bad_file.to_str().unwrap(),
            "--genesis",
            genesis.to_str().unwrap(),
        ]);
        assert!(!good && out.contains("INVALID"), "{out}");
    }
    // A damaged QR payload is an answer: not valid, because it is damaged.
    same_height(&mut c, &mut c1).await;
    let verdict = v
        .verify_certificate(pb::VerifyCertificateRequest {
            certificate_id: String::new(),
            proof: vec![],
            qr_text: "YUICERT1:!!!".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!verdict.valid, "{verdict:?}");
    assert_eq!(verdict.reason_code, "damaged", "{}", verdict.reason);

    // One minute of work (bounded), then check-out, report and approval.
    let left = Duration::from_secs(61).saturating_sub(checked_in.elapsed());
    tokio::time::sleep(left).await;
    ok(
        &mut c,
        &chain,
        &facility,
        vol(V::CheckOut(pb::CheckOut {
            activity_id: act.clone(),
        })),
    )
    .await;
    ok(
        &mut c,
        &chain,
        &facility,
        vol(V::ReportActivity(pb::ReportActivity {
            activity_id: act.clone(),
            minutes: 1,
            summary: "carried twelve boxes".into(),
        })),
    )
    .await;
    let ev = ok(
        &mut c,
        &chain,
        admin,
        vol(V::ApproveActivity(pb::ApproveActivity {
            activity_id: act.clone(),
        })),
    )
    .await;
    // 1 minute at 6,000 points per hour = 100 points, minted on the shared ledger.
    let minted: u64 = ev
        .iter()
        .filter_map(|e| match &e.kind {
            Some(pb::event::Kind::Points(pb::PointsEvent {
                kind: Some(pb::points_event::Kind::Minted(m)),
            })) => Some(m.amount),
            _ => None,
        })
        .sum();
    assert_eq!(minted, 100);

    // Pay a store, which redeems.
    ok(
        &mut c,
        &chain,
        &volunteer,
        Call::Points(pb::PointsCall {
            call: Some(P::Transfer(pb::TransferPoints {
                point_type: pb::PointType::Contribution as i32,
                issuer: "tama".into(),
                to: store.verifying_key().to_bytes().to_vec(),
                amount: 30,
                memo: String::new(),
            })),
        }),
    )
    .await;
    ok(
        &mut c,
        &chain,
        &store,
        Call::Points(pb::PointsCall {
            call: Some(P::Redeem(pb::RedeemPoints {
                point_type: pb::PointType::Contribution as i32,
                issuer: "tama".into(),
                amount: 30,
            })),
        }),
    )
    .await;

    // The queries, on another node.
    wait_height(
        &mut net.nodes[1].client().await.unwrap(),
        height(&mut c).await.unwrap(),
        WAIT,
    )
    .await
    .unwrap();
    same_height(&mut c, &mut c1).await;
    let hist = v
        .get_volunteer_history(pb::GetVolunteerHistoryRequest {
            volunteer_id: vid.clone(),
            page: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hist.points_balance, 70);
    let profile = hist.volunteer.unwrap();
    assert_eq!(profile.completed_activities, 1);
    assert_eq!(profile.total_points_granted, 100);
    assert_eq!(hist.activities.len(), 1);
    assert_eq!(hist.activities[0].points, 100);
    same_height(&mut c, &mut c1).await;
    let found = v
        .search_volunteers(pb::SearchVolunteersRequest {
            skill: "carrying".into(),
            min_completed_activities: 1,
            include_revoked: false,
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .volunteers;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].volunteer_id, vid);
    same_height(&mut c, &mut c1).await;
    let none = v
        .search_volunteers(pb::SearchVolunteersRequest {
            skill: "cooking".into(),
            min_completed_activities: 0,
            include_revoked: false,
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .volunteers;
    assert!(none.is_empty());
    same_height(&mut c, &mut c1).await;
    let pending = v
        .list_pending_approvals(pb::ListPendingApprovalsRequest {
            kind: 0,
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert!(pending.is_empty(), "{pending:?}");
    same_height(&mut c, &mut c1).await;
    let err = v
        .get_volunteer_history(pb::GetVolunteerHistoryRequest {
            volunteer_id: "vol-unknown".into(),
            page: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    same_height(&mut c, &mut c1).await;
    let err = v
        .list_opportunities(pb::ListOpportunitiesRequest {
            status: 0,
            skill: String::new(),
            poster: vec![],
            page: Some(pb::PageRequest {
                page_token: "not hex".into(),
                page_size: 0,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    // Revocation: the proof still shows it was issued, but online it is no longer valid.
    ok(
        &mut c,
        &chain,
        admin,
        vol(V::RevokeRegistration(pb::RevokeRegistration {
            volunteer_id: vid.clone(),
            reason: "moved away".into(),
        })),
    )
    .await;
    wait_height(
        &mut net.nodes[1].client().await.unwrap(),
        height(&mut c).await.unwrap(),
        WAIT,
    )
    .await
    .unwrap();
    same_height(&mut c, &mut c1).await;
    let verdict = v
        .verify_certificate(pb::VerifyCertificateRequest {
            certificate_id: String::new(),
            proof: vec![],
            qr_text: proof.qr_text.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!verdict.valid);
    assert!(verdict.reason.contains("revoked"), "{}", verdict.reason);
    let (good, out) = cli(&[
        "certificate",
        "verify",
        "--qr-file",
        qr_file.to_str().unwrap(),
        "--genesis",
        genesis.to_str().unwrap(),
        "--endpoint",
        &net.nodes[1].endpoint,
    ]);
    assert!(
        !good && out.contains("PROOF VALID") && out.contains("revoked"),
        "{out}"
    );
}

/// Wait (bounded) until the node behind `c1` has every block the node behind `c` has.
async fn same_height(c: &mut Client, c1: &mut Client) {
    let h = height(c).await.unwrap();
    wait_height(c1, h, std::time::Duration::from_secs(30))
        .await
        .unwrap();
}
