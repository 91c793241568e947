//! Moves between regions: `transfers` (one row per move, with the
//! destination household once known and when its order was sent) and
//! `transfer_enrolments` (the enrolments that continue, with their
//! committee references). IDs, dates and references only.

use jigi_common::{Component, Region};
use jigi_storage::{Conn, Row, StorageError, params, timestamp};

use crate::domain::transfer::{MovedEnrolment, Transfer};

/// A move as stored, with what the index has done with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTransfer {
    pub transfer: Transfer,
    /// The last TM quarter the origin paid, as last ordered.
    pub last_period_paid: Option<String>,
    /// Whether the order went to the destination.
    pub ordered: bool,
}

/// Records a move; `false` when it was recorded before (a repeat).
pub fn insert(conn: &mut Conn, transfer: &Transfer) -> Result<bool, StorageError> {
    let now = timestamp::now();
    let inserted = conn.execute(
        "INSERT INTO transfers (transfer_id, origin_region, origin_household, destination_region, \
         destination_household, transferred_on, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (transfer_id) DO NOTHING",
        params![
            transfer.transfer_id.as_str(),
            transfer.origin.slug(),
            transfer.origin_household_id.as_str(),
            transfer.destination.slug(),
            transfer.destination_household_id.as_deref(),
            jigi_common::date::format_date(transfer.transferred_on).as_str(),
            now.as_str()
        ],
    )?;
    if inserted == 0 {
        return Ok(false);
    }
    for enrolment in &transfer.enrolments {
        conn.pipeline(
            "INSERT INTO transfer_enrolments (transfer_id, component, enrolled_on, committee_decision, \
             committee_override) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (transfer_id, component) DO NOTHING",
            params![
                transfer.transfer_id.as_str(),
                enrolment.component.code(),
                jigi_common::date::format_date(enrolment.enrolled_on).as_str(),
                enrolment.committee_decision.as_str(),
                enrolment.committee_override
            ],
        )?;
    }
    Ok(true)
}

/// Records that the order went to the destination, naming its household
/// and the last TM quarter the origin paid.
pub fn mark_ordered(
    conn: &mut Conn,
    transfer_id: &str,
    destination_household: &str,
    last_period_paid: Option<&str>,
) -> Result<(), StorageError> {
    let now = timestamp::now();
    conn.pipeline(
        "UPDATE transfers SET destination_household = $1, last_period_paid = $2, ordered_at = $3 \
         WHERE transfer_id = $4",
        params![destination_household, last_period_paid, now.as_str(), transfer_id],
    )?;
    Ok(())
}

const COLUMNS: &str = "transfer_id, origin_region, origin_household, destination_region, destination_household, \
     transferred_on, last_period_paid, ordered_at";

/// One move by ID.
pub fn get(conn: &mut Conn, transfer_id: &str) -> Result<Option<StoredTransfer>, StorageError> {
    let row = conn.query_opt(
        &format!("SELECT {COLUMNS} FROM transfers WHERE transfer_id = $1"),
        params![transfer_id],
    )?;
    row.map(|row| from_row(conn, &row)).transpose()
}

/// The moves out of a household (at most one per origin region; a
/// household ID is one region's).
pub fn of_origin_household(conn: &mut Conn, household_id: &str) -> Result<Vec<StoredTransfer>, StorageError> {
    let rows = conn.query(
        &format!("SELECT {COLUMNS} FROM transfers WHERE origin_household = $1"),
        params![household_id],
    )?;
    rows.iter().map(|row| from_row(conn, row)).collect()
}

/// The TM quarters a household was paid for, as the national stream told.
pub fn periods_paid(conn: &mut Conn, household_id: &str) -> Result<Vec<String>, StorageError> {
    conn.query(
        "SELECT DISTINCT period FROM payments_seen WHERE household_id = $1 AND component = 'TM'",
        params![household_id],
    )?
    .iter()
    .map(|row| row.get(0))
    .collect()
}

fn from_row(conn: &mut Conn, row: &Row) -> Result<StoredTransfer, StorageError> {
    let region = |text: String| {
        text.parse::<Region>()
            .map_err(|_| StorageError::Decode(format!("region {text:?}")))
    };
    let date = |text: String| {
        jigi_common::date::parse_date(&text).ok_or_else(|| StorageError::Decode(format!("date {text:?}")))
    };
    let transfer_id: String = row.get(0)?;
    let enrolments = conn
        .query(
            "SELECT component, enrolled_on, committee_decision, committee_override FROM transfer_enrolments \
             WHERE transfer_id = $1 ORDER BY component",
            params![transfer_id.as_str()],
        )?
        .iter()
        .map(|e| {
            let code: String = e.get(0)?;
            Ok(MovedEnrolment {
                component: Component::from_code(&code)
                    .ok_or_else(|| StorageError::Decode(format!("component {code:?}")))?,
                enrolled_on: date(e.get(1)?)?,
                committee_decision: e.get(2)?,
                committee_override: e.get::<i64>(3)? == 1,
            })
        })
        .collect::<Result<Vec<_>, StorageError>>()?;
    let ordered_at: Option<String> = row.get(7)?;
    Ok(StoredTransfer {
        transfer: Transfer {
            transfer_id,
            origin: region(row.get(1)?)?,
            origin_household_id: row.get(2)?,
            destination: region(row.get(3)?)?,
            destination_household_id: row.get(4)?,
            transferred_on: date(row.get(5)?)?,
            enrolments,
        },
        last_period_paid: row.get(6)?,
        ordered: ordered_at.is_some(),
    })
}
