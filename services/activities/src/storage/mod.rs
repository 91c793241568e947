//! The activities service's tables and queries, each function synchronous
//! on a [`Conn`](jigi_storage::Conn) of the write path or of a reader.
//!
//! - `registry_households`, `registry_enrolments`, `registry_members`: the
//!   projection of the registry's events (locations, MA/AGR/HIMO enrolments,
//!   each member's sex, birth date and presence). Each fact remembers the
//!   stream sequence of the event that set it, so an older event delivered
//!   late never overwrites a newer fact.
//! - `ma_sessions`, `ma_attendance`: sessions and who attended (a person is
//!   counted once per session).
//! - `agr_plans`, `agr_tranches`, `agr_visits`: one plan per household, its
//!   tranches (numbered, `UNIQUE (household_id, number)`), one visit per month.
//! - `himo_sites`, `himo_workers` (one worker per household: the primary
//!   key), `himo_attendance` (one row per worker per day, with the wage that
//!   day earned, so a quarter's wages are a sum and the cap a comparison),
//!   `himo_wage_periods` and `himo_wages` (the wage sheets, fixed once closed).

pub mod agr;
pub mod himo;
pub mod ma;
pub mod registry;

use chrono::NaiveDate;
use jigi_common::Region;
use jigi_common::date::parse_date;
use jigi_storage::{Migration, StorageError};

/// The activities service's own tables (the host adds the shared ones).
/// The SQL is portable: both backends accept it as written.
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    "activities",
    1,
    "registry projection, MA sessions, AGR plans, HIMO sites, attendance and wages",
    "
    CREATE TABLE registry_households (
        household_id TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL,
        village TEXT NOT NULL,
        sequence BIGINT NOT NULL
    );
    CREATE INDEX registry_households_commune ON registry_households (commune, household_id);
    CREATE TABLE registry_enrolments (
        household_id TEXT NOT NULL,
        component TEXT NOT NULL,
        enrolled_on TEXT NOT NULL,
        exited_on TEXT,
        sequence BIGINT NOT NULL,
        PRIMARY KEY (household_id, component)
    );
    CREATE TABLE registry_members (
        member_id TEXT PRIMARY KEY,
        household_id TEXT NOT NULL,
        sex BIGINT NOT NULL,
        birth_date TEXT NOT NULL,
        present BIGINT NOT NULL,
        sequence BIGINT NOT NULL
    );
    CREATE TABLE ma_sessions (
        session_id TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL,
        village TEXT NOT NULL,
        theme TEXT NOT NULL,
        held_on TEXT NOT NULL,
        facilitator TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    );
    CREATE INDEX ma_sessions_commune ON ma_sessions (commune, held_on);
    CREATE TABLE ma_attendance (
        session_id TEXT NOT NULL REFERENCES ma_sessions (session_id),
        member_id TEXT NOT NULL,
        household_id TEXT NOT NULL,
        sex BIGINT NOT NULL,
        age_group BIGINT NOT NULL,
        PRIMARY KEY (session_id, member_id)
    );
    CREATE INDEX ma_attendance_household ON ma_attendance (household_id, session_id);
    CREATE TABLE agr_plans (
        household_id TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL,
        village TEXT NOT NULL,
        activity_type TEXT NOT NULL,
        planned_grant BIGINT NOT NULL CHECK (planned_grant > 0),
        approved_on TEXT NOT NULL
    );
    CREATE TABLE agr_tranches (
        tranche_id TEXT PRIMARY KEY,
        household_id TEXT NOT NULL REFERENCES agr_plans (household_id),
        number BIGINT NOT NULL,
        amount BIGINT NOT NULL CHECK (amount > 0),
        released_on TEXT NOT NULL,
        UNIQUE (household_id, number)
    );
    CREATE TABLE agr_visits (
        household_id TEXT NOT NULL REFERENCES agr_plans (household_id),
        month BIGINT NOT NULL,
        visited_on TEXT NOT NULL,
        stop_reason TEXT,
        PRIMARY KEY (household_id, month)
    );
    CREATE TABLE himo_sites (
        site_id TEXT PRIMARY KEY,
        site_type TEXT NOT NULL,
        region TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL,
        status TEXT NOT NULL,
        planned_start TEXT NOT NULL,
        validated_on TEXT,
        started_on TEXT,
        closed_on TEXT,
        planned_person_days BIGINT NOT NULL,
        daily_wage BIGINT NOT NULL CHECK (daily_wage > 0)
    );
    CREATE TABLE himo_workers (
        household_id TEXT PRIMARY KEY,
        member_id TEXT NOT NULL UNIQUE,
        site_id TEXT NOT NULL REFERENCES himo_sites (site_id),
        assigned_on TEXT NOT NULL
    );
    CREATE INDEX himo_workers_site ON himo_workers (site_id, member_id);
    CREATE TABLE himo_attendance (
        member_id TEXT NOT NULL,
        worked_on TEXT NOT NULL,
        household_id TEXT NOT NULL,
        site_id TEXT NOT NULL REFERENCES himo_sites (site_id),
        period TEXT NOT NULL,
        wage BIGINT NOT NULL CHECK (wage > 0),
        PRIMARY KEY (member_id, worked_on)
    );
    CREATE INDEX himo_attendance_household ON himo_attendance (household_id, period);
    CREATE INDEX himo_attendance_site ON himo_attendance (site_id, period, household_id);
    CREATE TABLE himo_wage_periods (
        site_id TEXT NOT NULL REFERENCES himo_sites (site_id),
        period TEXT NOT NULL,
        closed_at TEXT NOT NULL,
        PRIMARY KEY (site_id, period)
    );
    CREATE TABLE himo_wages (
        site_id TEXT NOT NULL,
        period TEXT NOT NULL,
        household_id TEXT NOT NULL,
        days BIGINT NOT NULL,
        amount BIGINT NOT NULL,
        PRIMARY KEY (site_id, period, household_id)
    );
    ",
)];

/// Stored data that breaks the service's own rules: someone edited the database.
pub(crate) fn decode_error(message: impl Into<String>) -> StorageError {
    StorageError::Decode(message.into())
}

pub(crate) fn date(text: &str) -> Result<NaiveDate, StorageError> {
    parse_date(text).ok_or_else(|| decode_error(format!("bad stored date {text:?}")))
}

pub(crate) fn optional_date(text: Option<String>) -> Result<Option<NaiveDate>, StorageError> {
    text.as_deref().map(date).transpose()
}

pub(crate) fn region(text: &str) -> Result<Region, StorageError> {
    text.parse().map_err(|_| decode_error(format!("unknown region {text}")))
}
