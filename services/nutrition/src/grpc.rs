//! The nutrition service's gRPC API: decodes requests, calls [`Nutrition`],
//! and turns its outcomes into responses and statuses.

use jigi_proto::nutrition::nutrition_service_server::{NutritionService, NutritionServiceServer};
use jigi_proto::nutrition::*;
use jigi_server::status;
use tonic::{Request, Response, Status};

use crate::app::{CommandError, Idempotency, LineInput, Nutrition};
use crate::convert;
use crate::domain::model::Reason;
use crate::events::location;

/// Largest request: a batch of 10,000 register lines.
const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;
/// Largest response: a batch's line-by-line results.
const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// The gRPC face of the nutrition service.
pub struct NutritionApi {
    nutrition: Nutrition,
}

impl NutritionApi {
    pub fn new(nutrition: Nutrition) -> NutritionApi {
        NutritionApi { nutrition }
    }

    /// The tonic service, with message size limits.
    pub fn into_service(self) -> NutritionServiceServer<NutritionApi> {
        NutritionServiceServer::new(self)
            .max_decoding_message_size(MAX_REQUEST_BYTES)
            .max_encoding_message_size(MAX_RESPONSE_BYTES)
    }
}

/// The status a client sees for a command's failure.
pub fn to_status(err: CommandError) -> Status {
    match err {
        CommandError::Invalid(errors) => status::invalid_argument(&errors),
        CommandError::NotFound { kind, id } => status::not_found(kind, &id),
        CommandError::Refused { refusal, subject } => match refusal.reason {
            Reason::UnknownPerson => status::not_found("person", &subject),
            Reason::AlreadyReceived => status::already_exists("distribution", &subject, refusal.message),
            Reason::Invalid => status::invalid_argument(&[status::FieldError::new(refusal.field, refusal.message)]),
            reason => status::failed_precondition(reason.code(), &subject, refusal.message),
        },
        CommandError::Conflict { kind, id, message } => status::already_exists(kind, &id, message),
        CommandError::RequestReused(request_id) => status::already_exists(
            "request",
            &request_id,
            format!("request_id {request_id} was already used with different content; use a new request_id"),
        ),
        CommandError::Storage(err) if is_busy(&err) => status::unavailable("write to the nutrition database", &err),
        CommandError::Storage(err) => status::internal("accessing the nutrition database", &err),
    }
}

/// SQLite's "database is locked" after the busy timeout: try again later.
fn is_busy(err: &jigi_storage::StorageError) -> bool {
    let text = err.to_string();
    text.contains("database is locked") || text.contains("database is busy")
}

type Reply<T> = Result<Response<T>, Status>;

/// The request ID and fingerprint of an idempotent request.
fn idempotency<M: prost::Message>(request_id: &str, request: &M) -> Result<Idempotency, Status> {
    // The fingerprint covers the whole request; the request ID is part of it,
    // which changes nothing: a lookup is by that same ID.
    Idempotency::of(request_id, &request.encode_to_vec()).map_err(to_status)
}

#[tonic::async_trait]
impl NutritionService for NutritionApi {
    async fn open_round(&self, request: Request<OpenRoundRequest>) -> Reply<OpenRoundResponse> {
        let round = self.nutrition.open_round(request.get_ref()).await.map_err(to_status)?;
        Ok(Response::new(OpenRoundResponse {
            round: Some(convert::round(&round)),
        }))
    }

    async fn close_round(&self, request: Request<CloseRoundRequest>) -> Reply<CloseRoundResponse> {
        jigi_telemetry::programme::record_round(&request.get_ref().round_id);
        let r = request.get_ref();
        let (round, report) = self
            .nutrition
            .close_round(&r.round_id, &r.closed_on)
            .await
            .map_err(to_status)?;
        Ok(Response::new(CloseRoundResponse {
            round: Some(convert::round(&round)),
            report: Some(convert::report(&report)),
        }))
    }

    async fn get_round(&self, request: Request<GetRoundRequest>) -> Reply<GetRoundResponse> {
        jigi_telemetry::programme::record_round(&request.get_ref().round_id);
        let round = self
            .nutrition
            .round(&request.get_ref().round_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(GetRoundResponse {
            round: Some(convert::round(&round)),
        }))
    }

    async fn list_rounds(&self, request: Request<ListRoundsRequest>) -> Reply<ListRoundsResponse> {
        let rounds = self.nutrition.rounds(request.get_ref().year).await.map_err(to_status)?;
        Ok(Response::new(ListRoundsResponse {
            rounds: rounds.iter().map(convert::round).collect(),
        }))
    }

    async fn register_warehouse(&self, request: Request<RegisterWarehouseRequest>) -> Reply<RegisterWarehouseResponse> {
        let warehouse = self
            .nutrition
            .register_warehouse(request.get_ref())
            .await
            .map_err(to_status)?;
        Ok(Response::new(RegisterWarehouseResponse {
            warehouse: Some(convert::warehouse(&warehouse)),
        }))
    }

