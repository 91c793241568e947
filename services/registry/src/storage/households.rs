//! Reading and writing households, members, enrolments and their history.

use std::collections::HashMap;

use jigi_common::Component;
use jigi_common::date::{format_date, parse_date};
use jigi_proto::common::Sex;
use jigi_proto::registry::{ExitReason, FloorMaterial, MemberStatus, Relation, RoofMaterial, WallMaterial};
use jigi_storage::sql::{self, Placeholders};
use jigi_storage::{Row, timestamp};
use sqlx::{AnyConnection, AssertSqlSafe, Row as _};

use crate::domain::model::{
    Assets, Enrolment, EnrolmentStatus, Household, HouseholdStatus, IdCardNumber, Livestock, Location, Member,
    PersonName, PhoneNumber, PmtAssessment, StatusChange, Traits,
};

const HOUSEHOLD_COLUMNS: &str = "household_id, region, cercle, commune, village, roof, wall, floor, \
    radios, televisions, mobile_phones, bicycles, motorcycles, carts, ploughs, solar_panels, \
    cattle, sheep_goats, donkeys, horses, camels, poultry, cultivated_land_ares, \
    pmt_score, pmt_threshold, pmt_eligible, pmt_weights_version, status, version, registered_at, updated_at, head_key";
const HOUSEHOLD_COLUMN_COUNT: usize = 32;

const MEMBER_COLUMNS: &str = "member_id, household_id, position, given_name, family_name, sex, birth_date, \
    birth_date_estimated, relation, pregnant, lactating, id_card_number, phone, status";
const MEMBER_COLUMN_COUNT: usize = 14;

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Stores new households with their members. `head_keys[i]` is the
/// duplicate-detection key of `households[i]`'s head.
pub async fn insert(conn: &mut AnyConnection, households: &[(Household, String)]) -> Result<(), sqlx::Error> {
    for chunk in households.chunks(sql::rows_per_statement(HOUSEHOLD_COLUMN_COUNT)) {
        let statement = format!(
            "INSERT INTO households ({HOUSEHOLD_COLUMNS}) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), HOUSEHOLD_COLUMN_COUNT)
        );
        let mut query = sqlx::query(AssertSqlSafe(statement));
        for (household, head_key) in chunk {
            query = bind_household(query, household, head_key);
        }
        query.execute(&mut *conn).await?;
    }
    let members: Vec<(&str, usize, &Member)> = households
        .iter()
        .flat_map(|(household, _)| {
            household
                .members
                .iter()
                .enumerate()
                .map(|(position, member)| (household.household_id.as_str(), position, member))
        })
        .collect();
    insert_members(conn, &members).await
}

fn bind_household<'q>(query: AnyQuery<'q>, h: &Household, head_key: &str) -> AnyQuery<'q> {
    bind_state(query.bind(h.household_id.clone()), h)
        .bind(timestamp::format(h.registered_at))
        .bind(timestamp::format(h.updated_at))
        .bind(head_key.to_owned())
}

/// Binds the 28 columns from `region` to `version`, in that order: what an
/// insert and an update of a household both write.
fn bind_state<'q>(query: AnyQuery<'q>, h: &Household) -> AnyQuery<'q> {
    let t = &h.traits;
    let (a, l) = (&t.assets, &t.livestock);
    query
        .bind(h.location.region.slug())
        .bind(h.location.cercle.clone())
        .bind(h.location.commune.clone())
        .bind(h.location.village.clone())
        .bind(t.roof as i64)
        .bind(t.wall as i64)
        .bind(t.floor as i64)
        .bind(i64::from(a.radios))
        .bind(i64::from(a.televisions))
        .bind(i64::from(a.mobile_phones))
        .bind(i64::from(a.bicycles))
        .bind(i64::from(a.motorcycles))
        .bind(i64::from(a.carts))
        .bind(i64::from(a.ploughs))
        .bind(i64::from(a.solar_panels))
        .bind(i64::from(l.cattle))
        .bind(i64::from(l.sheep_goats))
        .bind(i64::from(l.donkeys))
        .bind(i64::from(l.horses))
        .bind(i64::from(l.camels))
        .bind(i64::from(l.poultry))
        .bind(i64::from(t.cultivated_land_ares))
        .bind(h.pmt.score)
        .bind(h.pmt.threshold)
        .bind(i64::from(h.pmt.eligible))
        .bind(h.pmt.weights_version.clone())
        .bind(h.status.code())
        .bind(h.version)
}

