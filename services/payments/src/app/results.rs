//! Recording disbursement results, one or a batch, idempotently.
//!
//! One command per request, inside [`idempotency::once`]: a retry of the
//! request (same ID, same content) gets the stored answer without running
//! again, and the same ID with other content is refused. Otherwise the
//! cycle's gate (approved or disbursing) is checked, then every result is
//! judged in order. Accepted results are written with their events; refused
//! ones change nothing and are reported item by item. The answer is stored
//! under the request ID in the same transaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use jigi_bus::outbox;
use jigi_server::CommandError;
use jigi_storage::idempotency::{self, Remembered, RequestKey};
use jigi_storage::{Conn, StorageError};

use super::{Payments, load_cycle, refused};
use crate::domain::cycle;
use crate::domain::model::{Cycle, CycleId, CycleStatus, Totals};
use crate::domain::results::{self, Outcome, RefusalKind, Report, Reported, ResultRefusal};
use crate::events;
use crate::storage;

/// Most results in one batch.
pub const MAX_BATCH: usize = 10_000;

/// What a batch of results came to: each result's household and decision,
/// in the order sent, and the cycle's paid totals after it.
#[derive(Debug, Clone)]
pub struct ResultsRecorded {
    pub decisions: Vec<(String, Result<(), ResultRefusal>)>,
    pub paid: Totals,
}

/// A single result accepted: its household, and the cycle's paid totals after it.
#[derive(Debug, Clone)]
pub struct ResultRecorded {
    pub household_id: String,
    pub paid: Totals,
}

/// The results a request had accepted, by outcome, and refused.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    paid: u64,
    failed: u64,
    not_collected: u64,
    refused: u64,
}

impl Payments {
    /// Records a batch of results; each is accepted or refused on its own.
    /// The answer `answer` makes of the outcome is remembered under the
    /// request ID.
    pub async fn record_results<A>(
        &self,
        key: RequestKey,
        cycle_id: &CycleId,
        results: Vec<Reported>,
        answer: impl FnOnce(&ResultsRecorded) -> A + Send + 'static,
    ) -> Result<A, CommandError>
    where
        A: Remembered + Send + 'static,
    {
        let (this, cycle_id) = (self.clone(), cycle_id.to_owned());
        let request_id = key.request_id.clone();
        let (response, counts) = self
            .db
            .write(move |conn| {
                let mut counts = None;
                let response = idempotency::once(conn, &key, |conn| {
                    let (recorded, done) =
                        this.record_results_in(conn, &cycle_id, &results, key.request_id.as_str())?;
                    counts = Some(done);
                    Ok::<_, CommandError>(answer(&recorded))
                })?;
                Ok::<_, CommandError>((response, counts))
            })
            .await?;
        match counts {
            Some(counts) => self.count(counts),
            None => tracing::info!(
                request_id = request_id.as_str(),
                "replayed results request answered from store"
            ),
        }
        Ok(response)
    }

    /// Records one result; a refusal is an error and changes nothing.
    pub async fn record_result<A>(
        &self,
        key: RequestKey,
        cycle_id: &CycleId,
        result: Reported,
        answer: impl FnOnce(&ResultRecorded) -> A + Send + 'static,
    ) -> Result<A, CommandError>
    where
        A: Remembered + Send + 'static,
    {
        let (this, cycle_id) = (self.clone(), cycle_id.to_owned());
        let request_id = key.request_id.clone();
        // Set when the rules refuse the result (the command then fails and
        // leaves nothing behind, so the flag is how the refusal is counted).
        let refused_result = Arc::new(AtomicBool::new(false));
        let refusal_seen = refused_result.clone();
        let outcome = self
            .db
            .write(move |conn| {
                let mut counts = None;
                let response = idempotency::once(conn, &key, |conn| {
                    let recorded = this.record_result_in(conn, &cycle_id, &result, key.request_id.as_str());
                    match recorded {
                        Ok((recorded, done)) => {
                            counts = Some(done);
                            Ok(answer(&recorded))
                        }
                        Err(Refused::Rule(err)) => {
                            refusal_seen.store(true, Ordering::Relaxed);
                            Err(err)
                        }
                        Err(Refused::Other(err)) => Err(err),
                    }
                })?;
                Ok::<_, CommandError>((response, counts))
            })
            .await;
        match outcome {
            Ok((response, Some(counts))) => {
                self.count(counts);
                Ok(response)
            }
            Ok((response, None)) => {
                tracing::info!(
                    request_id = request_id.as_str(),
                    "replayed result request answered from store"
                );
                Ok(response)
            }
            Err(err) => {
                if refused_result.load(Ordering::Relaxed) && !matches!(err, CommandError::Storage(_)) {
                    self.count(Counts {
                        refused: 1,
                        ..Counts::default()
                    });
                }
                Err(err)
            }
        }
    }

    fn count(&self, counts: Counts) {
        self.metrics.results("paid", counts.paid);
        self.metrics.results("failed", counts.failed);
        self.metrics.results("not_collected", counts.not_collected);
        self.metrics.results("refused", counts.refused);
    }

