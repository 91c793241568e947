//! Writing facts drawn from events. Every insert ignores a fact already
//! recorded (same event ID), so handling an event twice changes nothing.

use chrono::{DateTime, Utc};
use jigi_common::Component;
use jigi_storage::timestamp;
use sqlx::AnyConnection;

/// Where a fact happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub region: String,
    pub cercle: String,
    pub commune: String,
}

pub async fn household_registered(
    conn: &mut AnyConnection,
    household_id: &str,
    place: &Place,
    registered_on: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO facts_households (household_id, region, cercle, commune, registered_on) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (household_id) DO NOTHING",
    )
    .bind(household_id.to_owned())
    .bind(place.region.clone())
    .bind(place.cercle.clone())
    .bind(place.commune.clone())
    .bind(registered_on.to_owned())
    .execute(conn)
    .await?;
    Ok(())
}

/// A household moved: its registration counts where it lives now.
pub async fn household_moved(conn: &mut AnyConnection, household_id: &str, place: &Place) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE facts_households SET region = $1, cercle = $2, commune = $3 WHERE household_id = $4")
        .bind(place.region.clone())
        .bind(place.cercle.clone())
        .bind(place.commune.clone())
        .bind(household_id.to_owned())
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether an enrolment fact says the household entered or left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrolmentKind {
    Enrolled,
    Exited,
}

/// One enrolment or exit.
#[derive(Debug, Clone)]
pub struct EnrolmentFact<'a> {
    pub event_id: &'a str,
    pub household_id: &'a str,
    pub component: Component,
    pub kind: EnrolmentKind,
    pub effective_on: &'a str,
    pub event_time: DateTime<Utc>,
    pub place: Place,
}

pub async fn enrolment(conn: &mut AnyConnection, fact: &EnrolmentFact<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO facts_enrolment_events (event_id, household_id, component, kind, effective_on, event_time, \
         region, cercle, commune) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(fact.event_id.to_owned())
    .bind(fact.household_id.to_owned())
    .bind(fact.component.code())
    .bind(match fact.kind {
        EnrolmentKind::Enrolled => "enrolled",
        EnrolmentKind::Exited => "exited",
    })
    .bind(fact.effective_on.to_owned())
    .bind(timestamp::format(fact.event_time))
    .bind(fact.place.region.clone())
    .bind(fact.place.cercle.clone())
    .bind(fact.place.commune.clone())
    .execute(conn)
    .await?;
    Ok(())
}

/// Notes that an event from `region` arrived now.
pub async fn region_heard(
    conn: &mut AnyConnection,
    region: &str,
    event_time: DateTime<Utc>,
    received_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let event_time = timestamp::format(event_time);
    sqlx::query(
        "INSERT INTO region_activity (region, last_event_time, last_received_at, events_received) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (region) DO UPDATE SET \
         last_event_time = CASE WHEN region_activity.last_event_time < $2 THEN $2 ELSE region_activity.last_event_time END, \
         last_received_at = $3, events_received = region_activity.events_received + 1",
    )
    .bind(region.to_owned())
    .bind(event_time)
    .bind(timestamp::format(received_at))
    .execute(conn)
    .await?;
    Ok(())
}
