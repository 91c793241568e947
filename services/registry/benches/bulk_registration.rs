//! Bulk registration, end to end: BENCH_HOUSEHOLDS households (default
//! 100,000) streamed through `ImportHouseholds`, timed until every one is
//! stored AND every event acknowledged by JetStream (the outbox empty).
//!
//! Baseline, in the same run, against the same nats-server: the bare
//! pipeline of `common` (what a careful hand-written importer does) doing
//! the same work: the same validation and PMT, the same rows (households,
//! members, outbox, the call's audit entry) written by rusqlite (or the
//! synchronous `postgres` client) on its own thread, 500 households per
//! transaction with multi-row INSERTs, the next batch prepared while one is
//! written; then the same events published to JetStream with many acks in
//! flight, and their outbox rows deleted. It is fed from memory, the
//! registry over gRPC from a client in the same process: the gRPC stream is
//! part of what the registry costs.
//!
//! Prints households/s of both, their ratio (goal: registry ≥ 0.8 of the
//! baseline), and the peak RSS of each phase. The machine may be shared
//! (other builds): BENCH_ROUNDS rounds (default 2) alternate the sides on
//! fresh databases, each line says how busy the rest of the machine was
//! just before, and the summary keeps the best round of each side. Never
//! asserts a timing.
//!
//!     cargo bench -p jigi-registry --bench bulk_registration
//!     BENCH_HOUSEHOLDS=20000 cargo bench -p jigi-registry --bench bulk_registration
//!     BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432 BENCH_HOUSEHOLDS=20000 cargo bench …

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{BarePipeline, BenchDatabase, Caller, Command, Domain, Usage};
use jigi_auth::Role;
use jigi_bus::{Bus, BusConfig};
use jigi_common::Region;
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_proto::registry::{HouseholdDraft, ImportHouseholdsRequest};
use jigi_testkit::{NatsServer, TestAccess, connect_as};
use tokio_util::sync::CancellationToken;

/// Households per transaction, in the registry's import and the baseline.
const BATCH: usize = 500;
const REGION: Region = Region::Sikasso;

fn main() {
    let households = common::env_usize("BENCH_HOUSEHOLDS", 100_000);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run(households));
}

/// One side's figures.
struct Figures {
    stored: Duration,
    acked: Duration,
    peak_rss: f64,
    usage: Usage,
    /// Cores busy outside this process just before the phase.
    background: f64,
    /// Transactions committed.
    commits: u64,
}

impl Figures {
    fn per_second(&self, households: usize) -> f64 {
        households as f64 / self.acked.as_secs_f64()
    }
}

async fn run(households: usize) {
    let rounds = common::env_usize("BENCH_ROUNDS", 2).max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let nats = NatsServer::start().await;
    let bus = Bus::connect(&BusConfig::new(nats.url(), "bench-observer"))
        .await
        .unwrap();
    let generator = common::generator(REGION);
    let draft = |i: usize| generator.household(i as u64);
    let mut baselines = Vec::new();
    let mut registries = Vec::new();
    for round in 1..=rounds {
        let registry_db = BenchDatabase::new(dir.path(), &format!("registry_{round}")).await;
        let baseline_db = BenchDatabase::new(dir.path(), &format!("baseline_{round}")).await;
        if round == 1 {
            println!(
                "bulk_registration: {households} households, {} per transaction, {}, nats-server {}, {} cores; \
                 {rounds} rounds (fresh databases each), the best of each side kept",
                BATCH,
                common::describe_database(&registry_db.url),
                nats.url(),
                std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            );
        }

        // The baseline.
        common::create_registry_schema(&baseline_db.url).await;
        let drafts: Vec<HouseholdDraft> = (0..households).map(draft).collect();
        let input_rss = common::rss_mib();
        let baseline = baseline(&baseline_db.url, &bus, drafts, round).await;
        println!(
            "  round {round} baseline  bare pipeline: stored in {:.2} s, stored + acked in {:.2} s = {:.0} households/s; \
             peak RSS {:.0} MiB (input {:.0} MiB); {}; other load before: {:.2} cores; {} commits",
            baseline.stored.as_secs_f64(),
            baseline.acked.as_secs_f64(),
            baseline.per_second(households),
            baseline.peak_rss,
            input_rss,
            baseline.usage.describe(baseline.acked, households),
            baseline.background,
            baseline.commits,
        );

        // The registry, as deployed: tokens checked, over gRPC.
        let drafts: Vec<HouseholdDraft> = (0..households).map(draft).collect();
        let input_rss = common::rss_mib();
        let registry = registry(&registry_db.url, &nats, &bus, dir.path(), drafts).await;
        println!(
            "  round {round} registry  ImportHouseholds: stored in {:.2} s, stored + acked in {:.2} s = {:.0} households/s; \
             peak RSS {:.0} MiB (input {:.0} MiB); {}; other load before: {:.2} cores; {} commits",
            registry.stored.as_secs_f64(),
            registry.acked.as_secs_f64(),
            registry.per_second(households),
            registry.peak_rss,
            input_rss,
            registry.usage.describe(registry.acked, households),
            registry.background,
            registry.commits,
        );
        println!(
            "  round {round} ratio     registry ÷ bare pipeline (stored + acked) = {:.3}",
            registry.per_second(households) / baseline.per_second(households)
        );
        registry_db.drop_now().await;
        baseline_db.drop_now().await;
        baselines.push(baseline);
        registries.push(registry);
    }

    let best = |figures: Vec<Figures>| figures.into_iter().min_by_key(|f| f.acked).expect("at least one round");
    let (baseline, registry) = (best(baselines), best(registries));
    let ratio = registry.per_second(households) / baseline.per_second(households);
    println!("Summary (best round of each side):");
    println!(
        "  baseline  {:.0} households/s stored + acked (stored in {:.2} s), peak RSS {:.0} MiB",
        baseline.per_second(households),
        baseline.stored.as_secs_f64(),
        baseline.peak_rss
    );
    println!(
        "  registry  {:.0} households/s stored + acked (stored in {:.2} s), peak RSS {:.0} MiB",
        registry.per_second(households),
        registry.stored.as_secs_f64(),
        registry.peak_rss
    );
    println!(
        "  ratio     registry ÷ bare pipeline (stored + acked) = {ratio:.3}   (goal ≥ 0.8: {})",
        if ratio >= 0.8 { "met" } else { "MISSED" }
    );
    println!(
        "  ratio     registry ÷ bare pipeline (stored only)    = {:.3}",
        baseline.stored.as_secs_f64() / registry.stored.as_secs_f64()
    );
    println!(
        "  peak RSS  of the whole benchmark process: {:.0} MiB (VmHWM, reset before each phase)",
        common::peak_rss_mib(),
    );
}

