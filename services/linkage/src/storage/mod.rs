//! The linkage index's tables and queries.
//!
//! - `linkage_households`: every household whose keys were indexed, with
//!   its region, the registry's version of it and whether it is active;
//! - `match_keys`: (key ID, value) → household, the index itself. Values are
//!   keyed pseudonyms: nothing here is a name, an ID-card number or a date;
//! - `duplicates`: every pair ever suspected, open or resolved. A resolved
//!   pair stays, so it is never flagged again.

pub mod transfers;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use jigi_common::{Component, Region};
use jigi_storage::sql::{self, Placeholders};
use jigi_storage::{Conn, Migration, Row, StorageError, ToSql, params, timestamp};

use crate::domain::{DoublePayment, Duplicate, Holder, KeyedHousehold, MatchKind, Resolution, Resolved, Side};

pub const MIGRATIONS: &[Migration] = &[
    Migration::portable(
        "linkage",
        1,
        "indexed households, match keys, duplicates",
        "
    CREATE TABLE linkage_households (
        household_id TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        version BIGINT NOT NULL,
        active BIGINT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE match_keys (
        key_id TEXT NOT NULL,
        value TEXT NOT NULL,
        household_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        PRIMARY KEY (value, key_id, household_id, kind)
    );
    CREATE INDEX match_keys_household ON match_keys (household_id);
    CREATE TABLE duplicates (
        duplicate_id TEXT PRIMARY KEY,
        first_household TEXT NOT NULL,
        first_region TEXT NOT NULL,
        second_household TEXT NOT NULL,
        second_region TEXT NOT NULL,
        matched TEXT NOT NULL,
        suspected_at TEXT NOT NULL,
        resolution TEXT,
        kept_household_id TEXT,
        resolved_at TEXT
    );
    CREATE INDEX duplicates_first_region ON duplicates (first_region, suspected_at);
    CREATE INDEX duplicates_second_region ON duplicates (second_region, suspected_at);
    CREATE INDEX duplicates_first_household ON duplicates (first_household);
    CREATE INDEX duplicates_second_household ON duplicates (second_household);
    ",
    ),
    // Payments made (from the national stream's public payment.made
    // events: IDs only), to name both payments when the two households of
    // a duplicate were paid for the same quarter.
    Migration::portable(
        "linkage",
        2,
        "payments seen and possible double payments",
        "
    CREATE TABLE payments_seen (
        household_id TEXT NOT NULL,
        cycle_id TEXT NOT NULL,
        period TEXT NOT NULL,
        region TEXT NOT NULL,
        PRIMARY KEY (household_id, cycle_id)
    );
    CREATE TABLE double_payments (
        duplicate_id TEXT NOT NULL,
        period TEXT NOT NULL,
        first_payment_id TEXT NOT NULL,
        second_payment_id TEXT NOT NULL,
        found_at TEXT NOT NULL,
        PRIMARY KEY (duplicate_id, period)
    );
    ",
    ),
    // Households that moved between regions (IDs, dates and committee
    // references only), relayed to the destination once it is known.
    Migration::portable(
        "linkage",
        3,
        "moves between regions and the orders sent to destinations",
        "
    CREATE TABLE transfers (
        transfer_id TEXT PRIMARY KEY,
        origin_region TEXT NOT NULL,
        origin_household TEXT NOT NULL,
        destination_region TEXT NOT NULL,
        destination_household TEXT,
        transferred_on TEXT NOT NULL,
        received_at TEXT NOT NULL,
        last_period_paid TEXT,
        ordered_at TEXT
    );
    CREATE INDEX transfers_origin_household ON transfers (origin_household);
    CREATE TABLE transfer_enrolments (
        transfer_id TEXT NOT NULL,
        component TEXT NOT NULL,
        enrolled_on TEXT NOT NULL,
        committee_decision TEXT NOT NULL,
        committee_override BIGINT NOT NULL,
        PRIMARY KEY (transfer_id, component)
    );
    ALTER TABLE payments_seen ADD COLUMN component TEXT NOT NULL DEFAULT 'TM';
    ",
    ),
];

/// The version of a household already indexed.
pub fn indexed_version(conn: &mut Conn, household_id: &str) -> Result<Option<i64>, StorageError> {
    conn.query_scalar_opt(
        "SELECT version FROM linkage_households WHERE household_id = $1",
        params![household_id],
    )
}

/// Replaces a household's keys with a new set.
pub fn replace_keys(conn: &mut Conn, household: &KeyedHousehold) -> Result<(), StorageError> {
    let now = timestamp::now();
    conn.pipeline(
        "INSERT INTO linkage_households (household_id, region, version, active, updated_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (household_id) DO UPDATE SET region = excluded.region, version = excluded.version, \
         active = excluded.active, updated_at = excluded.updated_at",
        params![
            household.household_id.as_str(),
            household.region.slug(),
            household.version,
            household.active,
            now.as_str()
        ],
    )?;
    conn.pipeline(
        "DELETE FROM match_keys WHERE household_id = $1",
        params![household.household_id.as_str()],
    )?;
    const COLUMNS: usize = 4;
    for chunk in household.keys.chunks(sql::rows_per_statement(COLUMNS)) {
        let statement = format!(
            "INSERT INTO match_keys (key_id, value, household_id, kind) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), COLUMNS)
        );
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * COLUMNS);
        let kinds: Vec<&str> = chunk.iter().map(|key| key.kind.code()).collect();
        for (key, kind) in chunk.iter().zip(&kinds) {
            values.extend([&key.key_id as &dyn ToSql, &key.value, &household.household_id, kind]);
        }
        conn.pipeline(&statement, &values)?;
    }
    Ok(())
}

