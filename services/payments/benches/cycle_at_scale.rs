//! A payment cycle at national scale, end to end through the gRPC API:
//! households learnt from registry events, the list frozen and approved,
//! every result recorded in batches and every payment event acknowledged by
//! JetStream, then reconciled and exported.
//!
//! Baseline, measured in the same run on the same database file: the same
//! entitlement rows and payment rows inserted straight into tables of the
//! same shape (same indexes), with multi-row INSERTs in one transaction —
//! what SQLite itself costs, without rules, events or idempotency.
//!
//! The projection (who may be paid) is timed from a full stream: every
//! enrolment is published before the service starts, and the clock runs
//! from its start until its inbox has applied them all; then a bare pull
//! consumer reads the same stream as well as it can be read (batches of
//! 1,000, every event's envelope and payload decoded, one cumulative ack
//! per batch) and the ratio of the two is printed.
//!
//!     cargo bench -p jigi-payments --bench cycle_at_scale
//!     BENCH_HOUSEHOLDS=100000 BENCH_BATCH=5000 cargo bench -p jigi-payments --bench cycle_at_scale

use std::time::{Duration, Instant};

use futures::StreamExt;
use jigi_bus::{Bus, BusConfig, OutgoingEvent, ReceivedEvent, streams};
use jigi_common::{Geography, Region};
use jigi_localnats::NatsProcess;
use jigi_proto::common::{Component, Location, Money, Period};
use jigi_proto::events::HouseholdEnrolled;
use jigi_proto::payments::payments_service_client::PaymentsServiceClient;
use jigi_proto::payments::*;
use jigi_storage::sql::{self, Placeholders};
use jigi_storage::{Database, Owned, StorageError, ToSql};
use prost::Message as _;
use tokio_util::sync::CancellationToken;

const REGION: Region = Region::Sikasso;
const AMOUNT: i64 = 30_000;

fn main() {
    let households: u64 = env("BENCH_HOUSEHOLDS", 1_000_000);
    let batch: u64 = env("BENCH_BATCH", 10_000);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run(households, batch));
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The registry ID of household `i` (a valid UUID, the same in every run).
fn household_id(i: u64) -> String {
    uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | u128::from(i)).to_string()
}

fn agent_of(commune_index: usize) -> String {
    format!("AGENT-{commune_index:03}")
}

