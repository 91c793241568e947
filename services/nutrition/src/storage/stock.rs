//! Warehouses, their lots and the movements of flour.

use std::collections::HashMap;

use jigi_common::date::format_date;
use jigi_common::geography::AreaLevel;
use jigi_storage::sql::{self, Placeholders};
use jigi_storage::{Row, timestamp};
use sqlx::{AnyConnection, AssertSqlSafe, Row as _};

use super::{date, region};
use crate::domain::model::{Location, Warehouse};
use crate::domain::stock::{Lot, Movement};

pub async fn insert_warehouse(conn: &mut AnyConnection, warehouse: &Warehouse) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO warehouses (warehouse_id, name, region, cercle, commune, registered_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(warehouse.warehouse_id.clone())
    .bind(warehouse.name.clone())
    .bind(warehouse.location.region.slug())
    .bind(warehouse.location.cercle.clone())
    .bind(warehouse.location.commune.clone())
    .bind(timestamp::format(warehouse.registered_at))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn warehouse(conn: &mut AnyConnection, warehouse_id: &str) -> Result<Option<Warehouse>, sqlx::Error> {
    sqlx::query(
        "SELECT warehouse_id, name, region, cercle, commune, registered_at FROM warehouses WHERE warehouse_id = $1",
    )
    .bind(warehouse_id)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(warehouse_from_row)
    .transpose()
}

/// Warehouses in an area (all when `None`), by code.
pub async fn warehouses(
    conn: &mut AnyConnection,
    area: Option<&(AreaLevel, String)>,
) -> Result<Vec<Warehouse>, sqlx::Error> {
    let mut filter = sql::Filter::new();
    if let Some((level, code)) = area {
        let condition = match level {
            AreaLevel::Region => "region = {}",
            AreaLevel::Cercle => "cercle = {}",
            AreaLevel::Commune | AreaLevel::Village => "commune = {}",
        };
        filter.add(condition, sql::Value::Text(code.clone()));
    }
    let statement = format!(
        "SELECT warehouse_id, name, region, cercle, commune, registered_at FROM warehouses{} ORDER BY warehouse_id",
        filter.where_sql()
    );
    sql::bind_values(sqlx::query(AssertSqlSafe(statement)), filter.values())
        .fetch_all(conn)
        .await?
        .iter()
        .map(warehouse_from_row)
        .collect()
}

fn warehouse_from_row(row: &Row) -> Result<Warehouse, sqlx::Error> {
    Ok(Warehouse {
        warehouse_id: row.try_get("warehouse_id")?,
        name: row.try_get("name")?,
        location: Location {
            region: region(&row.try_get::<String, _>("region")?)?,
            cercle: row.try_get("cercle")?,
            commune: row.try_get("commune")?,
            village: String::new(),
        },
        registered_at: timestamp::parse(&row.try_get::<String, _>("registered_at")?)?,
    })
}

/// The lots of a warehouse that hold flour.
pub async fn lots(conn: &mut AnyConnection, warehouse_id: &str) -> Result<Vec<Lot>, sqlx::Error> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT lot_number, expires_on, on_hand_grams FROM stock_lots \
         WHERE warehouse_id = $1 AND on_hand_grams > 0 ORDER BY expires_on, lot_number",
    )
    .bind(warehouse_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(lot_number, expires_on, on_hand)| {
            Ok(Lot {
                lot_number,
                expires_on: date(&expires_on)?,
                on_hand,
            })
        })
        .collect()
}

/// One lot of a warehouse, empty or not.
pub async fn lot(conn: &mut AnyConnection, warehouse_id: &str, lot_number: &str) -> Result<Option<Lot>, sqlx::Error> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT expires_on, on_hand_grams FROM stock_lots WHERE warehouse_id = $1 AND lot_number = $2")
            .bind(warehouse_id)
            .bind(lot_number)
            .fetch_optional(conn)
            .await?;
    row.map(|(expires_on, on_hand)| {
        Ok(Lot {
            lot_number: lot_number.to_owned(),
            expires_on: date(&expires_on)?,
            on_hand,
        })
    })
    .transpose()
}

