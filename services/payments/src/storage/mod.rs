//! The payments service's tables and queries.
//!
//! - `tm_households`: the projection of households enrolled in TM, fed by
//!   the registry's events through the inbox;
//! - `payment_cycles` with their communes (`cycle_communes`), agents
//!   (`cycle_agents`) and frozen totals per commune (`cycle_commune_totals`);
//! - `entitlements`: the frozen list, one row per household and cycle,
//!   copied from the projection in one `INSERT … SELECT` at freeze;
//! - `payments`: one row per payment made; its primary key (cycle,
//!   household) makes a second payment of a household in a cycle impossible
//!   even if the rules above it had a bug, and a unique index keeps a
//!   receipt reference to one payment per agent and cycle;
//! - `payment_attempts`: every failed or uncollected report, kept;
//! - `activity_entitlements`: what the activities service's events say is
//!   owed (AGR grant tranches, HIMO wages), one row per kind, quarter and
//!   household, copied into an AGR_GRANT or HIMO_WAGES cycle's entitlements
//!   at freeze as `tm_households` is into a TM cycle's.
//!
//! The large tables (`entitlements`, `payments`) have no foreign keys: their
//! rows are written only by the commands that hold the cycle, and checking a
//! key per row would slow a million-row freeze for nothing.

mod activities;
mod cycles;
mod entitlements;
pub mod holds;
mod projection;
mod results;
pub mod transfers;

pub use activities::*;
pub use cycles::*;
pub use entitlements::*;
pub use projection::*;
pub use results::*;

use jigi_storage::Migration;

/// The payments service's own tables (the host adds the shared ones). The
/// SQL is portable: both backends accept it as written.
pub const MIGRATIONS: &[Migration] = &[
    Migration::portable(
    "payments",
    1,
    "TM projection, payment cycles, entitlements, payments",
    "
    CREATE TABLE tm_households (
        household_id TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL,
        village TEXT NOT NULL,
        enrolled BIGINT NOT NULL,
        enrolled_on TEXT NOT NULL,
        exited_on TEXT,
        status_at TEXT NOT NULL,
        location_at TEXT NOT NULL
    );
    CREATE INDEX tm_households_enrolled ON tm_households (enrolled, commune, household_id);
    CREATE TABLE payment_cycles (
        cycle_id TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        period TEXT NOT NULL,
        funding_source TEXT NOT NULL,
        amount_per_household BIGINT NOT NULL,
        status TEXT NOT NULL,
        frozen_count BIGINT NOT NULL,
        frozen_amount BIGINT NOT NULL,
        control_count BIGINT NOT NULL,
        control_amount BIGINT NOT NULL,
        paid_count BIGINT NOT NULL,
        paid_amount BIGINT NOT NULL,
        prepared_by TEXT NOT NULL,
        frozen_by TEXT,
        approved_by TEXT,
        ended_by TEXT,
        cancel_reason TEXT,
        opened_at TEXT NOT NULL,
        frozen_at TEXT,
        approved_at TEXT,
        ended_at TEXT
    );
    CREATE UNIQUE INDEX payment_cycles_live ON payment_cycles (period, funding_source) WHERE status <> 'cancelled';
    CREATE INDEX payment_cycles_period ON payment_cycles (period, status);
    CREATE TABLE cycle_communes (
        cycle_id TEXT NOT NULL REFERENCES payment_cycles (cycle_id),
        commune TEXT NOT NULL,
        PRIMARY KEY (cycle_id, commune)
    );
    CREATE TABLE cycle_agents (
        cycle_id TEXT NOT NULL REFERENCES payment_cycles (cycle_id),
        commune TEXT NOT NULL,
        agent_code TEXT NOT NULL,
        channel TEXT NOT NULL,
        assigned_by TEXT NOT NULL,
        assigned_at TEXT NOT NULL,
        PRIMARY KEY (cycle_id, commune)
    );
    CREATE TABLE cycle_commune_totals (
        cycle_id TEXT NOT NULL REFERENCES payment_cycles (cycle_id),
        region TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL,
        households BIGINT NOT NULL,
        amount BIGINT NOT NULL,
        PRIMARY KEY (cycle_id, commune)
    );
    CREATE TABLE entitlements (
        cycle_id TEXT NOT NULL,
        household_id TEXT NOT NULL,
        region TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL,
        village TEXT NOT NULL,
        amount BIGINT NOT NULL,
        status TEXT NOT NULL,
        result_date TEXT,
        failure_reason TEXT,
        PRIMARY KEY (cycle_id, household_id)
    );
    CREATE INDEX entitlements_commune ON entitlements (cycle_id, commune, household_id);
    CREATE INDEX entitlements_household ON entitlements (household_id);
    CREATE TABLE payments (
        cycle_id TEXT NOT NULL,
        household_id TEXT NOT NULL,
        amount BIGINT NOT NULL,
        paid_on TEXT NOT NULL,
        agent_code TEXT NOT NULL,
        receipt_reference TEXT NOT NULL,
        request_id TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (cycle_id, household_id)
    );
    CREATE UNIQUE INDEX payments_receipt ON payments (cycle_id, agent_code, receipt_reference);
    CREATE TABLE payment_attempts (
        cycle_id TEXT NOT NULL,
        household_id TEXT NOT NULL,
        outcome TEXT NOT NULL,
        failure_reason TEXT,
        attempted_on TEXT NOT NULL,
        agent_code TEXT NOT NULL,
        request_id TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    );
    CREATE INDEX payment_attempts_household ON payment_attempts (cycle_id, household_id);
    ",
    ),
    Migration::portable(
        "payments",
        2,
        "cycle kinds (TM, AGR grants, HIMO wages) and the entitlements the activities service publishes",
        "
    ALTER TABLE payment_cycles ADD COLUMN kind TEXT NOT NULL DEFAULT 'tm';
    DROP INDEX payment_cycles_live;
    CREATE UNIQUE INDEX payment_cycles_live ON payment_cycles (kind, period, funding_source) WHERE status <> 'cancelled';
    CREATE TABLE activity_entitlements (
        kind TEXT NOT NULL,
        period TEXT NOT NULL,
        household_id TEXT NOT NULL,
        reference TEXT NOT NULL,
        region TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL,
        village TEXT NOT NULL,
        amount BIGINT NOT NULL CHECK (amount > 0),
        PRIMARY KEY (kind, period, household_id)
    );
    ",
    ),
];