async fn insert_members(conn: &mut AnyConnection, members: &[(&str, usize, &Member)]) -> Result<(), sqlx::Error> {
    for chunk in members.chunks(sql::rows_per_statement(MEMBER_COLUMN_COUNT)) {
        let statement = format!(
            "INSERT INTO members ({MEMBER_COLUMNS}) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), MEMBER_COLUMN_COUNT)
        );
        let mut query = sqlx::query(AssertSqlSafe(statement));
        for (household_id, position, member) in chunk {
            query = query
                .bind(member.member_id.clone())
                .bind((*household_id).to_owned())
                .bind(*position as i64)
                .bind(member.given_name.as_str().to_owned())
                .bind(member.family_name.as_str().to_owned())
                .bind(member.sex as i64)
                .bind(format_date(member.birth_date))
                .bind(i64::from(member.birth_date_estimated))
                .bind(member.relation as i64)
                .bind(i64::from(member.pregnant))
                .bind(i64::from(member.lactating))
                .bind(member.id_card.as_ref().map(|c| c.as_str().to_owned()))
                .bind(member.phone.as_ref().map(|p| p.as_str().to_owned()))
                .bind(member.status as i64);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Adds one member at the end of a household's list.
pub async fn insert_member(
    conn: &mut AnyConnection,
    household_id: &str,
    position: usize,
    member: &Member,
) -> Result<(), sqlx::Error> {
    insert_members(conn, &[(household_id, position, member)]).await
}

/// Rewrites a member's data.
pub async fn update_member(conn: &mut AnyConnection, member: &Member) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE members SET given_name = $1, family_name = $2, birth_date = $3, birth_date_estimated = $4, \
         pregnant = $5, lactating = $6, id_card_number = $7, phone = $8, status = $9 WHERE member_id = $10",
    )
    .bind(member.given_name.as_str().to_owned())
    .bind(member.family_name.as_str().to_owned())
    .bind(format_date(member.birth_date))
    .bind(i64::from(member.birth_date_estimated))
    .bind(i64::from(member.pregnant))
    .bind(i64::from(member.lactating))
    .bind(member.id_card.as_ref().map(|c| c.as_str().to_owned()))
    .bind(member.phone.as_ref().map(|p| p.as_str().to_owned()))
    .bind(member.status as i64)
    .bind(member.member_id.clone())
    .execute(conn)
    .await?;
    Ok(())
}

/// Rewrites a household's own row (not its members).
pub async fn update_household(
    conn: &mut AnyConnection,
    household: &Household,
    head_key: &str,
) -> Result<(), sqlx::Error> {
    let query = sqlx::query(
        "UPDATE households SET region = $1, cercle = $2, commune = $3, village = $4, roof = $5, wall = $6, floor = $7, \
         radios = $8, televisions = $9, mobile_phones = $10, bicycles = $11, motorcycles = $12, carts = $13, \
         ploughs = $14, solar_panels = $15, cattle = $16, sheep_goats = $17, donkeys = $18, horses = $19, \
         camels = $20, poultry = $21, cultivated_land_ares = $22, pmt_score = $23, pmt_threshold = $24, \
         pmt_eligible = $25, pmt_weights_version = $26, status = $27, version = $28, updated_at = $29, head_key = $30 \
         WHERE household_id = $31",
    );
    bind_state(query, household)
        .bind(timestamp::format(household.updated_at))
        .bind(head_key.to_owned())
        .bind(household.household_id.clone())
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a household's participation in a component (insert or replace).
pub async fn save_enrolment(
    conn: &mut AnyConnection,
    household_id: &str,
    enrolment: &Enrolment,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO enrolments (household_id, component, status, enrolled_on, exited_on, exit_reason) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (household_id, component) DO UPDATE SET status = $3, enrolled_on = $4, exited_on = $5, exit_reason = $6",
    )
    .bind(household_id.to_owned())
    .bind(enrolment.component.code())
    .bind(enrolment_status_code(enrolment.status))
    .bind(format_date(enrolment.enrolled_on))
    .bind(enrolment.exited_on.map(format_date))
    .bind(enrolment.exit_reason.map(|r| r as i64))
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends to a household's status history.
pub async fn add_history(
    conn: &mut AnyConnection,
    household_id: &str,
    change: &StatusChange,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO status_history (household_id, component, status, effective_on, exit_reason, note, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(household_id.to_owned())
    .bind(change.component.code())
    .bind(enrolment_status_code(change.status))
    .bind(format_date(change.effective_on))
    .bind(change.exit_reason.map(|r| r as i64))
    .bind(change.note.clone())
    .bind(timestamp::format(change.recorded_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// A household's status history, oldest first.
pub async fn history(conn: &mut AnyConnection, household_id: &str) -> Result<Vec<StatusChange>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT component, status, effective_on, exit_reason, note, recorded_at FROM status_history \
         WHERE household_id = $1 ORDER BY recorded_at",
    )
    .bind(household_id.to_owned())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StatusChange {
                component: component(row.try_get("component")?)?,
                status: enrolment_status(row.try_get("status")?)?,
                effective_on: date(row.try_get("effective_on")?)?,
                exit_reason: row
                    .try_get::<Option<i64>, _>("exit_reason")?
                    .map(wire_enum::<ExitReason>)
                    .transpose()?,
                note: row.try_get("note")?,
                recorded_at: timestamp::parse(&row.try_get::<String, _>("recorded_at")?)?,
            })
        })
        .collect()
}

/// Which of these head keys are taken, and by which household.
pub async fn households_by_head_key(
    conn: &mut AnyConnection,
    keys: &[String],
) -> Result<HashMap<String, String>, sqlx::Error> {
    lookup(
        conn,
        "SELECT head_key, household_id FROM households WHERE head_key IN",
        keys,
    )
    .await
}

/// Which of these ID-card numbers are registered, and in which household.
pub async fn households_by_id_card(
    conn: &mut AnyConnection,
    cards: &[String],
) -> Result<HashMap<String, String>, sqlx::Error> {
    lookup(
        conn,
        "SELECT id_card_number, household_id FROM members WHERE id_card_number IN",
        cards,
    )
    .await
}

async fn lookup(
    conn: &mut AnyConnection,
    select: &str,
    keys: &[String],
) -> Result<HashMap<String, String>, sqlx::Error> {
    let mut found = HashMap::new();
    for chunk in keys.chunks(sql::MAX_BINDS) {
        let statement = format!("{select} ({})", Placeholders::for_connection(conn).list(chunk.len()));
        let mut query = sqlx::query_as::<_, (String, String)>(AssertSqlSafe(statement));
        for key in chunk {
            query = query.bind(key.clone());
        }
        found.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(found)
}

/// One household with its members and enrolments.
pub async fn load(conn: &mut AnyConnection, household_id: &str) -> Result<Option<Household>, sqlx::Error> {
    Ok(load_many(conn, &[household_id.to_owned()]).await?.pop())
}

/// Households with their members and enrolments, in the order of `ids`
/// (unknown IDs are left out).
pub async fn load_many(conn: &mut AnyConnection, ids: &[String]) -> Result<Vec<Household>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = Placeholders::for_connection(conn).list(ids.len());
    let bind_ids = |mut query: AnyQuery<'static>| {
        for id in ids {
            query = query.bind(id.clone());
        }
        query
    };
    let household_rows = bind_ids(sqlx::query(AssertSqlSafe(format!(
        "SELECT {HOUSEHOLD_COLUMNS} FROM households WHERE household_id IN ({placeholders})"
    ))))
    .fetch_all(&mut *conn)
    .await?;
    let member_rows = bind_ids(sqlx::query(AssertSqlSafe(format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE household_id IN ({placeholders}) ORDER BY household_id, position"
    ))))
    .fetch_all(&mut *conn)
    .await?;
    let enrolment_rows = bind_ids(sqlx::query(AssertSqlSafe(format!(
        "SELECT household_id, component, status, enrolled_on, exited_on, exit_reason FROM enrolments \
         WHERE household_id IN ({placeholders}) ORDER BY household_id, component"
    ))))
    .fetch_all(&mut *conn)
    .await?;

    let mut members: HashMap<String, Vec<Member>> = HashMap::new();
    for row in &member_rows {
        members
            .entry(row.try_get("household_id")?)
            .or_default()
            .push(member_from_row(row)?);
    }
    let mut enrolments: HashMap<String, Vec<Enrolment>> = HashMap::new();
    for row in &enrolment_rows {
        enrolments
            .entry(row.try_get("household_id")?)
            .or_default()
            .push(enrolment_from_row(row)?);
    }
    let mut households: HashMap<String, Household> = HashMap::new();
    for row in &household_rows {
        let id: String = row.try_get("household_id")?;
        let household = household_from_row(
            row,
            members.remove(&id).unwrap_or_default(),
            enrolments.remove(&id).unwrap_or_default(),
        )?;
        households.insert(id, household);
    }
    Ok(ids.iter().filter_map(|id| households.remove(id)).collect())
}

