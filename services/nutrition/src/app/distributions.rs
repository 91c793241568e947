//! Recording rations given, one by one or from a round's register.
//!
//! Both paths share one pipeline, in one command on the write path:
//!
//! 1. every line is checked on its own (its fields, the round's dates, the
//!    person's eligibility on the distribution date, the pilot commune and
//!    the warehouse, one ration per person per round);
//! 2. its ration is drawn from the warehouse's lots *in memory*, earliest
//!    expiry first, so a batch needs one read of the stock, not one per line,
//!    and later lines see what earlier ones took;
//! 3. the accepted lines are written with multi-row inserts: distributions,
//!    stock movements, one update per lot touched, one event per ration.
//!
//! A refused line changes nothing; the lines accepted beside it are stored.

use std::collections::HashMap;

use chrono::NaiveDate;
use jigi_bus::outbox;
use jigi_common::Problems;
use jigi_proto::nutrition as pn;
use jigi_server::CommandError;
use jigi_storage::idempotency::{self, RequestKey};
use jigi_storage::{Conn, StorageError};

use super::rounds::{closed, load_round};
use super::stock::load_warehouse;
use super::{Answer, Nutrition, refused};
use crate::domain::eligibility::eligibility;
use crate::domain::model::{Distribution, Reason, Refusal, Round, RoundStatus, Warehouse};
use crate::domain::stock::{LotBook, Movement, MovementKind, Shortage};
use crate::grpc::convert;
use crate::grpc::parse::{self, MAX_BATCH_LINES};
use crate::{events, storage};

/// One line of a distribution register, as sent.
#[derive(Debug, Clone)]
pub struct LineInput {
    pub line: i64,
    pub household_id: String,
    pub member_id: String,
    pub distributed_on: String,
}

/// A line whose fields are valid.
struct Line {
    household_id: String,
    member_id: String,
    on: NaiveDate,
}

impl Nutrition {
    /// Records one ration. A refusal is an error and is not remembered
    /// under the request ID: it changed nothing, and may be sent again.
    pub async fn record_distribution(
        &self,
        key: RequestKey,
        request: &pn::RecordDistributionRequest,
    ) -> Result<pn::RecordDistributionResponse, CommandError> {
        let mut problems = Problems::new();
        if request.round_id.is_empty() {
            problems.add("round_id", "is required");
        }
        let warehouse_id = problems.check("warehouse_id", parse::warehouse_id(&request.warehouse_id));
        let line = self.check_line(
            &request.household_id,
            &request.member_id,
            &request.distributed_on,
            "",
            &mut problems,
        );
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let (warehouse_id, line) = (warehouse_id.expect("checked"), line.expect("checked"));
        let round_id = request.round_id.clone();
        // A refusal is counted when it is decided: it writes nothing to commit.
        let refusals = self.counters.distributions_refused.clone();
        let (answer, movements) = self
            .db
            .write(move |conn| {
                let mut movements = None;
                let Answer(answer) = idempotency::once(conn, &key, |conn| {
                    let (round, warehouse) = round_and_warehouse(conn, &round_id, &warehouse_id)?;
                    let member_id = line.member_id.clone();
                    let mut decided = decide(conn, &round, &warehouse, vec![Ok(line)])?;
                    match decided.pop().expect("one line, one outcome") {
                        Ok(distribution) => {
                            movements = Some(store(conn, &round, std::slice::from_ref(&distribution))?);
                            Ok(Answer(pn::RecordDistributionResponse {
                                distribution: Some(convert::distribution(&distribution)),
                            }))
                        }
                        Err(refusal) => {
                            refusals.inc();
                            Err(refused(refusal, &member_id))
                        }
                    }
                })?;
                Ok::<_, CommandError>((answer, movements))
            })
            .await?;
        if let Some(movements) = movements {
            self.counters.distributions_recorded.inc();
            self.counters.stock_movements.inc_by(movements);
        }
        Ok(answer)
    }

