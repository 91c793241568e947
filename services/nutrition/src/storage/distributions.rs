//! Rations given.

use std::collections::HashMap;

use jigi_common::date::format_date;
use jigi_storage::sql::{self, Placeholders};
use jigi_storage::{Conn, StorageError, ToSql, params, timestamp};

use super::{ROWS_PER_INSERT, decode_error};
use crate::domain::model::{Distribution, Group, GroupCounts};

const COLUMNS: usize = 12;

/// Stores distributions (their lot draws are stock movements, stored apart).
pub fn insert(conn: &mut Conn, distributions: &[Distribution]) -> Result<(), StorageError> {
    let recorded_at = timestamp::now();
    for chunk in distributions.chunks(ROWS_PER_INSERT) {
        let statement = format!(
            "INSERT INTO distributions (distribution_id, round_id, member_id, household_id, beneficiary_group, grams, \
             warehouse_id, cercle, commune, village, distributed_on, recorded_at) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), COLUMNS)
        );
        // Values that must be formatted first, borrowed by the statement.
        let formatted: Vec<(&'static str, String)> = chunk
            .iter()
            .map(|d| (d.group.code(), format_date(d.distributed_on)))
            .collect();
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * COLUMNS);
        for (d, (group, distributed_on)) in chunk.iter().zip(&formatted) {
            values.extend([
                &d.distribution_id as &dyn ToSql,
                &d.round_id,
                &d.member_id,
                &d.household_id,
                group,
                &d.grams,
                &d.warehouse_id,
                &d.location.cercle,
                &d.location.commune,
                &d.location.village,
                distributed_on,
                &recorded_at,
            ]);
        }
        conn.pipeline(&statement, &values)?;
    }
    Ok(())
}

/// Which of these people already received in the round, and by which distribution.
pub fn already_received(
    conn: &mut Conn,
    round_id: &str,
    member_ids: &[&str],
) -> Result<HashMap<String, String>, StorageError> {
    let mut found = HashMap::new();
    for chunk in member_ids.chunks(sql::MAX_BINDS - 1) {
        let mut placeholders = Placeholders::for_connection(conn);
        let statement = format!(
            "SELECT member_id, distribution_id FROM distributions WHERE round_id = {} AND member_id IN ({})",
            placeholders.one(),
            placeholders.list(chunk.len())
        );
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() + 1);
        values.push(&round_id);
        values.extend(chunk.iter().map(|id| id as &dyn ToSql));
        conn.query_each(&statement, &values, |row| {
            found.insert(row.get(0)?, row.get(1)?);
            Ok(())
        })?;
    }
    Ok(found)
}

/// What a round gave in each commune: people reached by group, and grams.
pub fn reached_by_commune(
    conn: &mut Conn,
    round_id: &str,
) -> Result<HashMap<String, (GroupCounts, i64)>, StorageError> {
    let mut reached: HashMap<String, (GroupCounts, i64)> = HashMap::new();
    conn.query_each(
        "SELECT commune, beneficiary_group, COUNT(*), CAST(SUM(grams) AS BIGINT) FROM distributions \
         WHERE round_id = $1 GROUP BY commune, beneficiary_group",
        params![round_id],
        |row| {
            let code: String = row.get(1)?;
            let group = Group::from_code(&code).ok_or_else(|| decode_error(format!("unknown group {code}")))?;
            let entry = reached.entry(row.get(0)?).or_default();
            entry.0.add(group, row.get(2)?);
            entry.1 += row.get::<i64>(3)?;
            Ok(())
        },
    )?;
    Ok(reached)
}

/// Number of distributions stored (for audits and benchmarks).
pub fn count(conn: &mut Conn) -> Result<i64, StorageError> {
    conn.query_scalar("SELECT COUNT(*) FROM distributions", params![])
}
