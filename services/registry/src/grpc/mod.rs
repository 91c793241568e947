//! The registry's gRPC API: decodes requests, calls [`Registry`], and turns
//! its outcomes into responses and statuses.

pub(crate) mod convert;
pub mod parse;

use jigi_common::Problems;
use jigi_proto::registry::registry_service_server::{RegistryService, RegistryServiceServer};
use jigi_proto::registry::*;
use jigi_server::{CommandError, parse_id, request_key, status};
use prost::Message as _;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use crate::app::{BatchEnrolment, ImportRow, ImportSession, ListQuery, Registry, RowOutcome, Targets};

/// Most rows one import call may carry.
pub const MAX_IMPORT_ROWS: usize = 200_000;
/// Rows written per transaction during an import.
const IMPORT_BATCH: usize = 500;
/// Largest request message (one household, or one import row).
const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// Largest response: an import's per-row results for 200,000 rows.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// The gRPC face of the registry.
pub struct RegistryApi {
    registry: Registry,
}

impl RegistryApi {
    pub fn new(registry: Registry) -> RegistryApi {
        RegistryApi { registry }
    }

    /// The tonic service, with message size limits.
    pub fn into_service(self) -> RegistryServiceServer<RegistryApi> {
        RegistryServiceServer::new(self)
            .max_decoding_message_size(MAX_REQUEST_BYTES)
            .max_encoding_message_size(MAX_RESPONSE_BYTES)
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl RegistryService for RegistryApi {
    async fn register_household(&self, request: Request<RegisterHouseholdRequest>) -> Reply<RegisterHouseholdResponse> {
        let request = request.into_inner();
        // Required, as for every command that must not happen twice: a
        // tablet retrying over a poor link must not register twice.
        let content = request
            .household
            .as_ref()
            .map(|h| h.encode_to_vec())
            .unwrap_or_default();
        let key = request_key("RegisterHousehold", &request.request_id, &content)?;
        let new = parse::household(&self.registry.rules(), request.household.as_ref(), "household")
            .map_err(CommandError::Invalid)?;
        let household = self.registry.register(key, new).await?;
        jigi_telemetry::programme::record_household(&household.household_id);
        tracing::info!(household_id = %household.household_id, "household registered");
        Ok(Response::new(RegisterHouseholdResponse {
            household: Some(convert::household(&household)),
        }))
    }

    async fn import_households(
        &self,
        request: Request<Streaming<ImportHouseholdsRequest>>,
    ) -> Reply<ImportHouseholdsResponse> {
        let mut rows = request.into_inner();
        let mut session = Some(ImportSession::default());
        let mut response = ImportHouseholdsResponse::default();
        let mut batch = Vec::with_capacity(IMPORT_BATCH);
        let mut received = 0usize;
        loop {
            let next = rows.next().await;
            let done = match next {
                Some(Ok(row)) => {
                    received += 1;
                    if received > MAX_IMPORT_ROWS {
                        return Err(status::invalid_argument(&[status::FieldError::new(
                            "row",
                            format!("an import carries at most {MAX_IMPORT_ROWS} rows; split the file"),
                        )]));
                    }
                    let reference = if row.row == 0 { received as i64 } else { row.row };
                    batch.push((reference, row.household));
                    false
                }
                Some(Err(status)) => return Err(status),
                None => true,
            };
            if batch.len() == IMPORT_BATCH || (done && !batch.is_empty()) {
                let rules = self.registry.rules();
                let parsed = batch
                    .drain(..)
                    .map(|(row, draft)| ImportRow {
                        row,
                        household: parse::household(&rules, draft.as_ref(), "household"),
                    })
                    .collect();
                let (returned, outcomes) = self
                    .registry
                    .import_batch(session.take().unwrap_or_default(), parsed)
                    .await?;
                session = Some(returned);
                for (row, outcome) in outcomes {
                    let result = row_result(row, outcome, &mut response);
                    response.results.push(result);
                }
            }
            if done {
                break;
            }
        }
        tracing::info!(
            registered = response.registered,
            duplicates = response.duplicates,
            invalid = response.invalid,
            "household import finished"
        );
        Ok(Response::new(response))
    }

    async fn get_household(&self, request: Request<GetHouseholdRequest>) -> Reply<GetHouseholdResponse> {
        jigi_telemetry::programme::record_household(&request.get_ref().household_id);
        let household = self
            .registry
            .get(&parse_id("household_id", &request.get_ref().household_id)?)
            .await?;
        Ok(Response::new(GetHouseholdResponse {
            household: Some(convert::household(&household)),
        }))
    }

    async fn update_household(&self, request: Request<UpdateHouseholdRequest>) -> Reply<UpdateHouseholdResponse> {
        jigi_telemetry::programme::record_household(&request.get_ref().household_id);
        let request = request.into_inner();
        let (location, traits) = parse::household_changes(
            &self.registry.rules(),
            request.location.as_ref(),
            request.traits.as_ref(),
        )
        .map_err(CommandError::Invalid)?;
        let household = self
            .registry
            .update(
                &parse_id("household_id", &request.household_id)?,
                request.expected_version,
                location,
                traits,
            )
            .await?;
        Ok(Response::new(UpdateHouseholdResponse {
            household: Some(convert::household(&household)),
        }))
    }

    async fn add_member(&self, request: Request<AddMemberRequest>) -> Reply<AddMemberResponse> {
        jigi_telemetry::programme::record_household(&request.get_ref().household_id);
        let request = request.into_inner();
        let member =
            parse::added_member(&self.registry.rules(), request.member.as_ref()).map_err(CommandError::Invalid)?;
        let (household, member_id) = self
            .registry
            .add_member(&parse_id("household_id", &request.household_id)?, member)
            .await?;
        Ok(Response::new(AddMemberResponse {
            household: Some(convert::household(&household)),
            member_id,
        }))
    }

    async fn update_member(&self, request: Request<UpdateMemberRequest>) -> Reply<UpdateMemberResponse> {
        jigi_telemetry::programme::record_household(&request.get_ref().household_id);
        let request = request.into_inner();
        let (member_id, edit) = parse::member_edit(&self.registry.rules(), &request).map_err(CommandError::Invalid)?;
        let household_id = parse_id("household_id", &request.household_id)?;
        let household = self.registry.update_member(&household_id, &member_id, edit).await?;
        Ok(Response::new(UpdateMemberResponse {
            household: Some(convert::household(&household)),
        }))
    }

    async fn list_households(&self, request: Request<ListHouseholdsRequest>) -> Reply<ListHouseholdsResponse> {
        let r = request.into_inner();
        let query = ListQuery {
            area: r.area,
            status: convert::household_status_from_wire(r.status),
            enrolled_in: convert::component_from_wire(r.enrolled_in),
            pmt_score_min: r.pmt_score_min,
            pmt_score_max: r.pmt_score_max,
            eligible_only: r.eligible_only,
            page_size: r.page_size,
            page_token: r.page_token,
        };
        let page = self.registry.list(&query).await?;
        Ok(Response::new(ListHouseholdsResponse {
            households: page.households.iter().map(convert::household).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn enrol_household(&self, request: Request<EnrolHouseholdRequest>) -> Reply<EnrolHouseholdResponse> {
        jigi_telemetry::programme::record_household(&request.get_ref().household_id);
        let r = request.into_inner();
        let mut problems = Problems::new();
        let enrolling = parse::enrolling(
            &self.registry.rules(),
            r.component,
            &r.enrolled_on,
            &r.committee_override,
            &mut problems,
        );
        let enrolling = problems
            .into_result(|| enrolling.expect("checked"))
            .map_err(CommandError::Invalid)?;
        let household = self
            .registry
            .enrol(&parse_id("household_id", &r.household_id)?, enrolling)
            .await?;
        tracing::info!(household_id = %household.household_id, component = r.component, "household enrolled");
        Ok(Response::new(EnrolHouseholdResponse {
            household: Some(convert::household(&household)),
        }))
    }

    async fn enrol_households(&self, request: Request<EnrolHouseholdsRequest>) -> Reply<EnrolHouseholdsResponse> {
        let mut r = request.into_inner();
        let request_id = std::mem::take(&mut r.request_id);
        let key = request_key("EnrolHouseholds", &request_id, &r.encode_to_vec())?;
        let targets = match (r.household_ids.is_empty(), r.selection.take()) {
            (false, Some(_)) => {
                return Err(status::invalid_argument(&[status::FieldError::new(
                    "selection",
                    "give either household_ids or a selection, not both",
                )]));
            }
            (_, Some(selection)) => {
                Targets::Selected(self.registry.selection(&selection.area, selection.eligible_only)?)
            }
            (_, None) => Targets::Listed(std::mem::take(&mut r.household_ids)),
        };
        let (enrolling, targets) =
            parse::batch_enrolment(&self.registry.rules(), &r, targets).map_err(CommandError::Invalid)?;
        let outcomes = self.registry.enrol_many(key, enrolling, targets).await?;
        let mut response = EnrolHouseholdsResponse::default();
        for outcome in outcomes {
            let (household_id, result, refusal, message) = match outcome {
                BatchEnrolment::Enrolled(id) => {
                    response.enrolled += 1;
                    (id, EnrolmentResult::Enrolled, String::new(), String::new())
                }
                BatchEnrolment::AlreadyEnrolled(id) => {
                    response.already_enrolled += 1;
                    (id, EnrolmentResult::AlreadyEnrolled, String::new(), String::new())
                }
                BatchEnrolment::Refused {
                    household_id,
                    kind,
                    message,
                } => {
                    response.refused += 1;
                    (household_id, EnrolmentResult::Refused, kind, message)
                }
            };
            response.outcomes.push(EnrolmentOutcome {
                household_id,
                result: result as i32,
                refusal,
                message,
            });
        }
        tracing::info!(
            component = r.component,
            enrolled = response.enrolled,
            already_enrolled = response.already_enrolled,
            refused = response.refused,
            "households enrolled"
        );
        Ok(Response::new(response))
    }

    async fn exit_household(&self, request: Request<ExitHouseholdRequest>) -> Reply<ExitHouseholdResponse> {
        jigi_telemetry::programme::record_household(&request.get_ref().household_id);
        let r = request.into_inner();
        let exiting = parse::exiting(&self.registry.rules(), &r).map_err(CommandError::Invalid)?;
        let household = self
            .registry
            .exit(&parse_id("household_id", &r.household_id)?, exiting)
            .await?;
        Ok(Response::new(ExitHouseholdResponse {
            household: Some(convert::household(&household)),
        }))
    }

    async fn transfer_household(&self, request: Request<TransferHouseholdRequest>) -> Reply<TransferHouseholdResponse> {
        jigi_telemetry::programme::record_household(&request.get_ref().household_id);
        let r = request.into_inner();
        let moving = parse::moving(&self.registry.rules(), &r).map_err(CommandError::Invalid)?;
        let household = self
            .registry
            .transfer(&parse_id("household_id", &r.household_id)?, moving)
            .await?;
        tracing::info!(household_id = %household.household_id, destination = %r.destination_region, "household transferred");
        Ok(Response::new(TransferHouseholdResponse {
            household: Some(convert::household(&household)),
        }))
    }

    async fn get_status_history(&self, request: Request<GetStatusHistoryRequest>) -> Reply<GetStatusHistoryResponse> {
        jigi_telemetry::programme::record_household(&request.get_ref().household_id);
        let changes = self
            .registry
            .history(&parse_id("household_id", &request.get_ref().household_id)?)
            .await?;
        Ok(Response::new(GetStatusHistoryResponse {
            changes: changes.iter().map(convert::status_change).collect(),
        }))
    }

    async fn list_areas(&self, request: Request<ListAreasRequest>) -> Reply<ListAreasResponse> {
        let areas = self.registry.areas(&request.get_ref().parent)?;
        Ok(Response::new(ListAreasResponse {
            areas: areas.iter().map(convert::area).collect(),
        }))
    }
}

/// One row's result, counted into the response's totals.
fn row_result(row: i64, outcome: RowOutcome, totals: &mut ImportHouseholdsResponse) -> ImportRowResult {
    match outcome {
        RowOutcome::Registered(household) => {
            totals.registered += 1;
            ImportRowResult {
                row,
                outcome: ImportRowOutcome::Registered as i32,
                household_id: household.household_id,
                ..Default::default()
            }
        }
        RowOutcome::Duplicate {
            household_id,
            duplicate_of_row,
            message,
        } => {
            totals.duplicates += 1;
            ImportRowResult {
                row,
                outcome: ImportRowOutcome::Duplicate as i32,
                household_id,
                message,
                duplicate_of_row: duplicate_of_row.unwrap_or_default(),
                ..Default::default()
            }
        }
        RowOutcome::Invalid(errors) => {
            totals.invalid += 1;
            let first = errors
                .first()
                .cloned()
                .unwrap_or_else(|| status::FieldError::new("household", "is invalid"));
            let message = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.description))
                .collect::<Vec<_>>()
                .join("; ");
            ImportRowResult {
                row,
                outcome: ImportRowOutcome::Invalid as i32,
                field: first.field,
                message,
                ..Default::default()
            }
        }
    }
}
