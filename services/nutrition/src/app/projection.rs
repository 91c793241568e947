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
//!
//! Events arrive in batches ([`EventHandler`]): each is decoded and checked
//! on its own ([`Fact::from_event`], no I/O), then a batch is applied at
//! once ([`apply`]): the households and members it names are read once,
//! the facts are applied to them in memory in stream order, and what changed
//! is written back with one multi-row statement per table.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use jigi_bus::registry::{self, date, household_id};
use jigi_bus::{Decoded, EventHandler, ReceivedEvent, Rejection};
use jigi_common::Component;
use jigi_proto::common as pc;
use jigi_proto::events as ev;
use jigi_storage::{Conn, StorageError};

use crate::domain::eligibility::Person;
use crate::domain::model::Location;
use crate::storage::projection::{self as store, HouseholdRow};

/// What a registry event tells this service, decoded and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// A household was registered with its members.
    Registered {
        household_id: String,
        location: Location,
        people: Vec<Person>,
    },
    /// A household's location (or traits) changed.
    Updated { household_id: String, location: Location },
    /// A household was enrolled in the PNP.
    Enrolled {
        household_id: String,
        location: Location,
        on: NaiveDate,
    },
    /// A household left the PNP.
    Exited {
        household_id: String,
        location: Location,
        on: NaiveDate,
    },
    /// A member was added or changed (in the household the person names).
    Member { location: Location, person: Person },
}

impl Fact {
    /// Decodes an event; `None` for the events this service ignores.
    pub fn from_event(event: &ReceivedEvent) -> Result<Option<Fact>, Rejection> {
        if event.is::<ev::HouseholdRegistered>() {
            Fact::registered(&event.decode()?).map(Some)
        } else if event.is::<ev::HouseholdUpdated>() {
            Fact::updated(&event.decode()?).map(Some)
        } else if event.is::<ev::HouseholdEnrolled>() {
            Fact::enrolled(&event.decode()?)
        } else if event.is::<ev::HouseholdExited>() {
            Fact::exited(&event.decode()?)
        } else if event.is::<ev::MemberAdded>() {
            let e: ev::MemberAdded = event.decode()?;
            Fact::member(&e.household_id, e.member.as_ref(), e.location.as_ref()).map(Some)
        } else if event.is::<ev::MemberUpdated>() {
            let e: ev::MemberUpdated = event.decode()?;
            Fact::member(&e.household_id, e.member.as_ref(), e.location.as_ref()).map(Some)
        } else {
            Ok(None)
        }
    }

    pub fn registered(e: &ev::HouseholdRegistered) -> Result<Fact, Rejection> {
        Ok(Fact::Registered {
            household_id: household_id(&e.household_id)?,
            location: registry::location(e.location.as_ref())?,
            people: e
                .members
                .iter()
                .map(|m| person(&e.household_id, Some(m)))
                .collect::<Result<Vec<_>, _>>()?,
        })
    }

    pub fn updated(e: &ev::HouseholdUpdated) -> Result<Fact, Rejection> {
        Ok(Fact::Updated {
            household_id: household_id(&e.household_id)?,
            location: registry::location(e.location.as_ref())?,
        })
    }

    /// `None` for an enrolment in another component than the PNP.
    pub fn enrolled(e: &ev::HouseholdEnrolled) -> Result<Option<Fact>, Rejection> {
        if Component::from_proto(e.component) != Some(Component::Pnp) {
            return Ok(None);
        }
        Ok(Some(Fact::Enrolled {
            household_id: household_id(&e.household_id)?,
            location: registry::location(e.location.as_ref())?,
            on: date(&e.enrolled_on, "enrolled_on")?,
        }))
    }

    /// `None` for an exit from another component than the PNP.
    pub fn exited(e: &ev::HouseholdExited) -> Result<Option<Fact>, Rejection> {
        if Component::from_proto(e.component) != Some(Component::Pnp) {
            return Ok(None);
        }
        Ok(Some(Fact::Exited {
            household_id: household_id(&e.household_id)?,
            location: registry::location(e.location.as_ref())?,
            on: date(&e.exited_on, "exited_on")?,
        }))
    }

