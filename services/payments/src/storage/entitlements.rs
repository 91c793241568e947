//! The frozen lists: freezing, reading a page, counting for reconciliation.

use std::collections::HashMap;

use jigi_common::{Fcfa, Period};
use jigi_storage::Row;
use jigi_storage::sql::{self, Placeholders};
use sqlx::{AnyConnection, AssertSqlSafe, Row as _};

use crate::domain::model::{EntitlementStatus, FailureReason, Place, Totals};
use crate::domain::reconcile::StatusCount;
use crate::domain::results::Entitled;

/// The households of the projection a cycle covers: enrolled now, in the
/// cycle's communes (all when it lists none). `$1` is the cycle ID.
const IN_SCOPE: &str = "h.enrolled = 1 AND (NOT EXISTS (SELECT 1 FROM cycle_communes s WHERE s.cycle_id = $1) \
     OR h.commune IN (SELECT s.commune FROM cycle_communes s WHERE s.cycle_id = $1))";

/// …and not listed by another live cycle of the same quarter (`$2`): a
/// household gets one quarter's transfer, whoever funds it.
const NOT_IN_OTHER_CYCLE: &str = "NOT EXISTS (SELECT 1 FROM entitlements o JOIN payment_cycles c \
     ON c.cycle_id = o.cycle_id WHERE o.household_id = h.household_id AND c.period = $2 \
     AND c.status <> 'cancelled' AND c.cycle_id <> $1)";

/// Copies the households the cycle covers into its entitlements, in one
/// statement, and records the totals per commune. Returns how many
/// households were in scope but left out as listed by another cycle.
pub async fn freeze(
    conn: &mut AnyConnection,
    cycle_id: &str,
    period: Period,
    amount: Fcfa,
) -> Result<i64, sqlx::Error> {
    let in_scope: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM tm_households h WHERE {IN_SCOPE}"
    )))
    .bind(cycle_id.to_owned())
    .fetch_one(&mut *conn)
    .await?;
    let inserted = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO entitlements (cycle_id, household_id, region, cercle, commune, village, amount, status) \
         SELECT $1, h.household_id, h.region, h.cercle, h.commune, h.village, $3, 'pending' \
         FROM tm_households h WHERE {IN_SCOPE} AND {NOT_IN_OTHER_CYCLE}"
    )))
    .bind(cycle_id.to_owned())
    .bind(period.to_string())
    .bind(amount.francs())
    .execute(&mut *conn)
    .await?
    .rows_affected() as i64;
    sqlx::query(
        "INSERT INTO cycle_commune_totals (cycle_id, region, cercle, commune, households, amount) \
         SELECT cycle_id, MIN(region), MIN(cercle), commune, COUNT(*), CAST(SUM(amount) AS BIGINT) \
         FROM entitlements WHERE cycle_id = $1 GROUP BY cycle_id, commune",
    )
    .bind(cycle_id.to_owned())
    .execute(&mut *conn)
    .await?;
    Ok(in_scope - inserted)
}

