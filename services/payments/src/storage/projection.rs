//! The `tm_households` projection.

use std::collections::HashMap;

use jigi_storage::sql::{Filter, Placeholders};
use jigi_storage::{Conn, Owned, Row, StorageError, ToSql};

use crate::domain::model::Place;
use crate::domain::projection::Tracked;

const COLUMNS: &str =
    "household_id, region, cercle, commune, village, enrolled, enrolled_on, exited_on, status_at, location_at";
const COLUMN_COUNT: usize = 10;

/// Households per `SELECT … IN (…)` and per multi-row upsert: statements of
/// a few fixed sizes, each prepared once.
const ROWS_PER_STATEMENT: usize = 100;

fn tracked(row: &Row) -> Result<Tracked, StorageError> {
    Ok(Tracked {
        household_id: row.get("household_id")?,
        place: Place {
            region: row.get("region")?,
            cercle: row.get("cercle")?,
            commune: row.get("commune")?,
            village: row.get("village")?,
        },
        enrolled: row.get::<i64>("enrolled")? == 1,
        enrolled_on: row.get("enrolled_on")?,
        exited_on: row.get("exited_on")?,
        status_at: row.get("status_at")?,
        location_at: row.get("location_at")?,
    })
}

/// The households of the projection among `household_ids`, by ID.
pub fn tracked_households(conn: &mut Conn, household_ids: &[&str]) -> Result<HashMap<String, Tracked>, StorageError> {
    let mut found = HashMap::with_capacity(household_ids.len());
    for chunk in household_ids.chunks(ROWS_PER_STATEMENT) {
        let statement = format!(
            "SELECT {COLUMNS} FROM tm_households WHERE household_id IN ({})",
            Placeholders::for_connection(conn).list(chunk.len())
        );
        let values: Vec<&dyn ToSql> = chunk.iter().map(|id| id as &dyn ToSql).collect();
        conn.query_each(&statement, &values, |row| {
            let household = tracked(row)?;
            found.insert(household.household_id.clone(), household);
            Ok(())
        })?;
    }
    Ok(found)
}

/// Writes households of the projection (insert or replace).
pub fn save_tracked(conn: &mut Conn, households: &[&Tracked]) -> Result<(), StorageError> {
    for chunk in households.chunks(ROWS_PER_STATEMENT) {
        let statement = format!(
            "INSERT INTO tm_households ({COLUMNS}) VALUES {} \
             ON CONFLICT (household_id) DO UPDATE SET region = excluded.region, cercle = excluded.cercle, \
             commune = excluded.commune, village = excluded.village, enrolled = excluded.enrolled, \
             enrolled_on = excluded.enrolled_on, exited_on = excluded.exited_on, status_at = excluded.status_at, \
             location_at = excluded.location_at",
            Placeholders::for_connection(conn).rows(chunk.len(), COLUMN_COUNT)
        );
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * COLUMN_COUNT);
        for t in chunk {
            values.extend([
                &t.household_id as &dyn ToSql,
                &t.place.region,
                &t.place.cercle,
                &t.place.commune,
                &t.place.village,
                &t.enrolled,
                &t.enrolled_on,
                &t.exited_on,
                &t.status_at,
                &t.location_at,
            ]);
        }
        conn.pipeline(&statement, &values)?;
    }
    Ok(())
}

/// Enrolled households, by household ID, after `after`, at most `limit`.
pub fn eligible_page(
    conn: &mut Conn,
    commune: Option<&str>,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Tracked>, StorageError> {
    let mut filter = Filter::new();
    filter.add_plain("enrolled = 1");
    if let Some(commune) = commune {
        filter.add("commune = {}", commune);
    }
    if let Some(after) = after {
        filter.add("household_id > {}", after);
    }
    let statement = format!(
        "SELECT {COLUMNS} FROM tm_households{} ORDER BY household_id LIMIT ${}",
        filter.where_sql(),
        filter.next_placeholder()
    );
    let limit = Owned::Int(i64::try_from(limit).unwrap_or(i64::MAX));
    let mut households = Vec::new();
    conn.query_each(&statement, &filter.params(&[&limit]), |row| {
        households.push(tracked(row)?);
        Ok(())
    })?;
    Ok(households)
}

/// Number of enrolled households (in a commune).
pub fn eligible_count(conn: &mut Conn, commune: Option<&str>) -> Result<i64, StorageError> {
    let mut filter = Filter::new();
    filter.add_plain("enrolled = 1");
    if let Some(commune) = commune {
        filter.add("commune = {}", commune);
    }
    conn.query_scalar(
        &format!("SELECT COUNT(*) FROM tm_households{}", filter.where_sql()),
        &filter.params(&[]),
    )
}
