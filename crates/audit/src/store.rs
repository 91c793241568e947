//! The `audit_log` table, written on the service's write path.
//!
//! A call's entry is appended by the database's writer in the transaction
//! of the command that serves it ([`jigi_storage::CommandLog`]): both are
//! committed, or neither, and a failed entry fails the command. Entries are
//! chained in the order the writer commits them; each append reads the
//! chain's head in its own transaction, so a command rolled back takes its
//! entry with it and the chain stays whole.

use std::sync::Arc;

use jigi_storage::migrate::Migration;
use jigi_storage::{Call, CommandLog, Conn, Database, Row, StorageError, params};

use crate::chain::{Break, ChainCheck, Entry, GENESIS, Record};

/// The table, and triggers that refuse updates and deletes: the service
/// itself can only append. (Someone with the database's owner rights can
/// drop the triggers; the hash chain is what shows their edits.)
pub const MIGRATIONS: &[Migration] = &[Migration {
    component: "audit",
    version: 1,
    name: "append-only audit log",
    sqlite: "CREATE TABLE audit_log (
        sequence BIGINT PRIMARY KEY,
        recorded_at TEXT NOT NULL,
        subject TEXT NOT NULL,
        roles TEXT NOT NULL,
        scope TEXT NOT NULL,
        service_area TEXT NOT NULL,
        method TEXT NOT NULL,
        request_id TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        outcome TEXT NOT NULL,
        previous_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
    postgres: "CREATE TABLE audit_log (
        sequence BIGINT PRIMARY KEY,
        recorded_at TEXT NOT NULL,
        subject TEXT NOT NULL,
        roles TEXT NOT NULL,
        scope TEXT NOT NULL,
        service_area TEXT NOT NULL,
        method TEXT NOT NULL,
        request_id TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        outcome TEXT NOT NULL,
        previous_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION 'the audit log is append-only'; END;
    $$ LANGUAGE plpgsql;
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();",
}];

/// Why the log could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log storage: {0}")]
    Storage(#[from] StorageError),
}

/// The verdict on a whole log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub checked: i64,
    pub head_hash: String,
    pub broken: Option<Break>,
}

/// Who made a call, as the access layer knows it: what a call's entry
/// records besides its time and outcome. The access layer runs each call
/// as a [`Call`] carrying one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub roles: String,
    pub scope: String,
    pub service_area: String,
    pub method: String,
    pub request_id: String,
    pub trace_id: String,
}

impl Caller {
    fn record(&self, outcome: &str) -> Record {
        Record {
            recorded_at: jigi_storage::timestamp::now_utc(),
            subject: self.subject.clone(),
            roles: self.roles.clone(),
            scope: self.scope.clone(),
            service_area: self.service_area.clone(),
            method: self.method.clone(),
            request_id: self.request_id.clone(),
            trace_id: self.trace_id.clone(),
            outcome: outcome.to_owned(),
        }
    }
}

/// A service's audit log. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    database: Database,
}

/// The [`CommandLog`] the log installs in its database.
struct Appender;

impl CommandLog for Appender {
    fn append(&self, conn: &mut Conn, call: &Call, outcome: &str) -> Result<(), StorageError> {
        let caller = call
            .details::<Caller>()
            .ok_or_else(|| StorageError::Sql("a call without its caller cannot be audited".into()))?;
        append(conn, caller.record(outcome)).map(|_| ())
    }

    fn ended(&self, _committed: bool) {}
}

/// Appends `record` after the chain's head as this transaction sees it.
fn append(conn: &mut Conn, record: Record) -> Result<i64, StorageError> {
    let (sequence, previous) = head(conn)?;
    let entry = Entry::chain(sequence + 1, record, &previous);
    insert(conn, &entry)?;
    Ok(entry.sequence)
}

/// Appends `record` in the caller's transaction: a change no call made (a
/// consumer applying another service's order) is audited with the change,
/// as a call's is.
pub fn append_in(conn: &mut Conn, record: Record) -> Result<i64, StorageError> {
    append(conn, record)
}

impl AuditLog {
    /// The log in `database` (migrated with [`MIGRATIONS`]); from now on
    /// every command that serves a call appends the call's entry in its
    /// own transaction.
    pub fn attach(database: Database) -> Result<AuditLog, AuditError> {
        database.set_command_log(Arc::new(Appender))?;
        Ok(AuditLog { database })
    }

