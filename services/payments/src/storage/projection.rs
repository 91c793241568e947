//! The `tm_households` projection.

use jigi_storage::Row;
use sqlx::{AnyConnection, Row as _};

use crate::domain::model::Place;
use crate::domain::projection::Tracked;

const COLUMNS: &str =
    "household_id, region, cercle, commune, village, enrolled, enrolled_on, exited_on, status_at, location_at";

fn tracked(row: &Row) -> Result<Tracked, sqlx::Error> {
    Ok(Tracked {
        household_id: row.try_get("household_id")?,
        place: Place {
            region: row.try_get("region")?,
            cercle: row.try_get("cercle")?,
            commune: row.try_get("commune")?,
            village: row.try_get("village")?,
        },
        enrolled: row.try_get::<i64, _>("enrolled")? == 1,
        enrolled_on: row.try_get("enrolled_on")?,
        exited_on: row.try_get("exited_on")?,
        status_at: row.try_get("status_at")?,
        location_at: row.try_get("location_at")?,
    })
}

/// A household of the projection.
pub async fn tracked_household(conn: &mut AnyConnection, household_id: &str) -> Result<Option<Tracked>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tm_households WHERE household_id = $1"
    )))
    .bind(household_id.to_owned())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(tracked).transpose()
}

/// Writes a household of the projection (insert or replace).
pub async fn save_tracked(conn: &mut AnyConnection, t: &Tracked) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO tm_households ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (household_id) DO UPDATE SET region = excluded.region, cercle = excluded.cercle, \
         commune = excluded.commune, village = excluded.village, enrolled = excluded.enrolled, \
         enrolled_on = excluded.enrolled_on, exited_on = excluded.exited_on, status_at = excluded.status_at, \
         location_at = excluded.location_at"
    )))
    .bind(t.household_id.clone())
    .bind(t.place.region.clone())
    .bind(t.place.cercle.clone())
    .bind(t.place.commune.clone())
    .bind(t.place.village.clone())
    .bind(i64::from(t.enrolled))
    .bind(t.enrolled_on.clone())
    .bind(t.exited_on.clone())
    .bind(t.status_at.clone())
    .bind(t.location_at.clone())
    .execute(conn)
    .await?;
    Ok(())
}

/// Enrolled households, by household ID, after `after`, at most `limit`.
pub async fn eligible_page(
    conn: &mut AnyConnection,
    commune: Option<&str>,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Tracked>, sqlx::Error> {
    let mut statement = format!("SELECT {COLUMNS} FROM tm_households WHERE enrolled = 1");
    let mut n = 0;
    let mut placeholder = || {
        n += 1;
        format!("${n}")
    };
    if commune.is_some() {
        statement.push_str(&format!(" AND commune = {}", placeholder()));
    }
    if after.is_some() {
        statement.push_str(&format!(" AND household_id > {}", placeholder()));
    }
    statement.push_str(&format!(" ORDER BY household_id LIMIT {}", placeholder()));
    let mut query = sqlx::query(sqlx::AssertSqlSafe(statement));
    if let Some(commune) = commune {
        query = query.bind(commune.to_owned());
    }
    if let Some(after) = after {
        query = query.bind(after.to_owned());
    }
    let rows = query.bind(limit as i64).fetch_all(conn).await?;
    rows.iter().map(tracked).collect()
}

/// Number of enrolled households (in a commune).
pub async fn eligible_count(conn: &mut AnyConnection, commune: Option<&str>) -> Result<i64, sqlx::Error> {
    match commune {
        Some(commune) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM tm_households WHERE enrolled = 1 AND commune = $1")
                .bind(commune.to_owned())
                .fetch_one(conn)
                .await
        }
        None => {
            sqlx::query_scalar("SELECT COUNT(*) FROM tm_households WHERE enrolled = 1")
                .fetch_one(conn)
                .await
        }
    }
}
