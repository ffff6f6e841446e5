//! Japanese days and fiscal years from block time: JST is UTC+9 with no daylight saving, and
//! a fiscal year runs from 1 April to 31 March (FY2025 = 2025-04-01..2026-03-31 JST). Integer
//! arithmetic only; time comes from the block header, never from a clock.

/// JST is UTC+9.
pub const JST_OFFSET_MS: u64 = 9 * 3_600_000;
/// Milliseconds in a day.
pub const MS_PER_DAY: u64 = 86_400_000;

/// The JST day number (days since 1970-01-01 JST) of a time.
pub fn jst_day(time_ms: u64) -> u64 {
    time_ms.saturating_add(JST_OFFSET_MS) / MS_PER_DAY
}

/// The JST civil date (year, month 1-12, day 1-31) of a time.
pub fn jst_date(time_ms: u64) -> (u64, u64, u64) {
    // Civil date from a day count (Howard Hinnant's algorithm), integers only.
    let z = jst_day(time_ms) + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The JST date of a time as `YYYY-MM-DD`.
pub fn jst_date_string(time_ms: u64) -> String {
    let (y, m, d) = jst_date(time_ms);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Whether `s` is a real calendar date written `YYYY-MM-DD` (years 2000 to 2999).
pub fn is_date_string(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (2000..=2999).contains(&y) && (1..=days).contains(&d)
}

/// The Japanese fiscal year of a time.
pub fn fiscal_year(time_ms: u64) -> u64 {
    let (year, month, _) = jst_date(time_ms);
    if month >= 4 {
        year
    } else {
        year - 1
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn date_strings() {
        assert_eq!(super::jst_date_string(0), "1970-01-01");
        // 2026-12-01 15:00 UTC is 2026-12-02 00:00 JST.
        assert_eq!(super::jst_date_string(1_796_137_200_000), "2026-12-02");
        for ok in ["2026-12-01", "2028-02-29", "2000-01-31"] {
            assert!(super::is_date_string(ok), "{ok}");
        }
        for bad in [
            "2026-2-01",
            "2027-02-29",
            "2026-13-01",
            "2026-04-31",
            "20261201",
            "2026-12-0a",
            "１９８０-01-01",
            "",
        ] {
            assert!(!super::is_date_string(bad), "{bad}");
        }
    }

    use super::*;

    #[test]
    fn dates_and_fiscal_years_are_japanese() {
        // 2026-04-01 00:00 JST = 2026-03-31 15:00 UTC.
        assert_eq!(jst_date(1_774_969_200_000), (2026, 4, 1));
        assert_eq!(jst_date(1_774_969_199_999), (2026, 3, 31));
        assert_eq!(fiscal_year(1_774_969_199_999), 2025);
        assert_eq!(fiscal_year(1_774_969_200_000), 2026);
        assert_eq!(jst_date(0), (1970, 1, 1));
        // A leap day.
        assert_eq!(jst_date(1_709_132_400_000), (2024, 2, 29));
        assert_eq!(jst_day(1_774_969_200_000) - jst_day(1_774_969_199_999), 1);
    }
}
