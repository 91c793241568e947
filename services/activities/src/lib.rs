//! The field records of three components of one region: accompanying
//! measures (MA: sessions, attendance, households to follow up),
//! income-generating activities (AGR: business plans, grant tranches,
//! follow-up visits) and labour-intensive works (HIMO: work sites, workers,
//! attendance, wage sheets). Money is not paid here: the grants released
//! and wages due are published, and the payments service pays them in
//! cycles of their own kind.
//!
//! Layout, the same in every Jigi service:
//!
//! - [`config`]: settings from the environment;
//! - [`domain`]: the rules (who takes part, grant tranches and visits, a
//!   site's life, the wage cap), no I/O;
//! - [`storage`]: tables and queries;
//! - [`app`]: commands and queries, each command one transaction on the
//!   write path that also writes its events to the outbox and, when it
//!   records attendance or releases money, its answer under the client's
//!   request ID; its [`projection`](app::projection) applies the registry's
//!   events through the inbox, telling this service who takes part;
//! - [`events`]: the public events, built without personal data;
//! - [`grpc`]: the API, mapping outcomes to gRPC statuses;
//! - [`policy`]: who may call each RPC;
//! - [`metrics`]: what the service counts.
//!
//! [`start`] runs the whole service on the service host (API, metrics,
//! outbox relay, registry consumer) until a shutdown token is cancelled;
//! `main.rs` is the host's `main`.

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
use jigi_common::Region;
use jigi_server::{Host, Running, Service, StartError};
use tokio_util::sync::CancellationToken;

pub use app::Activities;
pub use app::projection::RegistryProjection;
pub use config::Config;

/// The activities service to the service host: its name and default ports.
pub const SERVICE: Service = Service {
    name: "activities",
    regional: true,
    grpc_port: 50055,
    metrics_port: 9105,
};

/// What a running activities service gives back for in-process use (tests,
/// the local stack, benchmarks).
#[derive(Clone)]
pub struct Handle {
    /// The service itself.
    pub activities: Activities,
    /// Counters of the registry consumer (tests wait on them).
    pub consumer: Arc<ConsumerStats>,
}

/// The name under which the registry consumer records events in its inbox.
pub fn consumer_name(region: Region) -> String {
    format!("activities-{region}")
}

/// Starts the activities service: opens (and migrates) its database, binds
/// its ports, and runs its API, metrics, outbox relay and registry consumer
/// until `shutdown` is cancelled. NATS need not be reachable: events wait in
/// the outbox, and the consumer catches up when it is.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running<Handle>, StartError> {
    let geography = config.geography()?;
    let region = config.region().expect("the activities service is regional");
    let mut host = Host::open(SERVICE, config, storage::MIGRATIONS, shutdown).await?;
    host.relay_outbox();
    let consumer = host.consume(
        ConsumerSettings::service_events(region, "registry", consumer_name(region)),
        Arc::new(RegistryProjection),
    );
    let counters = metrics::Counters::default();
    counters.register(host.metrics());
    let activities = Activities::new(host.database().clone(), Arc::new(geography), region, counters);
    let api = grpc::ActivitiesApi::new(activities.clone()).into_service();
    host.serve(Handle { activities, consumer }, |server| {
        server.add_service_with_limit(api, policy::RULES, grpc::MAX_REQUEST_BYTES)
    })
    .await
}
