//! How a service's API is protected, the same for every service: who may
//! call (tokens checked against an identity provider's keys), TLS, a
//! per-caller limit on writes, and a time limit per call.
//!
//! | Setting (`JIGI_…`)           | Meaning |
//! |------------------------------|---------|
//! | `AUTH_JWKS_FILE`             | A JWKS file holding the token-signing keys (re-read every 5 minutes). |
//! | `AUTH_JWKS_URL`              | The identity provider's `jwks_uri` instead, fetched and cached. |
//! | `AUTH_JWKS_CACHE`            | Where the last good copy of the URL's keys is kept (default: next to the database). |
//! | `AUTH_ISSUER`                | The `iss` tokens must carry (unchecked when unset). |
//! | `AUTH_AUDIENCE`              | The `aud` tokens must carry (default `jigi`). |
//! | `AUTH`                       | `off` serves without access control: for a closed test network only. |
//! | `TLS_CERT`, `TLS_KEY`        | PEM certificate chain and key: the API is then served over TLS only. |
//! | `WRITE_RATE_PER_SECOND`      | Commands a caller may make per second, on average (default 50; 0: no limit). |
//! | `WRITE_BURST`                | Commands a caller may make at once above that rate (default 200). |
//! | `REQUEST_TIMEOUT_SECONDS`    | The longest a call may take before `DEADLINE_EXCEEDED` (default 60). |
//!
//! A service refuses to start with neither a key source nor `AUTH=off`:
//! forgetting to configure identity must not open the registry to anyone.

use std::path::PathBuf;
use std::time::Duration;

use jigi_auth::{Expectations, KeySource};

use jigi_settings::{ConfigError, Settings, variable};

/// Whether and how callers are identified.
#[derive(Debug, Clone)]
pub enum AccessSettings {
    /// No tokens: every call is admitted and audited as `anonymous`.
    Off,
    /// Every call (health and reflection aside) needs a valid token.
    Tokens { keys: KeySource, expect: Expectations },
}

/// A limit on commands per caller: a token bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriteLimit {
    pub per_second: f64,
    pub burst: f64,
}

/// The PEM files of the API's TLS identity.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Everything about how the API is served that is not the API itself.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub access: AccessSettings,
    pub tls: Option<TlsFiles>,
    pub write_limit: Option<WriteLimit>,
    pub request_timeout: Duration,
}

impl ServeConfig {
    /// For tests and the local stack: no tokens, no TLS, no write limit.
    pub fn local() -> ServeConfig {
        ServeConfig {
            access: AccessSettings::Off,
            tls: None,
            write_limit: None,
            request_timeout: Duration::from_secs(60),
        }
    }

    /// Reads the settings; `data_dir` is where a URL's keys are cached by default.
    pub fn from_settings(settings: &Settings, data_dir: &std::path::Path) -> Result<ServeConfig, ConfigError> {
        let invalid = |key: &str, value: &str, reason: &str| ConfigError::Invalid {
            key: key.to_owned(),
            variable: variable(key),
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let file: Option<PathBuf> = settings.optional("auth_jwks_file")?;
        let url: Option<String> = settings.optional("auth_jwks_url")?;
        let off = match settings.raw("auth").as_deref() {
            None | Some("tokens") => false,
            Some("off") => true,
            Some(other) => return Err(invalid("auth", other, "use `tokens` (the default) or `off`")),
        };
        let keys = match (file, url) {
            (Some(_), Some(url)) => {
                return Err(invalid(
                    "auth_jwks_url",
                    &url,
                    "set either AUTH_JWKS_FILE or AUTH_JWKS_URL, not both",
                ));
            }
            (Some(file), None) => Some(KeySource::File(file)),
            (None, Some(url)) => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(invalid("auth_jwks_url", &url, "must be an http(s) URL"));
                }
                let cache = settings.get("auth_jwks_cache", data_dir.join("jwks-cache.json"))?;
                Some(KeySource::Url {
                    url,
                    cache_file: Some(cache),
                })
            }
            (None, None) => None,
        };
        let access = match (keys, off) {
            (Some(keys), false) => AccessSettings::Tokens {
                keys,
                expect: Expectations {
                    audience: settings.get("auth_audience", jigi_auth::AUDIENCE.to_owned())?,
                    issuer: settings.optional("auth_issuer")?,
                    ..Expectations::default()
                },
            },
            (None, true) => AccessSettings::Off,
            (Some(_), true) => return Err(invalid("auth", "off", "a key source is also set: choose one")),
            (None, false) => {
                return Err(ConfigError::Invalid {
                    key: "auth_jwks_file".into(),
                    variable: variable("auth_jwks_file"),
                    value: String::new(),
                    reason: "no token keys: set JIGI_AUTH_JWKS_FILE or JIGI_AUTH_JWKS_URL (or JIGI_AUTH=off on a closed test network)".into(),
                });
            }
        };
        let tls = match (
            settings.optional::<PathBuf>("tls_cert")?,
            settings.optional::<PathBuf>("tls_key")?,
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "tls_cert",
                    "",
                    "set both JIGI_TLS_CERT and JIGI_TLS_KEY, or neither",
                ));
            }
        };
        let per_second: f64 = settings.get("write_rate_per_second", 50.0)?;
        let burst: f64 = settings.get("write_burst", 200.0)?;
        if !(per_second >= 0.0 && per_second.is_finite() && burst >= 1.0 && burst.is_finite()) {
            return Err(invalid(
                "write_rate_per_second",
                &per_second.to_string(),
                "must be 0 or more, with a burst of 1 or more",
            ));
        }
        let write_limit = (per_second > 0.0).then_some(WriteLimit { per_second, burst });
        let timeout: u64 = settings.get("request_timeout_seconds", 60)?;
        if timeout == 0 {
            return Err(invalid("request_timeout_seconds", "0", "must be at least 1"));
        }
        Ok(ServeConfig {
            access,
            tls,
            write_limit,
            request_timeout: Duration::from_secs(timeout),
        })
    }
}
