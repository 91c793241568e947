//! Database access shared by every Jigi service.
//!
//! A service owns one database: an embedded SQLite file by default (a regional
//! office needs no database server), PostgreSQL for large deployments. Both go
//! through sqlx's `Any` driver, so a service writes its SQL once:
//!
//! - placeholders are `$1`, `$2`, … (both backends accept them);
//! - column values are `i64`, `f64`, `String`, `Vec<u8>` and their `Option`s;
//!   flags are stored as `0`/`1` integers, instants as RFC 3339 UTC text
//!   ([`timestamp`]) and dates as `YYYY-MM-DD` text, which sort correctly;
//! - where the DDL must differ, a [`Migration`] carries one text per backend.
//!
//! Modules:
//! - [`database`]: connecting, pool settings, write transactions;
//! - [`migrate`]: versioned migrations per component (outbox, inbox, service);
//! - [`idempotency`]: the same request ID returns the same answer;
//! - [`sql`]: building statements with many rows.

pub mod database;
pub mod idempotency;
pub mod migrate;
pub mod sql;
pub mod timestamp;

pub use database::{Backend, Database, StorageError};
pub use migrate::Migration;

/// The transaction type every service works with.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;
/// A row as the `Any` driver returns it.
pub type Row = sqlx::any::AnyRow;
