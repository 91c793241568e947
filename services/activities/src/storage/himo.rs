//! HIMO sites, workers, attendance and wage sheets.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use jigi_common::date::format_date;
use jigi_common::{Fcfa, Period};
use jigi_storage::sql::{self, Placeholders};
use jigi_storage::{Conn, Row, StorageError, ToSql, params, timestamp};

use super::{date, decode_error, optional_date, region};
use crate::domain::himo::{Site, SiteStatus, SiteType};
use crate::domain::model::Location;

const SITE_COLUMNS: &str = "site_id, site_type, region, cercle, commune, status, planned_start, validated_on, \
    started_on, closed_on, planned_person_days, daily_wage";

pub fn insert_site(conn: &mut Conn, site: &Site) -> Result<(), StorageError> {
    conn.pipeline(
        &format!("INSERT INTO himo_sites ({SITE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"),
        params![
            site.site_id,
            site.site_type.code(),
            site.location.region.slug(),
            site.location.cercle,
            site.location.commune,
            site.status.code(),
            format_date(site.planned_start),
            site.validated_on.map(format_date),
            site.started_on.map(format_date),
            site.closed_on.map(format_date),
            site.planned_person_days,
            site.daily_wage.francs()
        ],
    )?;
    Ok(())
}

/// Saves a site's status and dates.
pub fn update_site(conn: &mut Conn, site: &Site) -> Result<(), StorageError> {
    conn.pipeline(
        "UPDATE himo_sites SET status = $1, validated_on = $2, started_on = $3, closed_on = $4 WHERE site_id = $5",
        params![
            site.status.code(),
            site.validated_on.map(format_date),
            site.started_on.map(format_date),
            site.closed_on.map(format_date),
            site.site_id
        ],
    )?;
    Ok(())
}

pub fn load_site(conn: &mut Conn, site_id: &str) -> Result<Option<Site>, StorageError> {
    conn.query_opt(
        &format!("SELECT {SITE_COLUMNS} FROM himo_sites WHERE site_id = $1"),
        params![site_id],
    )?
    .map(|row| site_from_row(&row))
    .transpose()
}

fn site_from_row(row: &Row) -> Result<Site, StorageError> {
    let site_type: String = row.get(1)?;
    let status: String = row.get(5)?;
    Ok(Site {
        site_id: row.get(0)?,
        site_type: SiteType::from_code(&site_type)
            .ok_or_else(|| decode_error(format!("unknown site type {site_type}")))?,
        location: Location {
            region: region(&row.get::<String>(2)?)?,
            cercle: row.get(3)?,
            commune: row.get(4)?,
            village: String::new(),
        },
        status: SiteStatus::from_code(&status).ok_or_else(|| decode_error(format!("unknown site status {status}")))?,
        planned_start: date(&row.get::<String>(6)?)?,
        validated_on: optional_date(row.get(7)?)?,
        started_on: optional_date(row.get(8)?)?,
        closed_on: optional_date(row.get(9)?)?,
        planned_person_days: row.get(10)?,
        daily_wage: Fcfa::new(row.get(11)?),
    })
}

/// Workers and person-days of a site, and its last day worked.
pub fn site_figures(conn: &mut Conn, site_id: &str) -> Result<(i64, i64, Option<NaiveDate>), StorageError> {
    let workers: i64 = conn.query_scalar("SELECT COUNT(*) FROM himo_workers WHERE site_id = $1", params![site_id])?;
    let row = conn.query_one(
        "SELECT COUNT(*), MAX(worked_on) FROM himo_attendance WHERE site_id = $1",
        params![site_id],
    )?;
    Ok((workers, row.get(0)?, optional_date(row.get(1)?)?))
}

/// A household's worker: `(member_id, site_id)`.
pub fn worker_of(conn: &mut Conn, household_id: &str) -> Result<Option<(String, String)>, StorageError> {
    conn.query_opt(
        "SELECT member_id, site_id FROM himo_workers WHERE household_id = $1",
        params![household_id],
    )?
    .map(|row| Ok((row.get(0)?, row.get(1)?)))
    .transpose()
}

pub fn insert_worker(
    conn: &mut Conn,
    household_id: &str,
    member_id: &str,
    site_id: &str,
    on: NaiveDate,
) -> Result<(), StorageError> {
    conn.pipeline(
        "INSERT INTO himo_workers (household_id, member_id, site_id, assigned_on) VALUES ($1, $2, $3, $4)",
        params![household_id, member_id, site_id, format_date(on)],
    )?;
    Ok(())
}

/// The workers of a site among `member_ids`: member ID to household ID.
pub fn workers_of_site(
    conn: &mut Conn,
    site_id: &str,
    member_ids: &[&str],
) -> Result<HashMap<String, String>, StorageError> {
    let mut found = HashMap::with_capacity(member_ids.len());
    for chunk in member_ids.chunks(sql::MAX_BINDS - 1) {
        let mut placeholders = Placeholders::for_connection(conn);
        let site = placeholders.one();
        let statement = format!(
            "SELECT member_id, household_id FROM himo_workers WHERE site_id = {site} AND member_id IN ({})",
            placeholders.list(chunk.len())
        );
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() + 1);
        values.push(&site_id);
        values.extend(chunk.iter().map(|id| id as &dyn ToSql));
        conn.query_each(&statement, &values, |row| {
            found.insert(row.get(0)?, row.get(1)?);
            Ok(())
        })?;
    }
    Ok(found)
}

