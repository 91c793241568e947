//! The annual budget (PTBA): forecast lines per component and funding
//! source, and what was achieved against them.

use chrono::{Datelike, NaiveDate};
use jigi_common::date::parse_date;
use jigi_common::{Component, Problems};
use jigi_proto::common::FundingSource;

use super::indicators::rate;

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

pub fn check_component(value: i32, field: &str, problems: &mut Problems) -> Option<Component> {
    let component = Component::from_proto(value);
    if component.is_none() {
        problems.add(field, format!("{value} is not a component (TM, MA, PNP, AGR or HIMO)"));
    }
    component
}

pub fn check_funding_source(value: i32, field: &str, problems: &mut Problems) -> Option<FundingSource> {
    match FundingSource::try_from(value) {
        Ok(FundingSource::Unspecified) | Err(_) => {
            problems.add(field, format!("{value} is not a funding source"));
            None
        }
        Ok(source) => Some(source),
    }
}

/// Checks a budget line: year, component and funding source known,
/// forecast from 0 to [`MAX_AMOUNT`].
pub fn line(year: i32, component: i32, funding_source: i32, forecast: Option<i64>) -> Result<BudgetLine, Problems> {
    let mut problems = Problems::new();
    check_year(year, "line.year", &mut problems);
    let component = check_component(component, "line.component", &mut problems);
    let funding_source = check_funding_source(funding_source, "line.funding_source", &mut problems);
    match forecast {
        None => problems.add("line.forecast", "is required"),
        Some(amount) if amount < 0 => problems.add("line.forecast", format!("is negative ({amount} FCFA)")),
        Some(amount) if amount > MAX_AMOUNT => {
            problems.add("line.forecast", format!("{amount} FCFA is implausibly large"))
        }
        Some(_) => {}
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(BudgetLine {
        year,
        region: String::new(),
        component: component.expect("checked"),
        funding_source: funding_source.expect("checked"),
        forecast_fcfa: forecast.expect("checked"),
    })
}

/// Checks an expenditure: amount above 0, date within the year.
pub fn expenditure(
    year: i32,
    component: i32,
    funding_source: i32,
    amount: Option<i64>,
    spent_on: &str,
    description: &str,
) -> Result<Expenditure, Problems> {
    let mut problems = Problems::new();
    check_year(year, "year", &mut problems);
    let component = check_component(component, "component", &mut problems);
    let funding_source = check_funding_source(funding_source, "funding_source", &mut problems);
    match amount {
        None => problems.add("amount", "is required"),
        Some(amount) if amount <= 0 => problems.add("amount", format!("must be more than 0 FCFA, not {amount}")),
        Some(amount) if amount > MAX_AMOUNT => problems.add("amount", format!("{amount} FCFA is implausibly large")),
        Some(_) => {}
    }
    let date = parse_date(spent_on);
    match date {
        None => problems.add("spent_on", format!("{spent_on:?} is not a date in YYYY-MM-DD form")),
        Some(date) if date.year() != year => problems.add("spent_on", format!("{spent_on} is not in {year}")),
        Some(_) => {}
    }
    if description.chars().count() > 500 {
        problems.add("description", "is longer than 500 characters");
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Expenditure {
        year,
        region: String::new(),
        component: component.expect("checked"),
        funding_source: funding_source.expect("checked"),
        amount_fcfa: amount.expect("checked"),
        spent_on: date.expect("checked"),
        description: description.trim().to_owned(),
    })
}

/// Achieved ÷ forecast.
pub fn execution_rate(achieved: i64, forecast: i64) -> f64 {
    rate(achieved, forecast)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(problems: Problems) -> Vec<String> {
        problems.into_errors().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn the_2018_ptba_executes_at_71_percent() {
        let rate = execution_rate(9_512_000_000, 13_331_000_000);
        assert!((rate - 0.7135).abs() < 0.0001, "{rate}");
    }

    #[test]
    fn a_negative_forecast_or_unknown_source_is_refused() {
        assert_eq!(
            fields(line(2018, Component::Tm.to_proto() as i32, 0, Some(-5)).unwrap_err()),
            ["line.funding_source", "line.forecast"]
        );
        assert_eq!(
            fields(line(1999, 99, 1, Some(5)).unwrap_err()),
            ["line.year", "line.component"]
        );
        assert!(line(2018, Component::Tm.to_proto() as i32, 1, Some(0)).is_ok());
    }

    #[test]
    fn expenditure_within_its_year_and_positive() {
        let agr = Component::Agr.to_proto() as i32;
        assert_eq!(
            fields(expenditure(2018, agr, 3, Some(0), "2018-05-01", "").unwrap_err()),
            ["amount"]
        );
        assert_eq!(
            fields(expenditure(2018, agr, 3, Some(10), "2019-01-01", "").unwrap_err()),
            ["spent_on"]
        );
        assert!(expenditure(2018, agr, 3, Some(10), "2018-12-31", "kits AGR").is_ok());
    }
}
