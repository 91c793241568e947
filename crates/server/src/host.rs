//! The service host: what every Jigi service does to start, run and stop,
//! written once, so a service's `lib.rs` says only what is its own.
//!
//! ```text
//! let host = Host::open(SERVICE, config.service, &migrations, shutdown).await?;   // database, NATS, ports
//! host.relay_outbox();                                                            // its events to JetStream
//! host.consume(settings, handler);                                                // events it reads
//! host.serve(service_handle, |server| server.add_service(api, RULES)).await       // the API and /metrics
//! ```
//!
//! [`Running::stopped`] waits for every task after the shutdown token is
//! cancelled, then closes the database. [`main`] is a service binary's
//! whole `main`: settings, telemetry, start, Ctrl-C/SIGTERM, stop.

use std::net::SocketAddr;
use std::sync::Arc;

use jigi_audit::AuditLog;
use jigi_auth::ServiceArea;
use jigi_bus::inbox::{ConsumerStats, InboxConsumer};
use jigi_bus::outbox::{OutboxRelay, RelaySettings, RelayStats};
use jigi_bus::{Bus, BusConfig, ConsumerSettings, EventHandler};
use jigi_common::{Geography, Region};
use jigi_settings::{ConfigError, Settings};
use jigi_storage::{Cache, Database, Migration, StorageError};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{GrpcServer, ListenError, Listeners, Metrics, ServeConfig, ServeError};

/// What tells one service from another to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// Short name: `registry`, `payments`…; metrics are `jigi_<name>_…`,
    /// the binary `jigi-<name>`.
    pub name: &'static str,
    /// Whether it serves one region (`JIGI_REGION`) or the whole country.
    pub regional: bool,
    /// Default gRPC port.
    pub grpc_port: u16,
    /// Default metrics port.
    pub metrics_port: u16,
}

impl Service {
    /// The binary's and the telemetry's name: `jigi-registry`.
    pub fn binary(&self) -> String {
        format!("jigi-{}", self.name)
    }
}

/// The settings every service has.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The region served (`JIGI_REGION`, default `sikasso`), or the whole
    /// country for a national service.
    pub area: ServiceArea,
    /// gRPC listen address (`JIGI_GRPC_ADDR`; port 0 picks one).
    pub grpc_addr: SocketAddr,
    /// Prometheus and probes listen address (`JIGI_METRICS_ADDR`).
    pub metrics_addr: SocketAddr,
    /// Database (`JIGI_DATABASE_URL`, default
    /// `sqlite://jigi-data/<service>-<region>.db`, or `<service>.db` for a
    /// national service).
    pub database_url: String,
    /// NATS (see [`BusConfig::from_settings`]).
    pub nats: BusConfig,
    /// Tokens, TLS and limits of the API (see [`crate::serving`]).
    pub serve: ServeConfig,
    /// A geography reference file replacing the built-in one
    /// (`JIGI_GEOGRAPHY_FILE`); see [`ServiceConfig::geography`].
    pub geography_file: Option<std::path::PathBuf>,
    /// The service's own telemetry when it shares its process with other
    /// services (the local stack); `None`: the process's, as deployed.
    pub telemetry: Option<jigi_telemetry::ServiceTelemetry>,
}

impl ServiceConfig {
    /// Reads the common settings of `service`.
    pub fn from_settings(settings: &Settings, service: Service) -> Result<ServiceConfig, ConfigError> {
        let area = if service.regional {
            ServiceArea::Region(settings.get("region", Region::Sikasso)?)
        } else {
            ServiceArea::National
        };
        let local = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        Ok(ServiceConfig {
            area,
            grpc_addr: settings.get("grpc_addr", local(service.grpc_port))?,
            metrics_addr: settings.get("metrics_addr", local(service.metrics_port))?,
            database_url: settings.get("database_url", default_database(service, area))?,
            nats: own_inbox(
                BusConfig::from_settings(settings, client_name(service, area))?,
                service,
                area,
            ),
            serve: ServeConfig::from_settings(settings, std::path::Path::new("jigi-data"))?,
            geography_file: settings.optional("geography_file")?,
            telemetry: None,
        })
    }

    /// A service on loopback ports chosen by the OS, without access control
    /// (tests and tools set [`ServiceConfig::serve`] as they need).
    pub fn local(service: Service, area: ServiceArea, nats_url: &str, database_url: &str) -> ServiceConfig {
        ServiceConfig {
            area,
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.to_owned(),
            nats: own_inbox(BusConfig::new(nats_url, client_name(service, area)), service, area),
            serve: ServeConfig::local(),
            geography_file: None,
            telemetry: None,
        }
    }

    /// Reads the common settings of `service` from the environment (for a
    /// service with no settings of its own).
    pub fn from_env(service: Service) -> Result<ServiceConfig, ConfigError> {
        ServiceConfig::from_settings(&Settings::from_env()?, service)
    }

