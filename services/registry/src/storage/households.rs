//! Reading and writing households, members, enrolments and their history.

use std::collections::HashMap;

use jigi_common::date::{format_date, parse_date};
use jigi_common::{Component, Sex};
use jigi_storage::sql::{self, Placeholders};
use jigi_storage::{Conn, Row, StorageError, ToSql, params, timestamp};

use super::codes::Stored;
use crate::domain::model::{
    Assets, Enrolment, EnrolmentStatus, ExitReason, FloorMaterial, Household, HouseholdStatus, IdCardNumber, Livestock,
    Location, Member, MemberStatus, PersonName, PhoneNumber, PmtAssessment, Relation, RoofMaterial, StatusChange,
    Traits, WallMaterial,
};

const HOUSEHOLD_COLUMNS: &str = "household_id, region, cercle, commune, village, roof, wall, floor, \
    radios, televisions, mobile_phones, bicycles, motorcycles, carts, ploughs, solar_panels, \
    cattle, sheep_goats, donkeys, horses, camels, poultry, cultivated_land_ares, \
    pmt_score, pmt_threshold, pmt_eligible, pmt_weights_version, status, version, registered_at, updated_at, head_key";
const HOUSEHOLD_COLUMN_COUNT: usize = 32;

const MEMBER_COLUMNS: &str = "member_id, household_id, position, given_name, family_name, sex, birth_date, \
    birth_date_estimated, relation, pregnant, lactating, id_card_number, phone, status";
const MEMBER_COLUMN_COUNT: usize = 14;

/// The read cache of whole households ([`jigi_storage::Cache`]): every
/// function here that writes a household, its members or its enrolments
/// names the household as changed, so that no caller of a command that
/// changed it is answered before the cache has let it go.
pub const HOUSEHOLD_CACHE: &str = "households";

/// Rows per multi-row `INSERT`; a batch's remainder goes in powers of two
/// ([`sql::chunks`]), so each statement comes in a few shapes, each
/// prepared once, however many members a batch's households have.
const ROWS_PER_INSERT: usize = 50;

/// Stores new households with their members. `head_keys[i]` is the
/// duplicate-detection key of `households[i]`'s head.
pub fn insert(conn: &mut Conn, households: &[(Household, String)]) -> Result<(), StorageError> {
    for (household, _) in households {
        // None is cached yet (absence is never cached); a transfer can
        // bring back an ID read before, so say it all the same.
        conn.changed(HOUSEHOLD_CACHE, household.household_id.as_str());
    }
    for chunk in sql::chunks(households, ROWS_PER_INSERT) {
        let statement = format!(
            "INSERT INTO households ({HOUSEHOLD_COLUMNS}) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), HOUSEHOLD_COLUMN_COUNT)
        );
        let rows: Vec<HouseholdRow<'_>> = chunk
            .iter()
            .map(|(household, head_key)| HouseholdRow::new(household, head_key))
            .collect();
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * HOUSEHOLD_COLUMN_COUNT);
        for row in &rows {
            values.push(&row.household.household_id);
            row.state(&mut values);
            values.extend([&row.registered_at as &dyn ToSql, &row.updated_at, &row.head_key]);
        }
        conn.pipeline(&statement, &values)?;
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
    insert_members(conn, &members)
}

/// A household's columns as stored values, borrowed for one statement.
struct HouseholdRow<'a> {
    household: &'a Household,
    region: &'static str,
    counts: [i64; 18],
    registered_at: String,
    updated_at: String,
    head_key: &'a str,
}

