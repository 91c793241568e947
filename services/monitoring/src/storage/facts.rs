//! Writing facts drawn from events, a batch at a time. Facts kept per event
//! go in with multi-row `INSERT`s that ignore a fact already recorded (same
//! event ID), so writing an event's facts twice changes nothing; what an
//! event changes in place (a household's place, a cycle's state) is written
//! once per household or cycle, after the batch was folded in memory (see
//! [`crate::app::projection`]).

use jigi_storage::sql::Placeholders;
use jigi_storage::{Backend, Conn, StorageError, ToSql, params};

use super::row_chunks;

/// Where a fact happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub region: String,
    pub cercle: String,
    pub commune: String,
}

/// A household as its first registration event describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewHousehold<'a> {
    pub household_id: &'a str,
    /// Where it lives: where it registered, or where it moved to later in
    /// the same batch.
    pub place: &'a Place,
    pub registered_on: &'a str,
}

/// One enrolment or exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentRow {
    pub event_id: String,
    pub household_id: String,
    /// The component's code (`TM`, `PNP`…).
    pub component: &'static str,
    /// `enrolled` or `exited`.
    pub kind: &'static str,
    pub effective_on: String,
    /// The event's time, as stored ([`jigi_storage::timestamp::format`]).
    pub event_time: String,
    pub place: Place,
}

/// One payment result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRow {
    pub event_id: String,
    pub cycle_id: String,
    pub household_id: String,
    pub place: Place,
    pub period: String,
    pub funding_source: i64,
    /// `paid`, `failed` or `not_collected`.
    pub outcome: &'static str,
    pub amount: i64,
    pub occurred_on: String,
    /// The component the cycle pays (`TM`, `AGR`, `HIMO`).
    pub component: &'static str,
}

/// One fact of the MA, AGR or HIMO components (one table, one row per
/// event, or per person or household an event names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityRow {
    /// The event's ID, with `:<person or household>` for the rows of one event.
    pub fact_id: String,
    /// `ma_session`, `ma_attendee`, `agr_plan`, `agr_tranche`, `agr_visit`,
    /// `himo_started`, `himo_sheet`, `himo_worker_day`, `himo_wages_due`.
    pub kind: &'static str,
    /// The session, household or site the event is about.
    pub subject_id: String,
    /// Empty when the fact is about no household.
    pub household_id: String,
    /// The person (MA attendees); empty otherwise.
    pub person_id: String,
    pub place: Place,
    /// The theme (MA) or activity type (AGR); empty otherwise.
    pub category: String,
    /// The sex's wire value (MA attendees); 0 otherwise.
    pub sex: i64,
    /// The age group (MA attendees); empty otherwise.
    pub age_group: String,
    /// FCFA (grants, wages), days of delay (site set up), workers (attendance sheet).
    pub amount: i64,
    /// The activity running (AGR visit), women present (attendance sheet).
    pub flag: i64,
    pub occurred_on: String,
}

/// A cycle's state as its events tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleRow {
    pub cycle_id: String,
    pub region: String,
    pub period: String,
    pub funding_source: i64,
    /// Control totals (households, amount), when an event carried them.
    pub expected: Option<(i64, i64)>,
    pub status: &'static str,
    /// The time of the event that set the status, as stored.
    pub status_time: String,
}

/// One ration given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributionRow {
    pub event_id: String,
    pub round_id: String,
    pub household_id: String,
    pub member_id: String,
    pub place: Place,
    /// `child`, `pregnant` or `lactating`.
    pub group: &'static str,
    pub grams: i64,
    pub distributed_on: String,
}

/// A warehouse's stock as a movement left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockRow {
    /// The event's ID (`<id>:from` and `<id>:to` for the two ends of a transfer).
    pub fact_id: String,
    pub warehouse_id: String,
    pub place: Place,
    pub on_hand_grams: i64,
    pub event_time: String,
}

/// A round's opening or closing, as its event tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundRow {
    pub round_id: String,
    /// The region the event came from.
    pub region: String,
    pub year: i64,
    pub number: i64,
    /// The quarter of the round's first day (of its closing, for a closing:
    /// kept only while the opening is unknown).
    pub period: String,
    /// First and last day, from the opening.
    pub days: Option<(String, String)>,
    /// The region's figures at closing.
    pub closing: Option<RoundClosing>,
    /// The pilot communes the event names.
    pub communes: Vec<String>,
    /// `open` or `closed`.
    pub status: &'static str,
    /// The time of the event, as stored.
    pub status_time: String,
}

