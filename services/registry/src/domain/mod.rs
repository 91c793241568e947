//! The registry's rules, as plain types and functions with no I/O and no
//! wire types, so each rule can be tested on its own:
//!
//! - [`model`]: households and members as the registry holds them;
//! - [`validate`]: the rules a valid household and its members follow (the
//!   gRPC layer reads requests into them, naming every bad field);
//! - [`identity`]: the keys that find a household registered twice;
//! - [`linkage`]: keyed pseudonyms (match keys) for the national linkage index;
//! - [`pmt`]: the proxy means test that targets the poorest households;
//! - [`enrolment`]: entering and leaving the programme's components;
//! - [`transfer`]: continuing the enrolments of a household that moved here.

pub mod enrolment;
pub mod identity;
pub mod linkage;
pub mod model;
pub mod pmt;
pub mod transfer;
pub mod validate;
