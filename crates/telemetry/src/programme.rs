//! The programme's own span attributes, so an operator can find the trace
//! of a household's enrolment, of a cycle or of a round in the trace
//! backend: `jigi.region`, `jigi.household_id`, `jigi.cycle_id`,
//! `jigi.round_id`. Registry IDs only, never a name or an ID-card number.
//!
//! Server spans (gRPC) and processing spans (events) declare these fields;
//! a handler records the IDs it works on into the current span.

/// Records the household a call or an event is about.
pub fn record_household(household_id: &str) {
    tracing::Span::current().record("jigi.household_id", household_id);
}

/// Records the payment cycle a call or an event is about.
pub fn record_cycle(cycle_id: &str) {
    tracing::Span::current().record("jigi.cycle_id", cycle_id);
}

/// Records the distribution round a call or an event is about.
pub fn record_round(round_id: &str) {
    tracing::Span::current().record("jigi.round_id", round_id);
}
