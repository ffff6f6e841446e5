//! The chain's one-batch commit and its start-up check: a reopened store continues from its
//! tip with the same state root; a damaged store is refused with a clear message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use yui_consensus::{CommitCertificate, VoteData, VoteType};
use yui_node::chain;
use yui_node::setup::{keys, network};
use yui_node::storage as store;

fn setup() -> (
    tempfile::TempDir,
    yui_node::setup::genesis::GenesisDoc,
    ed25519_dalek::SigningKey,
) {
    let dir = tempfile::tempdir().unwrap();
    let desc = network::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../genesis/examples/single.toml"),
    )
    .unwrap();
    let doc = network::genesis_from(&desc, dir.path(), 1_000).unwrap();
    let key = keys::load(&dir.path().join("tama-validator-1.key")).unwrap();
    (dir, doc, key)
}

fn commit_empty_blocks(c: &mut chain::Chain, key: &ed25519_dalek::SigningKey, n: u64) {
    for _ in 0..n {
        commit_block(c, key, vec![]);
    }
}

/// Build (leaving out what is invalid) and commit one block; its transactions.
fn commit_block(
    c: &mut chain::Chain,
    key: &ed25519_dalek::SigningKey,
    txs: Vec<yui_node::chain::tx::CheckedTx>,
) -> usize {
    {
        let t = c.tip().time_ms + 1000;
        let me = key.verifying_key().to_bytes();
        let ex = c.execute(t, me, txs, false).unwrap();
        let included = ex.txs.len();
        let hash = ex.header.hash();
        let v = VoteData {
            chain_id: ex.header.chain_id.clone(),
            vote_type: VoteType::Precommit,
            height: ex.header.height,
            round: 0,
            block_hash: Some(hash),
            validator: me,
        }
        .sign(key);
        let cert = CommitCertificate {
            height: ex.header.height,
            round: 0,
            block_hash: hash,
            signatures: vec![(me, v.signature)],
        };
        c.commit(&ex, cert).unwrap();
        included
    }
}

#[test]
fn a_reopened_disk_store_continues_from_its_tip() {
    let (dir, doc, key) = setup();
    let path = dir.path().join("chain");
    let open = || -> Arc<dyn store::Store> {
        Arc::new(store::FjallStore::open(&path, chain::keys::LAYOUT).unwrap())
    };
    let tip = {
        let mut c = chain::Chain::open(open(), &doc).unwrap();
        commit_empty_blocks(&mut c, &key, 5);
        c.tip().clone()
    };
    let c = chain::Chain::open(open(), &doc).unwrap();
    assert_eq!(c.tip(), &tip);
    assert_eq!(tip.height, 5);
}

#[test]
fn damaged_store_fails_the_startup_check() {
    let (_dir, doc, key) = setup();
    let s: Arc<dyn store::Store> = Arc::new(store::MemStore::default());
    let mut c = chain::Chain::open(s.clone(), &doc).unwrap();
    commit_empty_blocks(&mut c, &key, 4);
    // Case 1: the recorded tip's state root no longer matches the block.
    let tip_bytes = s.get(b"m/tip").unwrap().unwrap();
    let mut tip: chain::Tip = borsh::from_slice(&tip_bytes).unwrap();
    tip.state_root[0] ^= 1;
    let mut b = store::Batch::default();
    b.put(b"m/tip".to_vec(), borsh::to_vec(&tip).unwrap());
    s.write(b).unwrap();
    let err = format!("{:#}", chain::Chain::open(s.clone(), &doc).err().unwrap());
    assert!(
        err.contains("start-up check") && err.contains("state root"),
        "{err}"
    );
    // Case 2: a block in the checked window is missing.
    let mut b = store::Batch::default();
    b.put(b"m/tip".to_vec(), tip_bytes);
    b.delete([b"b/".as_slice(), &2u64.to_be_bytes()].concat());
    s.write(b).unwrap();
    let err = format!("{:#}", chain::Chain::open(s.clone(), &doc).err().unwrap());
    assert!(err.contains("block 2 is missing"), "{err}");
}

#[test]
fn replay_protection_survives_a_restart_and_ends_at_expiry() {
    let (dir, doc, key) = setup();
    let admin = keys::load(&dir.path().join("tama-admin-1.key")).unwrap();
    let expires = 3;
    let raw = yui_client::tx::RawTx::from_proto(yui_node::bench::common::grant_tx(
        &admin,
        &doc.chain_id,
        expires,
        7,
        1,
    ));
    let checked = || yui_node::chain::tx::check_stateless(raw.clone(), &doc.chain_id).unwrap();
    let s: Arc<dyn store::Store> = Arc::new(store::MemStore::default());
    let mut c = chain::Chain::open(s.clone(), &doc).unwrap();
    assert_eq!(commit_block(&mut c, &key, vec![checked()]), 1);
    assert!(c.reader.body_committed(&raw.body_hash()).unwrap());
    // Reopened, the node still knows the body: a replay is left out of a proposal and makes
    // a proposal that carries it invalid.
    drop(c);
    let mut c = chain::Chain::open(s.clone(), &doc).unwrap();
    assert!(c.reader.body_committed(&raw.body_hash()).unwrap());
    let me = key.verifying_key().to_bytes();
    let t = c.tip().time_ms + 1000;
    let strict = c.execute(t, me, vec![checked()], true).unwrap_err();
    assert!(strict.to_string().contains("already committed"), "{strict}");
    assert_eq!(commit_block(&mut c, &key, vec![checked()]), 0);
    // Once the next height is past its expiry the body is forgotten: it is refused as expired.
    commit_block(&mut c, &key, vec![]);
    assert_eq!(c.tip().height, expires);
    assert!(!c.reader.body_committed(&raw.body_hash()).unwrap());
    let t = c.tip().time_ms + 1000;
    let expired = c.execute(t, me, vec![checked()], true).unwrap_err();
    assert!(expired.to_string().contains("expired"), "{expired}");
    drop(c);
    let c = chain::Chain::open(s, &doc).unwrap();
    assert!(!c.reader.body_committed(&raw.body_hash()).unwrap());
}

