//! The keys tokens are checked against, kept fresh and kept through outages.
//!
//! A region must keep working when the national identity provider is out of
//! reach: the key set is fetched at start and refreshed in the background,
//! every good copy is written to a cache file, and a failed refresh keeps
//! the keys already known. A service restarted during an outage starts from
//! the cache file. A token naming a key the set does not hold asks for an
//! early refresh (at most every 30 seconds), so a rotated key is picked up
//! without waiting for the next round.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::Identity;
use crate::keys::KeySet;
use crate::token::{self, Expectations, TokenError};

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
    keys: RwLock<KeySet>,
    expect: Expectations,
    source: KeySource,
    wake: Notify,
    last_early_refresh: std::sync::Mutex<Option<Instant>>,
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
        let verifier = Verifier {
            inner: Arc::new(Inner {
                keys: RwLock::new(keys),
                expect,
                source,
                wake: Notify::new(),
                last_early_refresh: std::sync::Mutex::new(None),
            }),
        };
        if !matches!(verifier.inner.source, KeySource::Fixed(_)) {
            tokio::spawn(verifier.clone().refresh_until(shutdown));
        }
        Ok(verifier)
    }

    /// The identity `token` proves, now.
    pub fn verify(&self, token: &str) -> Result<Identity, TokenError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let result = {
            let keys = self.inner.keys.read().expect("key set lock");
            token::verify(token, &keys, &self.inner.expect, now)
        };
        if matches!(result, Err(TokenError::UnknownKey(_) | TokenError::NoKeys)) {
            self.ask_early_refresh();
        }
        result
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
                Ok(keys) => *self.inner.keys.write().expect("key set lock") = keys,
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
