//! The example networks in genesis/examples build valid genesis files, and a node's store
//! refuses a genesis of another network.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use yui_node::chain;
use yui_node::setup::{genesis, network};
use yui_node::storage as store;

#[test]
fn every_example_network_builds_a_valid_genesis() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../genesis/examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let keys = tempfile::tempdir().unwrap();
        let desc = network::load(&path).unwrap();
        let doc = network::genesis_from(&desc, keys.path(), 1_700_000_000_000).unwrap();
        let set = doc.validator_set().unwrap();
        assert_eq!(
            set.validators.len(),
            desc.organizations
                .iter()
                .map(|o| o.validators as usize)
                .sum::<usize>()
        );
        // Round trip through the file format.
        let file = keys.path().join("genesis.json");
        std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        assert_eq!(genesis::GenesisDoc::load(&file).unwrap(), doc);
        // Running genesis init again reuses the keys: same validators.
        let again = network::genesis_from(&desc, keys.path(), 1_700_000_000_000).unwrap();
        assert_eq!(again, doc);
        seen += 1;
    }
    assert!(seen >= 3, "expected the three example networks");
}

#[test]
fn a_store_of_another_network_is_refused_with_a_clear_message() {
    let keys = tempfile::tempdir().unwrap();
    let desc = network::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../genesis/examples/single.toml"),
    )
    .unwrap();
    let a = network::genesis_from(&desc, keys.path(), 1).unwrap();
    let mut b = a.clone();
    b.chain_id = "other-chain".into();
    let s: std::sync::Arc<dyn store::Store> = std::sync::Arc::new(store::MemStore::default());
    chain::Chain::open(s.clone(), &a).unwrap();
    let err = chain::Chain::open(s, &b).err().unwrap();
    assert!(format!("{err:#}").contains("another network"), "{err:#}");
}
