//! What tracing costs: the registry's bulk registration and the monitoring's
//! consumption of the national stream, each measured with
//!
//! - `none`: no subscriber at all (no spans, no logs) — the floor;
//! - `off`: Jigi's telemetry without an OTLP endpoint (spans made for the
//!   trace IDs in logs and events, nothing exported) — how Jigi runs when
//!   tracing is turned off;
//! - `full`: exporting every span to an OTLP receiver;
//! - `tenth`: exporting 10% of traces (`parentbased_traceidratio`, 0.1).
//!
//! Each mode runs in a fresh process (a process has one global
//! subscriber), one after the other in the same run, twice — in order, then
//! in reverse order — and the better of its two runs is reported, so a
//! burst of load on a shared machine does not decide the comparison.
//!
//! ```text
//! cargo bench -p jigi-e2e --bench tracing_cost
//! BENCH_HOUSEHOLDS=20000 BENCH_EVENTS=100000 cargo bench -p jigi-e2e --bench tracing_cost
//! ```

use std::time::{Duration, Instant};

use jigi_bus::streams::{self, RegionSource};
use jigi_bus::{Bus, BusConfig, OutgoingEvent};
use jigi_common::{Geography, Region};
use jigi_localnats::NatsProcess;
use jigi_proto::registry::ImportHouseholdsRequest;
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_registry::sample::HouseholdGenerator;
use tokio_util::sync::CancellationToken;

const MODES: [&str; 4] = ["none", "off", "full", "tenth"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(position) = args.iter().position(|a| a == "--mode") {
        let mode = args[position + 1].clone();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(child(&mode));
        return;
    }
    tokio::runtime::Runtime::new().unwrap().block_on(parent());
}

/// Runs each mode in its own process and prints the comparison.
async fn parent() {
    let receiver = jigi_testkit::OtlpReceiver::start().await;
    let exe = std::env::current_exe().unwrap();
    let mut runs: Vec<(&str, f64, f64)> = Vec::new();
    for mode in MODES.iter().chain(MODES.iter().rev()).copied() {
        let mut command = tokio::process::Command::new(&exe);
        command.arg("--bench").arg("--mode").arg(mode);
        command.env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        match mode {
            "full" => {
                command.env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
                command.env("OTEL_TRACES_SAMPLER", "parentbased_always_on");
            }
            "tenth" => {
                command.env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
                command.env("OTEL_TRACES_SAMPLER", "parentbased_traceidratio");
                command.env("OTEL_TRACES_SAMPLER_ARG", "0.1");
            }
            _ => {}
        }
        let output = command.output().await.expect("run a mode");
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            output.status.success(),
            "mode {mode} failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let numbers: Vec<f64> = text
            .lines()
            .find(|l| l.starts_with("RESULT"))
            .expect("a result line")
            .split_whitespace()
            .skip(1)
            .map(|n| n.parse().unwrap())
            .collect();
        runs.push((mode, numbers[0], numbers[1]));
    }
    let results: Vec<(&str, f64, f64)> = MODES
        .iter()
        .map(|mode| {
            let best =
                |pick: fn(&(&str, f64, f64)) -> f64| runs.iter().filter(|r| r.0 == *mode).map(pick).fold(0.0, f64::max);
            (*mode, best(|r| r.1), best(|r| r.2))
        })
        .collect();
    let spans = receiver.spans().len();
    println!("tracing_cost (spans received by the OTLP receiver in all: {spans})");
    let (_, base_registry, base_monitoring) = results[1];
    for (mode, registry, monitoring) in &results {
        println!(
            "  {mode:<5}  registry {registry:>8.0} households/s ({:.3} × off)   monitoring {monitoring:>8.0} events/s ({:.3} × off)",
            registry / base_registry,
            monitoring / base_monitoring
        );
    }
}

async fn child(mode: &str) {
    let _guard = match mode {
        "none" => None,
        _ => Some(
            jigi_telemetry::init(&jigi_telemetry::TelemetryConfig {
                service_name: "jigi-bench".into(),
                service_version: "0".into(),
                region: "sikasso".into(),
                deployment: "bench".into(),
                default_log_filter: "warn".into(),
                otlp_endpoint: None,
            })
            .unwrap(),
        ),
    };
    let households: u64 = std::env::var("BENCH_HOUSEHOLDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let events: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsProcess::standalone(&dir.path().join("nats")).await.unwrap();

    // Registry: bulk registration, stored and every event acked.
    let shutdown = CancellationToken::new();
    let database = format!("sqlite://{}", dir.path().join("registry.db").display());
    let registry = jigi_registry::start(
        jigi_registry::Config::local(Region::Sikasso, &nats.url(), &database),
        shutdown.clone(),
    )
    .await
    .unwrap();
    let generator = HouseholdGenerator::new(
        &Geography::built_in(),
        Region::Sikasso,
        &[],
        chrono::Utc::now().date_naive(),
        5,
    );
    let rows: Vec<ImportHouseholdsRequest> = (0..households)
        .map(|i| ImportHouseholdsRequest {
            row: i as i64 + 1,
            household: Some(generator.household(i)),
        })
        .collect();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", registry.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = RegistryServiceClient::new(channel).max_decoding_message_size(256 * 1024 * 1024);
    let started = Instant::now();
    client.import_households(tokio_stream::iter(rows)).await.unwrap();
    while jigi_bus::outbox::pending(&registry.database).await.unwrap() > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let registry_rate = households as f64 / started.elapsed().as_secs_f64();

    // Monitoring: consume `events` registry events from the national stream.
    let bus = Bus::connect(&BusConfig::new(nats.url(), "bench")).await.unwrap();
    streams::ensure_region_stream(&bus.jetstream, Region::Mopti)
        .await
        .unwrap();
    streams::ensure_national_stream(
        &bus.jetstream,
        &[RegionSource::Local(Region::Sikasso), RegionSource::Local(Region::Mopti)],
    )
    .await
    .unwrap();
    let mut in_flight = std::collections::VecDeque::new();
    for i in 0..events {
        let message = jigi_proto::events::HouseholdRegistered {
            household_id: format!("m-{i}"),
            location: Some(jigi_proto::common::Location {
                region: "mopti".into(),
                cercle: "mopti.mopti".into(),
                commune: "mopti.mopti.sio".into(),
                village: String::new(),
            }),
            registered_on: "2018-10-01".into(),
            ..Default::default()
        };
        let event = OutgoingEvent::new(Region::Mopti, &format!("m-{i}"), &message);
        let ack = bus
            .jetstream
            .publish_with_headers(event.subject.clone(), event.headers(), event.payload.into())
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
    let total = households + events;
    loop {
        let mut stream = bus.jetstream.get_stream("JIGI_NATIONAL").await.unwrap();
        if stream.info().await.unwrap().state.messages >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    let database = format!("sqlite://{}", dir.path().join("monitoring.db").display());
    let monitoring = jigi_monitoring::start(
        jigi_monitoring::Config::local(&[Region::Sikasso, Region::Mopti], &nats.url(), &database),
        shutdown.clone(),
    )
    .await
    .unwrap();
    while monitoring.service.consumer.handled() < total {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let monitoring_rate = total as f64 / started.elapsed().as_secs_f64();
    println!("RESULT {registry_rate} {monitoring_rate}");
    shutdown.cancel();
    registry.stopped().await;
    monitoring.stopped().await;
}
