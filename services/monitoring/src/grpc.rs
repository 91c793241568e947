//! The monitoring's gRPC API.

use jigi_common::{AreaLevel, Component};
use jigi_proto::common::{Money, Period};
use jigi_proto::monitoring::monitoring_service_server::{MonitoringService, MonitoringServiceServer};
use jigi_proto::monitoring::*;
use jigi_server::{access, status};
use jigi_storage::idempotency;
use prost::Message as _;
use tonic::{Request, Response, Status};

use crate::app::{IndicatorRow as Row, Monitoring, MonitoringError};
use crate::domain::budget::execution_rate;
use crate::domain::freshness;
use crate::domain::indicators::rate;

/// The gRPC face of the monitoring.
pub struct MonitoringApi {
    monitoring: Monitoring,
}

impl MonitoringApi {
    pub fn new(monitoring: Monitoring) -> MonitoringApi {
        MonitoringApi { monitoring }
    }

    pub fn into_service(self) -> MonitoringServiceServer<MonitoringApi> {
        MonitoringServiceServer::new(self)
            .max_decoding_message_size(64 * 1024)
            .max_encoding_message_size(64 * 1024 * 1024)
    }
}

fn to_status(err: MonitoringError) -> Status {
    match err {
        MonitoringError::Invalid(errors) => status::invalid_argument(&errors),
        MonitoringError::RequestReused(id) => status::already_exists(
            "request",
            &id,
            format!("request_id {id} was already used for a different expenditure; use a new request_id"),
        ),
        MonitoringError::Storage(err) => status::internal("reading the monitoring database", &err),
    }
}

fn money(fcfa: i64) -> Option<Money> {
    Some(Money { fcfa })
}

fn period_code(period: &Option<Period>) -> Option<&str> {
    period.as_ref().map(|p| p.code.as_str())
}

fn row(row: Row) -> IndicatorRow {
    let i = &row.indicators;
    let counts = |map: &std::collections::BTreeMap<Component, i64>| {
        Component::ALL
            .into_iter()
            .map(|component| ComponentCount {
                component: component.to_proto() as i32,
                households: *map.get(&component).unwrap_or(&0),
            })
            .collect()
    };
    IndicatorRow {
        area: row.area.clone(),
        area_name: row.area_name.clone(),
        period: row.period.to_string(),
        indicators: Some(Indicators {
            households_registered: i.households_registered,
            households_registered_in_period: i.households_registered_in_period,
            enrolled: counts(&i.enrolled),
            exits: counts(&i.exits),
            households_paid: i.households_paid,
            amount_paid: money(i.amount_paid),
            payments_made: i.payments_made,
            payments_failed: i.payments_failed,
            payments_not_collected: i.payments_not_collected,
            payment_success_rate: i.payment_success_rate(),
            amount_outstanding: money(i.amount_outstanding),
            pnp_children_reached: i.pnp_children_reached,
            pnp_pregnant_women_reached: i.pnp_pregnant_women_reached,
            pnp_lactating_women_reached: i.pnp_lactating_women_reached,
            flour_distributed_grams: i.flour_distributed_grams,
            flour_distributed_tonnes: i.flour_distributed_tonnes(),
            stock_on_hand_grams: i.stock_on_hand_grams,
            pilot_communes_covered: i.pilot_communes_covered,
        }),
    }
}

