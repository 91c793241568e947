//! The activities service's rules, as plain types and functions with no
//! I/O, so each rule can be tested on its own:
//!
//! - [`model`]: places, people and households as the registry's events
//!   describe them, and a refusal;
//! - [`ma`]: accompanying measures: who may attend a session, age groups,
//!   the households to follow up;
//! - [`agr`]: income-generating activities: grant tranches and follow-up visits;
//! - [`himo`]: labour-intensive works: a site's life, its workers, attendance
//!   and the wage cap.
//!
//! - [`validate`]: the checks every command shares (dates, places, codes, IDs).
//!
//! Requests are turned into these values by `grpc::parse`.

pub mod agr;
pub mod himo;
pub mod ma;
pub mod model;
pub mod validate;
