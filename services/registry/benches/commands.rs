//! Single commands and reads over gRPC, against bare baselines measured in
//! the same run, on the same machine, with the same client:
//!
//! (a) RegisterHousehold, one caller at a time: p50/p99 over BENCH_CALLS
//!     calls (default 2,000). Goal: p50 ≤ 2 ms.
//! (b) RegisterHousehold from 16 and from 64 concurrent clients, each
//!     client its own connection (its own channel, one call at a time):
//!     calls/s and p50/p99 over BENCH_CONCURRENT_CALLS calls (default
//!     10,000). Goal: ≥ 5,000 calls/s with 16 clients.
//! (c) GetHousehold with 64 calls in flight on one connection (64 tasks
//!     sharing one channel), BENCH_READS calls (default 20,000), against a
//!     gRPC hello-world: `grpc.health.v1.Health/Check` served alone by a
//!     plain `tonic::transport::Server` with TCP_NODELAY (TcpIncoming) and
//!     the host's HTTP/2 settings, called through the same kind of channel
//!     (TCP_NODELAY, the same bearer-token interceptor; the hello-world
//!     ignores the token: it is protected by nothing). Goal: ≥ 0.7 of the
//!     hello-world. Measured on a registry without access control (the
//!     like-for-like comparison) and on one checking tokens as deployed,
//!     both on the same database; both serve the 2,000 households read in
//!     turn from the registry's household cache (`JIGI_CACHED_HOUSEHOLDS`),
//!     so a third registry, with no cache, gives the cost of reading the
//!     database; also against a bare GetHousehold (the
//!     same three queries in one read transaction on rusqlite reader
//!     threads behind a plain tonic server, and again on the gRPC handler's
//!     own thread with a pooled connection, and from a map of the same
//!     households held as messages: the best any GetHousehold can do with
//!     this answer) and the host's own Health/Check (every layer of the
//!     host, no database).
//!
//! The baseline of (a) and (b) is the bare pipeline of `common`, served by
//! a plain tonic server under the registry's service name (RegisterHousehold
//! and GetHousehold only): the same validation, PMT and event, the same rows
//! (household, members, outbox, idempotency record, audit entry) written
//! by one rusqlite thread with group commit, one lookup per group for
//! duplicates, multi-row INSERTs, the events published with many acks in
//! flight and their outbox rows deleted after the ack. No access control.
//!
//! The machine may be shared (other builds): each comparison runs
//! BENCH_ROUNDS times (default 3), the two sides alternating, every round
//! is printed, and the best round of each side goes in the summary; each
//! line says how busy the rest of the machine was just before it.
//! Every figure is printed, with a table at the end; nothing is asserted
//! about timings. With BENCH_POSTGRES (or JIGI_TEST_POSTGRES) set, both
//! sides run on PostgreSQL.
//!
//!     cargo bench -p jigi-registry --bench commands

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{BarePipeline, BareReader, BenchDatabase, Caller, Command, Domain, Latencies, RequestRecord, Usage, ms};
use jigi_auth::Role;
use jigi_bus::{Bus, BusConfig};
use jigi_common::Region;
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_proto::registry::*;
use jigi_registry::Registry;
use jigi_registry::app::CACHED_HOUSEHOLDS;
use jigi_server::Running;
use jigi_testkit::{AuthedChannel, NatsServer, TestAccess, connect_as};
use prost::Message as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const REGION: Region = Region::Sikasso;
const WARM_UP: usize = 200;

fn main() {
    let settings = Settings {
        calls: common::env_usize("BENCH_CALLS", 2_000),
        concurrent_calls: common::env_usize("BENCH_CONCURRENT_CALLS", 10_000),
        reads: common::env_usize("BENCH_READS", 20_000),
        rounds: common::env_usize("BENCH_ROUNDS", 3).max(1),
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run(settings));
}

struct Settings {
    calls: usize,
    concurrent_calls: usize,
    reads: usize,
    rounds: usize,
}

/// One row of the final table.
struct Row {
    path: String,
    jigi: String,
    baseline: String,
    ratio: f64,
    goal: String,
}