#[test]
fn the_event_stream_resumes_after_any_cursor() {
    use pb::relief_call::Call as R;
    use yui_node::bench::common::signed;
    use yui_proto::v1 as pb;
    let (dir, doc, key) = setup();
    let admin = keys::load(&dir.path().join("tama-admin-1.key")).unwrap();
    let me = admin.verifying_key().to_bytes().to_vec();
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let check = |t: pb::SignedTransaction| {
        yui_node::chain::tx::check_stateless(yui_client::tx::RawTx::from_proto(t), &doc.chain_id)
            .unwrap()
    };
    let relief = |by: &ed25519_dalek::SigningKey, c: R| {
        check(signed(
            by,
            &doc.chain_id,
            50,
            yui_node::bench::common::relief(c),
        ))
    };
    let grant = |kind: pb::RoleKind, scope: &str| {
        check(signed(
            &admin,
            &doc.chain_id,
            50,
            yui_node::bench::common::grant_call(&me, kind, scope),
        ))
    };
    let pledge = |by: &ed25519_dalek::SigningKey| {
        relief(
            by,
            R::Pledge(pb::Pledge {
                need_id: 1,
                quantity: 1,
            }),
        )
    };
    // Set-up calls one per block, then blocks mixing pledges (two events each), grants (one),
    // failed calls (none; the stranger is no account) and an empty block.
    let blocks = vec![
        vec![relief(
            &admin,
            R::OpenDisaster(pb::OpenDisaster {
                disaster_id: "d".into(),
                name: "Test".into(),
            }),
        )],
        vec![relief(
            &admin,
            R::RegisterShelter(pb::RegisterShelter {
                shelter_id: "s0".into(),
                name: "Shelter".into(),
                area: "Area".into(),
                contact: Some(pb::PersonRef {
                    vault_id: format!("pd_{}", "0".repeat(32)),
                    commitment: vec![7; 32],
                }),
            }),
        )],
        vec![
            grant(pb::RoleKind::RoleShelterOperator, "s0"),
            grant(pb::RoleKind::RoleDonor, ""),
        ],
        vec![relief(
            &admin,
            R::PostNeed(pb::PostNeed {
                disaster_id: "d".into(),
                shelter_id: "s0".into(),
                item_id: "food".into(),
                quantity: 100,
                details: "rice".into(),
                priority: pb::Priority::High as i32,
                needed_by_ms: 0,
            }),
        )],
        vec![
            pledge(&admin),
            pledge(&stranger),
            pledge(&admin),
            pledge(&admin),
        ],
        vec![],
        vec![pledge(&stranger), pledge(&admin)],
        vec![pledge(&admin), pledge(&stranger), pledge(&stranger)],
    ];
    let heights = blocks.len() as u64;
    let s: Arc<dyn store::Store> = Arc::new(store::MemStore::default());
    let mut c = chain::Chain::open(s, &doc).unwrap();
    for b in blocks {
        let n = b.len();
        assert_eq!(commit_block(&mut c, &key, b), n);
    }
    let r = &c.reader;
    let all = r.events_after(None, 1_000).unwrap();
    let mut per_tx = Vec::new();
    for height in 1..=heights {
        let b = r.block(height).unwrap().unwrap();
        for index in 0..b.txs.len() as u32 {
            let rc = r
                .receipt_proto(chain::TxLocation { height, index })
                .unwrap()
                .unwrap();
            assert_eq!(rc.success, rc.error.is_none());
            per_tx.push((rc.success, rc.events.len()));
        }
    }
    assert_eq!(per_tx.iter().filter(|(ok, _)| !ok).count(), 4, "{per_tx:?}");
    assert!(
        per_tx.iter().filter(|(_, n)| *n >= 2).count() >= 5,
        "{per_tx:?}"
    );
    assert_eq!(all.len(), per_tx.iter().map(|(_, n)| n).sum::<usize>());
    // Cursors are (height, index in the block), strictly increasing, from 0 in each block.
    for w in all.windows(2) {
        assert!(w[0].0 < w[1].0);
        if w[0].0 .0 != w[1].0 .0 {
            assert_eq!(w[1].0 .1, 0);
        }
    }
    for (k, (cursor, _)) in all.iter().enumerate() {
        assert_eq!(r.events_after(Some(*cursor), 1_000).unwrap(), all[k + 1..]);
        assert_eq!(
            r.events_after(Some(*cursor), 1).unwrap(),
            all[k + 1..].iter().take(1).cloned().collect::<Vec<_>>()
        );
    }
    for h in 0..=heights + 1 {
        let later: Vec<_> = all.iter().filter(|(c, _)| c.0 > h).cloned().collect();
        assert_eq!(
            r.events_after(Some((h, u32::MAX)), 1_000).unwrap(),
            later,
            "after block {h}"
        );
    }
    assert_eq!(r.events_after(None, 3).unwrap(), all[..3]);
}
