//! Registering households, one at a time or by the thousand.
//!
//! Both paths share one pipeline: every row comes validated on its own (the
//! gRPC layer reads it into a [`NewHousehold`] or its field errors), then
//! duplicates are found (within the import and against the registry), and
//! the good rows and their events are stored in one transaction per batch.

use std::collections::HashMap;

use jigi_bus::outbox;
use jigi_common::{FieldError, HouseholdId};
use jigi_server::CommandError;
use jigi_storage::idempotency::{self, RequestKey};
use jigi_storage::{Conn, timestamp};

use super::{Registry, household_not_found, today};
use crate::domain::identity;
use crate::domain::model::{Household, HouseholdStatus};
use crate::domain::validate::NewHousehold;
use crate::{events, storage};

/// One row of an import.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// The caller's reference for the row.
    pub row: i64,
    /// The row's household as the API read it, or what is wrong with it.
    pub household: Result<NewHousehold, Vec<FieldError>>,
}

/// What happened to one row.
#[derive(Debug, Clone)]
pub enum RowOutcome {
    Registered(Box<Household>),
    Duplicate {
        /// The stored household it duplicates; empty for a duplicate of an
        /// earlier row of the import that was itself refused.
        household_id: String,
        /// The earlier row of the same import, when it is one.
        duplicate_of_row: Option<i64>,
        message: String,
    },
    Invalid(Vec<FieldError>),
}

/// What one import has registered so far, to catch a row that repeats an
/// earlier row of the same import.
#[derive(Debug, Default)]
pub struct ImportSession {
    heads: HashMap<String, (i64, String)>,
    id_cards: HashMap<String, (i64, String)>,
}

/// A candidate's outcome: its index among the rows given, its row reference
/// and what happened to it.
type Stored = (usize, (i64, RowOutcome));

/// A valid row with its duplicate-detection keys.
struct Candidate {
    index: usize,
    row: i64,
    household: NewHousehold,
    head_key: String,
    id_cards: Vec<String>,
}

impl Registry {
    /// Registers one household; a repeat of the same request (same request
    /// ID and content) returns the household it registered.
    pub async fn register(&self, key: RequestKey, new: NewHousehold) -> Result<Household, CommandError> {
        let this = self.clone();
        self.db
            .write(move |conn| {
                let mut registered = None;
                let household_id: String = idempotency::once(conn, &key, |conn| {
                    let outcome = this
                        .store(conn, &mut ImportSession::default(), vec![candidate(0, 0, new)])?
                        .pop()
                        .map(|(_, (_, outcome))| outcome);
                    match outcome {
                        Some(RowOutcome::Registered(household)) => {
                            let id = household.household_id.clone();
                            registered = Some(*household);
                            Ok(id)
                        }
                        Some(RowOutcome::Duplicate {
                            household_id, message, ..
                        }) => Err(CommandError::exists("household", household_id, message)),
                        Some(RowOutcome::Invalid(errors)) => Err(CommandError::Invalid(errors)),
                        None => unreachable!("one candidate gives one outcome"),
                    }
                })?;
                match registered {
                    Some(household) => Ok(household),
                    // A repeat: the household the first request registered.
                    None => storage::load(conn, &household_id)?.ok_or_else(|| household_not_found(&household_id)),
                }
            })
            .await
    }

    /// Registers a batch of import rows in one transaction; every row gets
    /// its own outcome, in the order given. The session (what the import
    /// has registered so far) is given back for the next batch.
    pub async fn import_batch(
        &self,
        mut session: ImportSession,
        rows: Vec<ImportRow>,
    ) -> Result<(ImportSession, Vec<(i64, RowOutcome)>), CommandError> {
        let mut outcomes: Vec<Option<(i64, RowOutcome)>> = Vec::with_capacity(rows.len());
        let mut candidates = Vec::with_capacity(rows.len());
        for (index, row) in rows.into_iter().enumerate() {
            match row.household {
                Ok(household) => {
                    outcomes.push(None);
                    candidates.push(candidate(index, row.row, household));
                }
                Err(errors) => outcomes.push(Some((row.row, RowOutcome::Invalid(errors)))),
            }
        }
        if !candidates.is_empty() {
            let this = self.clone();
            let (returned, stored) = self
                .db
                .write(move |conn| {
                    let stored = this.store(conn, &mut session, candidates)?;
                    Ok::<_, CommandError>((session, stored))
                })
                .await?;
            session = returned;
            for (index, outcome) in stored {
                outcomes[index] = Some(outcome);
            }
        }
        let outcomes = outcomes
            .into_iter()
            .map(|o| o.expect("every row has an outcome"))
            .collect();
        Ok((session, outcomes))
    }