/// Takes `grams` from a lot. The database refuses a negative balance (the
/// callers check first; this is the last line of defence).
pub async fn take_from_lot(
    conn: &mut AnyConnection,
    warehouse_id: &str,
    lot_number: &str,
    grams: i64,
) -> Result<(), sqlx::Error> {
    let done = sqlx::query(
        "UPDATE stock_lots SET on_hand_grams = on_hand_grams - $1 WHERE warehouse_id = $2 AND lot_number = $3",
    )
    .bind(grams)
    .bind(warehouse_id)
    .bind(lot_number)
    .execute(conn)
    .await?;
    if done.rows_affected() != 1 {
        return Err(sqlx::Error::RowNotFound);
    }
    Ok(())
}

/// Adds `grams` to a lot, creating it with its expiry date when new.
pub async fn add_to_lot(
    conn: &mut AnyConnection,
    warehouse_id: &str,
    lot: &Lot,
    grams: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO stock_lots (warehouse_id, lot_number, expires_on, on_hand_grams) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (warehouse_id, lot_number) DO UPDATE SET on_hand_grams = stock_lots.on_hand_grams + excluded.on_hand_grams",
    )
    .bind(warehouse_id)
    .bind(lot.lot_number.clone())
    .bind(format_date(lot.expires_on))
    .bind(grams)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records movements.
pub async fn insert_movements(conn: &mut AnyConnection, movements: &[Movement]) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 10;
    let recorded_at = timestamp::now();
    for chunk in movements.chunks(sql::rows_per_statement(COLUMNS)) {
        let statement = format!(
            "INSERT INTO stock_movements (movement_id, warehouse_id, lot_number, kind, grams, occurred_on, reference, \
             reason, note, recorded_at) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), COLUMNS)
        );
        let mut query = sqlx::query(AssertSqlSafe(statement));
        for movement in chunk {
            query = query
                .bind(movement.movement_id.clone())
                .bind(movement.warehouse_id.clone())
                .bind(movement.lot_number.clone())
                .bind(movement.kind.code())
                .bind(movement.grams)
                .bind(format_date(movement.occurred_on))
                .bind(movement.reference.clone())
                .bind(movement.reason.clone())
                .bind(movement.note.clone())
                .bind(recorded_at.clone());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Grams a warehouse holds, all lots.
pub async fn on_hand(conn: &mut AnyConnection, warehouse_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT CAST(COALESCE(SUM(on_hand_grams), 0) AS BIGINT) FROM stock_lots WHERE warehouse_id = $1")
        .bind(warehouse_id)
        .fetch_one(conn)
        .await
}

/// Grams held by the warehouses of each commune.
pub async fn on_hand_by_commune(conn: &mut AnyConnection) -> Result<HashMap<String, i64>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT w.commune, CAST(COALESCE(SUM(l.on_hand_grams), 0) AS BIGINT) FROM warehouses w \
         JOIN stock_lots l ON l.warehouse_id = w.warehouse_id GROUP BY w.commune",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Every lot's balance beside the sum of its movements, for audits and
/// tests: `(warehouse, lot, on_hand, sum of movements)`. One pass over the
/// movements.
pub async fn ledger_check(conn: &mut AnyConnection) -> Result<Vec<(String, String, i64, i64)>, sqlx::Error> {
    let sums: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT warehouse_id, lot_number, CAST(SUM(grams) AS BIGINT) FROM stock_movements GROUP BY warehouse_id, lot_number",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut sums: HashMap<(String, String), i64> = sums.into_iter().map(|(w, l, g)| ((w, l), g)).collect();
    let lots: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT warehouse_id, lot_number, on_hand_grams FROM stock_lots ORDER BY warehouse_id, lot_number",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut check: Vec<_> = lots
        .into_iter()
        .map(|(w, l, on_hand)| {
            let moved = sums.remove(&(w.clone(), l.clone())).unwrap_or(0);
            (w, l, on_hand, moved)
        })
        .collect();
    // Movements of a lot the balances do not know: a balance of zero.
    check.extend(sums.into_iter().map(|((w, l), moved)| (w, l, 0, moved)));
    check.sort();
    Ok(check)
}
