//! The JSON mirror against a real nats-server: every event of the national
//! stream lands once in JIGI_JSON as a structured-mode CloudEvent, even when
//! the mirror dies between a publish and its ack, or is killed and restarted.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use jigi_bus::streams::{self, RegionSource};
use jigi_bus::{Bus, BusConfig, DomainEvent, OutgoingEvent, ReceivedEvent, subject};
use jigi_common::Region;
use jigi_proto::common::{Location, Money};
use jigi_proto::events::*;
use jigi_subscribers::json::{self, JsonRenderer};
use jigi_subscribers::mirror::{JsonMirror, MirrorSettings, MirrorStats};
use jigi_testkit::{NatsServer, eventually, read_stream, stream_len};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(30);
const REGIONS: [Region; 2] = [Region::Sikasso, Region::Mopti];

struct Setup {
    nats: NatsServer,
    bus: Bus,
}

async fn setup() -> Setup {
    let nats = NatsServer::start().await;
    let bus = Bus::connect(&BusConfig::new(nats.url(), "test")).await.unwrap();
    for region in REGIONS {
        streams::ensure_region_stream(&bus.jetstream, region).await.unwrap();
    }
    streams::ensure_national_stream(&bus.jetstream, &sources())
        .await
        .unwrap();
    Setup { nats, bus }
}

fn sources() -> Vec<RegionSource> {
    REGIONS.iter().map(|region| RegionSource::Local(*region)).collect()
}

fn settings() -> MirrorSettings {
    MirrorSettings::new(streams::national_stream_config(&sources()))
}

fn start(bus: &Bus, settings: MirrorSettings) -> (Arc<MirrorStats>, tokio::task::JoinHandle<()>, CancellationToken) {
    let mirror = JsonMirror::new(bus.jetstream.clone(), settings);
    let stats = mirror.stats();
    let stop = CancellationToken::new();
    let task = tokio::spawn(mirror.run(stop.clone()));
    (stats, task, stop)
}

fn location(region: Region) -> Location {
    Location {
        region: region.slug().into(),
        commune: format!("{}.x.y", region.slug()),
        ..Default::default()
    }
}

/// The `n`th event of a varied sequence: registrations, payments, rations.
fn event(n: usize) -> OutgoingEvent {
    let region = REGIONS[n % 2];
    let household = format!("h-{n}");
    match n % 3 {
        0 => OutgoingEvent::new(
            region,
            &household,
            &HouseholdRegistered {
                household_id: household.clone(),
                location: Some(location(region)),
                registered_on: "2018-10-01".into(),
                ..Default::default()
            },
        ),
        1 => OutgoingEvent::new(
            region,
            &household,
            &PaymentMade {
                household_id: household.clone(),
                amount: Some(Money { fcfa: 30_000 }),
                channel: PaymentChannelKind::Cash as i32,
                paid_on: "2018-10-03".into(),
                ..Default::default()
            },
        ),
        _ => OutgoingEvent::new(
            region,
            &household,
            &RationDistributed {
                distribution_id: format!("d-{n}"),
                household_id: household.clone(),
                group: BeneficiaryGroup::Child as i32,
                grams: 3_000,
                ..Default::default()
            },
        ),
    }
}

async fn publish(bus: &Bus, events: &[OutgoingEvent]) {
    let mut acks = Vec::new();
    for event in events {
        acks.push(
            bus.jetstream
                .publish_with_headers(event.subject.clone(), event.headers(), event.payload.clone().into())
                .await
                .unwrap(),
        );
    }
    for ack in acks {
        ack.await.unwrap();
    }
}

async fn wait_national(js: &jetstream::Context, count: u64) {
    eventually(WAIT, &format!("{count} events in the national stream"), || async move {
        (stream_len(js, subject::NATIONAL_STREAM).await == count).then_some(())
    })
    .await;
}

/// The `ce-id`s of the national stream, in order.
async fn national_ids(js: &jetstream::Context) -> Vec<String> {
    read_stream(js, subject::NATIONAL_STREAM)
        .await
        .iter()
        .filter_map(|m| ReceivedEvent::from_jetstream(m).ok())
        .map(|event| event.id)
        .collect()
}