fn household_from_row(row: &Row, members: Vec<Member>, enrolments: Vec<Enrolment>) -> Result<Household, sqlx::Error> {
    let count = |name: &str| -> Result<u32, sqlx::Error> {
        let value: i64 = row.try_get(name)?;
        u32::try_from(value).map_err(|_| decode_error(format!("{name} out of range: {value}")))
    };
    let region: String = row.try_get("region")?;
    Ok(Household {
        household_id: row.try_get("household_id")?,
        location: Location {
            region: region
                .parse()
                .map_err(|_| decode_error(format!("unknown region {region}")))?,
            cercle: row.try_get("cercle")?,
            commune: row.try_get("commune")?,
            village: row.try_get("village")?,
        },
        members,
        traits: Traits {
            roof: wire_enum::<RoofMaterial>(row.try_get("roof")?)?,
            wall: wire_enum::<WallMaterial>(row.try_get("wall")?)?,
            floor: wire_enum::<FloorMaterial>(row.try_get("floor")?)?,
            assets: Assets {
                radios: count("radios")?,
                televisions: count("televisions")?,
                mobile_phones: count("mobile_phones")?,
                bicycles: count("bicycles")?,
                motorcycles: count("motorcycles")?,
                carts: count("carts")?,
                ploughs: count("ploughs")?,
                solar_panels: count("solar_panels")?,
            },
            livestock: Livestock {
                cattle: count("cattle")?,
                sheep_goats: count("sheep_goats")?,
                donkeys: count("donkeys")?,
                horses: count("horses")?,
                camels: count("camels")?,
                poultry: count("poultry")?,
            },
            cultivated_land_ares: count("cultivated_land_ares")?,
        },
        pmt: PmtAssessment {
            score: row.try_get("pmt_score")?,
            threshold: row.try_get("pmt_threshold")?,
            eligible: row.try_get::<i64, _>("pmt_eligible")? != 0,
            weights_version: row.try_get("pmt_weights_version")?,
        },
        enrolments,
        status: {
            let code: String = row.try_get("status")?;
            HouseholdStatus::from_code(&code).ok_or_else(|| decode_error(format!("unknown status {code}")))?
        },
        version: row.try_get("version")?,
        registered_at: timestamp::parse(&row.try_get::<String, _>("registered_at")?)?,
        updated_at: timestamp::parse(&row.try_get::<String, _>("updated_at")?)?,
    })
}

