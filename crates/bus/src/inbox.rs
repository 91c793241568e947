//! The idempotent inbox: a durable pull consumer whose handler changes the
//! service's database exactly once per event.
//!
//! Messages arrive in batches. For each batch, one transaction: events whose
//! ID the inbox already holds are skipped; every other event is handled in
//! its own savepoint, and its ID is recorded. Only after the commit are the
//! messages acked. A crash before the commit redelivers the batch (nothing
//! was written); a crash after it redelivers events the inbox now skips.
//!
//! A handler that finds an event unusable (a payload that does not decode,
//! a rule it breaks) returns [`HandlerError::Permanent`]: its writes are
//! rolled back, the event is recorded as rejected with the reason, and the
//! stream moves on. A [`HandlerError::Transient`] failure (the database is
//! unavailable) rolls the whole batch back and asks for redelivery.
//!
//! The durable consumer's name carries a suffix chosen when the database was
//! created, so a service started on a fresh database reads its stream from
//! the beginning and rebuilds its state, while a restarted one resumes.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::pull, stream};
use futures::StreamExt;
use jigi_storage::sql::{self, Placeholders};
use jigi_storage::{Database, Migration, StorageError};
use sqlx::{AnyConnection, AssertSqlSafe, Connection};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing::field::Empty;

use crate::envelope::{EnvelopeError, ReceivedEvent};
use crate::streams;

/// The inbox tables.
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
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
)];

/// What a handler can report.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event can never be handled (bad payload, a broken rule): it is
    /// recorded as rejected and not retried.
    #[error("event rejected: {0}")]
    Permanent(String),
    /// Handling failed for a reason that may pass (database busy or down):
    /// the batch is retried later.
    #[error("transient failure: {0}")]
    Transient(String),
}

impl From<sqlx::Error> for HandlerError {
    fn from(err: sqlx::Error) -> Self {
        HandlerError::Transient(err.to_string())
    }
}

impl From<EnvelopeError> for HandlerError {
    fn from(err: EnvelopeError) -> Self {
        HandlerError::Permanent(err.to_string())
    }
}

/// What a consumer does with each event. Events of types it does not care
/// about should return `Ok(())`: they are recorded and skipped.
pub trait EventHandler: Send + Sync + 'static {
    /// Applies one event inside the batch's transaction.
    fn handle<'a>(
        &'a self,
        conn: &'a mut AnyConnection,
        event: &'a ReceivedEvent,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send + 'a;

    /// Called after each committed batch (e.g. to wake the service's outbox
    /// relay when handlers added events).
    fn committed(&self) {}
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
}

impl ConsumerSettings {
    pub fn new(stream: stream::Config, name: impl Into<String>) -> ConsumerSettings {
        ConsumerSettings {
            stream,
            name: name.into(),
            filter_subject: None,
            batch: 500,
            ack_wait: Duration::from_secs(30),
        }
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
    #[error("handler: {0}")]
    Handler(String),
}

impl From<sqlx::Error> for ConsumeError {
    fn from(err: sqlx::Error) -> Self {
        ConsumeError::Storage(err.into())
    }
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
        let stream = self
            .jetstream
            .get_stream(&self.settings.stream.name)
            .await
            .map_err(|err| ConsumeError::Consumer(err.to_string()))?;
        let consumer: jetstream::consumer::Consumer<pull::Config> = stream
            .get_or_create_consumer(
                &durable,
                pull::Config {
                    durable_name: Some(durable.clone()),
                    description: Some(format!("Jigi consumer {}", self.settings.name)),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: self.settings.ack_wait,
                    filter_subject: self.settings.filter_subject.clone().unwrap_or_default(),
                    max_ack_pending: (self.settings.batch as i64 * 4).max(1_000),
                    ..Default::default()
                },
            )
            .await
            .map_err(|err| ConsumeError::Consumer(err.to_string()))?;
        let messages = consumer
            .stream()
            .max_messages_per_batch(self.settings.batch)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await
            .map_err(|err| ConsumeError::Consumer(err.to_string()))?;
        let mut batches = messages.ready_chunks(self.settings.batch);
        while let Some(items) = batches.next().await {
            let mut batch = Vec::with_capacity(items.len());
            let mut stream_error = None;
            for item in items {
                match item {
                    Ok(message) => batch.push(message),
                    Err(err) => stream_error = Some(err.to_string()),
                }
            }
            if !batch.is_empty() {
                self.handle_batch(&durable, batch).await?;
            }
            if let Some(err) = stream_error {
                return Err(ConsumeError::Consumer(err));
            }
        }
        Err(ConsumeError::Consumer("message stream ended".into()))
    }