/// Active households other than `household_id` holding any of its values.
pub fn holders(conn: &mut Conn, household: &KeyedHousehold) -> Result<Vec<Holder>, StorageError> {
    let values: BTreeSet<&str> = household.keys.iter().map(|k| k.value.as_str()).collect();
    let values: Vec<&str> = values.into_iter().collect();
    let mut found = Vec::new();
    for chunk in values.chunks(sql::MAX_BINDS - 1) {
        let mut placeholders = Placeholders::for_connection(conn);
        let (me, list) = (placeholders.one(), placeholders.list(chunk.len()));
        let statement = format!(
            "SELECT m.household_id, h.region, m.key_id, m.value FROM match_keys m \
             JOIN linkage_households h ON h.household_id = m.household_id \
             WHERE h.active = 1 AND m.household_id <> {me} AND m.value IN ({list})"
        );
        let mut binds: Vec<&dyn ToSql> = vec![&household.household_id];
        binds.extend(chunk.iter().map(|v| v as &dyn ToSql));
        for row in conn.query(&statement, &binds)? {
            let region: String = row.get(1)?;
            found.push(Holder {
                household_id: row.get(0)?,
                region: region
                    .parse()
                    .map_err(|_| StorageError::Decode(format!("region {region:?}")))?,
                key_id: row.get(2)?,
                value: row.get(3)?,
            });
        }
    }
    Ok(found)
}

const DUPLICATE_COLUMNS: &str = "duplicate_id, first_household, first_region, second_household, second_region, \
     matched, suspected_at, resolution, kept_household_id, resolved_at";

/// One duplicate by ID.
pub fn duplicate(conn: &mut Conn, duplicate_id: &str) -> Result<Option<Duplicate>, StorageError> {
    let found = conn
        .query_opt(
            &format!("SELECT {DUPLICATE_COLUMNS} FROM duplicates WHERE duplicate_id = $1"),
            params![duplicate_id],
        )?
        .map(|row| from_row(&row))
        .transpose()?;
    found.map(|d| with_double_payments(conn, d)).transpose()
}

fn with_double_payments(conn: &mut Conn, mut duplicate: Duplicate) -> Result<Duplicate, StorageError> {
    duplicate.double_payments = double_payments(conn, &duplicate.duplicate_id)?;
    Ok(duplicate)
}

