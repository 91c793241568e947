//! Applies the registry's events to the projection of households that may
//! be paid. Run by the inbox consumer: each event is applied once, in the
//! transaction that records it as handled.

use jigi_bus::envelope::format_time;
use jigi_bus::{EventHandler, HandlerError, ReceivedEvent};
use jigi_proto::common::{Component, Location};
use jigi_proto::events::{HouseholdEnrolled, HouseholdExited, HouseholdUpdated};
use sqlx::AnyConnection;

use crate::domain::model::Place;
use crate::domain::projection::{self, Change};
use crate::storage;

/// The registry's events, as the payments service reads them.
#[derive(Debug, Default, Clone, Copy)]
pub struct RegistryProjection;

impl EventHandler for RegistryProjection {
    async fn handle(&self, conn: &mut AnyConnection, event: &ReceivedEvent) -> Result<(), HandlerError> {
        let Some((household_id, change)) = change_of(event)? else {
            return Ok(());
        };
        if household_id.is_empty() {
            return Err(HandlerError::Permanent("event names no household".into()));
        }
        let at = order_key(event);
        let current = storage::tracked_household(conn, &household_id).await?;
        let next = projection::apply(current.clone(), &household_id, change, &at);
        if current.as_ref() != Some(&next) {
            storage::save_tracked(conn, &next).await?;
        }
        Ok(())
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
fn change_of(event: &ReceivedEvent) -> Result<Option<(String, Change)>, HandlerError> {
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
fn place(location: Option<&Location>, event: &ReceivedEvent) -> Result<Place, HandlerError> {
    let Some(location) = location.filter(|l| !l.commune.is_empty()) else {
        return Err(HandlerError::Permanent(format!(
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
        return Err(HandlerError::Permanent(format!(
            "event {} on {} places the household in {}",
            event.id, event.subject, place.region
        )));
    }
    Ok(place)
}
