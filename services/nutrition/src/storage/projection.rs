//! The registry's facts about PNP households and their members.

use std::collections::HashMap;

use chrono::NaiveDate;
use jigi_common::Sex;
use jigi_common::date::format_date;
use jigi_common::geography::AreaLevel;
use jigi_storage::sql::{self, Filter, Placeholders};
use jigi_storage::{Conn, Owned, Row, StorageError, ToSql, params};

use super::{ROWS_PER_INSERT, date, decode_error, region};
use crate::domain::eligibility::{Household, Person, PnpEnrolment};
use crate::domain::model::Location;

const PERSON_COLUMNS: &str = "m.member_id, m.household_id, m.sex, m.birth_date, m.pregnant, m.lactating, m.present, \
    h.region, h.cercle, h.commune, h.village, h.pnp_enrolled_on, h.pnp_exited_on";

const HOUSEHOLD_COLUMNS: &str = "household_id, region, cercle, commune, village, location_sequence, \
    pnp_enrolled_on, pnp_exited_on, enrolment_sequence";
const HOUSEHOLD_COLUMN_COUNT: usize = 9;

const MEMBER_COLUMNS: &str = "member_id, household_id, sex, birth_date, pregnant, lactating, present, sequence";
const MEMBER_COLUMN_COUNT: usize = 8;

/// A household as the projection stores it: each group of facts with the
/// stream sequence of the event that last set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseholdRow {
    pub household_id: String,
    pub location: Location,
    pub location_sequence: i64,
    /// The latest PNP enrolment's date (kept when the household exits).
    pub pnp_enrolled_on: Option<NaiveDate>,
    pub pnp_exited_on: Option<NaiveDate>,
    pub enrolment_sequence: i64,
}

/// The households of these IDs that the projection holds, by ID.
pub fn households(conn: &mut Conn, household_ids: &[&str]) -> Result<HashMap<String, HouseholdRow>, StorageError> {
    let mut found = HashMap::with_capacity(household_ids.len());
    for chunk in household_ids.chunks(sql::MAX_BINDS) {
        let statement = format!(
            "SELECT {HOUSEHOLD_COLUMNS} FROM registry_households WHERE household_id IN ({})",
            Placeholders::for_connection(conn).list(chunk.len())
        );
        let values: Vec<&dyn ToSql> = chunk.iter().map(|id| id as &dyn ToSql).collect();
        conn.query_each(&statement, &values, |row| {
            let household = household_from_row(row)?;
            found.insert(household.household_id.clone(), household);
            Ok(())
        })?;
    }
    Ok(found)
}

/// The stream sequence that last set each of these members, by member ID
/// (unknown members are left out).
pub fn member_sequences(conn: &mut Conn, member_ids: &[&str]) -> Result<HashMap<String, i64>, StorageError> {
    let mut found = HashMap::with_capacity(member_ids.len());
    for chunk in member_ids.chunks(sql::MAX_BINDS) {
        let statement = format!(
            "SELECT member_id, sequence FROM registry_members WHERE member_id IN ({})",
            Placeholders::for_connection(conn).list(chunk.len())
        );
        let values: Vec<&dyn ToSql> = chunk.iter().map(|id| id as &dyn ToSql).collect();
        conn.query_each(&statement, &values, |row| {
            found.insert(row.get(0)?, row.get(1)?);
            Ok(())
        })?;
    }
    Ok(found)
}

/// Writes households as given, inserting the new ones.
pub fn save_households(conn: &mut Conn, households: &[&HouseholdRow]) -> Result<(), StorageError> {
    for chunk in households.chunks(ROWS_PER_INSERT) {
        let statement = format!(
            "INSERT INTO registry_households ({HOUSEHOLD_COLUMNS}) VALUES {} \
             ON CONFLICT (household_id) DO UPDATE SET region = excluded.region, cercle = excluded.cercle, \
             commune = excluded.commune, village = excluded.village, location_sequence = excluded.location_sequence, \
             pnp_enrolled_on = excluded.pnp_enrolled_on, pnp_exited_on = excluded.pnp_exited_on, \
             enrolment_sequence = excluded.enrolment_sequence",
            Placeholders::for_connection(conn).rows(chunk.len(), HOUSEHOLD_COLUMN_COUNT)
        );
        // Values that must be formatted first, borrowed by the statement.
        let formatted: Vec<(&'static str, Option<String>, Option<String>)> = chunk
            .iter()
            .map(|h| {
                (
                    h.location.region.slug(),
                    h.pnp_enrolled_on.map(format_date),
                    h.pnp_exited_on.map(format_date),
                )
            })
            .collect();
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * HOUSEHOLD_COLUMN_COUNT);
        for (h, (region, enrolled_on, exited_on)) in chunk.iter().zip(&formatted) {
            values.extend([
                &h.household_id as &dyn ToSql,
                region,
                &h.location.cercle,
                &h.location.commune,
                &h.location.village,
                &h.location_sequence,
                enrolled_on,
                exited_on,
                &h.enrolment_sequence,
            ]);
        }
        conn.pipeline(&statement, &values)?;
    }
    Ok(())
}

