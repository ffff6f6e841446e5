//! The generated error catalogue (`error::CATALOGUE`, made by build.rs from the error
//! constructors) holds every code the tests see a contract return, with a kind and a sentence,
//! and codes of the `contract.reason` shape.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use yui_contracts::error::CATALOGUE;

const CONTRACTS: [&str; 5] = ["governance", "relief", "points", "eco", "volunteer"];
/// Prefixes of codes of the shared query paging (`page.bad_token`, ...).
const OTHER_PREFIXES: [&str; 2] = ["page", "<contract>"];
/// Codes every contract raises through shared checks, without a contract prefix.
const SHARED: [&str; 2] = ["invalid_id", "invalid_key"];

/// String literals of the form `contract.reason` on lines that check an error code.
fn asserted_codes(dir: &std::path::Path, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            asserted_codes(&p, out);
            continue;
        }
        if p.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            // The literal may be on the line after the `assert_eq!(... code ...,`.
            let context = format!("{} {}", lines[i.saturating_sub(2)..=i].join(" "), line);
            if !(context.contains("code") || context.contains(".err(")) {
                continue;
            }
            for part in line.split('"').skip(1).step_by(2) {
                let Some((contract, reason)) = part.split_once('.') else {
                    continue;
                };
                if CONTRACTS.contains(&contract)
                    && !reason.is_empty()
                    && reason.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                {
                    out.insert(part.to_string());
                }
            }
        }
    }
}

#[test]
fn every_code_the_tests_see_is_in_the_catalogue() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seen = BTreeSet::new();
    asserted_codes(&root.join("tests"), &mut seen);
    asserted_codes(&root.join("../tests/tests"), &mut seen);
    // `<contract>.reason` stands for that reason with every contract's prefix.
    let known: BTreeSet<String> = CATALOGUE
        .iter()
        .flat_map(|e| match e.code.strip_prefix("<contract>.") {
            Some(reason) => CONTRACTS.iter().map(|c| format!("{c}.{reason}")).collect(),
            None => vec![e.code.to_string()],
        })
        .collect();
    // Parameter keys and call names also look like `contract.word` on such lines.
    let not_codes = [
        "eco.min_redeem_points",
        "eco.points_per_kg",
        "volunteer.points_per_hour",
    ];
    let missing: Vec<&String> = seen
        .iter()
        .filter(|c| !known.contains(c.as_str()) && !not_codes.contains(&c.as_str()))
        .collect();
    assert!(
        seen.len() > 50,
        "only {} codes found in the tests",
        seen.len()
    );
    assert!(
        missing.is_empty(),
        "codes the tests expect but the catalogue lacks: {missing:?}"
    );
}

#[test]
fn every_entry_has_the_stable_shape_a_kind_and_a_sentence() {
    assert!(CATALOGUE.len() > 150, "{} entries", CATALOGUE.len());
    for e in CATALOGUE {
        let ok_shape = SHARED.contains(&e.code)
            || e.code.split_once('.').is_some_and(|(c, r)| {
                (CONTRACTS.contains(&c) || OTHER_PREFIXES.contains(&c))
                    && !r.is_empty()
                    && r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            });
        assert!(ok_shape, "{}", e.code);
        assert!(!e.sources.is_empty(), "{}", e.code);
        assert!(
            !e.messages.is_empty() && e.messages.iter().all(|m| m.len() > 8),
            "{} has no sentence: {:?}",
            e.code,
            e.messages
        );
    }
    for c in [
        "relief.not_owner",
        "relief.token_mismatch",
        "volunteer.already_checked_in",
    ] {
        assert!(CATALOGUE.iter().any(|e| e.code == c), "{c}");
    }
}
