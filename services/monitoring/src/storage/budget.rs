//! The budget lines, expenditure entries, and what was achieved.

use std::collections::BTreeMap;

use jigi_common::Component;
use jigi_common::date::format_date;
use jigi_proto::common::FundingSource;
use jigi_storage::{Conn, StorageError, params, timestamp};

use crate::domain::budget::{BudgetLine, Expenditure};

/// Creates or replaces a line.
pub fn set_line(conn: &mut Conn, line: &BudgetLine) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO budget_lines (year, component, funding_source, forecast, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (year, component, funding_source) DO UPDATE SET forecast = $4, updated_at = $5",
        params![
            line.year,
            line.component.code(),
            line.funding_source as i64,
            line.forecast_fcfa,
            timestamp::now()
        ],
    )?;
    Ok(())
}

/// The lines of a year, by component then funding source.
pub fn lines(conn: &mut Conn, year: i32) -> Result<Vec<BudgetLine>, StorageError> {
    let mut lines = Vec::new();
    conn.query_each(
        "SELECT component, funding_source, forecast FROM budget_lines WHERE year = $1",
        params![year],
        |row| {
            let component: String = row.get(0)?;
            let source: i64 = row.get(1)?;
            lines.push(BudgetLine {
                year,
                component: Component::from_code(&component).ok_or_else(|| decode(&component))?,
                funding_source: FundingSource::try_from(source as i32).map_err(|_| decode(&source.to_string()))?,
                forecast_fcfa: row.get(2)?,
            });
            Ok(())
        },
    )?;
    lines.sort_by_key(|line| (line.component, line.funding_source as i32));
    Ok(lines)
}

pub fn record_expenditure(conn: &mut Conn, id: &str, expenditure: &Expenditure) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO expenditures (expenditure_id, year, component, funding_source, amount, spent_on, description, \
         recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        params![
            id,
            expenditure.year,
            expenditure.component.code(),
            expenditure.funding_source as i64,
            expenditure.amount_fcfa,
            format_date(expenditure.spent_on),
            expenditure.description,
            timestamp::now()
        ],
    )?;
    Ok(())
}

/// Achieved in a year per (component, funding source): payments made, by
/// the component their cycle pays (TM transfers, AGR grants, HIMO wages),
/// plus the expenditure entries (flour purchases, NGO contracts…).
pub fn achieved(conn: &mut Conn, year: i32) -> Result<BTreeMap<(Component, i32), i64>, StorageError> {
    let (start, end) = (format!("{year}-01-01"), format!("{year}-12-31"));
    let mut achieved = BTreeMap::new();
    conn.query_each(
        "SELECT component, funding_source, CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM facts_payments \
         WHERE outcome = 'paid' AND occurred_on >= $1 AND occurred_on <= $2 GROUP BY component, funding_source \
         UNION ALL \
         SELECT component, funding_source, CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM expenditures \
         WHERE year = $3 GROUP BY component, funding_source",
        params![start, end, year],
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
