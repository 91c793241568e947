//! The audit log every Jigi service keeps.
//!
//! - [`chain`]: entries and their SHA-256 chain, checked without I/O;
//! - [`store`]: the append-only `audit_log` table and its single writer;
//! - [`grpc`]: `jigi.audit.v1.AuditService`, for auditors.
//!
//! Entries are written by `jigi-server`'s access layer, which sees every
//! call: who made it, on which method, and how it ended.

pub mod chain;
pub mod grpc;
pub mod store;

pub use chain::{Entry, Record};
pub use grpc::AuditApi;
pub use store::{AuditError, AuditLog, MIGRATIONS, Verdict, verify};
