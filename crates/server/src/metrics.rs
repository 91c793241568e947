//! Prometheus metrics: one registry per service (several services may share
//! a process in tests and demos), served as text at `/metrics`.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::{Layer, Service};

/// Labels of the RPC metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    pub method: String,
    pub code: String,
}

/// Labels of the latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub method: String,
}

type Hook = Box<dyn Fn() + Send + Sync>;
type Readiness = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

/// A service's metrics registry and the RPC metrics every service has.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    rpc_requests: Family<RpcLabels, Counter>,
    rpc_seconds: Family<MethodLabels, Histogram>,
    /// Run before each rendering, to read gauges from their sources.
    hooks: Arc<Mutex<Vec<Hook>>>,
    /// Checks behind `/readyz`.
    readiness: Arc<Mutex<Vec<Readiness>>>,
}

impl Metrics {
    /// A registry whose metric names start with `jigi_<service>_`.
    pub fn new(service: &str) -> Metrics {
        let mut registry = Registry::with_prefix(format!("jigi_{service}"));
        let rpc_requests = Family::<RpcLabels, Counter>::default();
        registry.register(
            "grpc_requests",
            "gRPC calls handled, by method and status code",
            rpc_requests.clone(),
        );
        let rpc_seconds = Family::<MethodLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "grpc_request_duration_seconds",
            "Time to answer a gRPC call",
            rpc_seconds.clone(),
        );
        Metrics {
            registry: Arc::new(Mutex::new(registry)),
            rpc_requests,
            rpc_seconds,
            hooks: Arc::default(),
            readiness: Arc::default(),
        }
    }

    /// Runs `refresh` before each rendering (gauges read from their source).
    pub fn on_render(&self, refresh: impl Fn() + Send + Sync + 'static) {
        self.hooks.lock().expect("metrics hooks lock").push(Box::new(refresh));
    }

    /// Adds a check to `/readyz`: `Err(reason)` makes it answer 503.
    pub fn add_readiness(&self, check: impl Fn() -> Result<(), String> + Send + Sync + 'static) {
        self.readiness.lock().expect("readiness lock").push(Box::new(check));
    }

    /// Whether every readiness check passes; the reasons of those that fail.
    pub fn ready(&self) -> Result<(), Vec<String>> {
        let failures: Vec<String> = self
            .readiness
            .lock()
            .expect("readiness lock")
            .iter()
            .filter_map(|check| check().err())
            .collect();
        if failures.is_empty() { Ok(()) } else { Err(failures) }
    }

    /// Registers a service-specific metric.
    pub fn register(&self, name: &str, help: &str, metric: impl prometheus_client::registry::Metric) {
        self.registry
            .lock()
            .expect("metrics registry lock")
            .register(name, help, metric);
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        for refresh in self.hooks.lock().expect("metrics hooks lock").iter() {
            refresh();
        }
        let mut text = String::new();
        let registry = self.registry.lock().expect("metrics registry lock");
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("writing to a String cannot fail");
        text
    }

    /// A tower layer counting gRPC calls and timing them.
    pub fn grpc_layer(&self) -> RpcMetricsLayer {
        RpcMetricsLayer { metrics: self.clone() }
    }

    /// Serves `/metrics` on `listener` until `shutdown`.
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> std::io::Result<()> {
        // `/healthz` answers for probes that cannot speak gRPC over TLS
        // (Kubernetes' gRPC probe is plaintext only): the process is up and
        // serving. `/readyz` says whether it can do its work now (503 with
        // the reasons while, say, its disk is full): a probe should stop
        // sending it work, not restart it. The gRPC health service stays
        // the authority for clients.
        let ready = self.clone();
        let app = axum::Router::new()
            .route("/healthz", axum::routing::get(|| async { "ok\n" }))
            .route(
                "/readyz",
                axum::routing::get(move || {
                    let ready = ready.clone();
                    async move {
                        match ready.ready() {
                            Ok(()) => (http::StatusCode::OK, "ready\n".to_owned()),
                            Err(reasons) => (
                                http::StatusCode::SERVICE_UNAVAILABLE,
                                format!("not ready: {}\n", reasons.join("; ")),
                            ),
                        }
                    }
                }),
            )
            .route(
                "/metrics",
                axum::routing::get(move || {
                    let metrics = self.clone();
                    async move {
                        (
                            [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                            metrics.render(),
                        )
                    }
                }),
            );
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
    }
}

/// Layer produced by [`Metrics::grpc_layer`].
#[derive(Clone)]
pub struct RpcMetricsLayer {
    metrics: Metrics,
}

impl<S> Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// Service produced by [`RpcMetricsLayer`].
#[derive(Clone)]
pub struct RpcMetrics<S> {
    inner: S,
    metrics: Metrics,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'static>>;

impl<S, B, RB> Service<http::Request<B>> for RpcMetrics<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let method = request.uri().path().trim_start_matches('/').to_owned();
        let metrics = self.metrics.clone();
        let started = Instant::now();
        let response = inner.call(request);
        Box::pin(async move {
            let result = response.await;
            if let Ok(response) = &result {
                let code = response
                    .headers()
                    .get("grpc-status")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("0")
                    .to_owned();
                metrics
                    .rpc_requests
                    .get_or_create(&RpcLabels {
                        method: method.clone(),
                        code,
                    })
                    .inc();
                metrics
                    .rpc_seconds
                    .get_or_create(&MethodLabels { method })
                    .observe(started.elapsed().as_secs_f64());
            }
            result
        })
    }
}
