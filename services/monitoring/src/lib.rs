//! National monitoring: the indicators the programme is steered by,
//! computed from every region's events.
//!
//! Layout, the same in every Jigi service:
//!
//! - [`config`]: settings from the environment;
//! - [`domain`]: indicators, budget rules, freshness, DHIS2 mapping, no I/O;
//! - [`storage`]: facts drawn from events, the budget, region activity,
//!   indicator queries;
//! - [`app`]: queries (each request's reads in one snapshot) and the budget
//!   commands, each one transaction on the write path; its
//!   [`projection`](app::projection) turns the national stream's events into
//!   facts, a pull batch at a time in the inbox's transaction;
//! - [`grpc`]: the API, mapping outcomes to gRPC statuses;
//! - [`policy`]: who may call each RPC;
//! - [`metrics`]: Prometheus gauges of the indicators and of the consumer.
//!
//! [`start`] runs the whole service on the service host (API, metrics, the
//! national consumer and, beside it, the JSON mirror
//! ([`jigi_subscribers::mirror`]) that republishes every national event as
//! JSON to `JIGI_JSON` for partners) until a shutdown token is cancelled;
//! `main.rs` is the host's `main`. Tests and the local stack call [`start`]
//! directly, on port 0. The monitoring publishes no events.

pub mod app;
pub mod config;
pub mod domain;
pub mod grpc;
pub mod metrics;
pub mod policy;
pub mod storage;

use std::sync::Arc;

use jigi_bus::ConsumerSettings;
use jigi_bus::inbox::ConsumerStats;
use jigi_bus::streams::{self, RegionSource};
use jigi_server::{Host, Running, Service, StartError};
use jigi_subscribers::mirror::{JsonMirror, MirrorSettings, MirrorStats};
use tokio_util::sync::CancellationToken;

pub use app::Monitoring;
pub use app::projection::NationalProjection;
pub use config::Config;
use domain::dhis2::Mapping;

/// The monitoring to the service host: its name and default ports.
pub const SERVICE: Service = Service {
    name: "monitoring",
    regional: false,
    grpc_port: 50054,
    metrics_port: 9104,
};

/// The durable consumer's name (its inbox records events under it).
pub const CONSUMER: &str = "monitoring";

/// What a running monitoring gives back for in-process use (tests, the
/// local stack, benchmarks).
#[derive(Clone)]
pub struct Handle {
    /// The service itself.
    pub monitoring: Monitoring,
    /// Counters of the national consumer (events handled, duplicates,
    /// rejected; tests wait on them).
    pub consumer: Arc<ConsumerStats>,
    /// Counters of the JSON mirror, when it runs (`JIGI_JSON_MIRROR`).
    pub json_mirror: Option<Arc<MirrorStats>>,
}

/// Starts the monitoring: opens (and migrates) its database, binds its
/// ports, and runs the national stream's consumer, the JSON mirror (unless
/// `json_mirror` is off), the indicator gauges, the API and the metrics
/// until `shutdown` is cancelled. NATS need not be reachable yet.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running<Handle>, StartError> {
    let mapping = match &config.dhis2_mapping_file {
        Some(path) => {
            let what = format!("DHIS2 mapping {}", path.display());
            let text = std::fs::read_to_string(path).map_err(|err| StartError::setup(what.clone(), err))?;
            Mapping::parse(&text).map_err(|err| StartError::setup(what, err))?
        }
        None => Mapping::built_in(),
    };
    let geography = config.service.geography()?;
    let mut host = Host::open(SERVICE, config.service, storage::MIGRATIONS, shutdown.clone()).await?;

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

    let monitoring_metrics = metrics::MonitoringMetrics::register(host.metrics());
    let lags = app::projection::Lags::default();
    let consumer = host.consume(
        ConsumerSettings::new(national.clone(), CONSUMER),
        Arc::new(NationalProjection::new(lags.clone(), monitoring_metrics.clone())),
    );
    let json_mirror = if config.json_mirror {
        // Every national event, once, as JSON in JIGI_JSON: another reader
        // of the national stream, with its own durable consumer.
        let mut settings = MirrorSettings::new(national);
        settings.target.num_replicas = config.national_replicas;
        let mirror = JsonMirror::new(host.bus().jetstream.clone(), settings);
        let stats = mirror.stats();
        host.spawn(mirror.run(shutdown.clone()));
        Some(stats)
    } else {
        None
    };

    let monitoring = Monitoring::new(
        host.database().clone(),
        Arc::new(geography),
        Arc::new(mapping),
        config.regions.clone(),
        config.silence_threshold,
        lags,
    )
    .with_consumer(consumer.clone());
    metrics::MonitoringMetrics::watch_consumer(host.metrics(), consumer.clone());
    host.spawn(metrics::refresh_gauges(
        monitoring.clone(),
        monitoring_metrics,
        config.metrics_refresh,
        shutdown,
    ));
    tracing::info!(
        regions = config.regions.len(),
        json_mirror = config.json_mirror,
        "monitoring reads the national stream"
    );
    let api = grpc::MonitoringApi::new(monitoring.clone()).into_service();
    let handle = Handle {
        monitoring,
        consumer,
        json_mirror,
    };
    host.serve(handle, |server| server.add_service(api, policy::RULES))
        .await
}