/// Every JSON event of JIGI_JSON, in order: (subject, headers' Nats-Msg-Id, document).
async fn json_events(js: &jetstream::Context) -> Vec<(String, String, Value)> {
    read_stream(js, json::STREAM)
        .await
        .iter()
        .map(|message| {
            let headers = message.headers.as_ref().expect("JSON events have headers");
            assert_eq!(
                headers.get("content-type").map(|v| v.as_str()),
                Some(json::CONTENT_TYPE)
            );
            let id = headers.get("Nats-Msg-Id").expect("a Nats-Msg-Id").as_str().to_owned();
            let document: Value = serde_json::from_slice(&message.payload).expect("a JSON body");
            (message.subject.to_string(), id, document)
        })
        .collect()
}

/// Checks JIGI_JSON holds each national event exactly once, in national order.
async fn assert_each_event_once(js: &jetstream::Context, expected: &[String]) {
    let events = json_events(js).await;
    let ids: Vec<String> = events
        .iter()
        .map(|(_, _, doc)| doc["id"].as_str().unwrap().to_owned())
        .collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an event is twice in JIGI_JSON");
    assert_eq!(
        unique,
        expected.iter().collect::<HashSet<_>>(),
        "JIGI_JSON holds exactly the national events"
    );
    for (_, msg_id, doc) in &events {
        assert_eq!(msg_id, doc["id"].as_str().unwrap(), "Nats-Msg-Id = id");
    }
}

#[tokio::test]
async fn every_national_event_is_republished_once_as_a_structured_cloudevent() {
    let Setup { nats: _nats, bus } = setup().await;
    let events: Vec<OutgoingEvent> = (0..12).map(event).collect();
    publish(&bus, &events).await;
    // A newer event type than this code knows, and a message that is no event.
    let mut newer = OutgoingEvent::new(Region::Sikasso, "h-99", &HouseholdExited::default());
    newer.ce_type = "jigi.registry.household.merged.v2".into();
    newer.subject = "jigi.sikasso.registry.household.merged".into();
    newer.content_type = "application/protobuf; proto=jigi.events.v2.HouseholdMerged".into();
    publish(&bus, std::slice::from_ref(&newer)).await;
    bus.jetstream
        .publish("jigi.mopti.registry.household.registered", "not an event".into())
        .await
        .unwrap()
        .await
        .unwrap();
    wait_national(&bus.jetstream, 14).await;

    let (stats, _task, stop) = start(&bus, settings());
    eventually(WAIT, "13 events mirrored, one message dropped", || {
        let stats = stats.clone();
        async move { (stats.published() == 13 && stats.dropped() == 1).then_some(()) }
    })
    .await;
    stop.cancel();
    assert_eq!(stats.raw(), 1, "the newer type is passed on as data_base64");
    assert_eq!(stats.duplicates(), 0);

    let national = national_ids(&bus.jetstream).await;
    assert_each_event_once(&bus.jetstream, &national).await;
    let mirrored = json_events(&bus.jetstream).await;
    let ids: Vec<&str> = mirrored.iter().map(|(_, _, doc)| doc["id"].as_str().unwrap()).collect();
    assert_eq!(ids, national, "in the national stream's order");

    // (The national stream interleaves the regions: match events by ID.)
    for sent in &events {
        let (json_subject, _, doc) = mirrored
            .iter()
            .find(|(_, id, _)| *id == sent.id)
            .expect("every event mirrored");
        assert_eq!(json_subject, &json::json_subject(&sent.subject).unwrap());
        assert_eq!(doc["specversion"], "1.0");
        assert_eq!(doc["type"], sent.ce_type.as_str());
        assert_eq!(doc["source"], sent.source.as_str());
        assert_eq!(doc["subject"], sent.about.as_str());
        assert_eq!(doc["datacontenttype"], "application/json");
        let data = &doc["data"];
        assert_eq!(data["householdId"], sent.about.as_str());
        if sent.ce_type == PaymentMade::KIND.ce_type() {
            assert_eq!(data["amount"]["fcfa"], "30000");
            assert_eq!(data["channel"], "PAYMENT_CHANNEL_KIND_CASH");
        }
        if sent.ce_type == RationDistributed::KIND.ce_type() {
            assert_eq!(data["group"], "BENEFICIARY_GROUP_CHILD");
            assert_eq!(data["grams"], "3000");
        }
    }
    let (_, _, raw) = mirrored.iter().find(|(_, id, _)| *id == newer.id).unwrap();
    assert_eq!(raw["type"], "jigi.registry.household.merged.v2");
    assert_eq!(
        raw["datacontenttype"],
        "application/protobuf; proto=jigi.events.v2.HouseholdMerged"
    );
    assert!(raw["data_base64"].is_string() && raw.get("data").is_none());

    // Started again, it resumes where it was: nothing new, nothing doubled.
    publish(&bus, &[event(12)]).await;
    let (stats, _task, stop) = start(&bus, settings());
    eventually(WAIT, "the new event mirrored", || {
        let stats = stats.clone();
        async move { (stats.published() == 1).then_some(()) }
    })
    .await;
    stop.cancel();
    assert_eq!(stream_len(&bus.jetstream, json::STREAM).await, 14);
}

