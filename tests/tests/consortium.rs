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

    vote(
        &net,
        &mut c,
        member_change(pb::member_change::Change::Join(pb::NewMember {
            organization: "kawasaki".into(),
            name: "Kawasaki City".into(),
            kind: pb::OrganizationKind::Municipality as i32,
            admin_key: admin.verifying_key().to_bytes().to_vec(),
            node_key: node_key.verifying_key().to_bytes().to_vec(),
            ..Default::default()
        })),
    )
    .await;
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
    // Two allow-list refreshes (2 s each), then the network moves on without it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let cut_at = height(&mut nc).await.unwrap();
    wait_height(&mut c, cut_at + 10, WAIT).await.unwrap();
    let after = height(&mut nc).await.unwrap();
    assert!(
        after <= cut_at + 1,
        "the removed member's node kept following: {cut_at} -> {after}"
    );
}