async fn baseline(url: &str, bus: &Bus, drafts: Vec<HouseholdDraft>, round: usize) -> Figures {
    let stream = format!("BASELINE_{round}");
    let pipeline = BarePipeline::start(url, bus.jetstream.clone(), &stream, &format!("baseline{round}")).await;
    let domain = Arc::new(Domain::new(REGION));
    let count = drafts.len() as u64;
    let background = common::background_load().await;
    common::reset_peak_rss();
    let usage = Usage::now();
    let started = Instant::now();
    let mut pending: Option<tokio::task::JoinHandle<()>> = None;
    for (index, chunk) in drafts.chunks(BATCH).enumerate() {
        // The next batch is validated while the previous one is written.
        let households = chunk
            .iter()
            .map(|d| domain.prepare(d).expect("a valid household"))
            .collect();
        let command = Command {
            households,
            request: None,
            // One audit entry per call, as the registry logs one for the import.
            audit: (index == 0).then(|| Caller {
                subject: "a.sangare".into(),
                method: "/jigi.registry.v1.RegistryService/ImportHouseholds".into(),
                request_id: String::new(),
            }),
        };
        if let Some(previous) = pending.take() {
            previous.await.unwrap();
        }
        let pipeline = pipeline.clone();
        pending = Some(tokio::spawn(async move {
            pipeline.register(command).await.expect("baseline batch");
        }));
    }
    if let Some(previous) = pending.take() {
        previous.await.unwrap();
    }
    let stored = started.elapsed();
    pipeline.wait_forgotten(count).await;
    let acked = started.elapsed();
    let commits = pipeline.progress.commits.load(std::sync::atomic::Ordering::Relaxed);
    let usage = Usage::now().since(usage);
    let published = jigi_testkit::stream_len(&bus.jetstream, &stream).await;
    assert_eq!(published, count, "every baseline event in its stream");
    Figures {
        stored,
        acked,
        peak_rss: common::peak_rss_mib(),
        usage,
        background,
        commits,
    }
}

async fn registry(
    url: &str,
    nats: &NatsServer,
    bus: &Bus,
    dir: &std::path::Path,
    drafts: Vec<HouseholdDraft>,
) -> Figures {
    let access = TestAccess::new(dir);
    let shutdown = CancellationToken::new();
    let mut config = jigi_registry::Config::local(REGION, &nats.url(), url);
    config.service.serve = access.serve_config();
    let running = jigi_registry::start(config, shutdown.clone()).await.expect("registry");
    let token = access.token("a.sangare", &[Role::FieldAgent, Role::RegionalSupervisor], REGION);
    let mut client = RegistryServiceClient::new(connect_as(running.grpc_addr, &token).await)
        .max_decoding_message_size(256 * 1024 * 1024);
    let count = drafts.len() as u64;
    let rows = drafts
        .into_iter()
        .enumerate()
        .map(|(i, draft)| ImportHouseholdsRequest {
            row: i as i64 + 1,
            household: Some(draft),
        });
    let stream = jigi_bus::subject::region_stream(REGION);
    // Earlier rounds' events are in the region's stream already.
    let already = jigi_testkit::stream_len(&bus.jetstream, &stream).await;
    let background = common::background_load().await;
    common::reset_peak_rss();
    let commit_count = running.database.commits();
    let commits_at_start = *commit_count.borrow();
    let usage = Usage::now();
    let started = Instant::now();
    let response = client
        .import_households(tokio_stream::iter(rows))
        .await
        .expect("import")
        .into_inner();
    let stored = started.elapsed();
    assert_eq!(response.registered as u64, count, "every household registered");
    drop(response);
    loop {
        if jigi_bus::outbox::pending(&running.database).await.unwrap() == 0
            && jigi_testkit::stream_len(&bus.jetstream, &stream).await >= already + count
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let acked = started.elapsed();
    let usage = Usage::now().since(usage);
    let peak_rss = common::peak_rss_mib();
    let commits = *commit_count.borrow() - commits_at_start;
    shutdown.cancel();
    running.stopped().await;
    Figures {
        stored,
        acked,
        peak_rss,
        usage,
        background,
        commits,
    }
}