/// Records a new suspicion.
pub fn insert_duplicate(conn: &mut Conn, duplicate: &Duplicate) -> Result<(), StorageError> {
    conn.pipeline(
        "INSERT INTO duplicates (duplicate_id, first_household, first_region, second_household, second_region, \
         matched, suspected_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        params![
            duplicate.duplicate_id.as_str(),
            duplicate.first.household_id.as_str(),
            duplicate.first.region.slug(),
            duplicate.second.household_id.as_str(),
            duplicate.second.region.slug(),
            matched_text(&duplicate.matched).as_str(),
            timestamp::format(duplicate.suspected_at).as_str()
        ],
    )?;
    Ok(())
}

/// Records a resolution.
pub fn save_resolution(conn: &mut Conn, duplicate_id: &str, resolved: &Resolved) -> Result<(), StorageError> {
    conn.pipeline(
        "UPDATE duplicates SET resolution = $1, kept_household_id = $2, resolved_at = $3 WHERE duplicate_id = $4",
        params![
            resolved.resolution.code(),
            resolved.kept_household_id.as_deref(),
            timestamp::format(resolved.resolved_at).as_str(),
            duplicate_id
        ],
    )?;
    Ok(())
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only duplicates touching one of these regions; `None`: every region.
    pub regions: Option<Vec<Region>>,
    pub open_only: bool,
}

/// Duplicates, open ones first then newest, `limit` from `offset`.
pub fn list(conn: &mut Conn, filter: &ListFilter, offset: usize, limit: usize) -> Result<Vec<Duplicate>, StorageError> {
    let mut conditions = Vec::new();
    let slugs: Vec<String> = filter.regions.iter().flatten().map(|r| r.slug().to_owned()).collect();
    let mut binds: Vec<&dyn ToSql> = Vec::new();
    let mut placeholders = Placeholders::for_connection(conn);
    if filter.regions.is_some() {
        if slugs.is_empty() {
            return Ok(Vec::new());
        }
        let first = placeholders.list(slugs.len());
        let second = placeholders.list(slugs.len());
        conditions.push(format!("(first_region IN ({first}) OR second_region IN ({second}))"));
        binds.extend(slugs.iter().map(|s| s as &dyn ToSql));
        binds.extend(slugs.iter().map(|s| s as &dyn ToSql));
    }
    if filter.open_only {
        conditions.push("resolution IS NULL".into());
    }
    let where_sql = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let (limit, offset) = (limit as i64, offset as i64);
    binds.push(&limit);
    binds.push(&offset);
    let (limit_at, offset_at) = (placeholders.one(), placeholders.one());
    let statement = format!(
        "SELECT {DUPLICATE_COLUMNS} FROM duplicates{where_sql} \
         ORDER BY (CASE WHEN resolution IS NULL THEN 0 ELSE 1 END), suspected_at DESC, duplicate_id \
         LIMIT {limit_at} OFFSET {offset_at}"
    );
    let found: Vec<Duplicate> = conn
        .query(&statement, &binds)?
        .iter()
        .map(from_row)
        .collect::<Result<_, _>>()?;
    found.into_iter().map(|d| with_double_payments(conn, d)).collect()
}

fn matched_text(matched: &BTreeSet<MatchKind>) -> String {
    matched.iter().map(|m| m.code()).collect::<Vec<_>>().join(",")
}

