//! Renders the gRPC API reference (`docs/api.md`) from the compiled `.proto` descriptors and
//! their comments, so the reference can never drift from the protos: a test compares the
//! committed file with this output (`yui docs api > docs/api.md` regenerates it).

use prost::Message;
use prost_types::{source_code_info::Location, DescriptorProto, FileDescriptorSet};
use std::collections::BTreeMap;
use std::fmt::Write;

fn comments(locs: &BTreeMap<Vec<i32>, &Location>, path: &[i32]) -> String {
    locs.get(path)
        .and_then(|l| l.leading_comments.as_deref())
        .map(|c| {
            c.lines()
                .map(|l| l.strip_prefix(' ').unwrap_or(l))
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

fn type_name(t: &str) -> String {
    t.trim_start_matches(".yui.v1.").to_string()
}

fn field_type(f: &prost_types::FieldDescriptorProto) -> String {
    use prost_types::field_descriptor_proto::{Label, Type};
    let base = match f.r#type() {
        Type::Message | Type::Enum => format!("`{}`", type_name(f.type_name())),
        t => format!("`{}`", format!("{t:?}").to_lowercase()),
    };
    if f.label() == Label::Repeated {
        format!("repeated {base}")
    } else {
        base
    }
}

/// How the reference names a string field's declared kind (`yui.v1.text`).
fn kind_phrase(k: yui_proto::v1::TextKind) -> &'static str {
    use yui_proto::v1::TextKind;
    match k {
        TextKind::FreeText => "Free text, read by the personal-data guard",
        TextKind::GeneratedId => "Generated id",
        TextKind::Name => "Name or code, read by the personal-data guard",
        TextKind::Secret => "Secret, never read or logged",
        TextKind::Unspecified => "Undeclared",
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn message(
    out: &mut String,
    locs: &BTreeMap<Vec<i32>, &Location>,
    path: Vec<i32>,
    prefix: &str,
    m: &DescriptorProto,
) {
    let name = format!("{prefix}{}", m.name());
    let _ = writeln!(out, "### `{name}`\n");
    let c = comments(locs, &path);
    if !c.is_empty() {
        let _ = writeln!(out, "{c}\n");
    }
    if !m.field.is_empty() {
        let _ = writeln!(out, "| field | type | description |\n|---|---|---|");
        for (j, f) in m.field.iter().enumerate() {
            let mut p = path.clone();
            p.extend([2, j as i32]);
            let oneof = f
                .oneof_index
                .filter(|_| !f.proto3_optional())
                .and_then(|i| m.oneof_decl.get(i as usize))
                .map(|o| format!(" (oneof `{}`)", o.name()))
                .unwrap_or_default();
            let kind =
                crate::admission::guard::declared_kind(&format!("yui.v1.{name}.{}", f.name()))
                    .map(|k| format!("*{}.* ", kind_phrase(k)))
                    .unwrap_or_default();
            let _ = writeln!(
                out,
                "| `{}`{oneof} | {} | {kind}{} |",
                f.name(),
                field_type(f),
                one_line(&comments(locs, &p))
            );
        }
        let _ = writeln!(out);
    }
    for (k, nested) in m.nested_type.iter().enumerate() {
        let mut p = path.clone();
        p.extend([3, k as i32]);
        message(out, locs, p, &format!("{name}."), nested);
    }
}

/// The API reference as Markdown.
pub fn render(descriptor_set: &[u8]) -> Result<String, prost::DecodeError> {
    let set = FileDescriptorSet::decode(descriptor_set)?;
    let mut files: Vec<_> = set
        .file
        .iter()
        .filter(|f| f.package() == "yui.v1")
        .collect();
    files.sort_by(|a, b| a.name().cmp(b.name()));
    let mut out = String::from(
        "# Yui gRPC API reference (yui.v1)\n\nGenerated from `proto/yui/v1/*.proto` by `yui docs api`; do not edit by hand.\n\n",
    );
    for f in files {
        let locs: BTreeMap<Vec<i32>, &Location> = f
            .source_code_info
            .iter()
            .flat_map(|s| s.location.iter())
            .map(|l| (l.path.clone(), l))
            .collect();
        let _ = writeln!(out, "## {}\n", f.name());
        let header = locs
            .get(&vec![12])
            .and_then(|l| l.leading_detached_comments.first().cloned())
            .or_else(|| locs.get(&vec![12]).and_then(|l| l.leading_comments.clone()));
        if let Some(h) = header {
            let _ = writeln!(
                out,
                "{}\n",
                h.lines()
                    .map(|l| l.strip_prefix(' ').unwrap_or(l))
                    .collect::<Vec<_>>()
                    .join("\n")
                    .trim()
            );
        }
        for (i, s) in f.service.iter().enumerate() {
            let _ = writeln!(
                out,
                "### service `{}`\n\n{}\n",
                s.name(),
                comments(&locs, &[6, i as i32])
            );
            let _ = writeln!(
                out,
                "| method | request | response | description |\n|---|---|---|---|"
            );
            for (j, m) in s.method.iter().enumerate() {
                let stream = if m.server_streaming() { "stream " } else { "" };
                let _ = writeln!(
                    out,
                    "| `{}` | `{}` | {stream}`{}` | {} |",
                    m.name(),
                    type_name(m.input_type()),
                    type_name(m.output_type()),
                    one_line(&comments(&locs, &[6, i as i32, 2, j as i32]))
                );
            }
            let _ = writeln!(out);
        }
        for (i, m) in f.message_type.iter().enumerate() {
            message(&mut out, &locs, vec![4, i as i32], "", m);
        }
        for (i, e) in f.enum_type.iter().enumerate() {
            let _ = writeln!(
                out,
                "### enum `{}`\n\n{}\n",
                e.name(),
                comments(&locs, &[5, i as i32])
            );
            let _ = writeln!(out, "| value | number | description |\n|---|---|---|");
            for (j, v) in e.value.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} |",
                    v.name(),
                    v.number(),
                    one_line(&comments(&locs, &[5, i as i32, 2, j as i32]))
                );
            }
            let _ = writeln!(out);
        }
    }
    error_catalogue(&mut out);
    Ok(out)
}