/// What a region reported when it closed a round, summed over its communes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundClosing {
    pub closed_on: String,
    /// Children, pregnant women, lactating women eligible on the first day.
    pub planned: [i64; 3],
    /// Children, pregnant women, lactating women served.
    pub reached: [i64; 3],
    pub distributed_grams: i64,
    pub stock_on_hand_grams: i64,
}

/// Flour lost from a warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LossRow {
    pub event_id: String,
    pub warehouse_id: String,
    pub place: Place,
    pub grams: i64,
    pub occurred_on: String,
}

/// A row of one of the fact tables, as the values of its columns.
trait FactRow {
    const COLUMNS: usize;
    fn values<'r>(&'r self, out: &mut Vec<&'r dyn ToSql>);
}

impl<T: FactRow> FactRow for &T {
    const COLUMNS: usize = T::COLUMNS;
    fn values<'r>(&'r self, out: &mut Vec<&'r dyn ToSql>) {
        (**self).values(out);
    }
}

impl Place {
    fn values<'r>(&'r self, out: &mut Vec<&'r dyn ToSql>) {
        out.extend([&self.region as &dyn ToSql, &self.cercle, &self.commune]);
    }
}

impl FactRow for NewHousehold<'_> {
    const COLUMNS: usize = 5;
    fn values<'r>(&'r self, out: &mut Vec<&'r dyn ToSql>) {
        out.push(&self.household_id);
        self.place.values(out);
        out.push(&self.registered_on);
    }
}

impl FactRow for EnrolmentRow {
    const COLUMNS: usize = 9;
    fn values<'r>(&'r self, out: &mut Vec<&'r dyn ToSql>) {
        out.extend([
            &self.event_id as &dyn ToSql,
            &self.household_id,
            &self.component,
            &self.kind,
            &self.effective_on,
            &self.event_time,
        ]);
        self.place.values(out);
    }
}

impl FactRow for ActivityRow {
    const COLUMNS: usize = 14;
    fn values<'r>(&'r self, out: &mut Vec<&'r dyn ToSql>) {
        out.extend([
            &self.fact_id as &dyn ToSql,
            &self.kind,
            &self.subject_id,
            &self.household_id,
            &self.person_id,
        ]);
        self.place.values(out);
        out.extend([
            &self.category as &dyn ToSql,
            &self.sex,
            &self.age_group,
            &self.amount,
            &self.flag,
            &self.occurred_on,
        ]);
    }
}

impl FactRow for PaymentRow {
    const COLUMNS: usize = 12;
    fn values<'r>(&'r self, out: &mut Vec<&'r dyn ToSql>) {
        out.extend([&self.event_id as &dyn ToSql, &self.cycle_id, &self.household_id]);
        self.place.values(out);
        out.extend([
            &self.period as &dyn ToSql,
            &self.funding_source,
            &self.outcome,
            &self.amount,
            &self.occurred_on,
            &self.component,
        ]);
    }
}

impl FactRow for DistributionRow {
    const COLUMNS: usize = 10;
    fn values<'r>(&'r self, out: &mut Vec<&'r dyn ToSql>) {
        out.extend([
            &self.event_id as &dyn ToSql,
            &self.round_id,
            &self.household_id,
            &self.member_id,
        ]);
        self.place.values(out);
        out.extend([&self.group as &dyn ToSql, &self.grams, &self.distributed_on]);
    }
}

impl FactRow for StockRow {
    const COLUMNS: usize = 7;
    fn values<'r>(&'r self, out: &mut Vec<&'r dyn ToSql>) {
        out.extend([&self.fact_id as &dyn ToSql, &self.warehouse_id]);
        self.place.values(out);
        out.extend([&self.on_hand_grams as &dyn ToSql, &self.event_time]);
    }
}

impl FactRow for LossRow {
    const COLUMNS: usize = 7;
    fn values<'r>(&'r self, out: &mut Vec<&'r dyn ToSql>) {
        out.extend([&self.event_id as &dyn ToSql, &self.warehouse_id]);
        self.place.values(out);
        out.extend([&self.grams as &dyn ToSql, &self.occurred_on]);
    }
}

/// `INSERT INTO <into> VALUES (…), (…) <conflict>` for every row, in chunks
/// (`INSERT OR IGNORE` on SQLite, where `conflict` is always to skip the row).
fn insert<R: FactRow>(conn: &mut Conn, into: &str, conflict: &str, rows: &[R]) -> Result<(), StorageError> {
    for chunk in row_chunks(rows) {
        let placeholders = Placeholders::for_connection(conn).rows(chunk.len(), R::COLUMNS);
        // On SQLite, `OR IGNORE` rather than `ON CONFLICT DO NOTHING`: the
        // same for the key, and it also makes a NOT NULL violation skip its
        // row rather than abort the statement (none can happen: every value
        // is bound from a Rust value). A statement that cannot abort half
        // way needs no journal of the pages it touches, which cost a tenth
        // of the writer's time.
        let statement = match conn.backend() {
            Backend::Sqlite => format!("INSERT OR IGNORE INTO {into} VALUES {placeholders}"),
            Backend::Postgres => format!("INSERT INTO {into} VALUES {placeholders} {conflict}"),
        };
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * R::COLUMNS);
        for row in chunk {
            row.values(&mut values);
        }
        conn.pipeline(&statement, &values)?;
    }
    Ok(())
}

