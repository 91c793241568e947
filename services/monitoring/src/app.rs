//! The monitoring's queries and the budget commands.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use jigi_common::{AreaLevel, FieldError, Geography, Period, Problems, Region};
use jigi_proto::common::FundingSource;
use jigi_storage::idempotency::{self, Prior, RequestId};
use jigi_storage::{Database, StorageError, timestamp};
use sqlx::Row;

use crate::consume::Lags;
use crate::domain::budget::{self, BudgetLine};
use crate::domain::dhis2::{self, DataValueSet, Mapping};
use crate::domain::freshness::{self, Status};
use crate::domain::indicators::Indicators;
use crate::storage::budget as budget_storage;
use crate::storage::indicators::{self as queries, Scope};

/// Why a query or command was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum MonitoringError {
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    #[error("request_id {0} was already used for a different entry")]
    RequestReused(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<sqlx::Error> for MonitoringError {
    fn from(err: sqlx::Error) -> Self {
        MonitoringError::Storage(err.into())
    }
}

impl From<Problems> for MonitoringError {
    fn from(problems: Problems) -> Self {
        MonitoringError::Invalid(problems.into_errors())
    }
}

fn invalid(field: &str, description: impl Into<String>) -> MonitoringError {
    MonitoringError::Invalid(vec![FieldError::new(field, description)])
}

/// A row of indicators.
#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorRow {
    pub area: String,
    pub area_name: String,
    pub period: Period,
    pub indicators: Indicators,
}

/// How fresh a region is.
#[derive(Debug, Clone, PartialEq)]
pub struct Freshness {
    pub region: Region,
    pub status: Status,
    pub last_received_at: Option<chrono::DateTime<Utc>>,
    pub last_event_time: Option<chrono::DateTime<Utc>>,
    pub lag_p50: f64,
    pub lag_p99: f64,
    pub events_received: i64,
}

/// A cycle's payment indicators.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleRow {
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

/// A budget line's execution.
#[derive(Debug, Clone, PartialEq)]
pub struct LineExecution {
    pub line: BudgetLine,
    pub achieved: i64,
}

/// The national monitoring.
#[derive(Clone)]
pub struct Monitoring {
    db: Database,
    geography: Arc<Geography>,
    mapping: Arc<Mapping>,
    regions: Vec<Region>,
    silence: Duration,
    lags: Lags,
}

impl Monitoring {
    pub fn new(
        db: Database,
        geography: Arc<Geography>,
        mapping: Arc<Mapping>,
        regions: Vec<Region>,
        silence: Duration,
        lags: Lags,
    ) -> Monitoring {
        Monitoring {
            db,
            geography,
            mapping,
            regions,
            silence,
            lags,
        }
    }

    /// Checks an area code: empty (the country), a region, a cercle or a commune.
    fn area(&self, field: &str, code: &str) -> Result<Option<(AreaLevel, String)>, MonitoringError> {
        if code.is_empty() {
            return Ok(None);
        }
        match self.geography.get(code) {
            Some(area) if area.level != AreaLevel::Village => Ok(Some((area.level, code.to_owned()))),
            Some(_) => Err(invalid(field, "indicators go down to communes, not villages")),
            None => Err(invalid(
                field,
                format!("unknown area {code:?}: use a region, cercle or commune code"),
            )),
        }
    }

    /// Indicators for an area over a period, broken down as asked.
    pub async fn indicators(
        &self,
        area: &str,
        period: Option<&str>,
        breakdown: Option<AreaLevel>,
    ) -> Result<Vec<IndicatorRow>, MonitoringError> {
        let mut problems = Problems::new();
        let period = parse_period(period, "period", &mut problems);
        let area = match self.area("area", area) {
            Ok(area) => area,
            Err(MonitoringError::Invalid(errors)) => {
                for e in errors {
                    problems.add(e.field, e.description);
                }
                None
            }
            Err(other) => return Err(other),
        };
        if let (Some((level, _)), Some(breakdown)) = (&area, breakdown)
            && breakdown <= *level
        {
            problems.add("breakdown", "must be finer than the area (e.g. communes of a cercle)");
        }
        if !problems.is_empty() {
            return Err(problems.into());
        }
        let period = period.expect("checked");
        let scope = Scope { area, breakdown };
        let mut conn = self.db.pool().acquire().await?;
        let computed = queries::compute(&mut conn, &scope, period).await?;
        Ok(self.rows(&scope, period, computed))
    }

