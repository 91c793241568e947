//! Payment cycles, their communes, agents and frozen totals.

use chrono::{DateTime, Utc};
use jigi_common::{Fcfa, Period, Region};
use jigi_storage::sql::{self, Placeholders};
use jigi_storage::{Row, timestamp};
use sqlx::{AnyConnection, AssertSqlSafe, Row as _};

use crate::domain::model::{AgentCode, Assignment, Channel, Cycle, CycleStatus, FundingSource, Place, Totals};

const COLUMNS: &str = "cycle_id, region, period, funding_source, amount_per_household, status, \
    frozen_count, frozen_amount, control_count, control_amount, paid_count, paid_amount, \
    prepared_by, frozen_by, approved_by, ended_by, cancel_reason, opened_at, frozen_at, approved_at, ended_at";

fn decode_error(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("bad stored {what} {value:?}").into())
}

fn instant(row: &Row, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    row.try_get::<Option<String>, _>(column)?
        .map(|text| timestamp::parse(&text))
        .transpose()
}

fn cycle(row: &Row) -> Result<Cycle, sqlx::Error> {
    let text = |column: &str| row.try_get::<String, _>(column);
    let region = text("region")?;
    let period = text("period")?;
    let source = text("funding_source")?;
    let status = text("status")?;
    Ok(Cycle {
        cycle_id: text("cycle_id")?,
        region: region.parse::<Region>().map_err(|_| decode_error("region", &region))?,
        period: period.parse::<Period>().map_err(|_| decode_error("period", &period))?,
        funding_source: FundingSource::from_code(&source).ok_or_else(|| decode_error("funding source", &source))?,
        amount_per_household: Fcfa::new(row.try_get("amount_per_household")?),
        status: CycleStatus::from_code(&status).ok_or_else(|| decode_error("cycle status", &status))?,
        frozen: Totals::new(row.try_get("frozen_count")?, row.try_get("frozen_amount")?),
        control: Totals::new(row.try_get("control_count")?, row.try_get("control_amount")?),
        paid: Totals::new(row.try_get("paid_count")?, row.try_get("paid_amount")?),
        prepared_by: text("prepared_by")?,
        frozen_by: row.try_get("frozen_by")?,
        approved_by: row.try_get("approved_by")?,
        ended_by: row.try_get("ended_by")?,
        cancel_reason: row.try_get("cancel_reason")?,
        opened_at: timestamp::parse(&text("opened_at")?)?,
        frozen_at: instant(row, "frozen_at")?,
        approved_at: instant(row, "approved_at")?,
        ended_at: instant(row, "ended_at")?,
        communes: Vec::new(),
        agents: Vec::new(),
    })
}

/// Stores a new cycle with its communes.
pub async fn insert_cycle(conn: &mut AnyConnection, c: &Cycle) -> Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO payment_cycles ({COLUMNS}) VALUES {}",
        Placeholders::for_connection(conn).rows(1, 21)
    )))
    .bind(c.cycle_id.clone())
    .bind(c.region.slug())
    .bind(c.period.to_string())
    .bind(c.funding_source.code())
    .bind(c.amount_per_household.francs())
    .bind(c.status.code())
    .bind(c.frozen.count)
    .bind(c.frozen.amount.francs())
    .bind(c.control.count)
    .bind(c.control.amount.francs())
    .bind(c.paid.count)
    .bind(c.paid.amount.francs())
    .bind(c.prepared_by.clone())
    .bind(c.frozen_by.clone())
    .bind(c.approved_by.clone())
    .bind(c.ended_by.clone())
    .bind(c.cancel_reason.clone())
    .bind(timestamp::format(c.opened_at))
    .bind(c.frozen_at.map(timestamp::format))
    .bind(c.approved_at.map(timestamp::format))
    .bind(c.ended_at.map(timestamp::format))
    .execute(&mut *conn)
    .await?;
    for commune in &c.communes {
        sqlx::query("INSERT INTO cycle_communes (cycle_id, commune) VALUES ($1, $2)")
            .bind(c.cycle_id.clone())
            .bind(commune.clone())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Rewrites a cycle's state, totals and people (not its communes or agents).
pub async fn update_cycle(conn: &mut AnyConnection, c: &Cycle) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payment_cycles SET status = $1, frozen_count = $2, frozen_amount = $3, control_count = $4, \
         control_amount = $5, paid_count = $6, paid_amount = $7, frozen_by = $8, approved_by = $9, ended_by = $10, \
         cancel_reason = $11, frozen_at = $12, approved_at = $13, ended_at = $14 WHERE cycle_id = $15",
    )
    .bind(c.status.code())
    .bind(c.frozen.count)
    .bind(c.frozen.amount.francs())
    .bind(c.control.count)
    .bind(c.control.amount.francs())
    .bind(c.paid.count)
    .bind(c.paid.amount.francs())
    .bind(c.frozen_by.clone())
    .bind(c.approved_by.clone())
    .bind(c.ended_by.clone())
    .bind(c.cancel_reason.clone())
    .bind(c.frozen_at.map(timestamp::format))
    .bind(c.approved_at.map(timestamp::format))
    .bind(c.ended_at.map(timestamp::format))
    .bind(c.cycle_id.clone())
    .execute(conn)
    .await?;
    Ok(())
}