/// A run of calls: how long, how fast, how spread.
struct Run {
    wall: Duration,
    latencies: Latencies,
    usage: Usage,
    peak_rss: f64,
    /// Cores busy outside this process just before the run.
    background: f64,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64()
    }

    fn describe(&self) -> String {
        format!(
            "{:>7.0} calls/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.1} ms  peak RSS {:>4.0} MiB  {}; \
             other load before: {:.2} cores",
            self.per_second(),
            ms(self.latencies.p50()),
            ms(self.latencies.p99()),
            ms(self.latencies.max()),
            self.peak_rss,
            self.usage.describe(self.wall, self.latencies.len()),
            self.background,
        )
    }
}

async fn timed<F: Future<Output = Vec<Duration>>>(work: F) -> Run {
    let background = common::background_load().await;
    common::reset_peak_rss();
    let (samples, wall, usage) = common::measured(work).await;
    Run {
        wall,
        latencies: Latencies::new(samples),
        usage,
        peak_rss: common::peak_rss_mib(),
        background,
    }
}

async fn run(settings: Settings) {
    let dir = tempfile::tempdir().expect("temp dir");
    let nats = NatsServer::start().await;
    let bus = Bus::connect(&BusConfig::new(nats.url(), "bench-baseline"))
        .await
        .unwrap();
    let registry_db = BenchDatabase::new(dir.path(), "registry").await;
    let baseline_db = BenchDatabase::new(dir.path(), "baseline").await;
    println!(
        "commands: {}, nats-server {}, {} cores, tokio multi-thread runtime shared by clients and servers; \
         {} alternating rounds per comparison, the best round of each side kept",
        common::describe_database(&registry_db.url),
        nats.url(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        settings.rounds,
    );
    let access = TestAccess::new(dir.path());
    let token = access.token("a.sangare", &[Role::FieldAgent, Role::RegionalSupervisor], REGION);

    // The registry as deployed (tokens checked).
    let shutdown = CancellationToken::new();
    let registry = start_registry(&registry_db.url, &nats, Some(&access), CACHED_HOUSEHOLDS, &shutdown).await;
    // The bare pipeline behind a plain tonic server.
    common::create_registry_schema(&baseline_db.url).await;
    let pipeline = BarePipeline::start(&baseline_db.url, bus.jetstream.clone(), "BASELINE", "baseline").await;
    let bare_addr = serve_plain(BareRegistry {
        pipeline: pipeline.clone(),
        domain: Arc::new(Domain::new(REGION)),
        reader: Arc::new(BareReader::start(
            &baseline_db.url,
            jigi_storage::Options::default().readers,
        )),
    })
    .await;
    // The same, reading on the gRPC handler's own thread.
    let bare_inline_addr = serve_plain(BareRegistry {
        pipeline: pipeline.clone(),
        domain: Arc::new(Domain::new(REGION)),
        reader: Arc::new(BareReader::inline(&baseline_db.url)),
    })
    .await;
    let (hello_addr, _health) = serve_hello_world().await;

    let generator = common::generator(REGION);
    let mut next_index = 0u64;
    let mut drafts = |count: usize| {
        let batch: Vec<HouseholdDraft> = (0..count).map(|i| generator.household(next_index + i as u64)).collect();
        next_index += count as u64;
        batch
    };
    let mut table = Vec::new();
    let mut household_ids = Vec::new();
    let mut bare_ids = Vec::new();
    let sides = [("registry", registry.grpc_addr), ("bare", bare_addr)];

    // (a) One caller at a time.
    println!(
        "\n(a) RegisterHousehold, one client, one call at a time, {} calls per round",
        settings.calls
    );
    let mut clients = Vec::new();
    for (_, addr) in sides {
        let mut client = registry_client(addr, &token).await;
        register_one_by_one(&mut client, drafts(WARM_UP), &mut Vec::new()).await;
        clients.push(client);
    }
    let mut sequential: [Vec<Run>; 2] = [Vec::new(), Vec::new()];
    for round in 1..=settings.rounds {
        for (side, (name, _)) in sides.iter().enumerate() {
            let batch = drafts(settings.calls);
            settle(&registry.database, &pipeline).await;
            let ids = if side == 0 { &mut household_ids } else { &mut bare_ids };
            let commits = commit_count(name, &registry, &pipeline);
            let run = timed(register_one_by_one(&mut clients[side], batch, ids)).await;
            let commits = commit_count(name, &registry, &pipeline) - commits;
            println!(
                "  {name:<8} round {round}: {}; {:.2} commits/call",
                run.describe(),
                commits as f64 / run.latencies.len() as f64
            );
            sequential[side].push(run);
        }
    }
    let [jigi, bare] = sequential.map(best_latency);
    table.push(Row {
        path: "RegisterHousehold, 1 client, p50".into(),
        jigi: format!("{:.2} ms", ms(jigi.latencies.p50())),
        baseline: format!("{:.2} ms", ms(bare.latencies.p50())),
        ratio: bare.latencies.p50().as_secs_f64() / jigi.latencies.p50().as_secs_f64(),
        goal: goal(ms(jigi.latencies.p50()) <= 2.0, "p50 ≤ 2 ms"),
    });
    table.push(Row {
        path: "RegisterHousehold, 1 client, p99".into(),
        jigi: format!("{:.2} ms", ms(jigi.latencies.p99())),
        baseline: format!("{:.2} ms", ms(bare.latencies.p99())),
        ratio: bare.latencies.p99().as_secs_f64() / jigi.latencies.p99().as_secs_f64(),
        goal: "—".into(),
    });

    // (b) Many clients, each on its own connection.
    for clients in [16, 64] {
        println!(
            "\n(b) RegisterHousehold, {clients} clients, each its own connection, one call at a time each, {} calls per round",
            settings.concurrent_calls
        );
        let mut runs: [Vec<Run>; 2] = [Vec::new(), Vec::new()];
        for round in 1..=settings.rounds {
            for (side, (name, addr)) in sides.iter().enumerate() {
                let mut connections = Vec::new();
                for _ in 0..clients {
                    connections.push(registry_client(*addr, &token).await);
                }
                let batch = drafts(settings.concurrent_calls);
                settle(&registry.database, &pipeline).await;
                let commits = commit_count(name, &registry, &pipeline);
                let before = registry.database.health();
                let run = timed(register_concurrently(connections, batch)).await;
                let commits = commit_count(name, &registry, &pipeline) - commits;
                println!(
                    "  {name:<8} round {round}: {}; {:.2} commits/call{}",
                    run.describe(),
                    commits as f64 / run.latencies.len() as f64,
                    checkpoints(side, &before, &registry.database.health()),
                );
                runs[side].push(run);
            }
        }
        let [jigi, bare] = runs.map(best_throughput);
        table.push(Row {
            path: format!("RegisterHousehold, {clients} clients"),
            jigi: format!("{:.0} calls/s", jigi.per_second()),
            baseline: format!("{:.0} calls/s", bare.per_second()),
            ratio: jigi.per_second() / bare.per_second(),
            goal: if clients == 16 {
                goal(jigi.per_second() >= 5_000.0, "≥ 5,000 calls/s")
            } else {
                "—".into()
            },
        });
        table.push(Row {
            path: format!("RegisterHousehold, {clients} clients, p50 / p99"),
            jigi: format!("{:.1} / {:.1} ms", ms(jigi.latencies.p50()), ms(jigi.latencies.p99())),
            baseline: format!("{:.1} / {:.1} ms", ms(bare.latencies.p50()), ms(bare.latencies.p99())),
            ratio: bare.latencies.p50().as_secs_f64() / jigi.latencies.p50().as_secs_f64(),
            goal: "—".into(),
        });
    }

    // (c) Reads: 64 in flight on one connection. A second registry serves
    // the same database without access control (only reads now: the first
    // one's outbox is empty, so neither writes).
    settle(&registry.database, &pipeline).await;
    household_ids.truncate(2_000);
    bare_ids.truncate(2_000);
    let ids = Arc::new(household_ids);
    let bare_ids = Arc::new(bare_ids);
    let open_shutdown = CancellationToken::new();
    let open = start_registry(&registry_db.url, &nats, None, CACHED_HOUSEHOLDS, &open_shutdown).await;
    let uncached = start_registry(&registry_db.url, &nats, None, 0, &open_shutdown).await;
    println!(
        "\n(c) 64 calls in flight on one connection, {} calls per round; hello-world: grpc.health.v1 Check on a plain tonic server",
        settings.reads
    );
    // The same households, read once and held as messages.
    let inline = BareReader::inline(&baseline_db.url);
    let mut held = std::collections::HashMap::new();
    for id in bare_ids.iter() {
        held.insert(id.clone(), inline.get(id.clone()).await.expect("a bare household"));
    }
    let bare_memory_addr = serve_plain(BareRegistry {
        pipeline: pipeline.clone(),
        domain: Arc::new(Domain::new(REGION)),
        reader: Arc::new(BareReader::in_memory(held)),
    })
    .await;
    let readers: [(&str, SocketAddr, Option<Ids>); 8] = [
        ("hello-world (no access control)", hello_addr, None),
        (
            "registry GetHousehold, tokens checked",
            registry.grpc_addr,
            Some(ids.clone()),
        ),
        (
            "registry GetHousehold, no access control",
            open.grpc_addr,
            Some(ids.clone()),
        ),
        (
            "registry GetHousehold, no access control, no cache",
            uncached.grpc_addr,
            Some(ids.clone()),
        ),
        (
            "bare GetHousehold (plain tonic + rusqlite readers)",
            bare_addr,
            Some(bare_ids.clone()),
        ),
        (
            "bare GetHousehold (plain tonic + rusqlite on the handler's thread)",
            bare_inline_addr,
            Some(bare_ids.clone()),
        ),
        (
            "bare GetHousehold from memory (plain tonic + a map of the messages)",
            bare_memory_addr,
            Some(bare_ids.clone()),
        ),
        (
            "registry host's Health/Check (all layers, no database)",
            registry.grpc_addr,
            None,
        ),
    ];
    let mut reads: [Vec<Run>; 8] = Default::default();
    for round in 1..=settings.rounds {
        for (index, (name, addr, ids)) in readers.iter().enumerate() {
            reads[index].push(
                read_run(
                    &format!("{name}, round {round}"),
                    *addr,
                    &token,
                    settings.reads,
                    ids.clone(),
                )
                .await,
            );
        }
    }
    let [
        hello,
        on,
        off,
        off_uncached,
        bare_get,
        bare_inline,
        bare_memory,
        host_health,
    ] = reads.map(best_throughput);
    let cache = open.service.household_cache().stats();
    println!(
        "  household cache of the registry without access control: {} hits, {} reads of the database",
        cache.hits, cache.misses
    );
    open_shutdown.cancel();
    open.stopped().await;
    uncached.stopped().await;
    shutdown.cancel();
    registry.stopped().await;

    table.push(Row {
        path: "GetHousehold, 64 in flight, access off".into(),
        jigi: format!("{:.0} calls/s", off.per_second()),
        baseline: format!("{:.0} calls/s", hello.per_second()),
        ratio: off.per_second() / hello.per_second(),
        goal: goal(off.per_second() / hello.per_second() >= 0.7, "≥ 0.7 of hello-world"),
    });
    table.push(Row {
        path: "GetHousehold, 64 in flight, tokens on (hello-world unprotected)".into(),
        jigi: format!("{:.0} calls/s", on.per_second()),
        baseline: format!("{:.0} calls/s", hello.per_second()),
        ratio: on.per_second() / hello.per_second(),
        goal: goal(on.per_second() / hello.per_second() >= 0.7, "≥ 0.7 of hello-world"),
    });
    table.push(Row {
        path: "GetHousehold, 64 in flight, access off, vs bare from memory".into(),
        jigi: format!("{:.0} calls/s", off.per_second()),
        baseline: format!("{:.0} calls/s", bare_memory.per_second()),
        ratio: off.per_second() / bare_memory.per_second(),
        goal: "—".into(),
    });
    table.push(Row {
        path: "bare GetHousehold from memory vs hello-world".into(),
        jigi: format!("{:.0} calls/s", bare_memory.per_second()),
        baseline: format!("{:.0} calls/s", hello.per_second()),
        ratio: bare_memory.per_second() / hello.per_second(),
        goal: "—".into(),
    });
    table.push(Row {
        path: "GetHousehold, 64 in flight, access off, no cache".into(),
        jigi: format!("{:.0} calls/s", off_uncached.per_second()),
        baseline: format!("{:.0} calls/s", hello.per_second()),
        ratio: off_uncached.per_second() / hello.per_second(),
        goal: "—".into(),
    });
    table.push(Row {
        path: "GetHousehold, 64 in flight, access off, no cache, vs bare GetHousehold".into(),
        jigi: format!("{:.0} calls/s", off_uncached.per_second()),
        baseline: format!("{:.0} calls/s", bare_get.per_second()),
        ratio: off_uncached.per_second() / bare_get.per_second(),
        goal: "—".into(),
    });
    table.push(Row {
        path: "bare GetHousehold vs hello-world".into(),
        jigi: format!("{:.0} calls/s", bare_get.per_second()),
        baseline: format!("{:.0} calls/s", hello.per_second()),
        ratio: bare_get.per_second() / hello.per_second(),
        goal: "—".into(),
    });
    table.push(Row {
        path: "bare GetHousehold on the handler's thread vs hello-world".into(),
        jigi: format!("{:.0} calls/s", bare_inline.per_second()),
        baseline: format!("{:.0} calls/s", hello.per_second()),
        ratio: bare_inline.per_second() / hello.per_second(),
        goal: "—".into(),
    });
    table.push(Row {
        path: "Health/Check via the Jigi host, 64 in flight".into(),
        jigi: format!("{:.0} calls/s", host_health.per_second()),
        baseline: format!("{:.0} calls/s", hello.per_second()),
        ratio: host_health.per_second() / hello.per_second(),
        goal: "—".into(),
    });

    println!(
        "\nSummary ({}; best of {} rounds each; ratio: Jigi ÷ baseline for throughput, baseline ÷ Jigi for latency: \
         1.00 is parity, lower is slower)",
        common::describe_database(&registry_db.url),
        settings.rounds,
    );
    println!(
        "  {:<64} {:>16} {:>16} {:>6}  goal",
        "path", "Jigi", "baseline", "ratio"
    );
    for row in &table {
        println!(
            "  {:<64} {:>16} {:>16} {:>6.2}  {}",
            row.path, row.jigi, row.baseline, row.ratio, row.goal
        );
    }
    println!(
        "  peak RSS of the whole benchmark process: {:.0} MiB",
        common::peak_rss_mib()
    );
    registry_db.drop_now().await;
    baseline_db.drop_now().await;
}

/// Household IDs to read, in turn.
type Ids = Arc<Vec<String>>;

/// The round with the highest throughput (the least disturbed by whatever
/// else the machine was doing).
fn best_throughput(runs: Vec<Run>) -> Run {
    runs.into_iter()
        .max_by(|a, b| a.per_second().total_cmp(&b.per_second()))
        .expect("at least one round")
}

/// The round with the lowest median latency.
fn best_latency(runs: Vec<Run>) -> Run {
    runs.into_iter()
        .min_by_key(|run| run.latencies.p50())
        .expect("at least one round")
}

/// The registry's SQLite checkpoints during a run (the bare pipeline's
/// are SQLite's automatic ones, on its writer, uncounted).
fn checkpoints(side: usize, before: &jigi_storage::Health, after: &jigi_storage::Health) -> String {
    if side != 0 || after.checkpoints == 0 {
        return String::new();
    }
    format!(
        "; {} checkpoints ({} on the writer), {} log restarts",
        after.checkpoints - before.checkpoints,
        after.writer_checkpoints - before.writer_checkpoints,
        after.log_restarts - before.log_restarts
    )
}

/// Transactions committed so far by one side.
fn commit_count(side: &str, registry: &Running<Registry>, pipeline: &BarePipeline) -> u64 {
    if side == "registry" {
        *registry.database.commits().borrow()
    } else {
        pipeline.progress.commits.load(Ordering::Relaxed)
    }
}

/// Waits until neither side has events left to publish (or outbox rows to
/// delete), so no run pays for the previous one's tail.
async fn settle(database: &jigi_storage::Database, pipeline: &BarePipeline) {
    loop {
        let bare_done =
            pipeline.progress.forgotten.load(Ordering::Relaxed) >= pipeline.progress.stored.load(Ordering::Relaxed);
        if bare_done && jigi_bus::outbox::pending(database).await.unwrap_or(1) == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn goal(met: bool, goal: &str) -> String {
    format!("{goal}: {}", if met { "met" } else { "MISSED" })
}

async fn start_registry(
    url: &str,
    nats: &NatsServer,
    access: Option<&TestAccess>,
    cached_households: usize,
    shutdown: &CancellationToken,
) -> Running<Registry> {
    let mut config = jigi_registry::Config::local(REGION, &nats.url(), url);
    config.cached_households = cached_households;
    if let Some(access) = access {
        config.service.serve = access.serve_config();
    }
    jigi_registry::start(config, shutdown.clone()).await.expect("registry")
}

async fn registry_client(addr: SocketAddr, token: &str) -> RegistryServiceClient<AuthedChannel> {
    RegistryServiceClient::new(connect_as(addr, token).await)
}

fn register_request(draft: HouseholdDraft) -> RegisterHouseholdRequest {
    RegisterHouseholdRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        household: Some(draft),
    }
}

/// Registers `drafts` one after another; the latency of each call.
async fn register_one_by_one(
    client: &mut RegistryServiceClient<AuthedChannel>,
    drafts: Vec<HouseholdDraft>,
    ids: &mut Vec<String>,
) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(drafts.len());
    for draft in drafts {
        let request = register_request(draft);
        let started = Instant::now();
        let response = client.register_household(request).await.expect("registered");
        samples.push(started.elapsed());
        ids.push(response.into_inner().household.unwrap_or_default().household_id);
    }
    samples
}

/// Registers `drafts` from every client at once, each one call at a time.
async fn register_concurrently(
    clients: Vec<RegistryServiceClient<AuthedChannel>>,
    drafts: Vec<HouseholdDraft>,
) -> Vec<Duration> {
    let per_client = drafts.len().div_ceil(clients.len());
    let mut drafts = drafts.into_iter();
    let mut tasks = Vec::new();
    for mut client in clients {
        let share: Vec<HouseholdDraft> = drafts.by_ref().take(per_client).collect();
        tasks.push(tokio::spawn(async move {
            register_one_by_one(&mut client, share, &mut Vec::new()).await
        }));
    }
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await.expect("client task"));
    }
    samples
}

