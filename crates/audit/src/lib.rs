//! The audit log every Jigi service keeps.
//!
//! - [`chain`]: entries and their SHA-256 chain, checked without I/O;
//! - [`store`]: the append-only `audit_log` table, written in each command's
//!   own transaction on the write path;
//! - [`grpc`]: `jigi.audit.v1.AuditService`, for auditors.
//!
//! The server's access layer runs every call as a [`jigi_storage::Call`]
//! naming its [`Caller`]; the write path appends the call's entry in the
//! transaction of the command that serves it, and the access layer appends
//! the entry of a call refused before any command.

pub mod chain;
pub mod grpc;
pub mod store;

pub use chain::{Entry, Record};
pub use grpc::AuditApi;
pub use store::{AuditError, AuditLog, Caller, MIGRATIONS, Verdict, append_in, verify};