/// A cycle with its communes and agents.
pub async fn load_cycle(conn: &mut AnyConnection, cycle_id: &str) -> Result<Option<Cycle>, sqlx::Error> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payment_cycles WHERE cycle_id = $1"
    )))
    .bind(cycle_id.to_owned())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut cycle = cycle(&row)?;
    complete(conn, &mut cycle).await?;
    Ok(Some(cycle))
}

async fn complete(conn: &mut AnyConnection, cycle: &mut Cycle) -> Result<(), sqlx::Error> {
    cycle.communes = sqlx::query_scalar("SELECT commune FROM cycle_communes WHERE cycle_id = $1 ORDER BY commune")
        .bind(cycle.cycle_id.clone())
        .fetch_all(&mut *conn)
        .await?;
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT commune, agent_code, channel FROM cycle_agents WHERE cycle_id = $1 ORDER BY commune")
            .bind(cycle.cycle_id.clone())
            .fetch_all(&mut *conn)
            .await?;
    cycle.agents = rows
        .into_iter()
        .map(|(commune, agent, channel)| {
            Ok(Assignment {
                commune,
                agent: AgentCode::parse(&agent).map_err(|_| decode_error("agent code", &agent))?,
                channel: Channel::from_code(&channel).ok_or_else(|| decode_error("channel", &channel))?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(())
}

/// The live (not cancelled) cycle of a period and funding source, if any.
pub async fn live_cycle_id(
    conn: &mut AnyConnection,
    period: Period,
    source: FundingSource,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT cycle_id FROM payment_cycles WHERE period = $1 AND funding_source = $2 AND status <> 'cancelled'",
    )
    .bind(period.to_string())
    .bind(source.code())
    .fetch_optional(conn)
    .await
}

/// Cycles, newest first (IDs are UUIDv7, so ID order is time order).
pub async fn list_cycles(
    conn: &mut AnyConnection,
    period: Option<Period>,
    status: Option<CycleStatus>,
    before: Option<&str>,
    limit: usize,
) -> Result<Vec<Cycle>, sqlx::Error> {
    let mut filter = sql::Filter::new();
    if let Some(period) = period {
        filter.add("period = {}", sql::Value::Text(period.to_string()));
    }
    if let Some(status) = status {
        filter.add("status = {}", sql::Value::Text(status.code().to_owned()));
    }
    if let Some(before) = before {
        filter.add("cycle_id < {}", sql::Value::Text(before.to_owned()));
    }
    let statement = format!(
        "SELECT {COLUMNS} FROM payment_cycles{} ORDER BY cycle_id DESC LIMIT ${}",
        filter.where_sql(),
        filter.next_placeholder()
    );
    let rows = sql::bind_values(sqlx::query(AssertSqlSafe(statement)), filter.values())
        .bind(limit as i64)
        .fetch_all(&mut *conn)
        .await?;
    let mut cycles = rows.iter().map(cycle).collect::<Result<Vec<_>, _>>()?;
    for cycle in &mut cycles {
        complete(conn, cycle).await?;
    }
    Ok(cycles)
}

/// Sets (or changes) the agents of communes.
pub async fn assign_agents(
    conn: &mut AnyConnection,
    cycle_id: &str,
    assignments: &[Assignment],
    assigned_by: &str,
) -> Result<(), sqlx::Error> {
    let now = timestamp::now();
    for a in assignments {
        sqlx::query(
            "INSERT INTO cycle_agents (cycle_id, commune, agent_code, channel, assigned_by, assigned_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (cycle_id, commune) DO UPDATE SET \
             agent_code = excluded.agent_code, channel = excluded.channel, assigned_by = excluded.assigned_by, \
             assigned_at = excluded.assigned_at",
        )
        .bind(cycle_id.to_owned())
        .bind(a.commune.clone())
        .bind(a.agent.as_str().to_owned())
        .bind(a.channel.code())
        .bind(assigned_by.to_owned())
        .bind(now.clone())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A commune's share of a frozen cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommuneShare {
    pub place: Place,
    pub totals: Totals,
}

/// The frozen totals per commune, in commune order.
pub async fn commune_totals(conn: &mut AnyConnection, cycle_id: &str) -> Result<Vec<CommuneShare>, sqlx::Error> {
    let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT region, cercle, commune, households, amount FROM cycle_commune_totals \
         WHERE cycle_id = $1 ORDER BY commune",
    )
    .bind(cycle_id.to_owned())
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(region, cercle, commune, count, amount)| CommuneShare {
            place: Place {
                region,
                cercle,
                commune,
                village: String::new(),
            },
            totals: Totals::new(count, amount),
        })
        .collect())
}

/// Communes of the frozen list without an agent.
pub async fn unassigned_communes(conn: &mut AnyConnection, cycle_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT t.commune FROM cycle_commune_totals t WHERE t.cycle_id = $1 AND NOT EXISTS \
         (SELECT 1 FROM cycle_agents a WHERE a.cycle_id = t.cycle_id AND a.commune = t.commune) ORDER BY t.commune",
    )
    .bind(cycle_id.to_owned())
    .fetch_all(conn)
    .await
}
