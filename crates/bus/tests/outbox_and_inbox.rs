//! The outbox relay and the inbox consumer against a real nats-server and a
//! real SQLite file.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use jigi_bus::inbox::{self, ConsumerStats, InboxConsumer};
use jigi_bus::outbox::{self, RelaySettings};
use jigi_bus::{
    Bus, BusConfig, ConsumerSettings, Decoded, EventHandler, OutboxRelay, OutgoingEvent, ReceivedEvent, Rejection,
    streams,
};
use jigi_common::Region;
use jigi_proto::events::HouseholdRegistered;
use jigi_storage::{Conn, Database, Migration, StorageError, params};
use jigi_testkit::{NatsServer, eventually, sqlite_url};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(20);

const COUNTS: Migration = Migration::portable(
    "test",
    1,
    "counts",
    "CREATE TABLE counts (key TEXT PRIMARY KEY, n BIGINT NOT NULL)",
);

async fn database(dir: &std::path::Path, name: &str) -> Database {
    open(&sqlite_url(dir, name)).await
}

/// The outbox, the inbox and the counter's table, at `url`.
async fn open(url: &str) -> Database {
    let migrations: Vec<Migration> = [outbox::MIGRATIONS, inbox::MIGRATIONS, &[COUNTS]].concat();
    Database::open(url, &migrations).await.unwrap()
}

/// Waits until a consumer's counters say `done`.
async fn wait_for(stats: &Arc<ConsumerStats>, what: &str, done: impl Fn(&ConsumerStats) -> bool) {
    eventually(WAIT, what, || {
        let reached = done(stats);
        async move { reached.then_some(()) }
    })
    .await;
}

fn registered(household: &str) -> OutgoingEvent {
    let message = HouseholdRegistered {
        household_id: household.to_owned(),
        registered_on: "2018-10-01".into(),
        ..Default::default()
    };
    OutgoingEvent::new(Region::Sikasso, household, &message)
}

async fn write(db: &Database, events: &[OutgoingEvent]) {
    let events = events.to_vec();
    db.write(move |conn| outbox::add(conn, &events)).await.unwrap();
}

fn start_relay(db: &Database, bus: &Bus) -> CancellationToken {
    let stop = CancellationToken::new();
    let relay = OutboxRelay::new(
        db.clone(),
        bus.jetstream.clone(),
        Region::Sikasso,
        RelaySettings::default(),
    );
    tokio::spawn(relay.run(stop.clone()));
    stop
}

/// Publishes an event straight to JetStream (as a producer's relay would)
/// and waits for its ack.
async fn publish(bus: &Bus, event: &OutgoingEvent) {
    publish_with(bus, event, event.headers()).await;
}

async fn publish_with(bus: &Bus, event: &OutgoingEvent, headers: async_nats::HeaderMap) {
    bus.jetstream
        .publish_with_headers(event.subject.clone(), headers, event.payload.clone().into())
        .await
        .unwrap()
        .await
        .unwrap();
}

/// Every message in the region's stream, in stream order.
async fn stream_contents(bus: &Bus) -> Vec<ReceivedEvent> {
    let stream = bus.jetstream.get_stream("JIGI_SIKASSO").await.unwrap();
    let count = stream.get_info().await.unwrap().state.messages as usize;
    if count == 0 {
        return Vec::new();
    }
    let consumer: jetstream::consumer::Consumer<pull::OrderedConfig> =
        stream.create_consumer(pull::OrderedConfig::default()).await.unwrap();
    let mut messages = consumer.messages().await.unwrap().take(count);
    let mut events = Vec::new();
    while let Some(message) = messages.next().await {
        events.push(ReceivedEvent::from_jetstream(&message.unwrap()).unwrap());
    }
    events
}