impl<'a> HouseholdRow<'a> {
    fn new(household: &'a Household, head_key: &'a str) -> HouseholdRow<'a> {
        let t = &household.traits;
        let (a, l) = (&t.assets, &t.livestock);
        HouseholdRow {
            household,
            region: household.location.region.slug(),
            counts: [
                t.roof.stored(),
                t.wall.stored(),
                t.floor.stored(),
                a.radios.into(),
                a.televisions.into(),
                a.mobile_phones.into(),
                a.bicycles.into(),
                a.motorcycles.into(),
                a.carts.into(),
                a.ploughs.into(),
                a.solar_panels.into(),
                l.cattle.into(),
                l.sheep_goats.into(),
                l.donkeys.into(),
                l.horses.into(),
                l.camels.into(),
                l.poultry.into(),
                t.cultivated_land_ares.into(),
            ],
            registered_at: timestamp::format(household.registered_at),
            updated_at: timestamp::format(household.updated_at),
            head_key,
        }
    }

    /// The 28 columns from `region` to `version`, in that order: what an
    /// insert and an update of a household both write.
    fn state<'s>(&'s self, values: &mut Vec<&'s dyn ToSql>) {
        let h = self.household;
        values.extend([
            &self.region as &dyn ToSql,
            &h.location.cercle,
            &h.location.commune,
            &h.location.village,
        ]);
        values.extend(self.counts.iter().map(|count| count as &dyn ToSql));
        values.extend([
            &h.pmt.score as &dyn ToSql,
            &h.pmt.threshold,
            &h.pmt.eligible,
            &h.pmt.weights_version,
            &STATUS_CODES[h.status as usize],
            &h.version,
        ]);
    }
}

/// Household statuses as stored, by the enum's order.
const STATUS_CODES: [&str; 3] = ["registered", "enrolled", "exited"];

fn insert_members(conn: &mut Conn, members: &[(&str, usize, &Member)]) -> Result<(), StorageError> {
    for chunk in sql::chunks(members, ROWS_PER_INSERT) {
        let statement = format!(
            "INSERT INTO members ({MEMBER_COLUMNS}) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), MEMBER_COLUMN_COUNT)
        );
        let rows: Vec<MemberRow<'_>> = chunk
            .iter()
            .map(|(household_id, position, member)| MemberRow::new(household_id, *position, member))
            .collect();
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * MEMBER_COLUMN_COUNT);
        for row in &rows {
            let m = row.member;
            values.extend([
                &m.member_id as &dyn ToSql,
                &row.household_id,
                &row.position,
                &row.given_name,
                &row.family_name,
                &row.sex,
                &row.birth_date,
                &m.birth_date_estimated,
                &row.relation,
                &m.pregnant,
                &m.lactating,
                &row.id_card,
                &row.phone,
                &row.status,
            ]);
        }
        conn.pipeline(&statement, &values)?;
    }
    Ok(())
}

/// A member's columns as stored values.
struct MemberRow<'a> {
    household_id: &'a str,
    position: i64,
    member: &'a Member,
    given_name: &'a str,
    family_name: &'a str,
    sex: i64,
    birth_date: String,
    relation: i64,
    id_card: Option<&'a str>,
    phone: Option<&'a str>,
    status: i64,
}

impl<'a> MemberRow<'a> {
    fn new(household_id: &'a str, position: usize, member: &'a Member) -> MemberRow<'a> {
        MemberRow {
            household_id,
            position: position as i64,
            member,
            given_name: member.given_name.as_str(),
            family_name: member.family_name.as_str(),
            sex: member.sex.stored(),
            birth_date: format_date(member.birth_date),
            relation: member.relation.stored(),
            id_card: member.id_card.as_ref().map(IdCardNumber::as_str),
            phone: member.phone.as_ref().map(PhoneNumber::as_str),
            status: member.status.stored(),
        }
    }
}

/// Adds one member at the end of a household's list.
pub fn insert_member(
    conn: &mut Conn,
    household_id: &str,
    position: usize,
    member: &Member,
) -> Result<(), StorageError> {
    conn.changed(HOUSEHOLD_CACHE, household_id);
    insert_members(conn, &[(household_id, position, member)])
}

/// Rewrites a member's data (a member of `household_id`).
pub fn update_member(conn: &mut Conn, household_id: &str, member: &Member) -> Result<(), StorageError> {
    conn.changed(HOUSEHOLD_CACHE, household_id);
    let row = MemberRow::new("", 0, member);
    conn.pipeline(
        "UPDATE members SET given_name = $1, family_name = $2, birth_date = $3, birth_date_estimated = $4, \
         pregnant = $5, lactating = $6, id_card_number = $7, phone = $8, status = $9 WHERE member_id = $10",
        params![
            member.given_name.as_str(),
            member.family_name.as_str(),
            row.birth_date,
            member.birth_date_estimated,
            member.pregnant,
            member.lactating,
            row.id_card,
            row.phone,
            row.status,
            member.member_id
        ],
    )?;
    Ok(())
}

