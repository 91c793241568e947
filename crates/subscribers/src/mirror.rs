//! The JSON mirror: every event of the national stream, republished as a
//! structured-mode CloudEvent ([`crate::json`]) to the stream `JIGI_JSON`.
//!
//! It reads the national stream with a durable pull consumer and, for each
//! batch, publishes every event's JSON rendering (pipelined), waits for
//! JetStream's ack of each publish, and only then acks the event it came
//! from. The JSON message's `Nats-Msg-Id` is the event's `ce-id`, so an
//! event redelivered after a crash (published, not yet acked) is dropped by
//! `JIGI_JSON`'s duplicate window: the JSON stream holds each event once.
//! The JSON stream keeps the national stream's order, except that an event
//! whose publish failed comes after those published while it waited.
//!
//! The national monitoring runs it (`JIGI_JSON_MIRROR`, on by default).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::pull, stream};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::json::{self, JsonRenderer};
use jigi_bus::envelope::ReceivedEvent;
use jigi_bus::streams;

/// The mirror's durable consumer on the national stream.
pub const DURABLE: &str = "jigi-json-mirror";

/// Where the mirror reads and how.
#[derive(Debug, Clone)]
pub struct MirrorSettings {
    /// The stream it reads (the national stream), set up idempotently with
    /// this configuration.
    pub source: stream::Config,
    /// The JSON stream it writes ([`json::stream_config`]; on a clustered
    /// hub, give it the national stream's replicas).
    pub target: stream::Config,
    /// Its durable consumer's name.
    pub durable: String,
    /// Most events published before their acks are awaited.
    pub batch: usize,
    /// How long the server waits for an ack before redelivering.
    pub ack_wait: Duration,
}

impl MirrorSettings {
    pub fn new(source: stream::Config) -> MirrorSettings {
        MirrorSettings {
            source,
            target: json::stream_config(),
            durable: DURABLE.to_owned(),
            batch: 256,
            ack_wait: Duration::from_secs(30),
        }
    }
}

/// Counters of a running mirror (for metrics and for tests that wait).
#[derive(Debug, Default)]
pub struct MirrorStats {
    /// Events published to the JSON stream (and acked on the national one).
    pub published: AtomicU64,
    /// Of those, publishes JetStream dropped as duplicates: events
    /// redelivered after an earlier publish whose ack was lost.
    pub duplicates: AtomicU64,
    /// Of those, events passed on as `data_base64` (not rendered).
    pub raw: AtomicU64,
    /// Messages that are not Jigi events, terminated (never redelivered).
    pub dropped: AtomicU64,
}

impl MirrorStats {
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }
    pub fn raw(&self) -> u64 {
        self.raw.load(Ordering::Relaxed)
    }
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Why the mirror stopped for a while; it logs and resumes.
#[derive(Debug, thiserror::Error)]
enum MirrorError {
    #[error(transparent)]
    Stream(#[from] streams::StreamSetupError),
    #[error("consumer: {0}")]
    Consumer(String),
    #[error("publish to {subject}: {reason}")]
    Publish { subject: String, reason: String },
}

/// The mirror of the national stream into `JIGI_JSON`.
pub struct JsonMirror {
    jetstream: jetstream::Context,
    settings: MirrorSettings,
    renderer: &'static JsonRenderer,
    stats: Arc<MirrorStats>,
}

impl JsonMirror {
    pub fn new(jetstream: jetstream::Context, settings: MirrorSettings) -> JsonMirror {
        JsonMirror {
            jetstream,
            settings,
            renderer: JsonRenderer::shared(),
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> Arc<MirrorStats> {
        self.stats.clone()
    }

    /// Mirrors until `shutdown` is cancelled, resuming after any failure.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let outcome = tokio::select! {
                outcome = self.mirror() => outcome,
                () = shutdown.cancelled() => return,
            };
            if let Err(err) = outcome {
                tracing::warn!(error = %err, "JSON mirror interrupted; will resume");
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = shutdown.cancelled() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// Sets up both streams and the consumer, then mirrors batches until an error.
    async fn mirror(&self) -> Result<(), MirrorError> {
        streams::ensure(&self.jetstream, self.settings.source.clone()).await?;
        streams::ensure(&self.jetstream, self.settings.target.clone()).await?;
        let consumer_error = |err: &dyn std::fmt::Display| MirrorError::Consumer(err.to_string());
        let source = self
            .jetstream
            .get_stream(&self.settings.source.name)
            .await
            .map_err(|err| consumer_error(&err))?;
        let consumer: jetstream::consumer::Consumer<pull::Config> = source
            .get_or_create_consumer(
                &self.settings.durable,
                pull::Config {
                    durable_name: Some(self.settings.durable.clone()),
                    description: Some("Jigi's JSON mirror into JIGI_JSON".to_owned()),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: self.settings.ack_wait,
                    max_ack_pending: (self.settings.batch as i64 * 4).max(1_000),
                    ..Default::default()
                },
            )
            .await
            .map_err(|err| consumer_error(&err))?;
        let messages = consumer
            .stream()
            .max_messages_per_batch(self.settings.batch)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await
            .map_err(|err| consumer_error(&err))?;
        let mut batches = messages.ready_chunks(self.settings.batch);
        while let Some(items) = batches.next().await {
            let (batch, stream_error) = streams::split_delivery(items);
            self.mirror_batch(batch).await?;
            if let Some(err) = stream_error {
                return Err(MirrorError::Consumer(err));
            }
        }
        Err(MirrorError::Consumer("message stream ended".into()))
    }

    /// Publishes a batch's renderings, then acks each event whose publish
    /// JetStream acknowledged.
    async fn mirror_batch(&self, messages: Vec<jetstream::Message>) -> Result<(), MirrorError> {
        let mut pending = Vec::with_capacity(messages.len());
        for message in &messages {
            let rendered = ReceivedEvent::from_jetstream(message)
                .map_err(|err| err.to_string())
                .and_then(|event| self.renderer.render(&event).map_err(|err| err.to_string()));
            let event = match rendered {
                Ok(event) => event,
                Err(reason) => {
                    tracing::warn!(subject = %message.subject, %reason, "not a Jigi event: not mirrored");
                    let _ = message.ack_with(AckKind::Term).await;
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            if let Some(reason) = &event.raw_reason {
                tracing::warn!(event_id = %event.id, %reason, "event mirrored as data_base64");
                self.stats.raw.fetch_add(1, Ordering::Relaxed);
            }
            let publish = self
                .jetstream
                .publish_with_headers(event.subject.clone(), event.headers(), event.body().into())
                .await;
            pending.push((message, event.subject, publish));
        }
        let mut failure = None;
        for (message, subject, publish) in pending {
            if failure.is_some() {
                // Not acked: redelivered at once, and republished.
                let _ = message.ack_with(AckKind::Nak(None)).await;
                continue;
            }
            let acked = match publish {
                Ok(ack) => ack.await.map_err(|err| err.to_string()),
                Err(err) => Err(err.to_string()),
            };
            match acked {
                Ok(ack) => {
                    if ack.duplicate {
                        self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
                    }
                    self.stats.published.fetch_add(1, Ordering::Relaxed);
                    // A lost ack only causes a redelivery, which JIGI_JSON drops.
                    if let Err(err) = message.ack().await {
                        tracing::debug!(error = %err, "ack not sent; the event will be republished and dropped");
                    }
                }
                Err(reason) => {
                    let _ = message.ack_with(AckKind::Nak(None)).await;
                    failure = Some(MirrorError::Publish { subject, reason });
                }
            }
        }
        failure.map_or(Ok(()), Err)
    }
}