#[tokio::test]
async fn relay_publishes_each_event_once_with_its_envelope() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path(), "svc").await;
    let bus = Bus::connect(&BusConfig::new(nats.url(), "test")).await.unwrap();
    let _stop = start_relay(&db, &bus);

    let events: Vec<_> = (0..50).map(|i| registered(&format!("h-{i}"))).collect();
    write(&db, &events).await;
    eventually(WAIT, "outbox to drain", || async {
        (outbox::pending(&db).await.unwrap() == 0).then_some(())
    })
    .await;

    let received = stream_contents(&bus).await;
    let ids: Vec<_> = received.iter().map(|e| e.id.clone()).collect();
    let sent: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids, sent, "every event once, in order");
    let first = &received[0];
    assert_eq!(first.ce_type, "jigi.registry.household.registered.v1");
    assert_eq!(first.subject, "jigi.sikasso.registry.household.registered");
    assert_eq!(first.decode::<HouseholdRegistered>().unwrap().household_id, "h-0");
}

#[tokio::test]
async fn events_written_while_nats_is_down_arrive_once_in_order() {
    let mut nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path(), "svc").await;
    let bus = Bus::connect(&BusConfig::new(nats.url(), "test")).await.unwrap();
    let _stop = start_relay(&db, &bus);

    write(&db, &[registered("h-a")]).await;
    eventually(WAIT, "first event published", || async {
        (outbox::pending(&db).await.unwrap() == 0).then_some(())
    })
    .await;

    nats.stop().await;
    // Several events per household, interleaved, while NATS is down.
    let mut expected = vec![];
    for round in 0..5 {
        for household in ["h-a", "h-b", "h-c"] {
            let mut event = registered(household);
            event.about = household.to_owned();
            event.payload = HouseholdRegistered {
                household_id: household.to_owned(),
                registered_on: format!("2018-10-0{}", round + 1),
                ..Default::default()
            }
            .encode_to_vec_for_test();
            expected.push(event.id.clone());
            write(&db, &[event]).await;
        }
    }
    assert_eq!(outbox::pending(&db).await.unwrap(), 15, "kept while NATS is down");

    nats.restart().await;
    eventually(WAIT, "outbox to drain after restart", || async {
        (outbox::pending(&db).await.unwrap() == 0).then_some(())
    })
    .await;
    let received = stream_contents(&bus).await;
    let ids: Vec<_> = received.iter().skip(1).map(|e| e.id.clone()).collect();
    let mut sorted_received = ids.clone();
    sorted_received.sort();
    let mut sorted_expected = expected.clone();
    sorted_expected.sort();
    assert_eq!(sorted_received, sorted_expected, "each event exactly once");
    for household in ["h-a", "h-b", "h-c"] {
        let dates: Vec<String> = received
            .iter()
            .skip(1)
            .filter(|e| e.about == household)
            .map(|e| e.decode::<HouseholdRegistered>().unwrap().registered_on)
            .collect();
        let mut in_order = dates.clone();
        in_order.sort();
        assert_eq!(dates, in_order, "events of {household} in order");
    }
}

/// Counts registrations per household, a batch at a time (one upsert per
/// household however many of its events the batch holds); refuses the
/// household "poison".
struct Counter;

impl EventHandler for Counter {
    type Effect = String;

    fn decode(&self, event: &ReceivedEvent) -> Result<Option<String>, Rejection> {
        let message: HouseholdRegistered = event.decode()?;
        if message.household_id == "poison" {
            return Err(Rejection("poison household".into()));
        }
        Ok(Some(message.household_id))
    }

    fn apply(&self, conn: &mut Conn, events: &[Decoded<String>]) -> Result<(), StorageError> {
        let mut per_household: BTreeMap<&str, i64> = BTreeMap::new();
        for event in events {
            *per_household.entry(event.effect.as_str()).or_default() += 1;
        }
        for (household, n) in per_household {
            conn.execute(
                "INSERT INTO counts (key, n) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET n = counts.n + $2",
                params![household, n],
            )?;
        }
        Ok(())
    }
}

async fn counts(db: &Database) -> Vec<(String, i64)> {
    db.read(|conn| {
        conn.query("SELECT key, n FROM counts ORDER BY key", params![])?
            .iter()
            .map(|row| Ok((row.get(0)?, row.get(1)?)))
            .collect::<Result<Vec<_>, StorageError>>()
    })
    .await
    .unwrap()
}