/// `calls` reads from 64 tasks sharing one connection: GetHousehold of
/// `ids` in turn, or Health/Check when there are none.
async fn read_run(name: &str, addr: SocketAddr, token: &str, calls: usize, ids: Option<Arc<Vec<String>>>) -> Run {
    const IN_FLIGHT: usize = 64;
    let channel = connect_as(addr, token).await;
    // Warm up the connection and the server.
    read_calls(channel.clone(), ids.clone(), IN_FLIGHT, WARM_UP * 5).await;
    let run = timed(read_calls(channel, ids, IN_FLIGHT, calls)).await;
    println!("  {name:<56} {}", run.describe());
    run
}

async fn read_calls(
    channel: AuthedChannel,
    ids: Option<Arc<Vec<String>>>,
    in_flight: usize,
    calls: usize,
) -> Vec<Duration> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(in_flight);
    for _ in 0..in_flight {
        let (next, ids, channel) = (next.clone(), ids.clone(), channel.clone());
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut registry = RegistryServiceClient::new(channel.clone());
            let mut health = HealthClient::new(channel);
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= calls {
                    return samples;
                }
                let started = Instant::now();
                match &ids {
                    Some(ids) => {
                        registry
                            .get_household(GetHouseholdRequest {
                                household_id: ids[n % ids.len()].clone(),
                            })
                            .await
                            .expect("GetHousehold");
                    }
                    None => {
                        health
                            .check(HealthCheckRequest { service: String::new() })
                            .await
                            .expect("Health/Check");
                    }
                }
                samples.push(started.elapsed());
            }
        }));
    }
    let mut samples = Vec::with_capacity(calls);
    for task in tasks {
        samples.extend(task.await.expect("reader task"));
    }
    samples
}

