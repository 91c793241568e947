//! Turning the national stream's events into facts.
//!
//! One handler for every region's events; each event's facts are written in
//! the inbox's transaction, so an event counts once however often it is
//! delivered. Events the monitoring does not use are recorded and skipped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use jigi_bus::{EventHandler, HandlerError, ReceivedEvent};
use jigi_common::Component;
use jigi_proto::common::Location;
use jigi_proto::events as ev;
use sqlx::AnyConnection;

use crate::domain::freshness::LagWindow;
use crate::metrics::MonitoringMetrics;
use crate::storage::facts::{self, EnrolmentFact, EnrolmentKind, Place};

/// Recent lags per region, shared with the API.
pub type Lags = Arc<Mutex<HashMap<String, LagWindow>>>;

/// The national stream's handler.
pub struct NationalHandler {
    pub lags: Lags,
    pub metrics: MonitoringMetrics,
}

impl EventHandler for NationalHandler {
    async fn handle(&self, conn: &mut AnyConnection, event: &ReceivedEvent) -> Result<(), HandlerError> {
        let region = event
            .region()
            .ok_or_else(|| HandlerError::Permanent(format!("subject {} names no known region", event.subject)))?;
        if event.is::<ev::HouseholdRegistered>() {
            let message: ev::HouseholdRegistered = event.decode()?;
            let place = place(message.location.as_ref())?;
            facts::household_registered(conn, &message.household_id, &place, &message.registered_on).await?;
        } else if event.is::<ev::HouseholdUpdated>() {
            let message: ev::HouseholdUpdated = event.decode()?;
            facts::household_moved(conn, &message.household_id, &place(message.location.as_ref())?).await?;
        } else if event.is::<ev::HouseholdEnrolled>() {
            let message: ev::HouseholdEnrolled = event.decode()?;
            let fact = EnrolmentFact {
                event_id: &event.id,
                household_id: &message.household_id,
                component: component(message.component)?,
                kind: EnrolmentKind::Enrolled,
                effective_on: &message.enrolled_on,
                event_time: event.time,
                place: place(message.location.as_ref())?,
            };
            facts::enrolment(conn, &fact).await?;
        } else if event.is::<ev::HouseholdExited>() {
            let message: ev::HouseholdExited = event.decode()?;
            let fact = EnrolmentFact {
                event_id: &event.id,
                household_id: &message.household_id,
                component: component(message.component)?,
                kind: EnrolmentKind::Exited,
                effective_on: &message.exited_on,
                event_time: event.time,
                place: place(message.location.as_ref())?,
            };
            facts::enrolment(conn, &fact).await?;
        } else if event.ce_type.starts_with("jigi.payments.") {
            payments(conn, event).await?;
        } else if event.ce_type.starts_with("jigi.nutrition.") {
            nutrition(conn, event).await?;
        }
        let now = Utc::now();
        facts::region_heard(conn, region.slug(), event.time, now).await?;
        let lag = (now - event.time).to_std().unwrap_or_default().as_secs_f64();
        self.lags
            .lock()
            .expect("lag lock")
            .entry(region.slug().to_owned())
            .or_default()
            .record(lag);
        self.metrics.event_handled(region.slug(), lag);
        Ok(())
    }
}

/// Cycle and payment events into facts.
async fn payments(conn: &mut AnyConnection, event: &ReceivedEvent) -> Result<(), HandlerError> {
    let cycle = |cycle: Option<ev::PaymentCycleRef>, status: &'static str, expected: Option<&ev::PaymentTotals>| {
        let cycle = cycle.ok_or_else(|| HandlerError::Permanent("payment event without its cycle".into()))?;
        let totals = expected.map(|t| (t.count, t.amount.as_ref().map(|m| m.fcfa).unwrap_or(0)));
        Ok::<_, HandlerError>((cycle, status, totals))
    };
    let (reference, status, expected) = if event.is::<ev::PaymentCycleOpened>() {
        let m: ev::PaymentCycleOpened = event.decode()?;
        cycle(m.cycle, "opened", None)?
    } else if event.is::<ev::PaymentCycleFrozen>() {
        let m: ev::PaymentCycleFrozen = event.decode()?;
        cycle(m.cycle, "frozen", m.totals.as_ref())?
    } else if event.is::<ev::PaymentCycleApproved>() {
        let m: ev::PaymentCycleApproved = event.decode()?;
        cycle(m.cycle, "approved", m.control.as_ref())?
    } else if event.is::<ev::PaymentCycleClosed>() {
        let m: ev::PaymentCycleClosed = event.decode()?;
        cycle(m.cycle, "closed", m.control.as_ref())?
    } else if event.is::<ev::PaymentCycleCancelled>() {
        let m: ev::PaymentCycleCancelled = event.decode()?;
        cycle(m.cycle, "cancelled", None)?
    } else {
        let (reference, household_id, location, amount, outcome, on) = if event.is::<ev::PaymentMade>() {
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
            return Ok(());
        };
        let reference = reference.ok_or_else(|| HandlerError::Permanent("payment event without its cycle".into()))?;
        let fact = facts::PaymentFact {
            event_id: &event.id,
            cycle_id: &reference.cycle_id,
            household_id: &household_id,
            place: place(location.as_ref())?,
            period: reference.period.as_ref().map(|p| p.code.as_str()).unwrap_or_default(),
            funding_source: i64::from(reference.funding_source),
            outcome,
            amount: amount.map(|m| m.fcfa).unwrap_or(0),
            occurred_on: &on,
        };
        facts::payment(conn, &fact).await?;
        return Ok(());
    };
    let fact = facts::CycleFact {
        cycle_id: &reference.cycle_id,
        region: &reference.region,
        period: reference.period.as_ref().map(|p| p.code.as_str()).unwrap_or_default(),
        funding_source: i64::from(reference.funding_source),
        expected,
        status,
        event_time: event.time,
    };
    facts::cycle(conn, &fact).await?;
    Ok(())
}