    /// Finds duplicates among `candidates` and stores the rest with their
    /// events. Returns `(index, (row, outcome))` for every candidate.
    fn store(
        &self,
        conn: &mut Conn,
        session: &mut ImportSession,
        candidates: Vec<Candidate>,
    ) -> Result<Vec<Stored>, CommandError> {
        let head_keys: Vec<String> = candidates.iter().map(|c| c.head_key.clone()).collect();
        let id_cards: Vec<String> = candidates.iter().flat_map(|c| c.id_cards.iter().cloned()).collect();
        let stored_heads = storage::households_by_head_key(conn, &head_keys)?;
        let stored_cards = storage::households_by_id_card(conn, &id_cards)?;

        let now = timestamp::now_utc();
        let today = today();
        let mut outcomes = Vec::with_capacity(candidates.len());
        let mut to_insert = Vec::new();
        for candidate in candidates {
            if let Some(duplicate) = find_duplicate(&candidate, session, &stored_heads, &stored_cards) {
                outcomes.push((candidate.index, (candidate.row, duplicate)));
                continue;
            }
            let NewHousehold {
                location,
                members,
                traits,
            } = candidate.household;
            let pmt = self.pmt.assess(location.region, &members, &traits, today);
            let household = Household {
                household_id: HouseholdId::issue().into_string(),
                location,
                members,
                traits,
                pmt,
                enrolments: Vec::new(),
                status: HouseholdStatus::Registered,
                version: 1,
                registered_at: now,
                updated_at: now,
            };
            let claim = (candidate.row, household.household_id.clone());
            session.heads.insert(candidate.head_key.clone(), claim.clone());
            for card in &candidate.id_cards {
                session.id_cards.insert(card.clone(), claim.clone());
            }
            outcomes.push((
                candidate.index,
                (candidate.row, RowOutcome::Registered(Box::new(household.clone()))),
            ));
            to_insert.push((household, candidate.head_key));
        }
        storage::insert(conn, &to_insert)?;
        let events: Vec<_> = to_insert
            .iter()
            .map(|(household, _)| events::registered(household))
            .collect();
        outbox::add(conn, &events)?;
        let households: Vec<&Household> = to_insert.iter().map(|(household, _)| household).collect();
        self.add_keyed(conn, &households)?;
        Ok(outcomes)
    }
}

fn candidate(index: usize, row: i64, household: NewHousehold) -> Candidate {
    let head = &household.members[0];
    let head_key = identity::head_key(
        &head.given_name,
        &head.family_name,
        head.birth_date,
        &household.location,
    );
    let id_cards = household
        .members
        .iter()
        .filter_map(|m| m.id_card.as_ref().map(|c| c.as_str().to_owned()))
        .collect();
    Candidate {
        index,
        row,
        household,
        head_key,
        id_cards,
    }
}

/// Whether a candidate repeats a stored household or an earlier row.
fn find_duplicate(
    candidate: &Candidate,
    session: &ImportSession,
    stored_heads: &HashMap<String, String>,
    stored_cards: &HashMap<String, String>,
) -> Option<RowOutcome> {
    // An earlier row of this import first: naming the row helps whoever
    // fixes the file more than naming the household it became.
    let earlier = session
        .heads
        .get(&candidate.head_key)
        .map(|claim| (claim, "the same head"))
        .or_else(|| {
            candidate
                .id_cards
                .iter()
                .find_map(|card| session.id_cards.get(card))
                .map(|claim| (claim, "an ID-card number"))
        });
    if let Some(((row, household_id), what)) = earlier {
        return Some(RowOutcome::Duplicate {
            household_id: household_id.clone(),
            duplicate_of_row: Some(*row),
            message: format!("has {what} of row {row} of this import (household {household_id})"),
        });
    }
    if let Some(household_id) = stored_heads.get(&candidate.head_key) {
        return Some(RowOutcome::Duplicate {
            household_id: household_id.clone(),
            duplicate_of_row: None,
            message: format!("household {household_id} already has this head (same name, birth date and village)"),
        });
    }
    candidate.id_cards.iter().find_map(|card| {
        stored_cards.get(card).map(|household_id| RowOutcome::Duplicate {
            household_id: household_id.clone(),
            duplicate_of_row: None,
            message: format!("ID-card number {card} is already registered in household {household_id}"),
        })
    })
}
