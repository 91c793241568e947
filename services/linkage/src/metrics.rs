//! The index's own metrics.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use jigi_server::Metrics;

/// Counters of the index, registered in the service's registry.
#[derive(Clone)]
pub struct LinkageMetrics {
    /// Match-key messages indexed.
    pub households_indexed: Counter,
    /// Suspected duplicates opened.
    pub duplicates_suspected: Counter,
    /// Possible double payments found (both households paid for a quarter).
    pub double_payments: Counter,
    /// Moves between regions recorded (each relayed to its destination once known).
    pub transfers: Counter,
    /// Seconds from a household's keys being written in its region to the
    /// commit that indexed them (and opened any suspicion).
    pub index_lag: Histogram,
}

impl LinkageMetrics {
    pub fn register(metrics: &Metrics) -> LinkageMetrics {
        let this = LinkageMetrics {
            households_indexed: Counter::default(),
            duplicates_suspected: Counter::default(),
            double_payments: Counter::default(),
            transfers: Counter::default(),
            index_lag: Histogram::new(exponential_buckets(0.001, 2.0, 20)),
        };
        metrics.register(
            "linkage_possible_double_payments",
            "Quarters in which both households of a suspected duplicate were paid",
            this.double_payments.clone(),
        );
        metrics.register(
            "linkage_transfers",
            "Moves between regions recorded from the origins' registries",
            this.transfers.clone(),
        );
        metrics.register(
            "linkage_households_indexed",
            "Match-key messages indexed (one per household change)",
            this.households_indexed.clone(),
        );
        metrics.register(
            "linkage_duplicates_suspected",
            "Suspected duplicates opened",
            this.duplicates_suspected.clone(),
        );
        metrics.register(
            "linkage_index_lag_seconds",
            "Delay from a household's match keys being written in its region to the commit that indexed them",
            this.index_lag.clone(),
        );
        this
    }

    /// Metrics nobody scrapes (tests and benchmarks building the index alone).
    pub fn unregistered() -> LinkageMetrics {
        LinkageMetrics {
            households_indexed: Counter::default(),
            duplicates_suspected: Counter::default(),
            double_payments: Counter::default(),
            transfers: Counter::default(),
            index_lag: Histogram::new(exponential_buckets(0.001, 2.0, 20)),
        }
    }
}
