//! Recording disbursement results.

use std::collections::{BTreeMap, HashSet};

use jigi_storage::sql::{self, Placeholders};
use jigi_storage::{Conn, StorageError, ToSql};

use crate::domain::model::EntitlementStatus;
use crate::domain::results::{Outcome, Report};

/// Rows per multi-row `INSERT`: statements of a few fixed sizes, each
/// prepared once.
const ROWS_PER_INSERT: usize = 100;

/// Households per `UPDATE … IN (…)`.
const HOUSEHOLDS_PER_UPDATE: usize = 500;

/// The receipt references among `receipts` (agent, reference) already used
/// in a cycle.
pub fn used_receipts(
    conn: &mut Conn,
    cycle_id: &str,
    receipts: &[(&str, &str)],
) -> Result<HashSet<(String, String)>, StorageError> {
    // Asked agent by agent, so the lookup follows the unique index (cycle,
    // agent, receipt) instead of scanning every payment of the cycle.
    let mut by_agent: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (agent, reference) in receipts {
        by_agent.entry(agent).or_default().push(reference);
    }
    let mut used = HashSet::new();
    for (agent, references) in by_agent {
        for chunk in references.chunks(sql::MAX_BINDS - 2) {
            let mut placeholders = Placeholders::for_connection(conn);
            let statement = format!(
                "SELECT agent_code, receipt_reference FROM payments \
                 WHERE cycle_id = {} AND agent_code = {} AND receipt_reference IN ({})",
                placeholders.one(),
                placeholders.one(),
                placeholders.list(chunk.len())
            );
            let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() + 2);
            values.extend([&cycle_id as &dyn ToSql, &agent]);
            values.extend(chunk.iter().map(|reference| reference as &dyn ToSql));
            conn.query_each(&statement, &values, |row| {
                used.insert((row.get(0)?, row.get(1)?));
                Ok(())
            })?;
        }
    }
    Ok(used)
}

const PAYMENT_COLUMNS: usize = 8;
const ATTEMPT_COLUMNS: usize = 8;

/// A report's columns as stored values, borrowed for one statement.
struct ReportRow<'a> {
    household_id: &'a str,
    agent: &'a str,
    amount: Option<i64>,
    receipt: Option<&'a str>,
    status: &'static str,
    reason: Option<&'static str>,
    date: String,
}

impl<'a> ReportRow<'a> {
    fn new(report: &'a Report) -> ReportRow<'a> {
        let (amount, receipt, reason) = match &report.outcome {
            Outcome::Paid { amount, receipt } => (Some(amount.francs()), Some(receipt.as_str()), None),
            Outcome::Failed(reason) => (None, None, Some(reason.code())),
            Outcome::NotCollected => (None, None, None),
        };
        ReportRow {
            household_id: report.household_id.as_str(),
            agent: report.agent.as_str(),
            amount,
            receipt,
            status: report.outcome.status().code(),
            reason,
            date: report.date.to_string(),
        }
    }
}

/// Stores accepted reports: a `payments` row per payment, a
/// `payment_attempts` row per failure or non-collection, and the new status
/// of each entitlement.
pub fn record(
    conn: &mut Conn,
    cycle_id: &str,
    reports: &[&Report],
    request_id: &str,
    recorded_at: &str,
) -> Result<(), StorageError> {
    let rows: Vec<ReportRow<'_>> = reports.iter().map(|report| ReportRow::new(report)).collect();
    let (paid, attempts): (Vec<&ReportRow<'_>>, Vec<&ReportRow<'_>>) =
        rows.iter().partition(|row| row.receipt.is_some());
    for chunk in paid.chunks(ROWS_PER_INSERT) {
        let statement = format!(
            "INSERT INTO payments (cycle_id, household_id, amount, paid_on, agent_code, receipt_reference, \
             request_id, recorded_at) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), PAYMENT_COLUMNS)
        );
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * PAYMENT_COLUMNS);
        for row in chunk {
            values.extend([
                &cycle_id as &dyn ToSql,
                &row.household_id,
                &row.amount,
                &row.date,
                &row.agent,
                &row.receipt,
                &request_id,
                &recorded_at,
            ]);
        }
        conn.pipeline(&statement, &values)?;
    }
    for chunk in attempts.chunks(ROWS_PER_INSERT) {
        let statement = format!(
            "INSERT INTO payment_attempts (cycle_id, household_id, outcome, failure_reason, attempted_on, \
             agent_code, request_id, recorded_at) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), ATTEMPT_COLUMNS)
        );
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * ATTEMPT_COLUMNS);
        for row in chunk {
            values.extend([
                &cycle_id as &dyn ToSql,
                &row.household_id,
                &row.status,
                &row.reason,
                &row.date,
                &row.agent,
                &request_id,
                &recorded_at,
            ]);
        }
        conn.pipeline(&statement, &values)?;
    }
    // One UPDATE per (status, date, reason): a batch from the field
    // usually holds a handful of these, whatever its size.
    let mut groups: BTreeMap<(EntitlementStatus, &str, Option<&str>), Vec<&str>> = BTreeMap::new();
    for (report, row) in reports.iter().zip(&rows) {
        groups
            .entry((report.outcome.status(), row.date.as_str(), row.reason))
            .or_default()
            .push(report.household_id.as_str());
    }
    for ((status, date, reason), households) in groups {
        for chunk in households.chunks(HOUSEHOLDS_PER_UPDATE) {
            let mut p = Placeholders::for_connection(conn);
            let statement = format!(
                "UPDATE entitlements SET status = {}, result_date = {}, failure_reason = {} \
                 WHERE cycle_id = {} AND household_id IN ({})",
                p.one(),
                p.one(),
                p.one(),
                p.one(),
                p.list(chunk.len())
            );
            let status = status.code();
            let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() + 4);
            values.extend([&status as &dyn ToSql, &date, &reason, &cycle_id]);
            values.extend(chunk.iter().map(|household| household as &dyn ToSql));
            conn.pipeline(&statement, &values)?;
        }
    }
    Ok(())
}
