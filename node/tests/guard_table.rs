//! The personal-data guard against how people in Japan really type personal data, and
//! against ordinary texts that must pass.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use yui_node::admission::guard::{check_call, check_text};
use yui_proto::v1 as pb;

const REJECT: &[(&str, &str)] = &[
    // e-mail
    ("taro.yamada@example.co.jp", "e-mail"),
    ("連絡先: hanako_s+relief@city.tama.lg.jp まで", "e-mail"),
    ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "e-mail"),
    ("TARO@EXAMPLE.COM", "e-mail"),
    ("taro [at] example.jp", "e-mail"),
    ("taro(at)example.ne.jp", "e-mail"),
    ("taro @ example.jp", "e-mail"),
    // mobile and landline numbers
    ("090-1234-5678", "phone"),
    ("09012345678", "phone"),
    ("080 1234 5678", "phone"),
    ("070.1234.5678", "phone"),
    ("０９０－１２３４－５６７８", "phone"),
    ("０９０ー１２３４ー５６７８", "phone"),
    ("090‐1234‐5678", "phone"),
    ("+81 90 1234 5678", "phone"),
    ("+81-90-1234-5678", "phone"),
    ("+819012345678", "phone"),
    ("81-90-1234-5678", "phone"),
    ("03-1234-5678", "phone"),
    ("(03) 1234-5678", "phone"),
    ("03(1234)5678", "phone"),
    ("042-123-4567", "phone"),
    ("0426-12-3456", "phone"),
    ("0120-123-456", "phone"),
    ("0800-123-4567", "phone"),
    ("+81 3 1234 5678", "phone"),
    ("電話 042-676-1234 まで", "phone"),
    ("TEL:03-1234-5678", "phone"),
    // My Number (valid check digits)
    ("123456789018", "My Number"),
    ("1234 5678 9018", "My Number"),
    ("1234-5678-9018", "My Number"),
    ("１２３４５６７８９０１８", "My Number"),
    // postal addresses
    ("〒192-0083 東京都八王子市旭町1-1", "address"),
    ("〒 206-0011", "address"),
    ("東京都多摩市関戸6丁目12番地1号", "address"),
    ("多摩市関戸6丁目", "address"),
    ("東京都八王子市元本郷町3-24-1", "address"),
    ("大阪府大阪市北区梅田1-1-1", "address"),
    ("北海道札幌市中央区北1条西2丁目", "address"),
    ("関戸4番2号", "address"),
    // evasions by invisible characters, width and spacing
    ("090\u{200B}1234\u{200B}5678", "phone"),
    ("0\u{200C}9\u{200D}0-1234-5678", "phone"),
    ("090\u{2060}1234\u{FEFF}5678", "phone"),
    ("090\u{00AD}1234\u{00AD}5678", "phone"),
    ("\u{202E}090-1234-5678\u{202C}", "phone"),
    ("０９０\u{200B}１２３４\u{200B}５６７８", "phone"),
    ("090 - 1234 - 5678", "phone"),
    ("tar\u{200B}o@exam\u{200B}ple.jp", "e-mail"),
    ("〒\u{200B}192-0083", "address"),
    ("1234\u{200B}5678\u{200B}9018", "My Number"),
    // dates of birth
    ("生年月日 昭和55年3月4日", "birth date"),
    ("平成元年1月8日生まれ", "birth date"),
    ("DOB: 1980/03/04", "birth date"),
    ("誕生日 ２００１年４月１日", "birth date"),
];

// A bare postal code ("192-0083") names an area, not a person, and looks like many part and
// lot numbers; the guard lets it pass (docs/personal-data.md). With 〒 it is rejected.
const PASS: &[&str] = &[
    "500ml bottled water x 24",
    "size 3L diapers",
    "alpha rice 100g",
    "blankets for 20 people",
    "shelter-hachioji-01",
    "13201",
    "2026-11-23",
    "1,200",
    "needed by 2026-11-30 12:00",
    "八王子市立第一小学校",
    "多摩市関戸公民館",
    "東京都八王子市の避難所",
    "東京都からの支援物資",
    "乳児用粉ミルク 800g 缶 x 12",
    "アレルギー対応 (卵・乳不使用)",
    "EN-S-012",
    "fy2025",
    "eco.grid_factor_g_per_kwh.fy2025",
    "v1.2.3",
    "lot 2024-0815-03",
    "reason: a fifth node for redundancy",
    "3 kW solar, 1,950 kg CO2 / year",
    "100-200 units",
    "ISBN 978-4-00-000000-0 manuals",
    "temperature 2-8 C",
    "受付 2026年12月1日から",
    "平成20年4月1日開設の避難所",
    "新生児用おむつ",
];

#[test]
fn real_world_personal_data_is_rejected_without_echoing_it() {
    for (text, kind) in REJECT {
        let err = check_text("relief.register_need.details", text)
            .expect_err(&format!("{text:?} ({kind}) passed"));
        let msg = err.to_string();
        assert!(msg.contains("relief.register_need.details"), "{msg}");
        assert!(msg.contains("PersonalData"), "{msg}");
        // The message never contains the data: no run of 4+ digits and no '@'.
        let digits = msg
            .chars()
            .collect::<Vec<_>>()
            .windows(4)
            .any(|w| w.iter().all(|c| c.is_ascii_digit()));
        assert!(
            !digits && !msg.contains('@'),
            "message echoes the data: {msg}"
        );
    }
}

#[test]
fn ordinary_texts_pass() {
    for text in PASS {
        assert_eq!(check_text("f", text), Ok(()), "{text:?} was rejected");
    }
}

#[test]
fn every_string_field_of_every_call_is_checked() {
    let call = pb::tx_body::Call::Governance(pb::GovernanceCall {
        call: Some(pb::governance_call::Call::ProposeValidatorChange(
            pb::ProposeValidatorChange {
                change: Some(pb::ValidatorChange {
                    change: Some(pb::validator_change::Change::Add(pb::Validator {
                        organization: "tama".into(),
                        name: "tel-090-1234-5678".into(),
                        public_key: vec![1; 32],
                        power: 1,
                    })),
                }),
                reason: "new node".into(),
                cites_evidence: Vec::new(),
            },
        )),
    });
    let err = check_call(&call).unwrap_err();
    assert_eq!(
        err.field_path,
        "governance.propose_validator_change.change.add.name"
    );
    let ok = pb::tx_body::Call::Governance(pb::GovernanceCall {
        call: Some(pb::governance_call::Call::SetParameter(pb::SetParameter {
            key: "eco.points_per_kg".into(),
            value: 10,
            effective_from_height: 0,
        })),
    });
    assert_eq!(check_call(&ok), Ok(()));
}