/// A client of `nats` with Sikasso's stream in place.
async fn sikasso_bus(nats: &NatsServer) -> Bus {
    let bus = Bus::connect(&BusConfig::new(nats.url(), "test")).await.unwrap();
    streams::ensure_region_stream(&bus.jetstream, Region::Sikasso)
        .await
        .unwrap();
    bus
}

fn start_consumer(db: &Database, bus: &Bus) -> (CancellationToken, Arc<inbox::ConsumerStats>) {
    start_consumer_with(db, bus, Duration::from_secs(30))
}

fn start_consumer_with(db: &Database, bus: &Bus, ack_wait: Duration) -> (CancellationToken, Arc<inbox::ConsumerStats>) {
    let mut settings = counter_settings();
    settings.ack_wait = ack_wait;
    spawn_consumer(db, bus, settings, Arc::new(Counter))
}

/// The counter's consumer: Sikasso's registry events.
fn counter_settings() -> ConsumerSettings {
    ConsumerSettings::new(streams::region_stream_config(Region::Sikasso), "counter").filter("jigi.sikasso.registry.>")
}

fn spawn_consumer<H: EventHandler>(
    db: &Database,
    bus: &Bus,
    settings: ConsumerSettings,
    handler: Arc<H>,
) -> (CancellationToken, Arc<inbox::ConsumerStats>) {
    let consumer = InboxConsumer::new(db.clone(), bus.jetstream.clone(), settings, handler);
    let stats = consumer.stats();
    let stop = CancellationToken::new();
    tokio::spawn(consumer.run(stop.clone()));
    (stop, stats)
}

