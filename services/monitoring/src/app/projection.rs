//! The national stream's events into facts, a pull batch at a time.
//!
//! [`NationalProjection::decode`] reads each event once, off the database's
//! writer, into the facts it means ([`Fact`]): rows ready to store.
//! [`NationalProjection::apply`] then writes a whole batch in the inbox's
//! transaction, which holds only events never applied before, so each event
//! counts once however often it is delivered. Nothing is decoded there; the
//! batch is folded in memory first:
//!
//! - facts kept per event (enrolments, payments, distributions, stock) go in
//!   with multi-row `INSERT`s;
//! - a household's registration and moves become one `UPDATE` (its last
//!   move) and one row of a multi-row `INSERT` (its first registration, at
//!   the place its moves after it left it);
//! - a cycle's events become one upsert per cycle;
//! - a round's openings and closings one upsert each, in stream order (a
//!   handful per quarter: folding them would save nothing);
//! - each region's activity becomes one upsert: the batch's event count
//!   added, its latest event time kept.
//!
//! The result is exactly what applying the events one by one in stream
//! order gives (the tests compare both).
//!
//! Each region's lag, from an event's time to the commit that makes its
//! facts visible, is measured in [`NationalProjection::committed`], after
//! that commit.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use jigi_bus::{Decoded, EventHandler, EventMeta, ReceivedEvent, Rejection};
use jigi_common::{Component, Region};
use jigi_proto::common::Location;
use jigi_proto::events as ev;
use jigi_storage::{Conn, StorageError, timestamp};

use crate::domain::freshness::LagWindow;
use crate::metrics::MonitoringMetrics;
use crate::storage::activity::{self, Heard};
use crate::storage::facts::{
    self, ActivityRow, CycleRow, DistributionRow, EnrolmentRow, LossRow, NewHousehold, PaymentRow, Place, RoundClosing,
    RoundRow, StockRow,
};

/// Recent lags per region, shared with the API.
pub type Lags = Arc<Mutex<HashMap<String, LagWindow>>>;

/// What one event means to the monitoring, decoded and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// Nothing but that its region is alive (an event the indicators do
    /// not use).
    Activity,
    Registered {
        household_id: String,
        place: Place,
        registered_on: String,
    },
    Moved {
        household_id: String,
        place: Place,
    },
    Enrolment(EnrolmentRow),
    Payment(PaymentRow),
    Cycle(CycleRow),
    /// A ration given, and the stock its warehouse has left.
    Distribution(DistributionRow, StockRow),
    Stock(StockRow),
    /// Flour lost, and the stock its warehouse has left.
    Loss(LossRow, StockRow),
    /// A round opened or closed.
    Round(RoundRow),
    /// Both ends of a stock transfer.
    Transfer(StockRow, StockRow),
    /// MA, AGR and HIMO facts of one event.
    Activities(Vec<ActivityRow>),
}

/// The national stream's handler.
pub struct NationalProjection {
    lags: Lags,
    metrics: MonitoringMetrics,
}

impl NationalProjection {
    pub fn new(lags: Lags, metrics: MonitoringMetrics) -> NationalProjection {
        NationalProjection { lags, metrics }
    }
}

impl EventHandler for NationalProjection {
    type Effect = Fact;

    fn decode(&self, event: &ReceivedEvent) -> Result<Option<Fact>, Rejection> {
        if event.region().is_none() {
            return Err(Rejection(format!("subject {} names no known region", event.subject)));
        }
        decode(event).map(Some)
    }

    fn apply(&self, conn: &mut Conn, events: &[Decoded<Fact>]) -> Result<(), StorageError> {
        let batch = Batch::fold(events);
        facts::move_households(conn, &batch.moves())?;
        facts::insert_households(conn, &batch.registrations())?;
        facts::insert_enrolments(conn, &batch.enrolments)?;
        facts::insert_payments(conn, &batch.payments)?;
        facts::upsert_cycles(conn, &batch.cycles)?;
        facts::insert_distributions(conn, &batch.distributions)?;
        facts::insert_stock(conn, &batch.stock)?;
        facts::insert_losses(conn, &batch.losses)?;
        facts::upsert_rounds(conn, &batch.rounds)?;
        facts::insert_activities(conn, &batch.activities)?;
        activity::record(conn, &batch.heard, timestamp::now_utc())
    }

    fn committed(&self, events: &[EventMeta]) {
        let now = Utc::now();
        let mut per_region: Vec<(Region, Vec<f64>)> = Vec::new();
        for event in events {
            let Some(region) = event.region else { continue };
            let lag = (now - event.time).to_std().unwrap_or_default().as_secs_f64();
            match per_region.iter_mut().find(|(known, _)| *known == region) {
                Some((_, lags)) => lags.push(lag),
                None => per_region.push((region, vec![lag])),
            }
        }
        let mut windows = self.lags.lock().expect("lag lock");
        for (region, lags) in &per_region {
            let window = windows.entry(region.slug().to_owned()).or_default();
            for lag in lags {
                window.record(*lag);
            }
        }
        drop(windows);
        for (region, lags) in per_region {
            self.metrics.events_committed(region.slug(), &lags);
        }
    }
}

/// A batch folded in memory, borrowing its events' facts.
#[derive(Debug, Default)]
struct Batch<'a> {
    /// Households registered or moved, in order of first appearance.
    households: Vec<HouseholdChanges<'a>>,
    household_index: HashMap<&'a str, usize>,
    enrolments: Vec<&'a EnrolmentRow>,
    payments: Vec<&'a PaymentRow>,
    cycles: Vec<CycleRow>,
    cycle_index: HashMap<&'a str, usize>,
    distributions: Vec<&'a DistributionRow>,
    stock: Vec<&'a StockRow>,
    losses: Vec<&'a LossRow>,
    rounds: Vec<&'a RoundRow>,
    activities: Vec<&'a ActivityRow>,
    heard: Vec<Heard<'static>>,
}