/// Distribution and stock events into facts.
async fn nutrition(conn: &mut AnyConnection, event: &ReceivedEvent) -> Result<(), HandlerError> {
    if event.is::<ev::RationDistributed>() {
        let m: ev::RationDistributed = event.decode()?;
        let place = place(m.location.as_ref())?;
        let group = match ev::BeneficiaryGroup::try_from(m.group) {
            Ok(ev::BeneficiaryGroup::Child) => "child",
            Ok(ev::BeneficiaryGroup::PregnantWoman) => "pregnant",
            Ok(ev::BeneficiaryGroup::LactatingWoman) => "lactating",
            _ => {
                return Err(HandlerError::Permanent(format!(
                    "unknown beneficiary group {}",
                    m.group
                )));
            }
        };
        jigi_telemetry::programme::record_household(&m.household_id);
        jigi_telemetry::programme::record_round(&m.round_id);
        let fact = facts::DistributionFact {
            event_id: &event.id,
            round_id: &m.round_id,
            household_id: &m.household_id,
            member_id: &m.member_id,
            place: place.clone(),
            group,
            grams: m.grams,
            distributed_on: &m.distributed_on,
        };
        facts::distribution(conn, &fact).await?;
        facts::stock(
            conn,
            &event.id,
            &m.warehouse_id,
            &place,
            m.stock_on_hand_grams,
            event.time,
        )
        .await?;
    } else if event.is::<ev::StockReceived>() {
        let m: ev::StockReceived = event.decode()?;
        facts::stock(
            conn,
            &event.id,
            &m.warehouse_id,
            &place(m.location.as_ref())?,
            m.stock_on_hand_grams,
            event.time,
        )
        .await?;
    } else if event.is::<ev::StockLost>() {
        let m: ev::StockLost = event.decode()?;
        facts::stock(
            conn,
            &event.id,
            &m.warehouse_id,
            &place(m.location.as_ref())?,
            m.stock_on_hand_grams,
            event.time,
        )
        .await?;
    } else if event.is::<ev::StockTransferred>() {
        let m: ev::StockTransferred = event.decode()?;
        let from = place(m.from_location.as_ref())?;
        let to = place(m.to_location.as_ref())?;
        facts::stock(
            conn,
            &format!("{}:from", event.id),
            &m.from_warehouse_id,
            &from,
            m.from_stock_on_hand_grams,
            event.time,
        )
        .await?;
        facts::stock(
            conn,
            &format!("{}:to", event.id),
            &m.to_warehouse_id,
            &to,
            m.to_stock_on_hand_grams,
            event.time,
        )
        .await?;
    }
    Ok(())
}

fn place(location: Option<&Location>) -> Result<Place, HandlerError> {
    let location = location.ok_or_else(|| HandlerError::Permanent("event has no location".into()))?;
    if location.region.is_empty() || location.commune.is_empty() {
        return Err(HandlerError::Permanent(
            "event location lacks its region or commune".into(),
        ));
    }
    Ok(Place {
        region: location.region.clone(),
        cercle: location.cercle.clone(),
        commune: location.commune.clone(),
    })
}

fn component(value: i32) -> Result<Component, HandlerError> {
    Component::from_proto(value).ok_or_else(|| HandlerError::Permanent(format!("unknown component {value}")))
}