async fn run(households: u64, batch: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let nats = NatsProcess::standalone(&dir.path().join("nats"))
        .await
        .expect("nats-server");
    let communes: Vec<(String, String)> = Geography::built_in()
        .communes(REGION.slug())
        .map(|area| {
            let cercle = area.parent().expect("a commune has a cercle").to_owned();
            (area.code.clone(), cercle)
        })
        .collect();
    println!(
        "cycle_at_scale: {households} households in {} communes of {}, results in batches of {batch}, nats-server {}",
        communes.len(),
        REGION.name(),
        nats.url()
    );

    // The registry's enrolments, all in the region's stream before the
    // service starts.
    let started = Instant::now();
    publish_enrolments(&nats.url(), households, &communes).await;
    println!(
        "  {households} HouseholdEnrolled published in {:.2} s, 1,000 acks in flight",
        started.elapsed().as_secs_f64()
    );

    // 1. Who may be paid: the projection of those events, from its start.
    let shutdown = CancellationToken::new();
    let database_url = format!("sqlite://{}", dir.path().join("payments.db").display());
    let mut config = jigi_payments::Config::local(REGION, &nats.url(), &database_url);
    config.consumer_batch = 1_000;
    let started = Instant::now();
    let running = jigi_payments::start(config.clone(), shutdown.clone())
        .await
        .expect("payments");
    let db = running.database.clone();
    let name = jigi_payments::consumer_name(&config);
    // Looked at after each commit, by its stream position (one row; a
    // count of the inbox's rows would scan a million of them each time,
    // on the service's own reader).
    let mut commits = db.commits();
    while jigi_bus::inbox::applied_sequence(&db, &name).await.unwrap() < households {
        commits.changed().await.expect("the database is open");
    }
    let projection = started.elapsed();
    assert_eq!(
        jigi_bus::inbox::processed_count(&db, &name).await.unwrap(),
        households as i64,
        "every enrolment handled, none rejected"
    );
    let bare = bare_consumer(&nats.url(), households).await;
    let (projection_rate, bare_rate) = (
        households as f64 / projection.as_secs_f64(),
        households as f64 / bare.as_secs_f64(),
    );
    println!(
        "  projection  {households} events applied through the inbox in {:.2} s = {projection_rate:.0} events/s",
        projection.as_secs_f64(),
    );
    println!(
        "  bare pull consumer, the same stream: {:.2} s = {bare_rate:.0} events/s; projection ÷ bare = {:.2} (goal ≥ 0.5)",
        bare.as_secs_f64(),
        projection_rate / bare_rate,
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", running.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = PaymentsServiceClient::new(channel)
        .max_decoding_message_size(64 * 1024 * 1024)
        .max_encoding_message_size(64 * 1024 * 1024);

    // 2. Baseline: the same rows straight into the same database.
    let (baseline_entitlements, baseline_payments) = baseline(&db, households, &communes).await;
    println!(
        "  baseline  raw INSERT of {households} entitlement rows: {:.2} s = {:.0} rows/s",
        baseline_entitlements.as_secs_f64(),
        households as f64 / baseline_entitlements.as_secs_f64()
    );
    println!(
        "  baseline  raw INSERT of {households} payment rows:     {:.2} s = {:.0} rows/s",
        baseline_payments.as_secs_f64(),
        households as f64 / baseline_payments.as_secs_f64()
    );
    println!("  peak RSS after baseline: {} MiB", peak_rss_mib());

    // 3. Open, assign agents, freeze, approve.
    let cycle = client
        .open_payment_cycle(OpenPaymentCycleRequest {
            period: Some(Period { code: "2019Q1".into() }),
            funding_source: FundingSource::WorldBankIda as i32,
            amount_per_household: None,
            communes: vec![],
            prepared_by: "bench-preparer".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .cycle
        .unwrap();
    let cycle_id = cycle.cycle_id.clone();
    client
        .assign_payment_agents(AssignPaymentAgentsRequest {
            cycle_id: cycle_id.clone(),
            assignments: communes
                .iter()
                .enumerate()
                .map(|(i, (commune, _))| AgentAssignment {
                    commune: commune.clone(),
                    agent_code: agent_of(i),
                    channel: if i % 2 == 0 {
                        PaymentChannel::Cash
                    } else {
                        PaymentChannel::MobileMoney
                    } as i32,
                })
                .collect(),
            assigned_by: "bench-preparer".into(),
        })
        .await
        .unwrap();
    let started = Instant::now();
    let frozen = client
        .freeze_payment_cycle(FreezePaymentCycleRequest {
            cycle_id: cycle_id.clone(),
            prepared_by: "bench-preparer".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .cycle
        .unwrap();
    let freeze = started.elapsed();
    let totals = frozen.frozen.unwrap();
    assert_eq!(totals.count, households as i64, "every household on the list");
    let started = Instant::now();
    client
        .approve_payment_cycle(ApprovePaymentCycleRequest {
            cycle_id: cycle_id.clone(),
            approved_by: "bench-approver".into(),
            expected_count: totals.count,
            expected_amount: totals.amount,
        })
        .await
        .unwrap();
    let approve = started.elapsed();
    println!(
        "  payments  freeze of {households} entitlements (INSERT … SELECT): {:.2} s = {:.0} rows/s; ratio to raw INSERT = {:.2}",
        freeze.as_secs_f64(),
        households as f64 / freeze.as_secs_f64(),
        freeze.as_secs_f64() / baseline_entitlements.as_secs_f64()
    );
    println!(
        "  payments  approval (totals and agents checked): {:.3} s",
        approve.as_secs_f64()
    );
    println!("  peak RSS after freeze and approval: {} MiB", peak_rss_mib());

    // 4. Results in batches: 97 % paid, 2 % failed, 1 % not collected.
    let started = Instant::now();
    let mut accepted = 0;
    let mut first = 0;
    while first < households {
        let last = (first + batch).min(households);
        let results = (first..last).map(|i| result(i, &communes)).collect();
        let response = client
            .record_payment_results(RecordPaymentResultsRequest {
                request_id: format!("bench-{first}"),
                cycle_id: cycle_id.clone(),
                results,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            response.refused,
            0,
            "{:?}",
            response.outcomes.iter().find(|o| !o.accepted)
        );
        accepted += response.accepted;
        first = last;
    }
    let recorded = started.elapsed();
    assert_eq!(accepted, households as i64);
    while jigi_bus::outbox::pending(&db).await.unwrap() > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let acked = started.elapsed();
    println!(
        "  payments  {households} results recorded: {:.2} s = {:.0} results/s; ratio to raw INSERT of payment rows = {:.2}",
        recorded.as_secs_f64(),
        households as f64 / recorded.as_secs_f64(),
        recorded.as_secs_f64() / baseline_payments.as_secs_f64()
    );
    println!(
        "  payments  … and every payment event acked by JetStream: {:.2} s = {:.0} results/s",
        acked.as_secs_f64(),
        households as f64 / acked.as_secs_f64()
    );

    // 5. Reconciliation and one agent's list.
    let started = Instant::now();
    let reconciliation = client
        .get_reconciliation(GetReconciliationRequest {
            cycle_id: cycle_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .reconciliation
        .unwrap();
    let reconcile = started.elapsed();
    let total = reconciliation.total.unwrap();
    let count = |t: Option<Totals>| t.map(|t| t.count).unwrap_or_default();
    let parts = count(total.paid) + count(total.failed) + count(total.not_collected) + count(total.outstanding);
    assert_eq!(parts, count(total.expected), "reconciliation adds up");
    println!(
        "  payments  reconciliation over {} communes: {:.3} s (paid {}, failed {}, not collected {}, outstanding {})",
        reconciliation.by_commune.len(),
        reconcile.as_secs_f64(),
        count(total.paid),
        count(total.failed),
        count(total.not_collected),
        count(total.outstanding)
    );
    let started = Instant::now();
    let mut stream = client
        .export_payment_list(ExportPaymentListRequest {
            cycle_id,
            agent_code: agent_of(0),
            only_unpaid: false,
        })
        .await
        .unwrap()
        .into_inner();
    let (mut rows, mut bytes) = (0, 0);
    while let Some(piece) = stream.next().await {
        let piece = piece.unwrap();
        rows += piece.rows;
        bytes += piece.csv.len();
    }
    let export = started.elapsed();
    println!(
        "  payments  CSV list of agent {}: {rows} rows, {} KiB in {:.3} s",
        agent_of(0),
        bytes / 1024,
        export.as_secs_f64()
    );
    println!(
        "  peak RSS of the benchmark process (service + client): {} MiB",
        peak_rss_mib()
    );
    shutdown.cancel();
    running.stopped().await;
}

fn result(i: u64, communes: &[(String, String)]) -> PaymentResult {
    let agent = agent_of(i as usize % communes.len());
    let date = chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string();
    match i % 100 {
        0 => PaymentResult {
            household_id: household_id(i),
            outcome: PaymentOutcome::NotCollected as i32,
            agent_code: agent,
            date,
            ..Default::default()
        },
        1 | 2 => PaymentResult {
            household_id: household_id(i),
            outcome: PaymentOutcome::Failed as i32,
            agent_code: agent,
            date,
            failure_reason: FailureReason::NetworkFailure as i32,
            ..Default::default()
        },
        _ => PaymentResult {
            household_id: household_id(i),
            outcome: PaymentOutcome::Paid as i32,
            agent_code: agent,
            date,
            amount: Some(Money { fcfa: AMOUNT }),
            receipt_reference: format!("RCPT-{i:08}"),
            failure_reason: 0,
        },
    }
}

/// Reads the region's stream from the start with a pull consumer of its
/// own, as well as it can be done: batches of 1,000, every event's envelope
/// and payload decoded, one cumulative ack per batch. The time to the
/// last of `count` events.
async fn bare_consumer(url: &str, count: u64) -> Duration {
    const BATCH: usize = 1_000;
    let bus = Bus::connect(&BusConfig::new(url, "bench-bare")).await.unwrap();
    let stream = bus
        .jetstream
        .get_stream(streams::region_stream_config(REGION).name)
        .await
        .unwrap();
    let started = Instant::now();
    let mut batches = std::pin::pin!(jigi_testkit::bare_batches(&stream, "bare", BATCH).await);
    let mut seen = 0u64;
    while let Some(batch) = batches.next().await {
        for message in &batch {
            let event = ReceivedEvent::from_jetstream(message).expect("a well-formed event");
            let enrolled = HouseholdEnrolled::decode(event.data).expect("a HouseholdEnrolled");
            assert!(!enrolled.household_id.is_empty());
            seen += 1;
        }
        batch.last().expect("a batch has a message").ack().await.unwrap();
        if seen >= count {
            break;
        }
    }
    started.elapsed()
}

/// Publishes one `HouseholdEnrolled` (TM) per household, 1,000 acks in flight.
async fn publish_enrolments(url: &str, households: u64, communes: &[(String, String)]) {
    let bus = Bus::connect(&BusConfig::new(url, "bench-registry")).await.unwrap();
    streams::ensure_region_stream(&bus.jetstream, REGION).await.unwrap();
    let mut in_flight = std::collections::VecDeque::with_capacity(1_000);
    for i in 0..households {
        let (commune, cercle) = &communes[i as usize % communes.len()];
        let id = household_id(i);
        let event = OutgoingEvent::new(
            REGION,
            &id,
            &HouseholdEnrolled {
                household_id: id.clone(),
                component: Component::Tm as i32,
                enrolled_on: "2018-12-01".into(),
                location: Some(Location {
                    region: REGION.slug().into(),
                    cercle: cercle.clone(),
                    commune: commune.clone(),
                    village: String::new(),
                }),
                size: 6,
                committee_override: false,
            },
        );
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
}

/// Inserts the same rows the cycle will hold, straight into tables of the
/// same shape, each table in one transaction; then drops the tables.
async fn baseline(db: &Database, households: u64, communes: &[(String, String)]) -> (Duration, Duration) {
    db.write(|conn| {
        conn.execute_batch(
            "CREATE TABLE bench_entitlements (cycle_id TEXT NOT NULL, household_id TEXT NOT NULL, region TEXT NOT NULL, \
             cercle TEXT NOT NULL, commune TEXT NOT NULL, village TEXT NOT NULL, amount BIGINT NOT NULL, \
             status TEXT NOT NULL, result_date TEXT, failure_reason TEXT, PRIMARY KEY (cycle_id, household_id)); \
             CREATE INDEX bench_entitlements_commune ON bench_entitlements (cycle_id, commune, household_id); \
             CREATE INDEX bench_entitlements_household ON bench_entitlements (household_id); \
             CREATE TABLE bench_payments (cycle_id TEXT NOT NULL, household_id TEXT NOT NULL, amount BIGINT NOT NULL, \
             paid_on TEXT NOT NULL, agent_code TEXT NOT NULL, receipt_reference TEXT NOT NULL, request_id TEXT NOT NULL, \
             recorded_at TEXT NOT NULL, PRIMARY KEY (cycle_id, household_id)); \
             CREATE UNIQUE INDEX bench_payments_receipt ON bench_payments (cycle_id, agent_code, receipt_reference);",
        )
    })
    .await
    .unwrap();
    let cycle_id = uuid::Uuid::now_v7().to_string();
    let per_statement = sql::rows_per_statement(8) as u64;

    let started = Instant::now();
    let (id, places) = (cycle_id.clone(), communes.to_vec());
    db.write(move |conn| {
        let mut first = 0;
        while first < households {
            let last = (first + per_statement).min(households);
            let statement = format!(
                "INSERT INTO bench_entitlements (cycle_id, household_id, region, cercle, commune, village, amount, status) \
                 VALUES {}",
                Placeholders::for_connection(conn).rows((last - first) as usize, 8)
            );
            let mut values: Vec<Owned> = Vec::with_capacity((last - first) as usize * 8);
            for i in first..last {
                let (commune, cercle) = &places[i as usize % places.len()];
                values.extend([
                    Owned::Text(id.clone()),
                    Owned::Text(household_id(i)),
                    Owned::Text(REGION.slug().to_owned()),
                    Owned::Text(cercle.clone()),
                    Owned::Text(commune.clone()),
                    Owned::Text(String::new()),
                    Owned::Int(AMOUNT),
                    Owned::Text("pending".to_owned()),
                ]);
            }
            let params: Vec<&dyn ToSql> = values.iter().map(|v| v as &dyn ToSql).collect();
            conn.execute(&statement, &params)?;
            first = last;
        }
        Ok::<_, StorageError>(())
    })
    .await
    .unwrap();
    let entitlements = started.elapsed();

    let started = Instant::now();
    let recorded_at = jigi_storage::timestamp::now();
    let commune_count = communes.len();
    db.write(move |conn| {
        let mut first = 0;
        while first < households {
            let last = (first + per_statement).min(households);
            let statement = format!(
                "INSERT INTO bench_payments (cycle_id, household_id, amount, paid_on, agent_code, receipt_reference, \
                 request_id, recorded_at) VALUES {}",
                Placeholders::for_connection(conn).rows((last - first) as usize, 8)
            );
            let mut values: Vec<Owned> = Vec::with_capacity((last - first) as usize * 8);
            for i in first..last {
                values.extend([
                    Owned::Text(cycle_id.clone()),
                    Owned::Text(household_id(i)),
                    Owned::Int(AMOUNT),
                    Owned::Text("2019-02-01".to_owned()),
                    Owned::Text(agent_of(i as usize % commune_count)),
                    Owned::Text(format!("RCPT-{i:08}")),
                    Owned::Text("baseline".to_owned()),
                    Owned::Text(recorded_at.clone()),
                ]);
            }
            let params: Vec<&dyn ToSql> = values.iter().map(|v| v as &dyn ToSql).collect();
            conn.execute(&statement, &params)?;
            first = last;
        }
        Ok::<_, StorageError>(())
    })
    .await
    .unwrap();
    let payments = started.elapsed();
    db.write(|conn| conn.execute_batch("DROP TABLE bench_entitlements; DROP TABLE bench_payments;"))
        .await
        .unwrap();
    (entitlements, payments)
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