fn from_row(row: &Row) -> Result<Duplicate, StorageError> {
    let region = |text: String| {
        text.parse::<Region>()
            .map_err(|_| StorageError::Decode(format!("region {text:?}")))
    };
    let time = |text: String| timestamp::parse(&text);
    let matched: String = row.get(5)?;
    let resolution: Option<String> = row.get(7)?;
    let resolved_at: Option<String> = row.get(9)?;
    let resolution = match (resolution, resolved_at) {
        (Some(code), Some(at)) => Some(Resolved {
            resolution: Resolution::from_code(&code)
                .ok_or_else(|| StorageError::Decode(format!("resolution {code:?}")))?,
            kept_household_id: row.get(8)?,
            resolved_at: time(at)?,
        }),
        _ => None,
    };
    let suspected_at: DateTime<Utc> = time(row.get(6)?)?;
    Ok(Duplicate {
        duplicate_id: row.get(0)?,
        first: Side {
            household_id: row.get(1)?,
            region: region(row.get(2)?)?,
        },
        second: Side {
            household_id: row.get(3)?,
            region: region(row.get(4)?)?,
        },
        matched: matched.split(',').filter_map(MatchKind::from_code).collect(),
        suspected_at,
        resolution,
        double_payments: Vec::new(),
    })
}

/// Records a payment made (once per household and cycle).
pub fn record_payment(
    conn: &mut Conn,
    household_id: &str,
    cycle_id: &str,
    period: &str,
    region: &str,
    component: Component,
) -> Result<(), StorageError> {
    conn.pipeline(
        "INSERT INTO payments_seen (household_id, cycle_id, period, region, component) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (household_id, cycle_id) DO NOTHING",
        params![household_id, cycle_id, period, region, component.code()],
    )?;
    Ok(())
}

/// The duplicates a household is in, except those resolved as different people.
pub fn duplicates_of(conn: &mut Conn, household_id: &str) -> Result<Vec<Duplicate>, StorageError> {
    conn.query(
        &format!(
            "SELECT {DUPLICATE_COLUMNS} FROM duplicates WHERE (first_household = $1 OR second_household = $1) \
             AND (resolution IS NULL OR resolution <> 'different_people')"
        ),
        params![household_id],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// Quarters in which both households of a duplicate were paid, with a
/// payment of each; records those not recorded yet and returns them.
pub fn find_double_payments(conn: &mut Conn, duplicate: &Duplicate) -> Result<Vec<DoublePayment>, StorageError> {
    let found: Vec<DoublePayment> = conn
        .query(
            "SELECT a.period, MIN(a.cycle_id), MIN(b.cycle_id) FROM payments_seen a \
             JOIN payments_seen b ON b.period = a.period AND b.household_id = $2 \
             WHERE a.household_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM double_payments d WHERE d.duplicate_id = $3 AND d.period = a.period) \
             GROUP BY a.period",
            params![
                duplicate.first.household_id.as_str(),
                duplicate.second.household_id.as_str(),
                duplicate.duplicate_id.as_str()
            ],
        )?
        .iter()
        .map(|row| {
            let (first_cycle, second_cycle): (String, String) = (row.get(1)?, row.get(2)?);
            Ok(DoublePayment {
                period: row.get(0)?,
                first_payment_id: format!("{first_cycle}/{}", duplicate.first.household_id),
                second_payment_id: format!("{second_cycle}/{}", duplicate.second.household_id),
            })
        })
        .collect::<Result<_, StorageError>>()?;
    let now = timestamp::now();
    for double in &found {
        conn.pipeline(
            "INSERT INTO double_payments (duplicate_id, period, first_payment_id, second_payment_id, found_at) \
             VALUES ($1, $2, $3, $4, $5)",
            params![
                duplicate.duplicate_id.as_str(),
                double.period.as_str(),
                double.first_payment_id.as_str(),
                double.second_payment_id.as_str(),
                now.as_str()
            ],
        )?;
    }
    Ok(found)
}

/// The possible double payments recorded for a duplicate.
pub fn double_payments(conn: &mut Conn, duplicate_id: &str) -> Result<Vec<DoublePayment>, StorageError> {
    conn.query(
        "SELECT period, first_payment_id, second_payment_id FROM double_payments WHERE duplicate_id = $1 ORDER BY period",
        params![duplicate_id],
    )?
    .iter()
    .map(|row| {
        Ok(DoublePayment {
            period: row.get(0)?,
            first_payment_id: row.get(1)?,
            second_payment_id: row.get(2)?,
        })
    })
    .collect()
}
