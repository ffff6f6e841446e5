//! `yui verify` on a clean chain, and on every kind of tampering: each is detected and
//! reported at the right height.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::{Signer, SigningKey};
use prost::Message;
use std::path::Path;
use std::sync::Arc;
use yui_client::tx::RawTx;
use yui_consensus::{CommitCertificate, VoteData, VoteType};
use yui_node::audit::export::{self, ExportHeader};
use yui_node::audit::verify::{self, Report};
use yui_node::chain::tx::check_stateless;
use yui_node::chain::{Chain, StoredBlock};
use yui_node::setup::{genesis::GenesisDoc, keys, network};
use yui_node::storage as store;
use yui_proto::v1 as pb;

struct Fixture {
    _dir: tempfile::TempDir,
    doc: GenesisDoc,
    blocks: Vec<StoredBlock>,
    store: Arc<dyn store::Store>,
    validator: SigningKey,
}

fn cert_for(
    key: &SigningKey,
    chain_id: &str,
    height: u64,
    hash: yui_consensus::Hash,
) -> CommitCertificate {
    let me = key.verifying_key().to_bytes();
    let v = VoteData {
        chain_id: chain_id.into(),
        vote_type: VoteType::Precommit,
        height,
        round: 0,
        block_hash: Some(hash),
        validator: me,
    }
    .sign(key);
    CommitCertificate {
        height,
        round: 0,
        block_hash: hash,
        signatures: vec![(me, v.signature)],
    }
}

fn grant_tx(admin: &SigningKey, chain_id: &str, n: u8, expires: u64) -> RawTx {
    let body = pb::TxBody {
        chain_id: chain_id.into(),
        signer: admin.verifying_key().to_bytes().to_vec(),
        expires_at_height: expires,
        nonce: vec![n; 16],
        call: Some(pb::tx_body::Call::Governance(pb::GovernanceCall {
            call: Some(pb::governance_call::Call::GrantRole(pb::GrantRole {
                account: [n; 32].to_vec(),
                role: Some(pb::Role {
                    kind: pb::RoleKind::RoleDonor as i32,
                    scope: String::new(),
                }),
            })),
        })),
    }
    .encode_to_vec();
    let sig = admin.sign(&[b"yui/v1/tx-signature\0".as_slice(), &body].concat());
    RawTx {
        body,
        signature: sig.to_bytes().to_vec(),
    }
}

/// Five blocks, three transactions each.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let desc = network::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../genesis/examples/single.toml"),
    )
    .unwrap();
    let doc = network::genesis_from(&desc, dir.path(), 1_000).unwrap();
    let validator = keys::load(&dir.path().join("tama-validator-1.key")).unwrap();
    let admin = keys::load(&dir.path().join("tama-admin-1.key")).unwrap();
    let store: Arc<dyn store::Store> = Arc::new(store::MemStore::default());
    let mut chain = Chain::open(store.clone(), &doc).unwrap();
    let mut blocks = Vec::new();
    let mut n = 1u8;
    for _ in 0..5 {
        let h = chain.tip().height + 1;
        let txs: Vec<_> = (0..3)
            .map(|_| {
                n += 1;
                check_stateless(grant_tx(&admin, &doc.chain_id, n, h + 10), &doc.chain_id).unwrap()
            })
            .collect();
        let ex = chain
            .execute(
                chain.tip().time_ms + 1000,
                validator.verifying_key().to_bytes(),
                txs,
                true,
            )
            .unwrap();
        assert_eq!(ex.txs.len(), 3);
        let hash = ex.header.hash();
        let cert = cert_for(&validator, &doc.chain_id, h, hash);
        blocks.push(StoredBlock {
            header: ex.header.clone(),
            txs: ex.raw_txs(),
            cert: cert.clone(),
        });
        chain.commit(&ex, cert).unwrap();
    }
    Fixture {
        _dir: dir,
        doc,
        blocks,
        store,
        validator,
    }
}

fn run(f: &Fixture, blocks: Vec<StoredBlock>) -> Report {
    let n = f.blocks.len() as u64;
    verify::verify(&f.doc, blocks.into_iter().map(Ok), Some(n), None, false).unwrap()
}

