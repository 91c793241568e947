//! What other systems that subscribe to Jigi's events get, beside the
//! protobuf events themselves (which [`jigi_bus`] publishes):
//!
//! - [`json`]: an event as a CloudEvent in structured JSON, for subscribers
//!   without protobuf (and for `jigi events tail --json`);
//! - [`mirror`]: the national stream republished as JSON to `JIGI_JSON`;
//! - [`partners`]: partners' durable consumers, filtered to what they may
//!   see (`jigi partners` is its operator's command);
//! - [`asyncapi`]: the AsyncAPI document of the events, generated from the
//!   catalog and the protos, and checked against `proto/asyncapi.json`.

pub mod asyncapi;
pub mod json;
pub mod mirror;
pub mod partners;

pub use json::JsonRenderer;
pub use mirror::JsonMirror;
