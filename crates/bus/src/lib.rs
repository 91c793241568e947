//! Jigi's event bus: how services tell each other, and the world, what happened.
//!
//! Everything a service publishes goes through this crate, so the rules of
//! DESIGN.md are implemented once:
//!
//! - [`catalog`]: every event type Jigi publishes, its subject and CloudEvents
//!   type, tied to its protobuf message ([`DomainEvent`]);
//! - [`subject`]: `jigi.<region>.<service>.<entity>.<event>` and stream names;
//! - [`streams`]: one stream per region, and the national stream that sources
//!   them all (across JetStream domains when regions are leaf nodes);
//! - [`envelope`]: CloudEvents 1.0 in binary mode over NATS headers, with
//!   `Nats-Msg-Id = ce-id` and W3C trace context;
//! - [`outbox`]: a command writes its change and its events in one
//!   transaction; the relay publishes them and waits for JetStream's ack, so
//!   a crash loses nothing and a repeat is dropped by the server;
//! - [`inbox`]: a durable pull consumer that applies a batch of events in
//!   one transaction, recording each event ID with it, and acks only after
//!   commit, so a redelivered event changes nothing;
//! - [`registry`]: the registry's events decoded and checked once for the
//!   services that project them (a household's ID and location, a member);
//! - [`linkage`]: the restricted subjects and streams of national linkage
//!   (match keys, suspected duplicates), outside the public catalog;
//! - [`connection`]: connecting to NATS the same way everywhere.
//!
//! What subscribers outside Jigi get on top (JSON, partners' consumers, the
//! AsyncAPI document) is `jigi-subscribers`.

pub mod catalog;
pub mod connection;
pub mod envelope;
pub mod inbox;
pub mod linkage;
pub mod outbox;
pub mod registry;
pub mod streams;
pub mod subject;

pub use catalog::{DomainEvent, EventKind};
pub use connection::{Bus, BusConfig};
pub use envelope::{OutgoingEvent, ReceivedEvent};
pub use inbox::{ConsumerSettings, Decoded, EventHandler, EventMeta, InboxConsumer, Rejection};
pub use outbox::OutboxRelay;
