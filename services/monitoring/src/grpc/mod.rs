//! The monitoring's gRPC API: checks the caller's scope where a request
//! names an area, calls [`Monitoring`], and turns its outcomes into
//! responses and statuses.

mod convert;
pub(crate) mod parse;

use jigi_proto::monitoring::monitoring_service_server::{MonitoringService, MonitoringServiceServer};
use jigi_proto::monitoring::*;
use jigi_server::{CommandError, access, status};
use jigi_storage::idempotency::{RequestId, RequestKey};
use prost::Message as _;
use tonic::{Request, Response, Status};

use crate::app::Monitoring;

/// Largest request message: every request is a few fields.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// Largest response: a CSV or DHIS2 export of every commune.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// The gRPC face of the monitoring.
pub struct MonitoringApi {
    monitoring: Monitoring,
}

impl MonitoringApi {
    pub fn new(monitoring: Monitoring) -> MonitoringApi {
        MonitoringApi { monitoring }
    }

    /// The tonic service, with message size limits.
    pub fn into_service(self) -> MonitoringServiceServer<MonitoringApi> {
        MonitoringServiceServer::new(self)
            .max_decoding_message_size(MAX_REQUEST_BYTES)
            .max_encoding_message_size(MAX_RESPONSE_BYTES)
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl MonitoringService for MonitoringApi {
    async fn get_indicators(&self, request: Request<GetIndicatorsRequest>) -> Reply<GetIndicatorsResponse> {
        access::check_area(access::caller(&request), &request.get_ref().area, "area")?;
        let r = request.into_inner();
        let (area, period, breakdown) =
            parse::indicators_query(self.monitoring.geography(), &r).map_err(CommandError::Invalid)?;
        let report = self.monitoring.indicators(area, period, breakdown).await?;
        // The regions the rows cover (every region for the whole country).
        let covered: Vec<String> = report
            .value
            .iter()
            .filter_map(|row| row.area.split('.').next().map(str::to_owned))
            .collect();
        Ok(Response::new(GetIndicatorsResponse {
            rows: report.value.into_iter().map(convert::indicator_row).collect(),
            freshness: report
                .freshness
                .into_iter()
                .filter(|f| r.area.is_empty() || covered.iter().any(|c| c == f.region.slug()))
                .map(convert::region_freshness)
                .collect(),
            as_of: Some(convert::as_of(report.as_of)),
        }))
    }

    async fn list_cycle_indicators(
        &self,
        request: Request<ListCycleIndicatorsRequest>,
    ) -> Reply<ListCycleIndicatorsResponse> {
        access::check_area(access::caller(&request), &request.get_ref().region, "region")?;
        let r = request.into_inner();
        let (region, period) = parse::region_and_period(&r.region, r.period.as_ref()).map_err(CommandError::Invalid)?;
        let cycles = self.monitoring.cycles(region, period).await?;
        Ok(Response::new(ListCycleIndicatorsResponse {
            cycles: cycles.value.into_iter().map(convert::cycle).collect(),
            freshness: cycles
                .freshness
                .into_iter()
                .filter(|f| r.region.is_empty() || f.region.slug() == r.region)
                .map(convert::region_freshness)
                .collect(),
            as_of: Some(convert::as_of(cycles.as_of)),
        }))
    }

    async fn list_round_indicators(
        &self,
        request: Request<ListRoundIndicatorsRequest>,
    ) -> Reply<ListRoundIndicatorsResponse> {
        access::check_area(access::caller(&request), &request.get_ref().region, "region")?;
        let r = request.into_inner();
        let state = match RoundState::try_from(r.state) {
            Ok(RoundState::Unspecified) => None,
            Ok(RoundState::Open) => Some(crate::app::RoundState::Open),
            Ok(RoundState::Closed) => Some(crate::app::RoundState::Closed),
            Err(_) => {
                return Err(status::invalid_argument(&[status::FieldError::new(
                    "state",
                    format!("has unknown value {}", r.state),
                )]));
            }
        };
        let (region, period) = parse::region_and_period(&r.region, r.period.as_ref()).map_err(CommandError::Invalid)?;
        let rounds = self.monitoring.rounds(region, period, state).await?;
        Ok(Response::new(ListRoundIndicatorsResponse {
            rounds: rounds.value.into_iter().map(convert::round).collect(),
            freshness: rounds
                .freshness
                .into_iter()
                .filter(|f| r.region.is_empty() || f.region.slug() == r.region)
                .map(convert::region_freshness)
                .collect(),
            as_of: Some(convert::as_of(rounds.as_of)),
        }))
    }

    async fn get_freshness(&self, request: Request<GetFreshnessRequest>) -> Reply<GetFreshnessResponse> {
        // A regional caller sees the regions of their scope only.
        let scope = access::caller(&request).map(|caller| caller.scope.clone());
        let fresh = self.monitoring.freshness().await?;
        Ok(Response::new(GetFreshnessResponse {
            regions: fresh
                .freshness
                .into_iter()
                .filter(|f| scope.as_ref().is_none_or(|scope| scope.covers(f.region)))
                .map(convert::region_freshness)
                .collect(),
            as_of: Some(convert::as_of(fresh.as_of)),
        }))
    }

    async fn set_budget_line(&self, request: Request<SetBudgetLineRequest>) -> Reply<SetBudgetLineResponse> {
        let line = parse::budget_line(request.get_ref().line.as_ref()).map_err(CommandError::Invalid)?;
        let stored = self.monitoring.set_budget_line(line).await?;
        Ok(Response::new(SetBudgetLineResponse {
            line: Some(convert::budget_line(&stored)),
        }))
    }

    async fn record_expenditure(&self, request: Request<RecordExpenditureRequest>) -> Reply<RecordExpenditureResponse> {
        let r = request.into_inner();
        // Required: a retry over a poor link must not count an expenditure twice.
        let content = RecordExpenditureRequest {
            request_id: String::new(),
            ..r.clone()
        }
        .encode_to_vec();
        let key = RequestId::parse(&r.request_id).map(|id| RequestKey::new("RecordExpenditure", id, &content));
        let (key, expenditure) = parse::expenditure_request(key, &r).map_err(CommandError::Invalid)?;
        let expenditure_id = self.monitoring.record_expenditure(key, expenditure).await?;
        Ok(Response::new(RecordExpenditureResponse { expenditure_id }))
    }

    async fn get_budget_execution(
        &self,
        request: Request<GetBudgetExecutionRequest>,
    ) -> Reply<GetBudgetExecutionResponse> {
        let r = request.get_ref();
        let (year, only) = parse::execution_query(r.year, &r.region).map_err(CommandError::Invalid)?;
        let execution = self.monitoring.budget_execution(year, only).await?;
        Ok(Response::new(convert::budget_execution(execution)))
    }

    async fn export_data_value_set(
        &self,
        request: Request<ExportDataValueSetRequest>,
    ) -> Reply<ExportDataValueSetResponse> {
        access::check_area(access::caller(&request), &request.get_ref().area, "area")?;
        let r = request.into_inner();
        let (area, period) = parse::export_query(self.monitoring.geography(), &r.area, r.period.as_ref())
            .map_err(CommandError::Invalid)?;
        let export = self.monitoring.export_dhis2(area, period).await?;
        Ok(Response::new(ExportDataValueSetResponse {
            json: export.json,
            data_values: export.data_values as i64,
            unmapped_areas: export.unmapped_areas,
        }))
    }

    async fn export_csv(&self, request: Request<ExportCsvRequest>) -> Reply<ExportCsvResponse> {
        access::check_area(access::caller(&request), &request.get_ref().area, "area")?;
        let r = request.into_inner();
        let (area, period) = parse::export_query(self.monitoring.geography(), &r.area, r.period.as_ref())
            .map_err(CommandError::Invalid)?;
        let csv = self.monitoring.export_csv(area, period).await?;
        Ok(Response::new(ExportCsvResponse { csv }))
    }
}
