//! Households held out of payment while the national linkage index
//! suspects them of being registered twice.
//!
//! - `linkage_holds`: the open suspicions about this region's households,
//!   from the index's `duplicate.suspected` messages, removed by its
//!   `duplicate.resolved`;
//! - `cycle_holds`: the households each freeze left out for that reason,
//!   with the reason, for the cycle report and its reconciliation.
//!
//! A component of its own in the migrations, so it evolves apart from the
//! cycle tables.

use jigi_storage::{Conn, Migration, StorageError, params, timestamp};

pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    "payments_linkage",
    1,
    "households held for a suspected duplicate, and the holds of each freeze",
    "
    CREATE TABLE linkage_holds (
        household_id TEXT NOT NULL,
        duplicate_id TEXT NOT NULL,
        other_household_id TEXT NOT NULL,
        other_region TEXT NOT NULL,
        suspected_at TEXT NOT NULL,
        PRIMARY KEY (household_id, duplicate_id)
    );
    CREATE INDEX linkage_holds_duplicate ON linkage_holds (duplicate_id);
    CREATE TABLE cycle_holds (
        cycle_id TEXT NOT NULL,
        household_id TEXT NOT NULL,
        duplicate_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (cycle_id, household_id)
    );
    ",
)];

/// The condition keeping a held household `h` out of a freeze.
pub const NOT_HELD: &str = "NOT EXISTS (SELECT 1 FROM linkage_holds l WHERE l.household_id = h.household_id)";

/// A household held out of a cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub household_id: String,
    pub duplicate_id: String,
    pub reason: String,
}

/// Records an open suspicion about one of the region's households.
pub fn hold(
    conn: &mut Conn,
    household_id: &str,
    duplicate_id: &str,
    other_household_id: &str,
    other_region: &str,
) -> Result<(), StorageError> {
    conn.pipeline(
        "INSERT INTO linkage_holds (household_id, duplicate_id, other_household_id, other_region, suspected_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (household_id, duplicate_id) DO NOTHING",
        params![
            household_id,
            duplicate_id,
            other_household_id,
            other_region,
            timestamp::now().as_str()
        ],
    )?;
    Ok(())
}

/// Lifts the holds of a resolved duplicate.
pub fn release(conn: &mut Conn, duplicate_id: &str) -> Result<(), StorageError> {
    conn.pipeline(
        "DELETE FROM linkage_holds WHERE duplicate_id = $1",
        params![duplicate_id],
    )?;
    Ok(())
}

/// At a freeze: records, with the reason, the households the cycle would
/// list but holds. `in_scope` is the freeze's condition on `h` (`$1`: the
/// cycle, `$2`: its quarter).
pub fn record_cycle_holds(
    conn: &mut Conn,
    cycle_id: &str,
    period: &str,
    in_scope: &str,
) -> Result<Vec<Held>, StorageError> {
    conn.pipeline(
        &format!(
            "INSERT INTO cycle_holds (cycle_id, household_id, duplicate_id, reason) \
             SELECT $1, h.household_id, MIN(l.duplicate_id), \
             'suspected duplicate: also registered as household ' || MIN(l.other_household_id) || ' in ' || MIN(l.other_region) \
             FROM tm_households h JOIN linkage_holds l ON l.household_id = h.household_id \
             WHERE {in_scope} GROUP BY h.household_id"
        ),
        params![cycle_id, period],
    )?;
    cycle_holds(conn, cycle_id)
}

/// The households a cycle's freeze held, with the reason.
pub fn cycle_holds(conn: &mut Conn, cycle_id: &str) -> Result<Vec<Held>, StorageError> {
    conn.query(
        "SELECT household_id, duplicate_id, reason FROM cycle_holds WHERE cycle_id = $1 ORDER BY household_id",
        params![cycle_id],
    )?
    .iter()
    .map(|row| {
        Ok(Held {
            household_id: row.get(0)?,
            duplicate_id: row.get(1)?,
            reason: row.get(2)?,
        })
    })
    .collect()
}
