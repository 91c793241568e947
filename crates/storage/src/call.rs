//! The call a command serves, so its log entry lands in its own transaction.
//!
//! The server's access layer knows who called which method; the command's
//! writes happen deep inside a service. Rather than threading the caller
//! through every command, the access layer runs the call inside
//! [`Call::scope`]; [`crate::Database::write`] picks the call up where the
//! command is submitted, and the writer appends the call's entry through
//! the database's [`CommandLog`] in the command's own transaction: both are
//! committed, or neither. A failed entry fails the command.
//!
//! What an entry holds is the log's business (the audit crate's `Record`):
//! to this layer a call's details are opaque.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::conn::Conn;
use crate::error::StorageError;

tokio::task_local! {
    static CALL: Call;
}

/// A call in progress. Cheap to clone.
#[derive(Clone)]
pub struct Call {
    details: Arc<dyn Any + Send + Sync>,
    logged: Arc<AtomicBool>,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call").field("logged", &self.is_logged()).finish()
    }
}

impl Call {
    /// A call described by `details`, which the [`CommandLog`] understands.
    pub fn new<T: Any + Send + Sync>(details: T) -> Call {
        Call {
            details: Arc::new(details),
            logged: Arc::default(),
        }
    }

    /// The details, if they are a `T`.
    pub fn details<T: Any>(&self) -> Option<&T> {
        self.details.downcast_ref()
    }

    /// Whether a committed transaction holds this call's entry.
    pub fn is_logged(&self) -> bool {
        self.logged.load(Ordering::Acquire)
    }

    pub(crate) fn mark_logged(&self) {
        self.logged.store(true, Ordering::Release);
    }

    /// Runs `future` as this call: writes it submits are logged as the call's.
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        CALL.scope(self, future).await
    }

    /// The call the current task serves, if any.
    pub fn current() -> Option<Call> {
        CALL.try_with(Clone::clone).ok()
    }
}

/// Writes a call's entry inside a transaction. One per database; only the
/// writer thread calls it, in commit order.
pub trait CommandLog: Send + Sync + 'static {
    /// Appends the entry of `call`, which ended with `outcome` (a gRPC code
    /// name such as `OK` or `FAILED_PRECONDITION`).
    fn append(&self, conn: &mut Conn, call: &Call, outcome: &str) -> Result<(), StorageError>;

    /// The transaction holding the entries appended since the last call
    /// ended: committed, or rolled back (entries appended in it are gone).
    fn ended(&self, committed: bool);
}

/// An error a command can end with: what the log records as its outcome.
pub trait CommandFailure: From<StorageError> + Send + 'static {
    /// The gRPC code name the client will see, e.g. `NOT_FOUND`.
    fn outcome(&self) -> &'static str;
}

impl CommandFailure for StorageError {
    fn outcome(&self) -> &'static str {
        if self.is_transient() { "UNAVAILABLE" } else { "INTERNAL" }
    }
}
