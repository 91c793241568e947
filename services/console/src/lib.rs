//! The national operations console: the web page national operators (and
//! regional supervisors, for their regions) open every morning. French by
//! default, English selectable, light enough for a slow link: the pages are
//! rendered on the server, with one small stylesheet and one small script
//! compiled into the binary (no CDN, nothing fetched from the internet),
//! charts as inline SVG with a table beside each.
//!
//! Layout, close to every Jigi service's (it has no database and no gRPC
//! API of its own: it reads the others'):
//!
//! - [`config`]: settings from the environment;
//! - [`domain`]: what the pages show — figures, links, events — and the
//!   French and English labels and number formats, no I/O;
//! - [`monitoring`]: the monitoring's gRPC API, called with each
//!   operator's own token (the monitoring checks their scope again);
//! - [`links`]: the national stream's sources and the monitoring's
//!   consumer, read from JetStream every second: each region's link;
//! - [`live`]: the national stream as it flows, for the live feed and the
//!   trace search;
//! - [`spans`]: an OTLP/gRPC receiver keeping recent spans, for a stack
//!   without a tracing UI;
//! - [`web`]: the pages, sign-in and access (server-side), assets, CSV;
//! - [`metrics`]: Prometheus counters and gauges of the console, among them
//!   each region's link (`jigi_console_region_link_up`).
//!
//! [`start`] binds the ports and runs everything until the shutdown token
//! is cancelled; `main.rs` is the binary's `main`. Tests and the local
//! stack call [`start`] directly, on port 0.

pub mod config;
pub mod domain;
pub mod links;
pub mod live;
pub mod metrics;
pub mod monitoring;
pub mod spans;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use jigi_auth::{LocalIssuer, Verifier};
use jigi_server::serving::AccessSettings;
use jigi_server::{Listeners, Service, StartError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::Config;

/// The console to the service host conventions: its name and default
/// ports (`grpc_port` is its HTTP port: it serves no gRPC).
pub const SERVICE: Service = Service {
    name: "console",
    regional: false,
    grpc_port: 8090,
    metrics_port: 9109,
};

/// A running console.
pub struct Running {
    /// Where the pages are served.
    pub http_addr: SocketAddr,
    /// Where `/metrics` and the probes are served.
    pub metrics_addr: SocketAddr,
    /// Where spans are received over OTLP/gRPC, when asked.
    pub otlp_addr: Option<SocketAddr>,
    /// The live feed's counters (tests wait on them).
    pub live: Arc<live::LiveStats>,
    tasks: Vec<JoinHandle<()>>,
    _telemetry: Option<jigi_telemetry::ServiceTelemetry>,
}

impl Running {
    /// The address to open in a browser.
    pub fn url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// Waits until every part has stopped (after the shutdown token is cancelled).
    pub async fn stopped(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts the console: binds its ports, loads the token keys, connects to
/// NATS (which need not answer yet) and serves until `shutdown` is cancelled.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running, StartError> {
    let (keys, expect) = match config.access.clone() {
        AccessSettings::Tokens { keys, expect } => (keys, expect),
        AccessSettings::Off => {
            return Err(StartError::setup(
                "access",
                "the console needs token keys to know who signs in",
            ));
        }
    };
    let verifier = Verifier::start(keys, expect, shutdown.clone())
        .await
        .map_err(|err| StartError::setup("token keys", err))?;
    let issuer = match &config.local_issuer_key {
        Some(path) => Some(Arc::new(
            LocalIssuer::load_or_create(path).map_err(|err| StartError::setup("the local issuer's key", err))?,
        )),
        None => None,
    };
    let listeners = Listeners::bind(config.http_addr, config.metrics_addr).await?;
    let otlp = match config.otlp_addr {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| jigi_server::ListenError { addr, source })?;
            let bound = listener
                .local_addr()
                .map_err(|source| jigi_server::ListenError { addr, source })?;
            Some((listener, bound))
        }
        None => None,
    };
    let bus = jigi_bus::Bus::connect(&config.nats)
        .await
        .map_err(|source| StartError::Nats {
            url: jigi_server::host::redact(&config.nats.url),
            source,
        })?;
    let registry = jigi_server::Metrics::new(SERVICE.name);
    let metrics = metrics::ConsoleMetrics::register(&registry);
    let monitoring = monitoring::MonitoringReader::connect(&config.monitoring_url, config.monitoring_tls_ca.as_deref())
        .map_err(|err| StartError::setup("JIGI_MONITORING_URL", err))?;

    let mut tasks = Vec::new();
    let spawn = |tasks: &mut Vec<JoinHandle<()>>, task: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>| {
        use tracing::instrument::WithSubscriber;
        let handle = match &config.telemetry {
            Some(telemetry) => tokio::spawn(task.with_subscriber(telemetry.dispatch.clone())),
            None => tokio::spawn(task),
        };
        tasks.push(handle);
    };

    let board = links::LinkBoard::new(&config.regions, config.link_down_after);
    spawn(
        &mut tasks,
        Box::pin(links::watch(
            bus.jetstream.clone(),
            board.clone(),
            metrics.clone(),
            config.links_refresh,
            shutdown.clone(),
        )),
    );
    let feed = live::LiveFeed::new(live::RECENT_EVENTS);
    let stats = feed.stats();
    spawn(
        &mut tasks,
        Box::pin(live::follow(
            bus.jetstream.clone(),
            feed.clone(),
            metrics.clone(),
            shutdown.clone(),
        )),
    );

    let spans = spans::SpanStore::new(spans::RECENT_SPANS);
    let otlp_addr = match otlp {
        Some((listener, bound)) => {
            spawn(
                &mut tasks,
                Box::pin(spans::receive(listener, spans.clone(), shutdown.clone())),
            );
            Some(bound)
        }
        None => None,
    };
    let state = web::State {
        spans: otlp_addr.map(|_| spans),
        monitoring,
        verifier,
        issuer,
        board,
        feed,
        metrics: metrics.clone(),
        regions: Arc::new(config.regions.clone()),
        jaeger_url: config.jaeger_url.clone(),
        secure_cookies: config.secure_cookies,
    };
    let app = web::router(state);
    let http = listeners.grpc;
    let stop = shutdown.clone();
    spawn(
        &mut tasks,
        Box::pin(async move {
            if let Err(err) = axum::serve(http, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
            {
                tracing::error!(error = %err, "the console's web server stopped");
            }
        }),
    );
    let stop = shutdown.clone();
    let metrics_listener = listeners.metrics;
    spawn(
        &mut tasks,
        Box::pin(async move {
            if let Err(err) = registry.serve(metrics_listener, stop).await {
                tracing::error!(error = %err, "the console's metrics server stopped");
            }
        }),
    );
    tracing::info!(
        http_addr = %listeners.grpc_addr,
        metrics_addr = %listeners.metrics_addr,
        regions = config.regions.len(),
        "console started"
    );
    Ok(Running {
        http_addr: listeners.grpc_addr,
        metrics_addr: listeners.metrics_addr,
        otlp_addr,
        live: stats,
        tasks,
        _telemetry: config.telemetry,
    })
}