    fn record_results_in(
        &self,
        conn: &mut Conn,
        cycle_id: &str,
        results: &[Reported],
        request_id: &str,
    ) -> Result<(ResultsRecorded, Counts), CommandError> {
        let mut cycle = load_cycle(conn, cycle_id)?;
        cycle::accepts_results(&cycle).map_err(|r| refused(r, cycle_id))?;
        let approved_on = cycle.approved_on();
        let validated: Vec<Result<Report, ResultRefusal>> = results
            .iter()
            .map(|r| results::admit(r, approved_on).map_err(ResultRefusal::invalid))
            .collect();
        let (decisions, mut counts) = judge_and_store(conn, &mut cycle, &validated, request_id)?;
        counts.refused = decisions.iter().filter(|d| d.is_err()).count() as u64;
        let decisions = results
            .iter()
            .zip(decisions)
            .map(|(result, decision)| (result.household_id.clone(), decision))
            .collect();
        Ok((
            ResultsRecorded {
                decisions,
                paid: cycle.paid,
            },
            counts,
        ))
    }

    fn record_result_in(
        &self,
        conn: &mut Conn,
        cycle_id: &str,
        result: &Reported,
        request_id: &str,
    ) -> Result<(ResultRecorded, Counts), Refused> {
        let mut cycle = load_cycle(conn, cycle_id)?;
        cycle::accepts_results(&cycle).map_err(|r| refused(r, cycle_id))?;
        let report = results::admit(result, cycle.approved_on()).map_err(CommandError::Invalid)?;
        let (mut decisions, counts) = judge_and_store(conn, &mut cycle, &[Ok(report)], request_id)?;
        if let Err(refusal) = decisions.remove(0) {
            return Err(Refused::Rule(single_refusal(cycle_id, &result.household_id, refusal)));
        }
        let recorded = ResultRecorded {
            household_id: result.household_id.clone(),
            paid: cycle.paid,
        };
        Ok((recorded, counts))
    }
}

/// Why a single result was not recorded: the rules refused the result
/// itself, or the request failed before it was judged.
enum Refused {
    Rule(CommandError),
    Other(CommandError),
}

impl From<CommandError> for Refused {
    fn from(err: CommandError) -> Self {
        Refused::Other(err)
    }
}

impl From<StorageError> for Refused {
    fn from(err: StorageError) -> Self {
        Refused::Other(err.into())
    }
}

/// Judges validated results against the cycle and writes the accepted
/// ones, their events and the cycle's new totals. Returns one decision per
/// result, in order, and the accepted results by outcome.
fn judge_and_store(
    conn: &mut Conn,
    cycle: &mut Cycle,
    validated: &[Result<Report, ResultRefusal>],
    request_id: &str,
) -> Result<(Vec<Result<(), ResultRefusal>>, Counts), CommandError> {
    let reports: Vec<Option<&Report>> = validated.iter().map(|r| r.as_ref().ok()).collect();
    let households: Vec<&str> = reports.iter().flatten().map(|r| r.household_id.as_str()).collect();
    let entitled = storage::entitled(conn, &cycle.cycle_id, &households)?;
    let receipts: Vec<(&str, &str)> = reports
        .iter()
        .flatten()
        .filter_map(|r| match &r.outcome {
            Outcome::Paid { receipt, .. } => Some((r.agent.as_str(), receipt.as_str())),
            _ => None,
        })
        .collect();
    let used = storage::used_receipts(conn, &cycle.cycle_id, &receipts)?;
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
    let mut counts = Counts::default();
    if accepted.is_empty() {
        return Ok((decisions, counts));
    }
    let now = jigi_storage::timestamp::now();
    storage::record(conn, &cycle.cycle_id, &accepted, request_id, &now)?;
    cycle.paid = paid;
    if cycle.status == CycleStatus::Approved {
        cycle.status = CycleStatus::Disbursing;
    }
    storage::update_cycle(conn, cycle)?;
    let events: Vec<_> = accepted
        .iter()
        .map(|report| {
            let entitlement = &entitled[report.household_id.as_str()];
            let channel = cycle
                .agent_of(&entitlement.place.commune)
                .map(|a| a.channel)
                .expect("an accepted result's commune has its agent");
            match report.outcome {
                Outcome::Paid { .. } => counts.paid += 1,
                Outcome::Failed(_) => counts.failed += 1,
                Outcome::NotCollected => counts.not_collected += 1,
            }
            events::result(cycle, report, &entitlement.place, entitlement.amount, channel)
        })
        .collect();
    outbox::add(conn, &events)?;
    Ok((decisions, counts))
}

/// The error a refused single result gets.
fn single_refusal(cycle_id: &str, household_id: &str, refusal: ResultRefusal) -> CommandError {
    match refusal.kind {
        RefusalKind::AlreadyPaid => {
            CommandError::exists("payment", format!("{cycle_id}/{household_id}"), refusal.message)
        }
        RefusalKind::Invalid => CommandError::invalid(refusal.field, refusal.message),
        kind => CommandError::refused(kind.code(), household_id, refusal.message),
    }
}
