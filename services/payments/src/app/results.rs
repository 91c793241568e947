//! Recording disbursement results, one or a batch, idempotently.
//!
//! One transaction per request: the request ID is looked up first (a replay
//! returns the stored answer), then the cycle's gate (approved or
//! disbursing), then every result is judged in order. Accepted results are
//! written with their events; refused ones change nothing and are reported
//! item by item. The answer is stored under the request ID in the same
//! transaction.

use jigi_proto::payments as pp;
use jigi_storage::Tx;
use jigi_storage::idempotency::{self, Prior, RequestId};
use prost::Message;

use super::{CommandError, Payments, today};
use crate::domain::cycle;
use crate::domain::model::{Cycle, CycleStatus, Totals};
use crate::domain::results::{self, Outcome, RefusalKind, Report, ResultRefusal};
use crate::events;
use crate::storage;

/// Request IDs of results share one scope, whichever RPC carried them: an
/// ID reused between a single result and a batch is a conflict.
const SCOPE: &str = "payment-results";

/// Most results in one batch.
pub const MAX_BATCH: usize = 10_000;

impl Payments {
    /// Records a batch of results; each is accepted or refused on its own.
    pub async fn record_results(
        &self,
        request_id: &str,
        fingerprint: &str,
        cycle_id: &str,
        results: &[pp::PaymentResult],
    ) -> Result<pp::RecordPaymentResultsResponse, CommandError> {
        let request_id = parse_request_id(request_id)?;
        if results.is_empty() {
            return Err(CommandError::invalid("results", "give at least one result"));
        }
        if results.len() > MAX_BATCH {
            return Err(CommandError::invalid(
                "results",
                format!("a batch carries at most {MAX_BATCH} results; split it"),
            ));
        }
        let mut tx = self.db.begin_write().await?;
        if let Some(stored) = self.replay(&mut tx, &request_id, fingerprint).await? {
            return pp::RecordPaymentResultsResponse::decode(stored.as_slice())
                .map_err(|err| CommandError::Storage(sqlx::Error::Decode(Box::new(err)).into()));
        }
        let mut cycle = self.load_for_change(&mut tx, cycle_id).await?;
        cycle::accepts_results(&cycle).map_err(|r| CommandError::refused(r, cycle_id))?;
        let today = today();
        let approved_on = cycle.approved_on();
        let validated: Vec<Result<Report, ResultRefusal>> = results
            .iter()
            .enumerate()
            .map(|(i, r)| {
                results::validate(r, &format!("results[{i}]"), today, approved_on).map_err(ResultRefusal::invalid)
            })
            .collect();
        let decisions = self.apply(&mut tx, &mut cycle, &validated, request_id.as_str()).await?;
        let mut response = pp::RecordPaymentResultsResponse {
            paid: Some(totals(cycle.paid)),
            ..Default::default()
        };
        for (index, (result, decision)) in results.iter().zip(decisions).enumerate() {
            match &decision {
                Ok(()) => response.accepted += 1,
                Err(_) => response.refused += 1,
            }
            response.outcomes.push(outcome(index, &result.household_id, decision));
        }
        idempotency::remember(&mut tx, SCOPE, &request_id, fingerprint, &response.encode_to_vec()).await?;
        self.commit(tx).await?;
        self.metrics.results("refused", response.refused as u64);
        Ok(response)
    }

    /// Records one result; a refusal is an error and changes nothing.
    pub async fn record_result(
        &self,
        request_id: &str,
        fingerprint: &str,
        cycle_id: &str,
        result: Option<&pp::PaymentResult>,
    ) -> Result<pp::RecordPaymentResultResponse, CommandError> {
        let request_id = parse_request_id(request_id)?;
        let Some(result) = result else {
            return Err(CommandError::invalid("result", "is required"));
        };
        let mut tx = self.db.begin_write().await?;
        if let Some(stored) = self.replay(&mut tx, &request_id, fingerprint).await? {
            return pp::RecordPaymentResultResponse::decode(stored.as_slice())
                .map_err(|err| CommandError::Storage(sqlx::Error::Decode(Box::new(err)).into()));
        }
        let mut cycle = self.load_for_change(&mut tx, cycle_id).await?;
        cycle::accepts_results(&cycle).map_err(|r| CommandError::refused(r, cycle_id))?;
        let report =
            results::validate(result, "result", today(), cycle.approved_on()).map_err(CommandError::Invalid)?;
        let mut decisions = self
            .apply(&mut tx, &mut cycle, &[Ok(report)], request_id.as_str())
            .await?;
        if let Err(refusal) = decisions.remove(0) {
            // Dropping the transaction rolls back: nothing was changed.
            self.metrics.results("refused", 1);
            return Err(single_refusal(cycle_id, &result.household_id, refusal));
        }
        let response = pp::RecordPaymentResultResponse {
            outcome: Some(outcome(0, &result.household_id, Ok(()))),
            paid: Some(totals(cycle.paid)),
        };
        idempotency::remember(&mut tx, SCOPE, &request_id, fingerprint, &response.encode_to_vec()).await?;
        self.commit(tx).await?;
        Ok(response)
    }

