//! Read caches kept exact by the write path.
//!
//! A [`Cache`] holds values read from the database (a household with its
//! members and enrolments), keyed by text, so that a read of a hot record
//! costs a lookup instead of a trip to a reader thread. It is exact, not
//! merely fresh enough: a command that changes a cached record says so
//! ([`Conn::changed`](crate::Conn::changed)), and the writer drops those
//! keys after its group's transaction ends and before any caller hears its
//! answer. Whoever has been told a write happened reads it.
//!
//! The one race, a reader that loaded the old value before the commit and
//! stores it after the writer dropped the key, is closed by an epoch: the
//! reader notes the cache's epoch before its read transaction begins, every
//! drop advances it, and a value is stored only if the epoch has not moved
//! (both under the cache's lock). A reader that overlapped a change stores
//! nothing and answers with what its snapshot saw, as an uncached read
//! would.
//!
//! A cache trusts that the service's writer is the database's only writer:
//! true of SQLite (the file belongs to the service's process) and of a
//! service's PostgreSQL database as deployed (one replica). Rows changed by
//! hand stay invisible to readers of cached keys until those are evicted
//! or the service restarts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use hashlink::LruCache;

use crate::{Conn, Database};

/// A cache of values read from the database, least recently used evicted
/// first. Cheap to clone; every clone is the same cache.
pub struct Cache<V> {
    inner: Arc<Inner<V>>,
}

impl<V> Clone for Cache<V> {
    fn clone(&self) -> Self {
        Cache {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<V> {
    name: &'static str,
    capacity: usize,
    /// Advanced by every drop, under `entries`' lock.
    epoch: AtomicU64,
    entries: Mutex<LruCache<String, Arc<V>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// How a cache has served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Values held now.
    pub held: usize,
    /// Reads answered from the cache.
    pub hits: u64,
    /// Reads that went to the database.
    pub misses: u64,
}

/// What the writer calls to drop keys; a cache of any value type.
pub(crate) trait Invalidate: Send + Sync {
    fn name(&self) -> &'static str;
    fn invalidate(&self, key: &str);
}

impl<V: Send + Sync + 'static> Cache<V> {
    /// A cache holding at most `capacity` values (0: a cache that holds
    /// nothing, every read going to the database).
    pub(crate) fn new(name: &'static str, capacity: usize) -> Cache<V> {
        Cache {
            inner: Arc::new(Inner {
                name,
                capacity,
                epoch: AtomicU64::new(0),
                // hashlink's cache needs room for one; `capacity` 0 never stores.
                entries: Mutex::new(LruCache::new(capacity.max(1))),
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
            }),
        }
    }

    pub(crate) fn invalidator(&self) -> Arc<dyn Invalidate> {
        self.inner.clone()
    }

    /// The value of `key`: from the cache, or read by `load` in one read
    /// transaction on a reader ([`Database::read`]) and kept. A key with
    /// no value (`load` gives `None`) is not remembered, so a record
    /// created later is found.
    pub async fn get_or_read<E, F>(&self, db: &Database, key: &str, load: F) -> Result<Option<Arc<V>>, E>
    where
        E: From<crate::StorageError> + Send + 'static,
        F: FnOnce(&mut Conn) -> Result<Option<V>, E> + Send + 'static,
    {
        if let Some(value) = self.inner.lock().get(key) {
            self.inner.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(value.clone()));
        }
        self.inner.misses.fetch_add(1, Ordering::Relaxed);
        // Before the read's snapshot begins (the read is sent after this).
        let epoch = self.inner.epoch.load(Ordering::SeqCst);
        let Some(value) = db.read(load).await? else {
            return Ok(None);
        };
        let value = Arc::new(value);
        if self.inner.capacity > 0 {
            let mut entries = self.inner.lock();
            if self.inner.epoch.load(Ordering::SeqCst) == epoch {
                entries.insert(key.to_owned(), value.clone());
            }
        }
        Ok(Some(value))
    }

    /// The cache's name ([`Database::cache`]).
    pub fn name(&self) -> &'static str {
        self.inner.name
    }

    /// How the cache has served since it was made.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            held: self.inner.lock().len(),
            hits: self.inner.hits.load(Ordering::Relaxed),
            misses: self.inner.misses.load(Ordering::Relaxed),
        }
    }
}

impl<V> Inner<V> {
    fn lock(&self) -> MutexGuard<'_, LruCache<String, Arc<V>>> {
        // A panic while holding the lock cannot leave a wrong value behind
        // (inserts and removals are whole), so a poisoned lock is used on.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<V: Send + Sync> Invalidate for Inner<V> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn invalidate(&self, key: &str) {
        let mut entries = self.lock();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        entries.remove(key);
    }
}