    pub fn member(
        household_id: &str,
        member: Option<&ev::MemberProfile>,
        place: Option<&pc::Location>,
    ) -> Result<Fact, Rejection> {
        Ok(Fact::Member {
            location: registry::location(place)?,
            person: person(household_id, member)?,
        })
    }

    /// The household the fact is about.
    pub fn household_id(&self) -> &str {
        match self {
            Fact::Registered { household_id, .. }
            | Fact::Updated { household_id, .. }
            | Fact::Enrolled { household_id, .. }
            | Fact::Exited { household_id, .. } => household_id,
            Fact::Member { person, .. } => &person.household_id,
        }
    }

    /// The people the fact tells of.
    fn people(&self) -> &[Person] {
        match self {
            Fact::Registered { people, .. } => people,
            Fact::Member { person, .. } => std::slice::from_ref(person),
            Fact::Updated { .. } | Fact::Enrolled { .. } | Fact::Exited { .. } => &[],
        }
    }
}

/// The inbox handler of the registry's events.
#[derive(Debug, Clone, Copy)]
pub struct RegistryProjection;

impl EventHandler for RegistryProjection {
    type Effect = Fact;

    fn decode(&self, event: &ReceivedEvent) -> Result<Option<Fact>, Rejection> {
        Fact::from_event(event)
    }

    fn apply(&self, conn: &mut Conn, events: &[Decoded<Fact>]) -> Result<(), StorageError> {
        let facts: Vec<(i64, &Fact)> = events
            .iter()
            // Events from outside a stream (none in practice) apply in arrival order.
            .map(|event| (event.meta.stream_sequence.map_or(0, |s| s as i64), &event.effect))
            .collect();
        apply(conn, &facts)
    }
}

/// Applies facts, in stream order, each as told by the event at its
/// sequence in the stream: a fact changes what an event with a later
/// sequence has not already set.
pub fn apply(conn: &mut Conn, facts: &[(i64, &Fact)]) -> Result<(), StorageError> {
    let mut household_ids: Vec<&str> = facts.iter().map(|(_, fact)| fact.household_id()).collect();
    household_ids.sort_unstable();
    household_ids.dedup();
    let mut member_ids: Vec<&str> = facts
        .iter()
        .flat_map(|(_, fact)| fact.people().iter().map(|p| p.member_id.as_str()))
        .collect();
    member_ids.sort_unstable();
    member_ids.dedup();

    let mut households = Households {
        rows: store::households(conn, &household_ids)?,
        changed: BTreeSet::new(),
    };
    let mut members = Members {
        sequences: store::member_sequences(conn, &member_ids)?,
        latest: BTreeMap::new(),
    };

    for &(sequence, fact) in facts {
        match fact {
            Fact::Registered {
                household_id,
                location,
                people,
            } => {
                households.set_location(household_id, location, sequence);
                for person in people {
                    members.set(person, sequence);
                }
            }
            Fact::Updated { household_id, location } => households.set_location(household_id, location, sequence),
            Fact::Enrolled {
                household_id,
                location,
                on,
            } => {
                households.set_location(household_id, location, sequence);
                households.set_enrolment(household_id, Enrolment::Enrolled(*on), sequence);
            }
            Fact::Exited {
                household_id,
                location,
                on,
            } => {
                households.set_location(household_id, location, sequence);
                households.set_enrolment(household_id, Enrolment::Exited(*on), sequence);
            }
            Fact::Member { location, person } => {
                households.set_location(&person.household_id, location, sequence);
                members.set(person, sequence);
            }
        }
    }

    let changed: Vec<&HouseholdRow> = households
        .changed
        .iter()
        .map(|id| &households.rows[id.as_str()])
        .collect();
    store::save_households(conn, &changed)?;
    let members: Vec<(&Person, i64)> = members.latest.into_values().collect();
    store::save_members(conn, &members)
}

/// The households of a batch as they stand, and which of them changed.
struct Households {
    rows: HashMap<String, HouseholdRow>,
    changed: BTreeSet<String>,
}

