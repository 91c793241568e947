//! MA: recording sessions and listing the households to follow up.

use chrono::NaiveDate;
use jigi_bus::outbox;
use jigi_common::Component;
use jigi_server::CommandError;
use jigi_storage::idempotency::{self, Remembered, RequestKey};

use super::Activities;
use crate::domain::ma::{self, NewSession};
use crate::storage::ma::SessionRow;
use crate::{events, storage};

/// The MA households of a commune that no session reached in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missed {
    pub household_ids: Vec<String>,
    /// Sessions held in the commune in the period.
    pub sessions: i64,
}

impl Activities {
    /// Records a session and who attended. Every attendee must be a member
    /// of an MA household of the commune; one who is not refuses the whole
    /// session (nothing is half-recorded: the facilitator corrects the sheet
    /// and sends it again).
    pub async fn record_session<A>(
        &self,
        key: RequestKey,
        new: NewSession,
        answer: impl FnOnce(&SessionRow) -> A + Send + 'static,
    ) -> Result<A, CommandError>
    where
        A: Remembered + Send + 'static,
    {
        let NewSession {
            location,
            theme,
            held_on,
            facilitator,
            member_ids,
        } = new;
        let this = self.clone();
        let (answer, recorded) = self
            .db
            .write(move |conn| {
                idempotency::once_ran(conn, &key, |conn| {
                    let ids: Vec<&str> = member_ids.iter().map(|id| id.as_str()).collect();
                    let people = storage::registry::people(conn, &ids)?;
                    let household_ids: Vec<&str> = people.values().map(|p| p.household_id.as_str()).collect();
                    let households = storage::registry::households(conn, &household_ids)?;
                    let mut attendees = Vec::with_capacity(ids.len());
                    for id in &ids {
                        let person = people.get(*id).ok_or_else(|| CommandError::not_found("person", *id))?;
                        let household = households
                            .get(&person.household_id)
                            .ok_or_else(|| CommandError::not_found("household", &person.household_id))?;
                        let attendee = ma::attendee(person, household, &location.commune, held_on)
                            .map_err(|refusal| this.refused(refusal, id))?;
                        attendees.push(attendee);
                    }
                    let session = SessionRow {
                        session_id: uuid::Uuid::new_v4().to_string(),
                        location: location.clone(),
                        theme,
                        held_on,
                        facilitator: facilitator.clone(),
                        attendees,
                        recorded_at: jigi_storage::timestamp::now_utc(),
                    };
                    storage::ma::insert(conn, &session)?;
                    outbox::add(conn, &[events::session_held(&session)])?;
                    Ok::<_, CommandError>(answer(&session))
                })
            })
            .await?;
        if recorded {
            self.counters.sessions_recorded.inc();
        }
        Ok(answer)
    }

    /// The MA households of a commune none of whose members attended a
    /// session of the commune between two days, and the sessions held.
    pub async fn missed_households(
        &self,
        commune: String,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Missed, CommandError> {
        self.db
            .read(move |conn| {
                let enrolled = storage::registry::enrolled_in_commune(conn, &commune, Component::Ma, to)?;
                let reached = storage::ma::households_reached(conn, &commune, from, to)?;
                let sessions = storage::ma::count_in_commune(conn, &commune, from, to)?;
                Ok(Missed {
                    household_ids: enrolled.into_iter().filter(|id| !reached.contains(id)).collect(),
                    sessions,
                })
            })
            .await
    }
}
