//! National monitoring: the indicators the programme is steered by,
//! computed from every region's events.
//!
//! Layout, the same as every Jigi service:
//!
//! - [`config`]: settings from the environment;
//! - [`domain`]: indicators, budget rules, freshness, DHIS2 mapping (no I/O);
//! - [`storage`]: facts drawn from events, the budget, indicator queries;
//! - [`consume`]: the national stream's events into facts (with the inbox);
//!   beside it, the JSON mirror ([`jigi_bus::mirror`]) republishes every
//!   national event as JSON to `JIGI_JSON` for partners;
//! - [`app`]: queries and budget commands;
//! - [`grpc`]: the API;
//! - [`metrics`]: Prometheus gauges of the indicators and of the service.
//!
//! [`start`] runs it until a shutdown token is cancelled.

pub mod app;
pub mod config;
pub mod consume;
pub mod domain;
pub mod grpc;
pub mod metrics;
pub mod policy;
pub mod storage;

use std::net::SocketAddr;
use std::sync::Arc;

use jigi_auth::ServiceArea;
use jigi_bus::inbox::{ConsumerStats, InboxConsumer};
use jigi_bus::mirror::{JsonMirror, MirrorSettings, MirrorStats};
use jigi_bus::streams::{self, RegionSource};
use jigi_bus::{Bus, ConsumerSettings};
use jigi_common::Geography;
use jigi_server::{GrpcServer, Listeners, Metrics};
use jigi_storage::Database;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use app::Monitoring;
pub use config::Config;
use domain::dhis2::Mapping;

/// The durable consumer's name (its inbox records events under it).
pub const CONSUMER: &str = "monitoring";

/// Why the monitoring could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database {url}: {source}")]
    Database {
        url: String,
        source: jigi_storage::StorageError,
    },
    #[error("cannot read the DHIS2 mapping {0}: {1}")]
    MappingFile(String, std::io::Error),
    #[error(transparent)]
    Mapping(#[from] domain::dhis2::MappingError),
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

/// A running monitoring.
pub struct Running {
    pub grpc_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub monitoring: Monitoring,
    pub database: Database,
    /// Counters of the national consumer (events handled, duplicates, rejected).
    pub consumer: Arc<ConsumerStats>,
    /// Counters of the JSON mirror, when it runs (`JIGI_JSON_MIRROR`).
    pub json_mirror: Option<Arc<MirrorStats>>,
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

/// Starts the monitoring: database, the national stream and its consumer,
/// the JSON mirror (unless `json_mirror` is off), the API and the metrics. NATS need not be reachable yet.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running, StartError> {
    let database = Database::open(&config.database_url, &storage::migrations())
        .await
        .map_err(|source| StartError::Database {
            url: config.database_url.clone(),
            source,
        })?;
    let mapping = match &config.dhis2_mapping_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|err| StartError::MappingFile(path.display().to_string(), err))?;
            Mapping::parse(&text)?
        }
        None => Mapping::built_in(),
    };
    let bus = Bus::connect(&config.nats).await.map_err(|source| StartError::Nats {
        url: config.nats.url.clone(),
        source,
    })?;
    let listeners = Listeners::bind(config.grpc_addr, config.metrics_addr).await?;
    let (grpc_addr, metrics_addr) = (listeners.grpc_addr, listeners.metrics_addr);

    let metrics = Metrics::new("monitoring");
    let monitoring_metrics = metrics::MonitoringMetrics::register(&metrics);
    let lags = consume::Lags::default();
    let monitoring = Monitoring::new(
        database.clone(),
        Arc::new(Geography::built_in()),
        Arc::new(mapping),
        config.regions.clone(),
        config.silence_threshold,
        lags.clone(),
    );

    let sources = if config.region_domains {
        RegionSource::leaf_nodes(&config.regions)
    } else {
        config
            .regions
            .iter()
            .map(|region| RegionSource::Local(*region))
            .collect()
    };
    let mut national = streams::national_stream_config(&sources);
    national.num_replicas = config.national_replicas;
    let mirror = config.json_mirror.then(|| {
        let mut settings = MirrorSettings::new(national.clone());
        settings.target.num_replicas = config.national_replicas;
        JsonMirror::new(bus.jetstream.clone(), settings)
    });
    let mirror_stats = mirror.as_ref().map(JsonMirror::stats);
    let settings = ConsumerSettings::new(national, CONSUMER);
    let handler = Arc::new(consume::NationalHandler {
        lags,
        metrics: monitoring_metrics.clone(),
    });
    let consumer = InboxConsumer::new(database.clone(), bus.jetstream.clone(), settings, handler);
    let consumer_stats = consumer.stats();
    let server = GrpcServer::new(
        metrics.clone(),
        ServiceArea::National,
        &config.serve,
        &database,
        &shutdown,
    )
    .await?
    .add_service(
        grpc::MonitoringApi::new(monitoring.clone()).into_service(),
        policy::RULES,
    );

    let mut tasks = vec![
        tokio::spawn(consumer.run(shutdown.clone())),
        tokio::spawn(refresh_gauges(
            monitoring.clone(),
            monitoring_metrics,
            config.metrics_refresh,
            shutdown.clone(),
        )),
    ];
    tasks.extend(server.spawn(listeners, shutdown.clone()));
    if let Some(mirror) = mirror {
        // Every national event, once, as JSON in JIGI_JSON (jigi_bus::mirror).
        tasks.push(tokio::spawn(mirror.run(shutdown.clone())));
    }
    tracing::info!(
        %grpc_addr,
        %metrics_addr,
        regions = config.regions.len(),
        json_mirror = config.json_mirror,
        "monitoring started"
    );
    Ok(Running {
        grpc_addr,
        metrics_addr,
        monitoring,
        database,
        consumer: consumer_stats,
        json_mirror: mirror_stats,
        tasks,
    })
}

/// Recomputes the indicator gauges now and then (computing them at every
/// event would cost more than the events themselves).
async fn refresh_gauges(
    monitoring: Monitoring,
    metrics: metrics::MonitoringMetrics,
    every: std::time::Duration,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = shutdown.cancelled() => return,
        }
        match monitoring.gauges().await {
            Ok(rows) => {
                for (region, indicators) in rows {
                    let label = metrics::RegionLabel { region: region.clone() };
                    metrics
                        .households_registered
                        .get_or_create(&label)
                        .set(indicators.households_registered);
                    metrics
                        .amount_paid_fcfa
                        .get_or_create(&label)
                        .set(indicators.amount_paid);
                    metrics
                        .flour_distributed_grams
                        .get_or_create(&label)
                        .set(indicators.flour_distributed_grams);
                    for (component, count) in &indicators.enrolled {
                        let labels = metrics::ComponentLabels {
                            region: region.clone(),
                            component: component.code().to_owned(),
                        };
                        metrics.households_enrolled.get_or_create(&labels).set(*count);
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot refresh the indicator gauges"),
        }
        if let Ok(regions) = monitoring.freshness().await {
            let now = chrono::Utc::now();
            for region in regions {
                if let Some(at) = region.last_received_at {
                    let label = metrics::RegionLabel {
                        region: region.region.slug().to_owned(),
                    };
                    metrics
                        .seconds_since_last_event
                        .get_or_create(&label)
                        .set((now - at).num_seconds());
                }
            }
        }
    }
}