fn failed_at(r: &Report, height: u64, needle: &str) {
    let f = r
        .failure
        .as_ref()
        .unwrap_or_else(|| panic!("tampering not detected: {r:?}"));
    assert_eq!(f.height, height, "{}", f.reason);
    assert!(
        f.reason.contains(needle),
        "reason {:?} should mention {needle:?}",
        f.reason
    );
    assert_eq!(r.result, "failed");
}

#[test]
fn a_clean_chain_verifies_through_an_export_file() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chain.yexp");
    let header = ExportHeader {
        chain_id: f.doc.chain_id.clone(),
        genesis_hash: f.doc.hash().unwrap(),
        count: 5,
    };
    export::write_export(&file, &header, f.blocks.clone().into_iter().map(Ok)).unwrap();
    let (h, blocks) = export::read_export(&file).unwrap();
    assert_eq!(h, header);
    let r = verify::verify(&f.doc, blocks, Some(h.count), Some(f.store.clone()), false).unwrap();
    assert_eq!(r.failure, None);
    assert_eq!(r.blocks, 5);
    assert_eq!(r.transactions, 15);
    assert_eq!(
        r.transactions_by_call.get("governance.grant_role"),
        Some(&15)
    );
    assert!(r.human().contains("RESULT           OK"));
    let json: serde_json::Value = serde_json::to_value(&r).unwrap();
    assert_eq!(json["result"], "ok");
}

#[test]
fn a_changed_transaction_byte_is_detected_at_its_height() {
    let f = fixture();
    let mut b = f.blocks.clone();
    let last = b[2].txs[1].body.len() - 1;
    b[2].txs[1].body[last] ^= 1;
    failed_at(&run(&f, b), 3, "transaction 1");
}

#[test]
fn a_block_carrying_a_non_canonical_transaction_is_rejected() {
    // A proposer includes a transaction whose signed body carries a field the chain does not
    // define (field 99): correctly signed, yet every validator (and the replay) refuses the
    // block.
    let f = fixture();
    let mut b = f.blocks.clone();
    let admin = keys::load(&f._dir.path().join("tama-admin-1.key")).unwrap();
    let mut body = b[2].txs[1].body.clone();
    body.extend_from_slice(&[0x98, 0x06, 0x01]);
    let sig = admin.sign(&[b"yui/v1/tx-signature\0".as_slice(), &body].concat());
    b[2].txs[1] = RawTx {
        body,
        signature: sig.to_bytes().to_vec(),
    };
    failed_at(&run(&f, b), 3, "canonical");
}

#[test]
fn a_dropped_block_is_detected() {
    let f = fixture();
    let mut b = f.blocks.clone();
    b.remove(2);
    failed_at(&run(&f, b), 3, "found block 4");
}

#[test]
fn a_forged_or_short_certificate_is_detected() {
    let f = fixture();
    let mut b = f.blocks.clone();
    b[3].cert.signatures[0].1[7] ^= 1;
    failed_at(&run(&f, b), 4, "commit certificate");
    let mut b = f.blocks.clone();
    b[3].cert.signatures.clear();
    failed_at(&run(&f, b), 4, "quorum");
}

#[test]
fn a_reordered_pair_of_transactions_is_detected() {
    let f = fixture();
    let mut b = f.blocks.clone();
    b[1].txs.swap(0, 2);
    failed_at(&run(&f, b), 2, "transaction root");
}

#[test]
fn a_validator_set_change_without_governance_approval_is_detected() {
    let f = fixture();
    let mut b = f.blocks.clone();
    // An outsider claims to be the validator set from block 5 on and signs it.
    let outsider = SigningKey::from_bytes(&[77; 32]);
    let set = yui_consensus::ValidatorSet::new(
        vec![yui_consensus::Validator {
            organization: "tama".into(),
            name: "x".into(),
            public_key: outsider.verifying_key().to_bytes(),
            power: 1,
        }],
        yui_consensus::FaultModel::Byzantine,
    )
    .unwrap();
    b[4].header.validator_set_hash = set.hash();
    let hash = b[4].header.hash();
    b[4].cert = cert_for(&outsider, &f.doc.chain_id, 5, hash);
    failed_at(&run(&f, b), 5, "not a validator at this height");
    // Even signed by the real validator, the header's set is not the one governance names.
    let mut b = f.blocks.clone();
    b[4].header.validator_set_hash = set.hash();
    let hash = b[4].header.hash();
    b[4].cert = cert_for(&f.validator, &f.doc.chain_id, 5, hash);
    failed_at(&run(&f, b), 5, "validator-set hash");
}

