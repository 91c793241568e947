//! Transfer orders applied: `transfers_received`, one row per move into
//! this region (the linkage index's `transfer_id`), with what was done. A
//! redelivered or repeated order finds its row and changes nothing.
//!
//! A component of its own in the migrations, so it evolves apart from the
//! household tables.

use jigi_storage::{Conn, Migration, StorageError, params, timestamp};

pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    "registry_transfers",
    1,
    "transfer orders applied: households that moved here from another region",
    "
    CREATE TABLE transfers_received (
        transfer_id TEXT PRIMARY KEY,
        origin_region TEXT NOT NULL,
        origin_household_id TEXT NOT NULL,
        household_id TEXT NOT NULL,
        outcome TEXT NOT NULL,
        applied_at TEXT NOT NULL
    );
    CREATE INDEX transfers_received_household ON transfers_received (household_id);
    ",
)];

/// Whether this move was applied already.
pub fn received(conn: &mut Conn, transfer_id: &str) -> Result<bool, StorageError> {
    Ok(conn
        .query_scalar_opt::<String>(
            "SELECT transfer_id FROM transfers_received WHERE transfer_id = $1",
            params![transfer_id],
        )?
        .is_some())
}

/// Records a move applied, and what came of it.
pub fn record_received(
    conn: &mut Conn,
    transfer_id: &str,
    origin_region: &str,
    origin_household_id: &str,
    household_id: &str,
    outcome: &str,
) -> Result<(), StorageError> {
    let now = timestamp::now();
    conn.pipeline(
        "INSERT INTO transfers_received (transfer_id, origin_region, origin_household_id, household_id, outcome, \
         applied_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (transfer_id) DO NOTHING",
        params![
            transfer_id,
            origin_region,
            origin_household_id,
            household_id,
            outcome,
            now.as_str()
        ],
    )?;
    Ok(())
}
