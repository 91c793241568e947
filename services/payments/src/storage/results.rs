//! Recording disbursement results.

use std::collections::{BTreeMap, HashSet};

use jigi_storage::sql::{self, Placeholders};
use sqlx::{AnyConnection, AssertSqlSafe};

use crate::domain::model::EntitlementStatus;
use crate::domain::results::{Outcome, Report};

/// The receipt references among `receipts` (agent, reference) already used
/// in a cycle.
pub async fn used_receipts(
    conn: &mut AnyConnection,
    cycle_id: &str,
    receipts: &[(&str, &str)],
) -> Result<HashSet<(String, String)>, sqlx::Error> {
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
            let mut query = sqlx::query_as::<_, (String, String)>(AssertSqlSafe(statement))
                .bind(cycle_id)
                .bind(agent);
            for reference in chunk {
                query = query.bind(*reference);
            }
            used.extend(query.fetch_all(&mut *conn).await?);
        }
    }
    Ok(used)
}

const PAYMENT_COLUMNS: usize = 8;
const ATTEMPT_COLUMNS: usize = 8;

/// Stores accepted reports: a `payments` row per payment, a
/// `payment_attempts` row per failure or non-collection, and the new status
/// of each entitlement.
pub async fn record(
    conn: &mut AnyConnection,
    cycle_id: &str,
    reports: &[&Report],
    request_id: &str,
    recorded_at: &str,
) -> Result<(), sqlx::Error> {
    let paid: Vec<&&Report> = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Paid { .. }))
        .collect();
    for chunk in paid.chunks(sql::rows_per_statement(PAYMENT_COLUMNS)) {
        let statement = format!(
            "INSERT INTO payments (cycle_id, household_id, amount, paid_on, agent_code, receipt_reference, \
             request_id, recorded_at) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), PAYMENT_COLUMNS)
        );
        let mut query = sqlx::query(AssertSqlSafe(statement));
        for report in chunk {
            let Outcome::Paid { amount, receipt } = &report.outcome else {
                unreachable!("filtered on payments")
            };
            query = query
                .bind(cycle_id)
                .bind(report.household_id.as_str())
                .bind(amount.francs())
                .bind(report.date.to_string())
                .bind(report.agent.as_str())
                .bind(receipt.as_str())
                .bind(request_id)
                .bind(recorded_at);
        }
        query.execute(&mut *conn).await?;
    }
    let attempts: Vec<&&Report> = reports
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Paid { .. }))
        .collect();
    for chunk in attempts.chunks(sql::rows_per_statement(ATTEMPT_COLUMNS)) {
        let statement = format!(
            "INSERT INTO payment_attempts (cycle_id, household_id, outcome, failure_reason, attempted_on, \
             agent_code, request_id, recorded_at) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), ATTEMPT_COLUMNS)
        );
        let mut query = sqlx::query(AssertSqlSafe(statement));
        for report in chunk {
            let reason = match &report.outcome {
                Outcome::Failed(reason) => Some(reason.code()),
                _ => None,
            };
            query = query
                .bind(cycle_id)
                .bind(report.household_id.as_str())
                .bind(report.outcome.status().code())
                .bind(reason)
                .bind(report.date.to_string())
                .bind(report.agent.as_str())
                .bind(request_id)
                .bind(recorded_at);
        }
        query.execute(&mut *conn).await?;
    }
    // One UPDATE per (status, date, reason): a batch from the field
    // usually holds a handful of these, whatever its size.
    let mut groups: BTreeMap<(EntitlementStatus, String, Option<&str>), Vec<&str>> = BTreeMap::new();
    for report in reports {
        let reason = match &report.outcome {
            Outcome::Failed(reason) => Some(reason.code()),
            _ => None,
        };
        groups
            .entry((report.outcome.status(), report.date.to_string(), reason))
            .or_default()
            .push(report.household_id.as_str());
    }
    for ((status, date, reason), households) in groups {
        for chunk in households.chunks(sql::MAX_BINDS - 4) {
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
            let mut query = sqlx::query(AssertSqlSafe(statement))
                .bind(status.code())
                .bind(date.clone())
                .bind(reason)
                .bind(cycle_id);
            for household in chunk {
                query = query.bind(*household);
            }
            query.execute(&mut *conn).await?;
        }
    }
    Ok(())
}
