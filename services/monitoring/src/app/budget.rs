//! The PTBA: budget lines, expenditure entries, and their execution.

use jigi_server::CommandError;
use jigi_storage::Conn;
use jigi_storage::idempotency::{self, RequestKey};

use super::{Fresh, Monitoring};
use crate::domain::budget::{BudgetLine, Expenditure, FundingSource};
use crate::storage::budget as store;

/// A budget line's execution.
#[derive(Debug, Clone, PartialEq)]
pub struct LineExecution {
    pub line: BudgetLine,
    pub achieved: i64,
}

impl Monitoring {
    /// Creates or replaces a budget line.
    pub async fn set_budget_line(&self, line: BudgetLine) -> Result<BudgetLine, CommandError> {
        self.db
            .write(move |conn| {
                store::set_line(conn, &line)?;
                Ok::<_, CommandError>(line)
            })
            .await
    }

    /// Records an expenditure once per request: a retry of the same request
    /// (same ID, same content) gets the first answer, the ID of the entry,
    /// which is the request's ID.
    pub async fn record_expenditure(&self, key: RequestKey, expenditure: Expenditure) -> Result<String, CommandError> {
        self.db
            .write(move |conn| idempotency::once(conn, &key, |conn| record_expenditure_in(conn, &key, &expenditure)))
            .await
    }

    /// A year's lines with what was achieved against each. Achievements
    /// without a line (paid from a source nobody planned) get a line with a
    /// zero forecast, so nothing achieved is hidden.
    pub async fn budget_execution(
        &self,
        year: i32,
        only: Option<String>,
    ) -> Result<Fresh<Vec<LineExecution>>, CommandError> {
        let this = self.clone();
        let read = self
            .db
            .read(move |conn| {
                let read = (
                    store::lines(conn, year, only.as_deref())?,
                    store::achieved(conn, year, only.as_deref())?,
                );
                this.fresh(conn, read)
            })
            .await?;
        let Fresh {
            value: (lines, mut achieved),
            freshness,
            as_of,
        } = read;
        let mut execution: Vec<LineExecution> = lines
            .into_iter()
            .map(|line| {
                let done = achieved
                    .remove(&(line.component, store::source_number(line.funding_source) as i32))
                    .unwrap_or(0);
                LineExecution { line, achieved: done }
            })
            .collect();
        for ((component, source), amount) in achieved {
            execution.push(LineExecution {
                line: BudgetLine {
                    year,
                    region: String::new(),
                    component,
                    funding_source: store::source_from_number(i64::from(source)).unwrap_or(FundingSource::Other),
                    forecast_fcfa: 0,
                },
                achieved: amount,
            });
        }
        execution.sort_by_key(|e| (e.line.component, e.line.funding_source));
        Ok(Fresh {
            value: execution,
            freshness,
            as_of,
        })
    }
}

/// Stores the entry under the request's ID, which is its answer.
fn record_expenditure_in(conn: &mut Conn, key: &RequestKey, expenditure: &Expenditure) -> Result<String, CommandError> {
    let id = key.request_id.as_str();
    store::record_expenditure(conn, id, expenditure)?;
    Ok(id.to_owned())
}
