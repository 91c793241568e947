//! The checks the nutrition service's commands share, on values already
//! out of the wire format: dates, places and areas of the region, codes,
//! registry IDs, quantities and free text. The API layer (`grpc::parse`)
//! calls them field by field, collecting every problem with its field's
//! name.

use chrono::NaiveDate;

use crate::domain::model::{Location, Rations};

/// Most grams one receipt may bring (10,000 tonnes).
pub const MAX_RECEIPT_GRAMS: i64 = 10_000_000_000;
/// Most lines in one distribution batch.
pub const MAX_BATCH_LINES: usize = 10_000;
/// Longest lot number, warehouse code or waybill kept.
pub const MAX_CODE_CHARS: usize = 64;
/// Longest free text (notes).
pub const MAX_NOTE_CHARS: usize = 500;

/// Longest warehouse name kept.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest waybill reference kept.
pub const MAX_WAYBILL_CHARS: usize = 100;

pub use jigi_common::Rules;

/// A round that passed validation.
#[derive(Debug, Clone)]
pub struct NewRound {
    pub year: i32,
    pub number: i32,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// Sorted by commune code, without repeats.
    pub communes: Vec<Location>,
    pub rations: Rations,
}

/// A warehouse code: 1 to 64 lower-case ASCII letters, digits, `-`, `_` or `.`.
pub fn warehouse_id(text: &str) -> Result<String, String> {
    jigi_common::validation::code(text, "a warehouse code")
}

/// A supplier's lot number: 1 to 64 printable characters, trimmed.
pub fn lot_number(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("is required".into());
    }
    if trimmed.chars().count() > MAX_CODE_CHARS || trimmed.chars().any(char::is_control) {
        return Err(format!("must be 1 to {MAX_CODE_CHARS} printable characters"));
    }
    Ok(trimmed.to_owned())
}

/// Grams moved: from 1 to `max`.
pub fn grams(value: i64, max: i64) -> Result<i64, String> {
    if (1..=max).contains(&value) {
        Ok(value)
    } else {
        Err(format!("must be from 1 to {max} grams"))
    }
}

/// A free text of at most `max` characters, trimmed.
pub fn text(value: &str, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.chars().count() > max {
        return Err(format!("is longer than {max} characters"));
    }
    if trimmed.chars().any(|c| c.is_control() && c != '\n') {
        return Err("contains control characters".into());
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use jigi_common::geography::Geography;
    use jigi_common::{Problems, Region};

    use super::*;

    #[test]
    fn codes_quantities_and_dates() {
        assert!(warehouse_id("sanando-1").is_ok());
        assert!(warehouse_id("Sanando 1").is_err());
        assert!(warehouse_id("").is_err());
        assert_eq!(lot_number("  LOT 2018/04-A ").unwrap(), "LOT 2018/04-A");
        assert!(lot_number("a\tb").is_err());
        assert!(grams(0, 10).is_err());
        assert!(grams(11, 10).is_err());
        let geography = Geography::built_in();
        let rules = Rules {
            geography: &geography,
            region: Region::Segou,
            today: "2018-10-15".parse().unwrap(),
        };
        let mut problems = Problems::new();
        assert!(rules.past_date("2018-10-16", "on", &mut problems).is_none());
        assert!(rules.past_date("2018-10-15", "on", &mut problems).is_some());
        let fields: Vec<String> = problems.into_errors().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["on"]);
    }
}
