//! Each region's activity: when its last event happened and arrived, and how
//! many arrived.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use jigi_storage::{Conn, StorageError, params, timestamp};

/// What one batch brought from one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard<'a> {
    pub region: &'a str,
    /// Events of the region in the batch.
    pub events: i64,
    /// The latest event time among them.
    pub last_event_time: DateTime<Utc>,
    /// The national stream position of the newest of them.
    pub stream_sequence: u64,
}

/// A region's activity as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub last_event_time: DateTime<Utc>,
    pub last_received_at: DateTime<Utc>,
    pub events_received: i64,
    /// The national stream position of the region's newest event applied.
    pub stream_sequence: u64,
}

/// Notes that a batch's events arrived at `received_at`: one statement per region.
pub fn record(conn: &mut Conn, heard: &[Heard<'_>], received_at: DateTime<Utc>) -> Result<(), StorageError> {
    let received_at = timestamp::format(received_at);
    for region in heard {
        conn.pipeline(
            "INSERT INTO region_activity (region, last_event_time, last_received_at, events_received, stream_sequence) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (region) DO UPDATE SET \
             last_event_time = CASE WHEN region_activity.last_event_time < $2 THEN $2 \
             ELSE region_activity.last_event_time END, \
             last_received_at = $3, events_received = region_activity.events_received + $4, \
             stream_sequence = CASE WHEN region_activity.stream_sequence < $5 THEN $5 \
             ELSE region_activity.stream_sequence END",
            params![
                region.region,
                timestamp::format(region.last_event_time),
                received_at,
                region.events,
                region.stream_sequence
            ],
        )?;
    }
    Ok(())
}

/// Every region heard from, by slug.
pub fn all(conn: &mut Conn) -> Result<BTreeMap<String, Activity>, StorageError> {
    let mut known = BTreeMap::new();
    conn.query_each(
        "SELECT region, last_event_time, last_received_at, events_received, stream_sequence FROM region_activity",
        params![],
        |row| {
            known.insert(
                row.get(0)?,
                Activity {
                    last_event_time: row.get(1)?,
                    last_received_at: row.get(2)?,
                    events_received: row.get(3)?,
                    stream_sequence: row.get(4)?,
                },
            );
            Ok(())
        },
    )?;
    Ok(known)
}
