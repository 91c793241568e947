//! The write path held busy, for tests of what waits behind it.

use std::sync::{Arc, Barrier};

use jigi_storage::{Database, StorageError};

/// Holds the database's writer inside a command until released, so the
/// commands (or inbox batches) submitted meanwhile all wait for it.
///
/// Returns the barrier to wait on until the writer is inside, the one that
/// releases it, and the holding task. Both barriers block their thread:
/// wait on them from a multi-threaded runtime (or `spawn_blocking`).
pub fn hold_writer(db: &Database) -> (Arc<Barrier>, Arc<Barrier>, tokio::task::JoinHandle<()>) {
    let (inside, release) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let (entered, go) = (inside.clone(), release.clone());
    let db = db.clone();
    let holder = tokio::spawn(async move {
        db.write(move |_conn| {
            entered.wait();
            go.wait();
            Ok::<_, StorageError>(())
        })
        .await
        .unwrap();
    });
    (inside, release, holder)
}
