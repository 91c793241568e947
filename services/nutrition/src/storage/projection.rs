//! The registry's facts about PNP households and their members.

use std::collections::HashMap;

use chrono::NaiveDate;
use jigi_common::date::format_date;
use jigi_common::geography::AreaLevel;
use jigi_proto::common::Sex;
use jigi_storage::Row;
use jigi_storage::sql::{self, Placeholders};
use sqlx::{AnyConnection, AssertSqlSafe, Row as _};

use super::{date, decode_error, region};
use crate::domain::eligibility::{Household, Person, PnpEnrolment};
use crate::domain::model::Location;

const PERSON_COLUMNS: &str = "m.member_id, m.household_id, m.sex, m.birth_date, m.pregnant, m.lactating, m.present, \
    h.region, h.cercle, h.commune, h.village, h.pnp_enrolled_on, h.pnp_exited_on";

/// Sets a household's location, unless a later event already set it.
/// Creates the household when it is not known yet.
pub async fn upsert_location(
    conn: &mut AnyConnection,
    household_id: &str,
    location: &Location,
    sequence: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO registry_households (household_id, region, cercle, commune, village, location_sequence, \
         pnp_enrolled_on, pnp_exited_on, enrolment_sequence) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, 0) \
         ON CONFLICT (household_id) DO UPDATE SET region = excluded.region, cercle = excluded.cercle, \
         commune = excluded.commune, village = excluded.village, location_sequence = excluded.location_sequence \
         WHERE registry_households.location_sequence <= excluded.location_sequence",
    )
    .bind(household_id)
    .bind(location.region.slug())
    .bind(location.cercle.as_str())
    .bind(location.commune.as_str())
    .bind(location.village.as_str())
    .bind(sequence)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a PNP enrolment (`exited_on` = `None`) or exit, unless a later
