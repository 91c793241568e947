//! Faults a regional office meets, with the services' own binaries:
//!
//! - the disk under a service fills, then is freed: every refused command
//!   says `UNAVAILABLE` with a retry hint (never `INTERNAL`), nothing is
//!   half-written, `/readyz` and the metrics say so, and the service writes
//!   again the moment space returns, its outbox drained;
//! - the monitoring is killed (`kill -9`) while it catches up on the
//!   national stream, again and again: each time it resumes at once (not
//!   after the ack wait), and in the end counts every event exactly once.
//!
//! The CLI retrying a result batch across a restart of the payments service
//! is in `cli_retry.rs`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use jigi_auth::Role;
use jigi_bus::{Bus, BusConfig, OutgoingEvent, streams, subject};
use jigi_common::{Geography, Region};
use jigi_proto::common::Period;
use jigi_proto::events as ev;
use jigi_proto::monitoring::monitoring_service_client::MonitoringServiceClient;
use jigi_proto::monitoring::{Breakdown, GetFreshnessRequest, GetIndicatorsRequest};
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_proto::registry::{GetHouseholdRequest, RegisterHouseholdRequest};
use jigi_registry::sample::HouseholdGenerator;
use jigi_testkit::{
    AuthedChannel, NatsServer, ServiceProcess, SmallDisk, TestAccess, connect_as, eventually, http_get, metric_value,
};
use tonic::Code;
use tonic_types::StatusExt;

const WAIT: Duration = Duration::from_secs(60);

fn service_env(nats: &NatsServer, access: &TestAccess, database: &std::path::Path) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("JIGI_NATS_URL", nats.url()),
        ("JIGI_DATABASE_URL", format!("sqlite://{}", database.display())),
        ("JIGI_DEPLOYMENT", "faults".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ];
    env.extend(access.process_env());
    env
}

/// `/readyz` and one metric of a service process.
async fn readiness(process: &ServiceProcess) -> u16 {
    http_get(process.metrics_addr, "/readyz")
        .await
        .expect("/readyz answers")
        .status
}

async fn metric(process: &ServiceProcess, name: &str) -> f64 {
    let exposition = http_get(process.metrics_addr, "/metrics")
        .await
        .expect("/metrics answers")
        .body;
    metric_value(&exposition, name).unwrap_or_else(|| panic!("no {name} in:\n{exposition}"))
}

/// The household registrations of the region's stream, by household.
async fn registrations_in_stream(bus: &Bus, region: Region) -> BTreeMap<String, usize> {
    let mut count = BTreeMap::new();
    for message in jigi_testkit::read_stream(&bus.jetstream, &subject::region_stream(region)).await {
        if message.subject.ends_with(".household.registered") {
            let about = message
                .headers
                .as_ref()
                .and_then(|h| h.get("ce-subject"))
                .expect("ce-subject");
            *count.entry(about.as_str().to_owned()).or_insert(0) += 1;
        }
    }
    count
}

