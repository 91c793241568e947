//! The idempotent inbox: a durable pull consumer whose handler changes the
//! service's database exactly once per event, a batch at a time.
//!
//! Messages arrive in batches. Each event is first decoded and checked
//! ([`EventHandler::decode`], no I/O); then one command on the write path
//! drops the events the inbox already holds, applies the rest together
//! ([`EventHandler::apply`], which can sum a thousand payments in one commune
//! into one counter update), and records every event ID with the stream
//! position reached, all in one transaction. Only after the commit is the
//! batch acked, with one ack: the consumer acks cumulatively
//! (`AckPolicy::All`), so acking the batch's furthest message acks every
//! message before it (a thousand acks cost the server more than the
//! delivery). A crash before the commit redelivers the batch (nothing was
//! written); a crash after it redelivers events the inbox now skips.
//!
//! Batches are applied in the order they arrived, and a batch that fails
//! stops the consumer: a later batch's cumulative ack must never cover one
//! that was not applied. So does a gap in the consumer's delivery numbers
//! (a message lost on the way, say in a reconnection). The consumer is
//! then taken over from its acknowledgement floor (below) and everything
//! after it comes again.
//!
//! An event that cannot be used (a payload that does not decode, a rule it
//! breaks) is a [`Rejection`]: it is recorded as rejected with the reason
//! and the stream moves on. A storage failure rolls the whole batch back
//! and asks for redelivery.
//!
//! The durable consumer's name carries a suffix chosen when the database was
//! created, so a service started on a fresh database reads its stream from
//! the beginning and rebuilds its state, while a restarted one resumes. A
//! restarted one resumes at once: the messages its previous process held
//! unacknowledged would otherwise come back only after the ack wait, while
//! the cap on unacknowledged messages held everything else back; so at
//! start the consumer is recreated from its acknowledgement floor (events
//! between the floor and what the inbox holds are redelivered and skipped).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, stream};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use jigi_common::Region;
use jigi_storage::sql::{self, Placeholders};
use jigi_storage::{Backend, Conn, Database, Migration, StorageError, ToSql, params};
use tokio_util::sync::CancellationToken;
use tracing::field::Empty;

use crate::envelope::ReceivedEvent;
use crate::streams;

/// The inbox tables.
pub const MIGRATIONS: &[Migration] = &[
    Migration::portable(
        "inbox",
        1,
        "processed events and durable consumer names",
        "CREATE TABLE inbox_events (
            consumer TEXT NOT NULL,
            event_id TEXT NOT NULL,
            outcome TEXT NOT NULL,
            detail TEXT,
            stream_sequence BIGINT,
            processed_at TEXT NOT NULL,
            PRIMARY KEY (consumer, event_id)
        );
        CREATE TABLE inbox_consumers (
            consumer TEXT PRIMARY KEY,
            durable_name TEXT NOT NULL,
            created_at TEXT NOT NULL
        );",
    ),
    Migration::portable(
        "inbox",
        2,
        "the stream position each consumer has applied",
        "ALTER TABLE inbox_consumers ADD COLUMN applied_sequence BIGINT NOT NULL DEFAULT 0;",
    ),
    Migration {
        component: "inbox",
        version: 3,
        name: "old records found by age",
        // SQLite prunes in insertion (rowid) order, which is the order of
        // `processed_at`: no index to keep up on every record.
        sqlite: "-- pruned in rowid order, see `prune`",
        postgres: "CREATE INDEX inbox_events_processed_at ON inbox_events (processed_at);",
    },
];

/// How long an event's record is kept by default: far longer than any
/// duplicate can come after it. A duplicate is a second copy published by
/// an outbox relay that did not see its first copy acked, as long as the
/// event waits in its outbox (a service down for days, then restarted);
/// redeliveries of the same copy are also skipped by stream position.
pub const KEEP_PROCESSED: Duration = Duration::from_secs(30 * 24 * 3600);

/// How often a consumer prunes its old records, and how many at most per
/// transaction (a backlog is pruned a slice per batch applied, so the
/// writer is never held long).
const PRUNE_EVERY: Duration = Duration::from_secs(10 * 60);
const PRUNE_ROWS: u64 = 10_000;

/// Why an event is refused for good: recorded as rejected, never retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event rejected: {0}")]
pub struct Rejection(pub String);

impl From<crate::envelope::EnvelopeError> for Rejection {
    fn from(err: crate::envelope::EnvelopeError) -> Self {
        Rejection(err.to_string())
    }
}

