//! The personal-data guard on the submit path (DESIGN §7, issue 8). Every string field of
//! every call is checked, generically: the call is walked as a dynamic protobuf message from
//! the compiled descriptors, so a new contract call is covered without code here.
//!
//! Text that looks like an e-mail address, a Japanese phone number, a 12-digit individual
//! number (My Number, check digit valid) or a postal address is rejected before anything is
//! stored. The rejection names the field and the kind of data, never the text itself.
//! Detection runs on the NFKC form (full-width letters and digits, ＠, ．, （） become ASCII) with
//! every dash-like character (‐ ‑ ‒ – — ― − ー ｰ －) read as '-'.

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, ReflectMessage, Value};
use std::sync::OnceLock;
use unicode_normalization::UnicodeNormalization;
use yui_proto::v1 as pb;

/// What the guard found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field} looks like personal data ({kind}); store it with the PersonalData service and put the returned id in the transaction instead")]
pub struct GuardViolation {
    /// Path of the field, e.g. `governance.propose_validator_change.reason`.
    pub field: String,
    /// The kind of personal data it looks like.
    pub kind: &'static str,
}

fn pool() -> Option<&'static DescriptorPool> {
    static POOL: OnceLock<Option<DescriptorPool>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(yui_proto::FILE_DESCRIPTOR_SET).ok())
        .as_ref()
}

/// Check every string field of a call.
pub fn check_call(call: &pb::tx_body::Call) -> Result<(), GuardViolation> {
    let body = pb::TxBody {
        call: Some(call.clone()),
        ..Default::default()
    };
    let Some(desc) = pool().and_then(|p| p.get_message_by_name("yui.v1.TxBody")) else {
        // The descriptors are compiled into the binary; this cannot fail in a built node.
        return Ok(());
    };
    let Ok(msg) = DynamicMessage::decode(desc, body.encode_to_vec().as_slice()) else {
        return Ok(());
    };
    walk(&msg, "")
}

fn walk(msg: &DynamicMessage, path: &str) -> Result<(), GuardViolation> {
    for (field, value) in msg.fields() {
        let p = if path.is_empty() {
            field.name().to_string()
        } else {
            format!("{path}.{}", field.name())
        };
        walk_value(value, &p)?;
    }
    let _ = msg.descriptor();
    Ok(())
}

fn walk_value(value: &Value, path: &str) -> Result<(), GuardViolation> {
    match value {
        Value::String(s) => check_text(path, s),
        Value::Message(m) => walk(m, path),
        Value::List(items) => items.iter().try_for_each(|v| walk_value(v, path)),
        Value::Map(map) => map.values().try_for_each(|v| walk_value(v, path)),
        _ => Ok(()),
    }
}

/// Check one piece of free text.
pub fn check_text(field: &str, text: &str) -> Result<(), GuardViolation> {
    let norm = normalize(text);
    let kind = if looks_like_email(&norm) {
        Some("an e-mail address")
    } else if looks_like_my_number(&norm) {
        Some("an individual number (My Number)")
    } else if looks_like_phone(&norm) {
        Some("a phone number")
    } else if looks_like_address(&norm) {
        Some("a postal address")
    } else {
        None
    };
    match kind {
        Some(kind) => Err(GuardViolation {
            field: field.to_string(),
            kind,
        }),
        None => Ok(()),
    }
}

fn normalize(text: &str) -> String {
    text.nfkc()
        .map(|c| match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FC}' | '\u{FF70}' | '\u{FE63}' => '-',
            '\u{3000}' => ' ',
            c => c,
        })
        .collect()
}

fn looks_like_email(t: &str) -> bool {
    let lower = t.to_lowercase();
    let t = lower
        .replace("[at]", "@")
        .replace("(at)", "@")
        .replace(" at ", "@")
        .replace("[dot]", ".")
        .replace("(dot)", ".");
    let chars: Vec<char> = t.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c != '@' {
            continue;
        }
        let is_local = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
        let local = chars[..i]
            .iter()
            .rev()
            .skip_while(|c| **c == ' ')
            .take_while(|c| is_local(**c))
            .count();
        let domain: String = chars[i + 1..]
            .iter()
            .skip_while(|c| **c == ' ')
            .take_while(|c| c.is_ascii_alphanumeric() || **c == '.' || **c == '-')
            .collect();
        let labels: Vec<&str> = domain.trim_end_matches('.').split('.').collect();
        let tld_ok = labels.len() >= 2
            && labels
                .last()
                .is_some_and(|l| l.len() >= 2 && l.chars().all(|c| c.is_ascii_alphabetic()));
        if local >= 1 && tld_ok {
            return true;
        }
    }
    false
}

