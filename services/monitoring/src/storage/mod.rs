//! The monitoring's tables: facts drawn from events (one row per event that
//! matters, keyed by the event ID, so a repeat changes nothing even outside
//! the inbox), the budget the national team enters, and each region's
//! activity. Indicators are computed from the facts when asked, by the
//! facts' own dates, so an event arriving late counts in its own period and
//! a rebuild from the stream gives the same numbers.

pub mod budget;
pub mod facts;
pub mod indicators;

use jigi_storage::Migration;

/// Every migration the monitoring's database needs.
pub fn migrations() -> Vec<Migration> {
    [
        jigi_bus::inbox::MIGRATIONS,
        jigi_storage::idempotency::MIGRATIONS,
        jigi_audit::MIGRATIONS,
        MONITORING,
    ]
    .concat()
}

const MONITORING: &[Migration] = &[Migration::portable(
    "monitoring",
    1,
    "facts, budget, region activity",
    "
    CREATE TABLE facts_households (
        household_id TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL,
        registered_on TEXT NOT NULL
    );
    CREATE INDEX facts_households_registered ON facts_households (registered_on);
    CREATE TABLE facts_enrolment_events (
        event_id TEXT PRIMARY KEY,
        household_id TEXT NOT NULL,
        component TEXT NOT NULL,
        kind TEXT NOT NULL,
        effective_on TEXT NOT NULL,
        event_time TEXT NOT NULL,
        region TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL
    );
    CREATE INDEX facts_enrolment_household ON facts_enrolment_events (household_id, component);
    CREATE INDEX facts_enrolment_effective ON facts_enrolment_events (effective_on);
    CREATE TABLE facts_payments (
        event_id TEXT PRIMARY KEY,
        cycle_id TEXT NOT NULL,
        household_id TEXT NOT NULL,
        region TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL,
        period TEXT NOT NULL,
        funding_source BIGINT NOT NULL,
        outcome TEXT NOT NULL,
        amount BIGINT NOT NULL,
        occurred_on TEXT NOT NULL
    );
    CREATE INDEX facts_payments_occurred ON facts_payments (occurred_on);
    CREATE INDEX facts_payments_cycle ON facts_payments (cycle_id);
    CREATE TABLE facts_cycles (
        cycle_id TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        period TEXT NOT NULL,
        funding_source BIGINT NOT NULL,
        expected_households BIGINT NOT NULL,
        expected_amount BIGINT NOT NULL,
        status TEXT NOT NULL,
        status_time TEXT NOT NULL
    );
    CREATE TABLE facts_distributions (
        event_id TEXT PRIMARY KEY,
        round_id TEXT NOT NULL,
        household_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        region TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL,
        beneficiary_group TEXT NOT NULL,
        grams BIGINT NOT NULL,
        distributed_on TEXT NOT NULL
    );
    CREATE INDEX facts_distributions_on ON facts_distributions (distributed_on);
    CREATE TABLE facts_stock (
        event_id TEXT PRIMARY KEY,
        warehouse_id TEXT NOT NULL,
        region TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL,
        on_hand_grams BIGINT NOT NULL,
        event_time TEXT NOT NULL
    );
    CREATE INDEX facts_stock_warehouse ON facts_stock (warehouse_id, event_time);
    CREATE TABLE budget_lines (
        year BIGINT NOT NULL,
        component TEXT NOT NULL,
        funding_source BIGINT NOT NULL,
        forecast BIGINT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (year, component, funding_source)
    );
    CREATE TABLE expenditures (
        expenditure_id TEXT PRIMARY KEY,
        year BIGINT NOT NULL,
        component TEXT NOT NULL,
        funding_source BIGINT NOT NULL,
        amount BIGINT NOT NULL,
        spent_on TEXT NOT NULL,
        description TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    );
    CREATE TABLE region_activity (
        region TEXT PRIMARY KEY,
        last_event_time TEXT NOT NULL,
        last_received_at TEXT NOT NULL,
        events_received BIGINT NOT NULL
    );
    ",
)];