/// What a batch's events say of one household.
#[derive(Debug)]
struct HouseholdChanges<'a> {
    household_id: &'a str,
    /// Its first registration in the batch: (place, date).
    registered: Option<(&'a Place, &'a str)>,
    /// Its last move in the batch (applies to a household already stored).
    last_move: Option<&'a Place>,
    /// Its last move after its first registration in the batch (where a
    /// household registered in this batch lives at its end).
    moved_since_registered: Option<&'a Place>,
}

impl<'a> Batch<'a> {
    /// Folds the events, in stream order.
    fn fold(events: &'a [Decoded<Fact>]) -> Batch<'a> {
        let mut batch = Batch::default();
        for event in events {
            if let Some(region) = event.meta.region {
                batch.heard(region, event.meta.time, event.meta.stream_sequence.unwrap_or(0));
            }
            match &event.effect {
                Fact::Activity => {}
                Fact::Registered {
                    household_id,
                    place,
                    registered_on,
                } => {
                    let household = batch.household(household_id);
                    if household.registered.is_none() {
                        household.registered = Some((place, registered_on.as_str()));
                    }
                }
                Fact::Moved { household_id, place } => {
                    let household = batch.household(household_id);
                    household.last_move = Some(place);
                    if household.registered.is_some() {
                        household.moved_since_registered = Some(place);
                    }
                }
                Fact::Enrolment(row) => batch.enrolments.push(row),
                Fact::Payment(row) => batch.payments.push(row),
                Fact::Cycle(row) => batch.cycle(row),
                Fact::Distribution(row, stock) => {
                    batch.distributions.push(row);
                    batch.stock.push(stock);
                }
                Fact::Stock(stock) => batch.stock.push(stock),
                Fact::Loss(loss, stock) => {
                    batch.losses.push(loss);
                    batch.stock.push(stock);
                }
                Fact::Round(round) => batch.rounds.push(round),
                Fact::Transfer(from, to) => batch.stock.extend([from, to]),
                Fact::Activities(rows) => batch.activities.extend(rows),
            }
        }
        batch
    }

    fn heard(&mut self, region: Region, time: DateTime<Utc>, stream_sequence: u64) {
        match self.heard.iter_mut().find(|heard| heard.region == region.slug()) {
            Some(heard) => {
                heard.events += 1;
                heard.last_event_time = heard.last_event_time.max(time);
                heard.stream_sequence = heard.stream_sequence.max(stream_sequence);
            }
            None => self.heard.push(Heard {
                region: region.slug(),
                events: 1,
                last_event_time: time,
                stream_sequence,
            }),
        }
    }

    fn household(&mut self, household_id: &'a str) -> &mut HouseholdChanges<'a> {
        let index = match self.household_index.entry(household_id) {
            Entry::Occupied(known) => *known.get(),
            Entry::Vacant(new) => {
                self.households.push(HouseholdChanges {
                    household_id,
                    registered: None,
                    last_move: None,
                    moved_since_registered: None,
                });
                *new.insert(self.households.len() - 1)
            }
        };
        &mut self.households[index]
    }

    /// Folds a cycle's event into what the batch says of the cycle, as the
    /// upsert would one event after another: the first event's region,
    /// period and source; the last totals carried; the status of the latest
    /// event (the later in the stream at the same time).
    fn cycle(&mut self, row: &'a CycleRow) {
        match self.cycle_index.entry(&row.cycle_id) {
            Entry::Vacant(new) => {
                new.insert(self.cycles.len());
                self.cycles.push(row.clone());
            }
            Entry::Occupied(known) => {
                let cycle = &mut self.cycles[*known.get()];
                if row.expected.is_some() {
                    cycle.expected = row.expected;
                }
                if cycle.status_time <= row.status_time {
                    cycle.status = row.status;
                    cycle.status_time.clone_from(&row.status_time);
                }
            }
        }
    }

    /// Last moves, applied before the registrations: they change only
    /// households stored before this batch.
    fn moves(&self) -> Vec<(&'a str, &'a Place)> {
        self.households
            .iter()
            .filter_map(|h| h.last_move.map(|place| (h.household_id, place)))
            .collect()
    }

    /// First registrations, where each household lives at the end of the
    /// batch; the database ignores those of households stored before.
    fn registrations(&self) -> Vec<NewHousehold<'a>> {
        self.households
            .iter()
            .filter_map(|h| {
                h.registered.map(|(place, registered_on)| NewHousehold {
                    household_id: h.household_id,
                    place: h.moved_since_registered.unwrap_or(place),
                    registered_on,
                })
            })
            .collect()
    }
}

/// What an event means, or why it cannot be used.
fn decode(event: &ReceivedEvent) -> Result<Fact, Rejection> {
    if event.is::<ev::HouseholdRegistered>() {
        let m: ev::HouseholdRegistered = event.decode()?;
        Ok(Fact::Registered {
            place: place(m.location.as_ref())?,
            household_id: m.household_id,
            registered_on: m.registered_on,
        })
    } else if event.is::<ev::HouseholdUpdated>() {
        let m: ev::HouseholdUpdated = event.decode()?;
        Ok(Fact::Moved {
            place: place(m.location.as_ref())?,
            household_id: m.household_id,
        })
    } else if event.is::<ev::HouseholdEnrolled>() {
        let m: ev::HouseholdEnrolled = event.decode()?;
        enrolment(
            event,
            m.household_id,
            m.component,
            "enrolled",
            m.enrolled_on,
            m.location.as_ref(),
        )
    } else if event.is::<ev::HouseholdExited>() {
        let m: ev::HouseholdExited = event.decode()?;
        enrolment(
            event,
            m.household_id,
            m.component,
            "exited",
            m.exited_on,
            m.location.as_ref(),
        )
    } else if event.ce_type.starts_with("jigi.payments.") {
        payments(event)
    } else if event.ce_type.starts_with("jigi.nutrition.") {
        nutrition(event)
    } else if event.ce_type.starts_with("jigi.activities.") {
        activities(event)
    } else {
        Ok(Fact::Activity)
    }
}

fn enrolment(
    event: &ReceivedEvent,
    household_id: String,
    component: i32,
    kind: &'static str,
    effective_on: String,
    location: Option<&Location>,
) -> Result<Fact, Rejection> {
    let component =
        Component::from_proto(component).ok_or_else(|| Rejection(format!("unknown component {component}")))?;
    Ok(Fact::Enrolment(EnrolmentRow {
        event_id: event.id.clone(),
        household_id,
        component: component.code(),
        kind,
        effective_on,
        event_time: timestamp::format(event.time),
        place: place(location)?,
    }))
}

/// Cycle and payment events.
fn payments(event: &ReceivedEvent) -> Result<Fact, Rejection> {
    let no_cycle = || Rejection("payment event without its cycle".into());
    let totals = |t: &ev::PaymentTotals| (t.count, t.amount.as_ref().map_or(0, |m| m.fcfa));
    let (cycle, status, expected) = if event.is::<ev::PaymentCycleOpened>() {
        let m: ev::PaymentCycleOpened = event.decode()?;
        (m.cycle, "opened", None)
    } else if event.is::<ev::PaymentCycleFrozen>() {
        let m: ev::PaymentCycleFrozen = event.decode()?;
        (m.cycle, "frozen", m.totals.as_ref().map(totals))
    } else if event.is::<ev::PaymentCycleApproved>() {
        let m: ev::PaymentCycleApproved = event.decode()?;
        (m.cycle, "approved", m.control.as_ref().map(totals))
    } else if event.is::<ev::PaymentCycleClosed>() {
        let m: ev::PaymentCycleClosed = event.decode()?;
        (m.cycle, "closed", m.control.as_ref().map(totals))
    } else if event.is::<ev::PaymentCycleCancelled>() {
        let m: ev::PaymentCycleCancelled = event.decode()?;
        (m.cycle, "cancelled", None)
    } else {
        let (cycle, household_id, location, amount, outcome, on) = if event.is::<ev::PaymentMade>() {
            let m: ev::PaymentMade = event.decode()?;
            (m.cycle, m.household_id, m.location, m.amount, "paid", m.paid_on)
        } else if event.is::<ev::PaymentFailed>() {
            let m: ev::PaymentFailed = event.decode()?;
            (m.cycle, m.household_id, m.location, m.amount, "failed", m.attempted_on)
        } else if event.is::<ev::PaymentNotCollected>() {
            let m: ev::PaymentNotCollected = event.decode()?;
            (
                m.cycle,
                m.household_id,
                m.location,
                m.amount,
                "not_collected",
                m.reported_on,
            )
        } else {
            return Ok(Fact::Activity);
        };
        let cycle = cycle.ok_or_else(no_cycle)?;
        // Events from before cycles had kinds name no component: TM.
        let component = Component::from_proto(cycle.component).unwrap_or(Component::Tm).code();
        return Ok(Fact::Payment(PaymentRow {
            component,
            event_id: event.id.clone(),
            place: place(location.as_ref())?,
            period: cycle.period.map(|p| p.code).unwrap_or_default(),
            funding_source: i64::from(cycle.funding_source),
            cycle_id: cycle.cycle_id,
            household_id,
            outcome,
            amount: amount.map_or(0, |m| m.fcfa),
            occurred_on: on,
        }));
    };
    let cycle = cycle.ok_or_else(no_cycle)?;
    Ok(Fact::Cycle(CycleRow {
        period: cycle.period.map(|p| p.code).unwrap_or_default(),
        funding_source: i64::from(cycle.funding_source),
        cycle_id: cycle.cycle_id,
        region: cycle.region,
        expected,
        status,
        status_time: timestamp::format(event.time),
    }))
}

/// MA, AGR and HIMO events, as rows of `facts_activities`.
fn activities(event: &ReceivedEvent) -> Result<Fact, Rejection> {
    let row = |kind: &'static str, subject_id: &str, location: Option<&Location>, on: &str| {
        Ok::<_, Rejection>(ActivityRow {
            fact_id: event.id.clone(),
            kind,
            subject_id: subject_id.to_owned(),
            household_id: String::new(),
            person_id: String::new(),
            place: place(location)?,
            category: String::new(),
            sex: 0,
            age_group: String::new(),
            amount: 0,
            flag: 0,
            occurred_on: on.to_owned(),
        })
    };
    let amount = |money: Option<&jigi_proto::common::Money>| money.map_or(0, |m| m.fcfa);
    let rows = if event.is::<ev::MaSessionHeld>() {
        let m: ev::MaSessionHeld = event.decode()?;
        let theme = enum_code(
            ev::MaSessionTheme::try_from(m.theme).map(|t| t.as_str_name()),
            "MA_SESSION_THEME_",
        )?;
        let session = ActivityRow {
            category: theme.clone(),
            ..row("ma_session", &m.session_id, m.location.as_ref(), &m.held_on)?
        };
        let mut rows = vec![session.clone()];
        for attendee in &m.attendees {
            let age_group = enum_code(
                ev::MaAgeGroup::try_from(attendee.age_group).map(|g| g.as_str_name()),
                "MA_AGE_GROUP_",
            )?;
            rows.push(ActivityRow {
                fact_id: format!("{}:{}", event.id, attendee.member_id),
                kind: "ma_attendee",
                household_id: attendee.household_id.clone(),
                person_id: attendee.member_id.clone(),
                sex: i64::from(attendee.sex),
                age_group,
                ..session.clone()
            });
        }
        rows
    } else if event.is::<ev::AgrBusinessPlanApproved>() {
        let m: ev::AgrBusinessPlanApproved = event.decode()?;
        vec![ActivityRow {
            household_id: m.household_id.clone(),
            category: enum_code(
                ev::AgrActivityType::try_from(m.activity_type).map(|t| t.as_str_name()),
                "AGR_ACTIVITY_TYPE_",
            )?,
            amount: amount(m.planned_grant.as_ref()),
            ..row("agr_plan", &m.household_id, m.location.as_ref(), &m.approved_on)?
        }]
    } else if event.is::<ev::AgrGrantTrancheReleased>() {
        let m: ev::AgrGrantTrancheReleased = event.decode()?;
        vec![ActivityRow {
            household_id: m.household_id.clone(),
            amount: amount(m.amount.as_ref()),
            ..row("agr_tranche", &m.household_id, m.location.as_ref(), &m.released_on)?
        }]
    } else if event.is::<ev::AgrFollowUpVisited>() {
        let m: ev::AgrFollowUpVisited = event.decode()?;
        vec![ActivityRow {
            household_id: m.household_id.clone(),
            flag: i64::from(m.running),
            ..row("agr_visit", &m.household_id, m.location.as_ref(), &m.visited_on)?
        }]
    } else if event.is::<ev::HimoWorkSiteStarted>() {
        let m: ev::HimoWorkSiteStarted = event.decode()?;
        vec![ActivityRow {
            amount: i64::from(m.start_delay_days),
            ..row("himo_started", &m.site_id, m.location.as_ref(), &m.started_on)?
        }]
    } else if event.is::<ev::HimoAttendanceRecorded>() {
        let m: ev::HimoAttendanceRecorded = event.decode()?;
        let sheet = ActivityRow {
            amount: m.household_ids.len() as i64,
            flag: m.women,
            ..row("himo_sheet", &m.site_id, m.location.as_ref(), &m.worked_on)?
        };
        let mut rows = vec![sheet.clone()];
        for household_id in &m.household_ids {
            rows.push(ActivityRow {
                fact_id: format!("{}:{household_id}", event.id),
                kind: "himo_worker_day",
                household_id: household_id.clone(),
                amount: 1,
                flag: 0,
                ..sheet.clone()
            });
        }
        rows
    } else if event.is::<ev::HimoWagesDue>() {
        let m: ev::HimoWagesDue = event.decode()?;
        // Wages count in the first day of their quarter: the sheet is of the quarter.
        let period: jigi_common::Period = m
            .period
            .as_ref()
            .map(|p| p.code.as_str())
            .unwrap_or_default()
            .parse()
            .map_err(|_| Rejection("wages without their quarter".into()))?;
        vec![ActivityRow {
            household_id: m.household_id.clone(),
            amount: amount(m.amount.as_ref()),
            ..row(
                "himo_wages_due",
                &m.site_id,
                m.location.as_ref(),
                &jigi_common::date::format_date(period.start()),
            )?
        }]
    } else {
        return Ok(Fact::Activity);
    };
    Ok(Fact::Activities(rows))
}

