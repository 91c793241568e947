//! Computing indicators from facts, for an area and a period, with an
//! optional breakdown by region, cercle or commune.

use std::collections::BTreeMap;

use jigi_common::date::format_date;
use jigi_common::{AreaLevel, Component, Period};
use jigi_storage::sql::Filter;
use jigi_storage::{Conn, Owned, StorageError, ToSql};

use crate::domain::indicators::Indicators;

/// Which facts count, and how rows are grouped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    /// Only facts in this area; the whole country when `None`.
    pub area: Option<(AreaLevel, String)>,
    /// One row per area of this level; one row for the whole scope when `None`.
    pub breakdown: Option<AreaLevel>,
}

impl Scope {
    /// The SQL expression a row is grouped by (the row's area code).
    fn group(&self) -> &'static str {
        match self.breakdown {
            None | Some(AreaLevel::Village) => "''",
            Some(AreaLevel::Region) => "region",
            Some(AreaLevel::Cercle) => "cercle",
            Some(AreaLevel::Commune) => "commune",
        }
    }

    /// A filter with the area condition, if any.
    fn filter(&self) -> Filter {
        let mut filter = Filter::new();
        if let Some((level, code)) = &self.area {
            let condition = match level {
                AreaLevel::Region => "region = {}",
                AreaLevel::Cercle => "cercle = {}",
                AreaLevel::Commune | AreaLevel::Village => "commune = {}",
            };
            filter.add(condition, Owned::Text(code.clone()));
        }
        filter
    }

    /// The area code of a whole-scope row.
    fn key(&self, group: String) -> String {
        if self.breakdown.is_none() {
            self.area.as_ref().map(|(_, code)| code.clone()).unwrap_or_default()
        } else {
            group
        }
    }
}

type Rows = BTreeMap<String, Indicators>;

/// Indicators for `period` in `scope`, keyed by area code ("" for the whole country).
pub fn compute(conn: &mut Conn, scope: &Scope, period: Period) -> Result<Rows, StorageError> {
    let start = format_date(period.start());
    let end = format_date(period.end());
    let mut rows = Rows::new();
    let g = scope.group();

    // Households registered up to the end, and during the period.
    let mut filter = scope.filter();
    filter.add("registered_on <= {}", Owned::Text(end.clone()));
    for (area, count) in counts(conn, &format!("SELECT {g}, COUNT(*) FROM facts_households"), &filter)? {
        rows.entry(scope.key(area)).or_default().households_registered = count;
    }
    filter.add("registered_on >= {}", Owned::Text(start.clone()));
    for (area, count) in counts(conn, &format!("SELECT {g}, COUNT(*) FROM facts_households"), &filter)? {
        rows.entry(scope.key(area)).or_default().households_registered_in_period = count;
    }

    // Enrolled at the end: each household's latest enrolment fact on or
    // before the end says whether it is in.
    let mut filter = scope.filter();
    filter.add("effective_on <= {}", Owned::Text(end.clone()));
    let latest = format!(
        "SELECT area, component, COUNT(*) FROM (SELECT {g} AS area, component, kind, ROW_NUMBER() OVER \
         (PARTITION BY household_id, component ORDER BY effective_on DESC, event_time DESC) AS latest \
         FROM facts_enrolment_events{}) facts WHERE latest = 1 AND kind = 'enrolled' GROUP BY area, component",
        filter.where_sql()
    );
    for (area, component, count) in component_counts(conn, &latest, filter.values())? {
        if let Some(component) = Component::from_code(&component) {
            rows.entry(scope.key(area))
                .or_default()
                .enrolled
                .insert(component, count);
        }
    }

    // Exits during the period.
    let mut filter = scope.filter();
    filter.add("kind = {}", Owned::Text("exited".into()));
    filter.add("effective_on >= {}", Owned::Text(start.clone()));
    filter.add("effective_on <= {}", Owned::Text(end.clone()));
    let exits = format!(
        "SELECT {g}, component, COUNT(*) FROM facts_enrolment_events{} GROUP BY 1, 2",
        filter.where_sql()
    );
    for (area, component, count) in component_counts(conn, &exits, filter.values())? {
        if let Some(component) = Component::from_code(&component) {
            rows.entry(scope.key(area)).or_default().exits.insert(component, count);
        }
    }

    payments(conn, scope, &start, &end, &mut rows)?;
    outstanding(conn, scope, period, &mut rows)?;
    nutrition(conn, scope, &start, &end, &mut rows)?;
    activities(conn, scope, &start, &end, &mut rows)?;
    Ok(rows)
}