/// Rewrites a household's own row (not its members).
pub fn update_household(conn: &mut Conn, household: &Household, head_key: &str) -> Result<(), StorageError> {
    conn.changed(HOUSEHOLD_CACHE, household.household_id.as_str());
    let row = HouseholdRow::new(household, head_key);
    let mut values: Vec<&dyn ToSql> = Vec::with_capacity(31);
    row.state(&mut values);
    values.extend([&row.updated_at as &dyn ToSql, &row.head_key, &household.household_id]);
    conn.pipeline(
        "UPDATE households SET region = $1, cercle = $2, commune = $3, village = $4, roof = $5, wall = $6, floor = $7, \
         radios = $8, televisions = $9, mobile_phones = $10, bicycles = $11, motorcycles = $12, carts = $13, \
         ploughs = $14, solar_panels = $15, cattle = $16, sheep_goats = $17, donkeys = $18, horses = $19, \
         camels = $20, poultry = $21, cultivated_land_ares = $22, pmt_score = $23, pmt_threshold = $24, \
         pmt_eligible = $25, pmt_weights_version = $26, status = $27, version = $28, updated_at = $29, head_key = $30 \
         WHERE household_id = $31",
        &values,
    )?;
    Ok(())
}

/// Records a household's participation in a component (insert or replace).
pub fn save_enrolment(conn: &mut Conn, household_id: &str, enrolment: &Enrolment) -> Result<(), StorageError> {
    conn.changed(HOUSEHOLD_CACHE, household_id);
    conn.pipeline(
        "INSERT INTO enrolments (household_id, component, status, enrolled_on, exited_on, exit_reason) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (household_id, component) DO UPDATE SET status = $3, enrolled_on = $4, exited_on = $5, exit_reason = $6",
        params![
            household_id,
            enrolment.component.code(),
            enrolment_status_code(enrolment.status),
            format_date(enrolment.enrolled_on),
            enrolment.exited_on.map(format_date),
            enrolment.exit_reason.map(ExitReason::stored)
        ],
    )?;
    Ok(())
}

/// Appends to a household's status history.
pub fn add_history(conn: &mut Conn, household_id: &str, change: &StatusChange) -> Result<(), StorageError> {
    conn.pipeline(
        "INSERT INTO status_history (household_id, component, status, effective_on, exit_reason, note, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        params![
            household_id,
            change.component.code(),
            enrolment_status_code(change.status),
            format_date(change.effective_on),
            change.exit_reason.map(ExitReason::stored),
            change.note,
            timestamp::format(change.recorded_at)
        ],
    )?;
    Ok(())
}

/// A household's status history, oldest first.
pub fn history(conn: &mut Conn, household_id: &str) -> Result<Vec<StatusChange>, StorageError> {
    let rows = conn.query(
        "SELECT component, status, effective_on, exit_reason, note, recorded_at FROM status_history \
         WHERE household_id = $1 ORDER BY recorded_at",
        params![household_id],
    )?;
    rows.iter()
        .map(|row| {
            Ok(StatusChange {
                component: component(row.get("component")?)?,
                status: enrolment_status(row.get("status")?)?,
                effective_on: date(row.get("effective_on")?)?,
                exit_reason: row
                    .get::<Option<i64>>("exit_reason")?
                    .map(stored_enum::<ExitReason>)
                    .transpose()?,
                note: row.get("note")?,
                recorded_at: row.get("recorded_at")?,
            })
        })
        .collect()
}

/// Whether a household exists.
pub fn exists(conn: &mut Conn, household_id: &str) -> Result<bool, StorageError> {
    Ok(conn
        .query_opt(
            "SELECT 1 FROM households WHERE household_id = $1",
            params![household_id],
        )?
        .is_some())
}

