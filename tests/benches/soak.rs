//! Soak: a region's field traffic, run for a long while with something
//! broken every few minutes, ending with nothing lost and nothing doubled.
//!
//! Sikasso's registry runs as its own process on Sikasso's leaf node (from
//! `deploy/nats/leaf.conf`), linked to the national hub through a TCP proxy
//! standing for the office's link; the national monitoring runs as its own
//! process on the hub. Field agents register and enrol households at a
//! steady rate; each call that fails for a crash or a restart is sent again
//! with the same request ID, as the CLI does (`jigi_stack::clients::with_retries`).
//!
//! Every `SOAK_FAULT_EVERY` seconds on average (at random, ±50 %) one of
//! these happens, chosen at random:
//!
//! - the registry is killed (`kill -9`) and restarted;
//! - the monitoring is killed and restarted;
//! - the leaf node's `nats-server` is killed, left down `SOAK_OUTAGE`
//!   seconds, and restarted;
//! - the link is cut for `SOAK_OUTAGE` seconds and restored.
//!
//! Each fault's recovery time is measured from the moment the broken part
//! is back (restarted, restored) until the system has caught up: the
//! registry serving again; the monitoring applying the national stream up
//! to where it stood; the registry's outbox drained; the national stream
//! holding every event of the region's.
//!
//! At the end every household the agents were told was registered must be in
//! the registry, in the national stream exactly once (registration and
//! enrolment) and counted once by the national monitoring. The figures are
//! printed; a loss or a double is a failure. A failed soak keeps its
//! directory (the services' logs, at `SOAK_LOG`'s level, default info, the
//! databases and the NATS stores) and says where.
//!
//! ```text
//! cargo bench -p jigi-e2e --bench soak                       # 30 minutes
//! SOAK_MINUTES=5 SOAK_FAULT_EVERY=30 cargo bench -p jigi-e2e --bench soak
//! ```
//!
//! The default rate, `SOAK_RATE=5` households a second (two commands and two
//! events each), is ten times the busiest day of a registration campaign in
//! a region (about 15,000 households surveyed in 8 hours, 0.5 a second).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jigi_auth::Role;
use jigi_bus::{Bus, subject};
use jigi_common::{Geography, Region};
use jigi_e2e::{Hub, Leaf, random_passwords};
use jigi_proto::common::Component;
use jigi_proto::monitoring::monitoring_service_client::MonitoringServiceClient;
use jigi_proto::monitoring::{GetFreshnessRequest, GetIndicatorsRequest};
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_proto::registry::{EnrolHouseholdsRequest, RegisterHouseholdRequest};
use jigi_registry::sample::HouseholdGenerator;
use jigi_stack::clients::with_retries;
use jigi_testkit::{AuthedChannel, ServiceProcess, TcpProxy, TestAccess, connect_as, http_get, metric_value};
use rand::Rng;
use tokio::task::JoinSet;

const REGION: Region = Region::Sikasso;
/// How long a part may take to catch up before the soak gives up.
const CATCH_UP: Duration = Duration::from_secs(300);

fn setting(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    RegistryKilled,
    MonitoringKilled,
    LeafNatsKilled,
    LinkCut,
}

const FAULTS: [Fault; 4] = [
    Fault::RegistryKilled,
    Fault::MonitoringKilled,
    Fault::LeafNatsKilled,
    Fault::LinkCut,
];

/// Everything the soak runs, and how to reach it.
struct Region0 {
    hub: Hub,
    leaf: Leaf,
    link: TcpProxy,
    registry: ServiceProcess,
    monitoring: ServiceProcess,
    national: Bus,
    operator: MonitoringServiceClient<AuthedChannel>,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(soak());
}

