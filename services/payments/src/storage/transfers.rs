//! Households that moved here from another region, whose TM enrolment
//! continues: the first quarter this region may pay each, the one after the
//! last its origin paid (from the linkage index's transfer order). A freeze
//! of an earlier quarter leaves them out, so a quarter is paid once across
//! the two regions.
//!
//! A component of its own in the migrations, so it evolves apart from the
//! cycle tables.

use jigi_storage::{Conn, Migration, StorageError, params};

pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    "payments_transfers",
    1,
    "the first quarter payable to households that moved here",
    "
    CREATE TABLE tm_first_periods (
        household_id TEXT PRIMARY KEY,
        first_period TEXT NOT NULL,
        transfer_id TEXT NOT NULL,
        origin_region TEXT NOT NULL
    );
    ",
)];

/// The condition keeping a moved household `h` out of a cycle (`$1`) of a
/// quarter its origin paid. Quarters are `YYYYQn`, so text order is time order.
pub const PAYABLE_IN_CYCLE: &str = "NOT EXISTS (SELECT 1 FROM tm_first_periods f \
     WHERE f.household_id = h.household_id \
     AND f.first_period > (SELECT k.period FROM payment_cycles k WHERE k.cycle_id = $1))";

/// Records the first quarter payable to a household that moved here,
/// keeping the latest: an order sent again because the origin paid a later
/// quarter moves it on; a repeated order changes nothing.
pub fn record_first_period(
    conn: &mut Conn,
    household_id: &str,
    first_period: &str,
    transfer_id: &str,
    origin_region: &str,
) -> Result<(), StorageError> {
    conn.pipeline(
        "INSERT INTO tm_first_periods (household_id, first_period, transfer_id, origin_region) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (household_id) DO UPDATE SET \
         first_period = excluded.first_period, transfer_id = excluded.transfer_id, \
         origin_region = excluded.origin_region \
         WHERE excluded.first_period > tm_first_periods.first_period",
        params![household_id, first_period, transfer_id, origin_region],
    )?;
    Ok(())
}

/// The first quarter payable to a household that moved here, if it did.
pub fn first_period(conn: &mut Conn, household_id: &str) -> Result<Option<String>, StorageError> {
    conn.query_scalar_opt(
        "SELECT first_period FROM tm_first_periods WHERE household_id = $1",
        params![household_id],
    )
}