/// The registry's disk fills while field agents register households; every
/// refusal is a status to retry, and the same requests succeed once space
/// is freed.
#[tokio::test]
async fn a_full_disk_refuses_writes_with_a_retry_hint_and_the_service_recovers_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start().await;
    let access = TestAccess::new(dir.path());
    let disk = SmallDisk::mount(&dir.path().join("disk"), 24);
    let mut env = service_env(&nats, &access, &disk.path().join("registry.db"));
    env.push(("JIGI_REGION", "sikasso".to_owned()));
    let registry = ServiceProcess::start("jigi-registry", dir.path(), &env).await;
    let token = access.token(
        "a.sangare",
        &[Role::FieldAgent, Role::RegionalSupervisor],
        Region::Sikasso,
    );
    let mut client = RegistryServiceClient::new(connect_as(registry.grpc_addr, &token).await);
    let generator = HouseholdGenerator::new(
        &Geography::built_in(),
        Region::Sikasso,
        &[],
        chrono::Utc::now().date_naive(),
        19,
    );
    let request = |index: u64| RegisterHouseholdRequest {
        request_id: format!("full-disk-{index}"),
        household: Some(generator.household(index)),
    };

    // A first household on a disk with room.
    let first = client
        .register_household(request(0))
        .await
        .expect("registers with room on the disk")
        .into_inner()
        .household
        .unwrap()
        .household_id;
    let mut registered: HashMap<u64, String> = HashMap::from([(0, first.clone())]);

    let ballast = disk.fill();
    println!("disk filled with {} KiB of ballast", ballast / 1024);
    // Registrations go on until the database needs a page the disk has not
    // got (SQLite reuses its WAL's space for a while).
    let mut refused: Vec<u64> = Vec::new();
    for index in 1..4_000 {
        match client.register_household(request(index)).await {
            Ok(answer) => {
                registered.insert(index, answer.into_inner().household.unwrap().household_id);
            }
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "a full disk is not {status:?}");
                let retry = status
                    .get_details_retry_info()
                    .and_then(|info| info.retry_delay)
                    .unwrap_or_else(|| panic!("no retry hint in {status:?}"));
                assert!(retry > Duration::ZERO);
                refused.push(index);
                if refused.len() == 5 {
                    break;
                }
            }
        }
    }
    assert!(!refused.is_empty(), "the disk never filled");
    println!(
        "{} households registered before the disk was full; {} refused",
        registered.len(),
        refused.len()
    );

    // Reads still work, and the service says it cannot write.
    let read = client
        .get_household(GetHouseholdRequest {
            household_id: first.clone(),
        })
        .await
        .expect("reads work on a full disk");
    assert_eq!(read.into_inner().household.unwrap().household_id, first);
    assert_eq!(readiness(&registry).await, 503, "/readyz while writes fail");
    assert_eq!(metric(&registry, "jigi_registry_database_writable").await, 0.0);
    assert!(metric(&registry, "jigi_registry_database_disk_full_failures").await >= 1.0);

    // Space returns: the refused requests, sent again with the same IDs
    // as a client told to retry would, go through.
    disk.free();
    let freed = Instant::now();
    for index in &refused {
        let answer = eventually(WAIT, "the registry to write again", || {
            let mut client = client.clone();
            let request = request(*index);
            async move { client.register_household(request).await.ok() }
        })
        .await;
        registered.insert(*index, answer.into_inner().household.unwrap().household_id);
    }
    println!("writes again {} ms after space was freed", freed.elapsed().as_millis());
    assert_eq!(readiness(&registry).await, 200, "/readyz once writes succeed");
    assert_eq!(metric(&registry, "jigi_registry_database_writable").await, 1.0);

    // Every registered household is in the region's stream exactly once:
    // the outbox held their events through the full disk and drained.
    let bus = Bus::connect(&BusConfig::new(nats.url(), "faults-reader"))
        .await
        .unwrap();
    let expected: BTreeMap<String, usize> = registered.values().map(|id| (id.clone(), 1)).collect();
    eventually(WAIT, "every registration to reach the stream", || {
        let (bus, expected) = (bus.clone(), expected.clone());
        async move { (registrations_in_stream(&bus, Region::Sikasso).await == expected).then_some(()) }
    })
    .await;
    eventually(WAIT, "the outbox to drain", || async {
        (metric(&registry, "jigi_registry_outbox_pending_events").await == 0.0).then_some(())
    })
    .await;
    assert!(!registry.log().contains("panicked"), "{}", registry.log());
}

fn registered_event(index: u64, on: &str) -> ev::HouseholdRegistered {
    ev::HouseholdRegistered {
        household_id: format!("SK-{index:07}"),
        location: Some(jigi_proto::common::Location {
            region: "sikasso".into(),
            cercle: "sikasso.sikasso".into(),
            commune: "sikasso.sikasso.finkolo".into(),
            village: String::new(),
        }),
        registered_on: on.into(),
        ..Default::default()
    }
}