    /// The stored answer to a request ID, if it was seen with this content.
    async fn replay(
        &self,
        tx: &mut Tx,
        request_id: &RequestId,
        fingerprint: &str,
    ) -> Result<Option<Vec<u8>>, CommandError> {
        match idempotency::lookup(tx, SCOPE, request_id, fingerprint).await? {
            Prior::New => Ok(None),
            Prior::Same(answer) => {
                tracing::info!(
                    request_id = request_id.as_str(),
                    "replayed results request answered from store"
                );
                Ok(Some(answer))
            }
            Prior::Conflict => Err(CommandError::RequestReused(request_id.as_str().to_owned())),
        }
    }

    /// Judges validated results against the cycle and writes the accepted
    /// ones, their events and the cycle's new totals. Returns one decision
    /// per result, in order.
    async fn apply(
        &self,
        tx: &mut Tx,
        cycle: &mut Cycle,
        validated: &[Result<Report, ResultRefusal>],
        request_id: &str,
    ) -> Result<Vec<Result<(), ResultRefusal>>, CommandError> {
        let reports: Vec<Option<&Report>> = validated.iter().map(|r| r.as_ref().ok()).collect();
        let households: Vec<&str> = reports.iter().flatten().map(|r| r.household_id.as_str()).collect();
        let entitled = storage::entitled(tx, &cycle.cycle_id, &households).await?;
        let receipts: Vec<(&str, &str)> = reports
            .iter()
            .flatten()
            .filter_map(|r| match &r.outcome {
                Outcome::Paid { receipt, .. } => Some((r.agent.as_str(), receipt.as_str())),
                _ => None,
            })
            .collect();
        let used = storage::used_receipts(tx, &cycle.cycle_id, &receipts).await?;
        let (judged, paid) = results::decide(cycle, &reports, &entitled, &used);
        let decisions: Vec<Result<(), ResultRefusal>> = validated
            .iter()
            .zip(judged)
            .map(|(valid, judged)| match valid {
                Err(invalid) => Err(invalid.clone()),
                Ok(_) => judged,
            })
            .collect();
        let accepted: Vec<&Report> = reports
            .iter()
            .zip(&decisions)
            .filter_map(|(report, decision)| decision.is_ok().then_some(*report).flatten())
            .collect();
        if accepted.is_empty() {
            return Ok(decisions);
        }
        let now = jigi_storage::timestamp::now();
        storage::record(tx, &cycle.cycle_id, &accepted, request_id, &now).await?;
        cycle.paid = paid;
        if cycle.status == CycleStatus::Approved {
            cycle.status = CycleStatus::Disbursing;
        }
        storage::update_cycle(tx, cycle).await?;
        let mut counts = [0u64; 3];
        let events: Vec<_> = accepted
            .iter()
            .map(|report| {
                let entitlement = &entitled[&report.household_id];
                let channel = cycle
                    .agent_of(&entitlement.place.commune)
                    .map(|a| a.channel)
                    .expect("an accepted result's commune has its agent");
                counts[match report.outcome {
                    Outcome::Paid { .. } => 0,
                    Outcome::Failed(_) => 1,
                    Outcome::NotCollected => 2,
                }] += 1;
                events::result(cycle, report, &entitlement.place, entitlement.amount, channel)
            })
            .collect();
        self.outbox.add(tx, &events).await?;
        self.metrics.results("paid", counts[0]);
        self.metrics.results("failed", counts[1]);
        self.metrics.results("not_collected", counts[2]);
        Ok(decisions)
    }
}

fn parse_request_id(text: &str) -> Result<RequestId, CommandError> {
    RequestId::parse(text).map_err(|err| CommandError::invalid("request_id", err.to_string()))
}

fn totals(t: Totals) -> pp::Totals {
    pp::Totals {
        count: t.count,
        amount: Some(events::money(t.amount)),
    }
}

fn outcome(index: usize, household_id: &str, decision: Result<(), ResultRefusal>) -> pp::ResultOutcome {
    match decision {
        Ok(()) => pp::ResultOutcome {
            index: index as i32,
            household_id: household_id.to_owned(),
            accepted: true,
            ..Default::default()
        },
        Err(refusal) => pp::ResultOutcome {
            index: index as i32,
            household_id: household_id.to_owned(),
            accepted: false,
            refusal: refusal.kind.wire(),
            field: refusal.field,
            message: refusal.message,
        },
    }
}

/// The error a refused single result gets.
fn single_refusal(cycle_id: &str, household_id: &str, refusal: ResultRefusal) -> CommandError {
    match refusal.kind {
        RefusalKind::AlreadyPaid => CommandError::Exists {
            kind: "payment",
            id: format!("{cycle_id}/{household_id}"),
            message: refusal.message,
        },
        RefusalKind::Invalid => CommandError::invalid(refusal.field, refusal.message),
        kind => CommandError::Refused {
            kind: kind.code(),
            subject: household_id.to_owned(),
            message: refusal.message,
        },
    }
}
