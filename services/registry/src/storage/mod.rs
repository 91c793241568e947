//! The registry's tables and queries.
//!
//! Households carry their traits and PMT result as columns (the filters use
//! them); members, enrolments and the status history are tables of their
//! own. Uniqueness rules that protect against double registration are
//! enforced by the database too (`head_key`, `id_card_number`), so even a
//! race between two imports cannot register a head twice.

mod codes;
mod households;
mod listing;
pub mod transfers;

pub use households::*;
pub use listing::{ListFilter, list_ids};

use jigi_storage::Migration;

/// The registry's own tables (the host adds the shared ones). The SQL is
/// portable: both backends accept it as written.
pub const MIGRATIONS: &[Migration] = &[
    Migration::portable(
        "registry",
        1,
        "households, members, enrolments, status history",
        "
    CREATE TABLE households (
        household_id TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL,
        village TEXT NOT NULL,
        roof BIGINT NOT NULL, wall BIGINT NOT NULL, floor BIGINT NOT NULL,
        radios BIGINT NOT NULL, televisions BIGINT NOT NULL, mobile_phones BIGINT NOT NULL,
        bicycles BIGINT NOT NULL, motorcycles BIGINT NOT NULL, carts BIGINT NOT NULL,
        ploughs BIGINT NOT NULL, solar_panels BIGINT NOT NULL,
        cattle BIGINT NOT NULL, sheep_goats BIGINT NOT NULL, donkeys BIGINT NOT NULL,
        horses BIGINT NOT NULL, camels BIGINT NOT NULL, poultry BIGINT NOT NULL,
        cultivated_land_ares BIGINT NOT NULL,
        pmt_score DOUBLE PRECISION NOT NULL,
        pmt_threshold DOUBLE PRECISION NOT NULL,
        pmt_eligible BIGINT NOT NULL,
        pmt_weights_version TEXT NOT NULL,
        status TEXT NOT NULL,
        version BIGINT NOT NULL,
        registered_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        head_key TEXT NOT NULL UNIQUE
    );
    CREATE INDEX households_commune ON households (commune, household_id);
    CREATE INDEX households_village ON households (village, household_id);
    CREATE INDEX households_cercle ON households (cercle, household_id);
    CREATE INDEX households_status ON households (status, household_id);
    CREATE TABLE members (
        member_id TEXT PRIMARY KEY,
        household_id TEXT NOT NULL REFERENCES households (household_id),
        position BIGINT NOT NULL,
        given_name TEXT NOT NULL,
        family_name TEXT NOT NULL,
        sex BIGINT NOT NULL,
        birth_date TEXT NOT NULL,
        birth_date_estimated BIGINT NOT NULL,
        relation BIGINT NOT NULL,
        pregnant BIGINT NOT NULL,
        lactating BIGINT NOT NULL,
        id_card_number TEXT UNIQUE,
        phone TEXT,
        status BIGINT NOT NULL
    );
    CREATE INDEX members_household ON members (household_id, position);
    CREATE TABLE enrolments (
        household_id TEXT NOT NULL REFERENCES households (household_id),
        component TEXT NOT NULL,
        status TEXT NOT NULL,
        enrolled_on TEXT NOT NULL,
        exited_on TEXT,
        exit_reason BIGINT,
        PRIMARY KEY (household_id, component)
    );
    CREATE INDEX enrolments_component ON enrolments (component, status, household_id);
    CREATE TABLE status_history (
        household_id TEXT NOT NULL REFERENCES households (household_id),
        component TEXT NOT NULL,
        status TEXT NOT NULL,
        effective_on TEXT NOT NULL,
        exit_reason BIGINT,
        note TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    );
    CREATE INDEX status_history_household ON status_history (household_id, recorded_at);
    ",
    ),
    // A rotation of the linkage keys re-keys every household in batches;
    // this row says how far it got, so a restart resumes it.
    Migration::portable(
        "registry",
        2,
        "progress of recomputing match keys per set of linkage keys",
        "CREATE TABLE linkage_rekeys (
            key_set TEXT PRIMARY KEY,
            cursor TEXT NOT NULL,
            done BIGINT NOT NULL
        );",
    ),
];
