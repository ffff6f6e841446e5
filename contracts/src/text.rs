//! The one check of free text and references that every contract applies to its arguments:
//! required text is not blank, no text is longer than its bound (in characters), and no text
//! holds a control character or an invisible one (zero-width spaces and joiners, soft hyphens,
//! bidi controls, variation selectors: what a person does not see, and what could hide text
//! from the personal-data guard). Error codes are `<contract>.missing_text`,
//! `<contract>.text_too_long`, `<contract>.invalid_text` and `<contract>.missing_id`.

use crate::error::{invalid_argument, Result};
use crate::governance::check_id;

/// Longest reference to another object (an id), in bytes.
pub const MAX_REF_BYTES: usize = 64;

/// Check the text `s` of field `what` of a `contract` call.
pub fn check_text(contract: &str, what: &str, s: &str, max: usize, required: bool) -> Result<()> {
    if required && s.trim().is_empty() {
        return Err(invalid_argument(
            &format!("{contract}.missing_text"),
            format!("{what} is required"),
        ));
    }
    if s.chars().count() > max {
        return Err(invalid_argument(
            &format!("{contract}.text_too_long"),
            format!("{what} is longer than {max} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(invalid_argument(
            &format!("{contract}.invalid_text"),
            format!("{what} must not contain control characters (line breaks, tabs, ...)"),
        ));
    }
    if s.chars().any(is_invisible) {
        return Err(invalid_argument(
            &format!("{contract}.invalid_text"),
            format!("{what} must not contain invisible characters (zero-width spaces or joiners, soft hyphens, direction marks, ...)"),
        ));
    }
    Ok(())
}

/// Whether `c` is a character a reader does not see: Unicode format characters (zero-width
/// space, non-joiner and joiner, word joiner, byte-order mark, soft hyphen, direction marks and
/// bidi embeddings and isolates, invisible operators, tags), Hangul fillers, variation
/// selectors and the combining grapheme joiner. Emoji sequences use some of these; free text on
/// a public ledger does not need them.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// Check a required reference `id` in field `what` of a `contract` call.
pub fn check_ref(contract: &str, what: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(invalid_argument(
            &format!("{contract}.missing_id"),
            format!("{what} is required"),
        ));
    }
    check_id(what, id, MAX_REF_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<()>) -> String {
        match r {
            Err(crate::ContractError::Invalid(i)) => i.code,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn blank_long_and_control_texts_are_refused_by_their_own_code() {
        assert!(check_text("c", "name", "水 2L", 10, true).is_ok());
        assert!(check_text("c", "note", "", 10, false).is_ok());
        assert_eq!(
            code(check_text("c", "name", "  ", 10, true)),
            "c.missing_text"
        );
        // Characters, not bytes: ten kanji fit in ten.
        assert!(check_text("c", "name", &"水".repeat(10), 10, true).is_ok());
        assert_eq!(
            code(check_text("c", "name", &"水".repeat(11), 10, true)),
            "c.text_too_long"
        );
        for bad in [
            "a\nb",
            "a\tb",
            "a\u{7}b",
            "a\u{85}b",
            "090\u{200B}1234",
            "a\u{00AD}b",
            "a\u{202E}b",
            "a\u{2060}b",
            "a\u{FEFF}b",
        ] {
            assert_eq!(
                code(check_text("c", "name", bad, 10, false)),
                "c.invalid_text"
            );
        }
        assert_eq!(code(check_ref("c", "shelter_id", "")), "c.missing_id");
        assert!(check_ref("c", "shelter_id", "s-1").is_ok());
        assert_eq!(code(check_ref("c", "shelter_id", "S 1")), "invalid_id");
    }
}
