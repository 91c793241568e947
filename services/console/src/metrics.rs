//! The console's own metrics, beside `/healthz` and `/readyz`: each
//! region's link as the national stream sees it (what the alert rules in
//! `deploy/observability/` watch), the live feed, pages served and sign-ins.

use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RegionLabels {
    pub region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PageLabels {
    /// `glance`, `region`, `budget`, `links`, `cycles`, `rounds`, `live`, `traces`, `signin`.
    pub page: String,
    /// HTTP status code.
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `accepted`, `refused`.
    pub outcome: String,
}

/// The console's metrics, registered under `jigi_console_`.
#[derive(Clone, Default)]
pub struct ConsoleMetrics {
    link_up: Family<RegionLabels, Gauge<i64, AtomicI64>>,
    last_contact: Family<RegionLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    waiting: Family<RegionLabels, Gauge<i64, AtomicI64>>,
    monitoring_waiting: Gauge<i64, AtomicI64>,
    live_events: Counter,
    live_clients: Gauge<i64, AtomicI64>,
    pages: Family<PageLabels, Counter>,
    sign_ins: Family<OutcomeLabels, Counter>,
}

impl ConsoleMetrics {
    pub fn register(metrics: &jigi_server::Metrics) -> ConsoleMetrics {
        let m = ConsoleMetrics::default();
        metrics.register(
            "region_link_up",
            "1 while the national stream hears from the region's leaf node, 0 when its link is cut",
            m.link_up.clone(),
        );
        metrics.register(
            "region_last_contact_seconds",
            "Seconds since the national stream last heard from the region's leaf node",
            m.last_contact.clone(),
        );
        metrics.register(
            "region_events_waiting",
            "Events in the region's stream not yet copied to the national stream",
            m.waiting.clone(),
        );
        metrics.register(
            "monitoring_events_waiting",
            "Events of the national stream the monitoring has not yet applied (its consumer's pending count)",
            m.monitoring_waiting.clone(),
        );
        metrics.register(
            "live_events",
            "Events of the national stream the live feed received",
            m.live_events.clone(),
        );
        metrics.register(
            "live_clients",
            "Browsers following the live feed now",
            m.live_clients.clone(),
        );
        metrics.register("pages", "Pages served, by page and status code", m.pages.clone());
        metrics.register("sign_ins", "Sign-in attempts, by outcome", m.sign_ins.clone());
        m
    }

    pub fn link(&self, region: &str, up: bool, last_contact_seconds: Option<f64>, waiting: u64) {
        let labels = RegionLabels {
            region: region.to_owned(),
        };
        self.link_up.get_or_create(&labels).set(i64::from(up));
        // Never heard: shown as a very old contact, so a "silent for more
        // than N seconds" alert fires for it too.
        self.last_contact
            .get_or_create(&labels)
            .set(last_contact_seconds.unwrap_or(f64::from(u32::MAX)));
        self.waiting.get_or_create(&labels).set(waiting as i64);
    }

    pub fn monitoring_waiting(&self, pending: u64) {
        self.monitoring_waiting.set(pending as i64);
    }

    pub fn live_event(&self) {
        self.live_events.inc();
    }

    /// One more browser on the live feed, until the guard is dropped.
    pub fn live_client(&self) -> LiveClientGuard {
        self.live_clients.inc();
        LiveClientGuard(self.live_clients.clone())
    }

    pub fn page(&self, page: &str, code: u16) {
        self.pages
            .get_or_create(&PageLabels {
                page: page.to_owned(),
                code: code.to_string(),
            })
            .inc();
    }

    pub fn sign_in(&self, accepted: bool) {
        let outcome = if accepted { "accepted" } else { "refused" };
        self.sign_ins
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }
}

/// Counts a live-feed client while it lives.
pub struct LiveClientGuard(Gauge<i64, AtomicI64>);

impl Drop for LiveClientGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
