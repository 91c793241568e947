//! Who may be paid, learnt from the registry's events: exact after restarts
//! of the service and of NATS, rebuilt identically on a fresh database, and
//! fixed for a cycle once its list is frozen.

use std::collections::BTreeMap;

use jigi_payments::{Config, start};
use jigi_proto::common::Component;
use jigi_proto::payments::*;
use jigi_testkit::eventually;
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

/// A registry's life for `n` households: every one enrolled; every 7th
/// moves to Konobougou; every 5th exits; every 10th of those re-enrols;
/// every 11th is also enrolled in PNP (not TM: it changes nothing here).
/// Returns the events in order and the projection they must give.
fn registry_history(n: u32) -> (Vec<jigi_bus::OutgoingEvent>, BTreeMap<String, String>) {
    let mut events = Vec::new();
    let mut expected = BTreeMap::new();
    for i in 1..=n {
        let id = household(i);
        events.push(enrolled(&id, SANANDO, Component::Tm));
        expected.insert(id.clone(), SANANDO.to_owned());
        if i % 11 == 0 {
            events.push(enrolled(&id, SANANDO, Component::Pnp));
        }
    }
    for i in 1..=n {
        let id = household(i);
        if i % 7 == 0 {
            events.push(moved(&id, KONOBOUGOU));
            expected.insert(id.clone(), KONOBOUGOU.to_owned());
        }
        if i % 5 == 0 {
            let commune = expected[&id].clone();
            events.push(exited(&id, &commune));
            if i % 10 == 0 {
                events.push(enrolled(&id, &commune, Component::Tm));
            } else {
                expected.remove(&id);
            }
        }
    }
    (events, expected)
}

fn as_map(eligible: Vec<(String, String)>) -> BTreeMap<String, String> {
    eligible.into_iter().collect()
}

/// Asserts two projections are equal, printing only their differences.
fn assert_same(actual: &BTreeMap<String, String>, expected: &BTreeMap<String, String>) {
    let missing: Vec<_> = expected.keys().filter(|k| !actual.contains_key(*k)).collect();
    let extra: Vec<_> = actual.keys().filter(|k| !expected.contains_key(*k)).collect();
    let moved: Vec<_> = expected
        .iter()
        .filter(|(k, v)| actual.get(*k).is_some_and(|a| a != *v))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && moved.is_empty(),
        "projection differs: missing {missing:?}, extra {extra:?}, other commune {moved:?}"
    );
}

#[tokio::test]
async fn restarts_of_payments_and_nats_mid_consumption_end_with_the_exact_projection() {
    // Small batches, so consumption takes many transactions and a stop
    // lands in the middle of it; a short ack wait, so what NATS delivered
    // before its restart comes back within the test's patience.
    let mut app = spawn_app_with(|config| {
        config.consumer_batch = 20;
        config.consumer_ack_wait = std::time::Duration::from_secs(2);
    })
    .await;
    let (events, expected) = registry_history(1_500);
    let total = events.len() as i64;
    let (first, rest) = events.split_at(events.len() / 2);
    let (second, tail) = rest.split_at(rest.len() - 200);
    for event in first {
        app.publish(event).await;
    }

    // NATS restarts while the consumer works through the first half.
    let db = app.running().database.clone();
    let name = jigi_payments::consumer_name(&app.config);
    let progress = |db: jigi_storage::Database, name: String| async move {
        jigi_bus::inbox::processed_count(&db, &name).await.unwrap()
    };
    eventually(WAIT, "consumption under way", || {
        let (db, name) = (db.clone(), name.clone());
        async move { (progress(db, name).await > 0).then_some(()) }
    })
    .await;
    app.nats.restart().await;
    for event in second {
        app.publish(event).await;
    }

    // Payments stops mid-consumption and, while it is down, so does NATS.
    eventually(WAIT, "more consumption", || {
        let (db, name) = (db.clone(), name.clone());
        async move { (progress(db, name).await > total / 2).then_some(()) }
    })
    .await;
    let at_stop = progress(db.clone(), name.clone()).await;
    app.stop().await;
    eprintln!("payments stopped after {at_stop} of {total} events");
    app.nats.stop().await;
    app.nats.restart().await;
    // The registry goes on while payments is down.
    for event in tail {
        app.publish(event).await;
    }
    app.start_again().await;

    app.wait_handled(total).await;
    app.wait_eligible(expected.len() as i64).await;
    assert_same(&as_map(app.eligible().await), &expected);
    let stats = app.running().consumer.clone();
    assert_eq!(stats.rejected(), 0);
    assert_eq!(
        jigi_bus::inbox::processed_count(&app.running().database, &name)
            .await
            .unwrap(),
        total,
        "each event handled once"
    );
}

