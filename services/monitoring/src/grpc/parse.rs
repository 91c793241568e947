//! Turning what a client sends into valid domain values (wire → domain),
//! every problem named by its field, all at once. The budget commands of
//! [`crate::app`] receive only what is built here.

use chrono::Datelike;
use jigi_common::date::parse_date;
use jigi_common::{AreaLevel, Component, FieldError, Geography, Period, Problems, Region};
use jigi_proto::common as pc;
use jigi_proto::monitoring as pm;
use jigi_storage::idempotency::{RequestIdError, RequestKey};

use crate::domain::budget::{BudgetLine, Expenditure, FundingSource, MAX_AMOUNT, check_region, check_year};

/// `SetBudgetLine`: the line, its region (empty: national) checked first.
pub fn budget_line(line: Option<&pm::BudgetLine>) -> Result<BudgetLine, Vec<FieldError>> {
    let default = pm::BudgetLine::default();
    let line = line.unwrap_or(&default);
    let mut problems = Problems::new();
    let region = check_region(&line.region, "line.region", &mut problems);
    let checked = self::line(
        line.year,
        line.component,
        line.funding_source,
        line.forecast.as_ref().map(|m| m.fcfa),
    );
    merge(problems, checked.map(|line| BudgetLine { region, ..line }))
}

/// `RecordExpenditure`: the request's key (`Err` when its ID is wrong,
/// reported with every other problem) and the entry.
pub fn expenditure_request(
    key: Result<RequestKey, RequestIdError>,
    request: &pm::RecordExpenditureRequest,
) -> Result<(RequestKey, Expenditure), Vec<FieldError>> {
    let mut problems = Problems::new();
    let key = problems.check("request_id", key.map_err(|err| err.to_string()));
    let region = check_region(&request.region, "region", &mut problems);
    let checked = expenditure(
        request.year,
        request.component,
        request.funding_source,
        request.amount.as_ref().map(|m| m.fcfa),
        &request.spent_on,
        &request.description,
    );
    let entry = merge(problems, checked.map(|e| Expenditure { region, ..e }))?;
    Ok((key.expect("checked"), entry))
}

/// `GetBudgetExecution`: the year and the region (`None`: every region).
pub fn execution_query(year: i32, region: &str) -> Result<(i32, Option<String>), Vec<FieldError>> {
    let mut problems = Problems::new();
    check_year(year, "year", &mut problems);
    let region = check_region(region, "region", &mut problems);
    problems.into_result(|| (year, (!region.is_empty()).then_some(region)))
}