/// The members of a batch: the sequence that last set each (stored or in
/// this batch), and the facts the batch sets.
struct Members<'a> {
    sequences: HashMap<String, i64>,
    latest: BTreeMap<&'a str, (&'a Person, i64)>,
}

impl<'a> Members<'a> {
    /// Sets a member's facts, unless a later event already set them.
    fn set(&mut self, person: &'a Person, sequence: i64) {
        if self
            .sequences
            .get(&person.member_id)
            .is_none_or(|stored| *stored <= sequence)
        {
            self.sequences.insert(person.member_id.clone(), sequence);
            self.latest.insert(person.member_id.as_str(), (person, sequence));
        }
    }
}

enum Enrolment {
    Enrolled(NaiveDate),
    Exited(NaiveDate),
}

impl Households {
    /// Sets a household's location, unless a later event already set it;
    /// a household not known yet starts here, not enrolled.
    fn set_location(&mut self, household_id: &str, location: &Location, sequence: i64) {
        match self.rows.get_mut(household_id) {
            None => {
                self.rows.insert(
                    household_id.to_owned(),
                    HouseholdRow {
                        household_id: household_id.to_owned(),
                        location: location.clone(),
                        location_sequence: sequence,
                        pnp_enrolled_on: None,
                        pnp_exited_on: None,
                        enrolment_sequence: 0,
                    },
                );
            }
            Some(row) if row.location_sequence <= sequence => {
                row.location = location.clone();
                row.location_sequence = sequence;
            }
            Some(_) => return,
        }
        self.changed.insert(household_id.to_owned());
    }

    /// Records a PNP enrolment or exit, unless a later event already changed
    /// the enrolment. An enrolment starts afresh (any earlier exit is over);
    /// an exit keeps the enrolment date it ends.
    fn set_enrolment(&mut self, household_id: &str, change: Enrolment, sequence: i64) {
        let Some(row) = self.rows.get_mut(household_id) else {
            return;
        };
        if row.enrolment_sequence > sequence {
            return;
        }
        match change {
            Enrolment::Enrolled(on) => {
                row.pnp_enrolled_on = Some(on);
                row.pnp_exited_on = None;
            }
            Enrolment::Exited(on) => row.pnp_exited_on = Some(on),
        }
        row.enrolment_sequence = sequence;
        self.changed.insert(household_id.to_owned());
    }
}

/// The registry's account of a member, as this service keeps it.
fn person(household_id: &str, member: Option<&ev::MemberProfile>) -> Result<Person, Rejection> {
    let registry::Member {
        member_id,
        household_id,
        sex,
        birth_date,
        pregnant,
        lactating,
        present,
    } = registry::member(household_id, member)?;
    Ok(Person {
        member_id,
        household_id,
        sex,
        birth_date,
        pregnant,
        lactating,
        present,
    })
}

#[cfg(test)]
mod tests {
    use jigi_common::{Region, Sex};
    use jigi_storage::{Database, params};

    use super::*;

    const SANANDO: &str = "segou.baroueli.sanando";
    const PELENGANA: &str = "segou.segou.pelengana";

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn place(commune: &str) -> Location {
        Location {
            region: Region::Segou,
            cercle: commune.rsplit_once('.').unwrap().0.to_owned(),
            commune: commune.to_owned(),
            village: String::new(),
        }
    }

    fn mother(household_id: &str, lactating: bool) -> Person {
        Person {
            member_id: format!("{household_id}-mother"),
            household_id: household_id.to_owned(),
            sex: Sex::Female,
            birth_date: d("1990-03-12"),
            pregnant: false,
            lactating,
            present: true,
        }
    }

