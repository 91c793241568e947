//! Database access and the write path shared by every Jigi service.
//!
//! A service owns one database: an embedded SQLite file by default (a regional
//! office needs no database server), PostgreSQL for large deployments. Both
//! sit behind one synchronous connection type, [`Conn`], which lives on the
//! database's own threads, so a service writes its SQL once:
//!
//! - placeholders are `$1`, `$2`, … on both engines;
//! - values are integers (`BIGINT`), reals, text, bytes and `NULL`
//!   ([`value`]); flags are `0`/`1` integers, instants RFC 3339 UTC text
//!   ([`timestamp`]) and dates `YYYY-MM-DD` text, which sort correctly;
//! - where the DDL must differ, a [`Migration`] carries one text per engine.
//!
//! Modules:
//! - [`database`]: the write path (one writer thread committing commands in
//!   groups, each command isolated, answers after the commit) and reader
//!   threads for queries;
//! - `checkpoint` (SQLite): when the write-ahead log is copied into the
//!   database file, by the checkpointer thread or the writer;
//! - [`cache`]: read caches the writer keeps exact;
//! - [`call`]: the call a command serves, logged in its own transaction;
//! - [`conn`]: one connection to either engine, statements prepared once;
//!   on PostgreSQL, what a command need not wait for ([`Conn::pipeline`])
//!   goes with the next statement that needs an answer, in one round trip;
//! - [`value`]: parameters and row values;
//! - [`migrate`]: versioned migrations per component (outbox, inbox, service);
//! - [`idempotency`]: the same request ID returns the same answer;
//! - [`sql`]: building statements with many rows or optional filters;
//! - [`error`]: failures sorted by what a caller can do about them.
//!
//! A command is a closure run on the writer:
//!
//! ```no_run
//! # async fn demo(db: jigi_storage::Database) -> Result<(), jigi_storage::StorageError> {
//! use jigi_storage::params;
//! let households: i64 = db
//!     .write(|conn| {
//!         conn.execute("INSERT INTO visits (household_id) VALUES ($1)", params!["h-1"])?;
//!         conn.query_scalar("SELECT COUNT(*) FROM visits", params![])
//!     })
//!     .await?;
//! # Ok(()) }
//! ```

pub mod cache;
pub mod call;
mod checkpoint;
pub mod conn;
pub mod database;
pub mod error;
pub mod idempotency;
pub mod migrate;
pub mod sql;
pub mod timestamp;
pub mod value;

pub use cache::{Cache, CacheStats};
pub use call::{Call, CommandFailure, CommandLog};
pub use conn::{Backend, Conn};
pub use database::{Database, Health, Options};
pub use error::StorageError;
pub use migrate::Migration;
pub use value::{FromSql, Kind, Owned, Row, Stored, ToSql, Value};
