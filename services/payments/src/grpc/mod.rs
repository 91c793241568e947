//! The payments gRPC API: decodes requests, calls [`Payments`], and turns
//! its outcomes into responses and statuses.
//!
//! The acting user (`prepared_by`, `approved_by`, …) is the token's subject
//! when access control is on; a request naming someone else is refused. A
//! payment agent's token names their agent code, and they see and report
//! only their own payment list. [`Payments`] takes the user and the agent
//! code as plain arguments; only this layer knows about tokens.

pub(crate) mod convert;
pub mod parse;

use std::pin::Pin;

use jigi_auth::Role;
use jigi_proto::payments::payments_service_server::{PaymentsService, PaymentsServiceServer};
use jigi_proto::payments::*;
use jigi_server::{CommandError, WireAnswer, access, parse_id, request_key};
use jigi_storage::idempotency::RequestKey;
use prost::Message as _;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::MAX_REQUEST_BYTES;
use crate::app::{CSV_HEADER, Payments};
use crate::domain::model::Totals;

/// Largest response: a batch's outcomes, a page of entitlements.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Rows per piece of an exported payment list.
const EXPORT_PAGE: usize = 5_000;

/// The gRPC face of the payments service.
pub struct PaymentsApi {
    payments: Payments,
}

impl PaymentsApi {
    pub fn new(payments: Payments) -> PaymentsApi {
        PaymentsApi { payments }
    }

    /// The tonic service, with message size limits.
    pub fn into_service(self) -> PaymentsServiceServer<PaymentsApi> {
        PaymentsServiceServer::new(self)
            .max_decoding_message_size(MAX_REQUEST_BYTES)
            .max_encoding_message_size(MAX_RESPONSE_BYTES)
    }
}

/// The user acting: the token's subject when access control is on (a
/// request naming someone else is refused: one acts only in one's own
/// name), else the user the request names.
fn acting_user<T>(request: &Request<T>, named: &str, field: &str) -> Result<String, Status> {
    match access::caller(request) {
        None => Ok(named.to_owned()),
        Some(caller) if named.is_empty() || named == caller.subject => Ok(caller.subject.clone()),
        Some(caller) => Err(Status::permission_denied(format!(
            "{field} is {named:?} but the caller is {:?}: leave it empty or name yourself",
            caller.subject
        ))),
    }
}

/// The agent code a call may use. A caller who is only a payment agent is
/// held to the code in their token: naming another is refused, naming none
/// means their own. Preparers, approvers and supervisors see every agent.
fn agent_scope<T>(request: &Request<T>, named: &str, field: &str) -> Result<String, Status> {
    let Some(caller) = access::caller(request) else {
        return Ok(named.to_owned());
    };
    if caller.has_any(&[Role::PaymentPreparer, Role::PaymentApprover, Role::RegionalSupervisor]) {
        return Ok(named.to_owned());
    }
    let Some(own) = caller.agent_code.as_deref() else {
        return Err(Status::permission_denied(
            "the caller's token carries no agent_code: a payment agent's token must name their agent",
        ));
    };
    if named.is_empty() || named == own {
        Ok(own.to_owned())
    } else {
        Err(Status::permission_denied(format!(
            "{field} {named:?} is not the caller's agent ({own:?}): an agent reports and reads only their own list"
        )))
    }
}

/// Request IDs of results share one scope, whichever RPC carried them: an
/// ID used for a single result and again for a batch is a reuse, refused.
/// (The scope the service has always stored them under.)
const RESULTS_SCOPE: &str = "payment-results";

/// The idempotency key of a results request: its ID, and its content
/// without the ID, prefixed by the RPC (a one-result batch and a single
/// result can encode alike, and must not answer for each other).
fn results_key(rpc: &str, request_id: &str, content: &[u8]) -> Result<RequestKey, CommandError> {
    request_key(RESULTS_SCOPE, request_id, &[rpc.as_bytes(), b"\0", content].concat())
}

type Reply<T> = Result<Response<T>, Status>;