    /// The story of two households, in stream order (sequences 1 to 7).
    fn story() -> Vec<(i64, Fact)> {
        vec![
            (
                1,
                Fact::Registered {
                    household_id: "h1".into(),
                    location: place(SANANDO),
                    people: vec![mother("h1", true)],
                },
            ),
            (
                2,
                Fact::Enrolled {
                    household_id: "h1".into(),
                    location: place(SANANDO),
                    on: d("2018-04-01"),
                },
            ),
            (
                3,
                Fact::Registered {
                    household_id: "h2".into(),
                    location: place(SANANDO),
                    people: vec![mother("h2", true)],
                },
            ),
            (
                4,
                Fact::Member {
                    location: place(SANANDO),
                    person: mother("h1", false),
                },
            ),
            (
                5,
                Fact::Updated {
                    household_id: "h1".into(),
                    location: place(PELENGANA),
                },
            ),
            (
                6,
                Fact::Exited {
                    household_id: "h1".into(),
                    location: place(PELENGANA),
                    on: d("2018-09-30"),
                },
            ),
            (
                7,
                Fact::Enrolled {
                    household_id: "h2".into(),
                    location: place(SANANDO),
                    on: d("2018-05-01"),
                },
            ),
        ]
    }

    /// What the story leaves, written out by hand: (household, commune,
    /// enrolled on, exited on) and (member, household, lactating).
    type Households = Vec<(String, String, Option<String>, Option<String>)>;
    type Members = Vec<(String, String, bool)>;

    fn expected() -> (Households, Members) {
        (
            vec![
                (
                    "h1".into(),
                    PELENGANA.into(),
                    Some("2018-04-01".into()),
                    Some("2018-09-30".into()),
                ),
                ("h2".into(), SANANDO.into(), Some("2018-05-01".into()), None),
            ],
            vec![
                ("h1-mother".into(), "h1".into(), false),
                ("h2-mother".into(), "h2".into(), true),
            ],
        )
    }

    async fn database(dir: &std::path::Path, name: &str) -> Database {
        // SQLite, or PostgreSQL with `JIGI_TEST_POSTGRES`.
        Database::open(&jigi_testkit::database_url(dir, name).await, crate::storage::MIGRATIONS)
            .await
            .unwrap()
    }

    /// Applies the story's facts at these positions, one batch per slice.
    async fn replay(db: &Database, batches: &[&[usize]]) {
        let story = story();
        for batch in batches {
            let facts: Vec<(i64, Fact)> = batch.iter().map(|&i| story[i].clone()).collect();
            db.write(move |conn| {
                let facts: Vec<(i64, &Fact)> = facts.iter().map(|(sequence, fact)| (*sequence, fact)).collect();
                apply(conn, &facts)
            })
            .await
            .unwrap();
        }
    }

    async fn contents(db: &Database) -> (Households, Members) {
        db.read(|conn| {
            let households = conn
                .query(
                    "SELECT household_id, commune, pnp_enrolled_on, pnp_exited_on FROM registry_households \
                     ORDER BY household_id",
                    params![],
                )?
                .iter()
                .map(|row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
                .collect::<Result<Vec<_>, StorageError>>()?;
            let members = conn
                .query(
                    "SELECT member_id, household_id, lactating FROM registry_members ORDER BY member_id",
                    params![],
                )?
                .iter()
                .map(|row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .collect::<Result<Vec<_>, StorageError>>()?;
            Ok::<_, StorageError>((households, members))
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_batch_ends_where_its_events_one_by_one_end() {
        let dir = tempfile::tempdir().unwrap();
        let whole = database(dir.path(), "whole").await;
        replay(&whole, &[&[0, 1, 2, 3, 4, 5, 6]]).await;
        assert_eq!(contents(&whole).await, expected());

        let one_by_one = database(dir.path(), "one-by-one").await;
        replay(&one_by_one, &[&[0], &[1], &[2], &[3], &[4], &[5], &[6]]).await;
        assert_eq!(contents(&one_by_one).await, expected());
    }

    #[tokio::test]
    async fn an_older_event_delivered_late_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(dir.path(), "late").await;
        replay(&db, &[&[0, 1, 2, 3, 4, 5, 6]]).await;
        // Redelivered out of order, alone or in a batch: the registration
        // (a lactating mother in Sanando), the enrolment, the move.
        replay(&db, &[&[0], &[1, 4], &[3, 0, 2]]).await;
        assert_eq!(contents(&db).await, expected());

        // Newer events arriving before older ones in one batch end the same.
        let shuffled = database(dir.path(), "shuffled").await;
        replay(&shuffled, &[&[0, 1, 2], &[4, 3, 6, 5]]).await;
        assert_eq!(contents(&shuffled).await, expected());
    }
}