async fn soak() {
    let minutes = setting("SOAK_MINUTES", 30.0);
    let rate = setting("SOAK_RATE", 5.0);
    let fault_every = setting("SOAK_FAULT_EVERY", 120.0);
    let outage = Duration::from_secs_f64(setting("SOAK_OUTAGE", 10.0));
    let kept = KeptOnFailure(tempfile::tempdir().unwrap());
    let dir = kept.0.path();
    let access = TestAccess::new(dir);
    let passwords = random_passwords();
    let hub = Hub::start(&dir.join("hub"), &passwords).await;
    let link = TcpProxy::start(format!("127.0.0.1:{}", hub.leaf_port).parse().unwrap()).await;
    let leaf = Leaf::start(&dir.join("leaf"), REGION, link.port(), &passwords).await;
    let service_env = |url: String, database: &str| {
        let mut env = vec![
            ("JIGI_NATS_URL", url),
            (
                "JIGI_DATABASE_URL",
                format!("sqlite://{}", dir.join(database).display()),
            ),
            ("JIGI_DEPLOYMENT", "soak".to_owned()),
            (
                "RUST_LOG",
                std::env::var("SOAK_LOG").unwrap_or_else(|_| "info".to_owned()),
            ),
        ];
        env.extend(access.process_env());
        env
    };
    let mut registry_env = service_env(leaf.services_url(), "registry.db");
    registry_env.extend([
        ("JIGI_REGION", REGION.slug().to_owned()),
        ("JIGI_NATS_DOMAIN", REGION.slug().to_owned()),
    ]);
    let mut monitoring_env = service_env(hub.url_as("monitoring"), "monitoring.db");
    monitoring_env.extend([
        ("JIGI_REGIONS", REGION.slug().to_owned()),
        ("JIGI_REGION_DOMAINS", "true".to_owned()),
    ]);
    let (registry, monitoring) = tokio::join!(
        ServiceProcess::start("jigi-registry", dir, &registry_env),
        ServiceProcess::start("jigi-monitoring", dir, &monitoring_env),
    );
    let national = hub.connect_as("national").await;
    let operator_token = access.national_token("soak.operator", &[Role::NationalOperator]);
    let operator = MonitoringServiceClient::new(connect_as(monitoring.grpc_addr, &operator_token).await);
    let agent_token = access.token("soak.agent", &[Role::FieldAgent, Role::RegionalSupervisor], REGION);
    let agents = RegistryServiceClient::new(connect_as(registry.grpc_addr, &agent_token).await);
    let mut parts = Region0 {
        hub,
        leaf,
        link,
        registry,
        monitoring,
        national,
        operator,
    };
    println!(
        "soak: {minutes} min, {rate} households/s in {REGION}, a fault every ~{fault_every} s, outages of {} s",
        outage.as_secs_f64()
    );

    // The field agents: a steady rate, each household registered then
    // enrolled, each call retried with the same request ID.
    let registered: Arc<Mutex<HashMap<u64, String>>> = Arc::default();
    let traffic_ends = Instant::now() + Duration::from_secs_f64(minutes * 60.0);
    let traffic = tokio::spawn(field_agents(agents, rate, traffic_ends, registered.clone()));

    let mut recoveries: BTreeMap<Fault, Vec<Duration>> = BTreeMap::new();
    loop {
        let pause = Duration::from_secs_f64(fault_every * rand::rng().random_range(0.5..1.5));
        if Instant::now() + pause + outage >= traffic_ends {
            break;
        }
        tokio::time::sleep(pause).await;
        let fault = FAULTS[rand::rng().random_range(0..FAULTS.len())];
        let recovery = inflict(&mut parts, fault, outage).await;
        println!(
            "  {fault:?}: caught up {} ms after the part was back",
            recovery.as_millis()
        );
        recoveries.entry(fault).or_default().push(recovery);
    }
    let failed_calls = traffic.await.unwrap();
    let registered = registered.lock().unwrap().clone();

    // Nothing lost, nothing doubled.
    let region_total = region_stream_count(&parts).await;
    let converged = Instant::now();
    wait_national_holds(&parts, region_total).await;
    let year = chrono::Utc::now().format("%Y").to_string();
    let operator = parts.operator.clone();
    let expected = registered.len() as i64;
    jigi_testkit::eventually(CATCH_UP, "the national monitoring to count every household", || {
        let (mut operator, year) = (operator.clone(), year.clone());
        async move { (households_counted(&mut operator, &year).await == Some(expected)).then_some(()) }
    })
    .await;
    let counted = households_counted(&mut parts.operator, &year).await;
    println!(
        "  (national view converged {} ms after the traffic ended)",
        converged.elapsed().as_millis()
    );
    let in_stream = registrations_in_national_stream(&parts.national).await;
    let lost = registered.values().filter(|id| !in_stream.contains_key(*id)).count();
    let doubled = in_stream
        .values()
        .filter(|&&(registrations, enrolments)| registrations > 1 || enrolments > 1)
        .count();
    let unknown = in_stream
        .keys()
        .filter(|id| !registered.values().any(|known| known == *id))
        .count();

    println!("\nsoak results");
    println!(
        "  households registered and enrolled (answered to the agents): {}",
        registered.len()
    );
    println!("  calls that failed for good (after a minute of retries): {failed_calls}");
    println!("  events in the region's stream: {region_total}");
    println!("  households in the national stream: {}", in_stream.len());
    println!("  lost: {lost}; doubled: {doubled}; in the stream but never answered: {unknown}");
    println!("  national monitoring counts {counted:?} households registered");
    println!("  recovery after each kind of fault (from the part being back to caught up):");
    for (fault, times) in &recoveries {
        let (p50, p99) = percentiles(times);
        println!(
            "    {fault:?}: {} times, p50 {} ms, p99 {} ms",
            times.len(),
            p50.as_millis(),
            p99.as_millis()
        );
    }
    assert_eq!(lost, 0, "households lost");
    assert_eq!(doubled, 0, "households counted twice");
    assert_eq!(failed_calls, 0, "calls never answered");
    assert_eq!(counted, Some(registered.len() as i64), "the national count");
    parts.registry.stop().await;
    parts.monitoring.stop().await;
    parts.hub.server.stop().await;
}

