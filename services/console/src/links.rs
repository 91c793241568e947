//! The regions' links, read from JetStream every second: the national
//! stream's sources (one per region: when the hub last heard from the
//! region's leaf node, and how many of the region's events it has not
//! copied yet) and the monitoring's consumer (events not yet applied).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream;
use chrono::{DateTime, Utc};
use jigi_bus::subject;
use jigi_common::Region;
use tokio_util::sync::CancellationToken;

use crate::domain::{LinkState, LinkStatus};
use crate::metrics::ConsoleMetrics;

/// What the last reading said.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub links: Vec<LinkState>,
    /// Events of the national stream the monitoring has not applied yet.
    pub monitoring_waiting: Option<u64>,
    /// When JetStream last answered.
    pub read_at: Option<DateTime<Utc>>,
    /// Why the last reading failed, if it did.
    pub error: Option<String>,
}

/// The latest reading, shared with the pages.
#[derive(Clone)]
pub struct LinkBoard {
    snapshot: Arc<RwLock<Snapshot>>,
    regions: Arc<Vec<Region>>,
    down_after: Duration,
}

impl LinkBoard {
    pub fn new(regions: &[Region], down_after: Duration) -> LinkBoard {
        let links = regions
            .iter()
            .map(|region| LinkState {
                region: *region,
                status: LinkStatus::Unknown,
                last_contact: None,
                waiting: 0,
            })
            .collect();
        LinkBoard {
            snapshot: Arc::new(RwLock::new(Snapshot {
                links,
                monitoring_waiting: None,
                read_at: None,
                error: None,
            })),
            regions: Arc::new(regions.to_vec()),
            down_after,
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.read().expect("link board lock").clone()
    }

    /// Reads the national stream's info once.
    async fn read(&self, js: &jetstream::Context) -> Result<Snapshot, String> {
        let stream = js
            .get_stream(subject::NATIONAL_STREAM)
            .await
            .map_err(|err| format!("the national stream: {err}"))?;
        let info = stream.cached_info();
        let links = self
            .regions
            .iter()
            .map(|region| {
                let name = subject::region_stream(*region);
                match info.sources.iter().find(|source| source.name == name) {
                    Some(source) => LinkState {
                        region: *region,
                        status: LinkStatus::of(source.active, self.down_after),
                        last_contact: source.active,
                        waiting: source.lag,
                    },
                    None => LinkState {
                        region: *region,
                        status: LinkStatus::Unknown,
                        last_contact: None,
                        waiting: 0,
                    },
                }
            })
            .collect();
        let monitoring_waiting = monitoring_pending(&stream).await;
        Ok(Snapshot {
            links,
            monitoring_waiting,
            read_at: Some(Utc::now()),
            error: None,
        })
    }
}

/// The monitoring's durable consumer on the national stream: its inbox
/// names it `monitoring_<suffix>`, the suffix chosen with its database.
const MONITORING_CONSUMER: &str = "monitoring_";

/// Events the monitoring has not applied yet: the pending count of its
/// newest durable consumer (an older one is left by a rebuilt database).
async fn monitoring_pending(stream: &jetstream::stream::Stream) -> Option<u64> {
    use futures::StreamExt as _;
    let mut consumers = stream.consumers();
    let mut newest: Option<jetstream::consumer::Info> = None;
    while let Some(info) = consumers.next().await {
        let Ok(info) = info else { return None };
        if info.name.starts_with(MONITORING_CONSUMER) && newest.as_ref().is_none_or(|n| info.created > n.created) {
            newest = Some(info);
        }
    }
    newest.map(|info| info.num_pending)
}

/// Reads the links every `every` until `shutdown`, publishing each reading
/// to the board and the metrics. A failed reading keeps the last links but
/// marks every one unknown, so a console that lost the hub never shows
/// stale green.
pub async fn watch(
    js: jetstream::Context,
    board: LinkBoard,
    metrics: ConsoleMetrics,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let reading = tokio::time::timeout(every.max(Duration::from_secs(2)), board.read(&js))
            .await
            .unwrap_or_else(|_| Err("JetStream did not answer in time".to_owned()));
        let snapshot = match reading {
            Ok(snapshot) => snapshot,
            Err(error) => {
                let mut last = board.snapshot();
                for link in &mut last.links {
                    link.status = LinkStatus::Unknown;
                }
                last.error = Some(error);
                last
            }
        };
        for link in &snapshot.links {
            metrics.link(
                link.region.slug(),
                link.status == LinkStatus::Up,
                link.last_contact.map(|age| age.as_secs_f64()),
                link.waiting,
            );
        }
        if let Some(pending) = snapshot.monitoring_waiting {
            metrics.monitoring_waiting(pending);
        }
        *board.snapshot.write().expect("link board lock") = snapshot;
    }
}