/// An enum value's name without its prefix, lower case (`INFANT_FEEDING` →
/// `infant_feeding`); an unknown or unset value is refused.
fn enum_code(name: Result<&str, prost::UnknownEnumValue>, prefix: &str) -> Result<String, Rejection> {
    match name {
        Ok(name) if !name.ends_with("_UNSPECIFIED") => {
            Ok(name.strip_prefix(prefix).unwrap_or(name).to_ascii_lowercase())
        }
        _ => Err(Rejection(format!("an unknown or unset {prefix}value"))),
    }
}

/// Distribution and stock events.
fn nutrition(event: &ReceivedEvent) -> Result<Fact, Rejection> {
    let stock = |fact_id: String, warehouse_id: String, location: Option<&Location>, on_hand_grams: i64| {
        Ok::<_, Rejection>(StockRow {
            fact_id,
            warehouse_id,
            place: place(location)?,
            on_hand_grams,
            event_time: timestamp::format(event.time),
        })
    };
    if event.is::<ev::RationDistributed>() {
        let m: ev::RationDistributed = event.decode()?;
        let group = match ev::BeneficiaryGroup::try_from(m.group) {
            Ok(ev::BeneficiaryGroup::Child) => "child",
            Ok(ev::BeneficiaryGroup::PregnantWoman) => "pregnant",
            Ok(ev::BeneficiaryGroup::LactatingWoman) => "lactating",
            _ => return Err(Rejection(format!("unknown beneficiary group {}", m.group))),
        };
        jigi_telemetry::programme::record_household(&m.household_id);
        jigi_telemetry::programme::record_round(&m.round_id);
        let left = stock(
            event.id.clone(),
            m.warehouse_id,
            m.location.as_ref(),
            m.stock_on_hand_grams,
        )?;
        Ok(Fact::Distribution(
            DistributionRow {
                event_id: event.id.clone(),
                round_id: m.round_id,
                household_id: m.household_id,
                member_id: m.member_id,
                place: left.place.clone(),
                group,
                grams: m.grams,
                distributed_on: m.distributed_on,
            },
            left,
        ))
    } else if event.is::<ev::StockReceived>() {
        let m: ev::StockReceived = event.decode()?;
        Ok(Fact::Stock(stock(
            event.id.clone(),
            m.warehouse_id,
            m.location.as_ref(),
            m.stock_on_hand_grams,
        )?))
    } else if event.is::<ev::StockLost>() {
        let m: ev::StockLost = event.decode()?;
        let left = stock(
            event.id.clone(),
            m.warehouse_id,
            m.location.as_ref(),
            m.stock_on_hand_grams,
        )?;
        Ok(Fact::Loss(
            LossRow {
                event_id: event.id.clone(),
                warehouse_id: left.warehouse_id.clone(),
                place: left.place.clone(),
                grams: m.grams,
                occurred_on: m.occurred_on,
            },
            left,
        ))
    } else if event.is::<ev::RoundOpened>() || event.is::<ev::RoundClosed>() {
        round(event)
    } else if event.is::<ev::StockTransferred>() {
        let m: ev::StockTransferred = event.decode()?;
        Ok(Fact::Transfer(
            stock(
                format!("{}:from", event.id),
                m.from_warehouse_id,
                m.from_location.as_ref(),
                m.from_stock_on_hand_grams,
            )?,
            stock(
                format!("{}:to", event.id),
                m.to_warehouse_id,
                m.to_location.as_ref(),
                m.to_stock_on_hand_grams,
            )?,
        ))
    } else {
        Ok(Fact::Activity)
    }
}