/// Registers and enrols households at `rate` a second until `ends`;
/// returns how many calls failed for good.
async fn field_agents(
    agents: RegistryServiceClient<AuthedChannel>,
    rate: f64,
    ends: Instant,
    registered: Arc<Mutex<HashMap<u64, String>>>,
) -> usize {
    let today = chrono::Utc::now().date_naive();
    let generator = Arc::new(HouseholdGenerator::new(&Geography::built_in(), REGION, &[], today, 7));
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut calls = JoinSet::new();
    let mut index = 0;
    while Instant::now() < ends {
        ticks.tick().await;
        let (agents, generator, registered) = (agents.clone(), generator.clone(), registered.clone());
        calls.spawn(async move {
            let request = RegisterHouseholdRequest {
                request_id: format!("soak-{index}"),
                household: Some(generator.household(index)),
            };
            let answer = with_retries("register a household", || {
                let (mut agents, request) = (agents.clone(), request.clone());
                async move { agents.register_household(request).await }
            })
            .await?;
            let household_id = answer.into_inner().household.unwrap_or_default().household_id;
            // The batch form, for its request ID: a retry after a crash
            // between the enrolment's commit and its answer gets the first
            // answer (the single form would answer ALREADY_ENROLLED).
            let enrolment = EnrolHouseholdsRequest {
                request_id: format!("soak-enrol-{index}"),
                household_ids: vec![household_id.clone()],
                component: Component::Tm as i32,
                enrolled_on: today.format("%Y-%m-%d").to_string(),
                committee_override: "CCL soak".into(),
                selection: None,
            };
            let answer = with_retries("enrol a household", || {
                let (mut agents, enrolment) = (agents.clone(), enrolment.clone());
                async move { agents.enrol_households(enrolment).await }
            })
            .await?
            .into_inner();
            if answer.enrolled != 1 {
                return Err(tonic::Status::failed_precondition(format!(
                    "household {household_id} not enrolled: {:?}",
                    answer.outcomes
                )));
            }
            registered.lock().unwrap().insert(index, household_id);
            Ok::<_, tonic::Status>(())
        });
        index += 1;
    }
    let mut failed = 0;
    while let Some(outcome) = calls.join_next().await {
        if let Err(status) = outcome.unwrap() {
            eprintln!("a household was never answered: {status:?}");
            failed += 1;
        }
    }
    failed
}

