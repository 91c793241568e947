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