/// A round's opening or closing. Its region is the event's (the round's
/// events carry none of their own); its period the quarter of its first day.
fn round(event: &ReceivedEvent) -> Result<Fact, Rejection> {
    let region = event
        .region()
        .ok_or_else(|| Rejection(format!("subject {} names no known region", event.subject)))?;
    let quarter = |date: &str, what: &str| {
        jigi_common::date::parse_date(date)
            .map(|date| jigi_common::Period::quarter_of(date).to_string())
            .ok_or_else(|| Rejection(format!("round {what} {date:?} is not a date")))
    };
    let communes = |locations: Vec<&Location>| -> Result<Vec<String>, Rejection> {
        locations
            .into_iter()
            .map(|location| place(Some(location)).map(|place| place.commune))
            .collect()
    };
    let row = if event.is::<ev::RoundOpened>() {
        let m: ev::RoundOpened = event.decode()?;
        RoundRow {
            period: quarter(&m.starts_on, "first day")?,
            communes: communes(m.communes.iter().collect())?,
            days: Some((m.starts_on, m.ends_on)),
            closing: None,
            round_id: m.round_id,
            region: region.slug().to_owned(),
            year: i64::from(m.year),
            number: i64::from(m.number),
            status: "open",
            status_time: timestamp::format(event.time),
        }
    } else {
        let m: ev::RoundClosed = event.decode()?;
        let mut closing = RoundClosing {
            closed_on: m.closed_on.clone(),
            ..RoundClosing::default()
        };
        let groups = |counts: Option<&ev::PnpGroupCounts>| {
            counts.map_or([0; 3], |c| [c.children, c.pregnant_women, c.lactating_women])
        };
        for commune in &m.communes {
            for (total, count) in closing.planned.iter_mut().zip(groups(commune.planned.as_ref())) {
                *total = total.saturating_add(count);
            }
            for (total, count) in closing.reached.iter_mut().zip(groups(commune.reached.as_ref())) {
                *total = total.saturating_add(count);
            }
            // Saturating: a crafted event must not overflow the sums.
            closing.distributed_grams = closing.distributed_grams.saturating_add(commune.distributed_grams);
            closing.stock_on_hand_grams = closing.stock_on_hand_grams.saturating_add(commune.stock_on_hand_grams);
        }
        RoundRow {
            period: quarter(&m.closed_on, "closing date")?,
            communes: communes(m.communes.iter().filter_map(|c| c.location.as_ref()).collect())?,
            days: None,
            closing: Some(closing),
            round_id: m.round_id,
            region: region.slug().to_owned(),
            year: i64::from(m.year),
            number: i64::from(m.number),
            status: "closed",
            status_time: timestamp::format(event.time),
        }
    };
    if row.round_id.is_empty() {
        return Err(Rejection("round event without its round ID".into()));
    }
    Ok(Fact::Round(row))
}

