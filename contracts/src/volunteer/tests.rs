//! Unit tests of the volunteer contract's pure helpers.

use super::calls::check_skills;
use super::*;
use crate::calendar::fiscal_year;
use crate::MemState;

#[test]
fn ids_are_deterministic_and_distinct_by_kind_and_tx() {
    let a = [1u8; 32];
    let b = [2u8; 32];
    assert_eq!(volunteer_id_for(&a), volunteer_id_for(&a));
    assert_ne!(volunteer_id_for(&a), volunteer_id_for(&b));
    assert_ne!(
        volunteer_id_for(&a).trim_start_matches("vol-"),
        certificate_id_for(&a).trim_start_matches("cert-")
    );
    assert!(governance::check_id("id", &volunteer_id_for(&a), 64).is_ok());
}

#[test]
fn fiscal_year_runs_april_to_march_jst() {
    // 2026-01-15T00:00Z: FY2025. 2026-04-01T00:00Z (09:00 JST): FY2026.
    assert_eq!(fiscal_year(1_768_435_200_000), 2025);
    assert_eq!(fiscal_year(1_775_001_600_000), 2026);
    // 2026-03-31T14:59:59.999Z is still March 31 JST.
    assert_eq!(fiscal_year(1_774_969_199_999), 2025);
    assert_eq!(fiscal_year(1_774_969_200_000), 2026);
}

#[test]
fn points_rule_examples() {
    let r = DEFAULT_RULES;
    assert_eq!(points_for(&r, 90, 0, 0), (150, 150));
    assert_eq!(points_for(&r, 90, 700, 0), (100, 150));
    assert_eq!(points_for(&r, 90, 0, 19_990), (10, 150));
    assert_eq!(points_for(&r, 90, 900, 0), (0, 150));
    assert_eq!(points_for(&r, 0, 0, 0), (0, 0));
}

#[test]
fn rules_default_when_unset_or_negative() {
    let mut s = MemState::default();
    assert_eq!(rules_at(&s, "", 5).unwrap(), DEFAULT_RULES);
    let g = governance::Genesis {
        chain: governance::ChainConfig {
            chain_id: "t".into(),
            fault_model: 0,
            max_expiry_blocks: 10,
        },
        organizations: vec![governance::Organization::genesis(
            "o",
            "O",
            governance::OrgKind::Municipality,
        )],
        validators: vec![governance::ValidatorRecord {
            organization: "o".into(),
            name: "v".into(),
            public_key: [1; 32],
            power: 1,
        }],
        accounts: vec![],
        parameters: vec![(P_POINTS_PER_HOUR.into(), 30), (P_EXPIRY_DAYS.into(), -1)],
    };
    governance::init_genesis(&mut s, &g).unwrap();
    let r = rules_at(&s, "", 5).unwrap();
    assert_eq!(r.points_per_hour, 30);
    assert_eq!(r.expiry_days, DEFAULT_RULES.expiry_days);
}

#[test]
fn skills_are_sorted_deduplicated_and_bounded() {
    let s = check_skills(&["b".into(), "a".into(), "b".into()]).unwrap();
    assert_eq!(s, vec!["a".to_string(), "b".to_string()]);
    let many: Vec<String> = (0..=MAX_SKILLS).map(|i| format!("s{i}")).collect();
    assert!(check_skills(&many).is_err());
    assert!(check_skills(&[String::new()]).is_err());
}
