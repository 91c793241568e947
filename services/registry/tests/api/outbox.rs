//! The outbox: with NATS down, the registry keeps working; when NATS comes
//! back, every event arrives exactly once, in order per household.

use std::collections::{HashMap, HashSet};

use jigi_proto::common::Component;
use jigi_proto::registry::*;

use crate::helpers::{household, spawn_app, today};

#[tokio::test]
async fn registrations_succeed_while_nats_is_down_and_arrive_once_in_order() {
    let mut app = spawn_app().await;
    let first = app.register(household(0)).await;
    app.events(1).await;

    app.nats.stop().await;
    let mut ids = vec![first.household_id.clone()];
    for seed in 1..=20 {
        ids.push(app.register(household(seed)).await.household_id);
    }
    // Several events for some households while the link is down.
    for id in ids.iter().take(5) {
        app.client
            .enrol_household(EnrolHouseholdRequest {
                household_id: id.clone(),
                component: Component::Tm as i32,
                enrolled_on: today(),
                committee_override: String::new(),
            })
            .await
            .expect("enrolment succeeds while NATS is down");
        app.client
            .exit_household(ExitHouseholdRequest {
                household_id: id.clone(),
                component: Component::Tm as i32,
                exited_on: today(),
                reason: ExitReason::Voluntary as i32,
                note: String::new(),
            })
            .await
            .unwrap();
    }
    let pending = jigi_bus::outbox::pending(&app.running.as_ref().unwrap().database)
        .await
        .unwrap();
    assert_eq!(
        pending, 30,
        "20 registrations and 10 enrol/exit events wait in the outbox"
    );

    app.nats.restart().await;
    let events = app.events(31).await;
    let unique: HashSet<_> = events.iter().map(|e| e.id.clone()).collect();
    assert_eq!(unique.len(), 31, "no event twice");
    let mut per_household: HashMap<String, Vec<String>> = HashMap::new();
    for event in &events {
        per_household
            .entry(event.about.clone())
            .or_default()
            .push(event.ce_type.clone());
    }
    for id in ids.iter().take(5).skip(1) {
        assert_eq!(
            per_household[id],
            [
                "jigi.registry.household.registered.v1",
                "jigi.registry.household.enrolled.v1",
                "jigi.registry.household.exited.v1",
            ],
            "events of {id} in order"
        );
    }
}

#[tokio::test]
async fn a_registry_started_while_nats_is_down_publishes_when_it_comes_up() {
    let mut app = spawn_app().await;
    app.nats.stop().await;
    // Restart the registry itself while NATS is unreachable.
    app.shutdown.cancel();
    app.running.take().unwrap().stopped().await;
    let dir = tempfile::tempdir().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let database = jigi_testkit::database_url(dir.path(), "r").await;
    let (running, client) =
        crate::helpers::start_registry(app.region, &app.nats, &app.access, &database, &shutdown).await;
    app.client = client;
    app.running = Some(running);
    app.shutdown = shutdown;
    app.register(household(1)).await;
    app.nats.restart().await;
    app.events(1).await;
}
