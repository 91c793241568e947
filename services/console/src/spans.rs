//! Spans the console receives itself over OTLP/gRPC, for a local stack
//! without a tracing UI: the services export to the console, which keeps
//! the recent spans in memory, so the trace page can show an action's path
//! across the services (service, span, duration) from a trace ID. Deployed,
//! the OpenTelemetry Collector and Jaeger do this (`JIGI_JAEGER_URL`).
//! Spans carry no personal data (the services see to it), and only the
//! span's name, service, timing and parent are kept.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;

/// Spans kept (the oldest are forgotten first).
pub const RECENT_SPANS: usize = 50_000;

/// A span as the trace page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// Empty for the trace's root.
    pub parent_span_id: String,
    pub name: String,
    /// `service.name` of the resource, e.g. `jigi-payments`.
    pub service: String,
    /// `jigi.region` of the resource, when set.
    pub region: String,
    pub start_unix_nanos: u64,
    pub duration_nanos: u64,
}

/// The recent spans.
#[derive(Clone)]
pub struct SpanStore {
    spans: Arc<Mutex<VecDeque<Span>>>,
    capacity: usize,
}

impl SpanStore {
    pub fn new(capacity: usize) -> SpanStore {
        SpanStore {
            spans: Arc::default(),
            capacity,
        }
    }

    fn add(&self, received: Vec<Span>) {
        let mut spans = self.spans.lock().expect("spans lock");
        for span in received {
            if spans.len() == self.capacity {
                spans.pop_front();
            }
            spans.push_back(span);
        }
    }

    /// The spans of `trace_id`, in start order.
    pub fn trace(&self, trace_id: &str) -> Vec<Span> {
        let mut found: Vec<Span> = self
            .spans
            .lock()
            .expect("spans lock")
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect();
        found.sort_by_key(|s| s.start_unix_nanos);
        found
    }
}

struct Receiver {
    store: SpanStore,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let resource = resource_spans.resource.unwrap_or_default();
            let attribute = |key: &str| {
                resource
                    .attributes
                    .iter()
                    .find(|kv| kv.key == key)
                    .and_then(|kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                        Some(Value::StringValue(text)) => Some(text.clone()),
                        _ => None,
                    })
                    .unwrap_or_default()
            };
            let (service, region) = (attribute("service.name"), attribute("jigi.region"));
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    received.push(Span {
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent_span_id: hex(&span.parent_span_id),
                        name: span.name,
                        service: service.clone(),
                        region: region.clone(),
                        start_unix_nanos: span.start_time_unix_nano,
                        duration_nanos: span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano),
                    });
                }
            }
        }
        self.store.add(received);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Receives OTLP/gRPC spans on `listener` into `store` until `shutdown`.
pub async fn receive(listener: TcpListener, store: SpanStore, shutdown: CancellationToken) {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    let result = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(Receiver { store }))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown.cancelled_owned())
        .await;
    if let Err(err) = result {
        tracing::error!(error = %err, ?addr, "the console's OTLP receiver stopped");
    }
}