/// The entitlements of the given households in a cycle.
pub async fn entitled(
    conn: &mut AnyConnection,
    cycle_id: &str,
    households: &[&str],
) -> Result<HashMap<String, Entitled>, sqlx::Error> {
    let mut found = HashMap::with_capacity(households.len());
    for chunk in households.chunks(sql::MAX_BINDS - 1) {
        let mut placeholders = Placeholders::for_connection(conn);
        let statement = format!(
            "SELECT household_id, region, cercle, commune, village, amount, status FROM entitlements \
             WHERE cycle_id = {} AND household_id IN ({})",
            placeholders.one(),
            placeholders.list(chunk.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(statement)).bind(cycle_id);
        for household in chunk {
            query = query.bind(*household);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let status: String = row.try_get("status")?;
            let status = EntitlementStatus::from_code(&status)
                .ok_or_else(|| sqlx::Error::Decode(format!("bad stored entitlement status {status:?}").into()))?;
            found.insert(
                row.try_get("household_id")?,
                Entitled {
                    place: place(&row)?,
                    amount: Fcfa::new(row.try_get("amount")?),
                    status,
                },
            );
        }
    }
    Ok(found)
}

/// One entitlement as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntitlementRow {
    pub household_id: String,
    pub place: Place,
    pub amount: Fcfa,
    pub status: EntitlementStatus,
    pub result_date: Option<String>,
    pub failure_reason: Option<FailureReason>,
    pub receipt_reference: Option<String>,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct EntitlementFilter {
    /// Only these communes (an agent's); `None` for all.
    pub communes: Option<Vec<String>>,
    pub status: Option<EntitlementStatus>,
    /// Only households not paid.
    pub unpaid_only: bool,
}

/// A page of a cycle's entitlements in (commune, household) order, after
/// the position `after`.
pub async fn entitlement_page(
    conn: &mut AnyConnection,
    cycle_id: &str,
    filter: &EntitlementFilter,
    after: Option<(&str, &str)>,
    limit: usize,
) -> Result<Vec<EntitlementRow>, sqlx::Error> {
    let mut values: Vec<sql::Value> = Vec::new();
    let mut bind = |value: &str| {
        values.push(sql::Value::Text(value.to_owned()));
        format!("${}", values.len())
    };
    let mut clauses = vec![format!("e.cycle_id = {}", bind(cycle_id))];
    if let Some(communes) = &filter.communes {
        if communes.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = communes.iter().map(|c| bind(c)).collect();
        clauses.push(format!("e.commune IN ({})", list.join(", ")));
    }
    if let Some(status) = filter.status {
        clauses.push(format!("e.status = {}", bind(status.code())));
    }
    if filter.unpaid_only {
        clauses.push("e.status <> 'paid'".to_owned());
    }
    if let Some((commune, household)) = after {
        let (c, h) = (bind(commune), bind(household));
        clauses.push(format!(
            "(e.commune > {c} OR (e.commune = {c} AND e.household_id > {h}))"
        ));
    }
    let statement = format!(
        "SELECT e.household_id, e.region, e.cercle, e.commune, e.village, e.amount, e.status, e.result_date, \
         e.failure_reason, p.receipt_reference FROM entitlements e LEFT JOIN payments p \
         ON p.cycle_id = e.cycle_id AND p.household_id = e.household_id WHERE {} \
         ORDER BY e.commune, e.household_id LIMIT ${}",
        clauses.join(" AND "),
        values.len() + 1
    );
    let rows = sql::bind_values(sqlx::query(AssertSqlSafe(statement)), &values)
        .bind(limit as i64)
        .fetch_all(conn)
        .await?;
    rows.iter().map(entitlement_row).collect()
}

fn place(row: &Row) -> Result<Place, sqlx::Error> {
    Ok(Place {
        region: row.try_get("region")?,
        cercle: row.try_get("cercle")?,
        commune: row.try_get("commune")?,
        village: row.try_get("village")?,
    })
}

fn entitlement_row(row: &Row) -> Result<EntitlementRow, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let reason: Option<String> = row.try_get("failure_reason")?;
    Ok(EntitlementRow {
        household_id: row.try_get("household_id")?,
        place: place(row)?,
        amount: Fcfa::new(row.try_get("amount")?),
        status: EntitlementStatus::from_code(&status)
            .ok_or_else(|| sqlx::Error::Decode(format!("bad stored entitlement status {status:?}").into()))?,
        result_date: row.try_get("result_date")?,
        failure_reason: reason.as_deref().and_then(FailureReason::from_code),
        receipt_reference: row.try_get("receipt_reference")?,
    })
}

/// Counts and amounts per commune and status (one pass over the cycle's rows).
pub async fn count_by_commune_and_status(
    conn: &mut AnyConnection,
    cycle_id: &str,
) -> Result<Vec<StatusCount>, sqlx::Error> {
    let rows: Vec<(String, String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT MIN(region), MIN(cercle), commune, status, COUNT(*), CAST(SUM(amount) AS BIGINT) \
         FROM entitlements WHERE cycle_id = $1 GROUP BY commune, status ORDER BY commune, status",
    )
    .bind(cycle_id.to_owned())
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(region, cercle, commune, status, count, amount)| {
            Ok(StatusCount {
                status: EntitlementStatus::from_code(&status)
                    .ok_or_else(|| sqlx::Error::Decode(format!("bad stored entitlement status {status:?}").into()))?,
                place: Place {
                    region,
                    cercle,
                    commune,
                    village: String::new(),
                },
                totals: Totals::new(count, amount),
            })
        })
        .collect()
}
