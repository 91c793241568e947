//! Trace context through gRPC metadata.
//!
//! Servers add [`GrpcTraceLayer`] to their tonic `Server`: every call gets a
//! server span named `<package.Service>/<Method>` with OpenTelemetry's RPC
//! attributes, as a child of the caller's `traceparent` when there is one.
//! Clients wrap their channel with [`PropagateTrace`] so the current span's
//! context travels with each call.

use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::metadata::MetadataValue;
use tower::{Layer, Service};
use tracing::Instrument;
use tracing::field::Empty;

use crate::TraceContext;

/// Health checks and reflection are called by machines every few seconds;
/// tracing them would bury the calls people look for.
fn is_untraced(path: &str) -> bool {
    path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.")
}

/// A tower layer that opens a server span around every gRPC call.
#[derive(Debug, Clone, Default)]
pub struct GrpcTraceLayer {
    region: &'static str,
}

impl GrpcTraceLayer {
    /// Spans of a service of `region` (a region slug, or `national`).
    pub fn for_region(region: &'static str) -> GrpcTraceLayer {
        GrpcTraceLayer { region }
    }
}

impl<S> Layer<S> for GrpcTraceLayer {
    type Service = GrpcTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcTrace {
            inner,
            region: self.region,
        }
    }
}

/// The service produced by [`GrpcTraceLayer`].
#[derive(Debug, Clone)]
pub struct GrpcTrace<S> {
    inner: S,
    region: &'static str,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'static>>;

impl<S, B, RB> Service<http::Request<B>> for GrpcTrace<S>
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
        // The clone is ready only if `self.inner` was polled ready; swap them
        // so the ready one serves this call (the usual tower idiom).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let path = request.uri().path();
        if is_untraced(path) {
            return Box::pin(inner.call(request));
        }
        // `service/method`: the span's name, as OpenTelemetry names gRPC spans.
        let name = path.trim_start_matches('/');
        let (service, method) = name.split_once('/').unwrap_or((name, ""));
        // Text fields as `&str`, not `%`: the layer takes them as they are,
        // where a `%` field goes through the formatting machinery (three
        // times per call).
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = name,
            otel.kind = "server",
            otel.status_code = Empty,
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            rpc.grpc.status_code = Empty,
            jigi.region = self.region,
            jigi.household_id = Empty,
            jigi.cycle_id = Empty,
            jigi.round_id = Empty,
        );
        TraceContext::from_lookup(|name| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        })
        .set_as_parent_of(&span);
        let response = inner.call(request);
        let record_on = span.clone();
        Box::pin(
            async move {
                let result = response.await;
                if let Ok(response) = &result {
                    // Unary errors come back "trailers-only", with the status
                    // in the headers; a status in the trailers is OK (0) for
                    // every unary call that returned a message.
                    let code = response
                        .headers()
                        .get("grpc-status")
                        .and_then(|value| value.to_str().ok())
                        .and_then(|value| value.parse::<i64>().ok())
                        .unwrap_or(0);
                    record_on.record("rpc.grpc.status_code", code);
                    if is_server_error(code) {
                        record_on.record("otel.status_code", "ERROR");
                    }
                }
                result
            }
            .instrument(span),
        )
    }
}

/// OpenTelemetry marks a server span as an error only for codes that mean
/// the server failed, not the caller (UNKNOWN, DEADLINE_EXCEEDED,
/// UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS).
fn is_server_error(code: i64) -> bool {
    matches!(code, 2 | 4 | 12 | 13 | 14 | 15)
}

/// A client interceptor that sends the current span's trace context with
/// every call: `Client::with_interceptor(channel, PropagateTrace)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PropagateTrace;

impl tonic::service::Interceptor for PropagateTrace {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let context = TraceContext::current();
        for (name, value) in [("traceparent", context.traceparent), ("tracestate", context.tracestate)] {
            if let Some(value) = value.and_then(|v| MetadataValue::try_from(v).ok()) {
                request.metadata_mut().insert(name, value);
            }
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_and_reflection_are_not_traced() {
        assert!(is_untraced("/grpc.health.v1.Health/Check"));
        assert!(is_untraced(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
        ));
        assert!(!is_untraced("/jigi.registry.v1.RegistryService/GetHousehold"));
    }

    #[test]
    fn only_server_side_failures_mark_the_span_as_error() {
        assert!(!is_server_error(0));
        assert!(!is_server_error(3)); // INVALID_ARGUMENT is the caller's mistake
        assert!(!is_server_error(5));
        assert!(is_server_error(13));
    }
}

/// Runs every call with a service's own subscriber (see
/// [`crate::ServiceTelemetry`]): outermost, so the server span and all the
/// call's work belong to the service's telemetry. Without one, calls use
/// the process's subscriber.
#[derive(Debug, Clone, Default)]
pub struct DispatchLayer {
    dispatch: Option<tracing::Dispatch>,
}

impl DispatchLayer {
    pub fn new(dispatch: Option<tracing::Dispatch>) -> DispatchLayer {
        DispatchLayer { dispatch }
    }
}

impl<S> Layer<S> for DispatchLayer {
    type Service = WithDispatch<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithDispatch {
            inner,
            dispatch: self.dispatch.clone(),
        }
    }
}

/// The service produced by [`DispatchLayer`].
#[derive(Debug, Clone)]
pub struct WithDispatch<S> {
    inner: S,
    dispatch: Option<tracing::Dispatch>,
}

impl<S, R> Service<R> for WithDispatch<S>
where
    S: Service<R> + Send,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        use tracing::instrument::WithSubscriber;
        match &self.dispatch {
            None => Box::pin(self.inner.call(request)),
            Some(dispatch) => {
                let future = tracing::dispatcher::with_default(dispatch, || self.inner.call(request));
                Box::pin(future.with_subscriber(dispatch.clone()))
            }
        }
    }
}
