//! Who may be fed: the registry's events, projected into this service's
//! database through the inbox (each event applied once, in the transaction
//! that records it).
//!
//! The projection keeps facts, not eligibility: a household's location and
//! PNP enrolment, each member's sex, birth date, pregnancy, lactation and
//! presence. Eligibility is computed from them on the distribution date.
//! Each fact carries the stream sequence of the event that set it; an event
//! older than the fact it would change (a redelivery out of order) changes
//! nothing, so the projection ends the same whatever the delivery order, and
//! a fresh database rebuilt from the stream ends identical.

use jigi_bus::{EventHandler, HandlerError, ReceivedEvent};
use jigi_common::date::parse_date;
use jigi_common::{Component, Region};
use jigi_proto::common as pc;
use jigi_proto::events as ev;
use sqlx::AnyConnection;

use crate::domain::eligibility::Person;
use crate::domain::model::Location;
use crate::storage::projection as store;

/// A registry event this service cares about.
#[derive(Debug, Clone)]
pub enum RegistryFact {
    Registered(ev::HouseholdRegistered),
    Updated(ev::HouseholdUpdated),
    Enrolled(ev::HouseholdEnrolled),
    Exited(ev::HouseholdExited),
    MemberAdded(ev::MemberAdded),
    MemberUpdated(ev::MemberUpdated),
}

impl RegistryFact {
    /// Decodes an event; `None` for types this service ignores.
    pub fn from_event(event: &ReceivedEvent) -> Result<Option<RegistryFact>, HandlerError> {
        let fact = if event.is::<ev::HouseholdRegistered>() {
            RegistryFact::Registered(event.decode()?)
        } else if event.is::<ev::HouseholdUpdated>() {
            RegistryFact::Updated(event.decode()?)
        } else if event.is::<ev::HouseholdEnrolled>() {
            RegistryFact::Enrolled(event.decode()?)
        } else if event.is::<ev::HouseholdExited>() {
            RegistryFact::Exited(event.decode()?)
        } else if event.is::<ev::MemberAdded>() {
            RegistryFact::MemberAdded(event.decode()?)
        } else if event.is::<ev::MemberUpdated>() {
            RegistryFact::MemberUpdated(event.decode()?)
        } else {
            return Ok(None);
        };
        Ok(Some(fact))
    }
}

/// The inbox handler of the registry's events.
#[derive(Debug, Clone, Copy)]
pub struct RegistryProjection;

impl EventHandler for RegistryProjection {
    async fn handle(&self, conn: &mut AnyConnection, event: &ReceivedEvent) -> Result<(), HandlerError> {
        let Some(fact) = RegistryFact::from_event(event)? else {
            return Ok(());
        };
        // Events from outside a stream (none in practice) apply in arrival order.
        let sequence = event.stream_sequence.map_or(0, |s| s as i64);
        apply(conn, &fact, sequence).await
    }
}

/// Applies one fact, as told by the event at `sequence` in the stream.
pub async fn apply(conn: &mut AnyConnection, fact: &RegistryFact, sequence: i64) -> Result<(), HandlerError> {
    match fact {
        RegistryFact::Registered(e) => {
            let location = location(e.location.as_ref())?;
            store::upsert_location(conn, &e.household_id, &location, sequence).await?;
            let people = e
                .members
                .iter()
                .map(|m| person(&e.household_id, Some(m)))
                .collect::<Result<Vec<_>, _>>()?;
            store::upsert_members(conn, &people, sequence).await?;
        }
        RegistryFact::Updated(e) => {
            let location = location(e.location.as_ref())?;
            store::upsert_location(conn, &e.household_id, &location, sequence).await?;
        }
        RegistryFact::Enrolled(e) => {
            if Component::from_proto(e.component) == Some(Component::Pnp) {
                let location = location(e.location.as_ref())?;
                let on = date(&e.enrolled_on, "enrolled_on")?;
                store::upsert_location(conn, &e.household_id, &location, sequence).await?;
                store::set_enrolment(conn, &e.household_id, Some(on), None, sequence).await?;
            }
        }
        RegistryFact::Exited(e) => {
            if Component::from_proto(e.component) == Some(Component::Pnp) {
                let location = location(e.location.as_ref())?;
                let on = date(&e.exited_on, "exited_on")?;
                store::upsert_location(conn, &e.household_id, &location, sequence).await?;
                store::set_enrolment(conn, &e.household_id, None, Some(on), sequence).await?;
            }
        }
        RegistryFact::MemberAdded(ev::MemberAdded {
            household_id,
            member,
            location: place,
            ..
        })
        | RegistryFact::MemberUpdated(ev::MemberUpdated {
            household_id,
            member,
            location: place,
            ..
        }) => {
            let location = location(place.as_ref())?;
            let person = person(household_id, member.as_ref())?;
            store::upsert_location(conn, household_id, &location, sequence).await?;
            store::upsert_members(conn, std::slice::from_ref(&person), sequence).await?;
        }
    }
    Ok(())
}

fn location(location: Option<&pc::Location>) -> Result<Location, HandlerError> {
    let location = location.ok_or_else(|| HandlerError::Permanent("the event has no location".into()))?;
    let region: Region = location
        .region
        .parse()
        .map_err(|_| HandlerError::Permanent(format!("unknown region {:?}", location.region)))?;
    if location.commune.is_empty() || location.cercle.is_empty() {
        return Err(HandlerError::Permanent(
            "the event's location has no commune or cercle".into(),
        ));
    }
    Ok(Location {
        region,
        cercle: location.cercle.clone(),
        commune: location.commune.clone(),
        village: location.village.clone(),
    })
}

fn person(household_id: &str, member: Option<&ev::MemberProfile>) -> Result<Person, HandlerError> {
    let member = member.ok_or_else(|| HandlerError::Permanent("the event has no member".into()))?;
    if member.member_id.is_empty() || household_id.is_empty() {
        return Err(HandlerError::Permanent(
            "the event has no member or household ID".into(),
        ));
    }
    let sex = match pc::Sex::try_from(member.sex) {
        Ok(sex @ (pc::Sex::Female | pc::Sex::Male)) => sex,
        _ => {
            return Err(HandlerError::Permanent(format!(
                "member {} has no valid sex",
                member.member_id
            )));
        }
    };
    Ok(Person {
        member_id: member.member_id.clone(),
        household_id: household_id.to_owned(),
        sex,
        birth_date: date(&member.birth_date, "birth_date")?,
        pregnant: member.pregnant,
        lactating: member.lactating,
        present: member.presence == ev::MemberPresence::Present as i32,
    })
}

fn date(text: &str, field: &str) -> Result<chrono::NaiveDate, HandlerError> {
    parse_date(text).ok_or_else(|| HandlerError::Permanent(format!("{field} {text:?} is not a YYYY-MM-DD date")))
}
