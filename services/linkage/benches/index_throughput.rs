//! The national linkage index: throughput and suspicion latency, beside a
//! bare JetStream consumer in the same run.
//!
//! 1. Throughput: BENCH_PERSONS persons (default 1,000,000) in households
//!    of two across the eight regions, each household's match keys (two ID
//!    cards, one head: 3 keys) published to its region's linkage stream and
//!    sourced into JIGI_LINKAGE, one household in 1,000 planted as a
//!    duplicate of another region's. A bare pull consumer that only acks
//!    reads them all (the baseline); then the index indexes them all
//!    (inbox, key table, duplicate checks, suspicions in its outbox).
//! 2. Latency: with both caught up, 200 pairs of registrations' key sets,
//!    the second of each pair in another region carrying the first's ID
//!    card, 20 a second. Reported: from the second key set's publication to
//!    the `duplicate.suspected` message on JIGI_DUPLICATES (index), and to
//!    the bare consumer receiving it (baseline), p50 and p99. (The registry's
//!    own part, registration to published keys, is its outbox relay's,
//!    measured by the registry's benchmarks.)
//!
//! ```text
//! cargo bench -p jigi-linkage --bench index_throughput
//! BENCH_PERSONS=200000 cargo bench -p jigi-linkage --bench index_throughput
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures::StreamExt;
use jigi_bus::streams::{self, RegionSource};
use jigi_bus::{Bus, BusConfig, OutgoingEvent, ReceivedEvent, linkage};
use jigi_common::Region;
use jigi_localnats::NatsProcess;
use jigi_proto::linkage as pl;
use prost::Message as _;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

const PAIRS: u64 = 200;
const PAIRS_PER_SECOND: u64 = 20;

fn main() {
    let persons: u64 = std::env::var("BENCH_PERSONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(run(persons / 2));
}

fn value(kind: &str, n: u64) -> String {
    // Any 64 hex digits do: the index never sees what was keyed.
    format!("{:016x}{:048x}", n, kind.len() as u64 * 0x9e37_79b9 + n)
}

fn household_id(n: u64) -> String {
    format!("01900000-0000-7000-8000-{n:012x}")
}

/// The key set of household `n`; `card_of` plants another household's card.
fn keyed(n: u64, card_of: Option<u64>) -> OutgoingEvent {
    let region = Region::ALL[(n % 8) as usize];
    let key = |kind: pl::MatchKind, v: String, member: u64| pl::MatchKey {
        key_id: "bench-1".into(),
        kind: kind as i32,
        member_id: format!("m{n}-{member}"),
        value: v,
    };
    let message = pl::HouseholdKeyed {
        household_id: household_id(n),
        key_ids: vec!["bench-1".into()],
        keys: vec![
            key(pl::MatchKind::IdCard, value("idcard", card_of.unwrap_or(2 * n)), 0),
            key(pl::MatchKind::IdCard, value("idcard", 2 * n + 1), 1),
            key(pl::MatchKind::Head, value("head", n), 0),
        ],
        version: 1,
        active: true,
    };
    linkage::HOUSEHOLD_KEYED.event(region, &household_id(n), &message)
}

async fn publish(js: &jetstream::Context, events: impl Iterator<Item = OutgoingEvent>) {
    let mut in_flight = std::collections::VecDeque::new();
    for event in events {
        let ack = js
            .publish_with_headers(event.subject.clone(), event.headers(), event.payload.clone().into())
            .await
            .expect("publish");
        in_flight.push_back(ack);
        if in_flight.len() >= 1_000 {
            in_flight.pop_front().unwrap().await.expect("ack");
        }
    }
    for ack in in_flight {
        ack.await.expect("ack");
    }
}

async fn stream_len(js: &jetstream::Context, name: &str) -> u64 {
    match js.get_stream(name).await {
        Ok(mut stream) => stream.info().await.map(|i| i.state.messages).unwrap_or(0),
        Err(_) => 0,
    }
}

fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}

