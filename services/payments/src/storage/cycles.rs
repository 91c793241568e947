//! Payment cycles, their communes, agents and frozen totals.

use chrono::{DateTime, Utc};
use jigi_common::{Fcfa, Period, Region};
use jigi_storage::sql::{Filter, Placeholders};
use jigi_storage::{Conn, Owned, Row, StorageError, ToSql, params, timestamp};

use crate::domain::model::{
    AgentCode, Assignment, Channel, Cycle, CycleKind, CycleStatus, FundingSource, Place, Totals,
};

const COLUMNS: &str = "cycle_id, region, period, funding_source, amount_per_household, status, \
    frozen_count, frozen_amount, control_count, control_amount, paid_count, paid_amount, \
    prepared_by, frozen_by, approved_by, ended_by, cancel_reason, opened_at, frozen_at, approved_at, ended_at, kind";
const COLUMN_COUNT: usize = 22;

/// Rows per multi-row `INSERT`: statements of a few fixed sizes, each
/// prepared once.
const ROWS_PER_INSERT: usize = 100;

pub(crate) fn decode_error(what: &str, value: &str) -> StorageError {
    StorageError::Decode(format!("bad stored {what} {value:?}"))
}

fn instant(row: &Row, column: &str) -> Result<Option<DateTime<Utc>>, StorageError> {
    row.get::<Option<String>>(column)?
        .map(|text| timestamp::parse(&text))
        .transpose()
}

fn cycle(row: &Row) -> Result<Cycle, StorageError> {
    let text = |column: &str| row.get::<String>(column);
    let region = text("region")?;
    let period = text("period")?;
    let source = text("funding_source")?;
    let status = text("status")?;
    let kind = text("kind")?;
    Ok(Cycle {
        cycle_id: text("cycle_id")?,
        kind: CycleKind::from_code(&kind).ok_or_else(|| decode_error("cycle kind", &kind))?,
        region: region.parse::<Region>().map_err(|_| decode_error("region", &region))?,
        period: period.parse::<Period>().map_err(|_| decode_error("period", &period))?,
        funding_source: FundingSource::from_code(&source).ok_or_else(|| decode_error("funding source", &source))?,
        amount_per_household: Fcfa::new(row.get("amount_per_household")?),
        status: CycleStatus::from_code(&status).ok_or_else(|| decode_error("cycle status", &status))?,
        frozen: Totals::new(row.get("frozen_count")?, row.get("frozen_amount")?),
        control: Totals::new(row.get("control_count")?, row.get("control_amount")?),
        paid: Totals::new(row.get("paid_count")?, row.get("paid_amount")?),
        prepared_by: text("prepared_by")?,
        frozen_by: row.get("frozen_by")?,
        approved_by: row.get("approved_by")?,
        ended_by: row.get("ended_by")?,
        cancel_reason: row.get("cancel_reason")?,
        opened_at: timestamp::parse(&text("opened_at")?)?,
        frozen_at: instant(row, "frozen_at")?,
        approved_at: instant(row, "approved_at")?,
        ended_at: instant(row, "ended_at")?,
        communes: Vec::new(),
        agents: Vec::new(),
    })
}

/// A cycle's state columns as stored values, borrowed for one statement.
struct CycleRow<'a> {
    cycle: &'a Cycle,
    status: &'static str,
    numbers: [i64; 6],
    frozen_at: Option<String>,
    approved_at: Option<String>,
    ended_at: Option<String>,
}

impl<'a> CycleRow<'a> {
    fn new(cycle: &'a Cycle) -> CycleRow<'a> {
        CycleRow {
            cycle,
            status: cycle.status.code(),
            numbers: [
                cycle.frozen.count,
                cycle.frozen.amount.francs(),
                cycle.control.count,
                cycle.control.amount.francs(),
                cycle.paid.count,
                cycle.paid.amount.francs(),
            ],
            frozen_at: cycle.frozen_at.map(timestamp::format),
            approved_at: cycle.approved_at.map(timestamp::format),
            ended_at: cycle.ended_at.map(timestamp::format),
        }
    }

    /// `status`, the six totals, the four people and the cancel reason:
    /// what an insert and an update of a cycle both write, in that order.
    fn state<'s>(&'s self, values: &mut Vec<&'s dyn ToSql>) {
        let c = self.cycle;
        values.push(&self.status as &dyn ToSql);
        values.extend(self.numbers.iter().map(|n| n as &dyn ToSql));
        values.extend([
            &c.prepared_by as &dyn ToSql,
            &c.frozen_by,
            &c.approved_by,
            &c.ended_by,
            &c.cancel_reason,
        ]);
    }
}

