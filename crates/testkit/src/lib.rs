//! Real parts for tests, so no test needs a mock of NATS, a database or gRPC:
//!
//! - [`NatsServer`]: a real `nats-server` with JetStream on a free port and
//!   its own store directory, which a test can stop, restart or kill;
//! - [`TempDir`] databases: [`sqlite_url`] gives each test its own file;
//! - [`eventually`]: waits for a condition with a deadline (never a bare sleep);
//!   [`hold_writer`]: a database's writer held busy until released;
//! - [`connect_channel`]: a gRPC channel to a server a test started on port 0;
//! - [`OtlpReceiver`]: a real OTLP/gRPC trace receiver, to check what services export;
//! - [`TestAccess`]: access control on, as deployed: a throw-away key the
//!   services trust and a token per role ([`connect_as`]);
//! - [`ServiceProcess`]: a service's own binary, to kill and restart;
//!   [`SmallDisk`]: a tmpfs to fill under it; [`http_get`] for its `/metrics`;
//! - [`households`]: members and households registered (and enrolled) in a
//!   real registry, as the tests of the services that follow it need them;
//! - [`status`]: what a refusal says ([`precondition`], [`bad_fields`]);
//! - [`published_events`]: a service's events once its outbox is relayed;
//! - [`bare_batches`]: a stream read as well as it can be, the baseline of
//!   the consumption benchmarks.
//!
//! Services build their own `spawn_app()` from these in their `tests/` folder.

mod access;
mod bare;
mod disk;
pub mod households;
mod http;
mod nats;
mod otlp;
mod process;
mod proxy;
pub mod status;
mod tls;
mod wait;
mod writer;

use std::net::SocketAddr;
use std::path::Path;

pub use access::{AuthedChannel, Bearer, TestAccess, connect_as};
pub use bare::bare_batches;
pub use disk::SmallDisk;
pub use http::{HttpAnswer, http_get, metric_value};
pub use jigi_localnats::free_port;
pub use nats::NatsServer;
pub use otlp::{OtlpReceiver, ReceivedSpan};
pub use process::{ServiceProcess, serves, workspace_binary};
pub use proxy::TcpProxy;
pub use status::{bad_fields, precondition};
pub use tempfile::TempDir;
pub use tls::ServerTls;
pub use wait::eventually;
pub use writer::hold_writer;

/// A SQLite database URL for a file in `dir`.
pub fn sqlite_url(dir: &Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(format!("{name}.db")).display())
}

/// A connected gRPC channel to `addr`, with the large message limits that
/// bulk imports need left to the client, and no Nagle delay.
pub async fn connect_channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("a socket address is a valid URI")
        .tcp_nodelay(true)
        .connect()
        .await
        .unwrap_or_else(|err| panic!("cannot connect to gRPC server at {addr}: {err}"))
}

/// Installs test logging and tracing (once per test binary).
pub fn init_tracing() {
    jigi_telemetry::init_for_tests();
}

/// Every message of a JetStream stream, in order (an ordered consumer, so
/// it changes nothing on the server).
pub async fn read_stream(
    jetstream: &async_nats::jetstream::Context,
    stream: &str,
) -> Vec<async_nats::jetstream::Message> {
    use async_nats::jetstream::consumer::pull::OrderedConfig;
    use tokio_stream::StreamExt;

    let mut stream = jetstream
        .get_stream(stream)
        .await
        .unwrap_or_else(|err| panic!("stream {stream} should exist: {err}"));
    let count = stream.info().await.expect("stream info").state.messages as usize;
    if count == 0 {
        return Vec::new();
    }
    let consumer = stream
        .create_consumer(OrderedConfig::default())
        .await
        .expect("ordered consumer");
    let mut messages = consumer.messages().await.expect("message stream").take(count);
    let mut read = Vec::with_capacity(count);
    while let Some(message) = messages.next().await {
        read.push(message.expect("message"));
    }
    read
}

/// The number of messages in a stream (0 if it does not exist yet).
pub async fn stream_len(jetstream: &async_nats::jetstream::Context, stream: &str) -> u64 {
    match jetstream.get_stream(stream).await {
        Ok(mut stream) => stream.info().await.map(|info| info.state.messages).unwrap_or(0),
        Err(_) => 0,
    }
}

/// Waits, up to `wait`, until `database`'s outbox is empty and `stream`
/// holds at least `count` events of `service` (`jigi.<region>.<service>.…`);
/// returns them in stream order, checking that there are exactly `count`.
pub async fn published_events(
    jetstream: &async_nats::jetstream::Context,
    database: &jigi_storage::Database,
    stream: &str,
    service: &str,
    count: usize,
    wait: std::time::Duration,
) -> Vec<jigi_bus::ReceivedEvent> {
    let of_service = |messages: Vec<async_nats::jetstream::Message>| -> Vec<jigi_bus::ReceivedEvent> {
        messages
            .iter()
            .filter(|m| m.subject.as_str().split('.').nth(2) == Some(service))
            .map(|m| jigi_bus::ReceivedEvent::from_jetstream(m).expect("a valid CloudEvent"))
            .collect()
    };
    eventually(wait, &format!("{count} {service} events published"), || async move {
        let pending = jigi_bus::outbox::pending(database).await.ok()?;
        if stream_len(jetstream, stream).await == 0 {
            // Not created yet (the relay creates it before its first publish).
            return None;
        }
        let published = of_service(read_stream(jetstream, stream).await).len();
        (pending == 0 && published >= count).then_some(())
    })
    .await;
    let events = of_service(read_stream(jetstream, stream).await);
    assert_eq!(events.len(), count, "exactly {count} {service} events");
    events
}

/// A database URL for a test: SQLite in `dir` by default; with
/// `JIGI_TEST_POSTGRES` set (e.g. `postgres://postgres@127.0.0.1:5432`), a
/// PostgreSQL database of the test's own on that server (named after `dir`
/// and `name`, so asking twice gives the same database, as a restart needs),
/// so the same tests prove the SQL portable.
pub async fn database_url(dir: &Path, name: &str) -> String {
    match std::env::var("JIGI_TEST_POSTGRES") {
        Ok(server) if !server.is_empty() => {
            use std::hash::{Hash, Hasher};
            let server = server.trim_end_matches('/');
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            dir.hash(&mut hasher);
            let slug: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            let database = format!("jigi_{slug}_{:016x}", hasher.finish());
            let admin_url = format!("{server}/postgres");
            let name = database.clone();
            tokio::task::spawn_blocking(move || {
                let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
                    .unwrap_or_else(|err| panic!("cannot reach PostgreSQL at {admin_url}: {err}"));
                let exists = admin
                    .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
                    .expect("look up the test database")
                    .is_some();
                if !exists {
                    admin
                        .batch_execute(&format!("CREATE DATABASE {name}"))
                        .expect("create the test database");
                }
            })
            .await
            .expect("the PostgreSQL set-up task");
            format!("{server}/{database}")
        }
        _ => sqlite_url(dir, name),
    }
}