/// MA, AGR and HIMO indicators from `facts_activities`, by the facts' dates.
fn activities(conn: &mut Conn, scope: &Scope, start: &str, end: &str, rows: &mut Rows) -> Result<(), StorageError> {
    let g = scope.group();
    let mut filter = scope.filter();
    filter.add("occurred_on >= {}", Owned::Text(start.to_owned()));
    filter.add("occurred_on <= {}", Owned::Text(end.to_owned()));
    let statement = format!(
        "SELECT {g}, \
         CAST(COALESCE(SUM(CASE WHEN kind = 'ma_session' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         COUNT(DISTINCT CASE WHEN kind = 'ma_attendee' THEN household_id END), \
         COUNT(DISTINCT CASE WHEN kind = 'ma_attendee' THEN person_id END), \
         CAST(COALESCE(SUM(CASE WHEN kind = 'agr_plan' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN kind = 'agr_tranche' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN kind = 'agr_tranche' THEN amount ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN kind = 'agr_visit' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN kind = 'agr_visit' THEN flag ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN kind = 'himo_started' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN kind = 'himo_started' AND amount > 0 THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN kind = 'himo_started' THEN amount ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN kind = 'himo_sheet' THEN amount ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN kind = 'himo_sheet' THEN flag ELSE 0 END), 0) AS BIGINT), \
         COUNT(DISTINCT CASE WHEN kind = 'himo_worker_day' THEN household_id END), \
         CAST(COALESCE(SUM(CASE WHEN kind = 'himo_wages_due' THEN amount ELSE 0 END), 0) AS BIGINT) \
         FROM facts_activities{} GROUP BY 1",
        filter.where_sql()
    );
    conn.query_each(&statement, &filter.params(&[]), |row| {
        let i = rows.entry(scope.key(row.get(0)?)).or_default();
        i.ma_sessions_held = row.get(1)?;
        i.ma_households_reached = row.get(2)?;
        i.ma_people_reached = row.get(3)?;
        i.agr_business_plans = row.get(4)?;
        i.agr_tranches_released = row.get(5)?;
        i.agr_grants_released = row.get(6)?;
        i.agr_follow_up_visits = row.get(7)?;
        i.agr_activities_running = row.get(8)?;
        i.himo_sites_started = row.get(9)?;
        i.himo_sites_started_late = row.get(10)?;
        i.himo_start_delay_days = row.get(11)?;
        i.himo_person_days = row.get(12)?;
        i.himo_women_person_days = row.get(13)?;
        i.himo_households_working = row.get(14)?;
        i.himo_wages_due = row.get(15)?;
        Ok(())
    })?;
    let by_theme = format!(
        "SELECT {g}, category, CAST(COALESCE(SUM(CASE WHEN kind = 'ma_session' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         COUNT(DISTINCT CASE WHEN kind = 'ma_attendee' THEN person_id END) \
         FROM facts_activities{} AND kind IN ('ma_session', 'ma_attendee') GROUP BY 1, 2",
        filter.where_sql()
    );
    conn.query_each(&by_theme, &filter.params(&[]), |row| {
        let i = rows.entry(scope.key(row.get(0)?)).or_default();
        i.ma_by_theme.insert(row.get(1)?, (row.get(2)?, row.get(3)?));
        Ok(())
    })?;
    let by_group = format!(
        "SELECT {g}, sex, age_group, COUNT(DISTINCT person_id) FROM facts_activities{} AND kind = 'ma_attendee' \
         GROUP BY 1, 2, 3",
        filter.where_sql()
    );
    conn.query_each(&by_group, &filter.params(&[]), |row| {
        let i = rows.entry(scope.key(row.get(0)?)).or_default();
        let sex: i64 = row.get(1)?;
        i.ma_by_group.insert((sex as i32, row.get(2)?), row.get(3)?);
        Ok(())
    })
}

