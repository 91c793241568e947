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

use jigi_bus::outbox;
use jigi_server::CommandError;
use jigi_storage::idempotency::{self, Remembered, RequestKey};
use jigi_storage::{Conn, StorageError};

use super::rounds::{closed, load_round};
use super::stock::load_warehouse;
use super::{Nutrition, refused};
use crate::domain::eligibility::eligibility;
use crate::domain::model::{Distribution, DistributionLine, Reason, Refusal, Round, RoundStatus, Warehouse};
use crate::domain::stock::{LotBook, Movement, MovementKind, Shortage};
use crate::{events, storage};

/// A register's lines, each under its reference (its line number, or its
/// place from 1), valid or already refused by validation: a bad line does
/// not refuse the batch.
pub type BatchLines = Vec<(i64, Result<DistributionLine, Refusal>)>;

impl Nutrition {
    /// Records one ration. A refusal is an error and is not remembered
    /// under the request ID: it changed nothing, and may be sent again.
    pub async fn record_distribution<A>(
        &self,
        key: RequestKey,
        round_id: String,
        warehouse_id: String,
        line: DistributionLine,
        answer: impl FnOnce(&Distribution) -> A + Send + 'static,
    ) -> Result<A, CommandError>
    where
        A: Remembered + Send + 'static,
    {
        // A refusal is counted when it is decided: it writes nothing to commit.
        let refusals = self.counters.distributions_refused.clone();
        let (answer, movements) = self
            .db
            .write(move |conn| {
                let mut movements = None;
                let answer = idempotency::once(conn, &key, |conn| {
                    let (round, warehouse) = round_and_warehouse(conn, &round_id, &warehouse_id)?;
                    let member_id = line.member_id.clone();
                    let mut decided = decide(conn, &round, &warehouse, vec![Ok(line)])?;
                    match decided.pop().expect("one line, one outcome") {
                        Ok(distribution) => {
                            movements = Some(store(conn, &round, std::slice::from_ref(&distribution))?);
                            Ok(answer(&distribution))
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
    /// the order given. The answer `answer` makes of the outcomes, refusals
    /// included, is remembered under the request ID.
    pub async fn record_batch<A>(
        &self,
        key: RequestKey,
        round_id: String,
        warehouse_id: String,
        lines: BatchLines,
        answer: impl FnOnce(&[(i64, Result<Distribution, Refusal>)]) -> A + Send + 'static,
    ) -> Result<A, CommandError>
    where
        A: Remembered + Send + 'static,
    {
        let (references, checked): (Vec<i64>, Vec<_>) = lines.into_iter().unzip();
        let (answer, counts) = self
            .db
            .write(move |conn| {
                let mut counts = None;
                let answer = idempotency::once(conn, &key, |conn| {
                    let (round, warehouse) = round_and_warehouse(conn, &round_id, &warehouse_id)?;
                    let decided = decide(conn, &round, &warehouse, checked)?;
                    let accepted: Vec<Distribution> = decided.iter().filter_map(|d| d.as_ref().ok().cloned()).collect();
                    let movements = store(conn, &round, &accepted)?;
                    counts = Some((accepted.len(), decided.len() - accepted.len(), movements));
                    let outcomes: Vec<_> = references.into_iter().zip(decided).collect();
                    Ok::<_, CommandError>(answer(&outcomes))
                })?;
                Ok::<_, CommandError>((answer, counts))
            })
            .await?;
        if let Some((recorded, refused, movements)) = counts {
            self.counters.distributions_recorded.inc_by(recorded as u64);
            self.counters.distributions_refused.inc_by(refused as u64);
            self.counters.stock_movements.inc_by(movements);
        }
        Ok(answer)
    }
}

/// Decides every line, drawing accepted rations from the warehouse's stock
/// in memory. Reads only.
fn decide(
    conn: &mut Conn,
    round: &Round,
    warehouse: &Warehouse,
    lines: Vec<Result<DistributionLine, Refusal>>,
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
            let (person, household) = people.get(line.member_id.as_str()).ok_or_else(|| {
                Refusal::new(
                    Reason::UnknownPerson,
                    format!("person {} is not known from the registry", line.member_id),
                )
            })?;
            if person.household_id != line.household_id.as_str() {
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
            if let Some(earlier) = received.get(line.member_id.as_str()) {
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
                household_id: line.household_id.into_string(),
                member_id: line.member_id.to_string(),
                group,
                grams,
                distributed_on: line.on,
                location: household.location.clone(),
                draws,
                stock_after: book.total(),
            };
            received.insert(line.member_id.into_string(), distribution.distribution_id.clone());
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
