//! Warehouses, their lots and the movements of flour.

use std::collections::HashMap;

use jigi_common::date::format_date;
use jigi_common::geography::AreaLevel;
use jigi_storage::sql::{Filter, Placeholders};
use jigi_storage::{Conn, Owned, Row, StorageError, ToSql, params, timestamp};

use super::{ROWS_PER_INSERT, date, region};
use crate::domain::model::{Location, Warehouse};
use crate::domain::stock::{Lot, Movement};

const WAREHOUSE_COLUMNS: &str = "warehouse_id, name, region, cercle, commune, registered_at";

pub fn insert_warehouse(conn: &mut Conn, warehouse: &Warehouse) -> Result<(), StorageError> {
    conn.pipeline(
        &format!("INSERT INTO warehouses ({WAREHOUSE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
        params![
            warehouse.warehouse_id,
            warehouse.name,
            warehouse.location.region.slug(),
            warehouse.location.cercle,
            warehouse.location.commune,
            timestamp::format(warehouse.registered_at)
        ],
    )?;
    Ok(())
}

pub fn warehouse(conn: &mut Conn, warehouse_id: &str) -> Result<Option<Warehouse>, StorageError> {
    conn.query_opt(
        &format!("SELECT {WAREHOUSE_COLUMNS} FROM warehouses WHERE warehouse_id = $1"),
        params![warehouse_id],
    )?
    .as_ref()
    .map(warehouse_from_row)
    .transpose()
}

/// Warehouses in an area (all when `None`), by code.
pub fn warehouses(conn: &mut Conn, area: Option<&(AreaLevel, String)>) -> Result<Vec<Warehouse>, StorageError> {
    let mut filter = Filter::new();
    if let Some((level, code)) = area {
        let condition = match level {
            AreaLevel::Region => "region = {}",
            AreaLevel::Cercle => "cercle = {}",
            AreaLevel::Commune | AreaLevel::Village => "commune = {}",
        };
        filter.add(condition, Owned::Text(code.clone()));
    }
    let statement = format!(
        "SELECT {WAREHOUSE_COLUMNS} FROM warehouses{} ORDER BY warehouse_id",
        filter.where_sql()
    );
    conn.query(&statement, &filter.params(&[]))?
        .iter()
        .map(warehouse_from_row)
        .collect()
}

fn warehouse_from_row(row: &Row) -> Result<Warehouse, StorageError> {
    Ok(Warehouse {
        warehouse_id: row.get("warehouse_id")?,
        name: row.get("name")?,
        location: Location {
            region: region(&row.get::<String>("region")?)?,
            cercle: row.get("cercle")?,
            commune: row.get("commune")?,
            village: String::new(),
        },
        registered_at: row.get("registered_at")?,
    })
}

/// The lots of a warehouse that hold flour.
pub fn lots(conn: &mut Conn, warehouse_id: &str) -> Result<Vec<Lot>, StorageError> {
    conn.query(
        "SELECT lot_number, expires_on, on_hand_grams FROM stock_lots \
         WHERE warehouse_id = $1 AND on_hand_grams > 0 ORDER BY expires_on, lot_number",
        params![warehouse_id],
    )?
    .iter()
    .map(|row| {
        Ok(Lot {
            lot_number: row.get(0)?,
            expires_on: date(&row.get::<String>(1)?)?,
            on_hand: row.get(2)?,
        })
    })
    .collect()
}

/// One lot of a warehouse, empty or not.
pub fn lot(conn: &mut Conn, warehouse_id: &str, lot_number: &str) -> Result<Option<Lot>, StorageError> {
    conn.query_opt(
        "SELECT expires_on, on_hand_grams FROM stock_lots WHERE warehouse_id = $1 AND lot_number = $2",
        params![warehouse_id, lot_number],
    )?
    .map(|row| {
        Ok(Lot {
            lot_number: lot_number.to_owned(),
            expires_on: date(&row.get::<String>(0)?)?,
            on_hand: row.get(1)?,
        })
    })
    .transpose()
}

/// Takes `grams` from a lot. The database refuses a negative balance (the
/// callers check first; this is the last line of defence).
pub fn take_from_lot(conn: &mut Conn, warehouse_id: &str, lot_number: &str, grams: i64) -> Result<(), StorageError> {
    let changed = conn.execute(
        "UPDATE stock_lots SET on_hand_grams = on_hand_grams - $1 WHERE warehouse_id = $2 AND lot_number = $3",
        params![grams, warehouse_id, lot_number],
    )?;
    if changed != 1 {
        return Err(StorageError::Sql(format!(
            "lot {lot_number} of warehouse {warehouse_id} is not stored"
        )));
    }
    Ok(())
}

/// Adds `grams` to a lot, creating it with its expiry date when new.
pub fn add_to_lot(conn: &mut Conn, warehouse_id: &str, lot: &Lot, grams: i64) -> Result<(), StorageError> {
    conn.pipeline(
        "INSERT INTO stock_lots (warehouse_id, lot_number, expires_on, on_hand_grams) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (warehouse_id, lot_number) DO UPDATE SET on_hand_grams = stock_lots.on_hand_grams + excluded.on_hand_grams",
        params![warehouse_id, lot.lot_number, format_date(lot.expires_on), grams],
    )?;
    Ok(())
}

/// Records movements.
pub fn insert_movements(conn: &mut Conn, movements: &[Movement]) -> Result<(), StorageError> {
    const COLUMNS: usize = 10;
    let recorded_at = timestamp::now();
    for chunk in movements.chunks(ROWS_PER_INSERT) {
        let statement = format!(
            "INSERT INTO stock_movements (movement_id, warehouse_id, lot_number, kind, grams, occurred_on, reference, \
             reason, note, recorded_at) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), COLUMNS)
        );
        // Values that must be formatted first, borrowed by the statement.
        let formatted: Vec<(&'static str, String)> = chunk
            .iter()
            .map(|m| (m.kind.code(), format_date(m.occurred_on)))
            .collect();
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * COLUMNS);
        for (movement, (kind, occurred_on)) in chunk.iter().zip(&formatted) {
            values.extend([
                &movement.movement_id as &dyn ToSql,
                &movement.warehouse_id,
                &movement.lot_number,
                kind,
                &movement.grams,
                occurred_on,
                &movement.reference,
                &movement.reason,
                &movement.note,
                &recorded_at,
            ]);
        }
        conn.pipeline(&statement, &values)?;
    }
    Ok(())
}

/// Grams a warehouse holds, all lots.
pub fn on_hand(conn: &mut Conn, warehouse_id: &str) -> Result<i64, StorageError> {
    conn.query_scalar(
        "SELECT CAST(COALESCE(SUM(on_hand_grams), 0) AS BIGINT) FROM stock_lots WHERE warehouse_id = $1",
        params![warehouse_id],
    )
}

/// Grams held by the warehouses of each commune.
pub fn on_hand_by_commune(conn: &mut Conn) -> Result<HashMap<String, i64>, StorageError> {
    let mut by_commune = HashMap::new();
    conn.query_each(
        "SELECT w.commune, CAST(COALESCE(SUM(l.on_hand_grams), 0) AS BIGINT) FROM warehouses w \
         JOIN stock_lots l ON l.warehouse_id = w.warehouse_id GROUP BY w.commune",
        params![],
        |row| {
            by_commune.insert(row.get(0)?, row.get(1)?);
            Ok(())
        },
    )?;
    Ok(by_commune)
}

/// Every lot's balance beside the sum of its movements, for audits:
/// `(warehouse, lot, on_hand, sum of movements)`. One pass over the
/// movements.
pub fn ledger_check(conn: &mut Conn) -> Result<Vec<(String, String, i64, i64)>, StorageError> {
    let mut sums: HashMap<(String, String), i64> = HashMap::new();
    conn.query_each(
        "SELECT warehouse_id, lot_number, CAST(SUM(grams) AS BIGINT) FROM stock_movements GROUP BY warehouse_id, lot_number",
        params![],
        |row| {
            sums.insert((row.get(0)?, row.get(1)?), row.get(2)?);
            Ok(())
        },
    )?;
    let mut check = Vec::new();
    conn.query_each(
        "SELECT warehouse_id, lot_number, on_hand_grams FROM stock_lots ORDER BY warehouse_id, lot_number",
        params![],
        |row| {
            let (warehouse, lot): (String, String) = (row.get(0)?, row.get(1)?);
            let moved = sums.remove(&(warehouse.clone(), lot.clone())).unwrap_or(0);
            check.push((warehouse, lot, row.get(2)?, moved));
            Ok(())
        },
    )?;
    // Movements of a lot the balances do not know: a balance of zero.
    check.extend(sums.into_iter().map(|((w, l), moved)| (w, l, 0, moved)));
    check.sort();
    Ok(check)
}