// ---------------------------------------------------------------- baselines

/// Serves `service` alone on a plain tonic server set up as the Jigi host
/// sets up its own: TCP_NODELAY and keepalive on every accepted socket, the
/// same HTTP/2 keepalive, stream limit and request timeout; no layers.
async fn serve_plain<S>(service: S) -> SocketAddr
where
    S: tonic::codegen::Service<
            tonic::codegen::http::Request<tonic::body::Body>,
            Response = tonic::codegen::http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().unwrap();
    let incoming = TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(Duration::from_secs(60)))
        .with_keepalive_interval(Some(Duration::from_secs(15)))
        .with_keepalive_retries(Some(4));
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .timeout(Duration::from_secs(60))
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .max_concurrent_streams(Some(256))
            .add_service(service)
            .serve_with_incoming(incoming)
            .await
            .expect("plain server");
    });
    addr
}

/// A gRPC hello-world: `grpc.health.v1.Health/Check`, nothing else. The
/// reporter is given back: the server answers as long as it lives.
async fn serve_hello_world() -> (SocketAddr, tonic_health::server::HealthReporter) {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    (serve_plain(service).await, reporter)
}

/// The bare pipeline behind the registry's own gRPC service name, its
/// RegisterHousehold and GetHousehold methods (routed by hand, as generated
/// servers do; every other method is UNIMPLEMENTED).
#[derive(Clone)]
struct BareRegistry {
    pipeline: BarePipeline,
    domain: Arc<Domain>,
    reader: Arc<BareReader>,
}