fn payments(conn: &mut Conn, scope: &Scope, start: &str, end: &str, rows: &mut Rows) -> Result<(), StorageError> {
    let g = scope.group();
    let mut filter = scope.filter();
    filter.add("occurred_on >= {}", Owned::Text(start.to_owned()));
    filter.add("occurred_on <= {}", Owned::Text(end.to_owned()));
    // AGR grants and HIMO wages paid, by the component their cycle pays.
    let by_component = format!(
        "SELECT {g}, component, CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM facts_payments{} AND outcome = 'paid' \
         GROUP BY 1, 2",
        filter.where_sql()
    );
    for (area, component, amount) in component_counts(conn, &by_component, filter.values())? {
        let indicators = rows.entry(scope.key(area)).or_default();
        match component.as_str() {
            "AGR" => indicators.agr_grants_paid = amount,
            "HIMO" => indicators.himo_wages_paid = amount,
            _ => {}
        }
    }
    // The payment indicators are the cash transfers' (TM).
    filter.add("component = {}", Owned::Text("TM".into()));
    let statement = format!(
        "SELECT {g}, \
         COUNT(DISTINCT CASE WHEN outcome = 'paid' THEN household_id END), \
         CAST(COALESCE(SUM(CASE WHEN outcome = 'paid' THEN amount ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN outcome = 'paid' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN outcome = 'not_collected' THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM facts_payments{} GROUP BY 1",
        filter.where_sql()
    );
    conn.query_each(&statement, &filter.params(&[]), |row| {
        let indicators = rows.entry(scope.key(row.get(0)?)).or_default();
        indicators.households_paid = row.get(1)?;
        indicators.amount_paid = row.get(2)?;
        indicators.payments_made = row.get(3)?;
        indicators.payments_failed = row.get(4)?;
        indicators.payments_not_collected = row.get(5)?;
        Ok(())
    })
}

/// What the cycles of the period approved and have not paid yet. Cycles are
/// regional, so this is computed for the country and per region only.
fn outstanding(conn: &mut Conn, scope: &Scope, period: Period, rows: &mut Rows) -> Result<(), StorageError> {
    let regional = matches!(scope.area, None | Some((AreaLevel::Region, _)))
        && matches!(scope.breakdown, None | Some(AreaLevel::Region));
    if !regional {
        return Ok(());
    }
    let quarters: Vec<String> = match period {
        Period::Quarter { .. } => vec![period.to_string()],
        Period::Year(year) => (1..=4).map(|q| format!("{year}Q{q}")).collect(),
    };
    let mut values = Vec::new();
    let mut conditions = vec!["c.status <> 'cancelled'".to_owned()];
    if let Some((_, region)) = &scope.area {
        values.push(Owned::Text(region.clone()));
        conditions.push(format!("c.region = ${}", values.len()));
    }
    let mut in_period = Vec::new();
    for quarter in quarters {
        values.push(Owned::Text(quarter));
        in_period.push(format!("${}", values.len()));
    }
    conditions.push(format!("c.period IN ({})", in_period.join(", ")));
    let group = if scope.breakdown == Some(AreaLevel::Region) {
        "c.region"
    } else {
        "''"
    };
    let statement = format!(
        "SELECT {group}, CAST(COALESCE(SUM(CASE WHEN unpaid > 0 THEN unpaid ELSE 0 END), 0) AS BIGINT) FROM \
         (SELECT c.region, c.expected_amount - (SELECT COALESCE(SUM(p.amount), 0) FROM facts_payments p \
         WHERE p.cycle_id = c.cycle_id AND p.outcome = 'paid') AS unpaid FROM facts_cycles c WHERE {}) c GROUP BY 1",
        conditions.join(" AND ")
    );
    for (area, amount) in counts_raw(conn, &statement, &values)? {
        rows.entry(scope.key(area)).or_default().amount_outstanding = amount;
    }
    Ok(())
}

