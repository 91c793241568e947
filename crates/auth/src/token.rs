//! Verifying a bearer token: a compact JWS (RFC 7515) whose claims say who
//! calls, with which roles, where.
//!
//! What is checked, in order: the size and shape; the algorithm (EdDSA or
//! RS256 only, and it must be the algorithm of the key the token names); the
//! signature; then the claims: `exp` (required), `nbf`, `aud` (must name
//! Jigi's audience), `iss` (when one is configured), `sub`.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jigi_common::Region;
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
    iss: Option<String>,
    aud: Option<Audience>,
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
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct RealmAccess {
    #[serde(default)]
    roles: Vec<String>,
}

/// Verifies `token` against `keys` at `now` (seconds since the Unix epoch).
pub fn verify(token: &str, keys: &KeySet, expect: &Expectations, now: u64) -> Result<Identity, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("a token has three parts separated by dots"));
    };
    let header: Header = decode_json(header_b64).ok_or(TokenError::Malformed("the header is not base64url JSON"))?;
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
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| TokenError::Malformed("the signature is not base64url"))?;
    let signed = &token[..header_b64.len() + 1 + claims_b64.len()];
    if !key.verifies(signed.as_bytes(), &signature) {
        return Err(TokenError::BadSignature);
    }
    let claims: Claims = decode_json(claims_b64).ok_or(TokenError::Malformed("the claims are not base64url JSON"))?;
    check_time(&claims, expect, now)?;
    check_audience_and_issuer(&claims, expect)?;
    identity(claims)
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn check_time(claims: &Claims, expect: &Expectations, now: u64) -> Result<(), TokenError> {
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
    Ok(())
}

fn check_audience_and_issuer(claims: &Claims, expect: &Expectations) -> Result<(), TokenError> {
    let audience_ok = match &claims.aud {
        Some(Audience::One(aud)) => *aud == expect.audience,
        Some(Audience::Many(auds)) => auds.contains(&expect.audience),
        None => false,
    };
    if !audience_ok {
        return Err(TokenError::Audience);
    }
    if let Some(issuer) = &expect.issuer
        && claims.iss.as_ref() != Some(issuer)
    {
        return Err(TokenError::Issuer);
    }
    Ok(())
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
