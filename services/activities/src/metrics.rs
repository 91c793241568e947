//! The activities service's own metrics, served at `/metrics` beside what
//! the host measures of every service (requests, the write path, the outbox).

use prometheus_client::metrics::counter::Counter;

/// Counters of what the service did, served at `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub sessions_recorded: Counter,
    pub attendance_days: Counter,
    pub tranches_released: Counter,
    pub refusals: Counter,
}

impl Counters {
    pub fn register(&self, metrics: &jigi_server::Metrics) {
        metrics.register(
            "ma_sessions_recorded",
            "MA sessions recorded",
            self.sessions_recorded.clone(),
        );
        metrics.register(
            "himo_attendance_days",
            "HIMO person-days recorded",
            self.attendance_days.clone(),
        );
        metrics.register(
            "agr_tranches_released",
            "AGR grant tranches released",
            self.tranches_released.clone(),
        );
        metrics.register(
            "activities_refusals",
            "Commands refused by a programme rule (closed site, wage cap, missing follow-up visit, ...)",
            self.refusals.clone(),
        );
    }
}
