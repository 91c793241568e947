//! Jigi's application layer: what is built *from* the services, for people
//! and for tests to run them together.
//!
//! - [`stack`]: a local Jigi shaped as deployed — the national NATS hub, a
//!   leaf node per region (`jigi_localnats::topology`, from the deployment's
//!   own files), each region's services ([`stack::RegionNode`]) and the
//!   national monitoring ([`stack::LocalStack`]);
//! - [`quarter`]: the programme-quarter driver — households registered,
//!   targeted and enrolled, a TM cycle paid, a PNP round distributed —
//!   calling the services only through their public contract;
//! - [`national`]: what the national monitoring reports, set beside what
//!   the quarter did;
//! - [`staff`]: the people a quarter needs, each with a token of their own;
//! - [`clients`]: clients carrying trace context and tokens, and the
//!   one-line error a person reads;
//! - [`progress`]: progress bars on a terminal.
//!
//! `jigi demo` and `jigi up`, the end-to-end tests and the benchmarks all
//! run this same code: dependencies run one way, from here down to the
//! services and the libraries, never back up.

pub mod clients;
pub mod displaced;
pub mod national;
pub mod progress;
pub mod quarter;
pub mod stack;
pub mod staff;

pub use stack::{LocalStack, RegionNode, Shared, StackAccess, Telemetry};
