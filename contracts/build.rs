//! Generates the error catalogue (`error::CATALOGUE`) from the contracts' own source: every
//! call of an error constructor (`invalid_argument`, `permission_denied`, `not_found`,
//! `already_exists`, `precondition`, `Invalid::new`) with its stable code, its kind and the
//! sentence it says. So the catalogue in docs/api.md cannot miss a code or name one that no
//! longer exists. Reads only this crate's `src/`, at build time.

// A build script fails by panicking: an unreadable source file must stop the build.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const CONSTRUCTORS: [(&str, &str); 5] = [
    ("invalid_argument(", "Argument"),
    ("permission_denied(", "Permission"),
    ("not_found(", "NotFound"),
    ("already_exists(", "AlreadyExists"),
    ("precondition(", "Precondition"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs")
            && p.file_name() != Some("tests.rs".as_ref())
        {
            out.push(p);
        }
    }
}

/// The text of a Rust string literal starting at `s[0] == '"'`, unescaped, and its length.
fn literal(s: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\\' => match chars.next()?.1 {
                'n' => out.push(' '),
                '\n' => {
                    // A line continuation: skip the next line's indentation.
                    while let Some((_, c)) = chars.clone().next() {
                        if c.is_whitespace() {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

fn skip_ws(s: &str) -> &str {
    s.trim_start()
}

/// The code and the message of one constructor call whose arguments start `s`.
fn call_args(s: &str) -> Option<(String, Option<String>)> {
    let s = skip_ws(s);
    let (code, rest) = if let Some(r) = s.strip_prefix("&format!(") {
        let r = skip_ws(r);
        let (c, n) = literal(r)?;
        let r = skip_ws(&r[n..]);
        (c.replace("{contract}", "<contract>"), r.strip_prefix(')')?)
    } else if s.starts_with('"') {
        let (c, n) = literal(s)?;
        (c, &s[n..])
    } else {
        return None;
    };
    if !code
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._<>".contains(&b))
    {
        return None;
    }
    let rest = skip_ws(skip_ws(rest).strip_prefix(',')?);
    let rest = rest.strip_prefix("format!(").map(skip_ws).unwrap_or(rest);
    let message = if rest.starts_with('"') {
        literal(rest).map(|(m, _)| m)
    } else {
        None
    };
    Some((code, message))
}

fn main() {
    let src = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("src");
    println!("cargo::rerun-if-changed={}", src.display());
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    // code -> (kind, messages, files)
    let mut found: BTreeMap<String, (String, Vec<String>, Vec<String>)> = BTreeMap::new();
    for f in &files {
        println!("cargo::rerun-if-changed={}", f.display());
        let text = std::fs::read_to_string(f).unwrap();
        // Unit tests at the end of a file name codes only to check them.
        let text = text.split("\n#[cfg(test)]").next().unwrap_or("");
        let rel = f
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        for (ctor, kind) in CONSTRUCTORS {
            for (at, _) in text.match_indices(ctor) {
                // A definition (`pub fn invalid_argument(`) is not a call.
                if text[..at].ends_with("fn ") || text[..at].ends_with('_') {
                    continue;
                }
                if let Some((code, msg)) = call_args(&text[at + ctor.len()..]) {
                    add(&mut found, code, kind, msg, &rel);
                }
            }
        }
        for (at, _) in text.match_indices("Invalid::new(") {
            let rest = &text[at + "Invalid::new(".len()..];
            let Some(r) = skip_ws(rest).strip_prefix("InvalidKind::") else {
                continue;
            };
            let kind: String = r
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            let Some(r) = r[kind.len()..].trim_start().strip_prefix(',') else {
                continue;
            };
            if let Some((code, msg)) = call_args(r) {
                add(&mut found, code, &kind, msg, &rel);
            }
        }
    }
    let mut out = String::from(
        "/// Generated by build.rs from the error constructors in src/.\npub const CATALOGUE: &[CatalogueEntry] = &[\n",
    );
    for (code, (kind, msgs, files)) in &found {
        let _ = writeln!(
            out,
            "    CatalogueEntry {{ code: {code:?}, kind: InvalidKind::{kind}, messages: &{msgs:?}, sources: &{files:?} }},"
        );
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("error_catalogue.rs");
    std::fs::write(dest, out).unwrap();
}

fn add(
    found: &mut BTreeMap<String, (String, Vec<String>, Vec<String>)>,
    code: String,
    kind: &str,
    msg: Option<String>,
    file: &str,
) {
    let e = found
        .entry(code)
        .or_insert_with(|| (kind.to_string(), Vec::new(), Vec::new()));
    if let Some(m) = msg {
        if !e.1.contains(&m) {
            e.1.push(m);
        }
    }
    if !e.2.iter().any(|f| f == file) {
        e.2.push(file.to_string());
    }
}
