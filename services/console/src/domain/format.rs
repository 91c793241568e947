//! Numbers as each language writes them: `34 224` and `97,5 %` in French
//! (a narrow no-break space groups thousands), `34,224` and `97.5%` in English.

use super::Lang;

/// The French thousands separator: U+202F NARROW NO-BREAK SPACE, so a
/// number never breaks across lines.
const NNBSP: char = '\u{202f}';

/// A whole number, grouped by thousands.
pub fn count(lang: Lang, value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let separator = match lang {
        Lang::Fr => NNBSP,
        Lang::En => ',',
    };
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if value < 0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(digit);
    }
    out
}

/// A number with `decimals` decimals.
pub fn decimal(lang: Lang, value: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, value.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let whole: i64 = whole.parse().unwrap_or(0);
    let sign = if value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    let mark = match lang {
        Lang::Fr => ',',
        Lang::En => '.',
    };
    if fraction.is_empty() {
        format!("{sign}{}", count(lang, whole))
    } else {
        format!("{sign}{}{mark}{fraction}", count(lang, whole))
    }
}

/// A rate from 0 to 1 as a percentage with one decimal.
pub fn percent(lang: Lang, rate: f64) -> String {
    match lang {
        Lang::Fr => format!("{}{NNBSP}%", decimal(lang, rate * 100.0, 1)),
        Lang::En => format!("{}%", decimal(lang, rate * 100.0, 1)),
    }
}

/// Tonnes with three decimals (a tonne is a million grams).
pub fn tonnes(lang: Lang, grams: i64) -> String {
    decimal(lang, grams as f64 / 1_000_000.0, 3)
}

/// A time in UTC, to the second: `2026-12-04 17:55:02 UTC`.
pub fn time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_groups_with_narrow_spaces_and_english_with_commas() {
        assert_eq!(count(Lang::Fr, 34_224), "34\u{202f}224");
        assert_eq!(count(Lang::En, 34_224), "34,224");
        assert_eq!(count(Lang::En, 1_234_567), "1,234,567");
        assert_eq!(count(Lang::En, 999), "999");
        assert_eq!(count(Lang::En, -19_837), "-19,837");
        assert_eq!(count(Lang::Fr, 0), "0");
    }

    #[test]
    fn decimals_and_percentages_follow_the_language() {
        assert_eq!(percent(Lang::Fr, 0.975), "97,5\u{202f}%");
        assert_eq!(percent(Lang::En, 0.975), "97.5%");
        assert_eq!(tonnes(Lang::En, 1_234_567_890), "1,234.568");
        assert_eq!(tonnes(Lang::Fr, 2_500_000), "2,500");
        assert_eq!(decimal(Lang::En, -0.0001, 1), "0.0");
    }
}