/// Breaks `fault`'s part, brings it back, and returns how long the system
/// took from the part being back until it caught up.
async fn inflict(parts: &mut Region0, fault: Fault, outage: Duration) -> Duration {
    match fault {
        Fault::RegistryKilled => {
            parts.registry.kill().await;
            let back = Instant::now();
            parts.registry.restart().await; // returns once it serves
            back.elapsed()
        }
        Fault::MonitoringKilled => {
            let target = national_last_sequence(parts).await;
            parts.monitoring.kill().await;
            let back = Instant::now();
            parts.monitoring.restart().await;
            let client = parts.operator.clone();
            until(back, "the monitoring to apply the national stream again", || {
                let mut client = client.clone();
                async move {
                    let as_of = client
                        .get_freshness(GetFreshnessRequest {})
                        .await
                        .ok()?
                        .into_inner()
                        .as_of?;
                    (as_of.stream_sequence >= target).then_some(())
                }
            })
            .await
        }
        Fault::LeafNatsKilled => {
            parts.leaf.server.kill().await;
            tokio::time::sleep(outage).await;
            let back = Instant::now();
            parts.leaf.server.restart().await.expect("the leaf node restarts");
            let metrics = parts.registry.metrics_addr;
            until(back, "the registry's outbox to drain", || async move {
                let exposition = http_get(metrics, "/metrics").await.ok()?.body;
                (metric_value(&exposition, "jigi_registry_outbox_pending_events")? == 0.0).then_some(())
            })
            .await
        }
        Fault::LinkCut => {
            parts.link.cut().await;
            tokio::time::sleep(outage).await;
            let back = Instant::now();
            parts.link.restore().await;
            let region_total = region_stream_count(parts).await;
            wait_national_holds(parts, region_total).await;
            back.elapsed()
        }
    }
}

/// Polls `check` until it answers, and returns the time since `since`.
async fn until<F, Fut>(since: Instant, what: &str, check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<()>>,
{
    jigi_testkit::eventually(CATCH_UP, what, check).await;
    since.elapsed()
}

/// Events in the region's own stream (on its leaf node).
async fn region_stream_count(parts: &Region0) -> u64 {
    let bus = parts.leaf.connect().await;
    jigi_testkit::eventually(CATCH_UP, "the region's stream to answer", || {
        let bus = bus.clone();
        async move {
            let mut stream = bus.jetstream.get_stream(subject::region_stream(REGION)).await.ok()?;
            Some(stream.info().await.ok()?.state.messages)
        }
    })
    .await
}

async fn national_last_sequence(parts: &Region0) -> u64 {
    let mut stream = parts
        .national
        .jetstream
        .get_stream(subject::NATIONAL_STREAM)
        .await
        .unwrap();
    stream.info().await.unwrap().state.last_sequence
}

/// Waits until the national stream holds at least `count` events.
async fn wait_national_holds(parts: &Region0, count: u64) {
    let national = parts.national.clone();
    until(
        Instant::now(),
        "the national stream to hold the region's events",
        || {
            let national = national.clone();
            async move {
                let mut stream = national.jetstream.get_stream(subject::NATIONAL_STREAM).await.ok()?;
                (stream.info().await.ok()?.state.messages >= count).then_some(())
            }
        },
    )
    .await;
}

async fn households_counted(client: &mut MonitoringServiceClient<AuthedChannel>, year: &str) -> Option<i64> {
    let rows = client
        .get_indicators(GetIndicatorsRequest {
            area: REGION.slug().into(),
            period: Some(jigi_proto::common::Period { code: year.into() }),
            breakdown: 0,
        })
        .await
        .ok()?
        .into_inner()
        .rows;
    Some(rows.first()?.indicators.as_ref()?.households_registered)
}

/// Per household of the national stream: how many registrations and
/// enrolments it has.
async fn registrations_in_national_stream(national: &Bus) -> BTreeMap<String, (usize, usize)> {
    let mut seen: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for message in jigi_testkit::read_stream(&national.jetstream, subject::NATIONAL_STREAM).await {
        let Some(about) = message.headers.as_ref().and_then(|h| h.get("ce-subject")) else {
            continue;
        };
        let entry = seen.entry(about.as_str().to_owned()).or_default();
        if message.subject.ends_with(".household.registered") {
            entry.0 += 1;
        } else if message.subject.ends_with(".household.enrolled") {
            entry.1 += 1;
        }
    }
    seen.retain(|_, (registrations, _)| *registrations > 0);
    seen
}

/// The soak's directory (the services' logs and databases, the NATS
/// stores), deleted when the soak passes and kept when it fails, to read
/// what happened.
struct KeptOnFailure(tempfile::TempDir);

impl Drop for KeptOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.disable_cleanup(true);
            eprintln!("soak failed: its logs and data are kept in {}", self.0.path().display());
        }
    }
}

fn percentiles(times: &[Duration]) -> (Duration, Duration) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}