/// The piece stream of an exported payment list.
pub type CsvStream = Pin<Box<dyn Stream<Item = Result<ExportPaymentListResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl PaymentsService for PaymentsApi {
    async fn open_payment_cycle(&self, request: Request<OpenPaymentCycleRequest>) -> Reply<OpenPaymentCycleResponse> {
        let user = acting_user(&request, &request.get_ref().prepared_by, "prepared_by")?;
        let new = parse::new_cycle(
            self.payments.geography(),
            self.payments.region(),
            request.get_ref(),
            &user,
        )
        .map_err(CommandError::Invalid)?;
        let cycle = self.payments.open(new).await?;
        jigi_telemetry::programme::record_cycle(&cycle.cycle_id);
        Ok(Response::new(OpenPaymentCycleResponse {
            cycle: Some(convert::cycle(&cycle)),
        }))
    }

    async fn get_payment_cycle(&self, request: Request<GetPaymentCycleRequest>) -> Reply<GetPaymentCycleResponse> {
        jigi_telemetry::programme::record_cycle(&request.get_ref().cycle_id);
        let cycle = self
            .payments
            .cycle(&parse_id("cycle_id", &request.get_ref().cycle_id)?)
            .await?;
        Ok(Response::new(GetPaymentCycleResponse {
            cycle: Some(convert::cycle(&cycle)),
        }))
    }

    async fn list_payment_cycles(
        &self,
        request: Request<ListPaymentCyclesRequest>,
    ) -> Reply<ListPaymentCyclesResponse> {
        let r = request.get_ref();
        let (cycles, next_page_token) = self
            .payments
            .cycles(
                &r.period,
                convert::cycle_status_from_wire(r.status),
                r.page_size,
                &r.page_token,
            )
            .await?;
        Ok(Response::new(ListPaymentCyclesResponse {
            cycles: cycles.iter().map(convert::cycle).collect(),
            next_page_token,
        }))
    }

    async fn assign_payment_agents(
        &self,
        request: Request<AssignPaymentAgentsRequest>,
    ) -> Reply<AssignPaymentAgentsResponse> {
        jigi_telemetry::programme::record_cycle(&request.get_ref().cycle_id);
        let user = acting_user(&request, &request.get_ref().assigned_by, "assigned_by")?;
        let r = request.get_ref();
        let (assignments, assigned_by) =
            parse::assignments(self.payments.geography(), self.payments.region(), r, &user)
                .map_err(CommandError::Invalid)?;
        let cycle_id = parse_id("cycle_id", &r.cycle_id)?;
        let cycle = self.payments.assign_agents(&cycle_id, assignments, assigned_by).await?;
        Ok(Response::new(AssignPaymentAgentsResponse {
            cycle: Some(convert::cycle(&cycle)),
        }))
    }

    async fn freeze_payment_cycle(
        &self,
        request: Request<FreezePaymentCycleRequest>,
    ) -> Reply<FreezePaymentCycleResponse> {
        jigi_telemetry::programme::record_cycle(&request.get_ref().cycle_id);
        let user = acting_user(&request, &request.get_ref().prepared_by, "prepared_by")?;
        let actor = parse::actor("prepared_by", &user)?;
        let cycle_id = parse_id("cycle_id", &request.get_ref().cycle_id)?;
        let frozen = self.payments.freeze(&cycle_id, actor).await?;
        Ok(Response::new(FreezePaymentCycleResponse {
            cycle: Some(convert::cycle(&frozen.cycle)),
            communes: frozen.communes.iter().map(convert::commune_totals).collect(),
            already_in_other_cycle: frozen.already_in_other_cycle,
            held: frozen.held.iter().map(convert::held).collect(),
        }))
    }

    async fn approve_payment_cycle(
        &self,
        request: Request<ApprovePaymentCycleRequest>,
    ) -> Reply<ApprovePaymentCycleResponse> {
        jigi_telemetry::programme::record_cycle(&request.get_ref().cycle_id);
        let user = acting_user(&request, &request.get_ref().approved_by, "approved_by")?;
        let r = request.get_ref();
        let approver = parse::actor("approved_by", &user)?;
        let cycle_id = parse_id("cycle_id", &r.cycle_id)?;
        let expected = Totals::new(
            r.expected_count,
            r.expected_amount.as_ref().map(|m| m.fcfa).unwrap_or_default(),
        );
        let cycle = self.payments.approve(&cycle_id, approver, expected).await?;
        Ok(Response::new(ApprovePaymentCycleResponse {
            cycle: Some(convert::cycle(&cycle)),
        }))
    }

    async fn cancel_payment_cycle(
        &self,
        request: Request<CancelPaymentCycleRequest>,
    ) -> Reply<CancelPaymentCycleResponse> {
        jigi_telemetry::programme::record_cycle(&request.get_ref().cycle_id);
        let user = acting_user(&request, &request.get_ref().cancelled_by, "cancelled_by")?;
        let r = request.get_ref();
        let (actor, reason) = parse::cancellation(&user, &r.reason).map_err(CommandError::Invalid)?;
        let cycle_id = parse_id("cycle_id", &r.cycle_id)?;
        let cycle = self.payments.cancel(&cycle_id, actor, reason).await?;
        Ok(Response::new(CancelPaymentCycleResponse {
            cycle: Some(convert::cycle(&cycle)),
        }))
    }

    async fn close_payment_cycle(
        &self,
        request: Request<ClosePaymentCycleRequest>,
    ) -> Reply<ClosePaymentCycleResponse> {
        jigi_telemetry::programme::record_cycle(&request.get_ref().cycle_id);
        let user = acting_user(&request, &request.get_ref().closed_by, "closed_by")?;
        let actor = parse::actor("closed_by", &user)?;
        let cycle_id = parse_id("cycle_id", &request.get_ref().cycle_id)?;
        let (cycle, reconciliation) = self.payments.close(&cycle_id, actor).await?;
        Ok(Response::new(ClosePaymentCycleResponse {
            cycle: Some(convert::cycle(&cycle)),
            reconciliation: Some(convert::reconciliation(&reconciliation)),
        }))
    }

    async fn list_entitlements(&self, request: Request<ListEntitlementsRequest>) -> Reply<ListEntitlementsResponse> {
        jigi_telemetry::programme::record_cycle(&request.get_ref().cycle_id);
        let agent_code = agent_scope(&request, &request.get_ref().agent_code, "agent_code")?;
        let r = request.get_ref();
        let cycle_id = parse_id("cycle_id", &r.cycle_id)?;
        // Empty: every agent's households.
        let agent = match agent_code.as_str() {
            "" => None,
            code => Some(parse::agent_code(code)?),
        };
        let page = self
            .payments
            .entitlements(
                &cycle_id,
                &r.commune,
                agent,
                convert::entitlement_status_from_wire(r.status),
                r.page_size,
                &r.page_token,
            )
            .await?;
        Ok(Response::new(ListEntitlementsResponse {
            entitlements: page
                .rows
                .iter()
                .map(|row| convert::entitlement(&page.cycle, row))
                .collect(),
            next_page_token: page.next_page_token,
        }))
    }

    type ExportPaymentListStream = CsvStream;

    async fn export_payment_list(
        &self,
        request: Request<ExportPaymentListRequest>,
    ) -> Reply<Self::ExportPaymentListStream> {
        jigi_telemetry::programme::record_cycle(&request.get_ref().cycle_id);
        let agent_code = agent_scope(&request, &request.get_ref().agent_code, "agent_code")?;
        let r = request.into_inner();
        let plan = self
            .payments
            .export_plan(
                parse::agent_code(&agent_code)?,
                &parse_id("cycle_id", &r.cycle_id)?,
                r.only_unpaid,
            )
            .await?;
        let (sender, receiver) = tokio::sync::mpsc::channel(2);
        let payments = self.payments.clone();
        tokio::spawn(async move {
            // One page of rows in memory at a time, however long the list.
            let mut after: Option<(String, String)> = None;
            let mut csv = CSV_HEADER.to_owned();
            loop {
                let rows = match payments
                    .export_rows(
                        &plan,
                        after.as_ref().map(|(c, h)| (c.as_str(), h.as_str())),
                        EXPORT_PAGE,
                    )
                    .await
                {
                    Ok(rows) => rows,
                    Err(err) => {
                        let _ = sender.send(Err(Status::from(err))).await;
                        return;
                    }
                };
                csv.push_str(&plan.csv(&rows));
                let piece = ExportPaymentListResponse {
                    csv: std::mem::take(&mut csv),
                    rows: rows.len() as i64,
                };
                if sender.send(Ok(piece)).await.is_err() {
                    return; // the client went away
                }
                match rows.last() {
                    Some(last) if rows.len() == EXPORT_PAGE => {
                        after = Some((last.place.commune.clone(), last.household_id.clone()));
                    }
                    _ => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn record_payment_result(
        &self,
        request: Request<RecordPaymentResultRequest>,
    ) -> Reply<RecordPaymentResultResponse> {
        jigi_telemetry::programme::record_cycle(&request.get_ref().cycle_id);
        if let Some(result) = &request.get_ref().result {
            // An operator finds a household's payment by its ID.
            jigi_telemetry::programme::record_household(&result.household_id);
            agent_scope(&request, &result.agent_code, "result.agent_code")?;
        }
        let mut r = request.into_inner();
        let request_id = std::mem::take(&mut r.request_id);
        let key = results_key("RecordPaymentResult", &request_id, &r.encode_to_vec())?;
        let result = r
            .result
            .as_ref()
            .map(|result| parse::payment_result(result, "result", crate::app::today()))
            .ok_or_else(|| CommandError::invalid("result", "is required"))?;
        let cycle_id = parse_id("cycle_id", &r.cycle_id)?;
        let WireAnswer(response) = self
            .payments
            .record_result(key, &cycle_id, result, |recorded| {
                WireAnswer(convert::result_recorded(recorded))
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn record_payment_results(
        &self,
        request: Request<RecordPaymentResultsRequest>,
    ) -> Reply<RecordPaymentResultsResponse> {
        jigi_telemetry::programme::record_cycle(&request.get_ref().cycle_id);
        // One result for another agent refuses the whole batch: nothing is written.
        for (index, result) in request.get_ref().results.iter().enumerate() {
            agent_scope(&request, &result.agent_code, &format!("results[{index}].agent_code"))?;
        }
        let mut r = request.into_inner();
        let request_id = std::mem::take(&mut r.request_id);
        let key = results_key("RecordPaymentResults", &request_id, &r.encode_to_vec())?;
        parse::batch_size(r.results.len())?;
        let cycle_id = parse_id("cycle_id", &r.cycle_id)?;
        let today = crate::app::today();
        let results = r
            .results
            .iter()
            .enumerate()
            .map(|(index, result)| parse::payment_result(result, &format!("results[{index}]"), today))
            .collect();
        let WireAnswer(response) = self
            .payments
            .record_results(key, &cycle_id, results, |recorded| {
                WireAnswer(convert::results_recorded(recorded))
            })
            .await?;
        tracing::info!(
            cycle_id = %cycle_id,
            accepted = response.accepted,
            refused = response.refused,
            "payment results recorded"
        );
        Ok(Response::new(response))
    }

    async fn get_reconciliation(&self, request: Request<GetReconciliationRequest>) -> Reply<GetReconciliationResponse> {
        jigi_telemetry::programme::record_cycle(&request.get_ref().cycle_id);
        let cycle_id = parse_id("cycle_id", &request.get_ref().cycle_id)?;
        let reconciliation = self.payments.reconciliation(&cycle_id).await?;
        let held = self.payments.held(&cycle_id).await?;
        Ok(Response::new(GetReconciliationResponse {
            reconciliation: Some(convert::reconciliation(&reconciliation)),
            held: held.iter().map(convert::held).collect(),
        }))
    }

    async fn list_eligible_households(
        &self,
        request: Request<ListEligibleHouseholdsRequest>,
    ) -> Reply<ListEligibleHouseholdsResponse> {
        let r = request.get_ref();
        let period = r.period.as_ref().map(|p| p.code.as_str()).unwrap_or_default();
        let page = self
            .payments
            .eligible_of(
                convert::cycle_kind_from_wire(r.kind),
                period,
                &r.commune,
                r.page_size,
                &r.page_token,
            )
            .await?;
        Ok(Response::new(ListEligibleHouseholdsResponse {
            households: page.households.iter().map(convert::eligible).collect(),
            next_page_token: page.next_page_token,
            total: page.total,
        }))
    }
}