    /// Handles one batch; `durable` names the NATS consumer, while the inbox
    /// records events under the consumer's stable name.
    async fn handle_batch(&self, durable: &str, messages: Vec<jetstream::Message>) -> Result<(), ConsumeError> {
        let consumer = self.settings.name.as_str();
        let events: Vec<(String, Result<ReceivedEvent, EnvelopeError>)> = messages
            .iter()
            .map(|message| {
                let event = ReceivedEvent::from_jetstream(message);
                (event_key(message, &event), event)
            })
            .collect();
        let mut tx = self.db.begin_write().await?;
        let mut seen = already_processed(&mut tx, consumer, events.iter().map(|(key, _)| key.as_str())).await?;
        let mut records = Vec::with_capacity(events.len());
        let (mut handled, mut duplicates, mut rejected) = (0, 0, 0);
        for (key, event) in &events {
            if !seen.insert(key.clone()) {
                duplicates += 1;
                continue;
            }
            let (outcome, detail, sequence) = match event {
                Err(err) => ("rejected", Some(err.to_string()), None),
                Ok(event) => {
                    let span = process_span(durable, event);
                    let result = self.handle_in_savepoint(&mut tx, event).instrument(span).await;
                    match result {
                        Ok(()) => ("handled", None, event.stream_sequence),
                        Err(HandlerError::Permanent(reason)) => ("rejected", Some(reason), event.stream_sequence),
                        Err(HandlerError::Transient(reason)) => {
                            drop(tx); // rolls back the batch
                            for message in &messages {
                                let _ = message.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await;
                            }
                            return Err(ConsumeError::Handler(reason));
                        }
                    }
                }
            };
            if outcome == "rejected" {
                rejected += 1;
                tracing::warn!(consumer, event_id = %key, reason = detail.as_deref().unwrap_or(""), "event rejected");
            } else {
                handled += 1;
            }
            records.push((key.clone(), outcome, detail, sequence));
        }
        record_processed(&mut tx, consumer, &records).await?;
        tx.commit().await?;
        self.handler.committed();
        for message in &messages {
            // A lost ack only causes a redelivery, which the inbox skips.
            if let Err(err) = message.ack().await {
                tracing::debug!(error = %err, "ack not sent; the event will be redelivered and skipped");
            }
        }
        self.stats.handled.fetch_add(handled, Ordering::Relaxed);
        self.stats.duplicates.fetch_add(duplicates, Ordering::Relaxed);
        self.stats.rejected.fetch_add(rejected, Ordering::Relaxed);
        Ok(())
    }

    /// Runs the handler in a savepoint, so a rejected event leaves no trace.
    async fn handle_in_savepoint(&self, conn: &mut AnyConnection, event: &ReceivedEvent) -> Result<(), HandlerError> {
        let mut savepoint = conn.begin().await?;
        match self.handler.handle(&mut savepoint, event).await {
            Ok(()) => {
                savepoint.commit().await?;
                Ok(())
            }
            Err(err) => {
                savepoint.rollback().await?;
                Err(err)
            }
        }
    }
}

/// The span of one event's processing, a child of the producer's context
/// (a message from outside Jigi, without trace headers, starts a new trace).
fn process_span(consumer: &str, event: &ReceivedEvent) -> tracing::Span {
    let span = tracing::info_span!(
        "process",
        otel.name = %format_args!("{} process", event.subject),
        otel.kind = "consumer",
        messaging.system = "nats",
        messaging.operation.type = "process",
        messaging.destination.name = %event.subject,
        messaging.message.id = %event.id,
        messaging.consumer.group.name = %consumer,
        cloudevents.event_type = %event.ce_type,
        cloudevents.event_subject = %event.about,
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

/// The inbox key of a message: its `ce-id`, or for a message that is not a
/// valid event, its position in the stream (so it is rejected only once).
fn event_key(message: &jetstream::Message, event: &Result<ReceivedEvent, EnvelopeError>) -> String {
    match event {
        Ok(event) => event.id.clone(),
        Err(_) => match message.info() {
            Ok(info) => format!("nats:{}:{}", info.stream, info.stream_sequence),
            Err(_) => format!("nats:{}", message.subject),
        },
    }
}

async fn already_processed<'a>(
    conn: &mut AnyConnection,
    consumer: &str,
    keys: impl Iterator<Item = &'a str>,
) -> Result<HashSet<String>, sqlx::Error> {
    let keys: Vec<&str> = keys.collect();
    let mut found = HashSet::new();
    for chunk in keys.chunks(sql::MAX_BINDS - 1) {
        let mut placeholders = Placeholders::for_connection(conn);
        let statement = format!(
            "SELECT event_id FROM inbox_events WHERE consumer = {} AND event_id IN ({})",
            placeholders.one(),
            placeholders.list(chunk.len())
        );
        let mut query = sqlx::query_scalar::<_, String>(AssertSqlSafe(statement)).bind(consumer);
        for key in chunk {
            query = query.bind(*key);
        }
        found.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(found)
}

type Record = (String, &'static str, Option<String>, Option<u64>);

async fn record_processed(conn: &mut AnyConnection, consumer: &str, records: &[Record]) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 6;
    let now = jigi_storage::timestamp::now();
    for chunk in records.chunks(sql::rows_per_statement(COLUMNS)) {
        let statement = format!(
            "INSERT INTO inbox_events (consumer, event_id, outcome, detail, stream_sequence, processed_at) VALUES {}",
            Placeholders::for_connection(conn).rows(chunk.len(), COLUMNS)
        );
        let mut query = sqlx::query(AssertSqlSafe(statement));
        for (key, outcome, detail, sequence) in chunk {
            query = query
                .bind(consumer)
                .bind(key.clone())
                .bind(*outcome)
                .bind(detail.clone())
                .bind(sequence.map(|s| s as i64))
                .bind(now.clone());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The durable consumer name for this database, chosen once.
async fn durable_name(db: &Database, consumer: &str) -> Result<String, ConsumeError> {
    let mut tx = db.begin_write().await?;
    let existing: Option<String> = sqlx::query_scalar("SELECT durable_name FROM inbox_consumers WHERE consumer = $1")
        .bind(consumer)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(name) = existing {
        return Ok(name);
    }
    let suffix: u32 = rand::random();
    let name = format!("{}_{suffix:08x}", sanitize(consumer));
    sqlx::query("INSERT INTO inbox_consumers (consumer, durable_name, created_at) VALUES ($1, $2, $3)")
        .bind(consumer)
        .bind(&name)
        .bind(jigi_storage::timestamp::now())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(name)
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

/// How a consumer stands, read from its inbox.
pub async fn processed_count(db: &Database, consumer: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM inbox_events WHERE consumer = $1 AND outcome = 'handled'")
        .bind(consumer)
        .fetch_one(db.pool())
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
