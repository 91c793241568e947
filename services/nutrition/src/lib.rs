//! The preventive nutrition package (PNP) of one region: enriched flour for
//! children aged 6 to 59 months and pregnant or lactating women, from the
//! warehouses' stock to the beneficiary, round by round.
//!
//! Layout, the same in every Jigi service:
//!
//! - [`config`]: settings from the environment;
//! - [`domain`]: the rules (eligibility, stock, validation), no I/O;
//! - [`storage`]: tables and queries;
//! - [`app`]: commands and queries, each command one transaction on the
//!   write path that also writes its events to the outbox and, when it
//!   moves flour, its answer under the client's request ID; its
//!   [`projection`](app::projection) applies the registry's events, a batch
//!   at a time through the inbox, telling this service who may be fed;
//! - [`events`]: the public events, built without personal data;
//! - [`grpc`]: the API, mapping outcomes to gRPC statuses;
//! - [`policy`]: who may call each RPC;
//! - [`metrics`]: what the service counts (rations, refusals, movements).
//!
//! [`start`] runs the whole service on the service host (API, metrics,
//! outbox relay, registry consumer) until a shutdown token is cancelled;
//! `main.rs` is the host's `main`. Tests and the local stack call [`start`]
//! directly, on port 0, to run any number of nutrition services in one
//! process.

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

pub use app::Nutrition;
pub use app::projection::RegistryProjection;
pub use config::Config;

/// The nutrition service to the service host: its name and default ports.
pub const SERVICE: Service = Service {
    name: "nutrition",
    regional: true,
    grpc_port: 50053,
    metrics_port: 9103,
};

/// What a running nutrition service gives back for in-process use (tests,
/// the local stack, benchmarks).
#[derive(Clone)]
pub struct Handle {
    /// The service itself.
    pub nutrition: Nutrition,
    /// Counters of the registry consumer (tests wait on them).
    pub consumer: Arc<ConsumerStats>,
}

/// The name under which the registry consumer records events in its inbox.
pub fn consumer_name(region: Region) -> String {
    format!("nutrition-{region}")
}

/// Starts the nutrition service: opens (and migrates) its database, binds
/// its ports, and runs its API, metrics, outbox relay and registry consumer
/// until `shutdown` is cancelled. NATS need not be reachable: events wait in
/// the outbox, and the consumer catches up when it is.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running<Handle>, StartError> {
    let geography = config.geography()?;
    let region = config.region().expect("the nutrition service is regional");
    let mut host = Host::open(SERVICE, config, storage::MIGRATIONS, shutdown).await?;
    host.relay_outbox();
    let consumer = host.consume(
        ConsumerSettings::service_events(region, "registry", consumer_name(region)),
        Arc::new(RegistryProjection),
    );
    let counters = metrics::Counters::default();
    counters.register(host.metrics());
    let nutrition = Nutrition::new(host.database().clone(), Arc::new(geography), region, counters);
    let api = grpc::NutritionApi::new(nutrition.clone()).into_service();
    host.serve(Handle { nutrition, consumer }, |server| {
        server.add_service_with_limit(api, policy::RULES, grpc::MAX_REQUEST_BYTES)
    })
    .await
}
