//! Who may take part: the registry's events, projected into this service's
//! database through the inbox (each event applied once, in the transaction
//! that records it).
//!
//! The projection keeps facts: a household's location, its MA, AGR and HIMO
//! enrolments, each member's sex, birth date and presence. Each fact carries
//! the stream sequence of the event that set it, and an older event never
//! overwrites a newer fact, so the projection ends the same whatever the
//! delivery order. Events are applied one statement per fact: this
//! service's registry traffic is a region's enrolments, not a national import.

use chrono::NaiveDate;
use jigi_bus::registry::{self, date};
use jigi_bus::{Decoded, EventHandler, ReceivedEvent, Rejection};
use jigi_common::Component;
use jigi_proto::common as pc;
use jigi_proto::events as ev;
use jigi_storage::{Conn, StorageError};

use crate::domain::model::{Location, Person};
use crate::storage::registry as store;

/// The components whose enrolments this service keeps.
pub const COMPONENTS: [Component; 3] = [Component::Ma, Component::Agr, Component::Himo];

/// What a registry event tells this service, decoded and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// A household's location, with the people the event describes.
    Household {
        household_id: String,
        location: Location,
        people: Vec<Person>,
    },
    /// A household was enrolled in (`Some` date) or left (`None`) a component.
    Enrolment {
        household_id: String,
        location: Location,
        component: Component,
        enrolled_on: Option<NaiveDate>,
        exited_on: Option<NaiveDate>,
    },
}

impl Fact {
    /// Decodes an event; `None` for the events this service ignores.
    pub fn from_event(event: &ReceivedEvent) -> Result<Option<Fact>, Rejection> {
        if event.is::<ev::HouseholdRegistered>() {
            let e: ev::HouseholdRegistered = event.decode()?;
            let people = e
                .members
                .iter()
                .map(|m| person(&e.household_id, Some(m)))
                .collect::<Result<Vec<_>, _>>()?;
            household(&e.household_id, e.location.as_ref(), people).map(Some)
        } else if event.is::<ev::HouseholdUpdated>() {
            let e: ev::HouseholdUpdated = event.decode()?;
            household(&e.household_id, e.location.as_ref(), Vec::new()).map(Some)
        } else if event.is::<ev::MemberAdded>() {
            let e: ev::MemberAdded = event.decode()?;
            let people = vec![person(&e.household_id, e.member.as_ref())?];
            household(&e.household_id, e.location.as_ref(), people).map(Some)
        } else if event.is::<ev::MemberUpdated>() {
            let e: ev::MemberUpdated = event.decode()?;
            let people = vec![person(&e.household_id, e.member.as_ref())?];
            household(&e.household_id, e.location.as_ref(), people).map(Some)
        } else if event.is::<ev::HouseholdEnrolled>() {
            let e: ev::HouseholdEnrolled = event.decode()?;
            enrolment(
                &e.household_id,
                e.location.as_ref(),
                e.component,
                Some(&e.enrolled_on),
                None,
            )
        } else if event.is::<ev::HouseholdExited>() {
            let e: ev::HouseholdExited = event.decode()?;
            enrolment(
                &e.household_id,
                e.location.as_ref(),
                e.component,
                None,
                Some(&e.exited_on),
            )
        } else {
            Ok(None)
        }
    }
}

/// Applies the registry's events.
#[derive(Debug, Clone, Copy)]
pub struct RegistryProjection;

impl EventHandler for RegistryProjection {
    type Effect = Fact;

    fn decode(&self, event: &ReceivedEvent) -> Result<Option<Fact>, Rejection> {
        Fact::from_event(event)
    }

    fn apply(&self, conn: &mut Conn, events: &[Decoded<Fact>]) -> Result<(), StorageError> {
        for event in events {
            let sequence = event.meta.stream_sequence.map_or(0, |s| s as i64);
            apply(conn, &event.effect, sequence)?;
        }
        Ok(())
    }
}

/// Applies one fact set by the event at stream position `sequence`.
pub fn apply(conn: &mut Conn, fact: &Fact, sequence: i64) -> Result<(), StorageError> {
    match fact {
        Fact::Household {
            household_id,
            location,
            people,
        } => {
            store::set_location(conn, household_id, location, sequence)?;
            for person in people {
                store::set_member(conn, person, sequence)?;
            }
        }
        Fact::Enrolment {
            household_id,
            location,
            component,
            enrolled_on,
            exited_on,
        } => {
            store::set_location(conn, household_id, location, sequence)?;
            store::set_enrolment(conn, household_id, *component, *enrolled_on, *exited_on, sequence)?;
        }
    }
    Ok(())
}

fn household(household_id: &str, place: Option<&pc::Location>, people: Vec<Person>) -> Result<Fact, Rejection> {
    Ok(Fact::Household {
        household_id: registry::household_id(household_id)?,
        location: registry::location(place)?,
        people,
    })
}

/// `None` for a component this service does not run.
fn enrolment(
    household_id: &str,
    place: Option<&pc::Location>,
    component: i32,
    enrolled_on: Option<&str>,
    exited_on: Option<&str>,
) -> Result<Option<Fact>, Rejection> {
    let Some(component) = Component::from_proto(component).filter(|c| COMPONENTS.contains(c)) else {
        return Ok(None);
    };
    Ok(Some(Fact::Enrolment {
        household_id: registry::household_id(household_id)?,
        location: registry::location(place)?,
        component,
        enrolled_on: enrolled_on.map(|d| date(d, "enrolled_on")).transpose()?,
        exited_on: exited_on.map(|d| date(d, "exited_on")).transpose()?,
    }))
}

/// The registry's account of a member, as this service keeps it.
fn person(household_id: &str, member: Option<&ev::MemberProfile>) -> Result<Person, Rejection> {
    let registry::Member {
        member_id,
        household_id,
        sex,
        birth_date,
        present,
        ..
    } = registry::member(household_id, member)?;
    Ok(Person {
        member_id,
        household_id,
        sex,
        birth_date,
        present,
    })
}
