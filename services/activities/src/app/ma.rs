//! MA: recording sessions and listing the households to follow up.

use jigi_bus::outbox;
use jigi_common::{Component, Problems};
use jigi_proto::activities as pa;
use jigi_server::CommandError;
use jigi_storage::idempotency::{self, RequestKey};

use super::{Activities, Answer};
use crate::domain::ma::{self, MAX_ATTENDEES, Theme};
use crate::grpc::convert;
use crate::grpc::parse::{self, code};
use crate::storage::ma::SessionRow;
use crate::{events, storage};

impl Activities {
    /// Records a session and who attended. Every attendee must be a member
    /// of an MA household of the commune; one who is not refuses the whole
    /// session (nothing is half-recorded: the facilitator corrects the sheet
    /// and sends it again).
    pub async fn record_session(
        &self,
        key: RequestKey,
        request: &pa::RecordSessionRequest,
    ) -> Result<pa::RecordSessionResponse, CommandError> {
        let mut problems = Problems::new();
        let rules = self.rules();
        let place = rules.place(&request.commune, Some(&request.village), &mut problems);
        let theme = Theme::from_wire(request.theme);
        if theme.is_none() {
            problems.add("theme", "is required: one of the SessionTheme values");
        }
        let held_on = rules.past_date(&request.held_on, "held_on", &mut problems);
        let facilitator = problems.check("facilitator", code(&request.facilitator));
        let member_ids = parse::member_ids(&request.member_ids, MAX_ATTENDEES, &mut problems);
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let (location, theme, held_on, facilitator) = (
            place.expect("checked"),
            theme.expect("checked"),
            held_on.expect("checked"),
            facilitator.expect("checked"),
        );
        let this = self.clone();
        let answer = self
            .db
            .write(move |conn| {
                idempotency::once(conn, &key, |conn| {
                    let ids: Vec<&str> = member_ids.iter().map(String::as_str).collect();
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
                    Ok::<_, CommandError>(Answer(pa::RecordSessionResponse {
                        session: Some(convert::session(&session)),
                    }))
                })
            })
            .await?;
        self.counters.sessions_recorded.inc();
        Ok(answer.0)
    }

    /// The MA households of a commune none of whose members attended a
    /// session of the commune between two days, and the sessions held.
    pub async fn missed_households(
        &self,
        request: &pa::ListMissedHouseholdsRequest,
    ) -> Result<pa::ListMissedHouseholdsResponse, CommandError> {
        let mut problems = Problems::new();
        let rules = self.rules();
        let place = rules.place(&request.commune, None, &mut problems);
        let from = rules.date(&request.from, "from", &mut problems);
        let to = rules.date(&request.to, "to", &mut problems);
        if let (Some(from), Some(to)) = (from, to)
            && to < from
        {
            problems.add("to", format!("{to} is before from ({from})"));
        }
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let (commune, from, to) = (
            place.expect("checked").commune,
            from.expect("checked"),
            to.expect("checked"),
        );
        self.db
            .read(move |conn| {
                let enrolled = storage::registry::enrolled_in_commune(conn, &commune, Component::Ma, to)?;
                let reached = storage::ma::households_reached(conn, &commune, from, to)?;
                let sessions = storage::ma::count_in_commune(conn, &commune, from, to)?;
                Ok(pa::ListMissedHouseholdsResponse {
                    household_ids: enrolled.into_iter().filter(|id| !reached.contains(id)).collect(),
                    sessions,
                })
            })
            .await
    }
}
