//! The nutrition service's gRPC API: decodes requests, calls [`Nutrition`],
//! and turns its outcomes into responses and statuses.

pub(crate) mod convert;
pub(crate) mod parse;

use jigi_proto::nutrition::nutrition_service_server::{NutritionService, NutritionServiceServer};
use jigi_proto::nutrition::*;
use jigi_server::{CommandError, WireAnswer, request_key};
use prost::Message as _;
use tonic::{Request, Response, Status};

use crate::app::{Nutrition, today};
use crate::events::location;

/// Largest request: a batch of 10,000 register lines.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;
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

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl NutritionService for NutritionApi {
    async fn open_round(&self, request: Request<OpenRoundRequest>) -> Reply<OpenRoundResponse> {
        let new = parse::new_round(&self.nutrition.rules(), request.get_ref()).map_err(CommandError::Invalid)?;
        let round = self.nutrition.open_round(new).await?;
        Ok(Response::new(OpenRoundResponse {
            round: Some(convert::round(&round)),
        }))
    }

    async fn close_round(&self, request: Request<CloseRoundRequest>) -> Reply<CloseRoundResponse> {
        jigi_telemetry::programme::record_round(&request.get_ref().round_id);
        let (round_id, on) =
            parse::round_closing(&self.nutrition.rules(), request.get_ref()).map_err(CommandError::Invalid)?;
        let (round, report) = self.nutrition.close_round(round_id, on).await?;
        Ok(Response::new(CloseRoundResponse {
            round: Some(convert::round(&round)),
            report: Some(convert::report(&report)),
        }))
    }

    async fn get_round(&self, request: Request<GetRoundRequest>) -> Reply<GetRoundResponse> {
        jigi_telemetry::programme::record_round(&request.get_ref().round_id);
        let round_id = parse::round_id(&request.get_ref().round_id).map_err(CommandError::Invalid)?;
        let round = self.nutrition.round(round_id).await?;
        Ok(Response::new(GetRoundResponse {
            round: Some(convert::round(&round)),
        }))
    }

    async fn list_rounds(&self, request: Request<ListRoundsRequest>) -> Reply<ListRoundsResponse> {
        let rounds = self.nutrition.rounds(request.get_ref().year).await?;
        Ok(Response::new(ListRoundsResponse {
            rounds: rounds.iter().map(convert::round).collect(),
        }))
    }

    async fn register_warehouse(&self, request: Request<RegisterWarehouseRequest>) -> Reply<RegisterWarehouseResponse> {
        let warehouse =
            parse::new_warehouse(&self.nutrition.rules(), request.get_ref()).map_err(CommandError::Invalid)?;
        let warehouse = self.nutrition.register_warehouse(warehouse).await?;
        Ok(Response::new(RegisterWarehouseResponse {
            warehouse: Some(convert::warehouse(&warehouse)),
        }))
    }

    async fn list_warehouses(&self, request: Request<ListWarehousesRequest>) -> Reply<ListWarehousesResponse> {
        let area = parse::area(&self.nutrition.rules(), &request.get_ref().area).map_err(CommandError::Invalid)?;
        let warehouses = self.nutrition.warehouses(area).await?;
        Ok(Response::new(ListWarehousesResponse {
            warehouses: warehouses.iter().map(convert::warehouse).collect(),
        }))
    }

    async fn receive_stock(&self, request: Request<ReceiveStockRequest>) -> Reply<ReceiveStockResponse> {
        let mut request = request.into_inner();
        let request_id = std::mem::take(&mut request.request_id);
        let key = request_key("ReceiveStock", &request_id, &request.encode_to_vec())?;
        let receipt = parse::receipt(&self.nutrition.rules(), &request).map_err(CommandError::Invalid)?;
        let WireAnswer(answer) = self
            .nutrition
            .receive(key, receipt, |change| {
                WireAnswer(ReceiveStockResponse {
                    movement: Some(convert::movement(&change.movement)),
                    stock: Some(convert::stock(&change.warehouse, &change.lots, today())),
                })
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn transfer_stock(&self, request: Request<TransferStockRequest>) -> Reply<TransferStockResponse> {
        let mut request = request.into_inner();
        let request_id = std::mem::take(&mut request.request_id);
        let key = request_key("TransferStock", &request_id, &request.encode_to_vec())?;
        let transfer = parse::stock_transfer(&self.nutrition.rules(), &request).map_err(CommandError::Invalid)?;
        let WireAnswer(answer) = self
            .nutrition
            .transfer(key, transfer, |moved| {
                WireAnswer(TransferStockResponse {
                    transfer_id: moved.transfer_id.clone(),
                    from_stock: Some(convert::stock(&moved.from, &moved.from_lots, today())),
                    to_stock: Some(convert::stock(&moved.to, &moved.to_lots, today())),
                })
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn record_loss(&self, request: Request<RecordLossRequest>) -> Reply<RecordLossResponse> {
        let mut request = request.into_inner();
        let request_id = std::mem::take(&mut request.request_id);
        let key = request_key("RecordLoss", &request_id, &request.encode_to_vec())?;
        let loss = parse::loss(&self.nutrition.rules(), &request).map_err(CommandError::Invalid)?;
        let WireAnswer(answer) = self
            .nutrition
            .record_loss(key, loss, |change| {
                WireAnswer(RecordLossResponse {
                    movement: Some(convert::movement(&change.movement)),
                    stock: Some(convert::stock(&change.warehouse, &change.lots, today())),
                })
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn get_stock(&self, request: Request<GetStockRequest>) -> Reply<GetStockResponse> {
        let (id, on) = parse::stock_query(&self.nutrition.rules(), request.get_ref()).map_err(CommandError::Invalid)?;
        let stock = self.nutrition.stock(id, on).await?;
        Ok(Response::new(GetStockResponse {
            stock: Some(convert::stock(&stock.warehouse, &stock.lots, stock.on)),
        }))
    }

    async fn check_eligibility(&self, request: Request<CheckEligibilityRequest>) -> Reply<CheckEligibilityResponse> {
        let (member_id, on) =
            parse::eligibility_query(&self.nutrition.rules(), request.get_ref()).map_err(CommandError::Invalid)?;
        let eligibility = self.nutrition.check_eligibility(member_id, on).await?;
        let (household_id, place) = match &eligibility.known {
            Some((_, household)) => (household.household_id.clone(), Some(location(&household.location))),
            None => (String::new(), None),
        };
        Ok(Response::new(match eligibility.outcome {
            Ok(group) => CheckEligibilityResponse {
                eligible: true,
                group: convert::group(group) as i32,
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
        let query = parse::beneficiary_query(&self.nutrition.rules(), r).map_err(CommandError::Invalid)?;
        let page = self.nutrition.beneficiaries(query, &r.page_token).await?;
        Ok(Response::new(ListBeneficiariesResponse {
            beneficiaries: page
                .beneficiaries
                .iter()
                .map(|(person, household, group)| Beneficiary {
                    member_id: person.member_id.clone(),
                    household_id: household.household_id.clone(),
                    group: convert::group(*group) as i32,
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
        let mut request = request.into_inner();
        let request_id = std::mem::take(&mut request.request_id);
        let key = request_key("RecordDistribution", &request_id, &request.encode_to_vec())?;
        let (round_id, warehouse_id, line) =
            parse::distribution(&self.nutrition.rules(), &request).map_err(CommandError::Invalid)?;
        let WireAnswer(answer) = self
            .nutrition
            .record_distribution(key, round_id, warehouse_id, line, |distribution| {
                WireAnswer(RecordDistributionResponse {
                    distribution: Some(convert::distribution(distribution)),
                })
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn record_distribution_batch(
        &self,
        request: Request<RecordDistributionBatchRequest>,
    ) -> Reply<RecordDistributionBatchResponse> {
        jigi_telemetry::programme::record_round(&request.get_ref().round_id);
        let mut request = request.into_inner();
        let request_id = std::mem::take(&mut request.request_id);
        let key = request_key("RecordDistributionBatch", &request_id, &request.encode_to_vec())?;
        let (round_id, warehouse_id, lines) =
            parse::distribution_batch(&self.nutrition.rules(), &request).map_err(CommandError::Invalid)?;
        let WireAnswer(answer) = self
            .nutrition
            .record_batch(key, round_id, warehouse_id, lines, |outcomes| {
                WireAnswer(convert::batch_answer(outcomes))
            })
            .await?;
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
        let round_id = parse::round_id(&request.get_ref().round_id).map_err(CommandError::Invalid)?;
        let report = self.nutrition.report(round_id).await?;
        Ok(Response::new(GetRoundReportResponse {
            report: Some(convert::report(&report)),
        }))
    }
}
