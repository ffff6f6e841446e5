//! A consortium that changes by vote, end to end: four municipalities, each running one
//! validator process; a fifth joins by a vote of more than 2/3 of them while the network
//! commits, its node (in no genesis file) connects and follows, its admin acts for it; once a
//! second vote removes it, its accounts are refused at submit and its node is cut off.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;
use yui_proto::v1 as pb;
use yui_proto::v1::governance_client::GovernanceClient;
use yui_tests::*;

const WAIT: Duration = Duration::from_secs(60);

fn gov(c: pb::governance_call::Call) -> pb::tx_body::Call {
    pb::tx_body::Call::Governance(pb::GovernanceCall { call: Some(c) })
}

fn member_change(change: pb::member_change::Change) -> pb::tx_body::Call {
    gov(pb::governance_call::Call::ProposeMemberChange(
        pb::ProposeMemberChange {
            change: Some(pb::MemberChange {
                change: Some(change),
            }),
            reason: "the joint consortium grows".into(),
        },
    ))
}

fn approve(id: u64) -> pb::tx_body::Call {
    gov(pb::governance_call::Call::ApproveProposal(
        pb::ApproveProposal { proposal_id: id },
    ))
}

fn governance_event(events: &[pb::Event]) -> Vec<pb::governance_event::Kind> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            Some(pb::event::Kind::Governance(g)) => g.kind.clone(),
            _ => None,
        })
        .collect()
}

fn opened(events: &[pb::Event]) -> u64 {
    governance_event(events)
        .into_iter()
        .find_map(|k| match k {
            pb::governance_event::Kind::ProposalOpened(p) => Some(p.proposal_id),
            _ => None,
        })
        .expect("a proposal was opened")
}

fn member_changed(events: &[pb::Event]) -> bool {
    governance_event(events)
        .iter()
        .any(|k| matches!(k, pb::governance_event::Kind::MemberChanged(_)))
}