/// The member holding an ID-card number, and their household.
pub fn id_card_holder(conn: &mut Conn, card: &IdCardNumber) -> Result<Option<(String, String)>, StorageError> {
    conn.query_opt(
        "SELECT member_id, household_id FROM members WHERE id_card_number = $1",
        params![card.as_str()],
    )?
    .map(|row| Ok((row.get(0)?, row.get(1)?)))
    .transpose()
}

/// Which of these head keys are taken, and by which household.
pub fn households_by_head_key(conn: &mut Conn, keys: &[String]) -> Result<HashMap<String, String>, StorageError> {
    lookup(
        conn,
        "SELECT head_key, household_id FROM households WHERE head_key IN",
        keys,
    )
}

/// Which of these ID-card numbers are registered, and in which household.
pub fn households_by_id_card(conn: &mut Conn, cards: &[String]) -> Result<HashMap<String, String>, StorageError> {
    lookup(
        conn,
        "SELECT id_card_number, household_id FROM members WHERE id_card_number IN",
        cards,
    )
}

fn lookup(conn: &mut Conn, select: &str, keys: &[String]) -> Result<HashMap<String, String>, StorageError> {
    let mut found = HashMap::new();
    for chunk in keys.chunks(sql::MAX_BINDS) {
        let statement = format!("{select} ({})", Placeholders::for_connection(conn).list(chunk.len()));
        let values: Vec<&dyn ToSql> = chunk.iter().map(|key| key as &dyn ToSql).collect();
        conn.query_each(&statement, &values, |row| {
            found.insert(row.get(0)?, row.get(1)?);
            Ok(())
        })?;
    }
    Ok(found)
}

/// One household with its members and enrolments.
pub fn load(conn: &mut Conn, household_id: &str) -> Result<Option<Household>, StorageError> {
    Ok(load_many(conn, &[household_id.to_owned()])?.pop())
}

/// Households with their members and enrolments, in the order of `ids`
/// (unknown IDs are left out).
pub fn load_many(conn: &mut Conn, ids: &[String]) -> Result<Vec<Household>, StorageError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = Placeholders::for_connection(conn).list(ids.len());
    let values: Vec<&dyn ToSql> = ids.iter().map(|id| id as &dyn ToSql).collect();
    let household_rows = conn.query(
        &format!("SELECT {HOUSEHOLD_COLUMNS} FROM households WHERE household_id IN ({placeholders})"),
        &values,
    )?;
    let member_rows = conn.query(
        &format!(
            "SELECT {MEMBER_COLUMNS} FROM members WHERE household_id IN ({placeholders}) ORDER BY household_id, position"
        ),
        &values,
    )?;
    let enrolment_rows = conn.query(
        &format!(
            "SELECT household_id, component, status, enrolled_on, exited_on, exit_reason FROM enrolments \
             WHERE household_id IN ({placeholders}) ORDER BY household_id, component"
        ),
        &values,
    )?;

    let mut members: HashMap<String, Vec<Member>> = HashMap::new();
    for row in &member_rows {
        members
            .entry(row.get("household_id")?)
            .or_default()
            .push(member_from_row(row)?);
    }
    let mut enrolments: HashMap<String, Vec<Enrolment>> = HashMap::new();
    for row in &enrolment_rows {
        enrolments
            .entry(row.get("household_id")?)
            .or_default()
            .push(enrolment_from_row(row)?);
    }
    let mut households: HashMap<String, Household> = HashMap::new();
    for row in &household_rows {
        let id: String = row.get("household_id")?;
        let household = household_from_row(
            row,
            members.remove(&id).unwrap_or_default(),
            enrolments.remove(&id).unwrap_or_default(),
        )?;
        households.insert(id, household);
    }
    Ok(ids.iter().filter_map(|id| households.remove(id)).collect())
}