/// Writes members' facts as given, each with the stream sequence that set
/// them, inserting the new ones.
pub fn save_members(conn: &mut Conn, people: &[(&Person, i64)]) -> Result<(), StorageError> {
    for chunk in people.chunks(ROWS_PER_INSERT) {
        let statement = format!(
            "INSERT INTO registry_members ({MEMBER_COLUMNS}) VALUES {} \
             ON CONFLICT (member_id) DO UPDATE SET household_id = excluded.household_id, sex = excluded.sex, \
             birth_date = excluded.birth_date, pregnant = excluded.pregnant, lactating = excluded.lactating, \
             present = excluded.present, sequence = excluded.sequence",
            Placeholders::for_connection(conn).rows(chunk.len(), MEMBER_COLUMN_COUNT)
        );
        let formatted: Vec<(i64, String)> = chunk
            .iter()
            .map(|(person, _)| (sex_number(person.sex), format_date(person.birth_date)))
            .collect();
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * MEMBER_COLUMN_COUNT);
        for ((person, sequence), (sex, birth_date)) in chunk.iter().zip(&formatted) {
            values.extend([
                &person.member_id as &dyn ToSql,
                &person.household_id,
                sex,
                birth_date,
                &person.pregnant,
                &person.lactating,
                &person.present,
                sequence,
            ]);
        }
        conn.pipeline(&statement, &values)?;
    }
    Ok(())
}

/// People with their households, by member ID (unknown IDs are left out).
pub fn people(conn: &mut Conn, member_ids: &[&str]) -> Result<HashMap<String, (Person, Household)>, StorageError> {
    let mut found = HashMap::with_capacity(member_ids.len());
    for chunk in member_ids.chunks(sql::MAX_BINDS) {
        let statement = format!(
            "SELECT {PERSON_COLUMNS} FROM registry_members m \
             JOIN registry_households h ON h.household_id = m.household_id WHERE m.member_id IN ({})",
            Placeholders::for_connection(conn).list(chunk.len())
        );
        let values: Vec<&dyn ToSql> = chunk.iter().map(|id| id as &dyn ToSql).collect();
        conn.query_each(&statement, &values, |row| {
            let (person, household) = person_from_row(row)?;
            found.insert(person.member_id.clone(), (person, household));
            Ok(())
        })?;
    }
    Ok(found)
}

/// A page of people in an area (all when `None`), by member ID after `after`.
pub fn people_in_area(
    conn: &mut Conn,
    area: Option<&(AreaLevel, String)>,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<(Person, Household)>, StorageError> {
    let mut filter = Filter::new();
    if let Some((level, code)) = area {
        let condition = match level {
            AreaLevel::Region => "h.region = {}",
            AreaLevel::Cercle => "h.cercle = {}",
            AreaLevel::Commune | AreaLevel::Village => "h.commune = {}",
        };
        filter.add(condition, Owned::Text(code.clone()));
    }
    if let Some(after) = after {
        filter.add("m.member_id > {}", after);
    }
    let statement = format!(
        "SELECT {PERSON_COLUMNS} FROM registry_members m \
         JOIN registry_households h ON h.household_id = m.household_id{} ORDER BY m.member_id LIMIT ${}",
        filter.where_sql(),
        filter.next_placeholder()
    );
    let mut people = Vec::with_capacity(limit.min(1_024));
    conn.query_each(&statement, &filter.params(&[&limit as &dyn ToSql]), |row| {
        people.push(person_from_row(row)?);
        Ok(())
    })?;
    Ok(people)
}

/// Number of people and households the projection holds (for metrics and audits).
pub fn counts(conn: &mut Conn) -> Result<(i64, i64), StorageError> {
    let people = conn.query_scalar("SELECT COUNT(*) FROM registry_members", params![])?;
    let households = conn.query_scalar("SELECT COUNT(*) FROM registry_households", params![])?;
    Ok((people, households))
}

fn household_from_row(row: &Row) -> Result<HouseholdRow, StorageError> {
    let optional_date = |name: &str| -> Result<Option<NaiveDate>, StorageError> {
        row.get::<Option<String>>(name)?.as_deref().map(date).transpose()
    };
    Ok(HouseholdRow {
        household_id: row.get("household_id")?,
        location: Location {
            region: region(&row.get::<String>("region")?)?,
            cercle: row.get("cercle")?,
            commune: row.get("commune")?,
            village: row.get("village")?,
        },
        location_sequence: row.get("location_sequence")?,
        pnp_enrolled_on: optional_date("pnp_enrolled_on")?,
        pnp_exited_on: optional_date("pnp_exited_on")?,
        enrolment_sequence: row.get("enrolment_sequence")?,
    })
}

/// A sex as stored: its wire value (1 female, 2 male), as it always was.
fn sex_number(sex: Sex) -> i64 {
    i64::from(sex.to_proto() as i32)
}

fn person_from_row(row: &Row) -> Result<(Person, Household), StorageError> {
    let household_id: String = row.get("household_id")?;
    let sex: i64 = row.get("sex")?;
    let sex = i32::try_from(sex)
        .ok()
        .and_then(Sex::from_proto)
        .ok_or_else(|| decode_error(format!("unknown stored sex {sex}")))?;
    let person = Person {
        member_id: row.get("member_id")?,
        household_id: household_id.clone(),
        sex,
        birth_date: date(&row.get::<String>("birth_date")?)?,
        pregnant: row.get("pregnant")?,
        lactating: row.get("lactating")?,
        present: row.get("present")?,
    };
    let enrolled_on: Option<String> = row.get("pnp_enrolled_on")?;
    let exited_on: Option<String> = row.get("pnp_exited_on")?;
    let pnp = match enrolled_on {
        Some(on) => Some(PnpEnrolment {
            enrolled_on: date(&on)?,
            exited_on: exited_on.as_deref().map(date).transpose()?,
        }),
        None => None,
    };
    let household = Household {
        household_id,
        location: Location {
            region: region(&row.get::<String>("region")?)?,
            cercle: row.get("cercle")?,
            commune: row.get("commune")?,
            village: row.get("village")?,
        },
        pnp,
    };
    Ok((person, household))
}
