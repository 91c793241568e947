//! The keys tokens are checked against, kept fresh and kept through outages.
//!
//! A region must keep working when the national identity provider is out of
//! reach: the key set is fetched at start and refreshed in the background,
//! every good copy is written to a cache file, and a failed refresh keeps
//! the keys already known. A service restarted during an outage starts from
//! the cache file. A token naming a key the set does not hold asks for an
//! early refresh (at most every 30 seconds), so a rotated key is picked up
//! without waiting for the next round.
//!
//! Verified tokens are remembered until their `exp` (the `cache` module);
//! a change of keys forgets them all.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::Identity;
use crate::cache::{self, TokenCache};
use crate::keys::KeySet;
use crate::token::{self, Expectations, MAX_TOKEN_BYTES, TokenError};

/// Where the public keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A JWKS file, re-read on each refresh (so a rotated file is picked up).
    File(PathBuf),
    /// A JWKS URL (an OpenID Connect provider's `jwks_uri`), with a file to
    /// keep the last good copy in.
    Url { url: String, cache_file: Option<PathBuf> },
    /// Keys given in code (tests, the local stack).
    Fixed(KeySet),
}

/// How often keys are refreshed, and the least time between two early refreshes.
const REFRESH_EVERY: Duration = Duration::from_secs(300);
const EARLY_REFRESH_GAP: Duration = Duration::from_secs(30);
/// A JWKS document larger than this is refused.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// Why keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyLoadError {
    #[error("cannot read the key set {path}: {reason}")]
    File { path: String, reason: String },
    #[error("cannot fetch the key set from {url}: {reason}")]
    Fetch { url: String, reason: String },
}

/// Checks tokens against the current keys. Cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    keys: RwLock<Keys>,
    /// Locked before `keys` when both are, so a change of keys and the
    /// forgetting of the tokens they verified are one step.
    cache: Mutex<TokenCache>,
    expect: Expectations,
    source: KeySource,
    wake: Notify,
    last_early_refresh: Mutex<Option<Instant>>,
}

struct Keys {
    set: Arc<KeySet>,
    /// Counts the changes of `set`; the cache keeps only what the current one verified.
    generation: u64,
}

impl Verifier {
    /// Loads the keys and keeps them fresh until `shutdown`.
    ///
    /// A key file that cannot be read is an error (a deployment mistake);
    /// an unreachable URL is not: the cache file is used, or, without one,
    /// every token is refused until a fetch succeeds.
    pub async fn start(
        source: KeySource,
        expect: Expectations,
        shutdown: CancellationToken,
    ) -> Result<Verifier, KeyLoadError> {
        let keys = match &source {
            KeySource::File(_) | KeySource::Fixed(_) => load(&source).await?,
            KeySource::Url { url, cache_file } => match load(&source).await {
                Ok(keys) => keys,
                Err(err) => {
                    let cached = cache_file.as_ref().and_then(|path| read_file(path).ok());
                    match cached {
                        Some(keys) => {
                            tracing::warn!(%url, error = %err, "identity provider unreachable: using the cached key set");
                            keys
                        }
                        None => {
                            tracing::error!(%url, error = %err, "identity provider unreachable and no cached key set: refusing tokens until it answers");
                            KeySet::default()
                        }
                    }
                }
            },
        };
        let verifier = Verifier::new(source, keys, expect, cache::CAPACITY);
        if !matches!(verifier.inner.source, KeySource::Fixed(_)) {
            tokio::spawn(verifier.clone().refresh_until(shutdown));
        }
        Ok(verifier)
    }

    fn new(source: KeySource, keys: KeySet, expect: Expectations, cache_capacity: usize) -> Verifier {
        Verifier {
            inner: Arc::new(Inner {
                keys: RwLock::new(Keys {
                    set: Arc::new(keys),
                    generation: 0,
                }),
                cache: Mutex::new(TokenCache::new(cache_capacity)),
                expect,
                source,
                wake: Notify::new(),
                last_early_refresh: Mutex::new(None),
            }),
        }
    }

