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

/// A service's metrics registry and the RPC metrics every service has.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    rpc_requests: Family<RpcLabels, Counter>,
    rpc_seconds: Family<MethodLabels, Histogram>,
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
        }
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
        // serving. The gRPC health service stays the authority for clients.
        let app = axum::Router::new()
            .route("/healthz", axum::routing::get(|| async { "ok\n" }))
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
