//! The preventive nutrition package (PNP) of one region: enriched flour for
//! children aged 6 to 59 months and pregnant or lactating women, from the
//! warehouses' stock to the beneficiary, round by round.
//!
//! Layout, the same in every Jigi service:
//!
//! - [`config`]: settings from the environment;
//! - [`domain`]: the rules (eligibility, stock, validation), no I/O;
//! - [`storage`]: tables and queries;
//! - [`projection`]: the registry's events, applied once each through the
//!   inbox, telling this service who may be fed;
//! - [`app`]: commands and queries, each command one transaction that also
//!   writes its events to the outbox and, when it moves flour, its answer
//!   under the client's request ID;
//! - [`events`]: the public events, built without personal data;
//! - [`grpc`]: the API, mapping outcomes to gRPC statuses ([`convert`]
//!   builds its messages).
//!
//! [`start`] runs the whole service (API, metrics, outbox relay, registry
//! consumer) until a shutdown token is cancelled; `main.rs` only reads the
//! configuration and waits for Ctrl-C. Tests call [`start`] on port 0.

pub mod app;
pub mod config;
pub mod convert;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod policy;
pub mod projection;
pub mod storage;

use std::net::SocketAddr;
use std::sync::Arc;

use jigi_auth::ServiceArea;
use jigi_bus::inbox::{ConsumerStats, InboxConsumer};
use jigi_bus::outbox::RelaySettings;
use jigi_bus::{Bus, ConsumerSettings, Outbox, OutboxRelay, streams, subject};
use jigi_common::{Geography, Region};
use jigi_server::{GrpcServer, Listeners, Metrics};
use jigi_storage::Database;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use app::Nutrition;
pub use config::Config;

/// Why the nutrition service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database {url}: {source}")]
    Database {
        url: String,
        source: jigi_storage::StorageError,
    },
    #[error(transparent)]
    Geography(#[from] jigi_common::GeographyError),
    #[error(transparent)]
    Listen(#[from] jigi_server::ListenError),
    #[error(transparent)]
    Serve(#[from] jigi_server::ServeError),
    #[error("cannot connect to NATS at {url}: {source}")]
    Nats {
        url: String,
        source: async_nats::ConnectError,
    },
}

/// A running nutrition service.
pub struct Running {
    /// Where the gRPC API listens.
    pub grpc_addr: SocketAddr,
    /// Where `/metrics` is served.
    pub metrics_addr: SocketAddr,
    /// The service itself, for in-process use (tests, benchmarks).
    pub nutrition: Nutrition,
    /// Its database.
    pub database: Database,
    /// Counters of the registry consumer.
    pub consumer: Arc<ConsumerStats>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Waits until every part has stopped (after the shutdown token is cancelled).
    pub async fn stopped(self) {
        for task in self.tasks {
            let _ = task.await;
        }
        self.database.close().await;
    }
}

/// The name under which the registry consumer records events in its inbox.
pub fn consumer_name(region: Region) -> String {
    format!("nutrition-{region}")
}

/// Starts the service: opens (and migrates) its database, binds its ports,
/// and runs its API, metrics, outbox relay and registry consumer until
/// `shutdown` is cancelled. NATS need not be reachable: events wait in the
/// outbox, and the consumer catches up when it is.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running, StartError> {
    let database = Database::open(&config.database_url, &storage::migrations())
        .await
        .map_err(|source| StartError::Database {
            url: config.database_url.clone(),
            source,
        })?;
    let geography = match &config.geography_file {
        Some(path) => Geography::load(path)?,
        None => Geography::built_in(),
    };
    let bus = Bus::connect(&config.nats).await.map_err(|source| StartError::Nats {
        url: config.nats.url.clone(),
        source,
    })?;
    let listeners = Listeners::bind(config.grpc_addr, config.metrics_addr).await?;
    let (grpc_addr, metrics_addr) = (listeners.grpc_addr, listeners.metrics_addr);

    let outbox = Outbox::new();
    let metrics = Metrics::new("nutrition");
    let counters = app::Counters::default();
    counters.register(&metrics);
    let nutrition = Nutrition::new(
        database.clone(),
        outbox.clone(),
        Arc::new(geography),
        config.region,
        counters,
    );
    let relay = OutboxRelay::new(
        database.clone(),
        bus.jetstream.clone(),
        outbox,
        config.region,
        RelaySettings::default(),
    );
    let consumer = InboxConsumer::new(
        database.clone(),
        bus.jetstream.clone(),
        ConsumerSettings::new(
            streams::region_stream_config(config.region),
            consumer_name(config.region),
        )
        .filter(subject::service_wildcard(config.region, "registry")),
        Arc::new(projection::RegistryProjection),
    );
    let consumer_stats = consumer.stats();
    let server = GrpcServer::new(
        metrics.clone(),
        ServiceArea::Region(config.region),
        &config.serve,
        &database,
        &shutdown,
    )
    .await?
    .add_service(grpc::NutritionApi::new(nutrition.clone()).into_service(), policy::RULES);

    let mut tasks = vec![
        tokio::spawn(relay.run(shutdown.clone())),
        tokio::spawn(consumer.run(shutdown.clone())),
    ];
    tasks.extend(server.spawn(listeners, shutdown.clone()));
    tracing::info!(region = %config.region, %grpc_addr, %metrics_addr, "nutrition service started");
    Ok(Running {
        grpc_addr,
        metrics_addr,
        nutrition,
        database,
        consumer: consumer_stats,
        tasks,
    })
}
