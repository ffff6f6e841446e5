//! The chain's one-batch commit and its start-up check: a reopened store continues from its
//! tip with the same state root; a damaged store is refused with a clear message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use yui_consensus::{CommitCertificate, VoteData, VoteType};
use yui_node::{chain, keys, network, store};

fn setup() -> (
    tempfile::TempDir,
    yui_node::genesis::GenesisDoc,
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
    txs: Vec<yui_node::tx::CheckedTx>,
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
fn reopened_sled_store_continues_from_its_tip() {
    let (dir, doc, key) = setup();
    let path = dir.path().join("chain");
    let tip = {
        let s: Arc<dyn store::Store> = Arc::new(store::SledStore::open(&path).unwrap());
        let mut c = chain::Chain::open(s, &doc).unwrap();
        commit_empty_blocks(&mut c, &key, 5);
        c.tip().clone()
    };
    let s: Arc<dyn store::Store> =
        Arc::new(store::SledStore::open_waiting(&path, std::time::Duration::from_secs(5)).unwrap());
    let c = chain::Chain::open(s, &doc).unwrap();
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
    let raw = yui_node::tx::RawTx::from_proto(yui_node::loadbench::grant_tx(
        &admin,
        &doc.chain_id,
        expires,
        7,
        1,
    ));
    let checked = || yui_node::tx::check_stateless(raw.clone(), &doc.chain_id).unwrap();
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
