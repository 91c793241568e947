//! Rations given.

use std::collections::HashMap;

use jigi_common::date::format_date;
use jigi_storage::sql::{self, Placeholders};
use jigi_storage::timestamp;
use sqlx::{AnyConnection, AssertSqlSafe};

use super::decode_error;
use crate::domain::model::{Distribution, Group, GroupCounts};

const COLUMNS: usize = 12;

/// Stores distributions (their lot draws are stock movements, stored apart).
pub async fn insert(conn: &mut AnyConnection, distributions: &[Distribution]) -> Result<(), sqlx::Error> {
    let recorded_at = timestamp::now();
    for chunk in distributions.chunks(sql::rows_per_statement(COLUMNS)) {
        let statement = format!(
            "INSERT INTO distributions (distribution_id, round_id, member_id, household_id, beneficiary_group, grams, \
             warehouse_id, cercle, commune, village, distributed_on, recorded_at) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), COLUMNS)
        );
        let mut query = sqlx::query(AssertSqlSafe(statement));
        for d in chunk {
            query = query
                .bind(d.distribution_id.clone())
                .bind(d.round_id.clone())
                .bind(d.member_id.clone())
                .bind(d.household_id.clone())
                .bind(d.group.code())
                .bind(d.grams)
                .bind(d.warehouse_id.clone())
                .bind(d.location.cercle.clone())
                .bind(d.location.commune.clone())
                .bind(d.location.village.clone())
                .bind(format_date(d.distributed_on))
                .bind(recorded_at.clone());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Which of these people already received in the round, and by which distribution.
pub async fn already_received(
    conn: &mut AnyConnection,
    round_id: &str,
    member_ids: &[&str],
) -> Result<HashMap<String, String>, sqlx::Error> {
    let mut found = HashMap::new();
    for chunk in member_ids.chunks(sql::MAX_BINDS - 1) {
        let mut placeholders = Placeholders::for_connection(conn);
        let statement = format!(
            "SELECT member_id, distribution_id FROM distributions WHERE round_id = {} AND member_id IN ({})",
            placeholders.one(),
            placeholders.list(chunk.len())
        );
        let mut query = sqlx::query_as::<_, (String, String)>(AssertSqlSafe(statement)).bind(round_id);
        for id in chunk {
            query = query.bind(*id);
        }
        found.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(found)
}

/// What a round gave in each commune: people reached by group, and grams.
pub async fn reached_by_commune(
    conn: &mut AnyConnection,
    round_id: &str,
) -> Result<HashMap<String, (GroupCounts, i64)>, sqlx::Error> {
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT commune, beneficiary_group, COUNT(*), CAST(SUM(grams) AS BIGINT) FROM distributions \
         WHERE round_id = $1 GROUP BY commune, beneficiary_group",
    )
    .bind(round_id)
    .fetch_all(conn)
    .await?;
    let mut reached: HashMap<String, (GroupCounts, i64)> = HashMap::new();
    for (commune, group, count, grams) in rows {
        let group = Group::from_code(&group).ok_or_else(|| decode_error(format!("unknown group {group}")))?;
        let entry = reached.entry(commune).or_default();
        entry.0.add(group, count);
        entry.1 += grams;
    }
    Ok(reached)
}

/// Number of distributions stored (for tests and benchmarks).
pub async fn count(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM distributions")
        .fetch_one(conn)
        .await
}