/// Where an event came from, for a handler that needs more than its payload.
#[derive(Debug, Clone)]
pub struct EventMeta {
    /// `ce-id`.
    pub id: String,
    /// `ce-type`.
    pub ce_type: String,
    /// `ce-subject`.
    pub about: String,
    /// `ce-time`.
    pub time: DateTime<Utc>,
    /// The region of its subject.
    pub region: Option<Region>,
    /// Its position in the consumed stream.
    pub stream_sequence: Option<u64>,
}

impl EventMeta {
    fn of(event: &ReceivedEvent) -> EventMeta {
        EventMeta {
            id: event.id.clone(),
            ce_type: event.ce_type.clone(),
            about: event.about.clone(),
            time: event.time,
            region: event.region(),
            stream_sequence: event.stream_sequence,
        }
    }
}

/// A decoded event and where it came from.
#[derive(Debug, Clone)]
pub struct Decoded<E> {
    pub meta: EventMeta,
    pub effect: E,
}

/// What a consumer does with events.
pub trait EventHandler: Send + Sync + 'static {
    /// What an event means to this consumer, decoded and checked.
    type Effect: Send + 'static;

    /// Decodes and checks one event, without I/O. `Ok(None)`: an event this
    /// consumer does not use (recorded and skipped).
    fn decode(&self, event: &ReceivedEvent) -> Result<Option<Self::Effect>, Rejection>;

    /// Applies a batch's effects, in stream order, in the batch's
    /// transaction; none of them was applied before.
    fn apply(&self, conn: &mut Conn, events: &[Decoded<Self::Effect>]) -> Result<(), StorageError>;

    /// Called after a batch is committed, with every event it handled
    /// (e.g. to measure how long after the fact it became visible).
    fn committed(&self, _events: &[EventMeta]) {}
}

/// Where a consumer reads and how.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// Stream to consume; it is created (idempotently) with this configuration.
    pub stream: stream::Config,
    /// Name of the consumer, e.g. `payments-sikasso`; the durable name adds a
    /// suffix tied to the database.
    pub name: String,
    /// Only subjects matching this filter, e.g. `jigi.sikasso.registry.>`.
    pub filter_subject: Option<String>,
    /// Most messages handled in one transaction.
    pub batch: usize,
    /// How long the server waits for an ack before redelivering.
    pub ack_wait: Duration,
    /// How long the record of a processed event is kept, to skip its
    /// duplicates ([`KEEP_PROCESSED`]); older records are deleted, so the
    /// inbox holds a window of events rather than every event ever. The
    /// inbox is the database's: the shortest time its consumers keep
    /// records applies to every record (a consumer that no longer runs
    /// leaves none behind for ever).
    pub keep_processed: Duration,
}

impl ConsumerSettings {
    pub fn new(stream: stream::Config, name: impl Into<String>) -> ConsumerSettings {
        ConsumerSettings {
            stream,
            name: name.into(),
            filter_subject: None,
            batch: 1_000,
            ack_wait: Duration::from_secs(30),
            keep_processed: KEEP_PROCESSED,
        }
    }

    /// A consumer named `name` of the events one service of `region`
    /// publishes (`jigi.<region>.<service>.>`), read from the region's stream.
    pub fn service_events(region: Region, service: &str, name: impl Into<String>) -> ConsumerSettings {
        ConsumerSettings::new(streams::region_stream_config(region), name)
            .filter(crate::subject::service_wildcard(region, service))
    }

    pub fn filter(mut self, subject: impl Into<String>) -> ConsumerSettings {
        self.filter_subject = Some(subject.into());
        self
    }
}

/// Counters of a running consumer (for metrics and for tests that wait).
#[derive(Debug, Default)]
pub struct ConsumerStats {
    /// Events handled and recorded.
    pub handled: AtomicU64,
    /// Redelivered events skipped because the inbox already held them.
    pub duplicates: AtomicU64,
    /// Events recorded as rejected.
    pub rejected: AtomicU64,
    /// The highest stream position applied.
    pub applied_sequence: AtomicU64,
    /// Events the server still had for the consumer after the last batch
    /// applied: how far behind the stream it is.
    pub pending: AtomicU64,
    /// When the last batch was committed (Unix microseconds; 0: never).
    pub applied_at_micros: AtomicI64,
    /// Deliveries decoded: each time messages arrived (one or many) and
    /// were decoded together.
    pub batches: AtomicU64,
    /// Transactions that applied them (fewer when batches waiting for the
    /// writer were applied together).
    pub transactions: AtomicU64,
    /// Records of processed events deleted as older than
    /// [`ConsumerSettings::keep_processed`].
    pub pruned: AtomicU64,
}

