//! Who may be paid, learnt from the registry's events: exact after restarts
//! of the service and of NATS, rebuilt identically on a fresh database,
//! several events of a household in one batch applied in stream order, and
//! fixed for a cycle once its list is frozen.

use std::collections::BTreeMap;

use jigi_bus::{Decoded, EventHandler, EventMeta, OutgoingEvent, ReceivedEvent};
use jigi_payments::app::{RegistryChange, RegistryProjection};
use jigi_payments::{Config, start};
use jigi_proto::common::Component;
use jigi_proto::payments::*;
use jigi_storage::{Database, StorageError, params};
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
    let stats = app.running().service.consumer.clone();
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
    let mut config = Config::local(
        REGION,
        &app.nats.url(),
        &jigi_testkit::database_url(dir.path(), "fresh").await,
    );
    config.service.serve = app.access.serve_config();
    let name = jigi_payments::consumer_name(&config);
    let fresh = start(config, shutdown.clone()).await.unwrap();
    let mut fresh_client = preparer(&fresh, &app.access).await;
    app.client = fresh_client.clone();
    // Every event applied, not only as many households eligible: on its
    // way the count passes through the final number before the last exits
    // and moves are applied.
    let (fresh_db, total) = (fresh.database.clone(), events.len() as i64);
    eventually(WAIT, "the fresh database to apply every event", || {
        let (db, name) = (fresh_db.clone(), name.clone());
        async move { (jigi_bus::inbox::processed_count(&db, &name).await.ok()? == total).then_some(()) }
    })
    .await;
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
            CASH_AGENT,
            "late-enrolment",
            &cycle.cycle_id,
            paid(&household(4), CASH_AGENT, "R-4"),
        )
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "NOT_ENTITLED");
    // The household that exited after the freeze is still paid this quarter.
    app.record_one(
        CASH_AGENT,
        "exited-after",
        &cycle.cycle_id,
        paid(&household(1), CASH_AGENT, "R-1"),
    )
    .await
    .unwrap();
    assert_eq!(approved.control.unwrap().count, 3);
}

/// `event` as the consumer receives it at position `sequence` of the stream.
fn at_position(sequence: u64, event: &OutgoingEvent) -> ReceivedEvent {
    ReceivedEvent::parse(
        &event.subject,
        Some(&event.headers()),
        event.payload.clone().into(),
        Some(sequence),
    )
    .expect("a valid CloudEvent")
}

/// The batch as the inbox hands it to the handler: each event decoded, the
/// ones the projection does not use left out.
fn batch(events: &[(u64, OutgoingEvent)]) -> Vec<Decoded<RegistryChange>> {
    events
        .iter()
        .filter_map(|(sequence, event)| {
            let received = at_position(*sequence, event);
            let effect = RegistryProjection.decode(&received).expect("a usable event")?;
            Some(Decoded {
                meta: EventMeta {
                    id: received.id.clone(),
                    ce_type: received.ce_type.clone(),
                    about: received.about.clone(),
                    time: received.time,
                    region: received.region(),
                    stream_sequence: received.stream_sequence,
                },
                effect,
            })
        })
        .collect()
}

/// Every household of the projection: (ID, commune, enrolled), by ID.
async fn projection_rows(db: &Database) -> Vec<(String, String, bool)> {
    db.read(|conn| {
        conn.query(
            "SELECT household_id, commune, enrolled FROM tm_households ORDER BY household_id",
            params![],
        )?
        .iter()
        .map(|row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .collect::<Result<Vec<_>, StorageError>>()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_batch_applies_several_events_of_a_household_in_stream_order() {
    let dir = tempfile::tempdir().unwrap();
    let url = jigi_testkit::database_url(dir.path(), "handler").await;
    let db = Database::open(&url, jigi_payments::storage::MIGRATIONS).await.unwrap();
    let apply = |events: Vec<Decoded<RegistryChange>>| {
        let db = db.clone();
        async move {
            db.write(move |conn| RegistryProjection.apply(conn, &events))
                .await
                .unwrap()
        }
    };

    // One pull batch in which households come and go.
    let first = batch(&[
        (1, enrolled(&household(1), SANANDO, Component::Tm)),
        (2, moved(&household(1), KONOBOUGOU)),
        (3, enrolled(&household(2), SANANDO, Component::Tm)),
        (4, exited(&household(2), SANANDO)),
        (5, enrolled(&household(2), KONOBOUGOU, Component::Tm)),
        (6, moved(&household(3), KONOBOUGOU)),
        (7, enrolled(&household(4), SANANDO, Component::Tm)),
        (8, exited(&household(4), SANANDO)),
        (9, enrolled(&household(5), SANANDO, Component::Pnp)),
    ]);
    assert_eq!(first.len(), 8, "the PNP enrolment is not the projection's");
    apply(first).await;
    let stored = |id: u32, commune: &str, enrolled: bool| (household(id), commune.to_owned(), enrolled);
    assert_eq!(
        projection_rows(&db).await,
        [
            stored(1, KONOBOUGOU, true),
            stored(2, KONOBOUGOU, true),
            stored(3, KONOBOUGOU, false),
            stored(4, SANANDO, false),
        ]
    );

    // The next batch starts from what the first one stored; an event older
    // than what a household holds (a lower position) changes nothing.
    apply(batch(&[
        (1, moved(&household(1), SANANDO)),
        (10, enrolled(&household(3), SANANDO, Component::Tm)),
        (11, exited(&household(1), KONOBOUGOU)),
    ]))
    .await;
    assert_eq!(
        projection_rows(&db).await,
        [
            stored(1, KONOBOUGOU, false),
            stored(2, KONOBOUGOU, true),
            stored(3, SANANDO, true),
            stored(4, SANANDO, false),
        ]
    );
    db.close().await;
}