fn nutrition(conn: &mut Conn, scope: &Scope, start: &str, end: &str, rows: &mut Rows) -> Result<(), StorageError> {
    let g = scope.group();
    let mut filter = scope.filter();
    filter.add("distributed_on >= {}", Owned::Text(start.to_owned()));
    filter.add("distributed_on <= {}", Owned::Text(end.to_owned()));
    let reached = format!(
        "SELECT {g}, beneficiary_group, COUNT(DISTINCT member_id) FROM facts_distributions{} GROUP BY 1, 2",
        filter.where_sql()
    );
    for (area, group, count) in component_counts(conn, &reached, filter.values())? {
        let indicators = rows.entry(scope.key(area)).or_default();
        match group.as_str() {
            "child" => indicators.pnp_children_reached = count,
            "pregnant" => indicators.pnp_pregnant_women_reached = count,
            "lactating" => indicators.pnp_lactating_women_reached = count,
            _ => {}
        }
    }
    let totals = format!(
        "SELECT {g}, CAST(COALESCE(SUM(grams), 0) AS BIGINT), COUNT(DISTINCT commune) FROM facts_distributions{} GROUP BY 1",
        filter.where_sql()
    );
    conn.query_each(&totals, &filter.params(&[]), |row| {
        let indicators = rows.entry(scope.key(row.get(0)?)).or_default();
        indicators.flour_distributed_grams = row.get(1)?;
        indicators.pilot_communes_covered = row.get(2)?;
        Ok(())
    })?;

    // Stock at the end: each warehouse's last report up to the end of the period.
    let mut filter = scope.filter();
    filter.add("event_time <= {}", Owned::Text(format!("{end}T23:59:59.999999Z")));
    let stock = format!(
        "SELECT area, CAST(COALESCE(SUM(on_hand_grams), 0) AS BIGINT) FROM (SELECT {g} AS area, on_hand_grams, \
         ROW_NUMBER() OVER (PARTITION BY warehouse_id ORDER BY event_time DESC, event_id DESC) AS latest \
         FROM facts_stock{}) facts WHERE latest = 1 GROUP BY area",
        filter.where_sql()
    );
    for (area, grams) in counts_raw(conn, &stock, filter.values())? {
        rows.entry(scope.key(area)).or_default().stock_on_hand_grams = grams;
    }
    Ok(())
}

/// `SELECT area, n … WHERE <filter> GROUP BY 1` as pairs.
fn counts(conn: &mut Conn, select: &str, filter: &Filter) -> Result<Vec<(String, i64)>, StorageError> {
    counts_raw(
        conn,
        &format!("{select}{} GROUP BY 1", filter.where_sql()),
        filter.values(),
    )
}

fn counts_raw(conn: &mut Conn, statement: &str, values: &[Owned]) -> Result<Vec<(String, i64)>, StorageError> {
    let mut pairs = Vec::new();
    conn.query_each(statement, &params(values), |row| {
        pairs.push((row.get(0)?, row.get(1)?));
        Ok(())
    })?;
    Ok(pairs)
}

fn component_counts(
    conn: &mut Conn,
    statement: &str,
    values: &[Owned],
) -> Result<Vec<(String, String, i64)>, StorageError> {
    let mut triples = Vec::new();
    conn.query_each(statement, &params(values), |row| {
        triples.push((row.get(0)?, row.get(1)?, row.get(2)?));
        Ok(())
    })?;
    Ok(triples)
}

fn params(values: &[Owned]) -> Vec<&dyn ToSql> {
    values.iter().map(|value| value as &dyn ToSql).collect()
}

/// A cycle's payment indicators.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleIndicators {
    pub cycle_id: String,
    pub region: String,
    pub period: String,
    pub funding_source: i32,
    pub expected_households: i64,
    pub expected_amount: i64,
    pub households_paid: i64,
    pub amount_paid: i64,
    pub payments_failed: i64,
    pub payments_not_collected: i64,
    pub status: String,
}

/// Every cycle with its payment results, by region, period and ID.
pub fn cycles(conn: &mut Conn) -> Result<Vec<CycleIndicators>, StorageError> {
    let mut cycles = Vec::new();
    conn.query_each(
        "SELECT c.cycle_id, c.region, c.period, c.funding_source, c.expected_households, c.expected_amount, c.status, \
         COUNT(DISTINCT CASE WHEN p.outcome = 'paid' THEN p.household_id END), \
         CAST(COALESCE(SUM(CASE WHEN p.outcome = 'paid' THEN p.amount ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN p.outcome = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN p.outcome = 'not_collected' THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM facts_cycles c LEFT JOIN facts_payments p ON p.cycle_id = c.cycle_id \
         GROUP BY c.cycle_id, c.region, c.period, c.funding_source, c.expected_households, c.expected_amount, c.status \
         ORDER BY c.region, c.period, c.cycle_id",
        &[],
        |row| {
            cycles.push(CycleIndicators {
                cycle_id: row.get(0)?,
                region: row.get(1)?,
                period: row.get(2)?,
                funding_source: row.get(3)?,
                expected_households: row.get(4)?,
                expected_amount: row.get(5)?,
                status: row.get(6)?,
                households_paid: row.get(7)?,
                amount_paid: row.get(8)?,
                payments_failed: row.get(9)?,
                payments_not_collected: row.get(10)?,
            });
            Ok(())
        },
    )?;
    Ok(cycles)
}