/// A bare durable pull consumer that decodes and acks everything; reports
/// the time to ack `count`, then, for messages after `count`, when each
/// household ID was received.
async fn bare_consumer(js: jetstream::Context, count: u64, seen_at: Arc<Mutex<HashMap<String, Instant>>>) -> Duration {
    let stream = js.get_stream(linkage::NATIONAL_LINK_STREAM).await.unwrap();
    let consumer: jetstream::consumer::Consumer<pull::Config> = stream
        .create_consumer(pull::Config {
            durable_name: Some("baseline".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            max_ack_pending: 10_000,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(1_000)
        .messages()
        .await
        .unwrap();
    let started = Instant::now();
    let mut seen = 0u64;
    let mut elapsed = Duration::ZERO;
    while let Some(message) = messages.next().await {
        let message = message.unwrap();
        let keyed = pl::HouseholdKeyed::decode(message.payload.clone()).expect("decodes");
        message.ack_with(AckKind::Ack).await.unwrap();
        seen += 1;
        if seen == count {
            elapsed = started.elapsed();
        }
        if seen > count {
            seen_at.lock().await.insert(keyed.household_id, Instant::now());
        }
        if seen >= count + 2 * PAIRS {
            break;
        }
    }
    elapsed
}

async fn run(households: u64) {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsProcess::standalone(&dir.path().join("nats")).await.unwrap();
    let bus = Bus::connect(&BusConfig::new(nats.url(), "bench")).await.unwrap();
    for region in Region::ALL {
        streams::ensure(&bus.jetstream, linkage::region_link_stream_config(region))
            .await
            .unwrap();
    }
    let sources: Vec<RegionSource> = Region::ALL.iter().map(|r| RegionSource::Local(*r)).collect();
    streams::ensure(&bus.jetstream, linkage::national_link_stream_config(&sources))
        .await
        .unwrap();
    let planted = households / 1_000;
    println!(
        "index_throughput: {} persons in {households} households across 8 regions ({} keys), {planted} planted duplicates",
        households * 2,
        households * 3
    );
    let started = Instant::now();
    // Household n (n % 1000 == 999, from another region) carries the card of household n - 1.
    publish(
        &bus.jetstream,
        (0..households).map(|n| keyed(n, (n % 1_000 == 999).then(|| 2 * (n - 1)))),
    )
    .await;
    while stream_len(&bus.jetstream, linkage::NATIONAL_LINK_STREAM).await < households {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "  prepared  published and sourced into JIGI_LINKAGE in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let seen_at = Arc::new(Mutex::new(HashMap::new()));
    let baseline = tokio::spawn(bare_consumer(bus.jetstream.clone(), households, seen_at.clone()));
    loop {
        let info = bus
            .jetstream
            .get_stream(linkage::NATIONAL_LINK_STREAM)
            .await
            .unwrap()
            .consumer_info("baseline")
            .await;
        if info.is_ok_and(|i| i.ack_floor.stream_sequence >= households) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let shutdown = CancellationToken::new();
    let database = format!("sqlite://{}", dir.path().join("linkage.db").display());
    let started = Instant::now();
    let config = jigi_linkage::Config::local(&Region::ALL, &nats.url(), &database);
    let running = jigi_linkage::start(config, shutdown.clone()).await.unwrap();
    while running.service.consumer.handled() < households {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let index_elapsed = started.elapsed();
    let suspected = running.service.metrics.duplicates_suspected.get();

    // Latency: pairs of key sets, the second in another region with the first's card.
    let mut suspicions = bus.client.subscribe(format!("{}.>", linkage::DUP_ROOT)).await.unwrap();
    let published_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let publisher = {
        let (js, published_at) = (bus.jetstream.clone(), published_at.clone());
        tokio::spawn(async move {
            let ticker_start = Instant::now();
            for i in 0..PAIRS {
                let first = households + 2 * i;
                let second = first + 1;
                publish(&js, std::iter::once(keyed(first, None))).await;
                let event = keyed(second, Some(2 * first));
                published_at.lock().await.insert(household_id(second), Instant::now());
                publish(&js, std::iter::once(event)).await;
                let next = ticker_start + Duration::from_millis(1_000 / PAIRS_PER_SECOND) * (i as u32 + 1);
                tokio::time::sleep_until(next.into()).await;
            }
        })
    };
    let mut index_latency = Vec::new();
    let mut counted = std::collections::HashSet::new();
    while counted.len() < PAIRS as usize {
        let message = tokio::time::timeout(Duration::from_secs(60), suspicions.next())
            .await
            .expect("a suspicion within a minute")
            .unwrap();
        let received = Instant::now();
        let event = ReceivedEvent::parse(
            message.subject.as_str(),
            message.headers.as_ref(),
            message.payload,
            None,
        )
        .unwrap();
        let duplicate = pl::DuplicateSuspected::decode(event.data).unwrap().duplicate.unwrap();
        let second = duplicate.second.unwrap().household_id;
        if !counted.insert(duplicate.duplicate_id) {
            continue; // the other region's copy
        }
        if let Some(at) = published_at.lock().await.get(&second) {
            index_latency.push((received - *at).as_secs_f64());
        }
    }
    publisher.await.unwrap();
    let baseline_elapsed = baseline.await.unwrap();
    let mut baseline_latency: Vec<f64> = {
        let published = published_at.lock().await;
        let seen = seen_at.lock().await;
        published
            .iter()
            .filter_map(|(id, at)| seen.get(id).map(|s| (*s - *at).as_secs_f64()))
            .collect()
    };

    println!(
        "  baseline  bare consumer decoded and acked {households} key sets in {:.2} s = {:.0} persons/s ({:.0} keys/s)",
        baseline_elapsed.as_secs_f64(),
        2.0 * households as f64 / baseline_elapsed.as_secs_f64(),
        3.0 * households as f64 / baseline_elapsed.as_secs_f64()
    );
    println!(
        "  index     indexed {households} key sets in {:.2} s = {:.0} persons/s ({:.0} keys/s), ratio to baseline {:.3}; {suspected} suspicions (planted {planted})",
        index_elapsed.as_secs_f64(),
        2.0 * households as f64 / index_elapsed.as_secs_f64(),
        3.0 * households as f64 / index_elapsed.as_secs_f64(),
        baseline_elapsed.as_secs_f64() / index_elapsed.as_secs_f64()
    );
    println!(
        "  latency   key set published -> duplicate.suspected: p50 {:.1} ms, p99 {:.1} ms ({} pairs at {PAIRS_PER_SECOND}/s)",
        quantile(&mut index_latency, 0.5) * 1e3,
        quantile(&mut index_latency, 0.99) * 1e3,
        index_latency.len()
    );
    println!(
        "  latency   key set published -> bare consumer: p50 {:.1} ms, p99 {:.1} ms",
        quantile(&mut baseline_latency, 0.5) * 1e3,
        quantile(&mut baseline_latency, 0.99) * 1e3
    );
    shutdown.cancel();
    running.stopped().await;
}
