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

/// A cycle's state as its latest event tells it. An older event arriving
/// late does not overwrite a newer one.
#[derive(Debug, Clone)]
pub struct CycleFact<'a> {
    pub cycle_id: &'a str,
    pub region: &'a str,
    pub period: &'a str,
    pub funding_source: i64,
    /// Control totals when the event carries them.
    pub expected: Option<(i64, i64)>,
    pub status: &'a str,
    pub event_time: DateTime<Utc>,
}

pub async fn cycle(conn: &mut AnyConnection, fact: &CycleFact<'_>) -> Result<(), sqlx::Error> {
    let (count, amount) = fact.expected.unwrap_or((0, 0));
    let has_totals = i64::from(fact.expected.is_some());
    sqlx::query(
        "INSERT INTO facts_cycles (cycle_id, region, period, funding_source, expected_households, expected_amount, \
         status, status_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (cycle_id) DO UPDATE SET \
         expected_households = CASE WHEN $9 = 1 THEN $5 ELSE facts_cycles.expected_households END, \
         expected_amount = CASE WHEN $9 = 1 THEN $6 ELSE facts_cycles.expected_amount END, \
         status = CASE WHEN facts_cycles.status_time <= $8 THEN $7 ELSE facts_cycles.status END, \
         status_time = CASE WHEN facts_cycles.status_time <= $8 THEN $8 ELSE facts_cycles.status_time END",
    )
    .bind(fact.cycle_id.to_owned())
    .bind(fact.region.to_owned())
    .bind(fact.period.to_owned())
    .bind(fact.funding_source)
    .bind(count)
    .bind(amount)
    .bind(fact.status.to_owned())
    .bind(timestamp::format(fact.event_time))
    .bind(has_totals)
    .execute(conn)
    .await?;
    Ok(())
}

/// One payment result.
#[derive(Debug, Clone)]
pub struct PaymentFact<'a> {
    pub event_id: &'a str,
    pub cycle_id: &'a str,
    pub household_id: &'a str,
    pub place: Place,
    pub period: &'a str,
    pub funding_source: i64,
    /// `paid`, `failed` or `not_collected`.
    pub outcome: &'static str,
    pub amount: i64,
    pub occurred_on: &'a str,
}

pub async fn payment(conn: &mut AnyConnection, fact: &PaymentFact<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO facts_payments (event_id, cycle_id, household_id, region, cercle, commune, period, funding_source, \
         outcome, amount, occurred_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(fact.event_id.to_owned())
    .bind(fact.cycle_id.to_owned())
    .bind(fact.household_id.to_owned())
    .bind(fact.place.region.clone())
    .bind(fact.place.cercle.clone())
    .bind(fact.place.commune.clone())
    .bind(fact.period.to_owned())
    .bind(fact.funding_source)
    .bind(fact.outcome)
    .bind(fact.amount)
    .bind(fact.occurred_on.to_owned())
    .execute(conn)
    .await?;
    Ok(())
}

/// One ration given.
#[derive(Debug, Clone)]
pub struct DistributionFact<'a> {
    pub event_id: &'a str,
    pub round_id: &'a str,
    pub household_id: &'a str,
    pub member_id: &'a str,
    pub place: Place,
    /// `child`, `pregnant` or `lactating`.
    pub group: &'static str,
    pub grams: i64,
    pub distributed_on: &'a str,
}

pub async fn distribution(conn: &mut AnyConnection, fact: &DistributionFact<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO facts_distributions (event_id, round_id, household_id, member_id, region, cercle, commune, \
         beneficiary_group, grams, distributed_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(fact.event_id.to_owned())
    .bind(fact.round_id.to_owned())
    .bind(fact.household_id.to_owned())
    .bind(fact.member_id.to_owned())
    .bind(fact.place.region.clone())
    .bind(fact.place.cercle.clone())
    .bind(fact.place.commune.clone())
    .bind(fact.group)
    .bind(fact.grams)
    .bind(fact.distributed_on.to_owned())
    .execute(conn)
    .await?;
    Ok(())
}

/// A warehouse's stock as a movement left it.
pub async fn stock(
    conn: &mut AnyConnection,
    fact_id: &str,
    warehouse_id: &str,
    place: &Place,
    on_hand_grams: i64,
    event_time: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO facts_stock (event_id, warehouse_id, region, cercle, commune, on_hand_grams, event_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(fact_id.to_owned())
    .bind(warehouse_id.to_owned())
    .bind(place.region.clone())
    .bind(place.cercle.clone())
    .bind(place.commune.clone())
    .bind(on_hand_grams)
    .bind(timestamp::format(event_time))
    .execute(conn)
    .await?;
    Ok(())
}
