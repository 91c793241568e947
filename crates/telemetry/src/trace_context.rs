//! W3C trace context as plain strings, for carriers that are not HTTP:
//! NATS message headers and the outbox table.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The `traceparent` and `tracestate` of a span, as W3C Trace Context writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext {
    /// `00-<trace id>-<span id>-<flags>`; `None` outside any trace.
    pub traceparent: Option<String>,
    /// Vendor-specific state; `None` when empty.
    pub tracestate: Option<String>,
}

impl TraceContext {
    /// The context of the current `tracing` span.
    pub fn current() -> TraceContext {
        TraceContext::of(&tracing::Span::current())
    }

    /// The context of `span`.
    pub fn of(span: &tracing::Span) -> TraceContext {
        let mut carrier = TraceContext::default();
        TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
        carrier
    }

    /// Reads the context from a header lookup (any case of header name the
    /// carrier uses is the carrier's business).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> TraceContext {
        TraceContext {
            traceparent: get("traceparent").filter(|v| !v.is_empty()),
            tracestate: get("tracestate").filter(|v| !v.is_empty()),
        }
    }

    /// The OpenTelemetry context to use as a parent. A missing or malformed
    /// `traceparent` gives an empty context, so the receiver starts a new
    /// trace instead of failing or joining a wrong one.
    pub fn to_parent(&self) -> opentelemetry::Context {
        TraceContextPropagator::new().extract(self)
    }

    /// The trace ID (32 hex digits), if this context belongs to a trace.
    pub fn trace_id(&self) -> Option<String> {
        let parent = self.to_parent();
        let span = parent.span();
        let context = span.span_context();
        context.is_valid().then(|| context.trace_id().to_string())
    }

    /// Makes `span` a child of this context (no-op when the context is empty).
    pub fn set_as_parent_of(&self, span: &tracing::Span) {
        if self.traceparent.is_some() {
            // Fails only if the span was already started, which callers avoid
            // by setting the parent right after creating the span.
            let _ = span.set_parent(self.to_parent());
        }
    }
}

impl Injector for TraceContext {
    fn set(&mut self, key: &str, value: String) {
        match key {
            "traceparent" => self.traceparent = Some(value),
            "tracestate" if !value.is_empty() => self.tracestate = Some(value),
            _ => {}
        }
    }
}

impl Extractor for TraceContext {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => self.traceparent.as_deref(),
            "tracestate" => self.tracestate.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

/// The trace ID of the current span, for printing to people (CLI, logs).
pub fn current_trace_id() -> Option<String> {
    TraceContext::current().trace_id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_or_missing_parents_start_a_new_trace() {
        for traceparent in [
            None,
            Some("garbage"),
            Some("00-00000000000000000000000000000000-0000000000000000-01"),
        ] {
            let context = TraceContext {
                traceparent: traceparent.map(str::to_owned),
                tracestate: None,
            };
            assert_eq!(context.trace_id(), None, "{traceparent:?}");
        }
    }

    #[test]
    fn a_valid_parent_gives_its_trace_id() {
        let context = TraceContext {
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            tracestate: Some("vendor=1".into()),
        };
        assert_eq!(context.trace_id().as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
    }

    #[test]
    fn a_span_continues_the_trace_of_its_remote_parent() {
        crate::init_for_tests();
        let parent = TraceContext {
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            tracestate: None,
        };
        let span = tracing::info_span!("child");
        parent.set_as_parent_of(&span);
        let child = TraceContext::of(&span);
        assert_eq!(child.trace_id(), parent.trace_id());
        assert_ne!(child.traceparent, parent.traceparent, "the child has its own span ID");
        // Without a parent, a span starts a trace of its own.
        let root = TraceContext::of(&tracing::info_span!("root"));
        assert!(root.trace_id().is_some());
        assert_ne!(root.trace_id(), parent.trace_id());
    }
}