/// The counter consumer's durable name on the server.
async fn durable_of(db: &Database) -> String {
    db.read(|conn| {
        conn.query_scalar(
            "SELECT durable_name FROM inbox_consumers WHERE consumer = 'counter'",
            params![],
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn inbox_applies_a_redelivered_event_once_and_rejects_poison_cleanly() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path(), "consumer").await;
    let bus = sikasso_bus(&nats).await;

    let event = registered("h-1");
    // The same event twice, as after a republish outside the duplicate
    // window: JetStream stores both, the inbox must apply it once.
    for copy in 0..2 {
        let mut headers = event.headers();
        headers.insert("Nats-Msg-Id", format!("{}-{copy}", event.id).as_str());
        publish_with(&bus, &event, headers).await;
    }
    let poison = registered("poison");
    publish(&bus, &poison).await;
    // A message that is not a CloudEvent at all.
    bus.jetstream
        .publish("jigi.sikasso.registry.household.registered", "garbage".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let after = registered("h-2");
    publish(&bus, &after).await;

    let (_stop, stats) = start_consumer(&db, &bus);
    wait_for(&stats, "all five messages processed", |s| {
        s.handled() + s.duplicates() + s.rejected() == 5
    })
    .await;
    assert_eq!(counts(&db).await, [("h-1".to_owned(), 1), ("h-2".to_owned(), 1)]);
    assert_eq!((stats.handled(), stats.duplicates(), stats.rejected()), (2, 1, 2));
}

#[tokio::test]
async fn a_fresh_database_rebuilds_from_the_stream_and_a_restart_resumes() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bus = sikasso_bus(&nats).await;
    for i in 0..20 {
        let event = registered(&format!("h-{i:02}"));
        publish(&bus, &event).await;
    }

    let db = database(dir.path(), "first").await;
    let (stop, stats) = start_consumer(&db, &bus);
    wait_for(&stats, "first consumer to handle 20", |s| s.handled() == 20).await;
    stop.cancel();

    // Restarted on the same database: resumes, handles only what is new.
    let event = registered("h-20");
    publish(&bus, &event).await;
    let (stop, stats) = start_consumer(&db, &bus);
    wait_for(&stats, "restarted consumer to handle the new event", |s| {
        s.handled() == 1
    })
    .await;
    stop.cancel();
    assert_eq!(counts(&db).await.len(), 21);
    assert!(counts(&db).await.iter().all(|(_, n)| *n == 1));

    // A fresh database reads the whole stream again.
    let fresh = database(dir.path(), "fresh").await;
    let (_stop, stats) = start_consumer(&fresh, &bus);
    wait_for(&stats, "fresh consumer to rebuild all 21", |s| s.handled() == 21).await;
    assert_eq!(counts(&fresh).await, counts(&db).await);
}

#[tokio::test]
async fn a_consumer_restarted_after_a_crash_resumes_at_once_not_after_the_ack_wait() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bus = sikasso_bus(&nats).await;
    let db = database(dir.path(), "crashed").await;
    // An ack wait far longer than the test's patience: if the restarted
    // consumer had to wait for it, the test would time out.
    let ack_wait = Duration::from_secs(600);
    for i in 0..5 {
        publish(&bus, &registered(&format!("before-{i}"))).await;
    }
    let (stop, stats) = start_consumer_with(&db, &bus, ack_wait);
    wait_for(&stats, "the first five handled", |s| s.handled() == 5).await;
    stop.cancel();

    // A process that took ten events and died before acknowledging them.
    for i in 0..10 {
        publish(&bus, &registered(&format!("held-{i}"))).await;
    }
    let durable = durable_of(&db).await;
    let stream = bus.jetstream.get_stream("JIGI_SIKASSO").await.unwrap();
    let consumer: jetstream::consumer::Consumer<pull::Config> = stream.get_consumer(&durable).await.unwrap();
    // Whatever this fetch does not get goes to the stopped consumer's last
    // pull request, open on the server until it hears the subscription is
    // gone (a race the test must not depend on): delivered to a process
    // that is gone, unacknowledged, just the same.
    let mut held = consumer.fetch().max_messages(10).messages().await.unwrap();
    while let Some(message) = held.next().await {
        message.unwrap();
    }
    // (The first five are acknowledged once their ack, sent after their
    // commit, has arrived.)
    eventually(WAIT, "ten events delivered and not acknowledged", || {
        let mut consumer = consumer.clone();
        async move { (consumer.info().await.ok()?.num_ack_pending == 10).then_some(()) }
    })
    .await;

    let (_stop, stats) = start_consumer_with(&db, &bus, ack_wait);
    wait_for(
        &stats,
        "the held events handled without waiting for the ack wait",
        |s| s.handled() == 10,
    )
    .await;
    let counted = counts(&db).await;
    assert_eq!(counted.len(), 15);
    assert!(
        counted.iter().all(|(_, n)| *n == 1),
        "nothing applied twice: {counted:?}"
    );
}

trait EncodeForTest {
    fn encode_to_vec_for_test(&self) -> Vec<u8>;
}

impl EncodeForTest for HouseholdRegistered {
    fn encode_to_vec_for_test(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(self)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_that_wait_for_the_writer_are_applied_together_and_once() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bus = sikasso_bus(&nats).await;
    let db = database(dir.path(), "merged").await;
    let mut settings = counter_settings();
    settings.batch = 10;
    let (stop, stats) = spawn_consumer(&db, &bus, settings, Arc::new(Counter));
    publish(&bus, &registered("h-first")).await;
    wait_for(&stats, "the consumer running", |s| s.handled() == 1).await;
    let before = (stats.batches(), stats.transactions());

    // The writer is held busy while the consumer receives the next batches.
    let (inside, release, holder) = jigi_testkit::hold_writer(&db);
    inside.wait();
    let households: Vec<String> = (0..100).map(|i| format!("h-{i:03}")).collect();
    for household in &households {
        publish(&bus, &registered(household)).await;
    }
    // One batch waits for the writer, at least two more behind it.
    wait_for(&stats, "three batches decoded while the writer is busy", |s| {
        s.batches() >= before.0 + 3
    })
    .await;
    release.wait();
    holder.await.unwrap();
    wait_for(&stats, "all 100 handled", |s| s.handled() == 101).await;
    stop.cancel();
    let (batches, transactions) = (stats.batches() - before.0, stats.transactions() - before.1);
    assert!(
        transactions < batches,
        "{transactions} transactions for {batches} batches"
    );
    let mut expected: Vec<(String, i64)> = households.into_iter().map(|h| (h, 1)).collect();
    expected.push(("h-first".to_owned(), 1));
    assert_eq!(counts(&db).await, expected);
    assert_eq!(stats.duplicates(), 0);
}

/// Messages arriving one at a time while the writer is busy join the batch
/// waiting to be handed over (up to a pull batch), rather than each waiting
/// as a batch of its own: a consumer behind its stream keeps receiving and
/// later commits a few large transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_arriving_while_the_writer_is_busy_join_one_batch() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bus = sikasso_bus(&nats).await;
    let db = database(dir.path(), "joined").await;
    let mut settings = counter_settings();
    settings.batch = 10;
    let (stop, stats) = spawn_consumer(&db, &bus, settings, Arc::new(Counter));
    publish(&bus, &registered("h-first")).await;
    wait_for(&stats, "the consumer running", |s| s.handled() == 1).await;
    let before = (stats.batches(), stats.transactions());

    let (inside, release, holder) = jigi_testkit::hold_writer(&db);
    inside.wait();
    // Each event is decoded alone before the next is published. The
    // applier takes one batch and waits for the writer, four more fill its
    // queue; had each arrival stayed a batch of its own, the sixth would
    // wait to be queued and the seventh never be decoded.
    let households: Vec<String> = (0..12).map(|i| format!("h-{i:03}")).collect();
    for (i, household) in households.iter().enumerate() {
        publish(&bus, &registered(household)).await;
        let decoded = before.0 + i as u64 + 1;
        wait_for(
            &stats,
            &format!("event {} decoded while the writer is busy", i + 1),
            |s| s.batches() == decoded,
        )
        .await;
    }
    assert_eq!(
        stats.transactions(),
        before.1,
        "nothing applied while the writer is busy"
    );
    release.wait();
    holder.await.unwrap();
    wait_for(&stats, "all 12 handled", |s| s.handled() == 13).await;
    stop.cancel();
    let transactions = stats.transactions() - before.1;
    assert!(transactions <= 3, "12 events in {transactions} transactions");
    let mut expected: Vec<(String, i64)> = households.into_iter().map(|h| (h, 1)).collect();
    expected.push(("h-first".to_owned(), 1));
    assert_eq!(counts(&db).await, expected);
}

/// The counter, whose first batch fails to apply once (a disk full for a
/// moment), after the batches behind it have been received.
struct FailsOnce {
    failed: std::sync::atomic::AtomicBool,
}

impl EventHandler for FailsOnce {
    type Effect = String;

    fn decode(&self, event: &ReceivedEvent) -> Result<Option<String>, Rejection> {
        Counter.decode(event)
    }

    fn apply(&self, conn: &mut Conn, events: &[Decoded<String>]) -> Result<(), StorageError> {
        // The counts are written first, so the failure has something to undo.
        Counter.apply(conn, events)?;
        if !self.failed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(StorageError::Unavailable("the disk is full for a moment".into()));
        }
        Ok(())
    }
}