/// What the monitoring says of its position in the national stream.
async fn position(client: &mut MonitoringServiceClient<AuthedChannel>) -> Option<(u64, u64)> {
    let as_of = client
        .get_freshness(GetFreshnessRequest {})
        .await
        .ok()?
        .into_inner()
        .as_of?;
    Some((as_of.stream_sequence, as_of.events_waiting))
}

/// The monitoring is killed while it catches up on a region's events,
/// three times; each restart resumes within seconds, not after the 30 s ack
/// wait of the messages the killed process held, and the national figures
/// end exact.
#[tokio::test]
async fn a_monitoring_killed_while_catching_up_resumes_at_once_and_counts_every_event_once() {
    const EVENTS: u64 = 60_000;
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start().await;
    let access = TestAccess::new(dir.path());
    let bus = Bus::connect(&BusConfig::new(nats.url(), "faults-producer"))
        .await
        .unwrap();
    streams::ensure_region_stream(&bus.jetstream, Region::Sikasso)
        .await
        .unwrap();

    // A region's backlog, as after a long cut of its link.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(1_000) {
        let mut acks = Vec::with_capacity(chunk.len());
        for index in chunk {
            let event = OutgoingEvent::new(
                Region::Sikasso,
                &format!("SK-{index:07}"),
                &registered_event(*index, &today),
            );
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

    let mut env = service_env(&nats, &access, &dir.path().join("monitoring.db"));
    env.push(("JIGI_REGIONS", "sikasso".to_owned()));
    let mut monitoring = ServiceProcess::start("jigi-monitoring", dir.path(), &env).await;
    let token = access.national_token("k.diarra", &[Role::NationalOperator]);
    let mut client = MonitoringServiceClient::new(connect_as(monitoring.grpc_addr, &token).await);

    let mut kills = 0;
    let mut resumes = Vec::new();
    for _ in 0..3 {
        // Kill it as soon as it is applying events (mid-batch, most likely).
        let at = eventually(WAIT, "the monitoring to apply events", || {
            let mut client = client.clone();
            async move { position(&mut client).await.filter(|(applied, _)| *applied > 0) }
        })
        .await;
        if at.0 >= EVENTS {
            break;
        }
        monitoring.kill().await;
        kills += 1;

        let restarted = Instant::now();
        monitoring.restart().await;
        client = MonitoringServiceClient::new(connect_as(monitoring.grpc_addr, &token).await);
        let serving = restarted.elapsed();
        let (from, _) = position(&mut client).await.expect("the restarted monitoring answers");
        if from >= EVENTS {
            break;
        }
        eventually(WAIT, "the restarted monitoring to apply events again", || {
            let mut client = client.clone();
            async move { position(&mut client).await.filter(|(applied, _)| *applied > from) }
        })
        .await;
        let resumed = restarted.elapsed();
        println!(
            "killed at position {} (committed {from}); serving again after {} ms, applying again after {} ms",
            at.0,
            serving.as_millis(),
            resumed.as_millis()
        );
        resumes.push(resumed);
    }
    assert!(kills >= 1, "the monitoring caught up before it could be killed");
    for resumed in &resumes {
        // The messages the killed process held would come back only after
        // the consumer's 30 s ack wait; a resume well under it shows the
        // restarted consumer took them over.
        assert!(*resumed < Duration::from_secs(20), "resumed after {resumed:?}");
    }

    let caught_up = eventually(Duration::from_secs(180), "the monitoring to catch up", || {
        let mut client = client.clone();
        async move {
            position(&mut client)
                .await
                .filter(|(applied, waiting)| *applied == EVENTS && *waiting == 0)
        }
    })
    .await;
    assert_eq!(caught_up, (EVENTS, 0));
    let rows = client
        .get_indicators(GetIndicatorsRequest {
            area: "sikasso".into(),
            period: Some(Period {
                code: today[..4].to_owned(),
            }),
            breakdown: Breakdown::Unspecified as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .rows;
    let counted = rows[0].indicators.as_ref().unwrap().households_registered;
    assert_eq!(counted, EVENTS as i64, "every event counted once after {kills} kills");
}
