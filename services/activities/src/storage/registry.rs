//! The registry's facts about households and their members, as this
//! service needs them: where a household lives, its MA/AGR/HIMO enrolments,
//! each member's sex, birth date and presence.

use std::collections::HashMap;

use chrono::NaiveDate;
use jigi_common::Component;
use jigi_common::Sex;
use jigi_common::date::format_date;
use jigi_storage::sql::{self, Placeholders};
use jigi_storage::{Conn, Row, StorageError, ToSql, params};

use super::{date, decode_error, optional_date, region};
use crate::domain::model::{Enrolment, Household, Location, Person};

/// Sets a household's location, unless a later event already did.
pub fn set_location(
    conn: &mut Conn,
    household_id: &str,
    location: &Location,
    sequence: i64,
) -> Result<(), StorageError> {
    conn.pipeline(
        "INSERT INTO registry_households (household_id, region, cercle, commune, village, sequence) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (household_id) DO UPDATE SET region = excluded.region, cercle = excluded.cercle, \
         commune = excluded.commune, village = excluded.village, sequence = excluded.sequence \
         WHERE registry_households.sequence <= excluded.sequence",
        params![
            household_id,
            location.region.slug(),
            location.cercle,
            location.commune,
            location.village,
            sequence
        ],
    )?;
    Ok(())
}

/// Records an enrolment (with no exit) or an exit, unless a later event
/// about the same component already did. An exit of an enrolment never
/// seen keeps the exit date as the enrolment date, so the household takes
/// part on no day.
pub fn set_enrolment(
    conn: &mut Conn,
    household_id: &str,
    component: Component,
    enrolled_on: Option<NaiveDate>,
    exited_on: Option<NaiveDate>,
    sequence: i64,
) -> Result<(), StorageError> {
    match enrolled_on {
        Some(enrolled_on) => {
            conn.pipeline(
                "INSERT INTO registry_enrolments (household_id, component, enrolled_on, exited_on, sequence) \
                 VALUES ($1, $2, $3, NULL, $4) \
                 ON CONFLICT (household_id, component) DO UPDATE SET enrolled_on = excluded.enrolled_on, \
                 exited_on = NULL, sequence = excluded.sequence \
                 WHERE registry_enrolments.sequence <= excluded.sequence",
                params![household_id, component.code(), format_date(enrolled_on), sequence],
            )?;
        }
        None => {
            let exited_on = exited_on.map(format_date);
            conn.pipeline(
                "INSERT INTO registry_enrolments (household_id, component, enrolled_on, exited_on, sequence) \
                 VALUES ($1, $2, $3, $3, $4) \
                 ON CONFLICT (household_id, component) DO UPDATE SET exited_on = excluded.exited_on, \
                 sequence = excluded.sequence \
                 WHERE registry_enrolments.sequence <= excluded.sequence",
                params![household_id, component.code(), exited_on, sequence],
            )?;
        }
    }
    Ok(())
}

/// Sets a member's facts, unless a later event already did.
pub fn set_member(conn: &mut Conn, person: &Person, sequence: i64) -> Result<(), StorageError> {
    conn.pipeline(
        "INSERT INTO registry_members (member_id, household_id, sex, birth_date, present, sequence) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (member_id) DO UPDATE SET household_id = excluded.household_id, sex = excluded.sex, \
         birth_date = excluded.birth_date, present = excluded.present, sequence = excluded.sequence \
         WHERE registry_members.sequence <= excluded.sequence",
        params![
            person.member_id,
            person.household_id,
            i64::from(person.sex.to_proto() as i32),
            format_date(person.birth_date),
            i64::from(person.present),
            sequence
        ],
    )?;
    Ok(())
}

/// The households of these IDs the projection holds, by ID, with their enrolments.
pub fn households(conn: &mut Conn, ids: &[&str]) -> Result<HashMap<String, Household>, StorageError> {
    let mut found: HashMap<String, Household> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(sql::MAX_BINDS) {
        let list = Placeholders::for_connection(conn).list(chunk.len());
        let values: Vec<&dyn ToSql> = chunk.iter().map(|id| id as &dyn ToSql).collect();
        conn.query_each(
            &format!(
                "SELECT household_id, region, cercle, commune, village FROM registry_households \
                 WHERE household_id IN ({list})"
            ),
            &values,
            |row| {
                let household = Household {
                    household_id: row.get(0)?,
                    location: Location {
                        region: region(&row.get::<String>(1)?)?,
                        cercle: row.get(2)?,
                        commune: row.get(3)?,
                        village: row.get(4)?,
                    },
                    enrolments: Vec::new(),
                };
                found.insert(household.household_id.clone(), household);
                Ok(())
            },
        )?;
        conn.query_each(
            &format!(
                "SELECT household_id, component, enrolled_on, exited_on FROM registry_enrolments \
                 WHERE household_id IN ({list})"
            ),
            &values,
            |row| {
                let id: String = row.get(0)?;
                let code: String = row.get(1)?;
                let component =
                    Component::from_code(&code).ok_or_else(|| decode_error(format!("unknown component {code}")))?;
                let enrolment = Enrolment {
                    enrolled_on: date(&row.get::<String>(2)?)?,
                    exited_on: optional_date(row.get(3)?)?,
                };
                if let Some(household) = found.get_mut(&id) {
                    household.enrolments.push((component, enrolment));
                }
                Ok(())
            },
        )?;
    }
    Ok(found)
}

/// One household, if the projection holds it.
pub fn household(conn: &mut Conn, id: &str) -> Result<Option<Household>, StorageError> {
    Ok(households(conn, &[id])?.remove(id))
}

/// The people of these IDs the projection holds, by ID.
pub fn people(conn: &mut Conn, ids: &[&str]) -> Result<HashMap<String, Person>, StorageError> {
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(sql::MAX_BINDS) {
        let statement = format!(
            "SELECT member_id, household_id, sex, birth_date, present FROM registry_members WHERE member_id IN ({})",
            Placeholders::for_connection(conn).list(chunk.len())
        );
        let values: Vec<&dyn ToSql> = chunk.iter().map(|id| id as &dyn ToSql).collect();
        conn.query_each(&statement, &values, |row| {
            let person = person_from_row(row)?;
            found.insert(person.member_id.clone(), person);
            Ok(())
        })?;
    }
    Ok(found)
}

/// Households enrolled in `component` on `on` living in `commune`, in ID order.
pub fn enrolled_in_commune(
    conn: &mut Conn,
    commune: &str,
    component: Component,
    on: NaiveDate,
) -> Result<Vec<String>, StorageError> {
    let on = format_date(on);
    conn.query(
        "SELECT h.household_id FROM registry_households h \
         JOIN registry_enrolments e ON e.household_id = h.household_id AND e.component = $2 \
         WHERE h.commune = $1 AND e.enrolled_on <= $3 AND (e.exited_on IS NULL OR e.exited_on > $3) \
         ORDER BY h.household_id",
        params![commune, component.code(), on],
    )?
    .iter()
    .map(|row| row.get(0))
    .collect()
}

fn person_from_row(row: &Row) -> Result<Person, StorageError> {
    let sex: i64 = row.get(2)?;
    Ok(Person {
        member_id: row.get(0)?,
        household_id: row.get(1)?,
        sex: i32::try_from(sex)
            .ok()
            .and_then(Sex::from_proto)
            .ok_or_else(|| decode_error(format!("unknown sex {sex}")))?,
        birth_date: date(&row.get::<String>(3)?)?,
        present: row.get::<i64>(4)? != 0,
    })
}
