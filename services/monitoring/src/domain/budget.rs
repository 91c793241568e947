//! The annual budget (PTBA): forecast lines per component and funding
//! source, and what was achieved against them.

use chrono::NaiveDate;
use jigi_common::{Component, Problems};

use super::indicators::rate;

/// Who pays. Lines and expenditure entries always name one of the
/// programme's funders; `Unnamed` is what was paid under a payment cycle
/// that named none (events from before cycles named their funder), kept so
/// that nothing achieved is hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FundingSource {
    Unnamed,
    WorldBankIda,
    Dfid,
    StateBudget,
    Other,
}

/// A valid budget line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetLine {
    pub year: i32,
    /// A region's slug; empty for a national line (or, read without a
    /// region, the sum of every line of the component and funder).
    pub region: String,
    pub component: Component,
    pub funding_source: FundingSource,
    pub forecast_fcfa: i64,
}

/// A valid expenditure entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expenditure {
    pub year: i32,
    /// The region's slug; empty when national.
    pub region: String,
    pub component: Component,
    pub funding_source: FundingSource,
    pub amount_fcfa: i64,
    pub spent_on: NaiveDate,
    pub description: String,
}

/// Budget years the programme can plan.
const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;
/// A budget line larger than this is a typing error (the whole PTBA of
/// 2018 was 13.3 billion FCFA).
pub const MAX_AMOUNT: i64 = 10_000_000_000_000;

/// A region's slug, or empty (national).
pub fn check_region(text: &str, field: &str, problems: &mut Problems) -> String {
    if !text.is_empty() && text.parse::<jigi_common::Region>().is_err() {
        problems.add(field, format!("{text:?} is not a region slug"));
    }
    text.to_owned()
}

pub fn check_year(year: i32, field: &str, problems: &mut Problems) {
    if !YEARS.contains(&year) {
        problems.add(field, format!("{year} is not a budget year (2000 to 2100)"));
    }
}

/// Achieved ÷ forecast.
pub fn execution_rate(achieved: i64, forecast: i64) -> f64 {
    rate(achieved, forecast)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_2018_ptba_executes_at_71_percent() {
        let rate = execution_rate(9_512_000_000, 13_331_000_000);
        assert!((rate - 0.7135).abs() < 0.0001, "{rate}");
    }
}
