//! The monitoring's tables: facts drawn from events (one row per event that
//! matters, keyed by the event ID, so a repeat changes nothing even outside
//! the inbox), the budget the national team enters, and each region's
//! activity. Indicators are computed from the facts when asked, by the
//! facts' own dates, so an event arriving late counts in its own period and
//! a rebuild from the stream gives the same numbers.
//!
//! Every function runs on a connection of the write path or of a reader,
//! synchronously; facts are written a batch at a time with multi-row
//! `INSERT`s ([`row_chunks`]).

pub mod activity;
pub mod budget;
pub mod facts;
pub mod indicators;
pub mod rounds;

use jigi_storage::Migration;

/// Rows per multi-row `INSERT`.
pub const ROWS_PER_INSERT: usize = 128;

/// Splits `rows` into chunks of a few fixed sizes: full chunks of
/// [`ROWS_PER_INSERT`], then the rest in powers of two (64, 32, … 1). Each
/// table's `INSERT`s thus come in at most eight shapes, each prepared once
/// and reused, whatever the batch sizes.
pub fn row_chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    jigi_storage::sql::chunks(rows, ROWS_PER_INSERT)
}

/// The monitoring's own tables (the host adds the shared ones). The SQL is
/// portable: both backends accept it as written.
pub const MIGRATIONS: &[Migration] = &[
    Migration::portable(
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
    ),
    Migration::portable(
        "monitoring",
        2,
        "the national stream position of each region's newest event",
        "ALTER TABLE region_activity ADD COLUMN stream_sequence BIGINT NOT NULL DEFAULT 0;",
    ),
    Migration::portable(
        "monitoring",
        3,
        "payments by component; MA, AGR and HIMO facts",
        "
    ALTER TABLE facts_payments ADD COLUMN component TEXT NOT NULL DEFAULT 'TM';
    CREATE TABLE facts_activities (
        fact_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        household_id TEXT NOT NULL,
        person_id TEXT NOT NULL,
        region TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL,
        category TEXT NOT NULL,
        sex BIGINT NOT NULL,
        age_group TEXT NOT NULL,
        amount BIGINT NOT NULL,
        flag BIGINT NOT NULL,
        occurred_on TEXT NOT NULL
    );
    CREATE INDEX facts_activities_kind ON facts_activities (kind, occurred_on);
    ",
    ),
    Migration::portable(
        "monitoring",
        4,
        "budget lines and expenditure per region",
        "
    CREATE TABLE budget_lines_by_region (
        year BIGINT NOT NULL,
        region TEXT NOT NULL,
        component TEXT NOT NULL,
        funding_source BIGINT NOT NULL,
        forecast BIGINT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (year, region, component, funding_source)
    );
    INSERT INTO budget_lines_by_region (year, region, component, funding_source, forecast, updated_at)
        SELECT year, '', component, funding_source, forecast, updated_at FROM budget_lines;
    DROP TABLE budget_lines;
    ALTER TABLE expenditures ADD COLUMN region TEXT NOT NULL DEFAULT '';
    ",
    ),
    Migration::portable(
        "monitoring",
        5,
        "PNP rounds, their communes and stock losses",
        "
    CREATE TABLE facts_rounds (
        round_id TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        year BIGINT NOT NULL,
        number BIGINT NOT NULL,
        period TEXT NOT NULL,
        starts_on TEXT NOT NULL,
        ends_on TEXT NOT NULL,
        closed_on TEXT NOT NULL,
        status TEXT NOT NULL,
        status_time TEXT NOT NULL,
        has_control BIGINT NOT NULL,
        planned_children BIGINT NOT NULL,
        planned_pregnant BIGINT NOT NULL,
        planned_lactating BIGINT NOT NULL,
        reached_children BIGINT NOT NULL,
        reached_pregnant BIGINT NOT NULL,
        reached_lactating BIGINT NOT NULL,
        reported_grams BIGINT NOT NULL,
        stock_on_hand_grams BIGINT NOT NULL
    );
    CREATE TABLE facts_round_communes (
        round_id TEXT NOT NULL,
        commune TEXT NOT NULL,
        PRIMARY KEY (round_id, commune)
    );
    CREATE TABLE facts_stock_losses (
        event_id TEXT PRIMARY KEY,
        warehouse_id TEXT NOT NULL,
        region TEXT NOT NULL,
        cercle TEXT NOT NULL,
        commune TEXT NOT NULL,
        grams BIGINT NOT NULL,
        occurred_on TEXT NOT NULL
    );
    CREATE INDEX facts_stock_losses_commune ON facts_stock_losses (commune, occurred_on);
    CREATE INDEX facts_distributions_round ON facts_distributions (round_id);
    ",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_come_in_few_sizes_and_cover_every_row_once_in_order() {
        let sizes = |n: usize| -> Vec<usize> {
            let rows: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = row_chunks(&rows).collect();
            let joined: Vec<usize> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
            assert_eq!(joined, rows, "{n} rows");
            chunks.iter().map(|c| c.len()).collect()
        };
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(7), [4, 2, 1]);
        assert_eq!(sizes(128), [128]);
        assert_eq!(sizes(1_000), [128, 128, 128, 128, 128, 128, 128, 64, 32, 8]);
        let mut shapes = std::collections::BTreeSet::new();
        for n in 0..600 {
            shapes.extend(sizes(n));
        }
        assert_eq!(shapes.len(), 8, "{shapes:?}");
    }
}