fn place(location: Option<&Location>) -> Result<Place, Rejection> {
    let location = location.ok_or_else(|| Rejection("event has no location".into()))?;
    if location.region.is_empty() || location.commune.is_empty() {
        return Err(Rejection("event location lacks its region or commune".into()));
    }
    Ok(Place {
        region: location.region.clone(),
        cercle: location.cercle.clone(),
        commune: location.commune.clone(),
    })
}

#[cfg(test)]
mod tests {
    use jigi_bus::{DomainEvent, OutgoingEvent};
    use jigi_proto::common::{Money, Period};
    use jigi_storage::{Database, Stored, params};

    use super::*;

    const FINKOLO: &str = "sikasso.sikasso.finkolo";
    const GOUANAN: &str = "sikasso.yanfolila.gouanan";
    const SIO: &str = "mopti.mopti.sio";

    fn projection() -> NationalProjection {
        let metrics = MonitoringMetrics::register(&jigi_server::Metrics::new("monitoring"));
        NationalProjection::new(Lags::default(), metrics)
    }

    fn location(commune: &str) -> Option<Location> {
        let parts: Vec<&str> = commune.split('.').collect();
        Some(Location {
            region: parts[0].into(),
            cercle: format!("{}.{}", parts[0], parts[1]),
            commune: commune.into(),
            village: String::new(),
        })
    }

    /// An event as the consumer receives it, decoded by the projection.
    fn event<M: DomainEvent>(region: Region, message: &M, at: &str) -> Decoded<Fact> {
        let mut outgoing = OutgoingEvent::new(region, "x", message);
        outgoing.time = at.parse().unwrap();
        let headers = outgoing.headers();
        let received =
            ReceivedEvent::parse(&outgoing.subject, Some(&headers), outgoing.payload.clone().into(), None).unwrap();
        let effect = projection()
            .decode(&received)
            .unwrap()
            .expect("the monitoring uses every event");
        Decoded {
            meta: EventMeta {
                id: received.id.clone(),
                ce_type: received.ce_type.clone(),
                about: received.about.clone(),
                time: received.time,
                region: received.region(),
                stream_sequence: None,
            },
            effect,
        }
    }

    fn registered(household: &str, commune: &str, on: &str, at: &str) -> Decoded<Fact> {
        let message = ev::HouseholdRegistered {
            household_id: household.into(),
            location: location(commune),
            registered_on: on.into(),
            ..Default::default()
        };
        event(region_of(commune), &message, at)
    }