    /// Records the lines of a register; every line gets its own outcome, in
    /// the order given. The answer, refusals included, is remembered under
    /// the request ID.
    pub async fn record_batch(
        &self,
        key: RequestKey,
        round_id: &str,
        warehouse_id: &str,
        lines: Vec<LineInput>,
    ) -> Result<pn::RecordDistributionBatchResponse, CommandError> {
        let mut problems = Problems::new();
        if round_id.is_empty() {
            problems.add("round_id", "is required");
        }
        let warehouse_id = problems.check("warehouse_id", parse::warehouse_id(warehouse_id));
        if lines.is_empty() {
            problems.add("lines", "at least one line is required");
        } else if lines.len() > MAX_BATCH_LINES {
            problems.add(
                "lines",
                format!("a batch carries at most {MAX_BATCH_LINES} lines; split the register"),
            );
        }
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let warehouse_id = warehouse_id.expect("checked");

        let references: Vec<i64> = lines
            .iter()
            .enumerate()
            .map(|(index, l)| if l.line == 0 { index as i64 + 1 } else { l.line })
            .collect();
        let checked: Vec<Result<Line, Refusal>> = lines
            .iter()
            .enumerate()
            .map(|(index, l)| {
                let mut problems = Problems::new();
                let line = self.check_line(
                    &l.household_id,
                    &l.member_id,
                    &l.distributed_on,
                    &format!("lines[{index}]."),
                    &mut problems,
                );
                match problems.into_errors().into_iter().next() {
                    None => Ok(line.expect("valid when no problems")),
                    Some(first) => Err(Refusal::invalid(
                        first.field.clone(),
                        format!("{}: {}", first.field, first.description),
                    )),
                }
            })
            .collect();
        drop(lines);

        let round_id = round_id.to_owned();
        let (answer, movements) = self
            .db
            .write(move |conn| {
                let mut movements = None;
                let Answer(answer) = idempotency::once(conn, &key, |conn| {
                    let (round, warehouse) = round_and_warehouse(conn, &round_id, &warehouse_id)?;
                    let decided = decide(conn, &round, &warehouse, checked)?;
                    let accepted: Vec<Distribution> = decided.iter().filter_map(|d| d.as_ref().ok().cloned()).collect();
                    movements = Some(store(conn, &round, &accepted)?);
                    Ok::<_, CommandError>(Answer(batch_answer(references, decided)))
                })?;
                Ok::<_, CommandError>((answer, movements))
            })
            .await?;
        if let Some(movements) = movements {
            self.counters.distributions_recorded.inc_by(answer.recorded as u64);
            self.counters.distributions_refused.inc_by(answer.refused as u64);
            self.counters.stock_movements.inc_by(movements);
        }
        Ok(answer)
    }

    /// Checks a line's fields; `path` prefixes field names (`lines[3].`).
    fn check_line(
        &self,
        household_id: &str,
        member_id: &str,
        distributed_on: &str,
        path: &str,
        problems: &mut Problems,
    ) -> Option<Line> {
        let household_id = problems.check(format!("{path}household_id"), parse::registry_id(household_id));
        let member_id = problems.check(format!("{path}member_id"), parse::registry_id(member_id));
        let on = self
            .rules()
            .past_date(distributed_on, &format!("{path}distributed_on"), problems);
        Some(Line {
            household_id: household_id?,
            member_id: member_id?,
            on: on?,
        })
    }
}

/// A batch's answer: each line's outcome under its reference, and the totals.
fn batch_answer(
    references: Vec<i64>,
    decided: Vec<Result<Distribution, Refusal>>,
) -> pn::RecordDistributionBatchResponse {
    let mut answer = pn::RecordDistributionBatchResponse {
        results: Vec::with_capacity(decided.len()),
        ..Default::default()
    };
    let mut grams = 0;
    for (line, outcome) in references.into_iter().zip(decided) {
        answer.results.push(match outcome {
            Ok(distribution) => {
                answer.recorded += 1;
                grams += distribution.grams;
                pn::DistributionLineResult {
                    line,
                    outcome: pn::DistributionOutcome::Recorded as i32,
                    distribution: Some(convert::distribution(&distribution)),
                    refusal: None,
                }
            }
            Err(refusal) => {
                answer.refused += 1;
                pn::DistributionLineResult {
                    line,
                    outcome: pn::DistributionOutcome::Refused as i32,
                    distribution: None,
                    refusal: Some(convert::refusal(&refusal)),
                }
            }
        });
    }
    answer.distributed = Some(convert::quantity(grams));
    answer
}

