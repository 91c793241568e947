//! The monitoring's rules, with no I/O:
//!
//! - [`indicators`]: the programme's indicators and how rates are derived;
//! - [`budget`]: the PTBA's lines, expenditure entries and funders;
//! - [`freshness`]: whether a region is live or silent, and its lag;
//! - [`dhis2`]: the mapping to DHIS2 and the data value set document;
//! - [`rounds`]: PNP rounds' figures, state and reconciliation.

pub mod budget;
pub mod dhis2;
pub mod freshness;
pub mod indicators;
pub mod rounds;
