//! The national stream as it flows: an ordered consumer from the newest
//! event on, each event's envelope (never its payload: the live feed shows
//! what happened where, not to whom) handed to the browsers following the
//! feed and kept among the recent events the trace search looks through.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::DeliverPolicy, consumer::pull};
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use jigi_bus::envelope::ReceivedEvent;
use jigi_bus::subject;
use jigi_common::Region;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::metrics::ConsoleMetrics;

/// Recent events kept for the trace search.
pub const RECENT_EVENTS: usize = 20_000;

/// An event as the console shows it: the envelope, no payload.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    pub id: String,
    /// Region slug, from the subject.
    pub region: String,
    /// `ce-type`, e.g. `ml.jigi.registry.household.registered.v1`.
    pub kind: String,
    /// `ce-subject`: the household, cycle or round the event is about.
    pub about: String,
    pub time: DateTime<Utc>,
    /// The trace of the action that caused it.
    pub trace_id: Option<String>,
    /// Position in the national stream.
    pub sequence: u64,
}

impl LiveEvent {
    fn from_received(event: &ReceivedEvent) -> LiveEvent {
        LiveEvent {
            id: event.id.clone(),
            region: event.region().map(|r| r.slug().to_owned()).unwrap_or_default(),
            kind: event.ce_type.clone(),
            about: event.about.clone(),
            time: event.time,
            trace_id: event.trace.trace_id(),
            sequence: event.stream_sequence.unwrap_or(0),
        }
    }

    /// The event as the live feed sends it to browsers.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "id": self.id,
            "region": self.region,
            "kind": self.kind,
            "about": self.about,
            "time": jigi_bus::envelope::format_time(self.time),
            "trace_id": self.trace_id,
            "sequence": self.sequence,
        })
        .to_string()
    }

    /// The region, when the subject names one.
    pub fn region(&self) -> Option<Region> {
        self.region.parse().ok()
    }
}

/// Counters of the live feed.
#[derive(Debug, Default)]
pub struct LiveStats {
    /// Events received from the national stream.
    pub received: AtomicU64,
    /// Times the consumer was (re)created.
    pub subscriptions: AtomicU64,
}

/// The feed: a broadcast to the browsers and the recent events.
#[derive(Clone)]
pub struct LiveFeed {
    sender: broadcast::Sender<Arc<LiveEvent>>,
    recent: Arc<Mutex<VecDeque<Arc<LiveEvent>>>>,
    capacity: usize,
    stats: Arc<LiveStats>,
}

impl LiveFeed {
    pub fn new(capacity: usize) -> LiveFeed {
        let (sender, _) = broadcast::channel(1024);
        LiveFeed {
            sender,
            recent: Arc::default(),
            capacity,
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> Arc<LiveStats> {
        self.stats.clone()
    }

    /// Events from now on (a slow browser misses some rather than holding the feed up).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.sender.subscribe()
    }

    fn push(&self, event: LiveEvent) {
        let event = Arc::new(event);
        {
            let mut recent = self.recent.lock().expect("recent events lock");
            if recent.len() == self.capacity {
                recent.pop_front();
            }
            recent.push_back(event.clone());
        }
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        // No browser following: nothing to do.
        let _ = self.sender.send(event);
    }

    /// The recent events about `id` (a household, cycle or round ID),
    /// newest first, at most `limit`.
    pub fn about(&self, id: &str, limit: usize) -> Vec<Arc<LiveEvent>> {
        let recent = self.recent.lock().expect("recent events lock");
        recent
            .iter()
            .rev()
            .filter(|e| e.about == id)
            .take(limit)
            .cloned()
            .collect()
    }

    /// The newest recent events, newest first.
    pub fn latest(&self, limit: usize) -> Vec<Arc<LiveEvent>> {
        let recent = self.recent.lock().expect("recent events lock");
        recent.iter().rev().take(limit).cloned().collect()
    }
}

/// Follows the national stream from its newest event until `shutdown`,
/// starting again (from the newest event) whenever the stream is missing
/// or the consumer fails.
pub async fn follow(js: jetstream::Context, feed: LiveFeed, metrics: ConsoleMetrics, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            result = follow_once(&js, &feed, &metrics) => {
                if let Err(err) = result {
                    tracing::debug!(error = %err, "the live feed waits for the national stream");
                }
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn follow_once(js: &jetstream::Context, feed: &LiveFeed, metrics: &ConsoleMetrics) -> Result<(), String> {
    let stream = js
        .get_stream(subject::NATIONAL_STREAM)
        .await
        .map_err(|err| err.to_string())?;
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy: DeliverPolicy::New,
            ..Default::default()
        })
        .await
        .map_err(|err| err.to_string())?;
    let mut messages = consumer.messages().await.map_err(|err| err.to_string())?;
    feed.stats.subscriptions.fetch_add(1, Ordering::Relaxed);
    while let Some(message) = messages.next().await {
        let message = message.map_err(|err| err.to_string())?;
        match ReceivedEvent::from_jetstream(&message) {
            Ok(event) => {
                metrics.live_event();
                feed.push(LiveEvent::from_received(&event));
            }
            Err(err) => tracing::debug!(error = %err, "not a Jigi event: left out of the live feed"),
        }
    }
    Err("the national stream's consumer ended".into())
}