/// event already changed the enrolment. The household must exist.
pub async fn set_enrolment(
    conn: &mut AnyConnection,
    household_id: &str,
    enrolled_on: Option<NaiveDate>,
    exited_on: Option<NaiveDate>,
    sequence: i64,
) -> Result<(), sqlx::Error> {
    let statement = match enrolled_on {
        // An enrolment starts afresh: any earlier exit is over.
        Some(_) => {
            "UPDATE registry_households SET pnp_enrolled_on = $1, pnp_exited_on = $2, enrolment_sequence = $3 \
             WHERE household_id = $4 AND enrolment_sequence <= $3"
        }
        // An exit keeps the enrolment date it ends.
        None => {
            "UPDATE registry_households SET pnp_enrolled_on = COALESCE(pnp_enrolled_on, $1), pnp_exited_on = $2, \
             enrolment_sequence = $3 WHERE household_id = $4 AND enrolment_sequence <= $3"
        }
    };
    sqlx::query(statement)
        .bind(enrolled_on.map(format_date))
        .bind(exited_on.map(format_date))
        .bind(sequence)
        .bind(household_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets the facts of members, each unless a later event already set them.
pub async fn upsert_members(conn: &mut AnyConnection, people: &[Person], sequence: i64) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 8;
    for chunk in people.chunks(sql::rows_per_statement(COLUMNS)) {
        let statement = format!(
            "INSERT INTO registry_members (member_id, household_id, sex, birth_date, pregnant, lactating, present, \
             sequence) VALUES {} ON CONFLICT (member_id) DO UPDATE SET household_id = excluded.household_id, \
             sex = excluded.sex, birth_date = excluded.birth_date, pregnant = excluded.pregnant, \
             lactating = excluded.lactating, present = excluded.present, sequence = excluded.sequence \
             WHERE registry_members.sequence <= excluded.sequence",
            Placeholders::for_connection(conn).rows(chunk.len(), COLUMNS)
        );
        let mut query = sqlx::query(AssertSqlSafe(statement));
        for person in chunk {
            query = query
                .bind(person.member_id.clone())
                .bind(person.household_id.clone())
                .bind(person.sex as i64)
                .bind(format_date(person.birth_date))
                .bind(i64::from(person.pregnant))
                .bind(i64::from(person.lactating))
                .bind(i64::from(person.present))
                .bind(sequence);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// People with their households, by member ID (unknown IDs are left out).
pub async fn people(
    conn: &mut AnyConnection,
    member_ids: &[&str],
) -> Result<HashMap<String, (Person, Household)>, sqlx::Error> {
    let mut found = HashMap::with_capacity(member_ids.len());
    for chunk in member_ids.chunks(sql::MAX_BINDS) {
        let statement = format!(
            "SELECT {PERSON_COLUMNS} FROM registry_members m \
             JOIN registry_households h ON h.household_id = m.household_id WHERE m.member_id IN ({})",
            Placeholders::for_connection(conn).list(chunk.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(statement));
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let (person, household) = person_from_row(&row)?;
            found.insert(person.member_id.clone(), (person, household));
        }
    }
    Ok(found)
}

/// A page of people in an area (all when `None`), by member ID after `after`.
pub async fn people_in_area(
    conn: &mut AnyConnection,
    area: Option<&(AreaLevel, String)>,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<(Person, Household)>, sqlx::Error> {
    let mut filter = sql::Filter::new();
    if let Some((level, code)) = area {
        let condition = match level {
            AreaLevel::Region => "h.region = {}",
            AreaLevel::Cercle => "h.cercle = {}",
            AreaLevel::Commune | AreaLevel::Village => "h.commune = {}",
        };
        filter.add(condition, sql::Value::Text(code.clone()));
    }
    if let Some(after) = after {
        filter.add("m.member_id > {}", sql::Value::Text(after.to_owned()));
    }
    let statement = format!(
        "SELECT {PERSON_COLUMNS} FROM registry_members m \
         JOIN registry_households h ON h.household_id = m.household_id{} ORDER BY m.member_id LIMIT ${}",
        filter.where_sql(),
        filter.next_placeholder()
    );
    let query = sql::bind_values(sqlx::query(AssertSqlSafe(statement)), filter.values()).bind(limit as i64);
    query.fetch_all(conn).await?.iter().map(person_from_row).collect()
}

/// Number of people and households the projection holds (for tests and metrics).
pub async fn counts(conn: &mut AnyConnection) -> Result<(i64, i64), sqlx::Error> {
    let people: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM registry_members")
        .fetch_one(&mut *conn)
        .await?;
    let households: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM registry_households")
        .fetch_one(&mut *conn)
        .await?;
    Ok((people, households))
}

fn person_from_row(row: &Row) -> Result<(Person, Household), sqlx::Error> {
    let household_id: String = row.try_get("household_id")?;
    let sex: i64 = row.try_get("sex")?;
    let sex = i32::try_from(sex)
        .ok()
        .and_then(|v| Sex::try_from(v).ok())
        .ok_or_else(|| decode_error(format!("unknown stored sex {sex}")))?;
    let person = Person {
        member_id: row.try_get("member_id")?,
        household_id: household_id.clone(),
        sex,
        birth_date: date(&row.try_get::<String, _>("birth_date")?)?,
        pregnant: row.try_get::<i64, _>("pregnant")? != 0,
        lactating: row.try_get::<i64, _>("lactating")? != 0,
        present: row.try_get::<i64, _>("present")? != 0,
    };
    let enrolled_on = row.try_get::<Option<String>, _>("pnp_enrolled_on")?;
    let exited_on = row.try_get::<Option<String>, _>("pnp_exited_on")?;
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
            region: region(&row.try_get::<String, _>("region")?)?,
            cercle: row.try_get("cercle")?,
            commune: row.try_get("commune")?,
            village: row.try_get("village")?,
        },
        pnp,
    };
    Ok((person, household))
}