/// The problems found so far followed by those of a checked value.
fn merge<T>(mut problems: Problems, checked: Result<T, Problems>) -> Result<T, Vec<FieldError>> {
    match checked {
        Ok(value) => problems.into_result(|| value),
        Err(more) => {
            for e in more.into_errors() {
                problems.add(e.field, e.description);
            }
            Err(problems.into_errors())
        }
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
    let source = funding_source(value);
    if source.is_none() {
        problems.add(field, format!("{value} is not a funding source"));
    }
    source
}

/// The API's funding source; `None` for unspecified or unknown values.
pub fn funding_source(value: i32) -> Option<FundingSource> {
    match pc::FundingSource::try_from(value).ok()? {
        pc::FundingSource::Unspecified => None,
        pc::FundingSource::WorldBankIda => Some(FundingSource::WorldBankIda),
        pc::FundingSource::Dfid => Some(FundingSource::Dfid),
        pc::FundingSource::StateBudget => Some(FundingSource::StateBudget),
        pc::FundingSource::Other => Some(FundingSource::Other),
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

/// Checks an area code: empty (the country), a region, a cercle or a
/// commune; a problem is added under `field` otherwise.
pub fn area(geography: &Geography, field: &str, code: &str, problems: &mut Problems) -> Option<(AreaLevel, String)> {
    if code.is_empty() {
        return None;
    }
    match geography.get(code) {
        Some(area) if area.level != AreaLevel::Village => Some((area.level, code.to_owned())),
        Some(_) => {
            problems.add(field, "indicators go down to communes, not villages");
            None
        }
        None => {
            problems.add(
                field,
                format!("unknown area {code:?}: use a region, cercle or commune code"),
            );
            None
        }
    }
}

/// An area: `None` for the whole country, else its level and code.
pub type Area = Option<(AreaLevel, String)>;

/// A required period: a quarter like `2018Q4` or a year like `2018`.
pub fn period(period: Option<&pc::Period>, field: &str, problems: &mut Problems) -> Option<Period> {
    match period.map(|p| p.code.as_str()) {
        None | Some("") => {
            problems.add(field, "is required: a quarter like 2018Q4 or a year like 2018");
            None
        }
        Some(code) => problems.check(
            format!("{field}.code"),
            code.parse::<Period>().map_err(|e| e.to_string()),
        ),
    }
}

/// An optional region (`None`: every region).
fn region(text: &str, problems: &mut Problems) -> Option<Region> {
    if text.is_empty() {
        return None;
    }
    let region = text.parse::<Region>().ok();
    if region.is_none() {
        problems.add("region", format!("unknown region {text:?}"));
    }
    region
}

/// `GetIndicators`: the area (`None`: the country), the period and a
/// breakdown finer than the area.
pub fn indicators_query(
    geography: &Geography,
    request: &pm::GetIndicatorsRequest,
) -> Result<(Area, Period, Option<AreaLevel>), Vec<FieldError>> {
    let mut problems = Problems::new();
    let breakdown = match pm::Breakdown::try_from(request.breakdown) {
        Ok(pm::Breakdown::Unspecified) => None,
        Ok(pm::Breakdown::Region) => Some(AreaLevel::Region),
        Ok(pm::Breakdown::Cercle) => Some(AreaLevel::Cercle),
        Ok(pm::Breakdown::Commune) => Some(AreaLevel::Commune),
        Err(_) => {
            problems.add("breakdown", format!("has unknown value {}", request.breakdown));
            return Err(problems.into_errors());
        }
    };
    let period = period(request.period.as_ref(), "period", &mut problems);
    let area = area(geography, "area", &request.area, &mut problems);
    if let (Some((level, _)), Some(breakdown)) = (&area, breakdown)
        && breakdown <= *level
    {
        problems.add("breakdown", "must be finer than the area (e.g. communes of a cercle)");
    }
    problems.into_result(|| (area, period.expect("checked"), breakdown))
}

/// `ListCycleIndicators`, `ListRoundIndicators`: a region and a period, each
/// optional.
pub fn region_and_period(
    region_code: &str,
    period_code: Option<&pc::Period>,
) -> Result<(Option<Region>, Option<Period>), Vec<FieldError>> {
    let mut problems = Problems::new();
    let region = region(region_code, &mut problems);
    let period = period_code.map(|p| period(Some(p), "period", &mut problems));
    problems.into_result(|| (region, period.flatten()))
}

/// `ExportDataValueSet`, `ExportCsv`: the area (`None`: the country) and the period.
pub fn export_query(
    geography: &Geography,
    area_code: &str,
    period_code: Option<&pc::Period>,
) -> Result<(Area, Period), Vec<FieldError>> {
    let mut problems = Problems::new();
    let period = period(period_code, "period", &mut problems);
    let root = area(geography, "area", area_code, &mut problems);
    problems.into_result(|| (root, period.expect("checked")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(problems: Problems) -> Vec<String> {
        problems.into_errors().into_iter().map(|e| e.field).collect()
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

    #[test]
    fn funding_sources_read_as_the_api_writes_them() {
        for value in 1..=4 {
            let source = funding_source(value).expect("a funder");
            assert_eq!(super::super::convert::funding_source(source) as i32, value);
        }
        assert_eq!(funding_source(0), None, "unspecified");
        assert_eq!(funding_source(5), None, "unknown");
    }
}
