//! The nutrition service's own metrics, served at `/metrics` beside what the
//! host measures of every service (requests, the write path, the outbox).

use prometheus_client::metrics::counter::Counter;

/// Counters of what the service did, served at `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub distributions_recorded: Counter,
    pub distributions_refused: Counter,
    pub stock_movements: Counter,
}

impl Counters {
    pub fn register(&self, metrics: &jigi_server::Metrics) {
        metrics.register(
            "distributions_recorded",
            "Rations recorded as given",
            self.distributions_recorded.clone(),
        );
        metrics.register(
            "distributions_refused",
            "Distribution lines refused (not eligible, already received, no stock, ...)",
            self.distributions_refused.clone(),
        );
        metrics.register(
            "stock_movements",
            "Stock movements recorded (receipts, transfers, losses, distributions)",
            self.stock_movements.clone(),
        );
    }
}