fn member_from_row(row: &Row) -> Result<Member, sqlx::Error> {
    let text = |name: &str| row.try_get::<String, _>(name);
    Ok(Member {
        member_id: text("member_id")?,
        given_name: PersonName::parse(&text("given_name")?).map_err(decode_error)?,
        family_name: PersonName::parse(&text("family_name")?).map_err(decode_error)?,
        sex: wire_enum::<Sex>(row.try_get("sex")?)?,
        birth_date: date(text("birth_date")?)?,
        birth_date_estimated: row.try_get::<i64, _>("birth_date_estimated")? != 0,
        relation: wire_enum::<Relation>(row.try_get("relation")?)?,
        pregnant: row.try_get::<i64, _>("pregnant")? != 0,
        lactating: row.try_get::<i64, _>("lactating")? != 0,
        id_card: row
            .try_get::<Option<String>, _>("id_card_number")?
            .map(|c| IdCardNumber::parse(&c).map_err(decode_error))
            .transpose()?,
        phone: row
            .try_get::<Option<String>, _>("phone")?
            .map(|p| PhoneNumber::parse(&p).map_err(decode_error))
            .transpose()?,
        status: wire_enum::<MemberStatus>(row.try_get("status")?)?,
    })
}

fn enrolment_from_row(row: &Row) -> Result<Enrolment, sqlx::Error> {
    Ok(Enrolment {
        component: component(row.try_get("component")?)?,
        status: enrolment_status(row.try_get("status")?)?,
        enrolled_on: date(row.try_get("enrolled_on")?)?,
        exited_on: row.try_get::<Option<String>, _>("exited_on")?.map(date).transpose()?,
        exit_reason: row
            .try_get::<Option<i64>, _>("exit_reason")?
            .map(wire_enum::<ExitReason>)
            .transpose()?,
    })
}

fn enrolment_status_code(status: EnrolmentStatus) -> &'static str {
    match status {
        EnrolmentStatus::Enrolled => "enrolled",
        EnrolmentStatus::Exited => "exited",
    }
}

fn enrolment_status(code: String) -> Result<EnrolmentStatus, sqlx::Error> {
    match code.as_str() {
        "enrolled" => Ok(EnrolmentStatus::Enrolled),
        "exited" => Ok(EnrolmentStatus::Exited),
        _ => Err(decode_error(format!("unknown enrolment status {code}"))),
    }
}

fn component(code: String) -> Result<Component, sqlx::Error> {
    Component::from_code(&code).ok_or_else(|| decode_error(format!("unknown component {code}")))
}

fn date(text: String) -> Result<chrono::NaiveDate, sqlx::Error> {
    parse_date(&text).ok_or_else(|| decode_error(format!("bad stored date {text:?}")))
}

fn wire_enum<E: TryFrom<i32>>(value: i64) -> Result<E, sqlx::Error> {
    i32::try_from(value)
        .ok()
        .and_then(|v| E::try_from(v).ok())
        .ok_or_else(|| decode_error(format!("unknown stored enum value {value}")))
}

/// Stored data that breaks the registry's own rules: someone edited the database.
fn decode_error(message: impl Into<String>) -> sqlx::Error {
    sqlx::Error::Decode(message.into().into())
}
