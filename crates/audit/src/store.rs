//! The `audit_log` table and its single writer.
//!
//! Entries must be chained in the order they are written, so one task
//! writes them all. Calls wait until their entry is committed (no answer
//! leaves before its audit entry is on disk), and entries arriving together
//! share a transaction, so auditing costs one commit per burst rather than
//! one per call.

use jigi_storage::Database;
use jigi_storage::migrate::Migration;
use sqlx::Row as _;
use tokio::sync::{mpsc, oneshot};

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

/// Most entries committed in one transaction.
const BURST: usize = 256;

/// Why an entry could not be written or the log read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log storage: {0}")]
    Storage(#[from] sqlx::Error),
    #[error(transparent)]
    Database(#[from] jigi_storage::StorageError),
    #[error("the audit log writer has stopped")]
    Stopped,
}

/// The verdict on a whole log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub checked: i64,
    pub head_hash: String,
    pub broken: Option<Break>,
}

type Pending = (Record, oneshot::Sender<Result<i64, String>>);

/// A service's audit log. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    database: Database,
    writer: mpsc::Sender<Pending>,
}

impl AuditLog {
    /// The log in `database` (migrated with [`MIGRATIONS`]), with its writer
    /// running until every clone of the log is dropped.
    pub async fn open(database: Database) -> Result<AuditLog, AuditError> {
        let head = head(&database).await?;
        let (writer, pending) = mpsc::channel(4 * BURST);
        tokio::spawn(write_all(database.clone(), head, pending));
        Ok(AuditLog { database, writer })
    }

    /// Appends `record`; returns its sequence number once committed.
    pub async fn append(&self, record: Record) -> Result<i64, AuditError> {
        let (done, written) = oneshot::channel();
        self.writer
            .send((record, done))
            .await
            .map_err(|_| AuditError::Stopped)?;
        match written.await {
            Ok(Ok(sequence)) => Ok(sequence),
            Ok(Err(reason)) => Err(AuditError::Storage(sqlx::Error::Protocol(reason))),
            Err(_) => Err(AuditError::Stopped),
        }
    }

    /// Up to `limit` entries from `from_sequence` on.
    pub async fn list(&self, from_sequence: i64, limit: i64) -> Result<Vec<Entry>, AuditError> {
        let rows = sqlx::query(
            "SELECT sequence, recorded_at, subject, roles, scope, service_area, method, request_id, \
             trace_id, outcome, previous_hash, hash FROM audit_log WHERE sequence >= $1 ORDER BY sequence LIMIT $2",
        )
        .bind(from_sequence)
        .bind(limit)
        .fetch_all(self.database.pool())
        .await?;
        rows.iter().map(entry_from_row).collect()
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
        let rows = sqlx::query(
            "SELECT sequence, recorded_at, subject, roles, scope, service_area, method, request_id, \
             trace_id, outcome, previous_hash, hash FROM audit_log ORDER BY sequence LIMIT $1 OFFSET $2",
        )
        .bind(PAGE)
        .bind(offset)
        .fetch_all(database.pool())
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

fn entry_from_row(row: &sqlx::any::AnyRow) -> Result<Entry, AuditError> {
    let recorded_at: String = row.try_get("recorded_at")?;
    Ok(Entry {
        sequence: row.try_get("sequence")?,
        record: Record {
            recorded_at: jigi_storage::timestamp::parse(&recorded_at)?,
            subject: row.try_get("subject")?,
            roles: row.try_get("roles")?,
            scope: row.try_get("scope")?,
            service_area: row.try_get("service_area")?,
            method: row.try_get("method")?,
            request_id: row.try_get("request_id")?,
            trace_id: row.try_get("trace_id")?,
            outcome: row.try_get("outcome")?,
        },
        previous_hash: row.try_get("previous_hash")?,
        hash: row.try_get("hash")?,
    })
}

async fn head(database: &Database) -> Result<(i64, String), AuditError> {
    let row = sqlx::query("SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1")
        .fetch_optional(database.pool())
        .await?;
    Ok(match row {
        Some(row) => (row.try_get("sequence")?, row.try_get("hash")?),
        None => (0, GENESIS.to_owned()),
    })
}

async fn write_all(database: Database, mut head: (i64, String), mut pending: mpsc::Receiver<Pending>) {
    let mut burst = Vec::with_capacity(BURST);
    while pending.recv_many(&mut burst, BURST).await > 0 {
        let mut entries = Vec::with_capacity(burst.len());
        let (mut sequence, mut previous) = head.clone();
        for (record, _) in &burst {
            sequence += 1;
            let entry = Entry::chain(sequence, record.clone(), &previous);
            previous = entry.hash.clone();
            entries.push(entry);
        }
        match insert(&database, &entries).await {
            Ok(()) => {
                head = (sequence, previous);
                for ((_, done), entry) in burst.drain(..).zip(&entries) {
                    let _ = done.send(Ok(entry.sequence));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, entries = entries.len(), "cannot write audit entries");
                for (_, done) in burst.drain(..) {
                    let _ = done.send(Err(err.to_string()));
                }
            }
        }
    }
}

async fn insert(database: &Database, entries: &[Entry]) -> Result<(), AuditError> {
    let mut tx = database.begin_write().await?;
    for entry in entries {
        let record = &entry.record;
        sqlx::query(
            "INSERT INTO audit_log (sequence, recorded_at, subject, roles, scope, service_area, method, \
             request_id, trace_id, outcome, previous_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(entry.sequence)
        .bind(jigi_storage::timestamp::format(record.recorded_at))
        .bind(&record.subject)
        .bind(&record.roles)
        .bind(&record.scope)
        .bind(&record.service_area)
        .bind(&record.method)
        .bind(&record.request_id)
        .bind(&record.trace_id)
        .bind(&record.outcome)
        .bind(&entry.previous_hash)
        .bind(&entry.hash)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