/// Acks are cumulative: a batch applied after one that failed must not
/// ack the failed one's events, or they would never come back.
#[tokio::test]
async fn a_batch_that_fails_comes_back_and_no_later_ack_covers_it() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bus = sikasso_bus(&nats).await;
    let households: Vec<String> = (0..60).map(|i| format!("h-{i:02}")).collect();
    for household in &households {
        publish(&bus, &registered(household)).await;
    }
    let db = database(dir.path(), "fails-once").await;
    let mut settings = counter_settings();
    settings.batch = 10;
    let handler = Arc::new(FailsOnce {
        failed: std::sync::atomic::AtomicBool::new(false),
    });
    let (stop, stats) = spawn_consumer(&db, &bus, settings, handler.clone());

    wait_for(&stats, "all 60 handled", |s| s.handled() == 60).await;
    stop.cancel();
    assert!(
        handler.failed.load(std::sync::atomic::Ordering::SeqCst),
        "a batch failed"
    );
    let expected: Vec<(String, i64)> = households.into_iter().map(|h| (h, 1)).collect();
    assert_eq!(counts(&db).await, expected, "each event applied once, none lost");
}

/// A consumer made by an older version acked each message; it is made anew
/// to ack cumulatively, from where it stood, without applying anything twice.
#[tokio::test]
async fn a_consumer_acking_each_message_is_recreated_to_ack_cumulatively() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bus = sikasso_bus(&nats).await;
    let db = database(dir.path(), "upgraded").await;
    for i in 0..5 {
        publish(&bus, &registered(&format!("before-{i}"))).await;
    }
    let (stop, stats) = start_consumer(&db, &bus);
    wait_for(&stats, "the first five handled", |s| s.handled() == 5).await;
    stop.cancel();

    // The same durable consumer as an older version made it: explicit acks,
    // the first five acked.
    let durable = durable_of(&db).await;
    let stream = bus.jetstream.get_stream("JIGI_SIKASSO").await.unwrap();
    stream.delete_consumer(&durable).await.unwrap();
    stream
        .create_consumer(pull::Config {
            durable_name: Some(durable.clone()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            filter_subject: "jigi.sikasso.registry.>".into(),
            deliver_policy: jetstream::consumer::DeliverPolicy::ByStartSequence { start_sequence: 6 },
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..5 {
        publish(&bus, &registered(&format!("after-{i}"))).await;
    }

    let (_stop, stats) = start_consumer(&db, &bus);
    wait_for(&stats, "the five new events handled", |s| s.handled() == 5).await;
    let counted = counts(&db).await;
    assert_eq!(counted.len(), 10);
    assert!(
        counted.iter().all(|(_, n)| *n == 1),
        "nothing applied twice: {counted:?}"
    );
    let mut consumer: jetstream::consumer::Consumer<pull::Config> = stream.get_consumer(&durable).await.unwrap();
    let info = consumer.info().await.unwrap();
    assert_eq!(info.config.ack_policy, jetstream::consumer::AckPolicy::All);
    eventually(WAIT, "every message acked", || {
        let stream = stream.clone();
        let durable = durable.clone();
        async move {
            let mut consumer: jetstream::consumer::Consumer<pull::Config> = stream.get_consumer(&durable).await.ok()?;
            let info = consumer.info().await.ok()?;
            (info.num_ack_pending == 0 && info.ack_floor.stream_sequence == 10).then_some(())
        }
    })
    .await;
}

/// Deliveries lost on the way (here: taken by another client of the same
/// consumer, as messages in flight are lost when a connection drops) leave a
/// gap in the consumer's delivery numbers: a cumulative ack past the gap
/// would lose them, so the consumer resumes from its last ack instead.
#[tokio::test]
async fn a_delivery_lost_on_the_way_is_not_acked_past() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bus = sikasso_bus(&nats).await;
    let db = database(dir.path(), "gap").await;
    let mut settings = counter_settings();
    settings.batch = 10;
    // Far longer than the test: nothing comes back by the ack wait.
    settings.ack_wait = Duration::from_secs(600);
    let (stop, stats) = spawn_consumer(&db, &bus, settings, Arc::new(Counter));
    publish(&bus, &registered("h-first")).await;
    wait_for(&stats, "the consumer running", |s| s.handled() == 1).await;

    // Another client asks the same consumer for five messages, and never
    // acks them: they are delivered, and lost to the inbox.
    let durable = durable_of(&db).await;
    let other = Bus::connect(&BusConfig::new(nats.url(), "other")).await.unwrap();
    let stream = other.jetstream.get_stream("JIGI_SIKASSO").await.unwrap();
    let shared: jetstream::consumer::Consumer<pull::Config> = stream.get_consumer(&durable).await.unwrap();
    // A pull that waits for its five (`batch`, not `fetch`: a fetch answers
    // at once when nothing is pending yet), and a flush so the server holds
    // the request before the events come: pulls are served in the order
    // they arrive, so this one gets its share.
    let mut taken = shared
        .batch()
        .max_messages(5)
        .expires(Duration::from_secs(10))
        .messages()
        .await
        .unwrap();
    other.client.flush().await.unwrap();
    let households: Vec<String> = (0..60).map(|i| format!("h-{i:02}")).collect();
    for household in &households {
        publish(&bus, &registered(household)).await;
    }
    let mut lost = 0;
    while let Some(message) = taken.next().await {
        message.unwrap();
        lost += 1;
    }
    assert!(lost > 0, "the other client took some deliveries");

    wait_for(&stats, "all 61 handled, the lost ones too", |s| s.handled() == 61).await;
    stop.cancel();
    let mut expected: Vec<(String, i64)> = households.into_iter().map(|h| (h, 1)).collect();
    expected.push(("h-first".to_owned(), 1));
    assert_eq!(counts(&db).await, expected, "each event applied once, none lost");
}

/// Writes inbox records by hand, `processed_at` as given, in the order
/// given (the order a consumer would have written them).
async fn record_by_hand(db: &Database, records: Vec<(&'static str, String, String)>) {
    db.write(move |conn| {
        for chunk in records.chunks(500) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${}, 'handled', ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
                .collect();
            let values: Vec<&dyn jigi_storage::ToSql> = chunk
                .iter()
                .flat_map(|(consumer, id, at)| [consumer as &dyn jigi_storage::ToSql, id, at])
                .collect();
            conn.execute(
                &format!(
                    "INSERT INTO inbox_events (consumer, event_id, outcome, processed_at) VALUES {}",
                    rows.join(", ")
                ),
                &values,
            )?;
        }
        Ok::<_, StorageError>(())
    })
    .await
    .unwrap();
}

async fn recorded_ids(db: &Database, consumer: &'static str) -> Vec<String> {
    db.read(move |conn| {
        conn.query(
            "SELECT event_id FROM inbox_events WHERE consumer = $1 ORDER BY event_id",
            params![consumer],
        )?
        .iter()
        .map(|row| row.get(0))
        .collect::<Result<Vec<String>, StorageError>>()
    })
    .await
    .unwrap()
}

/// The inbox holds a window of events, not every event ever: records older
/// than the consumer keeps are deleted a slice at a time as batches come
/// (a consumer's that no longer runs too), while a recent record still
/// makes its event's duplicate a duplicate.
/// Runs on PostgreSQL too (`scripts/test-postgres`).
#[tokio::test]
async fn records_older_than_kept_are_pruned_and_recent_ones_still_skip_duplicates() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = open(&jigi_testkit::database_url(dir.path(), "pruning").await).await;
    let bus = sikasso_bus(&nats).await;

    // 25,000 of the counter's records from 2018 (more than two pruning
    // slices), three of a consumer that no longer runs, then one of the
    // counter's from yesterday: the event `duplicate` is about to come again.
    let long_ago = "2018-10-01T08:00:00.000000Z".to_owned();
    let yesterday = jigi_storage::timestamp::format(chrono::Utc::now() - chrono::Duration::days(1));
    let duplicate = registered("h-dup");
    let mut records: Vec<(&'static str, String, String)> = (0..25_000)
        .map(|i| ("counter", format!("old-{i:05}"), long_ago.clone()))
        .collect();
    records.extend((0..3).map(|i| ("other", format!("old-{i}"), long_ago.clone())));
    records.push(("counter", duplicate.id.clone(), yesterday));
    record_by_hand(&db, records).await;

    let mut settings = counter_settings();
    settings.keep_processed = Duration::from_secs(7 * 24 * 3600);
    let (_stop, stats) = spawn_consumer(&db, &bus, settings, Arc::new(Counter));
    // One event at a time, so each comes in a batch of its own and each
    // batch is followed by a pruning slice.
    let (first, second) = (registered("h-1"), registered("h-2"));
    publish(&bus, &duplicate).await;
    wait_for(&stats, "the duplicate skipped", |s| s.duplicates() == 1).await;
    for (expected, event) in [(1, &first), (2, &second)] {
        publish(&bus, event).await;
        wait_for(&stats, "the event handled", |s| s.handled() == expected).await;
    }
    wait_for(&stats, "every old record pruned", |s| s.pruned() == 25_003).await;

    let mut kept = vec![duplicate.id.clone(), first.id.clone(), second.id.clone()];
    kept.sort();
    assert_eq!(recorded_ids(&db, "counter").await, kept);
    assert!(recorded_ids(&db, "other").await.is_empty());
    assert_eq!(counts(&db).await, [("h-1".to_owned(), 1), ("h-2".to_owned(), 1)]);
    assert_eq!(stats.pruned(), 25_003, "nothing pruned twice");
}