    fn moved(household: &str, commune: &str, at: &str) -> Decoded<Fact> {
        let message = ev::HouseholdUpdated {
            household_id: household.into(),
            location: location(commune),
            ..Default::default()
        };
        event(region_of(commune), &message, at)
    }

    fn region_of(commune: &str) -> Region {
        commune.split('.').next().unwrap().parse().unwrap()
    }

    fn cycle(id: &str) -> Option<ev::PaymentCycleRef> {
        Some(ev::PaymentCycleRef {
            cycle_id: id.into(),
            region: "sikasso".into(),
            period: Some(Period { code: "2018Q3".into() }),
            funding_source: 1,
            ..Default::default()
        })
    }

    fn totals(count: i64) -> Option<ev::PaymentTotals> {
        Some(ev::PaymentTotals {
            count,
            amount: Some(Money { fcfa: count * 10 }),
        })
    }

    fn round_opened(id: &str, starts_on: &str, at: &str) -> Decoded<Fact> {
        let message = ev::RoundOpened {
            round_id: id.into(),
            year: 2018,
            number: 1,
            starts_on: starts_on.into(),
            ends_on: "2018-08-31".into(),
            communes: vec![location(FINKOLO).unwrap(), location(GOUANAN).unwrap()],
            rations: None,
        };
        event(Region::Sikasso, &message, at)
    }

    fn round_closed(id: &str, at: &str) -> Decoded<Fact> {
        let counts = |children| {
            Some(ev::PnpGroupCounts {
                children,
                pregnant_women: 1,
                lactating_women: 0,
            })
        };
        let message = ev::RoundClosed {
            round_id: id.into(),
            year: 2018,
            number: 1,
            closed_on: "2018-09-01".into(),
            period: Some(Period { code: "2018Q3".into() }),
            communes: vec![
                ev::RoundCommuneSummary {
                    location: location(FINKOLO),
                    planned: counts(5),
                    reached: counts(3),
                    distributed_grams: 18_000,
                    stock_on_hand_grams: 50_000,
                },
                ev::RoundCommuneSummary {
                    location: location(GOUANAN),
                    planned: counts(2),
                    reached: counts(0),
                    distributed_grams: 0,
                    stock_on_hand_grams: 32_000,
                },
            ],
        };
        event(Region::Sikasso, &message, at)
    }

    /// What was stored before the batch: a household, a cycle and a round.
    fn before() -> Vec<Decoded<Fact>> {
        vec![
            round_opened("r1", "2018-08-01", "2018-08-01T07:00:00Z"),
            registered("h0", FINKOLO, "2018-07-01", "2018-07-01T08:00:00Z"),
            event(
                Region::Sikasso,
                &ev::PaymentCycleApproved {
                    cycle: cycle("c2"),
                    control: totals(5),
                    approved_on: "2018-08-01".into(),
                },
                "2018-08-01T12:00:00Z",
            ),
        ]
    }

    /// A batch that folds in every way: households registered, moved,
    /// registered twice, moved before they are known; cycles whose events
    /// arrive out of time order or at the same time; facts kept per event
    /// in numbers that need several multi-row statements; two regions.
    fn batch() -> Vec<Decoded<Fact>> {
        let mut events = vec![
            // Stored before: its second registration is ignored, its last
            // move counts.
            registered("h0", SIO, "2018-09-01", "2018-09-01T08:00:00Z"),
            moved("h0", GOUANAN, "2018-09-02T08:00:00Z"),
            // Registered, moved twice: lives where it moved last.
            registered("h1", FINKOLO, "2018-07-02", "2018-07-02T08:00:00Z"),
            moved("h1", SIO, "2018-07-03T08:00:00Z"),
            moved("h1", GOUANAN, "2018-07-04T08:00:00Z"),
            // Moved before it was known: the move changes nothing.
            moved("h2", GOUANAN, "2018-07-05T08:00:00Z"),
            registered("h2", FINKOLO, "2018-07-06", "2018-07-06T08:00:00Z"),
            // Registered twice: the first registration counts.
            registered("h3", SIO, "2018-07-07", "2018-07-07T08:00:00Z"),
            registered("h3", FINKOLO, "2018-07-08", "2018-07-08T08:00:00Z"),
            // A new cycle: approved, then a freeze that happened before
            // (the status stays, its totals replace the approval's as the
            // upsert does one event after another), then closed.
            event(
                Region::Sikasso,
                &ev::PaymentCycleOpened {
                    cycle: cycle("c1"),
                    ..Default::default()
                },
                "2018-08-01T10:00:00Z",
            ),
            event(
                Region::Sikasso,
                &ev::PaymentCycleApproved {
                    cycle: cycle("c1"),
                    control: totals(4),
                    approved_on: "2018-08-01".into(),
                },
                "2018-08-01T12:00:00Z",
            ),
            event(
                Region::Sikasso,
                &ev::PaymentCycleFrozen {
                    cycle: cycle("c1"),
                    totals: totals(3),
                    ..Default::default()
                },
                "2018-08-01T11:00:00Z",
            ),
            // Closed at the time of its approval: the later in the stream wins.
            event(
                Region::Sikasso,
                &ev::PaymentCycleClosed {
                    cycle: cycle("c1"),
                    control: None,
                    ..Default::default()
                },
                "2018-08-01T12:00:00Z",
            ),
            // The stored cycle: closed at the time of its approval (the later
            // in the stream wins), then a cancellation that happened before.
            event(
                Region::Sikasso,
                &ev::PaymentCycleClosed {
                    cycle: cycle("c2"),
                    control: None,
                    ..Default::default()
                },
                "2018-08-01T12:00:00Z",
            ),
            event(
                Region::Sikasso,
                &ev::PaymentCycleCancelled {
                    cycle: cycle("c2"),
                    ..Default::default()
                },
                "2018-08-01T09:00:00Z",
            ),
        ];
        for n in 0..300 {
            let commune = if n % 3 == 0 { SIO } else { FINKOLO };
            let household = format!("e{n}");
            let message = ev::HouseholdEnrolled {
                household_id: household,
                component: jigi_proto::common::Component::Tm as i32,
                enrolled_on: "2018-07-15".into(),
                location: location(commune),
                size: 4,
                committee_override: false,
            };
            events.push(event(
                region_of(commune),
                &message,
                &format!("2018-07-15T08:{:02}:00Z", n % 60),
            ));
        }
        for n in 0..140 {
            let message = ev::PaymentMade {
                cycle: cycle("c1"),
                household_id: format!("p{n}"),
                location: location(FINKOLO),
                amount: Some(Money { fcfa: 10 }),
                paid_on: "2018-08-15".into(),
                ..Default::default()
            };
            events.push(event(Region::Sikasso, &message, "2018-08-15T08:00:00Z"));
        }
        for n in 0..3 {
            let message = ev::RationDistributed {
                round_id: "r1".into(),
                location: location(FINKOLO),
                group: ev::BeneficiaryGroup::Child as i32,
                grams: 6_000,
                distributed_on: "2018-08-02".into(),
                household_id: format!("d{n}"),
                member_id: format!("d{n}-m"),
                warehouse_id: "w1".into(),
                stock_on_hand_grams: 100_000 - 6_000 * (n + 1),
                ..Default::default()
            };
            events.push(event(Region::Sikasso, &message, "2018-08-02T10:00:00Z"));
        }
        let transfer = ev::StockTransferred {
            from_warehouse_id: "w1".into(),
            from_location: location(FINKOLO),
            from_stock_on_hand_grams: 50_000,
            to_warehouse_id: "w2".into(),
            to_location: location(GOUANAN),
            to_stock_on_hand_grams: 32_000,
            ..Default::default()
        };
        events.push(event(Region::Sikasso, &transfer, "2018-08-03T10:00:00Z"));
        let loss = ev::StockLost {
            movement_id: "l1".into(),
            warehouse_id: "w1".into(),
            location: location(FINKOLO),
            grams: 2_000,
            reason: ev::StockLossReason::Damaged as i32,
            occurred_on: "2018-08-04".into(),
            stock_on_hand_grams: 48_000,
            ..Default::default()
        };
        events.push(event(Region::Sikasso, &loss, "2018-08-04T10:00:00Z"));
        // The stored round closes; a new one opens and closes, its closing
        // applied before its opening's time (the status stays closed).
        events.push(round_closed("r1", "2018-09-01T10:00:00Z"));
        events.push(round_closed("r2", "2018-09-01T10:00:00Z"));
        events.push(round_opened("r2", "2018-06-20", "2018-06-20T07:00:00Z"));
        // An event the indicators do not use still says its region is alive.
        events.push(event(
            Region::Mopti,
            &ev::MemberAdded {
                household_id: "h3".into(),
                ..Default::default()
            },
            "2018-09-30T08:00:00Z",
        ));
        events
    }

