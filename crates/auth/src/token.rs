//! Verifying a bearer token: a compact JWS (RFC 7515) whose claims say who
//! calls, with which roles, where.
//!
//! What is checked, in order: the size and shape; the algorithm (EdDSA or
//! RS256 only, and it must be the algorithm of the key the token names); the
//! signature; then the claims: `exp` (required), `aud` (must name Jigi's
//! audience), `iss` (when one is configured), `exp` and `nbf` against the
//! time, `sub`. The signature, `aud` and `iss` are `jsonwebtoken`'s checks;
//! the claims' meaning for Jigi (roles, regions) is read here.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jigi_common::Region;
use jsonwebtoken::Validation;
use jsonwebtoken::errors::ErrorKind;
use serde::Deserialize;

use crate::keys::{Algorithm, KeySet};
use crate::{Identity, Role, Scope};

/// Longer tokens are refused before any work: a real one is well under 2 KiB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// What a token must say to be accepted.
#[derive(Debug, Clone)]
pub struct Expectations {
    /// The audience Jigi's tokens carry (`aud`), e.g. `jigi`.
    pub audience: String,
    /// The issuer (`iss`) to insist on, when known.
    pub issuer: Option<String>,
    /// Clock difference tolerated between the issuer and this server, in seconds.
    pub leeway_seconds: u64,
}

impl Default for Expectations {
    fn default() -> Expectations {
        Expectations {
            audience: crate::AUDIENCE.to_owned(),
            issuer: None,
            leeway_seconds: 60,
        }
    }
}

/// Why a token was refused. Clients see [`TokenError::public_reason`] only:
/// enough to fix their side, nothing about the server's keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token")]
    Missing,
    #[error("the token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLarge,
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    #[error("the token is signed with {0:?}; only EdDSA and RS256 are accepted")]
    Algorithm(String),
    #[error("no key for the token (kid {0:?})")]
    UnknownKey(Option<String>),
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is not meant for Jigi (aud)")]
    Audience,
    #[error("the token comes from another issuer (iss)")]
    Issuer,
    #[error("the token's claims are invalid: {0}")]
    Claims(String),
    #[error("the identity provider's keys are not available yet")]
    NoKeys,
}

impl TokenError {
    /// What the client is told.
    pub fn public_reason(&self) -> String {
        self.to_string()
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    /// `crit` names extensions the verifier must understand; Jigi knows none.
    crit: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    exp: Option<f64>,
    nbf: Option<f64>,
    jti: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    /// Where Keycloak puts realm roles.
    realm_access: Option<RealmAccess>,
    #[serde(default)]
    regions: Vec<String>,
    agent_code: Option<String>,
}

#[derive(Deserialize)]
struct RealmAccess {
    #[serde(default)]
    roles: Vec<String>,
}

/// A token that passed every check.
pub(crate) struct Verified {
    pub identity: Identity,
    /// Its `exp`, in whole seconds since the Unix epoch.
    pub expires_at: u64,
}

/// Verifies `token` against `keys` at `now` (seconds since the Unix epoch).
pub fn verify(token: &str, keys: &KeySet, expect: &Expectations, now: u64) -> Result<Identity, TokenError> {
    check(token, keys, expect, now).map(|verified| verified.identity)
}

pub(crate) fn check(token: &str, keys: &KeySet, expect: &Expectations, now: u64) -> Result<Verified, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge);
    }
    // The header is read here first: jsonwebtoken would refuse an unknown
    // `alg` or a `crit` too, but not say which, and the key is chosen from it.
    let mut parts = token.split('.');
    let (Some(header_b64), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed("a token has three parts separated by dots"));
    };
    let header: Header = URL_SAFE_NO_PAD
        .decode(header_b64)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(TokenError::Malformed("the header is not base64url JSON"))?;
    if header.crit.is_some() {
        return Err(TokenError::Malformed("critical header extensions are not supported"));
    }
    let alg = Algorithm::from_header(&header.alg).ok_or_else(|| TokenError::Algorithm(header.alg.clone()))?;
    if keys.is_empty() {
        return Err(TokenError::NoKeys);
    }
    let key = keys
        .find(alg, header.kid.as_deref())
        .ok_or_else(|| TokenError::UnknownKey(header.kid.clone()))?;

    // The key's algorithm, and only it; the signature, then `exp` present,
    // `aud` and `iss`. The times are compared below against `now` rather than
    // jsonwebtoken's own clock, so the verified-token cache and this check
    // read the same time.
    let mut validation = Validation::new(alg.jwt());
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_audience(&[&expect.audience]);
    let mut required = vec!["exp", "aud"];
    if let Some(issuer) = &expect.issuer {
        validation.set_issuer(&[issuer]);
        required.push("iss");
    }
    validation.set_required_spec_claims(&required);
    let claims = jsonwebtoken::decode::<Claims>(token, key.decoding_key(), &validation)
        .map_err(|err| refusal(err.into_kind(), &header.alg))?
        .claims;
    let expires_at = check_time(&claims, expect, now)?;
    Ok(Verified {
        identity: identity(claims)?,
        expires_at,
    })
}

