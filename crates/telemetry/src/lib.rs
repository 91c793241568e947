//! Telemetry shared by every Jigi service: one call to [`init`] at start gives
//!
//! - `tracing` logs on stderr, each line ending with the `trace_id` and
//!   `span_id` it belongs to, so a log line leads to its trace;
//! - OpenTelemetry spans for every `tracing` span, exported over OTLP/gRPC
//!   when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (sampling through the standard
//!   `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` variables);
//! - trace context that crosses process boundaries in W3C `traceparent` /
//!   `tracestate` form: [`grpc`] carries it in gRPC metadata (a tower layer for
//!   servers, an interceptor for clients), [`TraceContext`] carries it anywhere
//!   else (NATS headers, the outbox table).
//!
//! Spans are created even when nothing is exported, so trace IDs reach logs
//! and events in every deployment.

pub mod grpc;
mod init;
mod log_format;
pub mod programme;
mod trace_context;

pub use init::{ServiceTelemetry, TelemetryConfig, TelemetryError, TelemetryGuard, for_service, init, init_for_tests};
pub use trace_context::{TraceContext, current_trace_id};