    /// The identity `token` proves, now.
    pub fn verify(&self, token: &str) -> Result<Arc<Identity>, TokenError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        self.verify_at(token, now)
    }

    fn verify_at(&self, token: &str, now: u64) -> Result<Arc<Identity>, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge);
        }
        let hash = cache::hash(token);
        if let Some(identity) = self.inner.cache.lock().expect("token cache lock").get(&hash, now) {
            return Ok(identity);
        }
        let (keys, generation) = {
            let keys = self.inner.keys.read().expect("key set lock");
            (Arc::clone(&keys.set), keys.generation)
        };
        match token::check(token, &keys, &self.inner.expect, now) {
            Ok(verified) => {
                let identity = Arc::new(verified.identity);
                self.inner.cache.lock().expect("token cache lock").insert(
                    hash,
                    Arc::clone(&identity),
                    verified.expires_at,
                    generation,
                    now,
                );
                Ok(identity)
            }
            Err(err) => {
                if matches!(err, TokenError::UnknownKey(_) | TokenError::NoKeys) {
                    self.ask_early_refresh();
                }
                Err(err)
            }
        }
    }

    /// Puts `keys` in use; if they differ from the keys in use, the tokens
    /// verified so far are forgotten.
    fn install(&self, keys: KeySet) {
        let mut cache = self.inner.cache.lock().expect("token cache lock");
        let mut current = self.inner.keys.write().expect("key set lock");
        if *current.set != keys {
            current.set = Arc::new(keys);
            current.generation += 1;
            cache.reset(current.generation);
        }
    }

    fn ask_early_refresh(&self) {
        let mut last = self.inner.last_early_refresh.lock().expect("refresh lock");
        if last.is_none_or(|at| at.elapsed() >= EARLY_REFRESH_GAP) {
            *last = Some(Instant::now());
            self.inner.wake.notify_one();
        }
    }

    async fn refresh_until(self, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(REFRESH_EVERY) => {}
                () = self.inner.wake.notified() => {}
            }
            match load(&self.inner.source).await {
                Ok(keys) => self.install(keys),
                Err(err) => tracing::warn!(error = %err, "key set refresh failed: keeping the keys already known"),
            }
        }
    }
}

async fn load(source: &KeySource) -> Result<KeySet, KeyLoadError> {
    match source {
        KeySource::Fixed(keys) => Ok(keys.clone()),
        KeySource::File(path) => read_file(path),
        KeySource::Url { url, cache_file } => {
            let keys = fetch(url).await?;
            if let Some(path) = cache_file {
                // Written aside then renamed, so a crash never leaves half a file.
                let temporary = path.with_extension("tmp");
                let written =
                    std::fs::write(&temporary, keys.to_json()).and_then(|()| std::fs::rename(&temporary, path));
                if let Err(err) = written {
                    tracing::warn!(path = %path.display(), error = %err, "cannot keep a copy of the key set");
                }
            }
            Ok(keys)
        }
    }
}

fn read_file(path: &PathBuf) -> Result<KeySet, KeyLoadError> {
    let fail = |reason: String| KeyLoadError::File {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|err| fail(err.to_string()))?;
    KeySet::parse(&text).map_err(|err| fail(err.to_string()))
}