#[tokio::test]
async fn a_crash_between_publish_and_ack_leaves_each_event_once() {
    let Setup { nats: _nats, bus } = setup().await;
    let events: Vec<OutgoingEvent> = (0..40).map(event).collect();
    publish(&bus, &events).await;
    wait_national(&bus.jetstream, 40).await;

    // A mirror that published the first 15 events' JSON and died before
    // acking them: the national stream will deliver them again.
    streams::ensure(&bus.jetstream, json::stream_config()).await.unwrap();
    let national = read_stream(&bus.jetstream, subject::NATIONAL_STREAM).await;
    let renderer = JsonRenderer::new();
    for message in &national[..15] {
        let rendered = renderer
            .render(&ReceivedEvent::from_jetstream(message).unwrap())
            .unwrap();
        bus.jetstream
            .publish_with_headers(rendered.subject.clone(), rendered.headers(), rendered.body().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    let (stats, _task, stop) = start(&bus, settings());
    eventually(WAIT, "every event mirrored", || {
        let stats = stats.clone();
        async move { (stats.published() == 40).then_some(()) }
    })
    .await;
    stop.cancel();
    assert_eq!(stats.duplicates(), 15, "JetStream dropped the 15 republished events");
    assert_eq!(stream_len(&bus.jetstream, json::STREAM).await, 40);
    assert_each_event_once(&bus.jetstream, &national_ids(&bus.jetstream).await).await;
}

#[tokio::test]
async fn a_mirror_killed_mid_way_and_restarted_leaves_each_event_once() {
    let Setup { nats: _nats, bus } = setup().await;
    let first: Vec<OutgoingEvent> = (0..600).map(event).collect();
    publish(&bus, &first).await;
    wait_national(&bus.jetstream, 600).await;

    // Small batches and a short ack wait, so the killed mirror leaves
    // published-but-unacked events that come back quickly.
    let mut quick = settings();
    quick.batch = 20;
    quick.ack_wait = Duration::from_secs(1);
    let (stats, task, _stop) = start(&bus, quick.clone());
    eventually(WAIT, "the mirror under way", || {
        let stats = stats.clone();
        async move { (stats.published() >= 100).then_some(()) }
    })
    .await;
    task.abort(); // no graceful stop: as a killed process
    let _ = task.await;
    let at_kill = stats.published();
    tracing::info!(at_kill, "mirror killed");

    // Events keep coming while it is down.
    let more: Vec<OutgoingEvent> = (600..700).map(event).collect();
    publish(&bus, &more).await;
    wait_national(&bus.jetstream, 700).await;

    let (stats, _task, stop) = start(&bus, quick);
    let js = bus.jetstream.clone();
    eventually(WAIT, "every event mirrored and acked", || {
        let js = js.clone();
        async move {
            let mut consumer: jetstream::consumer::PullConsumer = js
                .get_stream(subject::NATIONAL_STREAM)
                .await
                .ok()?
                .get_consumer(jigi_subscribers::mirror::DURABLE)
                .await
                .ok()?;
            let info = consumer.info().await.ok()?;
            (info.num_pending == 0 && info.num_ack_pending == 0 && info.ack_floor.stream_sequence == 700).then_some(())
        }
    })
    .await;
    stop.cancel();
    assert!(
        at_kill + stats.published() >= 700,
        "between them the two mirrors published every event"
    );
    assert_eq!(stream_len(&bus.jetstream, json::STREAM).await, 700);
    assert_each_event_once(&bus.jetstream, &national_ids(&bus.jetstream).await).await;
}
