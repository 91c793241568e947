//! The budget lines, expenditure entries, and what was achieved.

use std::collections::BTreeMap;

use jigi_common::Component;
use jigi_common::date::format_date;
use jigi_proto::common::FundingSource;
use jigi_storage::timestamp;
use sqlx::{AnyConnection, Row};

use crate::domain::budget::{BudgetLine, Expenditure};

/// Creates or replaces a line.
pub async fn set_line(conn: &mut AnyConnection, line: &BudgetLine) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO budget_lines (year, component, funding_source, forecast, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (year, component, funding_source) DO UPDATE SET forecast = $4, updated_at = $5",
    )
    .bind(i64::from(line.year))
    .bind(line.component.code())
    .bind(line.funding_source as i64)
    .bind(line.forecast_fcfa)
    .bind(timestamp::now())
    .execute(conn)
    .await?;
    Ok(())
}

/// The lines of a year, by component then funding source.
pub async fn lines(conn: &mut AnyConnection, year: i32) -> Result<Vec<BudgetLine>, sqlx::Error> {
    let rows = sqlx::query("SELECT component, funding_source, forecast FROM budget_lines WHERE year = $1")
        .bind(i64::from(year))
        .fetch_all(conn)
        .await?;
    let mut lines = Vec::with_capacity(rows.len());
    for row in rows {
        let component: String = row.try_get(0)?;
        let source: i64 = row.try_get(1)?;
        lines.push(BudgetLine {
            year,
            component: Component::from_code(&component).ok_or_else(|| decode(&component))?,
            funding_source: FundingSource::try_from(source as i32).map_err(|_| decode(&source.to_string()))?,
            forecast_fcfa: row.try_get(2)?,
        });
    }
    lines.sort_by_key(|line| (line.component, line.funding_source as i32));
    Ok(lines)
}

pub async fn record_expenditure(
    conn: &mut AnyConnection,
    id: &str,
    expenditure: &Expenditure,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO expenditures (expenditure_id, year, component, funding_source, amount, spent_on, description, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id.to_owned())
    .bind(i64::from(expenditure.year))
    .bind(expenditure.component.code())
    .bind(expenditure.funding_source as i64)
    .bind(expenditure.amount_fcfa)
    .bind(format_date(expenditure.spent_on))
    .bind(expenditure.description.clone())
    .bind(timestamp::now())
    .execute(conn)
    .await?;
    Ok(())
}

/// Achieved in a year per (component, funding source): cash transfers paid
/// (TM) plus the expenditure entries.
pub async fn achieved(conn: &mut AnyConnection, year: i32) -> Result<BTreeMap<(Component, i32), i64>, sqlx::Error> {
    let (start, end) = (format!("{year}-01-01"), format!("{year}-12-31"));
    let rows = sqlx::query(
        "SELECT 'TM', funding_source, CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM facts_payments \
         WHERE outcome = 'paid' AND occurred_on >= $1 AND occurred_on <= $2 GROUP BY funding_source \
         UNION ALL \
         SELECT component, funding_source, CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM expenditures \
         WHERE year = $3 GROUP BY component, funding_source",
    )
    .bind(start)
    .bind(end)
    .bind(i64::from(year))
    .fetch_all(conn)
    .await?;
    let mut achieved = BTreeMap::new();
    for row in rows {
        let component: String = row.try_get(0)?;
        let source: i64 = row.try_get(1)?;
        let amount: i64 = row.try_get(2)?;
        let component = Component::from_code(&component).ok_or_else(|| decode(&component))?;
        *achieved.entry((component, source as i32)).or_insert(0) += amount;
    }
    Ok(achieved)
}

fn decode(value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unexpected stored value {value:?}").into())
}