/// Decides every line, drawing accepted rations from the warehouse's stock
/// in memory. Reads only.
fn decide(
    conn: &mut Conn,
    round: &Round,
    warehouse: &Warehouse,
    lines: Vec<Result<Line, Refusal>>,
) -> Result<Vec<Result<Distribution, Refusal>>, StorageError> {
    let member_ids: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.as_ref().ok().map(|l| l.member_id.as_str()))
        .collect();
    let people = storage::projection::people(conn, &member_ids)?;
    let mut received = storage::distributions::already_received(conn, &round.round_id, &member_ids)?;
    let mut book = LotBook::new(storage::stock::lots(conn, &warehouse.warehouse_id)?);

    let mut outcomes = Vec::with_capacity(lines.len());
    for line in lines {
        let outcome = line.and_then(|line| {
            if !round.covers(line.on) {
                return Err(Refusal::new(
                    Reason::OutsideRoundDates,
                    format!(
                        "{} is outside round {} ({} to {})",
                        line.on, round.round_id, round.starts_on, round.ends_on
                    ),
                ));
            }
            let (person, household) = people.get(&line.member_id).ok_or_else(|| {
                Refusal::new(
                    Reason::UnknownPerson,
                    format!("person {} is not known from the registry", line.member_id),
                )
            })?;
            if person.household_id != line.household_id {
                return Err(Refusal::new(
                    Reason::HouseholdMismatch,
                    format!(
                        "person {} is a member of household {}, not {}",
                        line.member_id, person.household_id, line.household_id
                    ),
                ));
            }
            let group = eligibility(person, household, line.on)?;
            let commune = &household.location.commune;
            if !round.has_commune(commune) {
                return Err(Refusal::new(
                    Reason::NotInPilotCommune,
                    format!("commune {commune} is not a pilot commune of round {}", round.round_id),
                ));
            }
            if &warehouse.location.commune != commune {
                return Err(Refusal::new(
                    Reason::WrongWarehouse,
                    format!(
                        "warehouse {} serves {}, not the household's commune {commune}",
                        warehouse.warehouse_id, warehouse.location.commune
                    ),
                ));
            }
            if let Some(earlier) = received.get(&line.member_id) {
                return Err(Refusal::new(
                    Reason::AlreadyReceived,
                    format!(
                        "person {} already received in round {} (distribution {earlier})",
                        line.member_id, round.round_id
                    ),
                ));
            }
            let grams = round.rations.grams(group);
            let draws = book.draw(grams, line.on).map_err(|shortage| {
                let reason = match shortage {
                    Shortage::Insufficient { .. } => Reason::InsufficientStock,
                    Shortage::OnlyExpired { .. } => Reason::OnlyExpiredStock,
                };
                Refusal::new(reason, shortage.explain(&warehouse.warehouse_id))
            })?;
            let distribution = Distribution {
                distribution_id: uuid::Uuid::now_v7().to_string(),
                round_id: round.round_id.clone(),
                warehouse_id: warehouse.warehouse_id.clone(),
                household_id: line.household_id,
                member_id: line.member_id.clone(),
                group,
                grams,
                distributed_on: line.on,
                location: household.location.clone(),
                draws,
                stock_after: book.total(),
            };
            received.insert(line.member_id, distribution.distribution_id.clone());
            Ok(distribution)
        });
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Writes accepted distributions, their movements, the lots' new balances
/// and their events; returns the number of movements.
fn store(conn: &mut Conn, round: &Round, distributions: &[Distribution]) -> Result<u64, StorageError> {
    if distributions.is_empty() {
        return Ok(0);
    }
    let mut movements = Vec::with_capacity(distributions.len());
    let mut taken: HashMap<(&str, &str), i64> = HashMap::new();
    for d in distributions {
        for draw in &d.draws {
            movements.push(Movement {
                movement_id: uuid::Uuid::now_v7().to_string(),
                warehouse_id: d.warehouse_id.clone(),
                lot_number: draw.lot_number.clone(),
                kind: MovementKind::Distribution,
                grams: -draw.grams,
                occurred_on: d.distributed_on,
                reference: d.distribution_id.clone(),
                reason: None,
                note: None,
            });
            *taken.entry((&d.warehouse_id, &draw.lot_number)).or_default() += draw.grams;
        }
    }
    storage::distributions::insert(conn, distributions)?;
    storage::stock::insert_movements(conn, &movements)?;
    for ((warehouse_id, lot_number), grams) in taken {
        storage::stock::take_from_lot(conn, warehouse_id, lot_number, grams)?;
    }
    let events: Vec<_> = distributions
        .iter()
        .map(|d| events::ration_distributed(round, d))
        .collect();
    outbox::add(conn, &events)?;
    Ok(movements.len() as u64)
}

/// The round (open) and the warehouse of a distribution.
fn round_and_warehouse(
    conn: &mut Conn,
    round_id: &str,
    warehouse_id: &str,
) -> Result<(Round, Warehouse), CommandError> {
    let round = load_round(conn, round_id)?;
    if round.status == RoundStatus::Closed {
        return Err(closed(&round));
    }
    let warehouse = load_warehouse(conn, warehouse_id)?;
    Ok((round, warehouse))
}
