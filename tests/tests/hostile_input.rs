//! Every command of every service fed hostile input (issue 9): messages of
//! the right type with extreme, crafted and random field values, truncated
//! messages, and random bytes, each from a seed so a failure can be
//! replayed (`JIGI_FUZZ_SEED`, `JIGI_FUZZ_CASES`).
//!
//! Whatever arrives: no panic anywhere in the service, the service keeps
//! answering, and a call that fails leaves its database exactly as it was.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use jigi_auth::{Kind, Rule};
use jigi_common::Region;
use jigi_e2e::hostile::MessageTypes;
use jigi_e2e::raw_grpc::{self, Method};
use jigi_storage::Database;
use jigi_testkit::{NatsServer, connect_channel, sqlite_url};
use tokio_util::sync::CancellationToken;
use tonic::Code;

/// What a database holds, but the tables that move without any call.
async fn fingerprint(database: &Database) -> BTreeMap<String, i64> {
    jigi_e2e::database_fingerprint(database, &["audit_log", "inbox_consumers", "outbox"]).await
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Service {
    name: &'static str,
    rules: &'static [Rule],
    addr: std::net::SocketAddr,
    database: Database,
}

#[tokio::test]
async fn hostile_input_to_every_command_never_panics_and_a_failed_call_writes_nothing() {
    jigi_testkit::init_tracing();
    let panics = Arc::new(AtomicUsize::new(0));
    let default_hook = std::panic::take_hook();
    let counted = panics.clone();
    std::panic::set_hook(Box::new(move |info| {
        counted.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));

    let cases = setting("JIGI_FUZZ_CASES", 40);
    let base_seed = setting("JIGI_FUZZ_SEED", 0x6a69_6769);
    let types = MessageTypes::load();
    let dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    // Each service on a NATS of its own: no other service's events move its
    // tables while it is being checked.
    let nats: Vec<NatsServer> = futures::future::join_all((0..5).map(|_| NatsServer::start())).await;
    let url = |name: &str| sqlite_url(dir.path(), name);
    let registry = jigi_registry::start(
        jigi_registry::Config::local(Region::Sikasso, &nats[0].url(), &url("registry")),
        shutdown.clone(),
    )
    .await
    .unwrap();
    let payments = jigi_payments::start(
        jigi_payments::Config::local(Region::Sikasso, &nats[1].url(), &url("payments")),
        shutdown.clone(),
    )
    .await
    .unwrap();
    let nutrition = jigi_nutrition::start(
        jigi_nutrition::Config::regional(
            jigi_nutrition::SERVICE,
            Region::Sikasso,
            &nats[2].url(),
            &url("nutrition"),
        ),
        shutdown.clone(),
    )
    .await
    .unwrap();
    let activities = jigi_activities::start(
        jigi_activities::Config::regional(
            jigi_activities::SERVICE,
            Region::Sikasso,
            &nats[4].url(),
            &url("activities"),
        ),
        shutdown.clone(),
    )
    .await
    .unwrap();
    let monitoring = jigi_monitoring::start(
        jigi_monitoring::Config::local(&[Region::Sikasso], &nats[3].url(), &url("monitoring")),
        shutdown.clone(),
    )
    .await
    .unwrap();
    let services = [
        Service {
            name: "jigi.registry.v1.RegistryService",
            rules: jigi_registry::policy::RULES,
            addr: registry.grpc_addr,
            database: registry.database.clone(),
        },
        Service {
            name: "jigi.payments.v1.PaymentsService",
            rules: jigi_payments::policy::RULES,
            addr: payments.grpc_addr,
            database: payments.database.clone(),
        },
        Service {
            name: "jigi.nutrition.v1.NutritionService",
            rules: jigi_nutrition::policy::RULES,
            addr: nutrition.grpc_addr,
            database: nutrition.database.clone(),
        },
        Service {
            name: "jigi.activities.v1.ActivitiesService",
            rules: jigi_activities::policy::RULES,
            addr: activities.grpc_addr,
            database: activities.database.clone(),
        },
        Service {
            name: "jigi.monitoring.v1.MonitoringService",
            rules: jigi_monitoring::policy::RULES,
            addr: monitoring.grpc_addr,
            database: monitoring.database.clone(),
        },
    ];

    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut calls = 0;
    for service in &services {
        let channel = connect_channel(service.addr).await;
        let commands: Vec<Method> = raw_grpc::methods(service.name)
            .into_iter()
            .filter(|m| {
                service
                    .rules
                    .iter()
                    .any(|r| r.method == m.name && r.kind == Kind::Command)
            })
            .collect();
        assert!(!commands.is_empty());
        for method in &commands {
            let input = types.input_of(&method.path()).to_owned();
            for case in 0..cases {
                let seed = base_seed ^ (case << 8) ^ calls as u64;
                let body = Bytes::from(types.hostile(&input, seed));
                let before = fingerprint(&service.database).await;
                let status = raw_grpc::call(&channel, method, body, None).await;
                calls += 1;
                *outcomes.entry(format!("{:?}", status.code())).or_default() += 1;
                assert_eq!(
                    panics.load(Ordering::SeqCst),
                    0,
                    "{} panicked on seed {seed}",
                    method.path()
                );
                assert!(
                    !matches!(status.code(), Code::Internal | Code::Unknown | Code::Unavailable),
                    "{} answered {status:?} to seed {seed}: hostile input is the caller's error, not the service's",
                    method.path()
                );
                if status.code() != Code::Ok {
                    assert_eq!(
                        fingerprint(&service.database).await,
                        before,
                        "{} failed with {:?} on seed {seed} but changed its database",
                        method.path(),
                        status.code()
                    );
                }
            }
        }
        // Still serving after all that.
        let health = tonic_health::pb::health_client::HealthClient::new(channel.clone())
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.name.to_owned(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            health.status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        );
    }
    println!("hostile input: {calls} calls ({cases} per command), outcomes {outcomes:?}");
    shutdown.cancel();
    registry.stopped().await;
    payments.stopped().await;
    nutrition.stopped().await;
    monitoring.stopped().await;
}
