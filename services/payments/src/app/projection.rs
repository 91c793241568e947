//! Applies the registry's events to the projection of households that may
//! be paid. Run by the inbox consumer a pull batch at a time: each event is
//! decoded and checked on its own ([`EventHandler::decode`], no I/O); the
//! batch's new events are then applied together, in stream order, in the
//! transaction that records them as handled — each household of the batch
//! loaded once and written once, however many of its events the batch
//! holds. The inbox has already dropped the events it handled before, so
//! each event is applied exactly once.

use std::collections::{HashMap, HashSet};

use jigi_bus::envelope::format_time;
use jigi_bus::{Decoded, EventHandler, ReceivedEvent, Rejection};
use jigi_proto::common::{Component, Location};
use jigi_proto::events::{HouseholdEnrolled, HouseholdExited, HouseholdUpdated};
use jigi_storage::{Conn, StorageError};

use crate::domain::model::Place;
use crate::domain::projection::{self, Change, Tracked};
use crate::storage;

/// The registry's events, as the payments service reads them.
#[derive(Debug, Default, Clone, Copy)]
pub struct RegistryProjection;

/// What one registry event changes for TM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryChange {
    pub household_id: String,
    pub change: Change,
    /// Where the event stands in the registry's order (see [`order_key`]).
    pub at: String,
}

impl EventHandler for RegistryProjection {
    type Effect = RegistryChange;

    fn decode(&self, event: &ReceivedEvent) -> Result<Option<RegistryChange>, Rejection> {
        let Some((household_id, change)) = change_of(event)? else {
            return Ok(None);
        };
        if household_id.is_empty() {
            return Err(Rejection("event names no household".into()));
        }
        Ok(Some(RegistryChange {
            household_id,
            change,
            at: order_key(event),
        }))
    }

    fn apply(&self, conn: &mut Conn, events: &[Decoded<RegistryChange>]) -> Result<(), StorageError> {
        // Each household of the batch, read once, in the order first seen.
        let mut order: Vec<&str> = Vec::new();
        let mut seen = HashSet::with_capacity(events.len());
        for event in events {
            if seen.insert(event.effect.household_id.as_str()) {
                order.push(&event.effect.household_id);
            }
        }
        let mut households: HashMap<String, Tracked> = storage::tracked_households(conn, &order)?;
        let mut changed: HashSet<&str> = HashSet::new();
        for event in events {
            let RegistryChange {
                household_id,
                change,
                at,
            } = &event.effect;
            let current = households.remove(household_id);
            let next = projection::apply(current.clone(), household_id, change.clone(), at);
            if current.as_ref() != Some(&next) {
                changed.insert(household_id);
            }
            households.insert(household_id.clone(), next);
        }
        let to_save: Vec<&Tracked> = order
            .iter()
            .filter(|id| changed.contains(*id))
            .map(|id| &households[*id])
            .collect();
        storage::save_tracked(conn, &to_save)
    }
}

/// Where an event stands in the registry's order: its position in the
/// region's stream (the registry's outbox publishes one household's events
/// in order), then its time. A redelivered event may arrive after newer
/// ones; its key tells the projection it is older.
fn order_key(event: &ReceivedEvent) -> String {
    format!("{:020}/{}", event.stream_sequence.unwrap_or(0), format_time(event.time))
}

/// What an event changes for TM; `None` for events that do not concern it.
fn change_of(event: &ReceivedEvent) -> Result<Option<(String, Change)>, Rejection> {
    let tm = Component::Tm as i32;
    if event.is::<HouseholdEnrolled>() {
        let m: HouseholdEnrolled = event.decode()?;
        if m.component != tm {
            return Ok(None);
        }
        let place = place(m.location.as_ref(), event)?;
        return Ok(Some((
            m.household_id,
            Change::Enrolled {
                place,
                on: m.enrolled_on,
            },
        )));
    }
    if event.is::<HouseholdExited>() {
        let m: HouseholdExited = event.decode()?;
        if m.component != tm {
            return Ok(None);
        }
        let place = place(m.location.as_ref(), event)?;
        return Ok(Some((m.household_id, Change::Exited { place, on: m.exited_on })));
    }
    if event.is::<HouseholdUpdated>() {
        let m: HouseholdUpdated = event.decode()?;
        let place = place(m.location.as_ref(), event)?;
        return Ok(Some((m.household_id, Change::Moved { place })));
    }
    Ok(None)
}

/// The place an event gives; the region and cercle follow from the commune
/// code when an event leaves them out.
fn place(location: Option<&Location>, event: &ReceivedEvent) -> Result<Place, Rejection> {
    let Some(location) = location.filter(|l| !l.commune.is_empty()) else {
        return Err(Rejection(format!(
            "{} event {} has no commune",
            event.ce_type, event.id
        )));
    };
    let mut parts = location.commune.rsplitn(2, '.');
    parts.next();
    let cercle_of_commune = parts.next().unwrap_or_default();
    let region_of_commune = location.commune.split('.').next().unwrap_or_default();
    let place = Place {
        region: if location.region.is_empty() {
            region_of_commune.to_owned()
        } else {
            location.region.clone()
        },
        cercle: if location.cercle.is_empty() {
            cercle_of_commune.to_owned()
        } else {
            location.cercle.clone()
        },
        commune: location.commune.clone(),
        village: location.village.clone(),
    };
    if let Some(region) = event.region()
        && region.slug() != place.region
    {
        return Err(Rejection(format!(
            "event {} on {} places the household in {}",
            event.id, event.subject, place.region
        )));
    }
    Ok(place)
}
