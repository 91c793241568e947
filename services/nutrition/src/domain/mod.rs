//! The nutrition service's rules, as plain types and functions with no I/O,
//! so each rule can be tested on its own:
//!
//! - [`model`]: rounds, groups, rations, warehouses, quantities;
//! - [`eligibility`]: who the PNP feeds on a given date, and why not;
//! - [`stock`]: drawing rations from lots, earliest expiry first (FEFO),
//!   never below zero and never from an expired lot;
//! - [`validate`]: the checks commands share (dates, places, codes, quantities).
//!
//! Requests are turned into these values by `grpc::parse`.

pub mod eligibility;
pub mod model;
pub mod stock;
pub mod validate;