fn timestamp(at: Option<chrono::DateTime<chrono::Utc>>) -> Option<prost_types::Timestamp> {
    at.map(|at| prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    })
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl MonitoringService for MonitoringApi {
    async fn get_indicators(&self, request: Request<GetIndicatorsRequest>) -> Reply<GetIndicatorsResponse> {
        access::check_area(access::caller(&request), &request.get_ref().area, "area")?;
        let r = request.into_inner();
        let breakdown = match Breakdown::try_from(r.breakdown) {
            Ok(Breakdown::Unspecified) => None,
            Ok(Breakdown::Region) => Some(AreaLevel::Region),
            Ok(Breakdown::Cercle) => Some(AreaLevel::Cercle),
            Ok(Breakdown::Commune) => Some(AreaLevel::Commune),
            Err(_) => {
                return Err(status::invalid_argument(&[status::FieldError::new(
                    "breakdown",
                    format!("has unknown value {}", r.breakdown),
                )]));
            }
        };
        let rows = self
            .monitoring
            .indicators(&r.area, period_code(&r.period), breakdown)
            .await
            .map_err(to_status)?;
        let freshness = self.monitoring.freshness().await.map_err(to_status)?;
        let covered: Vec<String> = rows
            .iter()
            .filter_map(|row| row.area.split('.').next().map(str::to_owned))
            .collect();
        Ok(Response::new(GetIndicatorsResponse {
            rows: rows.into_iter().map(row).collect(),
            freshness: freshness
                .into_iter()
                .filter(|f| r.area.is_empty() || covered.iter().any(|c| c == f.region.slug()))
                .map(region_freshness)
                .collect(),
        }))
    }

    async fn list_cycle_indicators(
        &self,
        request: Request<ListCycleIndicatorsRequest>,
    ) -> Reply<ListCycleIndicatorsResponse> {
        access::check_area(access::caller(&request), &request.get_ref().region, "region")?;
        let r = request.into_inner();
        let cycles = self
            .monitoring
            .cycles(&r.region, period_code(&r.period))
            .await
            .map_err(to_status)?;
        Ok(Response::new(ListCycleIndicatorsResponse {
            cycles: cycles
                .into_iter()
                .map(|c| CycleIndicators {
                    payment_success_rate: rate(
                        c.households_paid,
                        c.households_paid + c.payments_failed + c.payments_not_collected,
                    ),
                    amount_outstanding: money((c.expected_amount - c.amount_paid).max(0)),
                    cycle_id: c.cycle_id,
                    region: c.region,
                    period: c.period,
                    funding_source: c.funding_source,
                    expected_households: c.expected_households,
                    expected_amount: money(c.expected_amount),
                    households_paid: c.households_paid,
                    amount_paid: money(c.amount_paid),
                    payments_failed: c.payments_failed,
                    payments_not_collected: c.payments_not_collected,
                    status: c.status,
                })
                .collect(),
        }))
    }

    async fn get_freshness(&self, request: Request<GetFreshnessRequest>) -> Reply<GetFreshnessResponse> {
        let freshness = self.monitoring.freshness().await.map_err(to_status)?;
        // A regional caller sees the regions of their scope only.
        let scope = access::caller(&request).map(|caller| caller.scope.clone());
        Ok(Response::new(GetFreshnessResponse {
            regions: freshness
                .into_iter()
                .filter(|f| scope.as_ref().is_none_or(|scope| scope.covers(f.region)))
                .map(region_freshness)
                .collect(),
        }))
    }

    async fn set_budget_line(&self, request: Request<SetBudgetLineRequest>) -> Reply<SetBudgetLineResponse> {
        let line = request.into_inner().line.unwrap_or_default();
        let stored = self
            .monitoring
            .set_budget_line(
                line.year,
                line.component,
                line.funding_source,
                line.forecast.map(|m| m.fcfa),
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(SetBudgetLineResponse {
            line: Some(budget_line(&stored)),
        }))
    }

    async fn record_expenditure(&self, request: Request<RecordExpenditureRequest>) -> Reply<RecordExpenditureResponse> {
        let r = request.into_inner();
        let fingerprint = idempotency::fingerprint(
            &RecordExpenditureRequest {
                request_id: String::new(),
                ..r.clone()
            }
            .encode_to_vec(),
        );
        let id = self
            .monitoring
            .record_expenditure(
                &r.request_id,
                &fingerprint,
                r.year,
                r.component,
                r.funding_source,
                r.amount.map(|m| m.fcfa),
                &r.spent_on,
                &r.description,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(RecordExpenditureResponse { expenditure_id: id }))
    }

    async fn get_budget_execution(
        &self,
        request: Request<GetBudgetExecutionRequest>,
    ) -> Reply<GetBudgetExecutionResponse> {
        let year = request.into_inner().year;
        let execution = self.monitoring.budget_execution(year).await.map_err(to_status)?;
        let mut per_component: std::collections::BTreeMap<Component, (i64, i64)> = Default::default();
        for line in &execution {
            let totals = per_component.entry(line.line.component).or_default();
            totals.0 += line.line.forecast_fcfa;
            totals.1 += line.achieved;
        }
        let forecast: i64 = execution.iter().map(|l| l.line.forecast_fcfa).sum();
        let achieved: i64 = execution.iter().map(|l| l.achieved).sum();
        Ok(Response::new(GetBudgetExecutionResponse {
            lines: execution
                .iter()
                .map(|l| BudgetLineExecution {
                    line: Some(budget_line(&l.line)),
                    achieved: money(l.achieved),
                    execution_rate: execution_rate(l.achieved, l.line.forecast_fcfa),
                })
                .collect(),
            components: per_component
                .into_iter()
                .map(|(component, (forecast, achieved))| ComponentExecution {
                    component: component.to_proto() as i32,
                    forecast: money(forecast),
                    achieved: money(achieved),
                    execution_rate: execution_rate(achieved, forecast),
                })
                .collect(),
            forecast: money(forecast),
            achieved: money(achieved),
            execution_rate: execution_rate(achieved, forecast),
        }))
    }

    async fn export_data_value_set(
        &self,
        request: Request<ExportDataValueSetRequest>,
    ) -> Reply<ExportDataValueSetResponse> {
        access::check_area(access::caller(&request), &request.get_ref().area, "area")?;
        let r = request.into_inner();
        let (json, count, unmapped) = self
            .monitoring
            .export_dhis2(&r.area, period_code(&r.period))
            .await
            .map_err(to_status)?;
        Ok(Response::new(ExportDataValueSetResponse {
            json,
            data_values: count as i64,
            unmapped_areas: unmapped,
        }))
    }

    async fn export_csv(&self, request: Request<ExportCsvRequest>) -> Reply<ExportCsvResponse> {
        access::check_area(access::caller(&request), &request.get_ref().area, "area")?;
        let r = request.into_inner();
        let csv = self
            .monitoring
            .export_csv(&r.area, period_code(&r.period))
            .await
            .map_err(to_status)?;
        Ok(Response::new(ExportCsvResponse { csv }))
    }
}

fn budget_line(line: &crate::domain::budget::BudgetLine) -> BudgetLine {
    BudgetLine {
        year: line.year,
        component: line.component.to_proto() as i32,
        funding_source: line.funding_source as i32,
        forecast: money(line.forecast_fcfa),
    }
}

fn region_freshness(f: crate::app::Freshness) -> RegionFreshness {
    RegionFreshness {
        region: f.region.slug().to_owned(),
        status: match f.status {
            freshness::Status::Live => FreshnessStatus::Live,
            freshness::Status::Silent => FreshnessStatus::Silent,
            freshness::Status::NeverHeard => FreshnessStatus::NeverHeard,
        } as i32,
        last_received_at: timestamp(f.last_received_at),
        last_event_time: timestamp(f.last_event_time),
        lag_p50_seconds: f.lag_p50,
        lag_p99_seconds: f.lag_p99,
        events_received: f.events_received,
    }
}