    async fn list_warehouses(&self, request: Request<ListWarehousesRequest>) -> Reply<ListWarehousesResponse> {
        let warehouses = self
            .nutrition
            .warehouses(&request.get_ref().area)
            .await
            .map_err(to_status)?;
        Ok(Response::new(ListWarehousesResponse {
            warehouses: warehouses.iter().map(convert::warehouse).collect(),
        }))
    }

    async fn receive_stock(&self, request: Request<ReceiveStockRequest>) -> Reply<ReceiveStockResponse> {
        let request = request.into_inner();
        let idempotency = idempotency(&request.request_id, &request)?;
        let answer = self
            .nutrition
            .receive(&idempotency, &request)
            .await
            .map_err(to_status)?;
        Ok(Response::new(answer))
    }

    async fn transfer_stock(&self, request: Request<TransferStockRequest>) -> Reply<TransferStockResponse> {
        let request = request.into_inner();
        let idempotency = idempotency(&request.request_id, &request)?;
        let answer = self
            .nutrition
            .transfer(&idempotency, &request)
            .await
            .map_err(to_status)?;
        Ok(Response::new(answer))
    }

    async fn record_loss(&self, request: Request<RecordLossRequest>) -> Reply<RecordLossResponse> {
        let request = request.into_inner();
        let idempotency = idempotency(&request.request_id, &request)?;
        let answer = self
            .nutrition
            .record_loss(&idempotency, &request)
            .await
            .map_err(to_status)?;
        Ok(Response::new(answer))
    }

    async fn get_stock(&self, request: Request<GetStockRequest>) -> Reply<GetStockResponse> {
        let r = request.get_ref();
        let stock = self.nutrition.stock(&r.warehouse_id, &r.on).await.map_err(to_status)?;
        Ok(Response::new(GetStockResponse { stock: Some(stock) }))
    }

    async fn check_eligibility(&self, request: Request<CheckEligibilityRequest>) -> Reply<CheckEligibilityResponse> {
        let r = request.get_ref();
        let eligibility = self
            .nutrition
            .check_eligibility(&r.member_id, &r.on)
            .await
            .map_err(to_status)?;
        let (household_id, place) = match &eligibility.known {
            Some((_, household)) => (household.household_id.clone(), Some(location(&household.location))),
            None => (String::new(), None),
        };
        Ok(Response::new(match eligibility.outcome {
            Ok(group) => CheckEligibilityResponse {
                eligible: true,
                group: group.to_proto() as i32,
                household_id,
                location: place,
                refusal: None,
            },
            Err(refusal) => CheckEligibilityResponse {
                eligible: false,
                group: BeneficiaryGroup::Unspecified as i32,
                household_id,
                location: place,
                refusal: Some(convert::refusal(&refusal)),
            },
        }))
    }

    async fn list_beneficiaries(&self, request: Request<ListBeneficiariesRequest>) -> Reply<ListBeneficiariesResponse> {
        let r = request.get_ref();
        let page = self
            .nutrition
            .beneficiaries(&r.area, &r.on, r.page_size, &r.page_token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(ListBeneficiariesResponse {
            beneficiaries: page
                .beneficiaries
                .iter()
                .map(|(person, household, group)| Beneficiary {
                    member_id: person.member_id.clone(),
                    household_id: household.household_id.clone(),
                    group: group.to_proto() as i32,
                    location: Some(location(&household.location)),
                })
                .collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn record_distribution(
        &self,
        request: Request<RecordDistributionRequest>,
    ) -> Reply<RecordDistributionResponse> {
        jigi_telemetry::programme::record_household(&request.get_ref().household_id);
        jigi_telemetry::programme::record_round(&request.get_ref().round_id);
        let request = request.into_inner();
        let idempotency = idempotency(&request.request_id, &request)?;
        let answer = self
            .nutrition
            .record_distribution(&idempotency, &request)
            .await
            .map_err(to_status)?;
        Ok(Response::new(answer))
    }

    async fn record_distribution_batch(
        &self,
        request: Request<RecordDistributionBatchRequest>,
    ) -> Reply<RecordDistributionBatchResponse> {
        jigi_telemetry::programme::record_round(&request.get_ref().round_id);
        let request = request.into_inner();
        let idempotency = idempotency(&request.request_id, &request)?;
        let lines = request
            .lines
            .into_iter()
            .map(|l| LineInput {
                line: l.line,
                household_id: l.household_id,
                member_id: l.member_id,
                distributed_on: l.distributed_on,
            })
            .collect();
        let answer = self
            .nutrition
            .record_batch(&idempotency, &request.round_id, &request.warehouse_id, lines)
            .await
            .map_err(to_status)?;
        tracing::info!(
            round_id = %request.round_id,
            warehouse_id = %request.warehouse_id,
            recorded = answer.recorded,
            refused = answer.refused,
            "distribution batch recorded"
        );
        Ok(Response::new(answer))
    }

    async fn get_round_report(&self, request: Request<GetRoundReportRequest>) -> Reply<GetRoundReportResponse> {
        jigi_telemetry::programme::record_round(&request.get_ref().round_id);
        let report = self
            .nutrition
            .report(&request.get_ref().round_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(GetRoundReportResponse {
            report: Some(convert::report(&report)),
        }))
    }
}
