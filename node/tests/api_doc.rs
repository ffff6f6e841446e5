//! docs/api.md is the generated API reference and must match the .proto files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn api_reference_is_up_to_date() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md");
    let want = yui_node::api::reference::render(yui_proto::FILE_DESCRIPTOR_SET).unwrap();
    assert!(
        want.contains("SubmitTransaction") && want.contains("`chain_id`"),
        "generator lost content"
    );
    assert!(
        want.contains("The chain this transaction is meant for"),
        "field comments missing"
    );
    // The error catalogue lists contract codes with their status and what they say.
    assert!(
        want.contains("## Error catalogue")
            && want.contains("| `relief.not_owner` | PERMISSION_DENIED |")
            && want.contains("| `volunteer.already_checked_in` |"),
        "error catalogue missing"
    );
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/api.md is stale: run `cargo run --bin yui -- docs api > docs/api.md`"
    );
}