#[test]
fn a_changed_state_value_in_a_data_directory_is_detected() {
    let f = fixture();
    let mut batch = store::Batch::default();
    let key = [b"s/gov/acct/".as_slice(), &[5u8; 32]].concat();
    let mut v = f.store.get(&key).unwrap().unwrap();
    let last = v.len() - 1;
    v[last] ^= 1;
    batch.put(key, v);
    f.store.write(batch).unwrap();
    let r = verify::verify(
        &f.doc,
        f.blocks.clone().into_iter().map(Ok),
        Some(5),
        Some(f.store.clone()),
        false,
    )
    .unwrap();
    failed_at(&r, 5, "changed");
}

#[test]
fn a_changed_state_root_or_time_is_detected() {
    let f = fixture();
    let mut b = f.blocks.clone();
    b[1].header.state_root.0[0] ^= 1;
    let hash = b[1].header.hash();
    b[1].cert = cert_for(&f.validator, &f.doc.chain_id, 2, hash);
    // Block 3 still names the old parent, but block 2 itself fails first.
    failed_at(&run(&f, b), 2, "state root");
}

#[test]
fn a_directory_without_a_chain_store_is_refused_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let err = export::open_data_dir(dir.path()).err().unwrap().to_string();
    assert!(err.contains("holds no chain store"), "{err}");
    assert!(!dir.path().join("chain").exists(), "nothing may be created");
}

#[test]
fn damage_in_every_keyspace_is_named_by_verify_and_by_check() {
    use yui_node::audit::check::deep_check;
    use yui_node::chain::keys;
    // Each fixture has keys of its own, so each case names its key from its own fixture.
    type KeyOf = fn(&Fixture) -> Vec<u8>;
    let cases: [(&str, KeyOf, u64); 4] = [
        ("block", |_| keys::block(2), 2),
        (
            "transaction index",
            |f| keys::tx(&f.blocks[2].txs[1].id().0),
            3,
        ),
        ("receipt", |_| keys::receipt(4, 1), 4),
        (
            "block hash index",
            |f| keys::block_hash(&f.blocks[1].header.hash().0),
            2,
        ),
    ];
    for (what, key_of, height) in cases {
        let f = fixture();
        let key = key_of(&f);
        let mut batch = store::Batch::default();
        batch.put(key.clone(), vec![0xff, 0x00, 0x17]);
        f.store.write(batch).unwrap();
        // The replay reads blocks from the directory, and compares everything else with
        // what it wrote itself.
        let (tip, blocks) = export::store_blocks(f.store.clone()).unwrap();
        let r = verify::verify(&f.doc, blocks, Some(tip), Some(f.store.clone()), false).unwrap();
        let failure = r.failure.unwrap_or_else(|| panic!("{what}: verify passed"));
        assert_eq!(failure.height, height, "{what}: {}", failure.reason);
        // The deep check names the key itself.
        let c = deep_check(f.store.as_ref()).unwrap();
        let bad = c.failure.unwrap_or_else(|| panic!("{what}: check passed"));
        assert_eq!(
            bad.key,
            yui_contracts::state::printable_key(&key),
            "{what}: {}",
            bad.reason
        );
        if what != "transaction index" && what != "block hash index" {
            assert_eq!(bad.height, Some(height), "{what}");
        }
    }
    // A stray index entry the replay never wrote is found too.
    let f = fixture();
    let mut batch = store::Batch::default();
    batch.put(
        keys::tx(&[9; 32]),
        borsh::to_vec(&yui_node::chain::TxLocation {
            height: 1,
            index: 0,
        })
        .unwrap(),
    );
    f.store.write(batch).unwrap();
    let (tip, blocks) = export::store_blocks(f.store.clone()).unwrap();
    let r = verify::verify(&f.doc, blocks, Some(tip), Some(f.store.clone()), false).unwrap();
    assert!(
        r.failure
            .as_ref()
            .is_some_and(|x| x.reason.contains("transaction index")),
        "{r:?}"
    );
    // An intact directory passes both.
    let f = fixture();
    assert_eq!(deep_check(f.store.as_ref()).unwrap().failure, None);
    let (tip, blocks) = export::store_blocks(f.store.clone()).unwrap();
    let r = verify::verify(&f.doc, blocks, Some(tip), Some(f.store.clone()), false).unwrap();
    assert_eq!(r.failure, None);
}