/// Stores a new cycle with its communes.
pub fn insert_cycle(conn: &mut Conn, c: &Cycle) -> Result<(), StorageError> {
    let row = CycleRow::new(c);
    let (region, period, source, amount) = (
        c.region.slug(),
        c.period.to_string(),
        c.funding_source.code(),
        c.amount_per_household.francs(),
    );
    let opened_at = timestamp::format(c.opened_at);
    let kind = c.kind.code();
    let mut values: Vec<&dyn ToSql> = Vec::with_capacity(COLUMN_COUNT);
    values.extend([&c.cycle_id as &dyn ToSql, &region, &period, &source, &amount]);
    row.state(&mut values);
    values.extend([
        &opened_at as &dyn ToSql,
        &row.frozen_at,
        &row.approved_at,
        &row.ended_at,
        &kind,
    ]);
    conn.pipeline(
        &format!(
            "INSERT INTO payment_cycles ({COLUMNS}) VALUES {}",
            Placeholders::for_connection(conn).rows(1, COLUMN_COUNT)
        ),
        &values,
    )?;
    for chunk in c.communes.chunks(ROWS_PER_INSERT) {
        let statement = format!(
            "INSERT INTO cycle_communes (cycle_id, commune) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), 2)
        );
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 2);
        for commune in chunk {
            values.extend([&c.cycle_id as &dyn ToSql, commune]);
        }
        conn.pipeline(&statement, &values)?;
    }
    Ok(())
}

/// Rewrites a cycle's state, totals and people (not its communes or agents).
pub fn update_cycle(conn: &mut Conn, c: &Cycle) -> Result<(), StorageError> {
    let row = CycleRow::new(c);
    let mut values: Vec<&dyn ToSql> = Vec::with_capacity(16);
    row.state(&mut values);
    values.extend([
        &row.frozen_at as &dyn ToSql,
        &row.approved_at,
        &row.ended_at,
        &c.cycle_id,
    ]);
    conn.pipeline(
        "UPDATE payment_cycles SET status = $1, frozen_count = $2, frozen_amount = $3, control_count = $4, \
         control_amount = $5, paid_count = $6, paid_amount = $7, prepared_by = $8, frozen_by = $9, \
         approved_by = $10, ended_by = $11, cancel_reason = $12, frozen_at = $13, approved_at = $14, \
         ended_at = $15 WHERE cycle_id = $16",
        &values,
    )?;
    Ok(())
}

/// A cycle with its communes and agents.
pub fn load_cycle(conn: &mut Conn, cycle_id: &str) -> Result<Option<Cycle>, StorageError> {
    let Some(row) = conn.query_opt(
        &format!("SELECT {COLUMNS} FROM payment_cycles WHERE cycle_id = $1"),
        params![cycle_id],
    )?
    else {
        return Ok(None);
    };
    let mut cycle = cycle(&row)?;
    complete(conn, &mut cycle)?;
    Ok(Some(cycle))
}

fn complete(conn: &mut Conn, cycle: &mut Cycle) -> Result<(), StorageError> {
    let mut communes = Vec::new();
    conn.query_each(
        "SELECT commune FROM cycle_communes WHERE cycle_id = $1 ORDER BY commune",
        params![cycle.cycle_id],
        |row| {
            communes.push(row.get(0)?);
            Ok(())
        },
    )?;
    let mut agents = Vec::new();
    conn.query_each(
        "SELECT commune, agent_code, channel FROM cycle_agents WHERE cycle_id = $1 ORDER BY commune",
        params![cycle.cycle_id],
        |row| {
            let agent: String = row.get(1)?;
            let channel: String = row.get(2)?;
            agents.push(Assignment {
                commune: row.get(0)?,
                agent: AgentCode::parse(&agent).map_err(|_| decode_error("agent code", &agent))?,
                channel: Channel::from_code(&channel).ok_or_else(|| decode_error("channel", &channel))?,
            });
            Ok(())
        },
    )?;
    cycle.communes = communes;
    cycle.agents = agents;
    Ok(())
}

