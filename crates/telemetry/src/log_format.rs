//! A log line format that ends with the trace and span IDs of the line.

use std::fmt;

use opentelemetry::trace::TraceContextExt;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The standard `tracing_subscriber` line, then `trace_id=… span_id=…` when
/// the event happens inside a trace.
#[derive(Default)]
pub(crate) struct WithTraceIds {
    inner: Format,
    /// Written first, when several services share a process's stderr.
    label: Option<String>,
}

impl WithTraceIds {
    pub(crate) fn labelled(label: String) -> WithTraceIds {
        WithTraceIds {
            inner: Format::default(),
            label: Some(label),
        }
    }
}

impl<S, N> FormatEvent<S, N> for WithTraceIds
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut line = String::new();
        if let Some(label) = &self.label {
            line.push('[');
            line.push_str(label);
            line.push_str("] ");
        }
        self.inner.format_event(ctx, Writer::new(&mut line), event)?;
        let line = line.trim_end_matches('\n');
        // The OpenTelemetry layer activates a span's context while the span
        // is entered, so the current context is the event's span.
        let context = opentelemetry::Context::current();
        let span = context.span();
        let ids = span.span_context();
        if ids.is_valid() {
            writeln!(writer, "{line} trace_id={} span_id={}", ids.trace_id(), ids.span_id())
        } else {
            writeln!(writer, "{line}")
        }
    }
}
