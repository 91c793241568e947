//! What the activities service says is owed: AGR grant tranches and HIMO
//! wages, learnt from its events, and frozen into the cycles of their kind.

use jigi_common::{Fcfa, Period};
use jigi_storage::sql::Filter;
use jigi_storage::{Conn, Owned, StorageError, params};

use super::entitlements::NOT_IN_OTHER_CYCLE;
use crate::domain::model::{CycleKind, Place};
use crate::domain::projection::Tracked;

/// One amount owed to a household in a quarter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityEntitlement {
    pub kind: CycleKind,
    pub period: Period,
    pub household_id: String,
    /// The tranche ID or the site code: where the amount comes from.
    pub reference: String,
    pub place: Place,
    pub amount: Fcfa,
}

/// Records an amount owed. A household has one amount per kind and
/// quarter (one AGR tranche a quarter: the next waits for a visit three
/// months on; one HIMO worker, on one site): a second event for the same
/// is a redelivery and changes nothing.
pub fn record_activity_entitlement(conn: &mut Conn, owed: &ActivityEntitlement) -> Result<(), StorageError> {
    conn.pipeline(
        "INSERT INTO activity_entitlements \
         (kind, period, household_id, reference, region, cercle, commune, village, amount) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (kind, period, household_id) DO NOTHING",
        params![
            owed.kind.code(),
            owed.period.to_string(),
            owed.household_id,
            owed.reference,
            owed.place.region,
            owed.place.cercle,
            owed.place.commune,
            owed.place.village,
            owed.amount.francs()
        ],
    )?;
    Ok(())
}

/// Copies the amounts owed of the cycle's kind and quarter, in its
/// communes, into its entitlements, in one statement, and records the
/// totals per commune. Returns how many were left out as listed by another
/// live cycle of the same kind and quarter.
pub fn freeze_activities(
    conn: &mut Conn,
    cycle_id: &str,
    period: Period,
    kind: CycleKind,
) -> Result<i64, StorageError> {
    const SCOPE: &str = "h.kind = $3 AND h.period = $2 AND (NOT EXISTS (SELECT 1 FROM cycle_communes s \
        WHERE s.cycle_id = $1) OR h.commune IN (SELECT s.commune FROM cycle_communes s WHERE s.cycle_id = $1))";
    let period = period.to_string();
    let in_scope: i64 = conn.query_scalar(
        &format!("SELECT COUNT(*) FROM activity_entitlements h WHERE {SCOPE}"),
        params![cycle_id, period, kind.code()],
    )?;
    let inserted = conn.execute(
        &format!(
            "INSERT INTO entitlements (cycle_id, household_id, region, cercle, commune, village, amount, status) \
             SELECT $1, h.household_id, h.region, h.cercle, h.commune, h.village, h.amount, 'pending' \
             FROM activity_entitlements h WHERE {SCOPE} AND {NOT_IN_OTHER_CYCLE}"
        ),
        params![cycle_id, period, kind.code()],
    )?;
    conn.pipeline(
        "INSERT INTO cycle_commune_totals (cycle_id, region, cercle, commune, households, amount) \
         SELECT cycle_id, MIN(region), MIN(cercle), commune, COUNT(*), CAST(SUM(amount) AS BIGINT) \
         FROM entitlements WHERE cycle_id = $1 GROUP BY cycle_id, commune",
        params![cycle_id],
    )?;
    Ok(in_scope - i64::try_from(inserted).unwrap_or(i64::MAX))
}

fn owed_filter(kind: CycleKind, period: Period, commune: Option<&str>) -> Filter {
    let mut filter = Filter::new();
    filter.add("kind = {}", kind.code());
    filter.add("period = {}", period.to_string());
    if let Some(commune) = commune {
        filter.add("commune = {}", commune);
    }
    filter
}

/// A page of the households owed something of `kind` in `period`, by ID,
/// as the TM list shows its households (the quarter as their date).
pub fn owed_page(
    conn: &mut Conn,
    kind: CycleKind,
    period: Period,
    commune: Option<&str>,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Tracked>, StorageError> {
    let mut filter = owed_filter(kind, period, commune);
    if let Some(after) = after {
        filter.add("household_id > {}", after);
    }
    let statement = format!(
        "SELECT household_id, region, cercle, commune, village, period FROM activity_entitlements{} \
         ORDER BY household_id LIMIT ${}",
        filter.where_sql(),
        filter.next_placeholder()
    );
    let limit = Owned::Int(i64::try_from(limit).unwrap_or(i64::MAX));
    let mut households = Vec::new();
    conn.query_each(&statement, &filter.params(&[&limit]), |row| {
        households.push(Tracked {
            household_id: row.get(0)?,
            place: Place {
                region: row.get(1)?,
                cercle: row.get(2)?,
                commune: row.get(3)?,
                village: row.get(4)?,
            },
            enrolled: true,
            enrolled_on: row.get(5)?,
            exited_on: None,
            status_at: String::new(),
            location_at: String::new(),
        });
        Ok(())
    })?;
    Ok(households)
}

/// How many households are owed something of `kind` in `period`.
pub fn owed_count(
    conn: &mut Conn,
    kind: CycleKind,
    period: Period,
    commune: Option<&str>,
) -> Result<i64, StorageError> {
    let filter = owed_filter(kind, period, commune);
    conn.query_scalar(
        &format!("SELECT COUNT(*) FROM activity_entitlements{}", filter.where_sql()),
        &filter.params(&[]),
    )
}