/// Registers households; one already known keeps its first registration.
pub fn insert_households(conn: &mut Conn, rows: &[NewHousehold<'_>]) -> Result<(), StorageError> {
    insert(
        conn,
        "facts_households (household_id, region, cercle, commune, registered_on)",
        "ON CONFLICT (household_id) DO NOTHING",
        rows,
    )
}

/// Households that moved: their registration counts where they live now.
/// A household not (yet) known is left alone.
pub fn move_households(conn: &mut Conn, moves: &[(&str, &Place)]) -> Result<(), StorageError> {
    for (household_id, place) in moves {
        conn.pipeline(
            "UPDATE facts_households SET region = $1, cercle = $2, commune = $3 WHERE household_id = $4",
            params![place.region, place.cercle, place.commune, household_id],
        )?;
    }
    Ok(())
}

pub fn insert_enrolments(conn: &mut Conn, rows: &[&EnrolmentRow]) -> Result<(), StorageError> {
    insert(
        conn,
        "facts_enrolment_events (event_id, household_id, component, kind, effective_on, event_time, \
         region, cercle, commune)",
        "ON CONFLICT (event_id) DO NOTHING",
        rows,
    )
}

pub fn insert_payments(conn: &mut Conn, rows: &[&PaymentRow]) -> Result<(), StorageError> {
    insert(
        conn,
        "facts_payments (event_id, cycle_id, household_id, region, cercle, commune, period, funding_source, \
         outcome, amount, occurred_on, component)",
        "ON CONFLICT (event_id) DO NOTHING",
        rows,
    )
}

pub fn insert_activities(conn: &mut Conn, rows: &[&ActivityRow]) -> Result<(), StorageError> {
    insert(
        conn,
        "facts_activities (fact_id, kind, subject_id, household_id, person_id, region, cercle, commune, category, \
         sex, age_group, amount, flag, occurred_on)",
        "ON CONFLICT (fact_id) DO NOTHING",
        rows,
    )
}

pub fn insert_distributions(conn: &mut Conn, rows: &[&DistributionRow]) -> Result<(), StorageError> {
    insert(
        conn,
        "facts_distributions (event_id, round_id, household_id, member_id, region, cercle, commune, \
         beneficiary_group, grams, distributed_on)",
        "ON CONFLICT (event_id) DO NOTHING",
        rows,
    )
}

pub fn insert_stock(conn: &mut Conn, rows: &[&StockRow]) -> Result<(), StorageError> {
    insert(
        conn,
        "facts_stock (event_id, warehouse_id, region, cercle, commune, on_hand_grams, event_time)",
        "ON CONFLICT (event_id) DO NOTHING",
        rows,
    )
}

/// Brings cycles up to date, one statement per cycle. Totals replace the
/// stored ones when the row carries some; the status replaces the stored
/// one unless the stored one was set by a later event (an older event
/// arriving late does not overwrite a newer one; at the same time, the one
/// applied last wins).
pub fn upsert_cycles(conn: &mut Conn, cycles: &[CycleRow]) -> Result<(), StorageError> {
    for cycle in cycles {
        let (count, amount) = cycle.expected.unwrap_or((0, 0));
        let has_totals = cycle.expected.is_some();
        conn.pipeline(
            "INSERT INTO facts_cycles (cycle_id, region, period, funding_source, expected_households, \
             expected_amount, status, status_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (cycle_id) DO UPDATE SET \
             expected_households = CASE WHEN $9 = 1 THEN $5 ELSE facts_cycles.expected_households END, \
             expected_amount = CASE WHEN $9 = 1 THEN $6 ELSE facts_cycles.expected_amount END, \
             status = CASE WHEN facts_cycles.status_time <= $8 THEN $7 ELSE facts_cycles.status END, \
             status_time = CASE WHEN facts_cycles.status_time <= $8 THEN $8 ELSE facts_cycles.status_time END",
            params![
                cycle.cycle_id,
                cycle.region,
                cycle.period,
                cycle.funding_source,
                count,
                amount,
                cycle.status,
                cycle.status_time,
                has_totals
            ],
        )?;
    }
    Ok(())
}

pub fn insert_losses(conn: &mut Conn, rows: &[&LossRow]) -> Result<(), StorageError> {
    insert(
        conn,
        "facts_stock_losses (event_id, warehouse_id, region, cercle, commune, grams, occurred_on)",
        "ON CONFLICT (event_id) DO NOTHING",
        rows,
    )
}

/// Brings rounds up to date, one statement per round event, in stream
/// order. An opening sets the round's days and period; a closing its
/// figures (the region's control totals); the status is the latest
/// event's (an older event arriving late does not overwrite a newer one; at
/// the same time, the one applied last wins), as for cycles. A closing
/// applied twice writes the same figures: nothing is added up here.
pub fn upsert_rounds(conn: &mut Conn, rounds: &[&RoundRow]) -> Result<(), StorageError> {
    for round in rounds {
        let (starts_on, ends_on) = round.days.clone().unwrap_or_default();
        let has_control = i64::from(round.closing.is_some());
        let closing = round.closing.clone().unwrap_or_default();
        let [planned_children, planned_pregnant, planned_lactating] = closing.planned;
        let [reached_children, reached_pregnant, reached_lactating] = closing.reached;
        conn.pipeline(
            "INSERT INTO facts_rounds (round_id, region, year, number, period, starts_on, ends_on, closed_on, \
             status, status_time, has_control, planned_children, planned_pregnant, planned_lactating, \
             reached_children, reached_pregnant, reached_lactating, reported_grams, stock_on_hand_grams) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
             ON CONFLICT (round_id) DO UPDATE SET \
             period = CASE WHEN excluded.starts_on <> '' OR facts_rounds.starts_on = '' \
                 THEN excluded.period ELSE facts_rounds.period END, \
             starts_on = CASE WHEN excluded.starts_on <> '' THEN excluded.starts_on ELSE facts_rounds.starts_on END, \
             ends_on = CASE WHEN excluded.starts_on <> '' THEN excluded.ends_on ELSE facts_rounds.ends_on END, \
             closed_on = CASE WHEN excluded.has_control = 1 THEN excluded.closed_on ELSE facts_rounds.closed_on END, \
             has_control = CASE WHEN excluded.has_control = 1 THEN 1 ELSE facts_rounds.has_control END, \
             planned_children = CASE WHEN excluded.has_control = 1 \
                 THEN excluded.planned_children ELSE facts_rounds.planned_children END, \
             planned_pregnant = CASE WHEN excluded.has_control = 1 \
                 THEN excluded.planned_pregnant ELSE facts_rounds.planned_pregnant END, \
             planned_lactating = CASE WHEN excluded.has_control = 1 \
                 THEN excluded.planned_lactating ELSE facts_rounds.planned_lactating END, \
             reached_children = CASE WHEN excluded.has_control = 1 \
                 THEN excluded.reached_children ELSE facts_rounds.reached_children END, \
             reached_pregnant = CASE WHEN excluded.has_control = 1 \
                 THEN excluded.reached_pregnant ELSE facts_rounds.reached_pregnant END, \
             reached_lactating = CASE WHEN excluded.has_control = 1 \
                 THEN excluded.reached_lactating ELSE facts_rounds.reached_lactating END, \
             reported_grams = CASE WHEN excluded.has_control = 1 \
                 THEN excluded.reported_grams ELSE facts_rounds.reported_grams END, \
             stock_on_hand_grams = CASE WHEN excluded.has_control = 1 \
                 THEN excluded.stock_on_hand_grams ELSE facts_rounds.stock_on_hand_grams END, \
             status = CASE WHEN facts_rounds.status_time <= excluded.status_time \
                 THEN excluded.status ELSE facts_rounds.status END, \
             status_time = CASE WHEN facts_rounds.status_time <= excluded.status_time \
                 THEN excluded.status_time ELSE facts_rounds.status_time END",
            params![
                round.round_id,
                round.region,
                round.year,
                round.number,
                round.period,
                starts_on,
                ends_on,
                closing.closed_on,
                round.status,
                round.status_time,
                has_control,
                planned_children,
                planned_pregnant,
                planned_lactating,
                reached_children,
                reached_pregnant,
                reached_lactating,
                closing.distributed_grams,
                closing.stock_on_hand_grams
            ],
        )?;
        for commune in &round.communes {
            conn.pipeline(
                "INSERT INTO facts_round_communes (round_id, commune) VALUES ($1, $2) \
                 ON CONFLICT (round_id, commune) DO NOTHING",
                params![round.round_id, commune],
            )?;
        }
    }
    Ok(())
}
