//! The unified social registry (RSU) of one region.
//!
//! Layout, the same in every Jigi service:
//!
//! - [`config`]: settings from the environment;
//! - [`domain`]: the rules (validation, duplicates, PMT, enrolment), no I/O;
//! - [`storage`]: tables and queries;
//! - [`app`]: commands and queries, each command one transaction that also
//!   writes its event to the outbox;
//! - [`events`]: the public events, built without personal data;
//! - [`grpc`]: the API, mapping outcomes to gRPC statuses;
//! - [`sample`]: believable generated households for demos and benchmarks.
//!
//! [`start`] runs the whole service (API, metrics, outbox relay) until a
//! shutdown token is cancelled; `main.rs` only reads the configuration and
//! waits for Ctrl-C. Tests and the `jigi` CLI call [`start`] directly, on
//! port 0, to run any number of registries in one process.

pub mod app;
pub mod config;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod policy;
pub mod sample;
pub mod storage;

use std::net::SocketAddr;
use std::sync::Arc;

use jigi_auth::ServiceArea;
use jigi_bus::outbox::RelaySettings;
use jigi_bus::{Bus, Outbox, OutboxRelay};
use jigi_common::Geography;
use jigi_server::{GrpcServer, Listeners, Metrics};
use jigi_storage::Database;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use app::Registry;
pub use config::Config;
use domain::pmt::PmtConfig;

/// Why the registry could not start.
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
    Pmt(#[from] domain::pmt::PmtConfigError),
    #[error("cannot read PMT file {0}: {1}")]
    PmtFile(String, std::io::Error),
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

/// A running registry.
pub struct Running {
    /// Where the gRPC API listens.
    pub grpc_addr: SocketAddr,
    /// Where `/metrics` is served.
    pub metrics_addr: SocketAddr,
    /// The registry itself, for in-process use (tests, the demo).
    pub registry: Registry,
    /// Its database.
    pub database: Database,
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

/// Starts the registry: opens (and migrates) its database, binds its ports,
/// and runs its API, metrics and outbox relay until `shutdown` is cancelled.
/// NATS need not be reachable: events wait in the outbox until it is.
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
    let pmt = match &config.pmt_file {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|err| StartError::PmtFile(path.display().to_string(), err))?;
            PmtConfig::parse(&text)?
        }
        None => PmtConfig::built_in(),
    };
    let bus = Bus::connect(&config.nats).await.map_err(|source| StartError::Nats {
        url: config.nats.url.clone(),
        source,
    })?;
    let listeners = Listeners::bind(config.grpc_addr, config.metrics_addr).await?;
    let (grpc_addr, metrics_addr) = (listeners.grpc_addr, listeners.metrics_addr);

    let outbox = Outbox::new();
    let registry = Registry::new(
        database.clone(),
        outbox.clone(),
        Arc::new(geography),
        Arc::new(pmt),
        config.region,
    );
    let metrics = Metrics::new("registry");
    let relay = OutboxRelay::new(
        database.clone(),
        bus.jetstream.clone(),
        outbox,
        config.region,
        RelaySettings::default(),
    );
    let server = GrpcServer::new(
        metrics.clone(),
        ServiceArea::Region(config.region),
        &config.serve,
        &database,
        &shutdown,
    )
    .await?
    .add_service(grpc::RegistryApi::new(registry.clone()).into_service(), policy::RULES);

    let mut tasks = vec![tokio::spawn(relay.run(shutdown.clone()))];
    tasks.extend(server.spawn(listeners, shutdown.clone()));
    tracing::info!(region = %config.region, %grpc_addr, %metrics_addr, "registry started");
    Ok(Running {
        grpc_addr,
        metrics_addr,
        registry,
        database,
        tasks,
    })
}