#[tokio::test]
async fn a_fresh_database_rebuilds_the_same_projection_from_the_stream() {
    let mut app = spawn_app().await;
    let (events, expected) = registry_history(300);
    for event in &events {
        app.publish(event).await;
    }
    app.wait_handled(events.len() as i64).await;
    let first = app.eligible().await;
    assert_same(&as_map(first.clone()), &expected);

    // A second payments service on a new database, same NATS: it reads the
    // stream from its beginning.
    let dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let fresh = start(
        Config::local(
            REGION,
            &app.nats.url(),
            &jigi_testkit::database_url(dir.path(), "fresh").await,
        ),
        shutdown.clone(),
    )
    .await
    .unwrap();
    let mut fresh_client = client(&fresh).await;
    app.client = fresh_client.clone();
    app.wait_eligible(expected.len() as i64).await;
    assert_eq!(app.eligible().await, first, "the same households in the same communes");
    let count = fresh_client
        .list_eligible_households(ListEligibleHouseholdsRequest {
            commune: KONOBOUGOU.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .total;
    assert_eq!(count, expected.values().filter(|c| *c == KONOBOUGOU).count() as i64);
    shutdown.cancel();
    fresh.stopped().await;
}

#[tokio::test]
async fn registry_changes_after_the_freeze_do_not_alter_the_cycle() {
    let mut app = spawn_app().await;
    for n in 1..=3 {
        app.enrol(&household(n), SANANDO).await;
    }
    app.wait_eligible(3).await;
    let cycle = app.open("2019Q1", FundingSource::WorldBankIda).await.unwrap();
    app.assign_agents(&cycle.cycle_id).await;
    let frozen = app.freeze(&cycle.cycle_id).await.cycle.unwrap();

    // After the freeze: one household enrolled, one exits, one moves.
    app.enrol(&household(4), SANANDO).await;
    app.exit(&household(1), SANANDO).await;
    app.move_to(&household(2), KONOBOUGOU).await;
    app.wait_handled(6).await;
    assert_eq!(
        as_map(app.eligible().await),
        BTreeMap::from([
            (household(2), KONOBOUGOU.to_owned()),
            (household(3), SANANDO.to_owned()),
            (household(4), SANANDO.to_owned()),
        ])
    );

    let list = app
        .client
        .list_entitlements(ListEntitlementsRequest {
            cycle_id: cycle.cycle_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entitlements;
    let listed: Vec<(String, String)> = list
        .iter()
        .map(|e| (e.household_id.clone(), e.location.clone().unwrap().commune))
        .collect();
    assert_eq!(
        listed,
        [
            (household(1), SANANDO.to_owned()),
            (household(2), SANANDO.to_owned()),
            (household(3), SANANDO.to_owned()),
        ],
        "the frozen list: the exited household stays, the new one is absent, the move is not applied"
    );
    let approved = app.approve(&frozen, "approver").await.unwrap();
    let status = app
        .record_one(
            "late-enrolment",
            &cycle.cycle_id,
            paid(&household(4), CASH_AGENT, "R-4"),
        )
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "NOT_ENTITLED");
    // The household that exited after the freeze is still paid this quarter.
    app.record_one("exited-after", &cycle.cycle_id, paid(&household(1), CASH_AGENT, "R-1"))
        .await
        .unwrap();
    assert_eq!(approved.control.unwrap().count, 3);
}