impl ConsumerStats {
    pub fn handled(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
    /// The highest stream position applied; the counts above include every
    /// batch up to it once it is read.
    pub fn applied_sequence(&self) -> u64 {
        self.applied_sequence.load(Ordering::Acquire)
    }
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }
    pub fn transactions(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }
    pub fn pruned(&self) -> u64 {
        self.pruned.load(Ordering::Relaxed)
    }
    /// When the last batch was committed, if one was.
    pub fn applied_at(&self) -> Option<DateTime<Utc>> {
        match self.applied_at_micros.load(Ordering::Relaxed) {
            0 => None,
            micros => DateTime::from_timestamp_micros(micros),
        }
    }
}

/// A durable consumer with its inbox.
pub struct InboxConsumer<H> {
    db: Database,
    jetstream: jetstream::Context,
    settings: ConsumerSettings,
    handler: Arc<H>,
    stats: Arc<ConsumerStats>,
}

/// Why a consumer could not start or continue; it logs and retries.
#[derive(Debug, thiserror::Error)]
enum ConsumeError {
    #[error(transparent)]
    Stream(#[from] streams::StreamSetupError),
    #[error("consumer set-up: {0}")]
    Consumer(String),
    #[error("inbox storage: {0}")]
    Storage(#[from] StorageError),
}

/// One message of a batch, as the inbox sees it.
struct Item<E> {
    key: String,
    meta: Option<EventMeta>,
    outcome: Result<Option<E>, Rejection>,
}

impl<H: EventHandler> InboxConsumer<H> {
    pub fn new(
        db: Database,
        jetstream: jetstream::Context,
        settings: ConsumerSettings,
        handler: Arc<H>,
    ) -> InboxConsumer<H> {
        InboxConsumer {
            db,
            jetstream,
            settings,
            handler,
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> Arc<ConsumerStats> {
        self.stats.clone()
    }

    /// Consumes until `shutdown` is cancelled, reconnecting as needed.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let outcome = tokio::select! {
                outcome = self.consume() => outcome,
                () = shutdown.cancelled() => return,
            };
            if let Err(err) = outcome {
                tracing::warn!(consumer = %self.settings.name, error = %err, "consumer interrupted; will resume");
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = shutdown.cancelled() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// Sets up the consumer and handles batches until an error.
    async fn consume(&self) -> Result<(), ConsumeError> {
        streams::ensure(&self.jetstream, self.settings.stream.clone()).await?;
        let durable = durable_name(&self.db, &self.settings.name).await?;
        let consumer = self.resume(&durable).await?;
        // Deliveries are numbered by the consumer, one after another. A
        // delivery lost on the way (a connection cut while messages were in
        // flight) shows as a gap, and a later cumulative ack would cover
        // it: at a gap the consumer stops, and resumes from its last ack.
        let mut next_delivery = consumer.cached_info().delivered.consumer_sequence + 1;
        let messages = consumer
            .stream()
            .max_messages_per_batch(self.settings.batch)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await
            .map_err(|err| ConsumeError::Consumer(err.to_string()))?;
        let mut batches = messages.ready_chunks(self.settings.batch);
        // Two stages, so decoding the next batches overlaps with writing
        // this one: the writer thread applies while this task decodes.
        // Batches are applied in the order they arrived; those that wait
        // while the writer is busy are applied together (see `merge`).
        let (ready, mut prepared) = tokio::sync::mpsc::channel::<Prepared<H::Effect>>(WAITING_BATCHES);
        let durable = &durable;
        let receive = async move {
            // Owns the sender: when receiving ends, the channel closes and
            // the applier finishes what it holds.
            let ready = ready;
            // Decoded messages not yet handed to the applier. Messages come
            // in small chunks (whatever has arrived); while the applier's
            // queue is full, the chunks arriving meanwhile join this batch,
            // up to a pull batch, so a consumer behind its stream commits a
            // few large transactions, not many small ones.
            let mut held: Option<Prepared<H::Effect>> = None;
            let ended = loop {
                let full = held.as_ref().is_some_and(|batch| batch.len() >= self.settings.batch);
                tokio::select! {
                    // Handing over first: an applier with room gets each
                    // chunk at once.
                    biased;
                    permit = ready.reserve(), if held.is_some() => match permit {
                        Ok(permit) => permit.send(held.take().expect("a batch is held")),
                        Err(_) => return Err(ConsumeError::Consumer("the applier stopped".into())),
                    },
                    items = batches.next(), if !full => {
                        let Some(items) = items else {
                            break ConsumeError::Consumer("message stream ended".into());
                        };
                        let (batch, mut stream_error) = streams::split_delivery(items);
                        if !batch.is_empty() {
                            let (prepared, gap) = self.prepare(durable, batch, &mut next_delivery);
                            stream_error = gap.or(stream_error);
                            if !prepared.items.is_empty() {
                                self.stats.batches.fetch_add(1, Ordering::Relaxed);
                                match &mut held {
                                    Some(batch) => batch.merge(prepared),
                                    None => held = Some(prepared),
                                }
                            }
                        }
                        if let Some(err) = stream_error {
                            break ConsumeError::Consumer(err);
                        }
                    }
                }
            };
            // What was received before the end is applied (and acked) first.
            if let Some(batch) = held {
                let _ = ready.send(batch).await;
            }
            Err(ended)
        };
        let apply = async {
            let mut next_prune = tokio::time::Instant::now();
            while let Some(mut batch) = prepared.recv().await {
                while batch.len() < self.settings.batch * MERGED_BATCHES
                    && let Ok(next) = prepared.try_recv()
                {
                    batch.merge(next);
                }
                if let Err(err) = self.apply(batch).await {
                    // Nothing of the batch was written. The batches behind
                    // it must not be acked past it: stop, and have it all
                    // again from the acknowledgement floor.
                    tracing::warn!(consumer = %self.settings.name, error = %err, "batch not applied; the consumer resumes from its last ack");
                    return err;
                }
                if tokio::time::Instant::now() >= next_prune {
                    next_prune = self.prune().await;
                }
            }
            ConsumeError::Consumer("message stream ended".into())
        };
        // A failed batch ends receiving at once; when receiving ends, the
        // batches already received are applied first.
        tokio::pin!(apply);
        tokio::select! {
            failed = &mut apply => Err(failed),
            received = receive => {
                apply.await;
                received
            }
        }
    }

    /// The durable consumer, taken over from a previous process: if that
    /// process left messages unacknowledged, the consumer is recreated from
    /// its acknowledgement floor so they come back now, not after the ack
    /// wait.
    async fn resume(&self, durable: &str) -> Result<jetstream::consumer::Consumer<pull::Config>, ConsumeError> {
        let stream = self
            .jetstream
            .get_stream(&self.settings.stream.name)
            .await
            .map_err(|err| ConsumeError::Consumer(err.to_string()))?;
        let mut deliver_policy = jetstream::consumer::DeliverPolicy::All;
        if let Ok(mut existing) = stream.get_consumer::<pull::Config>(durable).await {
            let info = existing
                .info()
                .await
                .map_err(|err| ConsumeError::Consumer(err.to_string()))?;
            let cumulative = info.config.ack_policy == jetstream::consumer::AckPolicy::All;
            if info.num_ack_pending == 0 && cumulative {
                return Ok(existing);
            }
            let floor = info.ack_floor.stream_sequence;
            if cumulative {
                tracing::info!(
                    consumer = %self.settings.name,
                    unacknowledged = info.num_ack_pending,
                    resume_after = floor,
                    "taking over the consumer from its last ack"
                );
            } else {
                // Made by an older version, acking each message: the ack
                // policy of a consumer cannot change, so it is made anew.
                tracing::info!(consumer = %self.settings.name, resume_after = floor, "recreating the consumer to ack cumulatively");
            }
            stream
                .delete_consumer(durable)
                .await
                .map_err(|err| ConsumeError::Consumer(format!("cannot take over consumer {durable}: {err}")))?;
            deliver_policy = jetstream::consumer::DeliverPolicy::ByStartSequence {
                start_sequence: floor + 1,
            };
        }
        stream
            .get_or_create_consumer(
                durable,
                pull::Config {
                    durable_name: Some(durable.to_owned()),
                    description: Some(format!("Jigi consumer {}", self.settings.name)),
                    ack_policy: jetstream::consumer::AckPolicy::All,
                    ack_wait: self.settings.ack_wait,
                    deliver_policy,
                    filter_subject: self.settings.filter_subject.clone().unwrap_or_default(),
                    // Room for every batch waiting or being applied, and
                    // as many again arriving meanwhile.
                    max_ack_pending: (self.settings.batch * (WAITING_BATCHES + MERGED_BATCHES + 2) * 2).max(1_000)
                        as i64,
                    ..Default::default()
                },
            )
            .await
            .map_err(|err| ConsumeError::Consumer(err.to_string()))
    }

    /// Decodes a batch (no I/O): what the applier needs. Only the message
    /// furthest in the stream is kept, to ack the batch with; the others
    /// are let go here, beside the writer, rather than after the commit.
    ///
    /// Checks that each message is the delivery `next_delivery` says is
    /// due; at a gap, the batch ends before it and the gap is described.
    fn prepare(
        &self,
        durable: &str,
        messages: Vec<jetstream::Message>,
        next_delivery: &mut u64,
    ) -> (Prepared<H::Effect>, Option<String>) {
        let mut spans = Vec::with_capacity(messages.len());
        let mut items = Vec::with_capacity(messages.len());
        let mut furthest = None;
        let mut pending = None;
        let mut gap = None;
        for message in messages {
            // The reply subject is parsed once per message.
            let info = message
                .info()
                .ok()
                .map(|info| (info.stream_sequence, info.consumer_sequence, info.pending));
            if let Some((_, delivery, left)) = info {
                if delivery != *next_delivery {
                    gap = Some(format!(
                        "delivery {delivery} arrived where {next_delivery} was due: one was lost on the way"
                    ));
                    break;
                }
                *next_delivery += 1;
                pending = Some(left);
            }
            let sequence = info.map(|(sequence, _, _)| sequence);
            items.push(match ReceivedEvent::from_jetstream_at(&message, sequence) {
                Ok(event) => {
                    let span = process_span(durable, &event);
                    let outcome = span.in_scope(|| self.handler.decode(&event));
                    spans.push(span);
                    Item {
                        key: event.id.clone(),
                        meta: Some(EventMeta::of(&event)),
                        outcome,
                    }
                }
                Err(err) => Item {
                    key: invalid_key(&message),
                    meta: None,
                    outcome: Err(Rejection::from(err)),
                },
            });
            if let Some(sequence) = sequence {
                keep_furthest(&mut furthest, sequence, message);
            }
        }
        let prepared = Prepared {
            furthest,
            items,
            spans,
            pending,
        };
        (prepared, gap)
    }

    /// Applies a decoded batch in one transaction, then acks it (in the
    /// background: the next batch need not wait for the ack). On failure
    /// nothing is acked.
    async fn apply(&self, batch: Prepared<H::Effect>) -> Result<(), ConsumeError> {
        let Prepared {
            furthest,
            items,
            spans,
            pending,
        } = batch;
        let last_sequence = furthest.as_ref().map_or(0, |(sequence, _)| *sequence);
        let consumer = self.settings.name.clone();
        let handler = self.handler.clone();
        let outcome = match self
            .db
            .write(move |conn| apply_batch(conn, &consumer, handler.as_ref(), items, last_sequence))
            .await
        {
            Ok(outcome) => outcome,
            Err(err) => return Err(ConsumeError::from(err)),
        };
        self.handler.committed(&outcome.applied);
        // Every batch before this one is applied, so the cumulative ack of
        // its furthest message covers only applied messages.
        tokio::spawn(async move {
            // A lost ack only causes a redelivery, which the inbox skips.
            if let Some((_, message)) = furthest
                && let Err(err) = message.ack().await
            {
                tracing::debug!(error = %err, "ack not sent; the events will be redelivered and skipped");
            }
            drop(spans); // each event's span ends once its effect is committed and acked
        });
        self.stats.transactions.fetch_add(1, Ordering::Relaxed);
        self.stats.handled.fetch_add(outcome.handled, Ordering::Relaxed);
        self.stats.duplicates.fetch_add(outcome.duplicates, Ordering::Relaxed);
        self.stats.rejected.fetch_add(outcome.rejected, Ordering::Relaxed);
        // Release, last of the counts: whoever sees this position (Acquire)
        // also sees the counts of every batch up to it.
        self.stats.applied_sequence.fetch_max(last_sequence, Ordering::Release);
        if let Some(pending) = pending {
            self.stats.pending.store(pending, Ordering::Relaxed);
        }
        self.stats
            .applied_at_micros
            .store(Utc::now().timestamp_micros(), Ordering::Relaxed);
        Ok(())
    }

    /// Deletes a slice of the inbox's records older than this consumer
    /// keeps; when to prune next: after the next batch if more are that
    /// old, else in [`PRUNE_EVERY`]. A failure only delays pruning.
    async fn prune(&self) -> tokio::time::Instant {
        let later = tokio::time::Instant::now() + PRUNE_EVERY;
        // A time to keep beyond the calendar keeps everything.
        let Some(before) = chrono::TimeDelta::from_std(self.settings.keep_processed)
            .ok()
            .and_then(|keep| Utc::now().checked_sub_signed(keep))
        else {
            return later;
        };
        let before = jigi_storage::timestamp::format(before);
        match self.db.write(move |conn| prune(conn, &before, PRUNE_ROWS)).await {
            Ok(deleted) => {
                self.stats.pruned.fetch_add(deleted, Ordering::Relaxed);
                if deleted >= PRUNE_ROWS {
                    return tokio::time::Instant::now();
                }
            }
            Err(err) => {
                tracing::warn!(consumer = %self.settings.name, error = %err, "old inbox records not pruned; trying again later");
            }
        }
        later
    }
}

/// Deletes up to `most` records processed before `before`, whichever
/// consumer of the database recorded them (one that no longer runs
/// included); how many it deleted.
fn prune(conn: &mut Conn, before: &str, most: u64) -> Result<u64, StorageError> {
    let most = most as i64;
    match conn.backend() {
        // Records are inserted in time order, so the old ones come first in
        // rowid order: the oldest `most` rows are read, never more, and
        // those of them that are old are deleted (with no index on age to
        // keep up on every record).
        Backend::Sqlite => conn.execute(
            "DELETE FROM inbox_events WHERE rowid IN ( \
                SELECT rowid FROM (SELECT rowid, processed_at FROM inbox_events ORDER BY rowid LIMIT $2) \
                WHERE processed_at < $1)",
            params![before, most],
        ),
        Backend::Postgres => conn.execute(
            "DELETE FROM inbox_events WHERE (consumer, event_id) IN ( \
                SELECT consumer, event_id FROM inbox_events WHERE processed_at < $1 LIMIT $2)",
            params![before, most],
        ),
    }
}

/// A batch decoded and waiting to be applied.
struct Prepared<E> {
    /// The message furthest in the stream and its position: the batch's
    /// cumulative ack.
    furthest: Option<(u64, jetstream::Message)>,
    items: Vec<Item<E>>,
    spans: Vec<tracing::Span>,
    /// What the server still had for the consumer after the batch's last message.
    pending: Option<u64>,
}

impl<E> Prepared<E> {
    /// Messages in the batch.
    fn len(&self) -> usize {
        self.items.len()
    }

    /// Appends a batch that arrived after this one: applied together, in
    /// one transaction, in the order they arrived.
    fn merge(&mut self, next: Prepared<E>) {
        self.items.extend(next.items);
        self.spans.extend(next.spans);
        if let Some((sequence, message)) = next.furthest {
            keep_furthest(&mut self.furthest, sequence, message);
        }
        if next.pending.is_some() {
            self.pending = next.pending;
        }
    }
}

/// Keeps `message` at stream position `sequence` if it is further than
/// the one kept: a redelivered message may come after others, with a lower
/// position.
fn keep_furthest(kept: &mut Option<(u64, jetstream::Message)>, sequence: u64, message: jetstream::Message) {
    if kept.as_ref().is_none_or(|(position, _)| sequence > *position) {
        *kept = Some((sequence, message));
    }
}

/// Prepared batches that may wait for the writer. While it applies one
/// transaction, the next messages are decoded and wait here, up to a pull
/// batch each (messages arriving while this queue is full join the last
/// batch); the applier then takes every one waiting into its next
/// transaction, so a consumer behind its stream commits (and checkpoints)
/// a few large transactions rather than many small ones, and one that
/// keeps up still applies each message as soon as it arrives.
const WAITING_BATCHES: usize = 4;

/// Most pull batches applied in one transaction.
const MERGED_BATCHES: usize = 4;

/// What a batch's transaction did.
struct BatchOutcome {
    handled: u64,
    duplicates: u64,
    rejected: u64,
    /// The events handled, for [`EventHandler::committed`].
    applied: Vec<EventMeta>,
}

/// The batch's transaction: skips what the inbox holds, applies the rest,
/// records every event.
///
/// This runs on the database's one writer thread, which every batch waits
/// for: nothing is copied here that can be moved (an event's metadata goes
/// to the handler and then, unchanged, to [`EventHandler::committed`]).
fn apply_batch<H: EventHandler>(
    conn: &mut Conn,
    consumer: &str,
    handler: &H,
    items: Vec<Item<H::Effect>>,
    last_sequence: u64,
) -> Result<BatchOutcome, StorageError> {
    let known = already_processed(conn, consumer, items.iter().map(|item| item.key.as_str()))?;
    // An event is new unless the inbox holds it or it came earlier in the batch.
    let new: Vec<bool> = {
        let mut seen: HashSet<&str> = HashSet::with_capacity(items.len());
        items
            .iter()
            .map(|item| !known.contains(item.key.as_str()) && seen.insert(item.key.as_str()))
            .collect()
    };
    let mut fresh = Vec::with_capacity(items.len());
    // Handled events the handler had nothing to apply for.
    let mut unused = Vec::new();
    // For each handled event, in stream order: whether it is in `fresh`.
    let mut applied_order = Vec::with_capacity(items.len());
    let mut records: Vec<Record> = Vec::with_capacity(items.len());
    let mut outcome = BatchOutcome {
        handled: 0,
        duplicates: 0,
        rejected: 0,
        applied: Vec::new(),
    };
    for (item, new) in items.into_iter().zip(new) {
        if !new {
            outcome.duplicates += 1;
            continue;
        }
        let sequence = item.meta.as_ref().and_then(|meta| meta.stream_sequence);
        match item.outcome {
            Ok(effect) => {
                outcome.handled += 1;
                records.push((item.key, "handled", None, sequence));
                if let Some(meta) = item.meta {
                    applied_order.push(effect.is_some());
                    match effect {
                        Some(effect) => fresh.push(Decoded { meta, effect }),
                        None => unused.push(meta),
                    }
                }
            }
            Err(Rejection(reason)) => {
                outcome.rejected += 1;
                tracing::warn!(consumer, event_id = %item.key, reason = %reason, "event rejected");
                records.push((item.key, "rejected", Some(reason), sequence));
            }
        }
    }
    if !fresh.is_empty() {
        handler.apply(conn, &fresh)?;
    }
    record_processed(conn, consumer, &records)?;
    conn.pipeline(
        "UPDATE inbox_consumers SET applied_sequence = $1 WHERE consumer = $2 AND applied_sequence < $1",
        params![last_sequence, consumer],
    )?;
    let (mut fresh, mut unused) = (fresh.into_iter().map(|decoded| decoded.meta), unused.into_iter());
    outcome.applied = applied_order
        .into_iter()
        .filter_map(|in_fresh| if in_fresh { fresh.next() } else { unused.next() })
        .collect();
    Ok(outcome)
}

/// The span of one event's processing, a child of the producer's context
/// (a message from outside Jigi, without trace headers, starts a new trace).
fn process_span(consumer: &str, event: &ReceivedEvent) -> tracing::Span {
    // Joined by hand: `format_args!` in a `%` field costs the formatting
    // machinery once per event.
    let mut name = String::with_capacity(event.subject.len() + 8);
    name.push_str(&event.subject);
    name.push_str(" process");
    let span = tracing::info_span!(
        "process",
        otel.name = name.as_str(),
        otel.kind = "consumer",
        messaging.system = "nats",
        messaging.operation.type = "process",
        // Text fields as `&str`, not `%`: a layer takes them as they are,
        // where a `%` field goes through the formatting machinery (once
        // per field per event).
        messaging.destination.name = event.subject.as_str(),
        messaging.message.id = event.id.as_str(),
        messaging.consumer.group.name = consumer,
        cloudevents.event_type = event.ce_type.as_str(),
        cloudevents.event_subject = event.about.as_str(),
        jigi.region = event.region().map(|r| r.slug()).unwrap_or_default(),
        jigi.household_id = Empty,
        jigi.cycle_id = Empty,
        jigi.round_id = Empty,
    );
    event.trace.set_as_parent_of(&span);
    // The catalog's convention for ce-subject: a household for household,
    // member and payment events, the cycle for cycle events, the round for
    // round events.
    let field = match event.ce_type.split('.').nth(2) {
        Some("household" | "member" | "payment") => Some("jigi.household_id"),
        Some("cycle") => Some("jigi.cycle_id"),
        Some("round") => Some("jigi.round_id"),
        _ => None,
    };
    if let Some(field) = field {
        span.record(field, event.about.as_str());
    }
    span
}

/// The inbox key of a message that is not a valid event: its position in
/// the stream (so it is rejected only once).
fn invalid_key(message: &jetstream::Message) -> String {
    match message.info() {
        Ok(info) => format!("nats:{}:{}", info.stream, info.stream_sequence),
        Err(_) => format!("nats:{}", message.subject),
    }
}

fn already_processed<'a>(
    conn: &mut Conn,
    consumer: &str,
    keys: impl Iterator<Item = &'a str>,
) -> Result<HashSet<String>, StorageError> {
    let keys: Vec<&str> = keys.collect();
    let mut found = HashSet::new();
    for chunk in sql::chunks(&keys, LOOKUP_KEYS) {
        let mut placeholders = Placeholders::for_connection(conn);
        let statement = format!(
            "SELECT event_id FROM inbox_events WHERE consumer = {} AND event_id IN ({})",
            placeholders.one(),
            placeholders.list(chunk.len())
        );
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() + 1);
        values.push(&consumer);
        values.extend(chunk.iter().map(|key| key as &dyn ToSql));
        conn.query_each(&statement, &values, |row| {
            found.insert(row.get(0)?);
            Ok(())
        })?;
    }
    Ok(found)
}

type Record = (String, &'static str, Option<String>, Option<u64>);

/// Event IDs looked up per statement, and events recorded per `INSERT`:
/// with the rest in powers of two ([`sql::chunks`]), each statement comes
/// in a few shapes prepared once, whatever the batch sizes.
const LOOKUP_KEYS: usize = 1_024;
const RECORDS_PER_INSERT: usize = 256;

fn record_processed(conn: &mut Conn, consumer: &str, records: &[Record]) -> Result<(), StorageError> {
    const COLUMNS: usize = 6;
    let now = jigi_storage::timestamp::now();
    for chunk in sql::chunks(records, RECORDS_PER_INSERT) {
        // `OR IGNORE` on SQLite: a multi-row `INSERT` that may abort half
        // way (a NOT NULL or key violation) makes SQLite journal every page
        // it touches, to undo the rows already written; none can fail here
        // (no value is NULL, and the events recorded are those not found
        // above), and with nothing to abort there is nothing to journal.
        let verb = match conn.backend() {
            Backend::Sqlite => "INSERT OR IGNORE",
            Backend::Postgres => "INSERT",
        };
        let statement = format!(
            "{verb} INTO inbox_events (consumer, event_id, outcome, detail, stream_sequence, processed_at) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), COLUMNS)
        );
        let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * COLUMNS);
        for (key, outcome, detail, sequence) in chunk {
            values.extend([&consumer as &dyn ToSql, key, outcome, detail, sequence, &now]);
        }
        conn.pipeline(&statement, &values)?;
    }
    Ok(())
}

/// The durable consumer name for this database, chosen once.
async fn durable_name(db: &Database, consumer: &str) -> Result<String, StorageError> {
    let consumer = consumer.to_owned();
    db.write(move |conn| {
        let existing: Option<String> = conn.query_scalar_opt(
            "SELECT durable_name FROM inbox_consumers WHERE consumer = $1",
            params![consumer],
        )?;
        if let Some(name) = existing {
            return Ok(name);
        }
        let suffix: u32 = rand::random();
        let name = format!("{}_{suffix:08x}", sanitize(&consumer));
        conn.pipeline(
            "INSERT INTO inbox_consumers (consumer, durable_name, created_at) VALUES ($1, $2, $3)",
            params![consumer, name, jigi_storage::timestamp::now()],
        )?;
        Ok(name)
    })
    .await
}

/// Durable names allow letters, digits, `-` and `_` only.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// How many events a consumer has handled, read from its inbox: those of
/// the last [`ConsumerSettings::keep_processed`] (older records are pruned).
pub async fn processed_count(db: &Database, consumer: &str) -> Result<i64, StorageError> {
    let consumer = consumer.to_owned();
    db.read(move |conn| {
        conn.query_scalar(
            "SELECT COUNT(*) FROM inbox_events WHERE consumer = $1 AND outcome = 'handled'",
            params![consumer],
        )
    })
    .await
}

/// The stream position a consumer has applied, read in the caller's
/// transaction (so it matches the state read beside it).
pub fn applied_position(conn: &mut Conn, consumer: &str) -> Result<u64, StorageError> {
    Ok(conn
        .query_scalar_opt(
            "SELECT applied_sequence FROM inbox_consumers WHERE consumer = $1",
            params![consumer],
        )?
        .unwrap_or(0))
}

/// The stream position a consumer has applied, read from its inbox.
pub async fn applied_sequence(db: &Database, consumer: &str) -> Result<u64, StorageError> {
    let consumer = consumer.to_owned();
    db.read(move |conn| {
        Ok(conn
            .query_scalar_opt(
                "SELECT applied_sequence FROM inbox_consumers WHERE consumer = $1",
                params![consumer],
            )?
            .unwrap_or(0))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durable_names_are_safe() {
        assert_eq!(sanitize("payments-sikasso"), "payments-sikasso");
        assert_eq!(sanitize("a.b c>*"), "a_b_c__");
    }
}