    async fn database(dir: &std::path::Path, name: &str) -> Database {
        Database::open(&jigi_testkit::database_url(dir, name).await, crate::storage::MIGRATIONS)
            .await
            .unwrap()
    }

    async fn apply(db: &Database, projection: &NationalProjection, events: Vec<Decoded<Fact>>) {
        let projection = NationalProjection::new(projection.lags.clone(), projection.metrics.clone());
        db.write(move |conn| projection.apply(conn, &events)).await.unwrap();
    }

    /// Every stored fact, table by table, in a fixed order (the time a
    /// batch was received excepted).
    async fn contents(db: &Database) -> Vec<(&'static str, Vec<Vec<Stored>>)> {
        db.read(|conn| {
            let mut tables = Vec::new();
            for (table, sql) in [
                ("households", "SELECT * FROM facts_households ORDER BY household_id"),
                ("enrolments", "SELECT * FROM facts_enrolment_events ORDER BY event_id"),
                ("payments", "SELECT * FROM facts_payments ORDER BY event_id"),
                ("cycles", "SELECT * FROM facts_cycles ORDER BY cycle_id"),
                ("distributions", "SELECT * FROM facts_distributions ORDER BY event_id"),
                ("stock", "SELECT * FROM facts_stock ORDER BY event_id"),
                ("losses", "SELECT * FROM facts_stock_losses ORDER BY event_id"),
                ("rounds", "SELECT * FROM facts_rounds ORDER BY round_id"),
                (
                    "round communes",
                    "SELECT * FROM facts_round_communes ORDER BY round_id, commune",
                ),
                (
                    "activity",
                    "SELECT region, last_event_time, events_received FROM region_activity ORDER BY region",
                ),
            ] {
                let rows = conn
                    .query(sql, params![])?
                    .iter()
                    .map(|row| (0..row.len()).map(|i| row.stored(i).unwrap().clone()).collect())
                    .collect();
                tables.push((table, rows));
            }
            Ok::<_, StorageError>(tables)
        })
        .await
        .unwrap()
    }

    fn text(value: &str) -> Stored {
        Stored::Text(value.to_owned())
    }

    #[tokio::test]
    async fn a_batch_stores_what_its_events_store_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let projection = projection();
        let (together, one_by_one) = (
            database(dir.path(), "together").await,
            database(dir.path(), "apart").await,
        );
        let (before, batch) = (before(), batch());
        for db in [&together, &one_by_one] {
            apply(db, &projection, before.clone()).await;
        }
        apply(&together, &projection, batch.clone()).await;
        for event in batch {
            apply(&one_by_one, &projection, vec![event]).await;
        }
        let stored = contents(&together).await;
        for ((table, together), (_, apart)) in stored.iter().zip(contents(&one_by_one).await) {
            assert!(*together == apart, "{table} differ: {together:?} against {apart:?}");
        }