    /// Appends the entry of a call that reached no command (refused before
    /// any write), in a transaction of its own.
    pub async fn append_call(&self, call: &Call, outcome: &str) -> Result<(), AuditError> {
        let caller = call
            .details::<Caller>()
            .ok_or_else(|| StorageError::Sql("a call without its caller cannot be audited".into()))?
            .clone();
        let outcome = outcome.to_owned();
        self.database
            .write(move |conn| append(conn, caller.record(&outcome)).map(|_| ()))
            .await?;
        Ok(())
    }

    /// Appends `record` as it is; returns its sequence number once committed.
    pub async fn append(&self, record: Record) -> Result<i64, AuditError> {
        Ok(self.database.write(move |conn| append(conn, record)).await?)
    }

    /// Up to `limit` entries from `from_sequence` on.
    pub async fn list(&self, from_sequence: i64, limit: i64) -> Result<Vec<Entry>, AuditError> {
        let rows = self
            .database
            .read(move |conn| {
                conn.query(
                    "SELECT sequence, recorded_at, subject, roles, scope, service_area, method, request_id, \
                     trace_id, outcome, previous_hash, hash FROM audit_log WHERE sequence >= $1 ORDER BY sequence LIMIT $2",
                    params![from_sequence, limit],
                )
            })
            .await?;
        Ok(rows.iter().map(entry_from_row).collect::<Result<_, _>>()?)
    }

    /// The chain's head: its last sequence number and hash.
    pub async fn head(&self) -> Result<(i64, String), AuditError> {
        Ok(self.database.read(head).await?)
    }

    /// Checks the whole chain, a page at a time.
    pub async fn verify(&self) -> Result<Verdict, AuditError> {
        verify(&self.database).await
    }
}

/// Checks the chain of the log in `database` (for `jigi audit verify`, which
/// reads a database directly).
pub async fn verify(database: &Database) -> Result<Verdict, AuditError> {
    const PAGE: i64 = 1000;
    let mut check = ChainCheck::default();
    // Reads by position, not by sequence value, so an entry removed from the
    // middle shows as a gap rather than being skipped over.
    let mut offset = 0;
    loop {
        let rows = database
            .read(move |conn| {
                conn.query(
                    "SELECT sequence, recorded_at, subject, roles, scope, service_area, method, request_id, \
                     trace_id, outcome, previous_hash, hash FROM audit_log ORDER BY sequence LIMIT $1 OFFSET $2",
                    params![PAGE, offset],
                )
            })
            .await?;
        for row in &rows {
            let entry = entry_from_row(row)?;
            if let Err(broken) = check.next(&entry) {
                return Ok(Verdict {
                    checked: check.checked(),
                    head_hash: check.head().to_owned(),
                    broken: Some(broken),
                });
            }
        }
        if (rows.len() as i64) < PAGE {
            return Ok(Verdict {
                checked: check.checked(),
                head_hash: check.head().to_owned(),
                broken: None,
            });
        }
        offset += PAGE;
    }
}

fn entry_from_row(row: &Row) -> Result<Entry, StorageError> {
    let recorded_at: String = row.get("recorded_at")?;
    Ok(Entry {
        sequence: row.get("sequence")?,
        record: Record {
            recorded_at: jigi_storage::timestamp::parse(&recorded_at)?,
            subject: row.get("subject")?,
            roles: row.get("roles")?,
            scope: row.get("scope")?,
            service_area: row.get("service_area")?,
            method: row.get("method")?,
            request_id: row.get("request_id")?,
            trace_id: row.get("trace_id")?,
            outcome: row.get("outcome")?,
        },
        previous_hash: row.get("previous_hash")?,
        hash: row.get("hash")?,
    })
}

fn head(conn: &mut Conn) -> Result<(i64, String), StorageError> {
    let row = conn.query_opt(
        "SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1",
        params![],
    )?;
    Ok(match row {
        Some(row) => (row.get(0)?, row.get(1)?),
        None => (0, GENESIS.to_owned()),
    })
}

fn insert(conn: &mut Conn, entry: &Entry) -> Result<(), StorageError> {
    let record = &entry.record;
    conn.pipeline(
        "INSERT INTO audit_log (sequence, recorded_at, subject, roles, scope, service_area, method, \
         request_id, trace_id, outcome, previous_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        params![
            entry.sequence,
            jigi_storage::timestamp::format(record.recorded_at),
            record.subject,
            record.roles,
            record.scope,
            record.service_area,
            record.method,
            record.request_id,
            record.trace_id,
            record.outcome,
            entry.previous_hash,
            entry.hash
        ],
    )?;
    Ok(())
}