    /// Rows for every area of the scope (those without facts too), in code order.
    fn rows(&self, scope: &Scope, period: Period, mut computed: BTreeMap<String, Indicators>) -> Vec<IndicatorRow> {
        let codes: Vec<String> = match scope.breakdown {
            None => vec![scope.area.as_ref().map(|(_, code)| code.clone()).unwrap_or_default()],
            Some(level) => {
                let root = scope.area.as_ref().map(|(_, code)| code.as_str());
                let mut codes: Vec<String> = self
                    .geography
                    .areas(root)
                    .filter(|a| a.level == level && self.regions.contains(&a.region()))
                    .map(|a| a.code.clone())
                    .collect();
                // Facts in areas the reference does not know still show.
                codes.extend(computed.keys().filter(|k| !k.is_empty()).cloned());
                codes.sort();
                codes.dedup();
                codes
            }
        };
        codes
            .into_iter()
            .map(|code| IndicatorRow {
                area_name: self.area_name(&code),
                indicators: computed.remove(&code).unwrap_or_default(),
                area: code,
                period,
            })
            .collect()
    }

    fn area_name(&self, code: &str) -> String {
        if code.is_empty() {
            return "Mali".to_owned();
        }
        self.geography
            .get(code)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| code.to_owned())
    }

    /// Freshness of every region the monitoring reads.
    pub async fn freshness(&self) -> Result<Vec<Freshness>, MonitoringError> {
        let rows =
            sqlx::query("SELECT region, last_event_time, last_received_at, events_received FROM region_activity")
                .fetch_all(self.db.pool())
                .await?;
        let mut known = BTreeMap::new();
        for row in rows {
            let region: String = row.try_get(0)?;
            let event_time = timestamp::parse(&row.try_get::<String, _>(1)?)?;
            let received = timestamp::parse(&row.try_get::<String, _>(2)?)?;
            let count: i64 = row.try_get(3)?;
            known.insert(region, (event_time, received, count));
        }
        let lags = self.lags.lock().expect("lag lock").clone();
        let now = Utc::now();
        Ok(self
            .regions
            .iter()
            .map(|region| {
                let activity = known.get(region.slug());
                let window = lags.get(region.slug()).cloned().unwrap_or_default();
                Freshness {
                    region: *region,
                    status: freshness::status(activity.map(|a| a.1), now, self.silence),
                    last_received_at: activity.map(|a| a.1),
                    last_event_time: activity.map(|a| a.0),
                    lag_p50: window.quantile(0.5),
                    lag_p99: window.quantile(0.99),
                    events_received: activity.map(|a| a.2).unwrap_or(0),
                }
            })
            .collect())
    }

    /// Payment indicators per cycle.
    pub async fn cycles(&self, region: &str, period: Option<&str>) -> Result<Vec<CycleRow>, MonitoringError> {
        let mut problems = Problems::new();
        if !region.is_empty() && region.parse::<Region>().is_err() {
            problems.add("region", format!("unknown region {region:?}"));
        }
        let period = period.map(|p| parse_period(Some(p), "period", &mut problems));
        if !problems.is_empty() {
            return Err(problems.into());
        }
        let rows = sqlx::query(
            "SELECT c.cycle_id, c.region, c.period, c.funding_source, c.expected_households, c.expected_amount, c.status, \
             COUNT(DISTINCT CASE WHEN p.outcome = 'paid' THEN p.household_id END), \
             CAST(COALESCE(SUM(CASE WHEN p.outcome = 'paid' THEN p.amount ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN p.outcome = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN p.outcome = 'not_collected' THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM facts_cycles c LEFT JOIN facts_payments p ON p.cycle_id = c.cycle_id \
             GROUP BY c.cycle_id, c.region, c.period, c.funding_source, c.expected_households, c.expected_amount, c.status \
             ORDER BY c.region, c.period, c.cycle_id",
        )
        .fetch_all(self.db.pool())
        .await?;
        let mut cycles = Vec::new();
        for row in rows {
            let cycle = CycleRow {
                cycle_id: row.try_get(0)?,
                region: row.try_get(1)?,
                period: row.try_get(2)?,
                funding_source: row.try_get::<i64, _>(3)? as i32,
                expected_households: row.try_get(4)?,
                expected_amount: row.try_get(5)?,
                status: row.try_get(6)?,
                households_paid: row.try_get(7)?,
                amount_paid: row.try_get(8)?,
                payments_failed: row.try_get(9)?,
                payments_not_collected: row.try_get(10)?,
            };
            let in_region = region.is_empty() || cycle.region == region;
            let in_period = match period.flatten() {
                None => true,
                Some(period) => cycle.period.parse::<Period>().is_ok_and(|p| period.contains(p.start())),
            };
            if in_region && in_period {
                cycles.push(cycle);
            }
        }
        Ok(cycles)
    }

    /// Creates or replaces a budget line.
    pub async fn set_budget_line(
        &self,
        year: i32,
        component: i32,
        funding_source: i32,
        forecast: Option<i64>,
    ) -> Result<BudgetLine, MonitoringError> {
        let line = budget::line(year, component, funding_source, forecast)?;
        let mut tx = self.db.begin_write().await?;
        budget_storage::set_line(&mut tx, &line).await?;
        tx.commit().await?;
        Ok(line)
    }

    /// Records an expenditure, idempotently by request ID.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_expenditure(
        &self,
        request_id: &str,
        fingerprint: &str,
        year: i32,
        component: i32,
        funding_source: i32,
        amount: Option<i64>,
        spent_on: &str,
        description: &str,
    ) -> Result<String, MonitoringError> {
        let mut problems = Problems::new();
        let request = problems.check("request_id", RequestId::parse(request_id).map_err(|e| e.to_string()));
        let expenditure = budget::expenditure(year, component, funding_source, amount, spent_on, description);
        let expenditure = match expenditure {
            Ok(expenditure) => Some(expenditure),
            Err(more) => {
                for e in more.into_errors() {
                    problems.add(e.field, e.description);
                }
                None
            }
        };
        if !problems.is_empty() {
            return Err(problems.into());
        }
        let (request, expenditure) = (request.expect("checked"), expenditure.expect("checked"));
        let mut tx = self.db.begin_write().await?;
        match idempotency::lookup(&mut tx, "RecordExpenditure", &request, fingerprint).await? {
            Prior::Same(_) => return Ok(request.as_str().to_owned()),
            Prior::Conflict => return Err(MonitoringError::RequestReused(request.as_str().to_owned())),
            Prior::New => {}
        }
        budget_storage::record_expenditure(&mut tx, request.as_str(), &expenditure).await?;
        idempotency::remember(
            &mut tx,
            "RecordExpenditure",
            &request,
            fingerprint,
            request.as_str().as_bytes(),
        )
        .await?;
        tx.commit().await?;
        Ok(request.as_str().to_owned())
    }

    /// A year's lines with what was achieved against each. Achievements
    /// without a line (paid from a source nobody planned) get a line with a
    /// zero forecast, so nothing achieved is hidden.
    pub async fn budget_execution(&self, year: i32) -> Result<Vec<LineExecution>, MonitoringError> {
        let mut problems = Problems::new();
        budget::check_year(year, "year", &mut problems);
        if !problems.is_empty() {
            return Err(problems.into());
        }
        let mut conn = self.db.pool().acquire().await?;
        let lines = budget_storage::lines(&mut conn, year).await?;
        let mut achieved = budget_storage::achieved(&mut conn, year).await?;
        let mut execution: Vec<LineExecution> = lines
            .into_iter()
            .map(|line| {
                let done = achieved
                    .remove(&(line.component, line.funding_source as i32))
                    .unwrap_or(0);
                LineExecution { line, achieved: done }
            })
            .collect();
        for ((component, source), amount) in achieved {
            execution.push(LineExecution {
                line: BudgetLine {
                    year,
                    component,
                    funding_source: FundingSource::try_from(source).unwrap_or(FundingSource::Other),
                    forecast_fcfa: 0,
                },
                achieved: amount,
            });
        }
        execution.sort_by_key(|e| (e.line.component, e.line.funding_source as i32));
        Ok(execution)
    }

    /// Every row to export for an area: the area itself and every region,
    /// cercle and commune below it.
    async fn export_rows(&self, area: &str, period: Option<&str>) -> Result<Vec<IndicatorRow>, MonitoringError> {
        let root = self.area("area", area)?;
        let mut rows = self.indicators(area, period, None).await?;
        let finer: Vec<AreaLevel> = [AreaLevel::Region, AreaLevel::Cercle, AreaLevel::Commune]
            .into_iter()
            .filter(|level| root.as_ref().is_none_or(|(root_level, _)| level > root_level))
            .collect();
        for level in finer {
            rows.extend(self.indicators(area, period, Some(level)).await?);
        }
        Ok(rows)
    }

    /// A DHIS2 data value set: (JSON, number of values, unmapped areas with data).
    pub async fn export_dhis2(
        &self,
        area: &str,
        period: Option<&str>,
    ) -> Result<(String, usize, Vec<String>), MonitoringError> {
        let rows = self.export_rows(area, period).await?;
        let mut values = Vec::new();
        let mut unmapped = Vec::new();
        for row in &rows {
            let named = row.indicators.named_values();
            match dhis2::data_values(&self.mapping, &row.area, &row.period.to_string(), &named) {
                Some(mut data) => values.append(&mut data),
                None if row.indicators != Indicators::default() => unmapped.push(row.area.clone()),
                None => {}
            }
        }
        let count = values.len();
        let json = serde_json::to_string_pretty(&DataValueSet { data_values: values })
            .map_err(|err| StorageError::Sql(sqlx::Error::Protocol(err.to_string())))?;
        Ok((json, count, unmapped))
    }

    /// CSV: `area,area_name,period,indicator,value`.
    pub async fn export_csv(&self, area: &str, period: Option<&str>) -> Result<String, MonitoringError> {
        let rows = self.export_rows(area, period).await?;
        let mut csv = String::from("area,area_name,period,indicator,value\n");
        for row in rows {
            for (name, value) in row.indicators.named_values() {
                csv.push_str(&format!(
                    "{},{},{},{},{}\n",
                    row.area,
                    csv_field(&row.area_name),
                    row.period,
                    name,
                    dhis2::format_value(value)
                ));
            }
        }
        Ok(csv)
    }

    /// Per-region figures for the Prometheus gauges: (registered, enrolled
    /// per component, paid this year, flour this year) per region.
    pub async fn gauges(&self) -> Result<Vec<(String, Indicators)>, MonitoringError> {
        let year = Period::Year(chrono::Datelike::year(&Utc::now().date_naive()));
        let scope = Scope {
            area: None,
            breakdown: Some(AreaLevel::Region),
        };
        let mut conn = self.db.pool().acquire().await?;
        Ok(queries::compute(&mut conn, &scope, year).await?.into_iter().collect())
    }
}

fn parse_period(text: Option<&str>, field: &str, problems: &mut Problems) -> Option<Period> {
    match text {
        None | Some("") => {
            problems.add(field, "is required: a quarter like 2018Q4 or a year like 2018");
            None
        }
        Some(code) => problems.check(
            format!("{field}.code"),
            code.parse::<Period>().map_err(|e| e.to_string()),
        ),
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
