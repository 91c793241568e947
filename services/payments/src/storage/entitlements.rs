//! The frozen lists: freezing, reading a page, counting for reconciliation.

use std::collections::HashMap;

use jigi_common::{Fcfa, Period};
use jigi_storage::sql::{self, Placeholders};
use jigi_storage::{Conn, Owned, Row, StorageError, ToSql, params};

use super::cycles::decode_error;
use super::holds::{self, NOT_HELD};
use crate::domain::model::{EntitlementStatus, FailureReason, Place, Totals};
use crate::domain::reconcile::StatusCount;
use crate::domain::results::Entitled;

/// The households of the projection a cycle covers: enrolled now, in the
/// cycle's communes (all when it lists none). `$1` is the cycle ID.
const IN_SCOPE: &str = "h.enrolled = 1 AND (NOT EXISTS (SELECT 1 FROM cycle_communes s WHERE s.cycle_id = $1) \
     OR h.commune IN (SELECT s.commune FROM cycle_communes s WHERE s.cycle_id = $1))";

/// …and not listed by another live cycle of the same kind and quarter
/// (`$2`): a household gets one quarter's transfer (or wages, or grant
/// tranche), whoever funds it; a TM household may also earn HIMO wages.
pub(crate) const NOT_IN_OTHER_CYCLE: &str = "NOT EXISTS (SELECT 1 FROM entitlements o JOIN payment_cycles c \
     ON c.cycle_id = o.cycle_id WHERE o.household_id = h.household_id AND c.period = $2 \
     AND c.status <> 'cancelled' AND c.cycle_id <> $1 \
     AND c.kind = (SELECT k.kind FROM payment_cycles k WHERE k.cycle_id = $1))";

/// Copies the households the cycle covers into its entitlements, in one
/// statement, leaving out those held for a suspected duplicate (recorded
/// with the reason, [`holds::record_cycle_holds`]), and records the totals
/// per commune. Returns how many households were in scope but left out as
/// listed by another cycle, and those held.
pub fn freeze(
    conn: &mut Conn,
    cycle_id: &str,
    period: Period,
    amount: Fcfa,
) -> Result<(i64, Vec<holds::Held>), StorageError> {
    // A household that moved here is in scope from the quarter after the
    // last its origin paid.
    let in_scope_sql = format!("{IN_SCOPE} AND {}", super::transfers::PAYABLE_IN_CYCLE);
    let in_scope: i64 = conn.query_scalar(
        &format!("SELECT COUNT(*) FROM tm_households h WHERE {in_scope_sql}"),
        params![cycle_id],
    )?;
    let inserted = conn.execute(
        &format!(
            "INSERT INTO entitlements (cycle_id, household_id, region, cercle, commune, village, amount, status) \
             SELECT $1, h.household_id, h.region, h.cercle, h.commune, h.village, $3, 'pending' \
             FROM tm_households h WHERE {in_scope_sql} AND {NOT_IN_OTHER_CYCLE} AND {NOT_HELD}"
        ),
        params![cycle_id, period.to_string(), amount.francs()],
    )?;
    conn.pipeline(
        "INSERT INTO cycle_commune_totals (cycle_id, region, cercle, commune, households, amount) \
         SELECT cycle_id, MIN(region), MIN(cercle), commune, COUNT(*), CAST(SUM(amount) AS BIGINT) \
         FROM entitlements WHERE cycle_id = $1 GROUP BY cycle_id, commune",
        params![cycle_id],
    )?;
    let held = holds::record_cycle_holds(
        conn,
        cycle_id,
        &period.to_string(),
        &format!("{in_scope_sql} AND {NOT_IN_OTHER_CYCLE}"),
    )?;
    Ok((
        in_scope - i64::try_from(inserted).unwrap_or(i64::MAX) - held.len() as i64,
        held,
    ))
}

/// The entitlements of the given households in a cycle.
pub fn entitled(
    conn: &mut Conn,
    cycle_id: &str,
    households: &[&str],
) -> Result<HashMap<String, Entitled>, StorageError> {
    let mut found = HashMap::with_capacity(households.len());
    for chunk in households.chunks(sql::MAX_BINDS - 1) {
        let mut placeholders = Placeholders::for_connection(conn);
        let statement = format!(
            "SELECT household_id, region, cercle, commune, village, amount, status FROM entitlements \
             WHERE cycle_id = {} AND household_id IN ({})",
            placeholders.one(),
            placeholders.list(chunk.len())
        );
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() + 1);
        values.push(&cycle_id);
        values.extend(chunk.iter().map(|household| household as &dyn ToSql));
        conn.query_each(&statement, &values, |row| {
            found.insert(
                row.get("household_id")?,
                Entitled {
                    place: place(row)?,
                    amount: Fcfa::new(row.get("amount")?),
                    status: status(row)?,
                },
            );
            Ok(())
        })?;
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
pub fn entitlement_page(
    conn: &mut Conn,
    cycle_id: &str,
    filter: &EntitlementFilter,
    after: Option<(&str, &str)>,
    limit: usize,
) -> Result<Vec<EntitlementRow>, StorageError> {
    let mut values: Vec<Owned> = Vec::new();
    let mut bind = |value: &str| {
        values.push(Owned::Text(value.to_owned()));
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
    values.push(Owned::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
    let params: Vec<&dyn ToSql> = values.iter().map(|value| value as &dyn ToSql).collect();
    let mut rows = Vec::with_capacity(limit.min(10_000));
    conn.query_each(&statement, &params, |row| {
        rows.push(entitlement_row(row)?);
        Ok(())
    })?;
    Ok(rows)
}

fn place(row: &Row) -> Result<Place, StorageError> {
    Ok(Place {
        region: row.get("region")?,
        cercle: row.get("cercle")?,
        commune: row.get("commune")?,
        village: row.get("village")?,
    })
}

fn status(row: &Row) -> Result<EntitlementStatus, StorageError> {
    let status: String = row.get("status")?;
    EntitlementStatus::from_code(&status).ok_or_else(|| decode_error("entitlement status", &status))
}

fn entitlement_row(row: &Row) -> Result<EntitlementRow, StorageError> {
    let reason: Option<String> = row.get("failure_reason")?;
    Ok(EntitlementRow {
        household_id: row.get("household_id")?,
        place: place(row)?,
        amount: Fcfa::new(row.get("amount")?),
        status: status(row)?,
        result_date: row.get("result_date")?,
        failure_reason: reason.as_deref().and_then(FailureReason::from_code),
        receipt_reference: row.get("receipt_reference")?,
    })
}

/// Counts and amounts per commune and status (one pass over the cycle's rows).
pub fn count_by_commune_and_status(conn: &mut Conn, cycle_id: &str) -> Result<Vec<StatusCount>, StorageError> {
    let mut counts = Vec::new();
    conn.query_each(
        "SELECT MIN(region), MIN(cercle), commune, status, COUNT(*), CAST(SUM(amount) AS BIGINT) \
         FROM entitlements WHERE cycle_id = $1 GROUP BY commune, status ORDER BY commune, status",
        params![cycle_id],
        |row| {
            let status: String = row.get(3)?;
            counts.push(StatusCount {
                status: EntitlementStatus::from_code(&status)
                    .ok_or_else(|| decode_error("entitlement status", &status))?,
                place: Place {
                    region: row.get(0)?,
                    cercle: row.get(1)?,
                    commune: row.get(2)?,
                    village: String::new(),
                },
                totals: Totals::new(row.get(4)?, row.get(5)?),
            });
            Ok(())
        },
    )?;
    Ok(counts)
}
