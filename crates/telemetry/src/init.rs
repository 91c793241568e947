//! Installing the process-wide subscriber: logs plus OpenTelemetry spans.

use std::sync::Once;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::log_format::WithTraceIds;

/// Who is emitting telemetry; becomes the OpenTelemetry resource.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `service.name`, e.g. `jigi-registry`.
    pub service_name: String,
    /// `service.version`.
    pub service_version: String,
    /// `jigi.region`: the region slug, or `national`.
    pub region: String,
    /// `deployment.environment.name`, e.g. `production`, `demo`, `test`.
    pub deployment: String,
    /// Default log filter when `RUST_LOG` is not set, e.g. `info`.
    pub default_log_filter: String,
    /// Where spans go over OTLP/gRPC; `None`: `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// (or `…_TRACES_ENDPOINT`) when set, else nowhere.
    pub otlp_endpoint: Option<String>,
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// Keeps the tracer provider alive; dropping it flushes pending spans.
#[must_use = "dropping the guard flushes and stops span export"]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(err) = self.provider.shutdown() {
            eprintln!("telemetry: flushing spans at shutdown failed: {err}");
        }
    }
}

/// Installs logging and tracing for the whole process. Call once, from `main`,
/// inside the Tokio runtime (the OTLP exporter needs it).
pub fn init(config: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    let provider = tracer_provider(config)?;
    let tracer = provider.tracer("jigi");
    let log_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.default_log_filter));
    tracing_subscriber::registry()
        .with(spans(tracer))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(colours())
                .event_format(WithTraceIds::default())
                .with_filter(log_filter),
        )
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(TelemetryGuard { provider })
}

/// The telemetry of one service among several in one process (the local
/// stack runs every service of a country in one): its spans are exported
/// under its own resource (`service.name`, `jigi.region`), exactly as the
/// same service deployed alone, and its logs name it. The service host runs
/// the service's tasks and calls with [`ServiceTelemetry::dispatch`] as
/// their subscriber; the process's own subscriber is left to the program.
#[derive(Clone)]
pub struct ServiceTelemetry {
    pub dispatch: tracing::Dispatch,
    _guard: std::sync::Arc<TelemetryGuard>,
}

impl std::fmt::Debug for ServiceTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTelemetry").finish_non_exhaustive()
    }
}

/// Telemetry for one service of a process: see [`ServiceTelemetry`]. Call
/// inside the Tokio runtime (the OTLP exporter needs it).
pub fn for_service(config: &TelemetryConfig) -> Result<ServiceTelemetry, TelemetryError> {
    let provider = tracer_provider(config)?;
    let tracer = provider.tracer("jigi");
    let log_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.default_log_filter));
    let subscriber = tracing_subscriber::registry().with(spans(tracer)).with(
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(colours())
            .event_format(WithTraceIds::labelled(format!(
                "{} {}",
                config.service_name, config.region
            )))
            .with_filter(log_filter),
    );
    Ok(ServiceTelemetry {
        dispatch: tracing::Dispatch::new(subscriber),
        _guard: std::sync::Arc::new(TelemetryGuard { provider }),
    })
}

/// Colours only for a person at a terminal who has not asked for none
/// (`NO_COLOR`): a service's log read from a file, journald or `kubectl
/// logs` had its spans' fields wrapped in escape codes.
fn colours() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// Installs a subscriber for tests, once per test binary: spans get real
/// trace IDs (so propagation can be tested) but nothing is exported; logs go
/// to the test harness at the level of `RUST_LOG` (default `warn`).
pub fn init_for_tests() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let provider = SdkTracerProvider::builder().build();
        let tracer = provider.tracer("jigi-test");
        // The provider must outlive every test in the binary.
        std::mem::forget(provider);
        let log_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
        let _ = tracing_subscriber::registry()
            .with(spans(tracer))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_test_writer()
                    .event_format(WithTraceIds::default())
                    .with_filter(log_filter),
            )
            .try_init();
    });
}

/// The layer that makes Jigi's spans OpenTelemetry spans.
///
/// A span carries what it was made with (its name, its fields, its trace
/// context), not what the `tracing-opentelemetry` layer can add by default:
/// the busy and idle time of every poll (two clock readings per poll of a
/// call's future), the thread, and the source line (Jigi's spans are made
/// in shared code, the same few lines whatever the call). Less to do per
/// call and less to send over a region's link.
fn spans<S>(tracer: opentelemetry_sdk::trace::SdkTracer) -> impl Layer<S> + Send + Sync + 'static
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span> + Send + Sync,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
        .with_filter(span_filter())
}

/// Which spans become OpenTelemetry spans, independently of the log level:
/// Jigi's own spans (targets `jigi_*`) at INFO, libraries only for warnings.
/// Quieting the logs must not break traces.
fn span_filter() -> Targets {
    Targets::new()
        .with_target("jigi", LevelFilter::INFO)
        .with_default(LevelFilter::WARN)
}

fn tracer_provider(config: &TelemetryConfig) -> Result<SdkTracerProvider, TelemetryError> {
    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .with_attributes([
            KeyValue::new("service.namespace", "jigi"),
            KeyValue::new("service.version", config.service_version.clone()),
            KeyValue::new("jigi.region", config.region.clone()),
            KeyValue::new("deployment.environment.name", config.deployment.clone()),
        ])
        .build();
    // The sampler comes from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG
    // (the SDK reads them); the default is parent-based, always on.
    let builder = SdkTracerProvider::builder().with_resource(resource);
    let from_environment = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").is_ok_and(|v| !v.is_empty())
        || std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_ok_and(|v| !v.is_empty());
    let builder = match &config.otlp_endpoint {
        Some(endpoint) => {
            use opentelemetry_otlp::WithExportConfig;
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()?;
            builder.with_batch_exporter(exporter)
        }
        None if from_environment => {
            let exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic().build()?;
            builder.with_batch_exporter(exporter)
        }
        None => builder,
    };
    Ok(builder.build())
}
