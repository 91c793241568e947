//! The payments service's own counters, beside the RPC metrics every
//! service has: results recorded by outcome, and cycle steps.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// Labels of the result counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `paid`, `failed`, `not_collected`, or `refused`.
    pub outcome: String,
}

/// Labels of the cycle step counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabels {
    /// `opened`, `frozen`, `approved`, `closed`, `cancelled`.
    pub step: String,
}

/// Counters, registered in the service's metrics registry.
#[derive(Clone, Default)]
pub struct PaymentMetrics {
    results: Family<OutcomeLabels, Counter>,
    steps: Family<StepLabels, Counter>,
}

impl PaymentMetrics {
    /// Counters registered in `metrics` (or unregistered, for tests and benchmarks).
    pub fn new(metrics: Option<&jigi_server::Metrics>) -> PaymentMetrics {
        let counters = PaymentMetrics::default();
        if let Some(metrics) = metrics {
            metrics.register(
                "payment_results",
                "Disbursement results recorded, by outcome (refused: not recorded)",
                counters.results.clone(),
            );
            metrics.register(
                "payment_cycle_steps",
                "Payment cycle steps taken, by step",
                counters.steps.clone(),
            );
        }
        counters
    }

    pub fn results(&self, outcome: &str, count: u64) {
        if count > 0 {
            self.results
                .get_or_create(&OutcomeLabels {
                    outcome: outcome.to_owned(),
                })
                .inc_by(count);
        }
    }

    pub fn step(&self, step: &str) {
        self.steps.get_or_create(&StepLabels { step: step.to_owned() }).inc();
    }
}
