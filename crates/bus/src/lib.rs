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
//! - [`outbox`]: a service writes its change and its events in one database
//!   transaction; the relay publishes them and waits for JetStream's ack, so a
//!   crash loses nothing and a repeat is dropped by the server;
//! - [`inbox`]: a durable pull consumer that records each handled event ID in
//!   the transaction of the change it made and acks only after commit, so a
//!   redelivered event changes nothing;
//! - [`connection`]: connecting to NATS the same way everywhere;
//! - [`json`]: an event as a CloudEvent in structured JSON, for subscribers
//!   without protobuf, and [`mirror`]: the national stream republished as
//!   JSON to `JIGI_JSON`;
//! - [`partners`]: partners' durable consumers, filtered to what they may see
//!   (`jigi partners` is its operator's command);
//! - [`asyncapi`]: the AsyncAPI document of the events, generated from the catalog.

pub mod asyncapi;
pub mod catalog;
pub mod connection;
pub mod envelope;
pub mod inbox;
pub mod json;
pub mod mirror;
pub mod outbox;
pub mod partners;
pub mod streams;
pub mod subject;

pub use catalog::{DomainEvent, EventKind};
pub use connection::{Bus, BusConfig};
pub use envelope::{OutgoingEvent, ReceivedEvent};
pub use inbox::{ConsumerSettings, EventHandler, HandlerError};
pub use json::JsonRenderer;
pub use mirror::JsonMirror;
pub use outbox::{Outbox, OutboxRelay};
