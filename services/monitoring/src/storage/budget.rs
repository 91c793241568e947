//! The budget lines, expenditure entries, and what was achieved.

use std::collections::BTreeMap;

use jigi_common::Component;
use jigi_common::date::format_date;
use jigi_storage::{Conn, StorageError, params, timestamp};

use crate::domain::budget::{BudgetLine, Expenditure, FundingSource};

/// A funding source as stored, in lines, expenditures and payment facts:
/// the API's and the payment events' value, as it always was.
pub fn source_number(source: FundingSource) -> i64 {
    match source {
        FundingSource::Unnamed => 0,
        FundingSource::WorldBankIda => 1,
        FundingSource::Dfid => 2,
        FundingSource::StateBudget => 3,
        FundingSource::Other => 4,
    }
}

pub fn source_from_number(number: i64) -> Option<FundingSource> {
    [
        FundingSource::Unnamed,
        FundingSource::WorldBankIda,
        FundingSource::Dfid,
        FundingSource::StateBudget,
        FundingSource::Other,
    ]
    .into_iter()
    .find(|source| source_number(*source) == number)
}

/// Creates or replaces a line.
pub fn set_line(conn: &mut Conn, line: &BudgetLine) -> Result<(), StorageError> {
    conn.pipeline(
        "INSERT INTO budget_lines_by_region (year, component, funding_source, forecast, updated_at, region) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (year, region, component, funding_source) DO UPDATE SET forecast = $4, updated_at = $5",
        params![
            line.year,
            line.component.code(),
            source_number(line.funding_source),
            line.forecast_fcfa,
            timestamp::now(),
            line.region
        ],
    )?;
    Ok(())
}

/// The lines of a year, by component then funding source: of one region,
/// or (`None`) every line summed per component and funder.
pub fn lines(conn: &mut Conn, year: i32, region: Option<&str>) -> Result<Vec<BudgetLine>, StorageError> {
    let mut lines = Vec::new();
    // Without a region every line of a component and funder is summed: the
    // national lines and the regions' own.
    let (statement, only) = match region {
        Some(region) => (
            "SELECT component, funding_source, forecast FROM budget_lines_by_region WHERE year = $1 AND region = $2",
            region,
        ),
        None => (
            "SELECT component, funding_source, CAST(SUM(forecast) AS BIGINT) FROM budget_lines_by_region \
             WHERE year = $1 AND ($2 = '' OR region = $2) GROUP BY component, funding_source",
            "",
        ),
    };
    conn.query_each(statement, params![year, only], |row| {
        let component: String = row.get(0)?;
        let source: i64 = row.get(1)?;
        lines.push(BudgetLine {
            year,
            region: region.unwrap_or_default().to_owned(),
            component: Component::from_code(&component).ok_or_else(|| decode(&component))?,
            funding_source: source_from_number(source).ok_or_else(|| decode(&source.to_string()))?,
            forecast_fcfa: row.get(2)?,
        });
        Ok(())
    })?;
    lines.sort_by_key(|line| (line.component, line.funding_source));
    Ok(lines)
}

pub fn record_expenditure(conn: &mut Conn, id: &str, expenditure: &Expenditure) -> Result<(), StorageError> {
    conn.pipeline(
        "INSERT INTO expenditures (expenditure_id, year, component, funding_source, amount, spent_on, description, \
         recorded_at, region) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        params![
            id,
            expenditure.year,
            expenditure.component.code(),
            source_number(expenditure.funding_source),
            expenditure.amount_fcfa,
            format_date(expenditure.spent_on),
            expenditure.description,
            timestamp::now(),
            expenditure.region
        ],
    )?;
    Ok(())
}

/// Achieved in a year per (component, funding source): payments made, by
/// the component their cycle pays (TM transfers, AGR grants, HIMO wages),
/// plus the expenditure entries (flour purchases, NGO contracts…).
/// Of one region (payments made in it, expenditure recorded for it), or of
/// the whole country (`None`).
pub fn achieved(
    conn: &mut Conn,
    year: i32,
    region: Option<&str>,
) -> Result<BTreeMap<(Component, i32), i64>, StorageError> {
    let (start, end) = (format!("{year}-01-01"), format!("{year}-12-31"));
    // `$4 = ''` is true for every row when no region is asked for.
    let region = region.unwrap_or_default();
    let mut achieved = BTreeMap::new();
    conn.query_each(
        "SELECT component, funding_source, CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM facts_payments \
         WHERE outcome = 'paid' AND occurred_on >= $1 AND occurred_on <= $2 AND ($4 = '' OR region = $4) \
         GROUP BY component, funding_source \
         UNION ALL \
         SELECT component, funding_source, CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM expenditures \
         WHERE year = $3 AND ($4 = '' OR region = $4) GROUP BY component, funding_source",
        params![start, end, year, region],
        |row| {
            let component: String = row.get(0)?;
            let source: i64 = row.get(1)?;
            let amount: i64 = row.get(2)?;
            let component = Component::from_code(&component).ok_or_else(|| decode(&component))?;
            *achieved.entry((component, source as i32)).or_insert(0) += amount;
            Ok(())
        },
    )?;
    Ok(achieved)
}

fn decode(value: &str) -> StorageError {
    StorageError::Decode(format!("unexpected stored value {value:?}"))
}
