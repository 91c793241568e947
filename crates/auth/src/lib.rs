//! Who is calling, and what they may do.
//!
//! - [`role`]: the programme's roles (field agent, payment approver…);
//! - [`identity`]: a verified caller: subject, roles, region scope;
//! - [`keys`]: public keys from a JSON Web Key Set, EdDSA and RS256 only;
//! - [`token`]: checking a bearer token's signature and claims (the JOSE
//!   part is the `jsonwebtoken` crate's), and what the claims mean here;
//! - [`verifier`]: the key set kept fresh from a file or an identity
//!   provider's URL, cached so a region outlives an outage of the capital,
//!   and verified tokens remembered until they expire;
//! - [`policy`]: the access rule of each RPC and the decision;
//! - [`issuer`]: tokens from a local key, for `jigi token`, demos and tests.
//!
//! Applying all this to every gRPC call is `jigi-server`'s access layer;
//! this crate does no I/O but reading keys.

mod cache;
pub mod identity;
pub mod issuer;
pub mod keys;
pub mod policy;
pub mod role;
pub mod token;
pub mod verifier;

pub use identity::{Identity, Scope};
pub use issuer::{Grant, LocalIssuer};
pub use keys::KeySet;
pub use policy::{Denied, Kind, RegionCheck, Rule, ServiceArea, authorize};
pub use role::Role;
pub use token::{Expectations, TokenError};
pub use verifier::{KeySource, Verifier};

/// The audience (`aud`) Jigi's tokens carry.
pub const AUDIENCE: &str = "jigi";
/// The scope of national callers, in tokens' `regions` and in the audit log.
pub const NATIONAL: &str = "national";