/// The live (not cancelled) cycle of a period and funding source, if any.
pub fn live_cycle_id(
    conn: &mut Conn,
    kind: CycleKind,
    period: Period,
    source: FundingSource,
) -> Result<Option<String>, StorageError> {
    conn.query_scalar_opt(
        "SELECT cycle_id FROM payment_cycles WHERE period = $1 AND funding_source = $2 AND kind = $3 \
         AND status <> 'cancelled'",
        params![period.to_string(), source.code(), kind.code()],
    )
}

/// Cycles, newest first (IDs are UUIDv7, so ID order is time order).
pub fn list_cycles(
    conn: &mut Conn,
    period: Option<Period>,
    status: Option<CycleStatus>,
    before: Option<&str>,
    limit: usize,
) -> Result<Vec<Cycle>, StorageError> {
    let mut filter = Filter::new();
    if let Some(period) = period {
        filter.add("period = {}", period.to_string());
    }
    if let Some(status) = status {
        filter.add("status = {}", status.code());
    }
    if let Some(before) = before {
        filter.add("cycle_id < {}", before);
    }
    let statement = format!(
        "SELECT {COLUMNS} FROM payment_cycles{} ORDER BY cycle_id DESC LIMIT ${}",
        filter.where_sql(),
        filter.next_placeholder()
    );
    let limit = Owned::Int(i64::try_from(limit).unwrap_or(i64::MAX));
    let rows = conn.query(&statement, &filter.params(&[&limit]))?;
    let mut cycles = rows.iter().map(cycle).collect::<Result<Vec<_>, _>>()?;
    for cycle in &mut cycles {
        complete(conn, cycle)?;
    }
    Ok(cycles)
}

/// Sets (or changes) the agents of communes.
pub fn assign_agents(
    conn: &mut Conn,
    cycle_id: &str,
    assignments: &[Assignment],
    assigned_by: &str,
) -> Result<(), StorageError> {
    const COLUMNS: usize = 6;
    let now = timestamp::now();
    for chunk in assignments.chunks(ROWS_PER_INSERT) {
        let statement = format!(
            "INSERT INTO cycle_agents (cycle_id, commune, agent_code, channel, assigned_by, assigned_at) \
             VALUES {} ON CONFLICT (cycle_id, commune) DO UPDATE SET \
             agent_code = excluded.agent_code, channel = excluded.channel, assigned_by = excluded.assigned_by, \
             assigned_at = excluded.assigned_at",
            Placeholders::for_connection(conn).rows(chunk.len(), COLUMNS)
        );
        let codes: Vec<(&str, &str)> = chunk.iter().map(|a| (a.agent.as_str(), a.channel.code())).collect();
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * COLUMNS);
        for (a, (agent, channel)) in chunk.iter().zip(&codes) {
            values.extend([&cycle_id as &dyn ToSql, &a.commune, agent, channel, &assigned_by, &now]);
        }
        conn.pipeline(&statement, &values)?;
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
pub fn commune_totals(conn: &mut Conn, cycle_id: &str) -> Result<Vec<CommuneShare>, StorageError> {
    let mut shares = Vec::new();
    conn.query_each(
        "SELECT region, cercle, commune, households, amount FROM cycle_commune_totals \
         WHERE cycle_id = $1 ORDER BY commune",
        params![cycle_id],
        |row| {
            shares.push(CommuneShare {
                place: Place {
                    region: row.get(0)?,
                    cercle: row.get(1)?,
                    commune: row.get(2)?,
                    village: String::new(),
                },
                totals: Totals::new(row.get(3)?, row.get(4)?),
            });
            Ok(())
        },
    )?;
    Ok(shares)
}

/// Communes of the frozen list without an agent.
pub fn unassigned_communes(conn: &mut Conn, cycle_id: &str) -> Result<Vec<String>, StorageError> {
    conn.query(
        "SELECT t.commune FROM cycle_commune_totals t WHERE t.cycle_id = $1 AND NOT EXISTS \
         (SELECT 1 FROM cycle_agents a WHERE a.cycle_id = t.cycle_id AND a.commune = t.commune) ORDER BY t.commune",
        params![cycle_id],
    )?
    .iter()
    .map(|row| row.get(0))
    .collect()
}
