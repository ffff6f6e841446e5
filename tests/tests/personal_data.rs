//! The personal-data vault over the real gRPC API of a running node: put, get, access denied
//! for an account of no organization, erase then get, and the chain still verifies after the
//! erasure (the commitment on the ledger simply becomes unlinkable).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::metadata::MetadataValue;
use yui_node::api::personal_data::{auth_header, method, AUTH_HEADER};
use yui_proto::v1 as pb;
use yui_proto::v1::personal_data_client::PersonalDataClient;
use yui_tests::*;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn authed<T>(key: &ed25519_dalek::SigningKey, m: &str, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    let token = auth_header(key, m, now_ms());
    r.metadata_mut()
        .insert(AUTH_HEADER, MetadataValue::try_from(token).unwrap());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_round_trip_denial_erasure_and_replay() {
    let mut net = Net::start(1, "byzantine").await.unwrap();
    let mut pd = PersonalDataClient::connect(net.nodes[0].endpoint.clone())
        .await
        .unwrap();
    let fields = vec![
        pb::PersonalField {
            name: "name".into(),
            value: "山田 太郎".into(),
        },
        pb::PersonalField {
            name: "phone".into(),
            value: "090-1234-5678".into(),
        },
    ];
    let put = pd
        .put(authed(
            &net.admin,
            method::PUT,
            pb::PutPersonalDataRequest {
                purpose: pb::PersonalDataPurpose::ResidentContact as i32,
                readers: Vec::new(),
                fields: fields.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(put.id.starts_with("pd_"));
    assert_eq!(put.commitment.len(), 32);
    let got = pd
        .get(authed(
            &net.admin,
            method::GET,
            pb::GetPersonalDataRequest { id: put.id.clone() },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.fields, fields);
    // No token, and a key of no organization: refused.
    let err = pd
        .get(pb::GetPersonalDataRequest { id: put.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let stranger = random_key();
    let err = pd
        .get(authed(
            &stranger,
            method::GET,
            pb::GetPersonalDataRequest { id: put.id.clone() },
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.code(),
            tonic::Code::PermissionDenied | tonic::Code::Unauthenticated
        ),
        "{err:?}"
    );
    assert!(
        !err.message().contains("1234"),
        "the error echoes personal data"
    );

    // The ledger carries only the id: a transaction referencing it commits.
    let mut c = net.nodes[0].client().await.unwrap();
    let h = height(&mut c).await.unwrap();
    let tx = sign_body(
        &net.admin,
        &body(
            &net.admin,
            &net.chain_id,
            h + 50,
            grant(&random_key(), pb::RoleKind::RoleResident, ""),
        ),
    );
    let id = submit(&mut c, tx).await.unwrap();
    wait_committed(&mut c, &id, Duration::from_secs(20))
        .await
        .unwrap();

    pd.erase(authed(
        &net.admin,
        method::ERASE,
        pb::ErasePersonalDataRequest {
            id: put.id.clone(),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    let err = pd
        .get(authed(
            &net.admin,
            method::GET,
            pb::GetPersonalDataRequest { id: put.id.clone() },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("erased"), "{}", err.message());

    // Replay of the whole chain still succeeds after the erasure.
    net.nodes[0].stop();
    let out = std::process::Command::new(yui_bin().unwrap())
        .args(["verify", "--quiet", "--genesis"])
        .arg(net.dir.path().join("genesis.json"))
        .arg("--data-dir")
        .arg(&net.nodes[0].data_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The plaintext is nowhere in the node's data directory.
    fn scan(dir: &std::path::Path, needle: &[u8]) -> bool {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| {
                let p = e.path();
                if p.is_dir() {
                    scan(&p, needle)
                } else {
                    std::fs::read(&p)
                        .map(|b| b.windows(needle.len()).any(|w| w == needle))
                        .unwrap_or(false)
                }
            })
    }
    assert!(!scan(&net.nodes[0].data_dir, "090-1234-5678".as_bytes()));
    assert!(!scan(&net.nodes[0].data_dir, "山田 太郎".as_bytes()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_registered_donor_can_neither_store_nor_read_personal_data() {
    let net = Net::start(1, "byzantine").await.unwrap();
    let mut pd = PersonalDataClient::connect(net.nodes[0].endpoint.clone())
        .await
        .unwrap();
    let put = pd
        .put(authed(
            &net.admin,
            method::PUT,
            pb::PutPersonalDataRequest {
                purpose: pb::PersonalDataPurpose::ResidentContact as i32,
                readers: Vec::new(),
                fields: vec![pb::PersonalField {
                    name: "name".into(),
                    value: "山田 太郎".into(),
                }],
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    // A donor registers itself over the real API: an account with the donor role and no
    // organization.
    let donor = random_key();
    let mut c = net.nodes[0].client().await.unwrap();
    call_ok(
        &mut c,
        &net.chain_id,
        &donor,
        pb::tx_body::Call::Governance(pb::GovernanceCall {
            call: Some(pb::governance_call::Call::RegisterDonor(
                pb::RegisterDonor {},
            )),
        }),
    )
    .await;
    let mut g = pb::governance_client::GovernanceClient::connect(net.nodes[0].endpoint.clone())
        .await
        .unwrap();
    let account = g
        .get_account(pb::GetAccountRequest {
            account: donor.verifying_key().to_bytes().to_vec(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(account.organization, "");
    assert_eq!(account.roles.len(), 1);
    // It reads nobody's record and stores none.
    let err = pd
        .get(authed(
            &donor,
            method::GET,
            pb::GetPersonalDataRequest { id: put.id.clone() },
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.code(),
            tonic::Code::PermissionDenied | tonic::Code::Unauthenticated
        ),
        "{err:?}"
    );
    let err = pd
        .put(authed(
            &donor,
            method::PUT,
            pb::PutPersonalDataRequest {
                purpose: pb::PersonalDataPurpose::ResidentContact as i32,
                readers: Vec::new(),
                fields: vec![pb::PersonalField {
                    name: "name".into(),
                    value: "佐藤 花子".into(),
                }],
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.code(),
            tonic::Code::PermissionDenied | tonic::Code::Unauthenticated
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_is_read_only_by_holders_of_its_reader_roles() {
    let net = Net::start(1, "byzantine").await.unwrap();
    let mut c = net.nodes[0].client().await.unwrap();
    let operator = random_key();
    let resident = random_key();
    // A shelter-operator role names a shelter of the granting municipality.
    call_ok(
        &mut c,
        &net.chain_id,
        &net.admin,
        pb::tx_body::Call::Relief(pb::ReliefCall {
            call: Some(pb::relief_call::Call::RegisterShelter(
                pb::RegisterShelter {
                    shelter_id: "shelter-1".into(),
                    name: "Gym".into(),
                    area: "North".into(),
                    contact: Some(pb::PersonRef {
                        vault_id: format!("pd_{}", "0".repeat(32)),
                        commitment: vec![1; 32],
                    }),
                },
            )),
        }),
    )
    .await;
    for (k, role, scope) in [
        (&operator, pb::RoleKind::RoleShelterOperator, "shelter-1"),
        (&resident, pb::RoleKind::RoleResident, ""),
    ] {
        call_ok(&mut c, &net.chain_id, &net.admin, grant(k, role, scope)).await;
    }
    let mut pd = PersonalDataClient::connect(net.nodes[0].endpoint.clone())
        .await
        .unwrap();
    let contact = pd
        .put(authed(
            &net.admin,
            method::PUT,
            pb::PutPersonalDataRequest {
                fields: vec![pb::PersonalField {
                    name: "contact".into(),
                    value: "田中 美咲".into(),
                }],
                purpose: pb::PersonalDataPurpose::ShelterContact as i32,
                readers: vec![pb::RoleKind::RoleShelterOperator as i32],
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let got = pd
        .get(authed(
            &operator,
            method::GET,
            pb::GetPersonalDataRequest {
                id: contact.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.fields[0].value, "田中 美咲");
    assert_eq!(got.purpose, pb::PersonalDataPurpose::ShelterContact as i32);
    // Same organization, another role: refused; nor may the operator erase it.
    let err = pd
        .get(authed(
            &resident,
            method::GET,
            pb::GetPersonalDataRequest {
                id: contact.id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
    let err = pd
        .erase(authed(
            &operator,
            method::ERASE,
            pb::ErasePersonalDataRequest {
                id: contact.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
    // A record without a purpose is refused.
    let err = pd
        .put(authed(
            &net.admin,
            method::PUT,
            pb::PutPersonalDataRequest {
                fields: vec![pb::PersonalField {
                    name: "name".into(),
                    value: "x".into(),
                }],
                purpose: 0,
                readers: Vec::new(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_holds_erasure_until_a_legal_basis_and_disclosure_exports_a_subject() {
    let net = Net::start(1, "byzantine").await.unwrap();
    let mut pd = PersonalDataClient::connect(net.nodes[0].endpoint.clone())
        .await
        .unwrap();
    let year_ahead = now_ms() + 365 * 24 * 3600 * 1000;
    let put = |value: &str, subject: &str, retain: u64| pb::PutPersonalDataRequest {
        fields: vec![pb::PersonalField {
            name: "name".into(),
            value: value.into(),
        }],
        purpose: pb::PersonalDataPurpose::ParticipantIdentity as i32,
        retain_until_ms: retain,
        retention_rule: if retain > 0 {
            "j-credit-monitoring-2y".into()
        } else {
            String::new()
        },
        subject: subject.into(),
        ..Default::default()
    };
    let mut ids = Vec::new();
    for (value, subject, retain) in [
        ("高橋 一郎", "ptc-7f3a", year_ahead),
        ("高橋 一郎 (monitoring)", "ptc-7f3a", 0),
        ("伊藤 二郎", "ptc-9b1c", 0),
    ] {
        ids.push(
            pd.put(authed(&net.admin, method::PUT, put(value, subject, retain)))
                .await
                .unwrap()
                .into_inner()
                .id,
        );
    }
    // A retention period without its rule's name is refused.
    let mut nameless = put("x", "ptc-1", year_ahead);
    nameless.retention_rule = String::new();
    let err = pd
        .put(authed(&net.admin, method::PUT, nameless))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    // Within its retention period the record cannot be erased without a legal basis ...
    let erase = |id: &str, basis: &str| pb::ErasePersonalDataRequest {
        id: id.into(),
        legal_basis: basis.into(),
    };
    let err = pd
        .erase(authed(&net.admin, method::ERASE, erase(&ids[0], "")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message().contains("j-credit-monitoring-2y") && err.message().contains("legal basis"),
        "{}",
        err.message()
    );
    // ... and a legal basis with personal data in it is refused too.
    let err = pd
        .erase(authed(
            &net.admin,
            method::ERASE,
            erase(&ids[0], "request by 090-1234-5678"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    assert!(!err.message().contains("1234"), "{}", err.message());
    // Disclosure: every live record of one subject, as records and as JSON.
    let disclose = |subject: &str| {
        authed(
            &net.admin,
            method::DISCLOSE,
            pb::DisclosePersonalDataRequest {
                subject: subject.into(),
            },
        )
    };
    let d = pd
        .disclose(disclose("ptc-7f3a"))
        .await
        .unwrap()
        .into_inner();
    let mut got: Vec<&str> = d.records.iter().map(|r| r.id.as_str()).collect();
    got.sort_unstable();
    let mut want = vec![ids[0].as_str(), ids[1].as_str()];
    want.sort_unstable();
    assert_eq!(got, want);
    let json: serde_json::Value = serde_json::from_str(&d.json).unwrap();
    assert_eq!(json["subject"], "ptc-7f3a");
    assert_eq!(json["records"].as_array().unwrap().len(), 2);
    assert!(d.json.contains("高橋 一郎"));
    assert!(!d.json.contains("伊藤"));
    // With a legal basis it is erased, and disclosure no longer shows it.
    pd.erase(authed(
        &net.admin,
        method::ERASE,
        erase(&ids[0], "APPI art. 35 request, decision 2026-118"),
    ))
    .await
    .unwrap();
    let d = pd
        .disclose(disclose("ptc-7f3a"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.records.len(), 1);
    assert_eq!(d.records[0].id, ids[1]);
    // Only admins disclose: a resident of the organization is refused.
    let resident = random_key();
    let mut c = net.nodes[0].client().await.unwrap();
    call_ok(
        &mut c,
        &net.chain_id,
        &net.admin,
        grant(&resident, pb::RoleKind::RoleResident, ""),
    )
    .await;
    let err = pd
        .disclose(authed(
            &resident,
            method::DISCLOSE,
            pb::DisclosePersonalDataRequest {
                subject: "ptc-7f3a".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
    // No stored value reached the node's log.
    let log = net.nodes[0].log_text();
    for value in ["高橋", "伊藤", "090-1234-5678"] {
        assert!(!log.contains(value), "the log holds {value}");
    }
}

/// `authed` at a chosen time (a node whose clock is a day behind wants tokens of its time).
fn authed_at<T>(key: &ed25519_dalek::SigningKey, m: &str, at_ms: u64, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        AUTH_HEADER,
        MetadataValue::try_from(auth_header(key, m, at_ms)).unwrap(),
    );
    r
}

const DAY: u64 = 86_400_000;

/// A one-validator network whose genesis is a day and an hour ago, its node started on
/// yesterday's clock (libfaketime); with the environment that runs a process on that clock.
/// `None` when libfaketime is not installed (outside CI).
async fn net_on_yesterday() -> Option<(Net, Vec<(String, String)>)> {
    let Some(lib) = libfaketime() else {
        eprintln!("SKIPPED: libfaketime is not installed (scripts/install-test-deps)");
        return None;
    };
    let mut net = Net::create_dated(1, now_ms() - DAY - 3_600_000)
        .await
        .unwrap();
    let env = faketime_env(&lib, "-1d");
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    net.nodes[0].start_with(&pairs).await.unwrap();
    Some((net, env))
}

/// A new account of the network's organization holding only ROLE_RESIDENT.
async fn new_resident(net: &Net, c: &mut Client) -> ed25519_dalek::SigningKey {
    let resident = random_key();
    call_ok(
        c,
        &net.chain_id,
        &net.admin,
        grant(&resident, pb::RoleKind::RoleResident, ""),
    )
    .await;
    resident
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_is_read_by_the_auditor_anchored_once_and_a_changed_line_is_detected() {
    // Yesterday: the node's clock (and so block time and the log's times) a day behind.
    let Some((mut net, _)) = net_on_yesterday().await else {
        return;
    };
    let yesterday = yui_contracts::calendar::jst_date_string(now_ms() - DAY);
    let then = || now_ms() - DAY;
    let mut c = net.nodes[0].client().await.unwrap();
    let auditor = random_key();
    call_ok(
        &mut c,
        &net.chain_id,
        &net.admin,
        grant(&auditor, pb::RoleKind::RoleAuditor, ""),
    )
    .await;
    let mut pd = PersonalDataClient::connect(net.nodes[0].endpoint.clone())
        .await
        .unwrap();
    let put = pd
        .put(authed_at(
            &net.admin,
            method::PUT,
            then(),
            pb::PutPersonalDataRequest {
                purpose: pb::PersonalDataPurpose::ResidentContact as i32,
                fields: vec![pb::PersonalField {
                    name: "phone".into(),
                    value: "090-1234-5678".into(),
                }],
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    // The auditor is not among the record's readers (the admins): refused, and logged.
    let err = pd
        .get(authed_at(
            &auditor,
            method::GET,
            then(),
            pb::GetPersonalDataRequest { id: put.id.clone() },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    pd.get(authed_at(
        &net.admin,
        method::GET,
        then(),
        pb::GetPersonalDataRequest { id: put.id.clone() },
    ))
    .await
    .unwrap();
    let read_log = |pd: &mut PersonalDataClient<tonic::transport::Channel>, at: u64| {
        let req = authed_at(
            &auditor,
            method::READ_ACCESS_LOG,
            at,
            pb::ReadAccessLogRequest {
                day: yesterday.clone(),
            },
        );
        let mut pd = pd.clone();
        async move { pd.read_access_log(req).await.unwrap().into_inner() }
    };
    let log = read_log(&mut pd, then()).await;
    let ops: Vec<(&str, &str)> = log
        .entries
        .iter()
        .map(|e| (e.operation.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(ops, [("put", "ok"), ("get", "denied"), ("get", "ok")]);
    let denied = &log.entries[1];
    assert_eq!(denied.account, auditor.verifying_key().to_bytes().to_vec());
    assert_eq!(denied.account_organization, "tama");
    assert_eq!(denied.record_id, put.id);
    assert_eq!(
        denied.purpose,
        pb::PersonalDataPurpose::ResidentContact as i32
    );
    assert!(!log.anchored && !log.matches_anchor);
    // Nothing of the record's content is in the log.
    assert!(!format!("{log:?}").contains("5678"));
    // A donor-like account without an auditing role cannot read the log.
    let resident = new_resident(&net, &mut c).await;
    let err = pd
        .read_access_log(authed_at(
            &resident,
            method::READ_ACCESS_LOG,
            then(),
            pb::ReadAccessLogRequest {
                day: yesterday.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);

    // Today: the real clock. The operator anchors yesterday with the CLI.
    net.nodes[0].stop();
    net.nodes[0].start().await.unwrap();
    let mut c = net.nodes[0].client().await.unwrap();
    let h = height(&mut c).await.unwrap();
    wait_height(&mut c, h + 1, Duration::from_secs(30))
        .await
        .unwrap();
    let key_file = net.dir.path().join("keys/tama-admin-1.key");
    let endpoint = net.nodes[0].endpoint.clone();
    let anchor_cli = || {
        std::process::Command::new(yui_bin().unwrap())
            .args(["gov", "anchor-access-log", "--endpoint"])
            .arg(&endpoint)
            .arg("--key")
            .arg(&key_file)
            .output()
            .unwrap()
    };
    let out = anchor_cli();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("anchored: the access log of tama for"),
        "{text}"
    );
    let mut pd = PersonalDataClient::connect(net.nodes[0].endpoint.clone())
        .await
        .unwrap();
    let log = read_log(&mut pd, now_ms()).await;
    assert!(log.anchored && log.matches_anchor, "{log:?}");
    assert_eq!(log.anchored_entries, 3);
    assert_eq!(log.anchored_digest, log.digest);
    // A day is anchored once; today cannot be anchored before it is over.
    for (day, code) in [
        (yesterday.clone(), "governance.log_already_anchored"),
        (
            yui_contracts::calendar::jst_date_string(now_ms()),
            "governance.day_not_over",
        ),
    ] {
        let r = call_receipt(
            &mut c,
            &net.chain_id,
            &net.admin,
            pb::tx_body::Call::Governance(pb::GovernanceCall {
                call: Some(pb::governance_call::Call::AnchorAccessLog(
                    pb::AnchorAccessLog {
                        day,
                        entries: 0,
                        digest: vec![0; 32],
                        erased_records: Vec::new(),
                    },
                )),
            }),
        )
        .await
        .unwrap();
        assert_eq!(r.error.unwrap().code, code);
    }

    // Someone with access to the host changes a line of yesterday's log: "denied" becomes
    // "ok". The stored log no longer matches its anchor, and the CLI says so.
    net.nodes[0].stop();
    {
        let vault = yui_node::vault::Vault::open(&net.nodes[0].data_dir.join("vault")).unwrap();
        let mut forged = log.entries[1].clone();
        forged.outcome = "ok".into();
        vault
            .overwrite_log_entry_for_tests("tama", &yesterday, 1, &forged)
            .unwrap();
        vault.flush().unwrap();
    }
    net.nodes[0].start().await.unwrap();
    let mut pd = PersonalDataClient::connect(net.nodes[0].endpoint.clone())
        .await
        .unwrap();
    let log = read_log(&mut pd, now_ms()).await;
    assert_eq!(log.entries[1].outcome, "ok");
    assert!(log.anchored && !log.matches_anchor, "{log:?}");
    let out = anchor_cli();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("DOES NOT MATCH"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_backup_restores_on_a_node_that_lost_its_vault_and_erased_records_stay_erased() {
    let Some((mut net, yesterday_env)) = net_on_yesterday().await else {
        return;
    };
    let then = || now_ms() - DAY;
    let endpoint = net.nodes[0].endpoint.clone();
    let key_file = net.dir.path().join("keys/tama-admin-1.key");
    let dir = net.dir.path().to_path_buf();
    // The yui CLI as the operator runs it, on the node's clock when `yesterday`.
    let cli = |args: &[&str], yesterday: bool| {
        let mut cmd = std::process::Command::new(yui_bin().unwrap());
        cmd.args(args);
        if yesterday {
            cmd.envs(yesterday_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "yui {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let mut pd = PersonalDataClient::connect(endpoint.clone()).await.unwrap();
    let fields = |n: &str| {
        vec![
            pb::PersonalField {
                name: "name".into(),
                value: "山田 花子".into(),
            },
            pb::PersonalField {
                name: "phone".into(),
                value: format!("090-7777-{n}"),
            },
        ]
    };
    let mut ids = Vec::new();
    for n in ["0001", "0002", "0003"] {
        let put = pd
            .put(authed_at(
                &net.admin,
                method::PUT,
                then(),
                pb::PutPersonalDataRequest {
                    purpose: pb::PersonalDataPurpose::ShelterContact as i32,
                    fields: fields(n),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        ids.push(put.id);
    }
    let erase = |pd: &mut PersonalDataClient<tonic::transport::Channel>, id: &str| {
        let req = authed_at(
            &net.admin,
            method::ERASE,
            then(),
            pb::ErasePersonalDataRequest {
                id: id.to_string(),
                ..Default::default()
            },
        );
        let mut pd = pd.clone();
        async move { pd.erase(req).await.unwrap() }
    };
    // The second record is erased before the backup, the third after it.
    erase(&mut pd, &ids[1]).await;
    let recovery = dir.join("recovery.key");
    let recipient = cli(
        &["vault", "recovery-key", "--out", recovery.to_str().unwrap()],
        false,
    );
    let recipient = recipient.trim();
    assert!(recipient.starts_with("age1"), "{recipient}");
    let backup = dir.join("tama-vault.age");
    let said = cli(
        &[
            "vault",
            "backup",
            "--endpoint",
            &endpoint,
            "--key",
            key_file.to_str().unwrap(),
            "--recipient",
            recipient,
            "--out",
            backup.to_str().unwrap(),
        ],
        true,
    );
    assert!(said.contains("backup of 3 records"), "{said}");
    let file = std::fs::read(&backup).unwrap();
    for secret in ["7777", "山田"] {
        assert!(
            !file.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the backup holds {secret} in the clear"
        );
    }
    erase(&mut pd, &ids[2]).await;

    // Today: the day's log is anchored with its erasures.
    net.nodes[0].stop();
    net.nodes[0].start().await.unwrap();
    let anchored = cli(
        &[
            "gov",
            "anchor-access-log",
            "--endpoint",
            &endpoint,
            "--key",
            key_file.to_str().unwrap(),
        ],
        false,
    );
    assert!(anchored.contains("2 erased records"), "{anchored}");

    // The host loses its vault; the node comes back without it.
    net.nodes[0].stop();
    std::fs::remove_dir_all(net.nodes[0].data_dir.join("vault")).unwrap();
    net.nodes[0].start().await.unwrap();
    let mut pd = PersonalDataClient::connect(endpoint.clone()).await.unwrap();
    let get = |pd: &mut PersonalDataClient<tonic::transport::Channel>, id: &str| {
        let req = authed(
            &net.admin,
            method::GET,
            pb::GetPersonalDataRequest { id: id.to_string() },
        );
        let mut pd = pd.clone();
        async move { pd.get(req).await }
    };
    assert_eq!(
        get(&mut pd, &ids[0]).await.unwrap_err().code(),
        tonic::Code::NotFound
    );
    // A resident account cannot take a backup.
    let mut c = net.nodes[0].client().await.unwrap();
    let resident = new_resident(&net, &mut c).await;
    let err = pd
        .backup(authed(
            &resident,
            method::BACKUP,
            pb::BackupVaultRequest {
                recipient: recipient.to_string(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);

    let said = cli(
        &[
            "vault",
            "restore",
            "--endpoint",
            &endpoint,
            "--key",
            key_file.to_str().unwrap(),
            "--identity",
            recovery.to_str().unwrap(),
            "--backup",
            backup.to_str().unwrap(),
        ],
        false,
    );
    assert!(
        said.contains("restored 1 records, 1 erased records kept erased, 1 records erased since the backup kept erased"),
        "{said}"
    );
    let got = get(&mut pd, &ids[0]).await.unwrap().into_inner();
    assert_eq!(got.fields, fields("0001"));
    let mut errors = Vec::new();
    for id in &ids[1..] {
        let err = get(&mut pd, id).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{id}: {err:?}");
        errors.push(err.message().to_string());
    }
    // A backend that puts the same values in a transaction is refused without an echo.
    let h = height(&mut c).await.unwrap();
    let err = submit(
        &mut c,
        sign_body(
            &net.admin,
            &body(
                &net.admin,
                &net.chain_id,
                h + 50,
                pb::tx_body::Call::Relief(pb::ReliefCall {
                    call: Some(pb::relief_call::Call::OpenDisaster(pb::OpenDisaster {
                        disaster_id: "flood-2026".into(),
                        name: "連絡 山田 花子 090-7777-0001".into(),
                    })),
                }),
            ),
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    errors.push(err.message().to_string());

    // After the whole run, no stored personal value is in the node's log, its data directory
    // (blocks, state, the vault's files), an export of the chain, or any error message.
    net.nodes[0].stop();
    let export = dir.join("chain.export");
    cli(
        &[
            "export",
            "--data-dir",
            net.nodes[0].data_dir.to_str().unwrap(),
            "--out",
            export.to_str().unwrap(),
        ],
        false,
    );
    let mut files = vec![net.nodes[0].log.clone(), export];
    let mut stack = vec![net.nodes[0].data_dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    assert!(files.len() > 5, "{files:?}");
    let values = ["090-7777", "7777-0001", "山田 花子", "山田"];
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for v in values {
            assert!(
                !bytes.windows(v.len()).any(|w| w == v.as_bytes()),
                "{} holds the personal value {v:?}",
                f.display()
            );
        }
    }
    for m in &errors {
        for v in values {
            assert!(!m.contains(v), "an error message holds {v:?}: {m}");
        }
    }
}

/// The first event of `kind` in a receipt's relief events.
fn relief_event<T>(events: &[pb::Event], pick: impl Fn(&pb::relief_event::Kind) -> Option<T>) -> T {
    events
        .iter()
        .find_map(|e| match &e.kind {
            Some(pb::event::Kind::Relief(r)) => r.kind.as_ref().and_then(&pick),
            _ => None,
        })
        .expect("the relief event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shelter_contact_is_released_to_the_shipment_s_donor_of_another_municipality_until_it_arrives(
) {
    use pb::relief_call::Call as R;
    let rl = |c: R| pb::tx_body::Call::Relief(pb::ReliefCall { call: Some(c) });
    let net = Net::start_consortium(&["hachioji", "tama"]).await.unwrap();
    let (hachioji, tama) = (&net.admins[0], &net.admins[1]);
    let mut c0 = net.nodes[0].client().await.unwrap();
    let mut c1 = net.nodes[1].client().await.unwrap();
    // Hachioji keeps its shelter's contact in its own node's vault.
    let mut pd0 = PersonalDataClient::connect(net.nodes[0].endpoint.clone())
        .await
        .unwrap();
    let contact = vec![
        pb::PersonalField {
            name: "contact".into(),
            value: "田中 美咲".into(),
        },
        pb::PersonalField {
            name: "phone".into(),
            value: "042-620-7200".into(),
        },
    ];
    let put = pd0
        .put(authed(
            hachioji,
            method::PUT,
            pb::PutPersonalDataRequest {
                purpose: pb::PersonalDataPurpose::ShelterContact as i32,
                fields: contact.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let op = random_key();
    for call in [
        rl(R::OpenDisaster(pb::OpenDisaster {
            disaster_id: "flood".into(),
            name: "Asakawa flood".into(),
        })),
        rl(R::RegisterShelter(pb::RegisterShelter {
            shelter_id: "asakawa-es".into(),
            name: "Asakawa Elementary School gym".into(),
            area: "Asakawa".into(),
            contact: Some(pb::PersonRef {
                vault_id: put.id.clone(),
                commitment: put.commitment.clone(),
            }),
        })),
        grant(&op, pb::RoleKind::RoleShelterOperator, "asakawa-es"),
    ] {
        call_ok(&mut c0, &net.chain_id, hachioji, call).await;
    }
    // Two donors of Tama, which runs its own node.
    let (donor, other_donor) = (random_key(), random_key());
    for d in [&donor, &other_donor] {
        call_ok(
            &mut c1,
            &net.chain_id,
            tama,
            grant(d, pb::RoleKind::RoleDonor, ""),
        )
        .await;
    }
    let ev = call_ok(
        &mut c0,
        &net.chain_id,
        &op,
        rl(R::PostNeed(pb::PostNeed {
            disaster_id: "flood".into(),
            shelter_id: "asakawa-es".into(),
            item_id: "food".into(),
            quantity: 100,
            priority: pb::Priority::High as i32,
            ..Default::default()
        })),
    )
    .await;
    let need_id = relief_event(&ev, |k| match k {
        pb::relief_event::Kind::NeedChanged(n) => Some(n.need_id),
        _ => None,
    });
    let ev = call_ok(
        &mut c1,
        &net.chain_id,
        &donor,
        rl(R::Pledge(pb::Pledge {
            need_id,
            quantity: 40,
        })),
    )
    .await;
    let commitment_id = relief_event(&ev, |k| match k {
        pb::relief_event::Kind::CommitmentChanged(c) => Some(c.commitment_id),
        _ => None,
    });
    let mut pd1 = PersonalDataClient::connect(net.nodes[1].endpoint.clone())
        .await
        .unwrap();
    let released = |pd: &mut PersonalDataClient<tonic::transport::Channel>,
                    key: &ed25519_dalek::SigningKey,
                    shipment_id: u64| {
        let req = authed(
            key,
            method::GET_RELEASED,
            pb::GetReleasedRequest { shipment_id },
        );
        let mut pd = pd.clone();
        async move { pd.get_released(req).await }
    };
    // Before the go-ahead there is no shipment, so nothing is released.
    assert_eq!(
        released(&mut pd1, &donor, 1).await.unwrap_err().code(),
        tonic::Code::NotFound
    );
    let ev = call_ok(
        &mut c0,
        &net.chain_id,
        &op,
        rl(R::Approve(pb::ApproveShipment { commitment_id })),
    )
    .await;
    let shipment_id = relief_event(&ev, |k| match k {
        pb::relief_event::Kind::ShipmentChanged(s) => s.shipment.as_ref().map(|s| s.shipment_id),
        _ => None,
    });
    wait_height(
        &mut c1,
        height(&mut c0).await.unwrap(),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    // The donor reads the contact through Tama's node, which does not hold it: the request
    // goes to Hachioji's node with the donor's own token.
    let got = released(&mut pd1, &donor, shipment_id)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.fields, contact);
    assert_eq!(got.id, put.id);
    // Another donor, and the Tama admin, get nothing; nor does a stale or reused token.
    for k in [&other_donor, tama] {
        let err = released(&mut pd1, k, shipment_id).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
        assert!(!err.message().contains("田中") && !err.message().contains("7200"));
    }
    let stale = authed_at(
        &donor,
        method::GET_RELEASED,
        now_ms() - 120_000,
        pb::GetReleasedRequest { shipment_id },
    );
    assert_eq!(
        pd1.get_released(stale).await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    // The release is in Hachioji's access log, naming the donor and its organization.
    let day = yui_contracts::calendar::jst_date_string(now_ms());
    let log = pd0
        .read_access_log(authed(
            hachioji,
            method::READ_ACCESS_LOG,
            pb::ReadAccessLogRequest { day },
        ))
        .await
        .unwrap()
        .into_inner();
    let release = log
        .entries
        .iter()
        .find(|e| e.operation == "release")
        .expect("a release entry");
    assert_eq!(release.account, donor.verifying_key().to_bytes().to_vec());
    assert_eq!(release.account_organization, "tama");
    assert_eq!(release.record_id, put.id);
    assert_eq!(release.outcome, "ok");
    assert_eq!(release.count, shipment_id);

    // It arrives: the release ends, on every node.
    let label = yui_proto::v1::relief_client::ReliefClient::connect(net.nodes[1].endpoint.clone())
        .await
        .unwrap()
        .new_shipment_label(pb::NewShipmentLabelRequest { shipment_id })
        .await
        .unwrap()
        .into_inner();
    call_ok(
        &mut c1,
        &net.chain_id,
        &donor,
        rl(R::Ship(pb::MarkShipped {
            shipment_id,
            token_commitment: label.token_commitment,
        })),
    )
    .await;
    assert!(released(&mut pd1, &donor, shipment_id).await.is_ok());
    call_ok(
        &mut c0,
        &net.chain_id,
        &op,
        rl(R::Receive(pb::ReceiveShipment {
            shipment_id,
            token: label.token,
            ..Default::default()
        })),
    )
    .await;
    wait_height(
        &mut c1,
        height(&mut c0).await.unwrap(),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    for pd in [&mut pd1, &mut pd0] {
        let err = released(pd, &donor, shipment_id).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
        assert!(err.message().contains("received"), "{}", err.message());
    }
}
