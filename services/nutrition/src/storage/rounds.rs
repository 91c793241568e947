//! Rounds and their pilot communes.

use chrono::NaiveDate;
use jigi_common::date::format_date;
use jigi_storage::{Row, timestamp};
use sqlx::{AnyConnection, Row as _};

use super::{date, decode_error, region};
use crate::domain::model::{Location, Rations, Round, RoundStatus};

const COLUMNS: &str = "round_id, region, year, number, starts_on, ends_on, child_grams, pregnant_woman_grams, \
    lactating_woman_grams, status, opened_at, closed_on";

pub async fn insert(conn: &mut AnyConnection, round: &Round) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO rounds (round_id, region, year, number, starts_on, ends_on, child_grams, pregnant_woman_grams, \
         lactating_woman_grams, status, opened_at, closed_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(round.round_id.clone())
    .bind(round.region.slug())
    .bind(i64::from(round.year))
    .bind(i64::from(round.number))
    .bind(format_date(round.starts_on))
    .bind(format_date(round.ends_on))
    .bind(round.rations.child)
    .bind(round.rations.pregnant_woman)
    .bind(round.rations.lactating_woman)
    .bind(round.status.code())
    .bind(timestamp::format(round.opened_at))
    .bind(round.closed_on.map(format_date))
    .execute(&mut *conn)
    .await?;
    for commune in &round.communes {
        sqlx::query("INSERT INTO round_communes (round_id, commune, cercle) VALUES ($1, $2, $3)")
            .bind(round.round_id.clone())
            .bind(commune.commune.clone())
            .bind(commune.cercle.clone())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Marks a round closed.
pub async fn close(conn: &mut AnyConnection, round_id: &str, closed_on: NaiveDate) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE rounds SET status = $1, closed_on = $2 WHERE round_id = $3")
        .bind(RoundStatus::Closed.code())
        .bind(format_date(closed_on))
        .bind(round_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// One round with its communes.
pub async fn load(conn: &mut AnyConnection, round_id: &str) -> Result<Option<Round>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM rounds WHERE round_id = $1"
    )))
    .bind(round_id)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        None => Ok(None),
        Some(row) => {
            let mut round = round_from_row(&row)?;
            round.communes = communes(conn, &round).await?;
            Ok(Some(round))
        }
    }
}

/// The round of a year and number, if opened.
pub async fn find(conn: &mut AnyConnection, year: i32, number: i32) -> Result<Option<Round>, sqlx::Error> {
    let id: Option<String> = sqlx::query_scalar("SELECT round_id FROM rounds WHERE year = $1 AND number = $2")
        .bind(i64::from(year))
        .bind(i64::from(number))
        .fetch_optional(&mut *conn)
        .await?;
    match id {
        Some(id) => load(conn, &id).await,
        None => Ok(None),
    }
}

/// Rounds, most recent first; of one year when given.
pub async fn list(conn: &mut AnyConnection, year: Option<i32>) -> Result<Vec<Round>, sqlx::Error> {
    let rows = match year {
        Some(year) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM rounds WHERE year = $1 ORDER BY year DESC, number DESC"
            )))
            .bind(i64::from(year))
            .fetch_all(&mut *conn)
            .await?
        }
        None => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM rounds ORDER BY year DESC, number DESC"
            )))
            .fetch_all(&mut *conn)
            .await?
        }
    };
    let mut rounds = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut round = round_from_row(row)?;
        round.communes = communes(conn, &round).await?;
        rounds.push(round);
    }
    Ok(rounds)
}

async fn communes(conn: &mut AnyConnection, round: &Round) -> Result<Vec<Location>, sqlx::Error> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT commune, cercle FROM round_communes WHERE round_id = $1 ORDER BY commune")
            .bind(round.round_id.clone())
            .fetch_all(conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(commune, cercle)| Location {
            region: round.region,
            cercle,
            commune,
            village: String::new(),
        })
        .collect())
}

fn round_from_row(row: &Row) -> Result<Round, sqlx::Error> {
    let int = |name: &str| -> Result<i32, sqlx::Error> {
        let value: i64 = row.try_get(name)?;
        i32::try_from(value).map_err(|_| decode_error(format!("{name} out of range: {value}")))
    };
    let status: String = row.try_get("status")?;
    Ok(Round {
        round_id: row.try_get("round_id")?,
        region: region(&row.try_get::<String, _>("region")?)?,
        year: int("year")?,
        number: int("number")?,
        starts_on: date(&row.try_get::<String, _>("starts_on")?)?,
        ends_on: date(&row.try_get::<String, _>("ends_on")?)?,
        communes: Vec::new(),
        rations: Rations {
            child: row.try_get("child_grams")?,
            pregnant_woman: row.try_get("pregnant_woman_grams")?,
            lactating_woman: row.try_get("lactating_woman_grams")?,
        },
        status: RoundStatus::from_code(&status)
            .ok_or_else(|| decode_error(format!("unknown round status {status}")))?,
        opened_at: timestamp::parse(&row.try_get::<String, _>("opened_at")?)?,
        closed_on: row
            .try_get::<Option<String>, _>("closed_on")?
            .as_deref()
            .map(date)
            .transpose()?,
    })
}