/// What a contract sentence says, for a table cell: placeholders as "…", pipes escaped.
fn sentence(m: &str) -> String {
    let mut out = String::new();
    let mut rest = m;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        match rest[i..].find('}') {
            Some(j) => {
                out.push('…');
                rest = &rest[i + j + 1..];
            }
            None => {
                rest = &rest[i..];
                break;
            }
        }
    }
    out.push_str(rest);
    out.replace('|', "\\|")
}

/// The error catalogue, generated from the contracts' error constructors
/// (`yui_contracts::error::CATALOGUE`).
fn error_catalogue(out: &mut String) {
    use yui_contracts::error::CATALOGUE;
    out.push_str(
        "## Error catalogue\n\n\
Generated from the contracts' error constructors (`contracts/build.rs`), so it lists every code \
a contract can return. A code reaches a client in one of three places: the committed receipt's \
`TxError.code` (the call ran and failed: it is in the block and changed nothing); the \
`google.rpc.ErrorInfo.reason` (domain `yui`) of a refused `SubmitTransaction`, with the gRPC \
status below, when the node's check before admission already sees the contract refuse it; and \
`SubmitResult.error_code` of `SubmitTransactions`. Codes are `contract.reason` and never change \
meaning; `<contract>.reason` is raised by every contract's shared checks with its own prefix \
(`relief.missing_text`, `eco.missing_text`, ...); `invalid_id` (an identifier outside \
`[a-z0-9._-]` or too long) and `invalid_key` (a public key that is not 32 bytes) are shared by \
all contracts and carry no prefix; `page.*` come from the list queries' paging. The sentence \
is for a person (never with personal data); match on the code.\n\n\
Submission errors that are not a contract's (bad signature, wrong chain, expired, duplicate, \
mempool full, personal data in a free-text field) are listed with `Ledger.SubmitTransaction` \
above; proof and certificate verification reasons are in docs/wire.md (\"Inclusion proofs\", \
\"Volunteer certificates\").\n\n",
    );
    let mut prefix = "";
    for e in CATALOGUE {
        let p = e.code.split_once('.').map_or("shared", |(p, _)| p);
        if p != prefix {
            prefix = p;
            let _ = writeln!(
                out,
                "\n### `{p}`\n\n| code | status | what it says | what a client should do |\n|---|---|---|---|"
            );
        }
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            e.code,
            e.kind.grpc_status(),
            e.messages
                .iter()
                .map(|m| sentence(m))
                .collect::<Vec<_>>()
                .join("<br>"),
            e.kind.advice()
        );
    }
    out.push('\n');
}
