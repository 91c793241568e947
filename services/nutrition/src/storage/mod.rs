//! The nutrition service's tables and queries, each function synchronous
//! on a [`Conn`](jigi_storage::Conn) of the write path or of a reader.
//!
//! - `registry_households`, `registry_members`: the projection of the
//!   registry's events (facts, not eligibility: eligibility depends on the
//!   date and is computed when asked). Each fact remembers the stream
//!   sequence of the event that set it, so an older event delivered late
//!   never overwrites a newer fact.
//! - `rounds`, `round_communes`: distribution rounds and their pilot communes.
//! - `warehouses`, `stock_lots`, `stock_movements`: the stock. Every change
//!   is a movement (receipt, transfer out/in, loss, distribution); a lot's
//!   `on_hand_grams` is the sum of its movements, kept in the same
//!   transaction, and the database refuses a negative balance (`CHECK`).
//! - `distributions`: one row per ration given; a person receives at most
//!   once per round (`UNIQUE (round_id, member_id)`).

pub mod distributions;
pub mod projection;
pub mod rounds;
pub mod stock;

use chrono::NaiveDate;
use jigi_common::Region;
use jigi_common::date::parse_date;
use jigi_storage::{Migration, StorageError};

/// Rows per multi-row `INSERT`: statements of a few fixed sizes, each
/// prepared once.
pub(crate) const ROWS_PER_INSERT: usize = 100;

/// The nutrition service's own tables (the host adds the shared ones).
/// The SQL is portable: both backends accept it as written.
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    "nutrition",
    1,
    "registry projection, rounds, warehouses, stock, distributions",
    "
    CREATE TABLE registry_households (
        household_id TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL,
        village TEXT NOT NULL,
        location_sequence BIGINT NOT NULL,
        pnp_enrolled_on TEXT,
        pnp_exited_on TEXT,
        enrolment_sequence BIGINT NOT NULL
    );
    CREATE INDEX registry_households_commune ON registry_households (commune, household_id);
    CREATE INDEX registry_households_cercle ON registry_households (cercle, household_id);
    CREATE TABLE registry_members (
        member_id TEXT PRIMARY KEY,
        household_id TEXT NOT NULL,
        sex BIGINT NOT NULL,
        birth_date TEXT NOT NULL,
        pregnant BIGINT NOT NULL,
        lactating BIGINT NOT NULL,
        present BIGINT NOT NULL,
        sequence BIGINT NOT NULL
    );
    CREATE INDEX registry_members_household ON registry_members (household_id, member_id);
    CREATE TABLE rounds (
        round_id TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        year BIGINT NOT NULL,
        number BIGINT NOT NULL,
        starts_on TEXT NOT NULL,
        ends_on TEXT NOT NULL,
        child_grams BIGINT NOT NULL,
        pregnant_woman_grams BIGINT NOT NULL,
        lactating_woman_grams BIGINT NOT NULL,
        status TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        closed_on TEXT,
        UNIQUE (year, number)
    );
    CREATE TABLE round_communes (
        round_id TEXT NOT NULL REFERENCES rounds (round_id),
        commune TEXT NOT NULL,
        cercle TEXT NOT NULL,
        PRIMARY KEY (round_id, commune)
    );
    CREATE TABLE warehouses (
        warehouse_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        region TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL,
        registered_at TEXT NOT NULL
    );
    CREATE INDEX warehouses_commune ON warehouses (commune, warehouse_id);
    CREATE TABLE stock_lots (
        warehouse_id TEXT NOT NULL REFERENCES warehouses (warehouse_id),
        lot_number TEXT NOT NULL,
        expires_on TEXT NOT NULL,
        on_hand_grams BIGINT NOT NULL CHECK (on_hand_grams >= 0),
        PRIMARY KEY (warehouse_id, lot_number)
    );
    CREATE TABLE stock_movements (
        movement_id TEXT PRIMARY KEY,
        warehouse_id TEXT NOT NULL,
        lot_number TEXT NOT NULL,
        kind TEXT NOT NULL,
        grams BIGINT NOT NULL,
        occurred_on TEXT NOT NULL,
        reference TEXT NOT NULL,
        reason TEXT,
        note TEXT,
        recorded_at TEXT NOT NULL
    );
    CREATE TABLE distributions (
        distribution_id TEXT PRIMARY KEY,
        round_id TEXT NOT NULL REFERENCES rounds (round_id),
        member_id TEXT NOT NULL,
        household_id TEXT NOT NULL,
        beneficiary_group TEXT NOT NULL,
        grams BIGINT NOT NULL,
        warehouse_id TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL,
        village TEXT NOT NULL,
        distributed_on TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        UNIQUE (round_id, member_id)
    );
    CREATE INDEX distributions_round_commune ON distributions (round_id, commune, beneficiary_group);
    ",
)];

/// Stored data that breaks the service's own rules: someone edited the database.
pub(crate) fn decode_error(message: impl Into<String>) -> StorageError {
    StorageError::Decode(message.into())
}

pub(crate) fn date(text: &str) -> Result<NaiveDate, StorageError> {
    parse_date(text).ok_or_else(|| decode_error(format!("bad stored date {text:?}")))
}

pub(crate) fn region(text: &str) -> Result<Region, StorageError> {
    text.parse().map_err(|_| decode_error(format!("unknown region {text}")))
}