/// Of these members, those with a day recorded on `on` (on any site).
pub fn already_worked(conn: &mut Conn, member_ids: &[&str], on: NaiveDate) -> Result<Vec<String>, StorageError> {
    let on = format_date(on);
    let mut found = Vec::new();
    for chunk in member_ids.chunks(sql::MAX_BINDS - 1) {
        let mut placeholders = Placeholders::for_connection(conn);
        let day = placeholders.one();
        let statement = format!(
            "SELECT member_id FROM himo_attendance WHERE worked_on = {day} AND member_id IN ({}) ORDER BY member_id",
            placeholders.list(chunk.len())
        );
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() + 1);
        values.push(&on);
        values.extend(chunk.iter().map(|id| id as &dyn ToSql));
        conn.query_each(&statement, &values, |row| {
            found.push(row.get(0)?);
            Ok(())
        })?;
    }
    Ok(found)
}

/// What each of these households earned in a quarter so far (all sites).
pub fn earned_in(
    conn: &mut Conn,
    household_ids: &[&str],
    period: Period,
) -> Result<HashMap<String, Fcfa>, StorageError> {
    let period = period.to_string();
    let mut found = HashMap::with_capacity(household_ids.len());
    for chunk in household_ids.chunks(sql::MAX_BINDS - 1) {
        let mut placeholders = Placeholders::for_connection(conn);
        let p = placeholders.one();
        let statement = format!(
            "SELECT household_id, CAST(SUM(wage) AS BIGINT) FROM himo_attendance WHERE period = {p} AND household_id IN ({}) \
             GROUP BY household_id",
            placeholders.list(chunk.len())
        );
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() + 1);
        values.push(&period);
        values.extend(chunk.iter().map(|id| id as &dyn ToSql));
        conn.query_each(&statement, &values, |row| {
            found.insert(row.get(0)?, Fcfa::new(row.get(1)?));
            Ok(())
        })?;
    }
    Ok(found)
}

/// One day worked by one member.
#[derive(Debug, Clone)]
pub struct Day<'a> {
    pub member_id: &'a str,
    pub household_id: &'a str,
}

/// Stores a day's attendance on a site, each worker earning `wage`.
pub fn insert_attendance(
    conn: &mut Conn,
    site_id: &str,
    on: NaiveDate,
    period: Period,
    wage: Fcfa,
    days: &[Day<'_>],
) -> Result<(), StorageError> {
    let (on, period, wage) = (format_date(on), period.to_string(), wage.francs());
    let per_statement = sql::rows_per_statement(6);
    for chunk in days.chunks(per_statement) {
        let statement = format!(
            "INSERT INTO himo_attendance (member_id, worked_on, household_id, site_id, period, wage) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), 6)
        );
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 6);
        for day in chunk {
            values.extend([
                &day.member_id as &dyn ToSql,
                &on,
                &day.household_id,
                &site_id,
                &period,
                &wage,
            ]);
        }
        conn.pipeline(&statement, &values)?;
    }
    Ok(())
}

/// Whether a site's wages for a quarter are closed, and when.
pub fn wage_period_closed(
    conn: &mut Conn,
    site_id: &str,
    period: Period,
) -> Result<Option<DateTime<Utc>>, StorageError> {
    conn.query_opt(
        "SELECT closed_at FROM himo_wage_periods WHERE site_id = $1 AND period = $2",
        params![site_id, period.to_string()],
    )?
    .map(|row| row.get(0))
    .transpose()
}

/// One household's wages for a quarter on a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WageLine {
    pub household_id: String,
    pub days: i64,
    pub amount: Fcfa,
}

/// Days and wages per household of a site's quarter, computed from attendance.
pub fn compute_wages(conn: &mut Conn, site_id: &str, period: Period) -> Result<Vec<WageLine>, StorageError> {
    let mut lines = Vec::new();
    conn.query_each(
        "SELECT household_id, COUNT(*), CAST(SUM(wage) AS BIGINT) FROM himo_attendance WHERE site_id = $1 AND period = $2 \
         GROUP BY household_id ORDER BY household_id",
        params![site_id, period.to_string()],
        |row| {
            lines.push(WageLine {
                household_id: row.get(0)?,
                days: row.get(1)?,
                amount: Fcfa::new(row.get(2)?),
            });
            Ok(())
        },
    )?;
    Ok(lines)
}

/// Fixes a quarter's wage sheet.
pub fn close_wage_period(
    conn: &mut Conn,
    site_id: &str,
    period: Period,
    closed_at: DateTime<Utc>,
    lines: &[WageLine],
) -> Result<(), StorageError> {
    let period = period.to_string();
    conn.pipeline(
        "INSERT INTO himo_wage_periods (site_id, period, closed_at) VALUES ($1, $2, $3)",
        params![site_id, period, timestamp::format(closed_at)],
    )?;
    let amounts: Vec<i64> = lines.iter().map(|l| l.amount.francs()).collect();
    let per_statement = sql::rows_per_statement(5);
    for (chunk_index, chunk) in lines.chunks(per_statement).enumerate() {
        let statement = format!(
            "INSERT INTO himo_wages (site_id, period, household_id, days, amount) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), 5)
        );
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 5);
        for (i, line) in chunk.iter().enumerate() {
            values.extend([
                &site_id as &dyn ToSql,
                &period,
                &line.household_id,
                &line.days,
                &amounts[chunk_index * per_statement + i],
            ]);
        }
        conn.pipeline(&statement, &values)?;
    }
    Ok(())
}

/// A closed wage sheet.
pub fn wages(conn: &mut Conn, site_id: &str, period: Period) -> Result<Vec<WageLine>, StorageError> {
    conn.query(
        "SELECT household_id, days, amount FROM himo_wages WHERE site_id = $1 AND period = $2 ORDER BY household_id",
        params![site_id, period.to_string()],
    )?
    .iter()
    .map(|row| {
        Ok(WageLine {
            household_id: row.get(0)?,
            days: row.get(1)?,
            amount: Fcfa::new(row.get(2)?),
        })
    })
    .collect()
}
