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

/// Every service method says which errors it returns (a vendor should not have to guess).
#[test]
fn every_method_lists_its_errors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/yui/v1");
    let mut missing = Vec::new();
    let mut methods = 0;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let Some(rest) = l.trim().strip_prefix("rpc ") else {
                continue;
            };
            methods += 1;
            let comment: Vec<&str> = lines[..i]
                .iter()
                .rev()
                .take_while(|c| c.trim().starts_with("//"))
                .copied()
                .collect();
            if !comment.iter().any(|c| c.to_lowercase().contains("error")) {
                missing.push(rest.split('(').next().unwrap_or(rest).to_string());
            }
        }
    }
    assert!(methods > 40, "only {methods} methods found");
    assert!(
        missing.is_empty(),
        "methods without their errors: {missing:?}"
    );
}