/// Runs of digits joined by separators (space, '-', '.', '(', ')'), each returned as its
/// digits, with whether it started with '+'.
fn digit_runs(t: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let chars: Vec<char> = t.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let plus = chars[i] == '+' && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit());
        let start_paren = chars[i] == '(' && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit());
        if !(chars[i].is_ascii_digit() || plus || start_paren) {
            i += 1;
            continue;
        }
        // Part of a longer alphanumeric token (an id like "shelter-01")? Not a number run.
        if i > 0 && (chars[i - 1].is_ascii_alphabetic() || chars[i - 1] == '_') {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "-_".contains(chars[i])) {
                i += 1;
            }
            continue;
        }
        let mut digits = String::new();
        let mut j = if plus || start_paren { i + 1 } else { i };
        let mut last_digit = j;
        while j < chars.len() {
            let c = chars[j];
            if c.is_ascii_digit() {
                digits.push(c);
                last_digit = j;
            } else if " -.()".contains(c) {
                // A separator only if a digit follows within two characters.
                let next_digit = chars[j + 1..].iter().take(2).any(|c| c.is_ascii_digit());
                if !next_digit {
                    break;
                }
            } else {
                break;
            }
            j += 1;
        }
        out.push((digits, plus));
        i = last_digit + 1;
    }
    out
}

fn looks_like_phone(t: &str) -> bool {
    digit_runs(t).iter().any(|(d, plus)| {
        if let Some(rest) = d.strip_prefix("81") {
            if (*plus || d.len() >= 11)
                && (rest.len() == 9 || rest.len() == 10)
                && !rest.starts_with('0')
            {
                return true;
            }
        }
        d.starts_with('0') && (d.len() == 10 || d.len() == 11) && !d.starts_with("00")
    })
}

/// The My Number check digit (Ministerial ordinance on the individual number, Art. 5).
fn my_number_check_ok(d: &[u8; 12]) -> bool {
    let mut sum = 0u32;
    for n in 1..=11u32 {
        let p = u32::from(d[11 - n as usize]);
        let q = if n <= 6 { n + 1 } else { n - 5 };
        sum += p * q;
    }
    let r = sum % 11;
    let check = if r <= 1 { 0 } else { 11 - r };
    u32::from(d[11]) == check
}

fn looks_like_my_number(t: &str) -> bool {
    digit_runs(t).iter().any(|(d, plus)| {
        if *plus || d.len() != 12 {
            return false;
        }
        let mut a = [0u8; 12];
        for (i, c) in d.bytes().enumerate() {
            a[i] = c - b'0';
        }
        my_number_check_ok(&a)
    })
}

const PREFECTURES: [&str; 47] = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
];

fn looks_like_address(t: &str) -> bool {
    // A postal mark, or a postal code 123-4567.
    if t.contains('〒') {
        return true;
    }
    let chars: Vec<char> = t.chars().collect();
    for w in 0..chars.len().saturating_sub(7) {
        let s = &chars[w..w + 8];
        let code = s[..3].iter().all(char::is_ascii_digit)
            && s[3] == '-'
            && s[4..8].iter().all(char::is_ascii_digit);
        let before_ok = w == 0 || !chars[w - 1].is_ascii_digit() && chars[w - 1] != '-';
        let after_ok = chars
            .get(w + 8)
            .is_none_or(|c| !c.is_ascii_digit() && *c != '-');
        if code && before_ok && after_ok {
            return true;
        }
    }
    // Block numbers: 6丁目, 12番地, 3番4号.
    for (i, c) in chars.iter().enumerate() {
        if c.is_ascii_digit() {
            let rest: String = chars[i + 1..].iter().take(2).collect();
            if rest.starts_with("丁目")
                || rest.starts_with("番地")
                || (rest.starts_with('番') && chars[i + 2..].iter().take(4).any(|c| *c == '号'))
            {
                return true;
            }
        }
    }
    // A prefecture, then a municipality, then a house number.
    for p in PREFECTURES {
        if let Some(pos) = t.find(p) {
            let after = &t[pos + p.len()..];
            if let Some(m) = after.find(['市', '区', '町', '村', '郡']) {
                if after[m..].chars().any(|c| c.is_ascii_digit()) {
                    return true;
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn my_number_check_digit_matches_the_published_algorithm() {
        // 12345678901x: sum = 1*2+0*3+9*4+8*5+7*6+6*7+5*2+4*3+3*4+2*5+1*6 = 212; 212 % 11 = 3; check 8.
        assert!(looks_like_my_number("123456789018"));
        assert!(!looks_like_my_number("123456789012"));
    }
}
