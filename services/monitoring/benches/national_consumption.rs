//! Monitoring's consumption of the national stream.
//!
//! 1. Throughput: N events of two regions, of every kind the indicators
//!    count (registrations, moves, enrolments, exits, payment cycles,
//!    payments made and failed, rations, MA sessions, HIMO attendance, AGR
//!    tranches: see [`event`]), dated about in the order they happened
//!    (see [`date_of`]), are published to the regional streams and
//!    sourced into
//!    JIGI_NATIONAL; then a bare JetStream pull consumer that decodes them
//!    and acks each batch of 1,000 with one cumulative ack (the baseline)
//!    and the monitoring (inbox, facts, activity) each read all N from the
//!    start.
//! 2. Lag: with both caught up, events are published at a steady 2,000/s
//!    for 20 s; the delay from an event's time to its effect is reported as
//!    p50 and p99, for the monitoring (to the commit that makes it visible
//!    to `GetIndicators`) and for the bare consumer (to its decoding). The
//!    monitoring's figure covers every event of the phase, from the
//!    service's own lag histogram (`/metrics`, scraped before and after:
//!    bounds, to the histogram's buckets); `GetFreshness` gives the exact
//!    percentiles of each region's last 2,000.
//!
//! The machine may be shared: the throughput of both sides is measured
//! BENCH_ROUNDS times (default 3), alternating, bare first, each round a
//! fresh consumer reading all N from the start (a fresh database for the
//! monitoring). Every round is printed; the ratio is the best round of one
//! side to the best of the other. The last round's two consumers go on
//! into the lag phase.
//!
//! The monitoring runs with its telemetry as deployed (a span per event),
//! exported only if `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! ```text
//! cargo bench -p jigi-monitoring --bench national_consumption
//! BENCH_EVENTS=100000 BENCH_ROUNDS=1 cargo bench -p jigi-monitoring --bench national_consumption
//! BENCH_DATES=scattered cargo bench -p jigi-monitoring --bench national_consumption
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use chrono::{Datelike, Days, Months, NaiveDate, Utc};
use futures::StreamExt;
use jigi_bus::streams::{self, RegionSource};
use jigi_bus::{Bus, BusConfig, OutgoingEvent, ReceivedEvent};
use jigi_common::Region;
use jigi_localnats::NatsProcess;
use jigi_proto::common::{Component, Location, Money, Period, Sex};
use jigi_proto::events as ev;
use jigi_proto::monitoring::GetFreshnessRequest;
use jigi_proto::monitoring::monitoring_service_client::MonitoringServiceClient;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

const REGIONS: [Region; 2] = [Region::Sikasso, Region::Mopti];
const STEADY_RATE: u64 = 2_000;
const STEADY_SECONDS: u64 = 20;

fn main() {
    let events: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rounds: u32 = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(run(events, rounds));
}

/// Events a day: the 1,000,000 events of a run span a year.
const EVENTS_PER_DAY: u64 = 2_740;

/// The date of the `i`-th event. A region's stream carries its events
/// about in the order they happened, so dates advance with the stream; one
/// event in twenty comes from a tablet that synced late, dated up to four
/// weeks earlier.
///
/// With `BENCH_DATES=scattered`, the mix of stops 27–29 instead: the events
/// of every thousand dated over 28 days of one month, the months over again
/// every 12,000 events, so every batch inserts all over each index by date
/// (a worst case no region sends).
fn date_of(i: u64, scattered: bool) -> NaiveDate {
    let start = NaiveDate::from_ymd_opt(2018, 1, 1).expect("a date");
    if scattered {
        let month = (i / 1000) % 12;
        return start
            .checked_add_months(Months::new(month as u32))
            .expect("a month of 2018")
            + Days::new(i % 28);
    }
    let day = i / EVENTS_PER_DAY;
    // Seven events in a row of every 140: late ones of every kind.
    let late = if (i / 7).is_multiple_of(20) { (i / 20) % 29 } else { 0 };
    start + Days::new(day.saturating_sub(late))
}

