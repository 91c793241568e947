//! Figures: a region cut off from the hub buffers events in its own stream;
//! how long after the link returns does the national stream hold them all?
//!
//! For each count: a hub and Sikasso's leaf node (the deployment's NATS
//! files, as in the e2e tests), the national stream sourcing Sikasso's
//! stream across domains. The hub is stopped; the region publishes the
//! events (CloudEvents `household.registered`, event-sized, each with its
//! `Nats-Msg-Id`) into its stream; the hub is restarted and the clock runs
//! from the moment it serves JetStream again until the national stream
//! holds every event: the leaf's reconnection (it retries every 2 s), the
//! source consumer's re-creation, and the catch-up itself. The national
//! monitoring runs throughout, as deployed (its JSON mirror too); the second
//! clock stops when it has committed every event into the indicators
//! (issue 13: 1,000,000 buffered events within 30 s of the link's return).
//! `BENCH_JSON_MIRROR=off` runs the monitoring without its JSON mirror.
//!
//!     cargo bench -p jigi-e2e --bench leaf_convergence
//!     BENCH_EVENTS=10000,100000,1000000 cargo bench -p jigi-e2e --bench leaf_convergence

use std::time::{Duration, Instant};

use jigi_bus::{OutgoingEvent, streams, subject};
use jigi_common::Region;
use jigi_e2e::{Hub, Leaf, domain_sources, random_passwords};
use jigi_proto::common::Location;
use jigi_proto::events::HouseholdRegistered;
use jigi_testkit::stream_len;
use tokio_util::sync::CancellationToken;

fn main() {
    let counts: Vec<u64> = std::env::var("BENCH_EVENTS")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .map(|n| n.trim().parse().expect("BENCH_EVENTS: comma-separated counts"))
        .collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    println!(
        "leaf_convergence: nats-server {}",
        std::process::Command::new(jigi_localnats::binary())
            .arg("--version")
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .unwrap_or_default()
    );
    for count in counts {
        runtime.block_on(run(count));
    }
}

async fn run(count: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let passwords = random_passwords();
    let mut hub = Hub::start(&dir.path().join("hub"), &passwords).await;
    let leaf = Leaf::start(&dir.path().join("sikasso"), Region::Sikasso, hub.leaf_port, &passwords).await;
    let region = leaf.connect().await;
    streams::ensure_region_stream(&region.jetstream, Region::Sikasso)
        .await
        .expect("region stream");
    let national = hub.connect_as("monitoring").await;
    streams::ensure_national_stream(&national.jetstream, &domain_sources(&[Region::Sikasso]))
        .await
        .expect("national stream");
    let shutdown = CancellationToken::new();
    let mut config = jigi_monitoring::Config::local(
        &[Region::Sikasso],
        &hub.url_as("monitoring"),
        &format!("sqlite://{}", dir.path().join("monitoring.db").display()),
    );
    config.region_domains = true;
    // BENCH_JSON_MIRROR=off: the monitoring without its second consumer.
    config.json_mirror = std::env::var("BENCH_JSON_MIRROR").map_or(true, |v| v != "off");
    let monitoring = jigi_monitoring::start(config, shutdown.clone())
        .await
        .expect("the monitoring starts");
    let consumer = monitoring.service.consumer.clone();

    // The link is cut; the region goes on.
    hub.server.stop().await;
    let started = Instant::now();
    let mut acks = Vec::with_capacity(1_000);
    for i in 0..count {
        let event = sample_event(i);
        let ack = region
            .jetstream
            .publish_with_headers(event.subject.clone(), event.headers(), event.payload.into())
            .await
            .expect("the leaf accepts the event");
        acks.push(ack);
        if acks.len() == 1_000 {
            for ack in acks.drain(..) {
                ack.await.expect("the region's stream stores the event");
            }
        }
    }
    for ack in acks.drain(..) {
        ack.await.expect("the region's stream stores the event");
    }
    let buffered = stream_len(&region.jetstream, &subject::region_stream(Region::Sikasso)).await;
    assert_eq!(buffered, count);
    let publishing = started.elapsed();

    // The link returns.
    hub.server.restart().await.expect("hub restarts");
    let restored = Instant::now();
    let national = hub.connect_as("monitoring").await;
    let mut first = None;
    loop {
        let held = stream_len(&national.jetstream, subject::NATIONAL_STREAM).await;
        if held > 0 && first.is_none() {
            first = Some(restored.elapsed());
        }
        if held >= count {
            assert_eq!(held, count, "no event counted twice");
            break;
        }
        assert!(
            restored.elapsed() < Duration::from_secs(600),
            "no convergence after 10 minutes ({held} of {count})"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let converged = restored.elapsed();
    let first = first.unwrap_or(converged);
    // Handled counts are published after the commit that makes the events
    // visible to GetIndicators.
    while consumer.handled() + consumer.rejected() < count {
        assert!(
            restored.elapsed() < Duration::from_secs(600),
            "the monitoring applied {} of {count} after 10 minutes",
            consumer.handled()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let indicators = restored.elapsed();
    assert_eq!(consumer.rejected(), 0, "every event is a valid registration");
    shutdown.cancel();
    monitoring.stopped().await;
    println!(
        "  {count:>7} events buffered while cut off (published in {:.2} s); national stream converged {:.2} s after the hub returned \
         (first event after {:.2} s, then {:.2} s of catch-up = {:.0} events/s)",
        publishing.as_secs_f64(),
        converged.as_secs_f64(),
        first.as_secs_f64(),
        (converged - first).as_secs_f64(),
        count as f64 / (converged - first).as_secs_f64().max(1e-6),
    );
    let verdict = if count < 1_000_000 || indicators <= Duration::from_secs(30) {
        "✔"
    } else {
        "✘"
    };
    println!(
        "  {count:>7} events in the national indicators (committed by the monitoring) {:.2} s after the hub returned \
         (goal for 1,000,000: ≤ 30 s) {verdict}",
        indicators.as_secs_f64(),
    );
}

/// An event of the size a real registration makes.
fn sample_event(i: u64) -> OutgoingEvent {
    let message = HouseholdRegistered {
        household_id: format!("hh-sikasso-{i:08}"),
        location: Some(Location {
            region: Region::Sikasso.slug().into(),
            cercle: "sikasso.yanfolila".into(),
            commune: "sikasso.yanfolila.gouanan".into(),
            village: "sikasso.yanfolila.gouanan.kalana".into(),
        }),
        registered_on: "2026-11-29".into(),
        ..Default::default()
    };
    OutgoingEvent::new(Region::Sikasso, &message.household_id, &message)
}