    /// A service of `region` on loopback ports chosen by the OS (see [`ServiceConfig::local`]).
    pub fn regional(service: Service, region: Region, nats_url: &str, database_url: &str) -> ServiceConfig {
        ServiceConfig::local(service, ServiceArea::Region(region), nats_url, database_url)
    }

    /// The geography reference: the file of `JIGI_GEOGRAPHY_FILE`, or the
    /// built-in one. Every service of a deployment must read the same one,
    /// so the national figures add up the regions' communes.
    pub fn geography(&self) -> Result<Geography, StartError> {
        match &self.geography_file {
            Some(path) => Geography::load(path).map_err(|err| StartError::setup("geography reference", err)),
            None => Ok(Geography::built_in()),
        }
    }

    /// The region served, for a regional service.
    pub fn region(&self) -> Option<Region> {
        match self.area {
            ServiceArea::Region(region) => Some(region),
            ServiceArea::National => None,
        }
    }
}

/// A service with no settings of its own runs on these alone.
impl AsRef<ServiceConfig> for ServiceConfig {
    fn as_ref(&self) -> &ServiceConfig {
        self
    }
}

fn default_database(service: Service, area: ServiceArea) -> String {
    match area {
        ServiceArea::Region(region) => format!("sqlite://jigi-data/{}-{region}.db", service.name),
        ServiceArea::National => format!("sqlite://jigi-data/{}.db", service.name),
    }
}

/// A national service reads its replies on an inbox prefix of its own,
/// `_INBOX_<service>`: the hub lets each national user subscribe to its own
/// prefix only (deploy/nats/gen-accounts), since `_INBOX.>` carries every
/// user's replies — the deliveries of the regions' match keys to the
/// linkage index among them. A regional service keeps the default: its
/// leaf node's `services` user is the region's alone.
fn own_inbox(mut nats: BusConfig, service: Service, area: ServiceArea) -> BusConfig {
    if area == ServiceArea::National && nats.inbox_prefix.is_none() {
        nats.inbox_prefix = Some(inbox_prefix(service));
    }
    nats
}

/// The inbox prefix of a national service's NATS connection.
pub fn inbox_prefix(service: Service) -> String {
    format!("_INBOX_{}", service.name)
}

fn client_name(service: Service, area: ServiceArea) -> String {
    format!("jigi-{}-{}", service.name, area.name())
}

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database {url}: {source}")]
    Database { url: String, source: StorageError },
    #[error("cannot connect to NATS at {url}: {source}")]
    Nats {
        url: String,
        source: async_nats::ConnectError,
    },
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error("cannot open the audit log: {0}")]
    Audit(#[from] jigi_audit::AuditError),
    /// Something of the service's own (a reference file, a rule table).
    #[error("{what}: {reason}")]
    Setup { what: String, reason: String },
}