fn household_from_row(row: &Row, members: Vec<Member>, enrolments: Vec<Enrolment>) -> Result<Household, StorageError> {
    let count = |name: &str| -> Result<u32, StorageError> { row.get(name) };
    let region: String = row.get("region")?;
    Ok(Household {
        household_id: row.get("household_id")?,
        location: Location {
            region: region
                .parse()
                .map_err(|_| decode_error(format!("unknown region {region}")))?,
            cercle: row.get("cercle")?,
            commune: row.get("commune")?,
            village: row.get("village")?,
        },
        members,
        traits: Traits {
            roof: stored_enum::<RoofMaterial>(row.get("roof")?)?,
            wall: stored_enum::<WallMaterial>(row.get("wall")?)?,
            floor: stored_enum::<FloorMaterial>(row.get("floor")?)?,
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
            score: row.get("pmt_score")?,
            threshold: row.get("pmt_threshold")?,
            eligible: row.get("pmt_eligible")?,
            weights_version: row.get("pmt_weights_version")?,
        },
        enrolments,
        status: {
            let code: String = row.get("status")?;
            HouseholdStatus::from_code(&code).ok_or_else(|| decode_error(format!("unknown status {code}")))?
        },
        version: row.get("version")?,
        registered_at: row.get("registered_at")?,
        updated_at: row.get("updated_at")?,
    })
}

fn member_from_row(row: &Row) -> Result<Member, StorageError> {
    let text = |name: &str| row.get::<String>(name);
    Ok(Member {
        member_id: text("member_id")?,
        given_name: PersonName::parse(&text("given_name")?).map_err(decode_error)?,
        family_name: PersonName::parse(&text("family_name")?).map_err(decode_error)?,
        sex: stored_enum::<Sex>(row.get("sex")?)?,
        birth_date: date(text("birth_date")?)?,
        birth_date_estimated: row.get("birth_date_estimated")?,
        relation: stored_enum::<Relation>(row.get("relation")?)?,
        pregnant: row.get("pregnant")?,
        lactating: row.get("lactating")?,
        id_card: row
            .get::<Option<String>>("id_card_number")?
            .map(|c| IdCardNumber::parse(&c).map_err(decode_error))
            .transpose()?,
        phone: row
            .get::<Option<String>>("phone")?
            .map(|p| PhoneNumber::parse(&p).map_err(decode_error))
            .transpose()?,
        status: stored_enum::<MemberStatus>(row.get("status")?)?,
    })
}

fn enrolment_from_row(row: &Row) -> Result<Enrolment, StorageError> {
    Ok(Enrolment {
        component: component(row.get("component")?)?,
        status: enrolment_status(row.get("status")?)?,
        enrolled_on: date(row.get("enrolled_on")?)?,
        exited_on: row.get::<Option<String>>("exited_on")?.map(date).transpose()?,
        exit_reason: row
            .get::<Option<i64>>("exit_reason")?
            .map(stored_enum::<ExitReason>)
            .transpose()?,
    })
}

fn enrolment_status_code(status: EnrolmentStatus) -> &'static str {
    match status {
        EnrolmentStatus::Enrolled => "enrolled",
        EnrolmentStatus::Exited => "exited",
    }
}

fn enrolment_status(code: String) -> Result<EnrolmentStatus, StorageError> {
    match code.as_str() {
        "enrolled" => Ok(EnrolmentStatus::Enrolled),
        "exited" => Ok(EnrolmentStatus::Exited),
        _ => Err(decode_error(format!("unknown enrolment status {code}"))),
    }
}

fn component(code: String) -> Result<Component, StorageError> {
    Component::from_code(&code).ok_or_else(|| decode_error(format!("unknown component {code}")))
}

fn date(text: String) -> Result<chrono::NaiveDate, StorageError> {
    parse_date(&text).ok_or_else(|| decode_error(format!("bad stored date {text:?}")))
}

fn stored_enum<E: Stored>(value: i64) -> Result<E, StorageError> {
    E::from_stored(value).ok_or_else(|| decode_error(format!("unknown stored enum value {value}")))
}

/// Stored data that breaks the registry's own rules: someone edited the database.
fn decode_error(message: impl Into<String>) -> StorageError {
    StorageError::Decode(message.into())
}
