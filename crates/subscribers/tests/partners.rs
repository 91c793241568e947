//! Partners' durable consumers against a real nats-server: the filter, the
//! start point (from the start, from a time, new only), a second `ensure`
//! that keeps the position, and a replacement that replays.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::PullConsumer};
use futures::StreamExt;
use jigi_bus::streams::{self, RegionSource};
use jigi_bus::{Bus, BusConfig, OutgoingEvent, ReceivedEvent, subject};
use jigi_common::Region;
use jigi_proto::events::{HouseholdRegistered, RationDistributed};
use jigi_subscribers::partners::{self, Outcome, PartnerSubscription, Since};
use jigi_testkit::{NatsServer, eventually, stream_len};

const WAIT: Duration = Duration::from_secs(20);

async fn publish(bus: &Bus, event: &OutgoingEvent) {
    bus.jetstream
        .publish_with_headers(event.subject.clone(), event.headers(), event.payload.clone().into())
        .await
        .unwrap()
        .await
        .unwrap();
}

fn registered(n: u32) -> OutgoingEvent {
    let id = format!("h-{n}");
    OutgoingEvent::new(
        Region::Sikasso,
        &id,
        &HouseholdRegistered {
            household_id: id.clone(),
            ..Default::default()
        },
    )
}

fn ration(n: u32) -> OutgoingEvent {
    let id = format!("d-{n}");
    OutgoingEvent::new(
        Region::Sikasso,
        &id,
        &RationDistributed {
            distribution_id: id.clone(),
            ..Default::default()
        },
    )
}

/// The `ce-subject`s a consumer delivers now, acking each.
async fn fetch(js: &jetstream::Context, name: &str) -> Vec<String> {
    let consumer: PullConsumer = js
        .get_consumer_from_stream(name, subject::NATIONAL_STREAM)
        .await
        .unwrap();
    let mut messages = consumer
        .fetch()
        .max_messages(100)
        .expires(Duration::from_millis(500))
        .messages()
        .await
        .unwrap();
    let mut abouts = Vec::new();
    while let Some(message) = messages.next().await {
        let message = message.unwrap();
        abouts.push(ReceivedEvent::from_jetstream(&message).unwrap().about);
        message.double_ack().await.unwrap();
    }
    abouts
}

async fn wait_national(js: &jetstream::Context, count: u64) {
    eventually(WAIT, &format!("{count} national events"), || async move {
        (stream_len(js, subject::NATIONAL_STREAM).await == count).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_partner_consumer_filters_starts_where_asked_and_keeps_its_position() {
    let nats = NatsServer::start().await;
    let bus = Bus::connect(&BusConfig::new(nats.url(), "test")).await.unwrap();
    let js = &bus.jetstream;
    streams::ensure_region_stream(js, Region::Sikasso).await.unwrap();
    streams::ensure_national_stream(js, &[RegionSource::Local(Region::Sikasso)])
        .await
        .unwrap();
    for event in [registered(1), ration(1), registered(2), ration(2)] {
        publish(&bus, &event).await;
    }
    wait_national(js, 4).await;
    // Everything above is stored before this instant; everything below after.
    let cut = chrono::Utc::now();
    for event in [registered(3), ration(3)] {
        publish(&bus, &event).await;
    }
    wait_national(js, 6).await;

    let nutrition = |name: &str, since: Since| PartnerSubscription {
        name: name.into(),
        stream: subject::NATIONAL_STREAM.into(),
        // A subset of the sourced stream's subjects: on one machine, with
        // local sources, nats-server 2.9 refuses a filter across regions
        // (the hub's leaf-node sources accept `jigi.*.nutrition.>`).
        filter: "jigi.sikasso.nutrition.>".into(),
        since,
    };
    for (name, since) in [
        ("from_start", Since::Start),
        ("from_cut", Since::Time(cut)),
        ("new_only", Since::New),
    ] {
        let (outcome, _) = partners::ensure_partner_consumer(js, &nutrition(name, since))
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::Created, "{name}");
    }
    assert_eq!(fetch(js, "from_start").await, ["d-1", "d-2", "d-3"], "only its filter");
    assert_eq!(fetch(js, "from_cut").await, ["d-3"], "from the time asked");
    assert!(fetch(js, "new_only").await.is_empty(), "nothing yet");

    publish(&bus, &ration(4)).await;
    wait_national(js, 7).await;
    assert_eq!(fetch(js, "new_only").await, ["d-4"]);

    // Ensured again (an operator's script run twice): the position is kept.
    let (outcome, info) = partners::ensure_partner_consumer(js, &nutrition("from_start", Since::Start))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Unchanged);
    assert_eq!(info.ack_floor.consumer_sequence, 3);
    assert!(partners::describe(&info).contains("filter jigi.sikasso.nutrition.>, from the start"));
    assert_eq!(fetch(js, "from_start").await, ["d-4"], "only what it has not acked");

    // Replaced to replay from the cut: delivered again from there.
    let (outcome, info) = partners::replace_partner_consumer(js, &nutrition("from_start", Since::Time(cut)))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Replaced);
    let described = partners::describe(&info);
    assert!(
        described.contains(&format!("from {}", cut.format("%Y-%m-%dT%H:%M"))),
        "{described}"
    );
    assert_eq!(fetch(js, "from_start").await, ["d-3", "d-4"]);

    assert!(
        partners::remove_partner_consumer(js, subject::NATIONAL_STREAM, "new_only")
            .await
            .unwrap()
    );
    assert!(
        !partners::remove_partner_consumer(js, subject::NATIONAL_STREAM, "new_only")
            .await
            .unwrap()
    );
    assert!(
        partners::partner_consumer(js, subject::NATIONAL_STREAM, "new_only")
            .await
            .unwrap()
            .is_none()
    );
}