async fn fetch(url: &str) -> Result<KeySet, KeyLoadError> {
    let fail = |reason: String| KeyLoadError::Fetch {
        url: url.to_owned(),
        reason,
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|err| fail(err.to_string()))?;
    let response = client.get(url).send().await.map_err(|err| fail(err.to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP {}", response.status())));
    }
    if response
        .content_length()
        .is_some_and(|length| length as usize > MAX_JWKS_BYTES)
    {
        return Err(fail("the key set is larger than 1 MiB".into()));
    }
    let body = response.bytes().await.map_err(|err| fail(err.to_string()))?;
    if body.len() > MAX_JWKS_BYTES {
        return Err(fail("the key set is larger than 1 MiB".into()));
    }
    let text = std::str::from_utf8(&body).map_err(|err| fail(err.to_string()))?;
    KeySet::parse(text).map_err(|err| fail(err.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::LocalIssuer;

    const T: u64 = 1_900_000_000;

    /// A token of `issuer`'s, naming its key, expiring at `exp`.
    fn token(issuer: &LocalIssuer, subject: &str, exp: u64) -> String {
        let jwks: serde_json::Value = serde_json::from_str(&issuer.key_set().to_json()).unwrap();
        let header = json!({"alg": "EdDSA", "kid": jwks["keys"][0]["kid"]});
        let claims = json!({
            "sub": subject, "aud": "jigi", "exp": exp, "nbf": T - 10,
            "roles": ["auditor"], "regions": ["national"],
        });
        issuer.sign(&header, &claims)
    }

    fn union(issuers: &[&LocalIssuer]) -> KeySet {
        let keys: Vec<serde_json::Value> = issuers
            .iter()
            .flat_map(|issuer| {
                let jwks: serde_json::Value = serde_json::from_str(&issuer.key_set().to_json()).unwrap();
                jwks["keys"].as_array().unwrap().clone()
            })
            .collect();
        KeySet::parse(&json!({ "keys": keys }).to_string()).unwrap()
    }

    fn verifier(keys: KeySet, expect: Expectations, capacity: usize) -> Verifier {
        Verifier::new(KeySource::Fixed(keys.clone()), keys, expect, capacity)
    }

    fn cached(verifier: &Verifier) -> usize {
        verifier.inner.cache.lock().unwrap().len()
    }

    #[test]
    fn a_cached_token_is_not_accepted_past_its_exp() {
        let issuer = LocalIssuer::generate();
        let verifier = verifier(issuer.key_set(), Expectations::default(), 16);
        let token = token(&issuer, "awa", T + 100);
        assert_eq!(verifier.verify_at(&token, T).unwrap().subject, "awa");
        assert_eq!(cached(&verifier), 1);
        assert!(verifier.verify_at(&token, T + 99).is_ok());
        // Past exp the cache no longer answers; the full check still grants
        // the leeway (60 s), then refuses.
        assert!(verifier.verify_at(&token, T + 130).is_ok());
        assert_eq!(cached(&verifier), 0);
        assert_eq!(verifier.verify_at(&token, T + 161), Err(TokenError::Expired));

        let strict = Expectations {
            leeway_seconds: 0,
            ..Expectations::default()
        };
        let verifier = self::verifier(issuer.key_set(), strict, 16);
        assert!(verifier.verify_at(&token, T).is_ok());
        assert_eq!(verifier.verify_at(&token, T + 101), Err(TokenError::Expired));
    }

    #[test]
    fn a_key_taken_out_of_the_set_stops_being_accepted_at_once() {
        let old = LocalIssuer::generate();
        let new = LocalIssuer::generate();
        let verifier = verifier(union(&[&old, &new]), Expectations::default(), 16);
        let old_token = token(&old, "old", T + 3600);
        let new_token = token(&new, "new", T + 3600);
        assert!(verifier.verify_at(&old_token, T).is_ok());
        assert!(verifier.verify_at(&new_token, T).is_ok());
        // The same keys read again: nothing is forgotten.
        verifier.install(union(&[&old, &new]));
        assert_eq!(cached(&verifier), 2);

        verifier.install(new.key_set());
        assert_eq!(cached(&verifier), 0);
        assert!(matches!(
            verifier.verify_at(&old_token, T + 1),
            Err(TokenError::UnknownKey(Some(_)))
        ));
        assert!(verifier.verify_at(&new_token, T + 1).is_ok());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let issuer = LocalIssuer::generate();
        let verifier = verifier(issuer.key_set(), Expectations::default(), 4);
        for n in 0..12 {
            let token = token(&issuer, &format!("user-{n}"), T + 3600);
            assert_eq!(verifier.verify_at(&token, T).unwrap().subject, format!("user-{n}"));
            assert!(cached(&verifier) <= 4);
        }
        assert_eq!(cache::CAPACITY, 10_000);
    }
}