/// The `i`-th event. Every ten events of a region's households: a
/// registration, a move, enrolments in TM and PNP, a payment made and one
/// failed (a cycle opened first), a ration, an MA session, a HIMO
/// attendance day, and an exit or an AGR tranche in turn: every kind of
/// fact the indicators are made of.
fn event(i: u64, scattered: bool) -> OutgoingEvent {
    let region = REGIONS[(i % 2) as usize];
    let household = format!("h{}", i / 10);
    let commune = if region == Region::Sikasso {
        "sikasso.sikasso.finkolo"
    } else {
        "mopti.mopti.sio"
    };
    let location = Some(Location {
        region: region.slug().into(),
        cercle: commune.rsplit_once('.').unwrap().0.into(),
        commune: commune.into(),
        village: String::new(),
    });
    let date = date_of(i, scattered);
    let day = date.format("%Y-%m-%d").to_string();
    let period = Some(Period {
        code: format!("{}Q{}", date.year(), 1 + date.month0() / 3),
    });
    let cycle = Some(ev::PaymentCycleRef {
        cycle_id: format!("{}-2018", region.slug()),
        region: region.slug().into(),
        period: period.clone(),
        funding_source: ev::PaymentFundingSource::WorldBankIda as i32,
        ..Default::default()
    });
    let money = |fcfa| Some(Money { fcfa });
    let id = |kind: &str| format!("{kind}-{i}");
    match i % 10 {
        0 => OutgoingEvent::new(
            region,
            &household,
            &ev::HouseholdRegistered {
                household_id: household.clone(),
                location,
                members: Vec::new(),
                pmt: Some(ev::PmtResult {
                    score: 21.0,
                    eligible: true,
                }),
                registered_on: day,
            },
        ),
        1 => OutgoingEvent::new(
            region,
            &household,
            &ev::HouseholdUpdated {
                household_id: household.clone(),
                version: 2,
                location,
                ..Default::default()
            },
        ),
        2 | 3 => OutgoingEvent::new(
            region,
            &household,
            &ev::HouseholdEnrolled {
                household_id: household.clone(),
                component: if i % 10 == 2 { Component::Tm } else { Component::Pnp } as i32,
                enrolled_on: day,
                location,
                size: 6,
                committee_override: false,
            },
        ),
        4 if i < 20 => OutgoingEvent::new(
            region,
            "cycle",
            &ev::PaymentCycleOpened {
                cycle,
                ..Default::default()
            },
        ),
        4 => OutgoingEvent::new(
            region,
            &household,
            &ev::PaymentMade {
                cycle,
                household_id: household.clone(),
                location,
                amount: money(30_000),
                paid_on: day,
                ..Default::default()
            },
        ),
        5 => OutgoingEvent::new(
            region,
            &household,
            &ev::PaymentFailed {
                cycle,
                household_id: household.clone(),
                location,
                amount: money(30_000),
                attempted_on: day,
                ..Default::default()
            },
        ),
        6 => OutgoingEvent::new(
            region,
            &household,
            &ev::RationDistributed {
                distribution_id: id("d"),
                round_id: format!("{}-2018-1", region.slug()),
                round_year: 2018,
                round_number: 1,
                period,
                location,
                group: ev::BeneficiaryGroup::Child as i32,
                grams: 3_000,
                distributed_on: day,
                household_id: household.clone(),
                member_id: format!("{household}-m1"),
                warehouse_id: format!("w-{commune}"),
                stock_on_hand_grams: 1_000_000,
                ..Default::default()
            },
        ),
        7 => OutgoingEvent::new(
            region,
            &household,
            &ev::MaSessionHeld {
                session_id: id("s"),
                location,
                theme: ev::MaSessionTheme::InfantFeeding as i32,
                held_on: day,
                period,
                facilitator: "ong-gaas-mali".into(),
                attendees: vec![
                    ev::MaAttendee {
                        household_id: household.clone(),
                        member_id: format!("{household}-m1"),
                        sex: Sex::Female as i32,
                        age_group: ev::MaAgeGroup::MaAgeGroup18To59 as i32,
                    },
                    ev::MaAttendee {
                        household_id: household.clone(),
                        member_id: format!("{household}-m2"),
                        sex: Sex::Male as i32,
                        age_group: ev::MaAgeGroup::Under5 as i32,
                    },
                ],
            },
        ),
        8 => OutgoingEvent::new(
            region,
            &household,
            &ev::HimoAttendanceRecorded {
                site_id: format!("site-{}", i / 1000),
                location,
                worked_on: day,
                period,
                household_ids: vec![household.clone(), format!("{household}-b")],
                women: 1,
            },
        ),
        _ if (i / 10).is_multiple_of(2) => OutgoingEvent::new(
            region,
            &household,
            &ev::HouseholdExited {
                household_id: household.clone(),
                component: Component::Tm as i32,
                exited_on: day,
                reason: 1,
                location,
            },
        ),
        _ => OutgoingEvent::new(
            region,
            &household,
            &ev::AgrGrantTrancheReleased {
                tranche_id: id("t"),
                household_id: household.clone(),
                location,
                number: 1,
                amount: money(75_000),
                released_on: day,
                period,
                activity_type: ev::AgrActivityType::SmallLivestock as i32,
            },
        ),
    }
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

/// A bare durable pull consumer that decodes every event and acks each
/// batch with one cumulative ack (as the inbox does); returns (time to ack
/// `count` messages, lags seen after `lag_from` messages).
/// The baseline: reads the national stream from the start as well as it
/// can, under the durable name `durable`. Returns how long the first
/// `count` events took; goes on until `count + lag_events`, recording the
/// lag of every event after the first `count`.
async fn bare_consumer(
    js: jetstream::Context,
    durable: String,
    count: u64,
    lags: Arc<Mutex<Vec<f64>>>,
    lag_events: u64,
) -> Duration {
    const BATCH: usize = 1_000;
    let lag_from = count;
    let stream = js.get_stream("JIGI_NATIONAL").await.unwrap();
    let started = Instant::now();
    let mut batches = std::pin::pin!(jigi_testkit::bare_batches(&stream, &durable, BATCH).await);
    let mut seen = 0u64;
    let mut elapsed = Duration::ZERO;
    while let Some(batch) = batches.next().await {
        for message in &batch {
            let event = ReceivedEvent::from_jetstream(message).expect("a well-formed event");
            seen += 1;
            if seen > lag_from {
                lags.lock()
                    .await
                    .push((Utc::now() - event.time).num_microseconds().unwrap_or(0) as f64 / 1e6);
            }
        }
        batch.last().expect("a batch has a message").ack().await.unwrap();
        if seen >= count && elapsed.is_zero() {
            elapsed = started.elapsed();
        }
        if seen >= lag_from + lag_events {
            break;
        }
    }
    elapsed
}

/// One throughput round of the bare consumer alone: all `count` events
/// from the start, under a durable name of its own.
async fn bare_round(js: &jetstream::Context, round: u32, count: u64) -> Duration {
    let durable = format!("baseline-{round}");
    let elapsed = bare_consumer(js.clone(), durable.clone(), count, Arc::default(), 0).await;
    let stream = js.get_stream("JIGI_NATIONAL").await.unwrap();
    stream.delete_consumer(&durable).await.unwrap();
    elapsed
}

/// The monitoring as deployed, on the database file `file` of `dir`.
async fn start_monitoring(
    dir: &std::path::Path,
    file: &str,
    nats: &NatsProcess,
    shutdown: &CancellationToken,
) -> jigi_server::Running<jigi_monitoring::Handle> {
    let database = format!("sqlite://{}", dir.join(file).display());
    // The indicators' consumer alone: the JSON mirror is another reader
    // of the national stream, with its own consumer.
    let mut config = jigi_monitoring::Config::local(&REGIONS, &nats.url(), &database);
    config.json_mirror = false;
    // As deployed: each event makes its span (see the top; `tracing_cost`
    // measures exporting).
    config.service.telemetry = Some(
        jigi_telemetry::for_service(&jigi_telemetry::TelemetryConfig {
            service_name: "jigi-monitoring".into(),
            service_version: env!("CARGO_PKG_VERSION").into(),
            region: "national".into(),
            deployment: "bench".into(),
            default_log_filter: "warn".into(),
            otlp_endpoint: None,
        })
        .expect("telemetry"),
    );
    jigi_monitoring::start(config, shutdown.clone()).await.unwrap()
}

/// One throughput round of the monitoring: a fresh database reading all
/// `count` events from the start; then it stops and its consumer is
/// deleted, so the next round's monitoring starts from the start too.
async fn monitoring_round(
    dir: &std::path::Path,
    nats: &NatsProcess,
    js: &jetstream::Context,
    round: u32,
    count: u64,
) -> Duration {
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let running = start_monitoring(dir, &format!("monitoring-{round}.db"), nats, &shutdown).await;
    while running.service.consumer.handled() < count {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    running.stopped().await;
    let stream = js.get_stream("JIGI_NATIONAL").await.unwrap();
    let names: Vec<String> = stream
        .consumer_names()
        .map(|name| name.expect("a consumer name"))
        .collect()
        .await;
    for name in names {
        stream.delete_consumer(&name).await.unwrap();
    }
    elapsed
}

fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}

async fn run(count: u64, rounds: u32) {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsProcess::standalone(&dir.path().join("nats")).await.unwrap();
    let bus = Bus::connect(&BusConfig::new(nats.url(), "bench")).await.unwrap();
    for region in REGIONS {
        streams::ensure_region_stream(&bus.jetstream, region).await.unwrap();
    }
    let sources: Vec<RegionSource> = REGIONS.iter().map(|r| RegionSource::Local(*r)).collect();
    streams::ensure_national_stream(&bus.jetstream, &sources).await.unwrap();
    let scattered = std::env::var("BENCH_DATES").is_ok_and(|dates| dates == "scattered");
    println!(
        "national_consumption: {count} events, dated {}, nats-server {}",
        if scattered {
            "over 28 days of a month per 1,000 (BENCH_DATES=scattered)"
        } else {
            "as they happen (about 2,740 a day, one in twenty up to four weeks late)"
        },
        nats.url()
    );

    let started = Instant::now();
    publish(&bus.jetstream, (0..count).map(|i| event(i, scattered))).await;
    while stream_len(&bus.jetstream, "JIGI_NATIONAL").await < count {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "  prepared  {count} events published and sourced into JIGI_NATIONAL in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Throughput rounds, alternating, each side reading all N from the
    // start; the last round's two go on into the lag phase.
    let mut bare_runs = Vec::new();
    let mut monitoring_runs = Vec::new();
    let report = |side: &str, round: u32, elapsed: Duration| {
        println!(
            "  round {round}  {side:<10} {count} events in {:.2} s = {:.0} events/s",
            elapsed.as_secs_f64(),
            count as f64 / elapsed.as_secs_f64()
        );
    };
    for round in 1..rounds {
        let bare = bare_round(&bus.jetstream, round, count).await;
        report("bare", round, bare);
        bare_runs.push(bare);
        let monitoring = monitoring_round(dir.path(), &nats, &bus.jetstream, round, count).await;
        report("monitoring", round, monitoring);
        monitoring_runs.push(monitoring);
    }

    // The last round's baseline, with its lag measured later in the steady phase.
    let baseline_lags = Arc::new(Mutex::new(Vec::new()));
    let baseline = tokio::spawn(bare_consumer(
        bus.jetstream.clone(),
        "baseline".into(),
        count,
        baseline_lags.clone(),
        STEADY_RATE * STEADY_SECONDS,
    ));
    // The baseline runs alone first: wait for it to catch up.
    loop {
        let info = bus
            .jetstream
            .get_stream("JIGI_NATIONAL")
            .await
            .unwrap()
            .consumer_info("baseline")
            .await;
        if info.is_ok_and(|i| i.ack_floor.stream_sequence >= count) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let running = start_monitoring(dir.path(), "monitoring.db", &nats, &shutdown).await;
    while running.service.consumer.handled() < count {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let monitoring_elapsed = started.elapsed();
    report("monitoring", rounds, monitoring_elapsed);
    monitoring_runs.push(monitoring_elapsed);
    let (batches, transactions) = (
        running.service.consumer.batches(),
        running.service.consumer.transactions(),
    );

    // Steady phase: 2,000 events/s for 20 s, event time = publish time.
    // The service's lag histogram before and after it gives the lag of
    // every event of the phase, to the commit that made it visible.
    let lags_before = lag_buckets(running.metrics_addr).await;
    let steady = STEADY_RATE * STEADY_SECONDS;
    let ticker_start = Instant::now();
    for second in 0..STEADY_SECONDS {
        let from = count + second * STEADY_RATE;
        let batch: Vec<OutgoingEvent> = (from..from + STEADY_RATE).map(|i| event(i, scattered)).collect();
        // Spread the second's events over ten 100 ms slices.
        for slice in batch.chunks((STEADY_RATE / 10) as usize) {
            let slice: Vec<OutgoingEvent> = slice
                .iter()
                .cloned()
                .map(|mut e| {
                    e.time = Utc::now();
                    e
                })
                .collect();
            publish(&bus.jetstream, slice.into_iter()).await;
            let next = ticker_start
                + Duration::from_millis(100) * (1 + (Instant::now() - ticker_start).as_millis() as u32 / 100);
            tokio::time::sleep_until(next.into()).await;
        }
    }
    while running.service.consumer.handled() < count + steady {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lags_after = lag_buckets(running.metrics_addr).await;
    // A refused event costs less than an applied one: the figures would
    // flatter the monitoring.
    assert_eq!(
        running.service.consumer.rejected(),
        0,
        "the monitoring refused some of the benchmark's events"
    );
    let baseline_elapsed = baseline.await.unwrap();
    report("bare", rounds, baseline_elapsed);
    bare_runs.push(baseline_elapsed);
    let mut client = MonitoringServiceClient::new(
        tonic::transport::Endpoint::from_shared(format!("http://{}", running.grpc_addr))
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    let freshness = client
        .get_freshness(GetFreshnessRequest {})
        .await
        .unwrap()
        .into_inner()
        .regions;
    let mut baseline_lags = baseline_lags.lock().await.clone();

    let best_bare = bare_runs.iter().min().copied().expect("a round");
    let best_monitoring = monitoring_runs.iter().min().copied().expect("a round");
    println!(
        "  baseline  bare consumer acked {count} in {:.2} s = {:.0} events/s (best of {rounds})",
        best_bare.as_secs_f64(),
        count as f64 / best_bare.as_secs_f64()
    );
    println!(
        "  monitoring consumed {count} in {:.2} s = {:.0} events/s (best of {rounds}; ratio to baseline {:.3})",
        best_monitoring.as_secs_f64(),
        count as f64 / best_monitoring.as_secs_f64(),
        best_bare.as_secs_f64() / best_monitoring.as_secs_f64()
    );
    // Fewer transactions than deliveries: deliveries waited for the writer.
    println!("            last round: {batches} deliveries decoded, applied in {transactions} transactions");
    println!(
        "  lag at {STEADY_RATE} events/s, bare consumer: p50 {:.1} ms, p99 {:.1} ms",
        quantile(&mut baseline_lags, 0.5) * 1e3,
        quantile(&mut baseline_lags, 0.99) * 1e3
    );
    let every = LagHistogram::between(&lags_before, &lags_after);
    println!(
        "  lag at {STEADY_RATE} events/s, monitoring, every event of the phase ({}): p50 ≤ {:.0} ms, p99 ≤ {:.0} ms \
         (the service's histogram jigi_monitoring_event_lag_seconds, buckets doubling from 1 ms)",
        every.count(),
        every.bound(0.5) * 1e3,
        every.bound(0.99) * 1e3
    );
    for region in freshness {
        println!(
            "  lag at {STEADY_RATE} events/s, monitoring, {}: p50 {:.1} ms, p99 {:.1} ms (last {} events of the region)",
            region.region,
            region.lag_p50_seconds * 1e3,
            region.lag_p99_seconds * 1e3,
            jigi_monitoring::domain::freshness::LagWindow::SIZE
        );
    }
    println!(
        "  peak RSS of the benchmark process (monitoring + clients): {} MiB",
        peak_rss_mib()
    );
    shutdown.cancel();
    running.stopped().await;
}

/// The monitoring's lag histogram, summed over regions: each bucket's
/// upper bound (seconds) and how many lags fell at or under it.
async fn lag_buckets(metrics: std::net::SocketAddr) -> Vec<(f64, u64)> {
    let exposition = jigi_testkit::http_get(metrics, "/metrics")
        .await
        .expect("/metrics")
        .body;
    let mut buckets: std::collections::BTreeMap<String, (f64, u64)> = Default::default();
    for line in exposition.lines() {
        let Some(rest) = line.strip_prefix("jigi_monitoring_event_lag_seconds_bucket{") else {
            continue;
        };
        let (labels, count) = rest.split_once("} ").expect("a bucket's count");
        let le = labels
            .split(',')
            .find_map(|label| label.strip_prefix("le=\""))
            .map(|le| le.trim_end_matches('"'))
            .expect("a bucket's bound");
        let bound = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().expect("a bound")
        };
        let count: f64 = count.trim().parse().expect("a count");
        buckets.entry(le.to_owned()).or_insert((bound, 0)).1 += count as u64;
    }
    let mut buckets: Vec<(f64, u64)> = buckets.into_values().collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

/// The lags observed between two scrapes of the histogram.
struct LagHistogram(Vec<(f64, u64)>);

impl LagHistogram {
    fn between(before: &[(f64, u64)], after: &[(f64, u64)]) -> LagHistogram {
        LagHistogram(
            after
                .iter()
                .map(|&(bound, count)| {
                    let earlier = before.iter().find(|b| b.0 == bound).map_or(0, |b| b.1);
                    (bound, count - earlier)
                })
                .collect(),
        )
    }

    fn count(&self) -> u64 {
        self.0.last().map_or(0, |b| b.1)
    }

    /// The smallest bucket bound under which at least `q` of the lags fell.
    fn bound(&self, q: f64) -> f64 {
        let wanted = (q * self.count() as f64).ceil() as u64;
        self.0.iter().find(|b| b.1 >= wanted).map_or(f64::INFINITY, |b| b.0)
    }
}

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}