impl StartError {
    /// A failure of the service's own set-up.
    pub fn setup(what: impl Into<String>, reason: impl std::fmt::Display) -> StartError {
        StartError::Setup {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

/// A URL as it may be shown: without its password.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The tables every service has besides its own.
pub fn shared_migrations() -> Vec<Migration> {
    [
        jigi_bus::outbox::MIGRATIONS,
        jigi_bus::inbox::MIGRATIONS,
        jigi_storage::idempotency::MIGRATIONS,
        jigi_audit::MIGRATIONS,
    ]
    .concat()
}

/// A service being started: its database, NATS and ports are ready; its
/// tasks are added, then [`Host::serve`] serves its API.
pub struct Host {
    service: Service,
    config: ServiceConfig,
    database: Database,
    audit: AuditLog,
    bus: Bus,
    metrics: Metrics,
    listeners: Listeners,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Host {
    /// Opens (and migrates, with the shared tables) the database, connects
    /// to NATS and binds the two ports. NATS need not be reachable: events
    /// wait in the outbox and consumers catch up when it answers.
    pub async fn open(
        service: Service,
        config: ServiceConfig,
        migrations: &[Migration],
        shutdown: CancellationToken,
    ) -> Result<Host, StartError> {
        let migrations = [shared_migrations().as_slice(), migrations].concat();
        let database = Database::open(&config.database_url, &migrations)
            .await
            .map_err(|source| StartError::Database {
                url: redact(&config.database_url),
                source,
            })?;
        let audit = AuditLog::attach(database.clone())?;
        let bus = Bus::connect(&config.nats).await.map_err(|source| StartError::Nats {
            url: redact(&config.nats.url),
            source,
        })?;
        let listeners = Listeners::bind(config.grpc_addr, config.metrics_addr).await?;
        let metrics = Metrics::new(service.name);
        storage_metrics(&metrics, &database);
        Ok(Host {
            service,
            config,
            database,
            audit,
            bus,
            metrics,
            listeners,
            shutdown,
            tasks: Vec::new(),
        })
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Runs `task` until the service stops (with the service's own
    /// telemetry, when it has one).
    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        use tracing::instrument::WithSubscriber;
        let task = match &self.config.telemetry {
            Some(telemetry) => tokio::spawn(task.with_subscriber(telemetry.dispatch.clone())),
            None => tokio::spawn(task),
        };
        self.tasks.push(task);
    }

    /// Publishes the service's outbox to its region's stream.
    pub fn relay_outbox(&mut self) -> Arc<RelayStats> {
        self.relay_outbox_to(Vec::new())
    }

    /// Publishes the service's outbox to its region's stream and to the
    /// other streams given (set up before the first publish).
    pub fn relay_outbox_to(&mut self, also: Vec<async_nats::jetstream::stream::Config>) -> Arc<RelayStats> {
        let region = self.config.region().expect("only a regional service publishes events");
        let mut relay = OutboxRelay::new(
            self.database.clone(),
            self.bus.jetstream.clone(),
            region,
            RelaySettings::default(),
        );
        for config in also {
            relay = relay.also_to(config);
        }
        let stats = relay.stats();
        let gauge = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        self.metrics
            .register("outbox_pending_events", "Events waiting in the outbox", gauge.clone());
        let published = Counter::<u64>::default();
        self.metrics.register(
            "outbox_published_events",
            "Events published from the outbox and acknowledged by JetStream",
            published.clone(),
        );
        let watched = stats.clone();
        self.metrics.on_render(move || {
            gauge.set(watched.pending.load(std::sync::atomic::Ordering::Relaxed) as i64);
            catch_up(&published, watched.published.load(std::sync::atomic::Ordering::Relaxed));
        });
        let shutdown = self.shutdown.clone();
        self.spawn(relay.run(shutdown));
        stats
    }

    /// Shows a read cache at `/metrics`: `<name>_cache_reads_total` by
    /// outcome (`hit`: answered from memory, `miss`: read from the
    /// database) and `<name>_cache_held`.
    pub fn expose_cache<V: Send + Sync + 'static>(&self, cache: &Cache<V>) {
        let name = cache.name();
        let reads = Family::<CacheReadLabels, Counter>::default();
        self.metrics.register(
            &format!("{name}_cache_reads"),
            &format!("Reads through the {name} cache: answered from memory (hit) or read from the database (miss)"),
            reads.clone(),
        );
        let held = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        self.metrics.register(
            &format!("{name}_cache_held"),
            &format!("Values the {name} cache holds"),
            held.clone(),
        );
        let cache = cache.clone();
        self.metrics.on_render(move || {
            let stats = cache.stats();
            for (outcome, total) in [("hit", stats.hits), ("miss", stats.misses)] {
                catch_up(&reads.get_or_create(&CacheReadLabels { outcome }), total);
            }
            held.set(stats.held as i64);
        });
    }

    /// Runs a durable consumer with its inbox.
    pub fn consume<H: EventHandler>(&mut self, settings: ConsumerSettings, handler: Arc<H>) -> Arc<ConsumerStats> {
        let consumer = InboxConsumer::new(self.database.clone(), self.bus.jetstream.clone(), settings, handler);
        let stats = consumer.stats();
        let shutdown = self.shutdown.clone();
        self.spawn(consumer.run(shutdown));
        stats
    }

    /// Serves the API (the services `add` puts on the server) and the
    /// metrics, in the background, until shutdown. `service` is the
    /// service's own handle, given back in [`Running`].
    pub async fn serve<T>(
        mut self,
        service: T,
        add: impl FnOnce(GrpcServer) -> GrpcServer,
    ) -> Result<Running<T>, StartError> {
        let server = GrpcServer::new(
            self.metrics.clone(),
            self.config.area,
            &self.config.serve,
            self.audit.clone(),
            &self.shutdown,
        )
        .await?
        .with_dispatch(self.config.telemetry.as_ref().map(|t| t.dispatch.clone()));
        let server = add(server);
        let (grpc_addr, metrics_addr) = (self.listeners.grpc_addr, self.listeners.metrics_addr);
        self.tasks.extend(server.spawn(self.listeners, self.shutdown.clone()));
        tracing::info!(
            service = self.service.name,
            area = self.config.area.name(),
            %grpc_addr,
            %metrics_addr,
            "started"
        );
        Ok(Running {
            grpc_addr,
            metrics_addr,
            database: self.database,
            service,
            tasks: self.tasks,
            _telemetry: self.config.telemetry,
        })
    }
}

/// Brings a Prometheus counter up to the total its source has counted
/// (read at each scrape: the source counts, the counter only shows).
fn catch_up(counter: &Counter, total: u64) {
    counter.inc_by(total.saturating_sub(counter.get()));
}

/// Labels of a read cache's reads.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheReadLabels {
    outcome: &'static str,
}

/// Gauges of the write path, read at each scrape.
fn storage_metrics(metrics: &Metrics, database: &Database) {
    let writable = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
    let queued = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
    let failed = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
    let full = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
    let checkpoints = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
    let restarts = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
    metrics.register(
        "database_writable",
        "1 while the database accepts writes, 0 while they fail (a full disk, a lost database)",
        writable.clone(),
    );
    metrics.register(
        "database_queued_writes",
        "Commands waiting for the database's writer",
        queued.clone(),
    );
    metrics.register(
        "database_failed_commits",
        "Groups of commands whose commit failed since the start",
        failed.clone(),
    );
    metrics.register(
        "database_disk_full_failures",
        "Commits that failed because the disk was full, since the start",
        full.clone(),
    );
    metrics.register(
        "database_checkpoints",
        "SQLite checkpoints (the write-ahead log copied into the database file) since the start",
        checkpoints.clone(),
    );
    metrics.register(
        "database_log_restarts",
        "Times SQLite's write-ahead log started afresh since the start; a few checkpoints per restart is healthy",
        restarts.clone(),
    );
    let checked = database.clone();
    metrics.add_readiness(move || match checked.health() {
        health if health.writable => Ok(()),
        health => Err(format!(
            "database writes fail: {}",
            health.failing.map(|err| err.to_string()).unwrap_or_default()
        )),
    });
    let database = database.clone();
    metrics.on_render(move || {
        let health = database.health();
        writable.set(i64::from(health.writable));
        queued.set(database.queued() as i64);
        failed.set(health.failed_groups as i64);
        full.set(health.disk_full as i64);
        checkpoints.set(health.checkpoints as i64);
        restarts.set(health.log_restarts as i64);
    });
}

/// A running service.
pub struct Running<T> {
    /// Where the gRPC API listens.
    pub grpc_addr: SocketAddr,
    /// Where `/metrics` and the probes are served.
    pub metrics_addr: SocketAddr,
    /// Its database.
    pub database: Database,
    /// The service's own handle (for in-process use: tests, the local stack).
    pub service: T,
    tasks: Vec<JoinHandle<()>>,
    /// Kept while the service runs: dropping it flushes and stops the
    /// service's own span export.
    _telemetry: Option<jigi_telemetry::ServiceTelemetry>,
}

impl<T> Running<T> {
    /// Waits until every part has stopped (after the shutdown token is
    /// cancelled), then closes the database.
    pub async fn stopped(self) {
        for task in self.tasks {
            let _ = task.await;
        }
        self.database.close().await;
    }
}

/// A service binary's `main`: reads the settings, installs telemetry,
/// starts the service, and stops it cleanly on Ctrl-C or SIGTERM.
pub fn main<C, F, Fut, T>(service: Service, config: fn() -> Result<C, ConfigError>, start: F) -> std::process::ExitCode
where
    C: AsRef<ServiceConfig>,
    F: FnOnce(C, CancellationToken) -> Fut,
    Fut: Future<Output = Result<Running<T>, StartError>>,
{
    let config = match config() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{}: {err}", service.binary());
            return std::process::ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("{}: cannot start the runtime: {err}", service.binary());
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let telemetry = jigi_telemetry::init(&jigi_telemetry::TelemetryConfig {
            service_name: service.binary(),
            service_version: env!("CARGO_PKG_VERSION").into(),
            region: config.as_ref().area.name().into(),
            deployment: std::env::var("JIGI_DEPLOYMENT").unwrap_or_else(|_| "local".into()),
            default_log_filter: "info".into(),
            otlp_endpoint: None,
        });
        let _telemetry = match telemetry {
            Ok(guard) => guard,
            Err(err) => {
                eprintln!("{}: {err}", service.binary());
                return std::process::ExitCode::FAILURE;
            }
        };
        let shutdown = CancellationToken::new();
        let running = match start(config, shutdown.clone()).await {
            Ok(running) => running,
            Err(err) => {
                tracing::error!(error = %err, "cannot start");
                return std::process::ExitCode::FAILURE;
            }
        };
        crate::shutdown_signal().await;
        tracing::info!("shutting down");
        shutdown.cancel();
        running.stopped().await;
        std::process::ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("nats://services:s3cret@nats-leaf:4222"),
            "nats://services:***@nats-leaf:4222"
        );
        assert_eq!(redact("postgres://jigi:pw@db/jigi"), "postgres://jigi:***@db/jigi");
        assert_eq!(redact("sqlite://jigi-data/x.db"), "sqlite://jigi-data/x.db");
    }
}
