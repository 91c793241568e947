//! Bulk registration, end to end: households streamed through
//! `ImportHouseholds`, stored, and every event acknowledged by JetStream.
//!
//! Baseline, measured in the same run against the same nats-server: the
//! same number of event-sized messages (same headers, same payload size)
//! published straight to JetStream with async-nats, 1,000 acks in flight.
//!
//!     cargo bench -p jigi-registry --bench bulk_registration
//!     BENCH_HOUSEHOLDS=20000 cargo bench -p jigi-registry --bench bulk_registration

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use jigi_bus::{Bus, BusConfig};
use jigi_common::{Geography, Region};
use jigi_localnats::NatsProcess;
use jigi_proto::registry::ImportHouseholdsRequest;
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_registry::sample::HouseholdGenerator;
use prost::Message;
use tokio_util::sync::CancellationToken;

fn main() {
    let households: u64 = std::env::var("BENCH_HOUSEHOLDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run(households));
}

async fn run(households: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let nats = NatsProcess::standalone(&dir.path().join("nats"))
        .await
        .expect("nats-server");
    let generator = HouseholdGenerator::new(
        &Geography::built_in(),
        Region::Sikasso,
        &[],
        chrono::Utc::now().date_naive(),
        1,
    );
    println!("bulk_registration: {households} households, nats-server {}", nats.url());

    // Pre-generate the input so neither measurement pays for it.
    let drafts: Vec<_> = (0..households).map(|i| generator.household(i)).collect();

    // 1. Baseline: event-sized messages straight to JetStream.
    let sample_event = event_sized_message(&drafts[0]);
    let baseline = baseline_publish(&nats.url(), households, &sample_event).await;
    println!(
        "  baseline  raw JetStream publish: {households} messages of {} bytes in {:.2} s = {:.0} msg/s",
        sample_event.1.len(),
        baseline.as_secs_f64(),
        households as f64 / baseline.as_secs_f64()
    );

    // 2. The registry, end to end.
    let shutdown = CancellationToken::new();
    let database = format!("sqlite://{}", dir.path().join("registry.db").display());
    let running = jigi_registry::start(
        jigi_registry::Config::local(Region::Sikasso, &nats.url(), &database),
        shutdown.clone(),
    )
    .await
    .expect("registry");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", running.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = RegistryServiceClient::new(channel).max_decoding_message_size(256 * 1024 * 1024);
    let rows = drafts
        .into_iter()
        .enumerate()
        .map(|(i, draft)| ImportHouseholdsRequest {
            row: i as i64 + 1,
            household: Some(draft),
        });
    let started = Instant::now();
    let response = client
        .import_households(tokio_stream::iter(rows))
        .await
        .expect("import")
        .into_inner();
    let stored = started.elapsed();
    assert_eq!(response.registered as u64, households, "every household registered");
    let bus = Bus::connect(&BusConfig::new(nats.url(), "bench")).await.unwrap();
    loop {
        let published = jetstream_len(&bus.jetstream, "JIGI_SIKASSO").await;
        if published >= households && jigi_bus::outbox::pending(&running.database).await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let end_to_end = started.elapsed();
    println!(
        "  registry  import stored:          {households} households in {:.2} s = {:.0} households/s",
        stored.as_secs_f64(),
        households as f64 / stored.as_secs_f64()
    );
    println!(
        "  registry  stored + every event acked: {:.2} s = {:.0} households/s",
        end_to_end.as_secs_f64(),
        households as f64 / end_to_end.as_secs_f64()
    );
    println!(
        "  ratio     end-to-end registry ÷ raw JetStream baseline = {:.3}",
        baseline.as_secs_f64() / end_to_end.as_secs_f64()
    );
    println!(
        "  peak RSS of the benchmark process (registry + client): {} MiB",
        peak_rss_mib()
    );
    shutdown.cancel();
    running.stopped().await;
}

/// The headers and payload of a real registration event for `draft`.
fn event_sized_message(draft: &jigi_proto::registry::HouseholdDraft) -> (async_nats::HeaderMap, Vec<u8>) {
    let event = jigi_proto::events::HouseholdRegistered {
        household_id: uuid::Uuid::now_v7().to_string(),
        location: draft.location.clone(),
        members: draft
            .members
            .iter()
            .map(|m| jigi_proto::events::MemberProfile {
                member_id: uuid::Uuid::now_v7().to_string(),
                sex: m.sex,
                birth_date: m.birth_date.clone(),
                relation: m.relation,
                pregnant: m.pregnant,
                lactating: m.lactating,
                presence: 1,
            })
            .collect(),
        pmt: Some(jigi_proto::events::PmtResult {
            score: 25.5,
            eligible: true,
        }),
        registered_on: "2026-11-29".into(),
    };
    let outgoing = jigi_bus::OutgoingEvent::new(Region::Sikasso, &event.household_id, &event);
    (outgoing.headers(), event.encode_to_vec())
}

async fn baseline_publish(url: &str, count: u64, (headers, payload): &(async_nats::HeaderMap, Vec<u8>)) -> Duration {
    let client = async_nats::connect(url).await.unwrap();
    let js = jetstream::new(client);
    js.create_stream(stream::Config {
        name: "BASELINE".into(),
        subjects: vec!["baseline.>".into()],
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .unwrap();
    let payload = bytes::Bytes::from(payload.clone());
    let started = Instant::now();
    let mut in_flight = std::collections::VecDeque::with_capacity(1_000);
    for i in 0..count {
        let mut headers = headers.clone();
        headers.insert("Nats-Msg-Id", format!("baseline-{i}").as_str());
        let ack = js
            .publish_with_headers("baseline.household.registered", headers, payload.clone())
            .await
            .unwrap();
        in_flight.push_back(ack);
        if in_flight.len() >= 1_000 {
            in_flight.pop_front().unwrap().await.unwrap();
        }
    }
    for ack in in_flight {
        ack.await.unwrap();
    }
    started.elapsed()
}

async fn jetstream_len(js: &jetstream::Context, name: &str) -> u64 {
    match js.get_stream(name).await {
        Ok(mut stream) => stream.info().await.map(|i| i.state.messages).unwrap_or(0),
        Err(_) => 0,
    }
}

/// Peak resident memory (VmHWM) of this process, from /proc.
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}