/// What a refusal from jsonwebtoken means here.
fn refusal(kind: ErrorKind, alg: &str) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat
        | ErrorKind::Signing(_) => TokenError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => TokenError::Algorithm(alg.to_owned()),
        ErrorKind::InvalidAudience => TokenError::Audience,
        ErrorKind::InvalidIssuer => TokenError::Issuer,
        ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => match claim.as_str() {
            "aud" => TokenError::Audience,
            "iss" => TokenError::Issuer,
            _ => TokenError::Claims(format!("{claim} is required, as a number of seconds")),
        },
        ErrorKind::Base64(_) => TokenError::Malformed("a part of the token is not base64url"),
        ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
            TokenError::Malformed("the claims are not JSON of the expected shape")
        }
        _ => TokenError::Malformed("the token is not a compact JWS"),
    }
}

/// Checks `exp` and `nbf`, with the leeway; gives `exp`.
fn check_time(claims: &Claims, expect: &Expectations, now: u64) -> Result<u64, TokenError> {
    let now = now as f64;
    let leeway = expect.leeway_seconds as f64;
    let exp = claims.exp.ok_or_else(|| TokenError::Claims("exp is required".into()))?;
    if !exp.is_finite() || exp + leeway < now {
        return Err(TokenError::Expired);
    }
    if let Some(nbf) = claims.nbf
        && (!nbf.is_finite() || nbf - leeway > now)
    {
        return Err(TokenError::NotYetValid);
    }
    // Whole seconds, rounded down: a cached token never outlives its `exp`.
    Ok(exp as u64)
}

fn identity(claims: Claims) -> Result<Identity, TokenError> {
    let subject = claims.sub.unwrap_or_default();
    if subject.is_empty() || subject.len() > 200 || subject.chars().any(char::is_control) {
        return Err(TokenError::Claims("sub must be 1 to 200 printable characters".into()));
    }
    // Identity providers add roles of their own (offline_access…): the
    // programme's roles are picked out, the rest ignored.
    let names = claims
        .roles
        .iter()
        .chain(claims.realm_access.iter().flat_map(|access| access.roles.iter()));
    let roles: BTreeSet<Role> = names.filter_map(|name| name.parse().ok()).collect();
    let scope = if claims.regions.iter().any(|region| region == crate::NATIONAL) {
        Scope::National
    } else {
        let regions = claims
            .regions
            .iter()
            .map(|slug| {
                slug.parse::<Region>()
                    .map_err(|_| TokenError::Claims(format!("unknown region {slug:?} in regions")))
            })
            .collect::<Result<BTreeSet<Region>, TokenError>>()?;
        Scope::Regions(regions)
    };
    let agent_code = claims.agent_code.filter(|code| !code.is_empty());
    Ok(Identity {
        subject,
        roles,
        scope,
        agent_code,
        token_id: claims.jti,
    })
}
