//! Read caches kept exact by the write path, against a real database
//! (SQLite in a temporary file, or PostgreSQL when `JIGI_TEST_POSTGRES`
//! names a server).

use std::sync::{Arc, Barrier};

use jigi_storage::{Cache, CacheStats, Conn, Database, Migration, StorageError, params};

const SCHEMA: Migration = Migration::portable(
    "demo",
    1,
    "a table for the cache's tests",
    "CREATE TABLE notes (id TEXT PRIMARY KEY, note TEXT NOT NULL);",
);

const CACHE: &str = "notes";

async fn open(dir: &std::path::Path) -> Database {
    let url = jigi_testkit::database_url(dir, "cache").await;
    Database::open(&url, &[SCHEMA]).await.unwrap()
}

fn load(conn: &mut Conn, id: &str) -> Result<Option<String>, StorageError> {
    conn.query_scalar_opt("SELECT note FROM notes WHERE id = $1", params![id])
}

async fn get(cache: &Cache<String>, db: &Database, id: &'static str) -> Option<String> {
    cache
        .get_or_read(db, id, move |conn| load(conn, id))
        .await
        .unwrap()
        .map(|note| note.as_ref().clone())
}

/// Writes `note` for `id` as a command that says it changed the key.
async fn set(db: &Database, id: &'static str, note: &'static str, say_changed: bool) {
    db.write(move |conn| {
        conn.execute(
            "INSERT INTO notes (id, note) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET note = $2",
            params![id, note],
        )?;
        if say_changed {
            conn.changed(CACHE, id);
        }
        Ok::<_, StorageError>(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_cached_value_is_served_until_a_command_changes_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    let cache: Cache<String> = db.cache(CACHE, 16);
    assert_eq!(get(&cache, &db, "h-1").await, None, "nothing stored yet");
    set(&db, "h-1", "first", true).await;
    // Absence was not remembered.
    assert_eq!(get(&cache, &db, "h-1").await.as_deref(), Some("first"));
    assert_eq!(get(&cache, &db, "h-1").await.as_deref(), Some("first"));
    assert_eq!(
        cache.stats(),
        CacheStats {
            held: 1,
            hits: 1,
            misses: 2
        }
    );

    // Answered only after the key is dropped: the next read sees it.
    set(&db, "h-1", "second", true).await;
    assert_eq!(get(&cache, &db, "h-1").await.as_deref(), Some("second"));

    // The cache is what serves: a change nobody declares stays unseen
    // (which is why every command that changes a cached record declares it).
    set(&db, "h-1", "undeclared", false).await;
    assert_eq!(get(&cache, &db, "h-1").await.as_deref(), Some("second"));
}

#[tokio::test]
async fn a_refused_command_that_said_it_changed_a_key_still_drops_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    let cache: Cache<String> = db.cache(CACHE, 16);
    set(&db, "h-1", "first", true).await;
    assert_eq!(get(&cache, &db, "h-1").await.as_deref(), Some("first"));
    let refused = db
        .write(|conn| {
            conn.isolated(|conn| {
                conn.changed(CACHE, "h-1");
                conn.execute("UPDATE notes SET note = 'never' WHERE id = 'h-1'", params![])?;
                Err::<(), _>(StorageError::Unavailable("refused".into()))
            })
        })
        .await;
    assert!(refused.is_err());
    let before = cache.stats().misses;
    assert_eq!(
        get(&cache, &db, "h-1").await.as_deref(),
        Some("first"),
        "the refusal left nothing"
    );
    assert_eq!(cache.stats().misses, before + 1, "read again from the database");
}

/// The race the epoch closes: a read whose snapshot predates a change,
/// finishing after the writer dropped the key, must not store what it saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_that_overlapped_a_change_does_not_store_the_old_value() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    let cache: Cache<String> = db.cache(CACHE, 16);
    set(&db, "h-1", "old", true).await;

    let (snapshot_taken, change_committed) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let reader = {
        let (cache, db) = (cache.clone(), db.clone());
        let (taken, committed) = (snapshot_taken.clone(), change_committed.clone());
        tokio::spawn(async move {
            cache
                .get_or_read(&db, "h-1", move |conn| {
                    let seen = load(conn, "h-1");
                    taken.wait();
                    committed.wait();
                    seen
                })
                .await
                .unwrap()
        })
    };
    tokio::task::spawn_blocking(move || snapshot_taken.wait())
        .await
        .unwrap();
    set(&db, "h-1", "new", true).await;
    tokio::task::spawn_blocking(move || change_committed.wait())
        .await
        .unwrap();
    let seen = reader.await.unwrap().expect("the household existed");
    assert_eq!(*seen, "old", "the read's snapshot predates the change");

    assert_eq!(get(&cache, &db, "h-1").await.as_deref(), Some("new"));
    assert_eq!(get(&cache, &db, "h-1").await.as_deref(), Some("new"));
}

#[tokio::test]
async fn the_least_recently_used_values_leave_first_and_capacity_zero_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    for id in ["a", "b", "c"] {
        set(&db, id, "note", true).await;
    }
    let cache: Cache<String> = db.cache(CACHE, 2);
    for id in ["a", "b", "a", "c"] {
        get(&cache, &db, id).await;
    }
    // "b" was the least recently used when "c" came.
    let misses = cache.stats().misses;
    get(&cache, &db, "a").await;
    get(&cache, &db, "c").await;
    assert_eq!(cache.stats().misses, misses, "a and c are held");
    get(&cache, &db, "b").await;
    assert_eq!(cache.stats().misses, misses + 1, "b was evicted");
    assert_eq!(cache.stats().held, 2);

    let off: Cache<String> = db.cache("off", 0);
    get(&off, &db, "a").await;
    get(&off, &db, "a").await;
    assert_eq!(
        off.stats(),
        CacheStats {
            held: 0,
            hits: 0,
            misses: 2
        }
    );
}
