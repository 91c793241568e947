//! The cash transfers (TM) of one region: payment cycles, entitlements,
//! disbursement results, reconciliation.
//!
//! Layout, the same in every Jigi service:
//!
//! - [`config`]: settings from the environment;
//! - [`domain`]: the rules (the cycle's gates, which results are accepted,
//!   the projection of registry events, reconciliation), no I/O;
//! - [`storage`]: tables and queries;
//! - [`app`]: commands and queries, each command one transaction on the
//!   write path that also writes its events to the outbox; and the handler
//!   that applies the registry's events to the projection through the inbox,
//!   a batch at a time ([`app::RegistryProjection`]);
//! - [`events`]: the public events, built without personal data;
//! - [`grpc`]: the API, mapping outcomes to gRPC statuses;
//! - [`policy`]: who may call each RPC;
//! - [`metrics`]: the service's own counters.
//!
//! [`start`] runs the whole service on the service host (API, metrics,
//! outbox relay, registry consumer) until a shutdown token is cancelled;
//! `main.rs` is the host's `main`. Tests, the local stack and the benchmark
//! call [`start`] directly, on port 0, to run any number of payments
//! services in one process.

pub mod app;
pub mod config;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod metrics;
pub mod policy;
pub mod storage;

use std::sync::Arc;

use jigi_bus::ConsumerSettings;
use jigi_bus::inbox::ConsumerStats;
use jigi_server::{Host, Running, Service, StartError};
use tokio_util::sync::CancellationToken;

pub use app::Payments;
pub use config::Config;

/// The payments service to the service host: its name and default ports.
pub const SERVICE: Service = Service {
    name: "payments",
    regional: true,
    grpc_port: 50052,
    metrics_port: 9102,
};

/// Largest request message: a batch of 10,000 results.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// What a running payments service gives its starter (tests, the local
/// stack): the service itself and the counters of its registry consumer.
#[derive(Clone)]
pub struct Handle {
    pub payments: Payments,
    /// Counters of the registry consumer.
    pub consumer: Arc<ConsumerStats>,
    /// Counters of the consumer of the linkage index's findings.
    pub linkage: Arc<ConsumerStats>,
    /// Counters of the activities consumer (AGR grants, HIMO wages owed).
    pub activities_consumer: Arc<ConsumerStats>,
}

/// The inbox name of the registry consumer of a region.
pub fn consumer_name(config: &Config) -> String {
    format!("payments-{}", config.region())
}

/// The inbox name of the activities consumer of a region.
pub fn activities_consumer_name(config: &Config) -> String {
    format!("payments-activities-{}", config.region())
}

/// Starts the payments service: opens (and migrates) its database, binds its
/// ports, and runs its API, metrics, outbox relay and registry consumer until
/// `shutdown` is cancelled. NATS need not be reachable: events wait in the
/// outbox, and the consumer catches up when NATS answers.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running<Handle>, StartError> {
    let geography = config.service.geography()?;
    let region = config.region();
    let mut settings = ConsumerSettings::service_events(region, "registry", consumer_name(&config));
    settings.batch = config.consumer_batch.max(1);
    settings.ack_wait = config.consumer_ack_wait;

    let linkage_domain = config.linkage_domain.clone();
    let mut activities = ConsumerSettings::service_events(region, "activities", activities_consumer_name(&config));
    activities.ack_wait = config.consumer_ack_wait;

    let migrations = [
        storage::MIGRATIONS,
        storage::holds::MIGRATIONS,
        storage::transfers::MIGRATIONS,
    ]
    .concat();
    let mut host = Host::open(SERVICE, config.service, &migrations, shutdown).await?;
    host.relay_outbox();
    let consumer = host.consume(settings, Arc::new(app::RegistryProjection));
    let activities_consumer = host.consume(activities, Arc::new(app::ActivitiesProjection));
    // The national linkage index's findings about the region: a suspected
    // duplicate holds its households out of the next freeze.
    let duplicates = ConsumerSettings::new(
        app::linkage::region_duplicates_stream(region, linkage_domain.as_deref()),
        format!("payments-linkage-{region}"),
    );
    let linkage = host.consume(duplicates, Arc::new(app::linkage::DuplicateHolds { region }));
    let payments = Payments::new(
        host.database().clone(),
        Arc::new(geography),
        region,
        metrics::PaymentMetrics::new(Some(host.metrics())),
    );
    let api = grpc::PaymentsApi::new(payments.clone()).into_service();
    host.serve(
        Handle {
            payments,
            consumer,
            linkage,
            activities_consumer,
        },
        |server| server.add_service_with_limit(api, policy::RULES, MAX_REQUEST_BYTES),
    )
    .await
}
