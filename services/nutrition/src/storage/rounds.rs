//! Rounds and their pilot communes.

use std::collections::HashMap;

use chrono::NaiveDate;
use jigi_common::date::format_date;
use jigi_storage::sql::Placeholders;
use jigi_storage::{Conn, Row, StorageError, ToSql, params, timestamp};

use super::{ROWS_PER_INSERT, date, decode_error, region};
use crate::domain::model::{Location, Rations, Round, RoundStatus};

const COLUMNS: &str = "round_id, region, year, number, starts_on, ends_on, child_grams, pregnant_woman_grams, \
    lactating_woman_grams, status, opened_at, closed_on";

/// Stores a new round with its communes.
pub fn insert(conn: &mut Conn, round: &Round) -> Result<(), StorageError> {
    conn.pipeline(
        &format!("INSERT INTO rounds ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"),
        params![
            round.round_id,
            round.region.slug(),
            round.year,
            round.number,
            format_date(round.starts_on),
            format_date(round.ends_on),
            round.rations.child,
            round.rations.pregnant_woman,
            round.rations.lactating_woman,
            round.status.code(),
            timestamp::format(round.opened_at),
            round.closed_on.map(format_date)
        ],
    )?;
    for chunk in round.communes.chunks(ROWS_PER_INSERT) {
        let statement = format!(
            "INSERT INTO round_communes (round_id, commune, cercle) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), 3)
        );
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 3);
        for commune in chunk {
            values.extend([&round.round_id as &dyn ToSql, &commune.commune, &commune.cercle]);
        }
        conn.pipeline(&statement, &values)?;
    }
    Ok(())
}

/// Marks a round closed.
pub fn close(conn: &mut Conn, round_id: &str, closed_on: NaiveDate) -> Result<(), StorageError> {
    conn.pipeline(
        "UPDATE rounds SET status = $1, closed_on = $2 WHERE round_id = $3",
        params![RoundStatus::Closed.code(), format_date(closed_on), round_id],
    )?;
    Ok(())
}

/// One round with its communes.
pub fn load(conn: &mut Conn, round_id: &str) -> Result<Option<Round>, StorageError> {
    let Some(row) = conn.query_opt(
        &format!("SELECT {COLUMNS} FROM rounds WHERE round_id = $1"),
        params![round_id],
    )?
    else {
        return Ok(None);
    };
    let mut round = round_from_row(&row)?;
    round.communes = communes_of(conn, &round)?;
    Ok(Some(round))
}

/// The round of a year and number, if opened.
pub fn find(conn: &mut Conn, year: i32, number: i32) -> Result<Option<Round>, StorageError> {
    let id: Option<String> = conn.query_scalar_opt(
        "SELECT round_id FROM rounds WHERE year = $1 AND number = $2",
        params![year, number],
    )?;
    match id {
        Some(id) => load(conn, &id),
        None => Ok(None),
    }
}

/// Rounds, most recent first; of one year when given.
pub fn list(conn: &mut Conn, year: Option<i32>) -> Result<Vec<Round>, StorageError> {
    let rows = match year {
        Some(year) => conn.query(
            &format!("SELECT {COLUMNS} FROM rounds WHERE year = $1 ORDER BY year DESC, number DESC"),
            params![year],
        )?,
        None => conn.query(
            &format!("SELECT {COLUMNS} FROM rounds ORDER BY year DESC, number DESC"),
            params![],
        )?,
    };
    let mut rounds = rows.iter().map(round_from_row).collect::<Result<Vec<_>, _>>()?;
    // The communes of every listed round in one query.
    let mut communes: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let statement = match year {
        Some(_) => {
            "SELECT c.round_id, c.commune, c.cercle FROM round_communes c JOIN rounds r ON r.round_id = c.round_id \
             WHERE r.year = $1 ORDER BY c.round_id, c.commune"
        }
        None => "SELECT round_id, commune, cercle FROM round_communes ORDER BY round_id, commune",
    };
    let mut values: Vec<&dyn ToSql> = Vec::with_capacity(1);
    if let Some(year) = &year {
        values.push(year);
    }
    conn.query_each(statement, &values, |row| {
        communes
            .entry(row.get(0)?)
            .or_default()
            .push((row.get(1)?, row.get(2)?));
        Ok(())
    })?;
    for round in &mut rounds {
        round.communes = communes
            .remove(&round.round_id)
            .unwrap_or_default()
            .into_iter()
            .map(|(commune, cercle)| location(round, commune, cercle))
            .collect();
    }
    Ok(rounds)
}

fn communes_of(conn: &mut Conn, round: &Round) -> Result<Vec<Location>, StorageError> {
    conn.query(
        "SELECT commune, cercle FROM round_communes WHERE round_id = $1 ORDER BY commune",
        params![round.round_id],
    )?
    .iter()
    .map(|row| Ok(location(round, row.get(0)?, row.get(1)?)))
    .collect()
}

fn location(round: &Round, commune: String, cercle: String) -> Location {
    Location {
        region: round.region,
        cercle,
        commune,
        village: String::new(),
    }
}

fn round_from_row(row: &Row) -> Result<Round, StorageError> {
    let status: String = row.get("status")?;
    Ok(Round {
        round_id: row.get("round_id")?,
        region: region(&row.get::<String>("region")?)?,
        year: row.get("year")?,
        number: row.get("number")?,
        starts_on: date(&row.get::<String>("starts_on")?)?,
        ends_on: date(&row.get::<String>("ends_on")?)?,
        communes: Vec::new(),
        rations: Rations {
            child: row.get("child_grams")?,
            pregnant_woman: row.get("pregnant_woman_grams")?,
            lactating_woman: row.get("lactating_woman_grams")?,
        },
        status: RoundStatus::from_code(&status)
            .ok_or_else(|| decode_error(format!("unknown round status {status}")))?,
        opened_at: row.get("opened_at")?,
        closed_on: row
            .get::<Option<String>>("closed_on")?
            .as_deref()
            .map(date)
            .transpose()?,
    })
}