/// Open a proposal with the first admin and approve it with the next two: 3 of 4 validator
/// organizations is more than 2/3, 2 of 4 is not.
async fn vote(net: &Net, c: &mut Client, call: pb::tx_body::Call) {
    let events = call_ok(c, &net.chain_id, &net.admins[0], call).await;
    assert!(!member_changed(&events), "1 of 4 carried a vote");
    let id = opened(&events);
    let events = call_ok(c, &net.chain_id, &net.admins[1], approve(id)).await;
    assert!(!member_changed(&events), "2 of 4 carried a vote");
    let events = call_ok(c, &net.chain_id, &net.admins[2], approve(id)).await;
    assert!(member_changed(&events), "3 of 4 did not carry the vote");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifth_member_joins_by_vote_its_node_follows_and_once_removed_it_is_refused() {
    let net = Net::start_consortium(&["hachioji", "machida", "tama", "hino"])
        .await
        .unwrap();
    let mut c = net.nodes[0].client().await.unwrap();
    let keys = net.dir.path().join("kawasaki-keys");
    let admin = yui_node::setup::keys::generate(&keys.join("admin.key")).unwrap();
    let node_key_path = keys.join("node.key");
    let node_key = yui_node::setup::keys::generate(&node_key_path).unwrap();

    // Before the vote, the newcomer's admin is nobody.
    let h = height(&mut c).await.unwrap();
    let someone = random_key();
    let grant_one = grant(&someone, pb::RoleKind::RoleResident, "");
    let refused = submit(
        &mut c,
        sign_body(
            &admin,
            &body(&admin, &net.chain_id, h + 50, grant_one.clone()),
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");

    // The join goes the way municipal IT staff would do it: `yui gov join`, then
    // `yui gov approve` by two more validator organizations.
    let gov_cli = |args: &[&str]| {
        let out = std::process::Command::new(yui_bin().unwrap())
            .arg("gov")
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "yui gov {args:?} failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let key_of = |org: &str| {
        net.dir
            .path()
            .join(format!("keys/{org}-admin-1.key"))
            .display()
            .to_string()
    };
    let endpoint = net.nodes[0].endpoint.clone();
    let admin_hex = hex::encode(admin.verifying_key().to_bytes());
    let node_hex = hex::encode(node_key.verifying_key().to_bytes());
    let opened = gov_cli(&[
        "join",
        "--endpoint",
        &endpoint,
        "--key",
        &key_of("hachioji"),
        "--organization",
        "kawasaki",
        "--name",
        "Kawasaki City",
        "--admin-key",
        &admin_hex,
        "--node-key",
        &node_hex,
    ]);
    let id = opened
        .split("proposal #")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("the proposal id is printed")
        .to_string();
    let second = gov_cli(&[
        "approve",
        "--endpoint",
        &endpoint,
        "--key",
        &key_of("machida"),
        "--proposal",
        &id,
    ]);
    assert!(!second.contains("carried out"), "{second}");
    let third = gov_cli(&[
        "approve",
        "--endpoint",
        &endpoint,
        "--key",
        &key_of("tama"),
        "--proposal",
        &id,
    ]);
    assert!(third.contains("carried out"), "{third}");
    let listed = gov_cli(&["organizations", "--endpoint", &endpoint]);
    assert!(
        listed.contains("kawasaki") && listed.contains(&node_hex),
        "{listed}"
    );
    let mut g = GovernanceClient::connect(net.nodes[1].endpoint.clone())
        .await
        .unwrap();
    let orgs = g
        .list_organizations(pb::ListOrganizationsRequest {})
        .await
        .unwrap()
        .into_inner()
        .organizations;
    let kawasaki = orgs.iter().find(|o| o.id == "kawasaki").expect("a member");
    assert_eq!(
        kawasaki.node_key,
        node_key.verifying_key().to_bytes().to_vec()
    );
    assert_eq!(kawasaki.removed_at_height, 0);

    // Its node, in no genesis file, connects and follows the running network.
    let mut newcomer = net.outside_node("kawasaki-node", &node_key_path).unwrap();
    newcomer.start().await.unwrap();
    let mut nc = newcomer.client().await.unwrap();
    let h = height(&mut c).await.unwrap();
    wait_height(&mut nc, h, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", newcomer.log_text()));
    assert_eq!(
        block_hash(&mut nc, h).await.unwrap(),
        block_hash(&mut c, h).await.unwrap()
    );
    // Its admin acts for it.
    call_ok(&mut c, &net.chain_id, &admin, grant_one).await;
    let account = g
        .get_account(pb::GetAccountRequest {
            account: someone.verifying_key().to_bytes().to_vec(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(account.organization, "kawasaki");

    // Removed by a second vote: its accounts are refused at submit, its node is cut off.
    vote(
        &net,
        &mut c,
        member_change(pb::member_change::Change::Remove("kawasaki".into())),
    )
    .await;
    let h = height(&mut c).await.unwrap();
    let refused = submit(
        &mut c,
        sign_body(
            &admin,
            &body(
                &admin,
                &net.chain_id,
                h + 50,
                grant(&random_key(), pb::RoleKind::RoleResident, ""),
            ),
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    assert!(
        refused.message().contains("no longer a consortium member"),
        "{refused:?}"
    );
    // Every member refreshes its allow-list every 2 s from its own committed state, so within
    // a few seconds (longer on a loaded machine) the network moves on without it: there must
    // come a stretch of 10 heights in which the removed node gains at most one, and it must
    // come within the bound.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let cut_at = height(&mut nc).await.unwrap();
        wait_height(&mut c, cut_at + 10, WAIT).await.unwrap();
        let after = height(&mut nc).await.unwrap();
        if after <= cut_at + 1 {
            break;
        }
        seen.push((cut_at, after));
        assert!(
            tokio::time::Instant::now() < deadline,
            "the removed member's node kept following: {seen:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The signers of a block's commit certificate.
async fn signers(c: &mut Client, h: u64) -> Vec<Vec<u8>> {
    c.get_block(pb::GetBlockRequest {
        by: Some(pb::get_block_request::By::Height(h)),
    })
    .await
    .unwrap()
    .into_inner()
    .block
    .and_then(|b| b.certificate)
    .map(|c| c.signatures.into_iter().map(|s| s.validator).collect())
    .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_key_rotated_under_load_loses_no_height_and_the_old_key_counts_no_more() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let mut net = Net::start(4, "byzantine").await.unwrap();
    let mut c = net.nodes[0].client().await.unwrap();
    let keys = net.dir.path().join("keys");
    let old = load_key(&keys.join("tama-validator-4.key")).unwrap();
    let new_path = keys.join("tama-validator-4-new.key");
    let new = yui_node::setup::keys::generate(&new_path).unwrap();
    let (old_pk, new_pk) = (
        old.verifying_key().to_bytes().to_vec(),
        new.verifying_key().to_bytes().to_vec(),
    );
    // A steady load through node 1 for the whole test.
    let stop = Arc::new(AtomicBool::new(false));
    let loader = {
        let (admin, chain_id, endpoint, stop) = (
            net.admin.clone(),
            net.chain_id.clone(),
            net.nodes[0].endpoint.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut c = Client::connect(endpoint).await.unwrap();
            let mut ids = Vec::new();
            let deadline = std::time::Instant::now() + Duration::from_secs(180);
            while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
                let h = height(&mut c).await.unwrap_or(0);
                let call = grant(&random_key(), pb::RoleKind::RoleResident, "");
                if let Ok(id) = submit(
                    &mut c,
                    sign_body(&admin, &body(&admin, &chain_id, h + 80, call)),
                )
                .await
                {
                    ids.push(id);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            ids
        })
    };
    let events = call_ok(
        &mut c,
        &net.chain_id,
        &net.admin,
        gov(pb::governance_call::Call::ProposeValidatorChange(
            pb::ProposeValidatorChange {
                change: Some(pb::ValidatorChange {
                    change: Some(pb::validator_change::Change::RotateKey(pb::KeyRotation {
                        old_public_key: old_pk.clone(),
                        new_public_key: new_pk.clone(),
                    })),
                }),
                reason: "key suspected".into(),
                cites_evidence: Vec::new(),
            },
        )),
    )
    .await;
    let effective = governance_event(&events)
        .into_iter()
        .find_map(|k| match k {
            pb::governance_event::Kind::ValidatorSetScheduled(s) => Some(s.effective_height),
            _ => None,
        })
        .expect("the rotation was scheduled");
    // From the effective height on, the old key's precommits count no more (its process still
    // runs and signs with it): three validators carry every certificate.
    wait_height(&mut c, effective + 4, WAIT).await.unwrap();
    for h in effective..=effective + 4 {
        let s = signers(&mut c, h).await;
        assert!(!s.contains(&old_pk), "height {h} counted the old key");
        assert!(s.len() >= 3, "height {h} has {} signatures", s.len());
    }
    // The operator restarts the validator with its new key; it signs again.
    net.nodes[3].stop();
    let mut config = net.nodes[3].config.clone();
    config.validator_key = Some(new_path.clone());
    let dir = net.nodes[3].dir.clone();
    let name = net.nodes[3].name.clone();
    net.nodes[3] =
        NodeProc(yui_node::setup::localnet::LocalNode::write(&name, &dir, config).unwrap());
    net.nodes[3].start().await.unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    let signed_with_new = loop {
        let h = height(&mut c).await.unwrap();
        if signers(&mut c, h).await.contains(&new_pk) {
            break h;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the re-keyed validator never signed with its new key\n{}",
            net.nodes[3].log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    stop.store(true, Ordering::Relaxed);
    let ids = loader.await.unwrap();
    assert!(!ids.is_empty());
    for id in &ids {
        wait_committed(&mut c, id, WAIT).await.unwrap();
    }
    // No height was lost: every height up to there has one block, the same on the re-keyed node.
    let mut c4 = net.nodes[3].client().await.unwrap();
    wait_height(&mut c4, signed_with_new, WAIT).await.unwrap();
    for h in 1..=signed_with_new {
        assert_eq!(
            block_hash(&mut c, h).await.unwrap(),
            block_hash(&mut c4, h).await.unwrap(),
            "height {h}"
        );
    }
}

/// Propose consortium parameter `key` = `value` from the next block (one validator
/// organization here, so the proposal carries at once) and wait until it is in force; that
/// height.
async fn vote_in_force(net: &Net, c: &mut Client, key: &str, value: i64) -> u64 {
    call_ok(
        c,
        &net.chain_id,
        &net.admin,
        gov(pb::governance_call::Call::ProposeParameterChange(
            pb::ProposeParameterChange {
                key: key.into(),
                value,
                effective_from_height: 0,
                reason: format!("{key} by vote"),
            },
        )),
    )
    .await;
    let from = height(c).await.unwrap() + 1;
    wait_height(c, from, WAIT).await.unwrap();
    from
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consensus_parameters_change_by_vote_and_blocks_keep_to_them() {
    let net = Net::start(4, "byzantine").await.unwrap();
    let mut c = net.nodes[0].client().await.unwrap();
    // An organization cannot set a block limit of its own.
    let r = call_receipt(
        &mut c,
        &net.chain_id,
        &net.admin,
        gov(pb::governance_call::Call::SetParameter(pb::SetParameter {
            key: "consensus.max_block_txs".into(),
            value: 3,
            effective_from_height: 0,
        })),
    )
    .await
    .unwrap();
    assert_eq!(r.error.unwrap().code, "governance.consortium_parameter");
    // By vote (one validator organization here), from the next block on.
    let from = vote_in_force(&net, &mut c, "consensus.max_block_txs", 3).await;
    let h = height(&mut c).await.unwrap();
    let txs: Vec<pb::SignedTransaction> = (0..30)
        .map(|_| {
            sign_body(
                &net.admin,
                &body(
                    &net.admin,
                    &net.chain_id,
                    h + 80,
                    grant(&random_key(), pb::RoleKind::RoleResident, ""),
                ),
            )
        })
        .collect();
    let results = c
        .submit_transactions(pb::SubmitTransactionsRequest { transactions: txs })
        .await
        .unwrap()
        .into_inner()
        .results;
    let mut last = 0;
    for r in &results {
        assert_eq!(r.code, 0, "{r:?}");
        let got = wait_committed(&mut c, &r.tx_id, WAIT).await.unwrap();
        last = last.max(got.height);
    }
    let mut biggest = 0;
    for h in from..=last {
        let b = c
            .get_block(pb::GetBlockRequest {
                by: Some(pb::get_block_request::By::Height(h)),
            })
            .await
            .unwrap()
            .into_inner()
            .block
            .unwrap();
        assert!(
            b.transactions.len() <= 3,
            "block {h} holds {}",
            b.transactions.len()
        );
        biggest = biggest.max(b.transactions.len());
    }
    assert_eq!(
        biggest, 3,
        "the limit was never reached, so the test shows nothing"
    );

    // The expiry window, by vote too: from then on a body may expire at most 20 blocks ahead.
    let before = c
        .get_chain_info(pb::GetChainInfoRequest {})
        .await
        .unwrap()
        .into_inner()
        .max_expiry_blocks;
    assert!(
        before > 40,
        "genesis' window {before} is too short for this test"
    );
    vote_in_force(&net, &mut c, "consensus.max_expiry_blocks", 20).await;
    let info = c
        .get_chain_info(pb::GetChainInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.max_expiry_blocks, 20);
    let h = info.height;
    let submit = |expires: u64| {
        sign_body(
            &net.admin,
            &body(
                &net.admin,
                &net.chain_id,
                expires,
                grant(&random_key(), pb::RoleKind::RoleResident, ""),
            ),
        )
    };
    let results = c
        .submit_transactions(pb::SubmitTransactionsRequest {
            transactions: vec![submit(h + 40), submit(h + 15)],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(
        results[0].code,
        tonic::Code::FailedPrecondition as u32,
        "{:?}",
        results[0]
    );
    assert!(
        results[0].message.contains("max_expiry_blocks 20"),
        "{}",
        results[0].message
    );
    assert_eq!(results[1].code, 0, "{:?}", results[1]);
    wait_committed(&mut c, &results[1].tx_id, WAIT)
        .await
        .unwrap();
}

fn ec(c: pb::eco_call::Call) -> pb::tx_body::Call {
    pb::tx_body::Call::Eco(pb::EcoCall { call: Some(c) })
}

/// Submit `call` signed by `key`; it must be refused: at submit with PERMISSION_DENIED and the
/// contract's code as the status' `ErrorInfo` reason, or (where the mempool cannot tell) in
/// its receipt. The contract's code either way.
async fn refused(
    c: &mut Client,
    chain_id: &str,
    key: &SigningKey,
    call: pb::tx_body::Call,
) -> String {
    use tonic_types::StatusExt as _;
    let h = height(c).await.unwrap();
    match submit(c, sign_body(key, &body(key, chain_id, h + 50, call))).await {
        Err(status) => {
            assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
            let info = status
                .get_details_error_info()
                .expect("the refusal carries an ErrorInfo");
            assert_eq!(info.domain, "yui");
            info.reason
        }
        Ok(id) => {
            let r = wait_committed(c, &id, WAIT).await.unwrap().receipt.unwrap();
            assert!(!r.success, "the call was carried out");
            r.error.unwrap().code
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_municipalities_act_only_on_their_own_objects() {
    let net = Net::start_consortium(&["hachioji", "machida", "tama", "hino"])
        .await
        .unwrap();
    let mut c = net.nodes[0].client().await.unwrap();
    let orgs = ["hachioji", "machida"];
    // Each sets up its own disaster, shelter, catalogue item, program and parameter.
    for (i, org) in orgs.iter().enumerate() {
        let admin = &net.admins[i];
        for call in [
            rl(pb::relief_call::Call::OpenDisaster(pb::OpenDisaster {
                disaster_id: format!("d-{org}"),
                name: "flood".into(),
            })),
            rl(pb::relief_call::Call::RegisterShelter(
                pb::RegisterShelter {
                    shelter_id: format!("s-{org}"),
                    name: "gym".into(),
                    area: "north".into(),
                    contact: Some(pb::PersonRef {
                        vault_id: format!("pd_{}", "0".repeat(32)),
                        commitment: vec![1; 32],
                    }),
                },
            )),
            rl(pb::relief_call::Call::AddItem(pb::AddCatalogueItem {
                item_id: format!("rice-{org}"),
                category: "food".into(),
                name: "Rice 5 kg".into(),
                unit: "bag".into(),
                attributes: vec![],
            })),
            ec(pb::eco_call::Call::CreateProgram(pb::CreateProgram {
                program_id: format!("p-{org}"),
                name: "EV".into(),
                points_per_kg: 10,
                points_expiry_days: 0,
            })),
            gov(pb::governance_call::Call::SetParameter(pb::SetParameter {
                key: "eco.grid_g_per_mwh.fy2026".into(),
                value: 400_000 + i as i64,
                effective_from_height: 0,
            })),
        ] {
            call_ok(&mut c, &net.chain_id, admin, call).await;
        }
    }
    // Each tries the other's objects: every attempt refused, at submit where the node can tell.
    for (i, org) in orgs.iter().enumerate() {
        let other = orgs[1 - i];
        let admin = &net.admins[1 - i];
        let operator = random_key();
        call_ok(
            &mut c,
            &net.chain_id,
            admin,
            grant(&operator, pb::RoleKind::RoleResident, ""),
        )
        .await;
        let attempts = [
            (
                rl(pb::relief_call::Call::CloseDisaster(pb::CloseDisaster {
                    disaster_id: format!("d-{org}"),
                })),
                "relief.not_municipality_admin",
            ),
            (
                rl(pb::relief_call::Call::RetireItem(pb::RetireCatalogueItem {
                    item_id: format!("rice-{org}"),
                })),
                "relief.not_owner",
            ),
            (
                ec(pb::eco_call::Call::CreateReport(pb::CreateCreditReport {
                    program_id: format!("p-{org}"),
                    period_start_ms: 0,
                    period_end_ms: 1,
                })),
                "eco.not_program_admin",
            ),
            (
                grant(
                    &operator,
                    pb::RoleKind::RoleShelterOperator,
                    &format!("s-{org}"),
                ),
                "governance.not_own_shelter",
            ),
        ];
        for (call, code) in attempts {
            let got = refused(&mut c, &net.chain_id, admin, call.clone()).await;
            assert_eq!(got, code, "{other} acting on {org}: {call:?}");
        }
    }
    // Nothing changed: items in use, and each municipality's parameter is its own.
    let mut rc = yui_proto::v1::relief_client::ReliefClient::connect(net.nodes[0].endpoint.clone())
        .await
        .unwrap();
    let items = rc
        .list_catalogue(pb::ListCatalogueRequest {})
        .await
        .unwrap()
        .into_inner()
        .items;
    for org in orgs {
        let item = items
            .iter()
            .find(|i| i.item_id == format!("rice-{org}"))
            .expect("the item is listed");
        assert_eq!(item.organization, org);
        assert_eq!(item.retired_at_height, 0);
    }
    let mut g = GovernanceClient::connect(net.nodes[0].endpoint.clone())
        .await
        .unwrap();
    for (i, org) in orgs.iter().enumerate() {
        let p = g
            .get_parameter(pb::GetParameterRequest {
                key: "eco.grid_g_per_mwh.fy2026".into(),
                organization: org.to_string(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(p.value, 400_000 + i as i64, "{org}");
    }
}