impl BareRegistry {
    async fn register_household(
        &self,
        request: Request<RegisterHouseholdRequest>,
    ) -> Result<Response<RegisterHouseholdResponse>, Status> {
        let request = request.into_inner();
        if request.request_id.is_empty() || request.request_id.len() > 64 {
            return Err(Status::invalid_argument("request_id"));
        }
        let content = request
            .household
            .as_ref()
            .map(|h| h.encode_to_vec())
            .unwrap_or_default();
        let record = RequestRecord::new("RegisterHousehold", &request.request_id, &content);
        let draft = request
            .household
            .ok_or_else(|| Status::invalid_argument("household is required"))?;
        let prepared = self.domain.prepare(&draft).map_err(Status::invalid_argument)?;
        let command = Command {
            households: vec![prepared],
            request: Some(record),
            audit: Some(Caller {
                subject: "a.sangare".into(),
                method: "/jigi.registry.v1.RegistryService/RegisterHousehold".into(),
                request_id: request.request_id,
            }),
        };
        let households = self.pipeline.register(command).await.map_err(Status::already_exists)?;
        Ok(Response::new(RegisterHouseholdResponse {
            household: households.first().map(common::household_message),
        }))
    }
}

impl BareRegistry {
    async fn get_household(
        &self,
        request: Request<GetHouseholdRequest>,
    ) -> Result<Response<GetHouseholdResponse>, Status> {
        let id = request.into_inner().household_id;
        if uuid::Uuid::parse_str(&id).is_err() {
            return Err(Status::invalid_argument("household_id"));
        }
        match self.reader.get(id).await {
            Some(household) => Ok(Response::new(GetHouseholdResponse {
                household: Some(household),
            })),
            None => Err(Status::not_found("household")),
        }
    }
}

