//! MA sessions and who attended them.

use chrono::{DateTime, NaiveDate, Utc};
use jigi_common::date::format_date;
use jigi_storage::sql::{self, Placeholders};
use jigi_storage::{Conn, StorageError, ToSql, params, timestamp};

use crate::domain::ma::{Attendee, Theme};
use crate::domain::model::Location;

/// A session as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub session_id: String,
    pub location: Location,
    pub theme: Theme,
    pub held_on: NaiveDate,
    pub facilitator: String,
    pub attendees: Vec<Attendee>,
    pub recorded_at: DateTime<Utc>,
}

/// Stores a session with its attendance.
pub fn insert(conn: &mut Conn, session: &SessionRow) -> Result<(), StorageError> {
    conn.pipeline(
        "INSERT INTO ma_sessions (session_id, region, cercle, commune, village, theme, held_on, facilitator, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        params![
            session.session_id,
            session.location.region.slug(),
            session.location.cercle,
            session.location.commune,
            session.location.village,
            session.theme.code(),
            format_date(session.held_on),
            session.facilitator,
            timestamp::format(session.recorded_at)
        ],
    )?;
    // A sex is stored as its wire value (1 female, 2 male), as it always was.
    let sexes: Vec<i64> = session
        .attendees
        .iter()
        .map(|a| i64::from(a.sex.to_proto() as i32))
        .collect();
    let groups: Vec<i64> = session
        .attendees
        .iter()
        .map(|a| i64::from(a.age_group.wire()))
        .collect();
    let per_statement = sql::rows_per_statement(5);
    for (chunk_index, chunk) in session.attendees.chunks(per_statement).enumerate() {
        let statement = format!(
            "INSERT INTO ma_attendance (session_id, member_id, household_id, sex, age_group) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), 5)
        );
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 5);
        for (i, attendee) in chunk.iter().enumerate() {
            let at = chunk_index * per_statement + i;
            values.extend([
                &session.session_id as &dyn ToSql,
                &attendee.member_id,
                &attendee.household_id,
                &sexes[at],
                &groups[at],
            ]);
        }
        conn.pipeline(&statement, &values)?;
    }
    Ok(())
}

/// Sessions held in a commune between two days (inclusive).
pub fn count_in_commune(conn: &mut Conn, commune: &str, from: NaiveDate, to: NaiveDate) -> Result<i64, StorageError> {
    conn.query_scalar(
        "SELECT COUNT(*) FROM ma_sessions WHERE commune = $1 AND held_on >= $2 AND held_on <= $3",
        params![commune, format_date(from), format_date(to)],
    )
}

/// Households with a member at a session of the commune between two days.
pub fn households_reached(
    conn: &mut Conn,
    commune: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<std::collections::HashSet<String>, StorageError> {
    conn.query(
        "SELECT DISTINCT a.household_id FROM ma_attendance a JOIN ma_sessions s ON s.session_id = a.session_id \
         WHERE s.commune = $1 AND s.held_on >= $2 AND s.held_on <= $3",
        params![commune, format_date(from), format_date(to)],
    )?
    .iter()
    .map(|row| row.get(0))
    .collect()
}