        let table = |name: &str| stored.iter().find(|(table, _)| *table == name).unwrap().1.clone();
        // household_id, region, cercle, commune, registered_on
        let households: Vec<(Stored, Stored, Stored)> = table("households")
            .into_iter()
            .map(|row| (row[0].clone(), row[3].clone(), row[4].clone()))
            .collect();
        assert_eq!(
            households,
            [
                (text("h0"), text(GOUANAN), text("2018-07-01")),
                (text("h1"), text(GOUANAN), text("2018-07-02")),
                (text("h2"), text(FINKOLO), text("2018-07-06")),
                (text("h3"), text(SIO), text("2018-07-07")),
            ]
        );
        // cycle_id, region, period, funding_source, expected_households,
        // expected_amount, status, status_time
        let cycles: Vec<(Stored, Stored, Stored)> = table("cycles")
            .into_iter()
            .map(|row| (row[0].clone(), row[4].clone(), row[6].clone()))
            .collect();
        assert_eq!(
            cycles,
            [
                (text("c1"), Stored::Int(3), text("closed")),
                (text("c2"), Stored::Int(5), text("closed")),
            ]
        );
        assert_eq!(table("enrolments").len(), 300);
        assert_eq!(table("payments").len(), 140);
        assert_eq!(table("distributions").len(), 3);
        assert_eq!(
            table("stock").len(),
            6,
            "three rations, both ends of a transfer and a loss"
        );
        assert_eq!(table("losses").len(), 1);
        assert_eq!(table("round communes").len(), 4, "two communes in each of two rounds");
        // round_id, status, period, starts_on, has_control, planned children, reported grams
        let rounds: Vec<Vec<Stored>> = table("rounds")
            .into_iter()
            .map(|row| {
                vec![
                    row[0].clone(),
                    row[8].clone(),
                    row[4].clone(),
                    row[5].clone(),
                    row[10].clone(),
                    row[11].clone(),
                    row[17].clone(),
                ]
            })
            .collect();
        assert_eq!(
            rounds,
            [
                vec![
                    text("r1"),
                    text("closed"),
                    text("2018Q3"),
                    text("2018-08-01"),
                    Stored::Int(1),
                    Stored::Int(7),
                    Stored::Int(18_000)
                ],
                // Its opening, applied after its closing, sets its days and
                // period (the quarter of its first day) but not its status.
                vec![
                    text("r2"),
                    text("closed"),
                    text("2018Q2"),
                    text("2018-06-20"),
                    Stored::Int(1),
                    Stored::Int(7),
                    Stored::Int(18_000)
                ],
            ]
        );
        assert_eq!(
            table("activity"),
            [
                // h0's second registration, h1's first move, h3's first
                // registration, 100 enrolments, a member added.
                vec![text("mopti"), text("2018-09-30T08:00:00.000000Z"), Stored::Int(104)],
                // 3 before the batch, 6 registrations and moves, 6 cycle
                // events, 200 enrolments, 140 payments, 3 rations, a
                // transfer, a loss, 3 round events.
                vec![text("sikasso"), text("2018-09-02T08:00:00.000000Z"), Stored::Int(363)],
            ]
        );
    }

    #[tokio::test]
    async fn facts_written_again_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(dir.path(), "again").await;
        let projection = projection();
        let batch = batch();
        apply(&db, &projection, batch.clone()).await;
        let first = contents(&db).await;
        // Outside the inbox (which never applies an event twice), a repeat
        // of the facts kept per event is ignored by their event IDs.
        let again: Vec<Decoded<Fact>> = batch
            .into_iter()
            .filter(|event| {
                matches!(
                    event.effect,
                    Fact::Enrolment(_)
                        | Fact::Payment(_)
                        | Fact::Distribution(..)
                        | Fact::Transfer(..)
                        | Fact::Loss(..)
                        | Fact::Round(_)
                )
            })
            .collect();
        assert_eq!(again.len(), 300 + 140 + 3 + 1 + 1 + 3);
        apply(&db, &projection, again).await;
        let second = contents(&db).await;
        for ((table, before), (_, after)) in first.iter().zip(&second) {
            if *table != "activity" {
                assert!(before == after, "{table} changed: {before:?} became {after:?}");
            }
        }
    }

    #[tokio::test]
    async fn lags_are_measured_after_the_commit_not_before() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(dir.path(), "lags").await;
        let projection = projection();
        let recent = (Utc::now() - chrono::Duration::seconds(20)).to_rfc3339();
        let events = vec![
            registered("h1", FINKOLO, "2018-07-02", &recent),
            registered("h2", SIO, "2018-07-02", &recent),
            registered("h3", SIO, "2018-07-02", &recent),
        ];
        let metas: Vec<EventMeta> = events.iter().map(|event| event.meta.clone()).collect();
        // A batch whose transaction fails measures nothing…
        let failing = NationalProjection::new(projection.lags.clone(), projection.metrics.clone());
        let batch = events.clone();
        let failed = db
            .write(move |conn| {
                failing.apply(conn, &batch)?;
                Err::<(), _>(StorageError::Sql("the batch fails after its facts".into()))
            })
            .await;
        assert!(failed.is_err());
        assert!(
            projection.lags.lock().unwrap().is_empty(),
            "nothing measured before a commit"
        );
        // …nor does applying one: only the commit's notice does.
        apply(&db, &projection, events).await;
        assert!(
            projection.lags.lock().unwrap().is_empty(),
            "nothing measured inside the transaction"
        );
        projection.committed(&metas);
        let lags = projection.lags.lock().unwrap().clone();
        let sikasso = lags.get("sikasso").expect("Sikasso measured");
        let mopti = lags.get("mopti").expect("Mopti measured");
        assert!(
            (20.0..60.0).contains(&sikasso.quantile(0.5)),
            "{}",
            sikasso.quantile(0.5)
        );
        assert!((20.0..60.0).contains(&mopti.quantile(0.99)), "{}", mopti.quantile(0.99));
    }
}
