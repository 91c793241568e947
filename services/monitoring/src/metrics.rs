//! Prometheus metrics of the indicators and of the service itself.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use jigi_server::Metrics;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::app::Monitoring;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RegionLabel {
    pub region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ComponentLabels {
    pub region: String,
    pub component: String,
}

/// The monitoring's own metrics, registered in the service's registry.
#[derive(Clone)]
pub struct MonitoringMetrics {
    events: Family<RegionLabel, Counter>,
    lag: Family<RegionLabel, Histogram>,
    pub households_registered: Family<RegionLabel, Gauge>,
    pub households_enrolled: Family<ComponentLabels, Gauge>,
    pub amount_paid_fcfa: Family<RegionLabel, Gauge>,
    pub flour_distributed_grams: Family<RegionLabel, Gauge>,
    pub seconds_since_last_event: Family<RegionLabel, Gauge>,
    pub region_stream_sequence: Family<RegionLabel, Gauge>,
}

impl MonitoringMetrics {
    pub fn register(metrics: &Metrics) -> MonitoringMetrics {
        let this = MonitoringMetrics {
            events: Family::default(),
            lag: Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.001, 2.0, 20))),
            households_registered: Family::default(),
            households_enrolled: Family::default(),
            amount_paid_fcfa: Family::default(),
            flour_distributed_grams: Family::default(),
            seconds_since_last_event: Family::default(),
            region_stream_sequence: Family::default(),
        };
        metrics.register(
            "events_handled",
            "Events counted into the indicators, by region",
            this.events.clone(),
        );
        metrics.register(
            "event_lag_seconds",
            "Delay from an event's time to the commit that makes its effect on the indicators visible, by region",
            this.lag.clone(),
        );
        metrics.register(
            "households_registered",
            "Households in the registry (all time)",
            this.households_registered.clone(),
        );
        metrics.register(
            "households_enrolled",
            "Households enrolled today, per component",
            this.households_enrolled.clone(),
        );
        metrics.register(
            "amount_paid_fcfa",
            "Cash transfers paid this year, FCFA",
            this.amount_paid_fcfa.clone(),
        );
        metrics.register(
            "flour_distributed_grams",
            "Enriched flour distributed this year, grams",
            this.flour_distributed_grams.clone(),
        );
        metrics.register(
            "seconds_since_last_event",
            "Seconds since the region's last event arrived (a silent region grows)",
            this.seconds_since_last_event.clone(),
        );
        metrics.register(
            "region_stream_sequence",
            "Position in the national stream of the region's newest event applied to the indicators",
            this.region_stream_sequence.clone(),
        );
        this
    }

    /// Gauges read from the national consumer at each scrape: how far into
    /// the national stream the indicators go, and how many events wait.
    pub fn watch_consumer(metrics: &Metrics, stats: std::sync::Arc<jigi_bus::inbox::ConsumerStats>) {
        let applied = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        let waiting = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        metrics.register(
            "applied_stream_sequence",
            "Position in the national stream up to which events are applied to the indicators",
            applied.clone(),
        );
        metrics.register(
            "events_waiting",
            "Events of the national stream not yet applied, as of the last batch (0: caught up)",
            waiting.clone(),
        );
        metrics.on_render(move || {
            applied.set(stats.applied_sequence() as i64);
            waiting.set(stats.pending() as i64);
        });
    }

    /// Events of `region` whose facts a commit made visible, with the lag
    /// of each (seconds from the event's time to that commit).
    pub fn events_committed(&self, region: &str, lags_seconds: &[f64]) {
        let label = RegionLabel {
            region: region.to_owned(),
        };
        self.events.get_or_create(&label).inc_by(lags_seconds.len() as u64);
        let histogram = self.lag.get_or_create(&label);
        for lag in lags_seconds {
            histogram.observe(*lag);
        }
    }
}

/// Recomputes the indicator gauges now and then (computing them at every
/// event would cost more than the events themselves).
pub async fn refresh_gauges(
    monitoring: Monitoring,
    metrics: MonitoringMetrics,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let (regions, freshness) = match monitoring.gauges().await {
            Ok(figures) => figures,
            Err(err) => {
                tracing::warn!(error = %err, "cannot refresh the indicator gauges");
                continue;
            }
        };
        for (region, indicators) in regions {
            let label = RegionLabel { region: region.clone() };
            metrics
                .households_registered
                .get_or_create(&label)
                .set(indicators.households_registered);
            metrics
                .amount_paid_fcfa
                .get_or_create(&label)
                .set(indicators.amount_paid);
            metrics
                .flour_distributed_grams
                .get_or_create(&label)
                .set(indicators.flour_distributed_grams);
            for (component, count) in &indicators.enrolled {
                let labels = ComponentLabels {
                    region: region.clone(),
                    component: component.code().to_owned(),
                };
                metrics.households_enrolled.get_or_create(&labels).set(*count);
            }
        }
        let now = chrono::Utc::now();
        for region in freshness {
            let label = RegionLabel {
                region: region.region.slug().to_owned(),
            };
            if let Some(at) = region.last_received_at {
                metrics
                    .seconds_since_last_event
                    .get_or_create(&label)
                    .set((now - at).num_seconds());
            }
            metrics
                .region_stream_sequence
                .get_or_create(&label)
                .set(region.stream_sequence as i64);
        }
    }
}