struct GetMethod(BareRegistry);

impl tonic::server::UnaryService<GetHouseholdRequest> for GetMethod {
    type Response = GetHouseholdResponse;
    type Future = BoxFuture<Result<Response<GetHouseholdResponse>, Status>>;

    fn call(&mut self, request: Request<GetHouseholdRequest>) -> Self::Future {
        let bare = self.0.clone();
        Box::pin(async move { bare.get_household(request).await })
    }
}

impl tonic::server::NamedService for BareRegistry {
    const NAME: &'static str = "jigi.registry.v1.RegistryService";
}

struct RegisterMethod(BareRegistry);

impl tonic::server::UnaryService<RegisterHouseholdRequest> for RegisterMethod {
    type Response = RegisterHouseholdResponse;
    type Future = BoxFuture<Result<Response<RegisterHouseholdResponse>, Status>>;

    fn call(&mut self, request: Request<RegisterHouseholdRequest>) -> Self::Future {
        let bare = self.0.clone();
        Box::pin(async move { bare.register_household(request).await })
    }
}

type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'static>>;
type HttpRequest = tonic::codegen::http::Request<tonic::body::Body>;
type HttpResponse = tonic::codegen::http::Response<tonic::body::Body>;

impl tonic::codegen::Service<HttpRequest> for BareRegistry {
    type Response = HttpResponse;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Result<HttpResponse, std::convert::Infallible>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        if request.uri().path() == "/jigi.registry.v1.RegistryService/RegisterHousehold" {
            let method = RegisterMethod(self.clone());
            return Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default())
                    .apply_max_message_size_config(Some(1024 * 1024), None);
                Ok(grpc.unary(method, request).await)
            });
        }
        if request.uri().path() == "/jigi.registry.v1.RegistryService/GetHousehold" {
            let method = GetMethod(self.clone());
            return Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.unary(method, request).await)
            });
        }
        Box::pin(async move {
            Ok(Status::unimplemented("bare baseline: RegisterHousehold and GetHousehold only").into_http())
        })
    }
}
