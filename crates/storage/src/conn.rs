//! One connection to either engine, with the few calls services need.
//!
//! A [`Conn`] lives on one of the database's own threads (the writer or a
//! reader) and runs statements there synchronously: a command's statements
//! cost no thread hop each, which is most of what made the old
//! per-statement async driver slow. Statements are prepared once and kept
//! (SQLite's statement cache; a map of prepared statements on PostgreSQL).
//!
//! A PostgreSQL statement is a round trip to the server, and a command's
//! inserts need no answer: [`Conn::pipeline`] holds them (and `BEGIN`, a
//! command's `SAVEPOINT`) until the next statement whose answer is awaited,
//! and sends them all in one write, as tokio-postgres pipelines requests.
//!
//! Placeholders are `$1`, `$2`, … on both engines (a `$n` may repeat or
//! come out of order); statements built with many rows use
//! [`crate::sql::Placeholders`], which writes `?` for SQLite.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use futures::future::{LocalBoxFuture, MaybeDone, maybe_done};
use tokio_postgres::types::Type;

use crate::checkpoint::Checkpointed;
use crate::error::StorageError;
use crate::value::{Kind, Owned, Row, Stored, ToSql, Value};

/// Which database engine is behind a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection, on the thread that owns it.
pub struct Conn {
    engine: Engine,
    /// Savepoints open inside the current transaction.
    depth: usize,
    /// The first statement that failed in the current transaction.
    first_failure: Option<StorageError>,
    /// Signals raised by the current write transaction ([`Conn::raise`]).
    raised: Vec<&'static str>,
    /// Cached keys changed by the current write transaction
    /// ([`Conn::changed`]): (cache, key).
    changed: Vec<(&'static str, String)>,
    /// The column names of each query's rows, shared by its rows.
    columns: ColumnNames,
}

enum Engine {
    Sqlite(rusqlite::Connection),
    // Boxed: the client and its statements are far larger than a SQLite handle.
    Postgres(Box<Postgres>),
}

struct Postgres {
    client: tokio_postgres::Client,
    /// Drives the connection while the thread waits for an answer (a
    /// current-thread runtime, as the synchronous `postgres` crate has).
    runtime: tokio::runtime::Runtime,
    statements: HashMap<(String, Vec<Kind>), tokio_postgres::Statement>,
    held: Held,
}

/// What a PostgreSQL connection holds back, and what it knows of its
/// transaction.
#[derive(Default)]
struct Held {
    /// Statements to send ahead of the next one whose answer is awaited.
    statements: Vec<Pending>,
    /// Exchanges with the server so far: whether what was held at a
    /// moment has been sent since.
    exchanges: u64,
    /// A statement failed in the open transaction: PostgreSQL refuses
    /// everything until it rolls back (to a savepoint, or all of it), and
    /// would answer its COMMIT with a rollback, not an error.
    aborted: bool,
}

/// Where a command's savepoint stands in what is held ([`Conn::mark`]).
#[derive(Clone, Copy)]
struct Mark {
    exchanges: u64,
    held: usize,
}

/// A statement held back to be sent with the next one.
enum Pending {
    /// Transaction control, without parameters.
    Control(String),
    Execute(tokio_postgres::Statement, Vec<Owned>),
}

/// Prepared statements kept per PostgreSQL connection; beyond this the
/// map is emptied (statements built for a request's shape are many).
const POSTGRES_STATEMENTS: usize = 512;
/// SQLite's statement cache per connection.
const SQLITE_STATEMENTS: usize = 256;

impl Conn {
    /// Opens a SQLite file. `reader` connections refuse writes.
    pub(crate) fn sqlite(path: &str, reader: bool) -> Result<Conn, StorageError> {
        let conn = rusqlite::Connection::open(path)?;
        conn.set_prepared_statement_cache_capacity(SQLITE_STATEMENTS);
        // WAL: readers read while the writer writes. NORMAL: a commit is
        // durable against a crash of the process, and against a power cut
        // from the next checkpoint on (SQLite's recommended WAL setting).
        // The busy timeout only matters against other processes (an
        // operator's `jigi audit verify`): inside a service one thread writes.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON; \
             PRAGMA busy_timeout = 5000;",
        )?;
        if reader {
            conn.execute_batch("PRAGMA query_only = ON;")?;
        } else {
            // Each command of a group runs in a savepoint, whose journal of
            // the pages it changes spills past 64 KiB into a temporary file,
            // created and unlinked once per group: a quarter of the writer's
            // time went to the file system. In memory it costs at most
            // the pages a group changes.
            conn.execute_batch("PRAGMA temp_store = MEMORY;")?;
        }
        Ok(Conn {
            engine: Engine::Sqlite(conn),
            depth: 0,
            first_failure: None,
            raised: Vec::new(),
            changed: Vec::new(),
            columns: ColumnNames::default(),
        })
    }

    /// Connects to PostgreSQL. `reader` connections refuse writes.
    pub(crate) fn postgres(url: &str, reader: bool) -> Result<Conn, StorageError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|err: tokio_postgres::Error| StorageError::UnsupportedUrl(format!("{url}: {err}")))?;
        config.connect_timeout(std::time::Duration::from_secs(10));
        let pg = Postgres::connect(&config)?;
        if reader {
            pg.runtime
                .block_on(pg.client.batch_execute("SET default_transaction_read_only = on"))?;
        }
        Ok(Conn {
            engine: Engine::Postgres(Box::new(pg)),
            depth: 0,
            first_failure: None,
            raised: Vec::new(),
            changed: Vec::new(),
            columns: ColumnNames::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.engine {
            Engine::Sqlite(_) => Backend::Sqlite,
            Engine::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs a statement; returns the number of rows it changed. A statement
    /// whose count nothing reads is better sent with [`Conn::pipeline`].
    pub fn execute(&mut self, sql: &str, params: &[&dyn ToSql]) -> Result<u64, StorageError> {
        let outcome = self.execute_inner(sql, params);
        self.note(outcome)
    }

    fn execute_inner(&mut self, sql: &str, params: &[&dyn ToSql]) -> Result<u64, StorageError> {
        match &mut self.engine {
            Engine::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql)?;
                bind_sqlite(&mut statement, params)?;
                Ok(statement.raw_execute()? as u64)
            }
            Engine::Postgres(pg) => {
                let values: Vec<Value<'_>> = params.iter().map(|p| p.to_sql()).collect();
                let statement = pg.prepare(sql, &values)?;
                let bound: Vec<PgParam<'_>> = values.iter().map(|v| PgParam(*v)).collect();
                let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = bound.iter().map(|p| p as _).collect();
                let Postgres {
                    runtime, client, held, ..
                } = &mut **pg;
                exchange(runtime, client, held, client.execute(&statement, &refs))
            }
        }
    }

    /// Runs a statement whose outcome the command does not look at (an
    /// insert of new rows, say). On PostgreSQL it is sent with the next
    /// statement whose answer is awaited (the transaction's commit at the
    /// latest), many in one round trip; if it fails, that statement fails
    /// with its error, and so does the command. On SQLite, where a
    /// statement costs no round trip, it runs at once.
    pub fn pipeline(&mut self, sql: &str, params: &[&dyn ToSql]) -> Result<(), StorageError> {
        let outcome = if let Engine::Postgres(pg) = &mut self.engine {
            let values: Vec<Value<'_>> = params.iter().map(|p| p.to_sql()).collect();
            pg.prepare(sql, &values).map(|statement| {
                let owned = values.iter().map(|value| Owned::from(*value)).collect();
                pg.held.statements.push(Pending::Execute(statement, owned));
            })
        } else {
            self.execute_inner(sql, params).map(|_| ())
        };
        self.note(outcome)
    }

    /// Runs a query and calls `each` with every row, without keeping them.
    pub fn query_each(
        &mut self,
        sql: &str,
        params: &[&dyn ToSql],
        mut each: impl FnMut(&Row) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        self.rows(sql, params, usize::MAX, |row| each(&row))
    }

    /// Runs a query and calls `each` with at most `limit` rows.
    fn rows(
        &mut self,
        sql: &str,
        params: &[&dyn ToSql],
        limit: usize,
        each: impl FnMut(Row) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let outcome = self.rows_inner(sql, params, limit, each);
        self.note(outcome)
    }

    fn rows_inner(
        &mut self,
        sql: &str,
        params: &[&dyn ToSql],
        limit: usize,
        mut each: impl FnMut(Row) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        match &mut self.engine {
            Engine::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql)?;
                bind_sqlite(&mut statement, params)?;
                let mut rows = statement.raw_query();
                // Named after the first step: a statement prepared before a
                // schema change is prepared again by it, with its new columns.
                let mut columns: Option<Arc<[String]>> = None;
                let mut seen = 0;
                while seen < limit
                    && let Some(row) = rows.next()?
                {
                    seen += 1;
                    let columns = match &columns {
                        Some(columns) => columns,
                        None => {
                            let statement = row.as_ref();
                            let names = (0..statement.column_count())
                                .map(|index| statement.column_name(index).unwrap_or_default());
                            columns.insert(self.columns.of(sql, names))
                        }
                    };
                    let count = columns.len();
                    let mut values = Vec::with_capacity(count);
                    for index in 0..count {
                        values.push(match row.get_ref(index)? {
                            rusqlite::types::ValueRef::Null => Stored::Null,
                            rusqlite::types::ValueRef::Integer(int) => Stored::Int(int),
                            rusqlite::types::ValueRef::Real(real) => Stored::Real(real),
                            rusqlite::types::ValueRef::Text(text) => Stored::Text(
                                std::str::from_utf8(text)
                                    .map_err(|err| StorageError::Decode(format!("stored text is not UTF-8: {err}")))?
                                    .to_owned(),
                            ),
                            rusqlite::types::ValueRef::Blob(bytes) => Stored::Blob(bytes.to_vec()),
                        });
                    }
                    each(Row::new(columns.clone(), values))?;
                }
            }
            Engine::Postgres(pg) => {
                let values: Vec<Value<'_>> = params.iter().map(|p| p.to_sql()).collect();
                let statement = pg.prepare(sql, &values)?;
                let bound: Vec<PgParam<'_>> = values.iter().map(|v| PgParam(*v)).collect();
                let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = bound.iter().map(|p| p as _).collect();
                let Postgres {
                    runtime, client, held, ..
                } = &mut **pg;
                let rows = exchange(runtime, client, held, client.query(&statement, &refs))?;
                let columns: Arc<[String]> = statement.columns().iter().map(|c| c.name().to_owned()).collect();
                for row in rows.iter().take(limit) {
                    let mut values = Vec::with_capacity(columns.len());
                    for (index, column) in row.columns().iter().enumerate() {
                        values.push(postgres_value(row, index, column.type_())?);
                    }
                    each(Row::new(columns.clone(), values))?;
                }
            }
        }
        Ok(())
    }

    /// Runs a query and returns every row.
    pub fn query(&mut self, sql: &str, params: &[&dyn ToSql]) -> Result<Vec<Row>, StorageError> {
        let mut rows = Vec::new();
        self.rows(sql, params, usize::MAX, |row| {
            rows.push(row);
            Ok(())
        })?;
        Ok(rows)
    }

    /// The first row of a query, if there is one.
    pub fn query_opt(&mut self, sql: &str, params: &[&dyn ToSql]) -> Result<Option<Row>, StorageError> {
        let mut first = None;
        self.rows(sql, params, 1, |row| {
            first = Some(row);
            Ok(())
        })?;
        Ok(first)
    }

    /// The one row a query must return.
    pub fn query_one(&mut self, sql: &str, params: &[&dyn ToSql]) -> Result<Row, StorageError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| StorageError::Decode(format!("no row returned by {}", first_words(sql))))
    }

    /// The first column of the one row a query must return.
    pub fn query_scalar<T: crate::FromSql>(&mut self, sql: &str, params: &[&dyn ToSql]) -> Result<T, StorageError> {
        self.query_one(sql, params)?.get(0)
    }

    /// The first column of the first row, if there is a row.
    pub fn query_scalar_opt<T: crate::FromSql>(
        &mut self,
        sql: &str,
        params: &[&dyn ToSql],
    ) -> Result<Option<T>, StorageError> {
        self.query_opt(sql, params)?.map(|row| row.get(0)).transpose()
    }

    /// Runs one transaction control statement (`BEGIN`, `SAVEPOINT`…),
    /// on SQLite prepared once: a command's savepoints are two of them.
    fn control(&mut self, sql: &str) -> Result<(), StorageError> {
        let outcome = match &mut self.engine {
            Engine::Sqlite(conn) => conn
                .prepare_cached(sql)
                .and_then(|mut statement| statement.raw_execute())
                .map(|_| ())
                .map_err(StorageError::from),
            Engine::Postgres(pg) => {
                let Postgres {
                    runtime, client, held, ..
                } = &mut **pg;
                exchange(runtime, client, held, client.batch_execute(sql))
            }
        };
        self.note(outcome)
    }

    /// Runs a transaction control statement whose answer nothing waits
    /// for (`BEGIN`, `SAVEPOINT`): on PostgreSQL it goes with the next
    /// statement, as [`Conn::pipeline`]'s do.
    fn control_ahead(&mut self, sql: &str) -> Result<(), StorageError> {
        match &mut self.engine {
            Engine::Sqlite(_) => self.control(sql),
            Engine::Postgres(pg) => {
                pg.held.statements.push(Pending::Control(sql.to_owned()));
                Ok(())
            }
        }
    }

    /// Runs several statements without parameters (migrations).
    pub fn execute_batch(&mut self, sql: &str) -> Result<(), StorageError> {
        let outcome = match &mut self.engine {
            Engine::Sqlite(conn) => conn.execute_batch(sql).map_err(StorageError::from),
            Engine::Postgres(pg) => {
                let Postgres {
                    runtime, client, held, ..
                } = &mut **pg;
                exchange(runtime, client, held, client.batch_execute(sql))
            }
        };
        self.note(outcome)
    }

    /// Remembers the first failure of a transaction.
    fn note<T>(&mut self, outcome: Result<T, StorageError>) -> Result<T, StorageError> {
        if let Err(err) = &outcome
            && self.first_failure.is_none()
        {
            self.first_failure = Some(err.clone());
        }
        outcome
    }

    /// The first statement failure since the transaction began.
    pub(crate) fn first_failure(&self) -> Option<StorageError> {
        self.first_failure.clone()
    }

    /// Runs `work` so that, if it fails, none of its writes remain while
    /// the enclosing transaction goes on (a savepoint).
    pub fn isolated<T, E: From<StorageError>>(&mut self, work: impl FnOnce(&mut Conn) -> Result<T, E>) -> Result<T, E> {
        self.depth += 1;
        let name = format!("jigi_{}", self.depth);
        let raised_before = self.raised.len();
        let outcome = (|| {
            let mark = self.mark();
            self.control_ahead(&format!("SAVEPOINT {name}"))?;
            let outcome = match work(self) {
                // The release sends what the work pipelined: a failure
                // there is the work's own.
                Ok(value) => match self.control(&format!("RELEASE SAVEPOINT {name}")) {
                    Ok(()) => return Ok(Ok(value)),
                    Err(err) => Err(E::from(err)),
                },
                Err(err) => Err(err),
            };
            // What it raised is undone with its writes.
            self.raised.truncate(raised_before);
            // What it pipelined and is still held would be undone: it is
            // never sent (its failure would hide the work's own), nor,
            // when the savepoint itself is still held, anything at all.
            if self.discard_since(mark) {
                return Ok(outcome);
            }
            self.control(&format!("ROLLBACK TO SAVEPOINT {name}"))?;
            self.set_aborted(false);
            self.control(&format!("RELEASE SAVEPOINT {name}"))?;
            Ok::<_, StorageError>(outcome)
        })();
        self.depth -= 1;
        outcome?
    }

    /// Whether a transaction is open. SQLite rolls a transaction back on
    /// its own after some errors (a full disk, an I/O error); what follows
    /// would then commit statement by statement, so the writer checks.
    /// PostgreSQL never leaves one on its own, but after a failure not
    /// undone by a savepoint it only waits to be rolled back.
    pub(crate) fn in_transaction(&self) -> bool {
        match &self.engine {
            Engine::Sqlite(conn) => !conn.is_autocommit(),
            Engine::Postgres(pg) => !pg.held.aborted,
        }
    }

    /// Where what is held stands now, before a savepoint.
    fn mark(&self) -> Option<Mark> {
        match &self.engine {
            Engine::Sqlite(_) => None,
            Engine::Postgres(pg) => Some(Mark {
                exchanges: pg.held.exchanges,
                held: pg.held.statements.len(),
            }),
        }
    }

    /// Drops what was held since `mark` (a failed command's statements).
    /// True when nothing since `mark` reached the server, so that there
    /// is nothing to roll back there.
    fn discard_since(&mut self, mark: Option<Mark>) -> bool {
        match (&mut self.engine, mark) {
            (Engine::Postgres(pg), Some(mark)) => {
                if pg.held.exchanges == mark.exchanges {
                    pg.held.statements.truncate(mark.held);
                    true
                } else {
                    // Sent since the mark: all that is held came after it.
                    pg.held.statements.clear();
                    false
                }
            }
            _ => false,
        }
    }

    fn set_aborted(&mut self, aborted: bool) {
        if let Engine::Postgres(pg) = &mut self.engine {
            pg.held.aborted = aborted;
        }
    }

    /// Whether the connection is still usable (PostgreSQL connections can
    /// be closed by the server).
    pub(crate) fn is_usable(&self) -> bool {
        match &self.engine {
            Engine::Sqlite(_) => true,
            Engine::Postgres(pg) => !pg.client.is_closed(),
        }
    }

    /// Starts the write transaction. On SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`), so nothing in it can fail for another
    /// writer having committed in between.
    pub(crate) fn begin_write(&mut self) -> Result<(), StorageError> {
        self.end_leftover();
        self.first_failure = None;
        self.set_aborted(false);
        self.raised.clear();
        // Not the changed keys: a refused command, whose transaction
        // restarts here, still has its keys dropped (the writer takes
        // them after every group).
        match self.engine {
            Engine::Sqlite(_) => self.control("BEGIN IMMEDIATE"),
            Engine::Postgres(_) => self.control_ahead("BEGIN"),
        }
    }

    /// Undoes the open write transaction and begins another, keeping the
    /// first failure seen (it tells whether writing is failing).
    pub(crate) fn restart_write(&mut self) -> Result<(), StorageError> {
        let failure = self.first_failure.take();
        self.rollback();
        let outcome = self.begin_write();
        self.first_failure = failure.or(self.first_failure.take());
        outcome
    }

    /// Starts a read transaction: every query of a read sees one snapshot.
    pub(crate) fn begin_read(&mut self) -> Result<(), StorageError> {
        self.end_leftover();
        self.first_failure = None;
        self.set_aborted(false);
        match self.engine {
            Engine::Sqlite(_) => self.control("BEGIN"),
            Engine::Postgres(_) => self.control_ahead("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
        }
    }

    pub(crate) fn commit(&mut self) -> Result<(), StorageError> {
        if !self.in_transaction() && self.backend() == Backend::Postgres {
            // Its COMMIT would roll back and answer as if it had committed.
            return Err(self.first_failure().unwrap_or_else(|| {
                StorageError::Unavailable("the transaction was lost to an earlier failure".into())
            }));
        }
        self.control("COMMIT")
    }

    /// Tells whoever waits on [`Database::signal`](crate::Database::signal)
    /// for `name` that this transaction, once committed, changed what they
    /// watch (the outbox relay waits for events added, so its own deletes
    /// do not wake it). A command refused after raising is undone with
    /// what it raised.
    pub fn raise(&mut self, name: &'static str) {
        if !self.raised.contains(&name) {
            self.raised.push(name);
        }
    }

    /// The signals raised since the write transaction began.
    pub(crate) fn take_raised(&mut self) -> Vec<&'static str> {
        std::mem::take(&mut self.raised)
    }

    /// Tells the [`Cache`](crate::cache::Cache) named `cache` that this
    /// transaction changes the value of `key`: the writer drops the key
    /// once the transaction ends, before any caller hears its answer. A
    /// command that changes a cached record must say so, refused or not
    /// (dropping a key that did not change costs one read).
    pub fn changed(&mut self, cache: &'static str, key: impl Into<String>) {
        self.changed.push((cache, key.into()));
    }

    /// The cached keys changed since the write transaction began.
    pub(crate) fn take_changed(&mut self) -> Vec<(&'static str, String)> {
        std::mem::take(&mut self.changed)
    }

    /// Makes this (the writer's) connection leave checkpoints to the
    /// database's checkpointer: SQLite's own checkpoint after a commit
    /// that grows the log past 1,000 pages copies the pages into the
    /// database file and syncs it on the committing thread, stalling every
    /// command waiting for the writer (tens of milliseconds on a busy
    /// disk). From now on a commit only notes the log's size
    /// ([`Conn::wal_pages`]). A no-op on PostgreSQL.
    pub(crate) fn leave_checkpoints(&self) {
        if let Engine::Sqlite(conn) = &self.engine {
            // Replaces SQLite's automatic checkpoint (itself a WAL hook).
            conn.wal_hook(Some(note_wal_pages));
        }
    }

    /// Pages in the write-ahead log after this thread's last commit (0
    /// before any, and on PostgreSQL).
    pub(crate) fn wal_pages(&self) -> usize {
        WAL_PAGES.get()
    }

    /// Copies the write-ahead log's committed pages into the database
    /// file, without waiting for readers or the writer (a `PASSIVE`
    /// checkpoint: what SQLite's automatic checkpoint does). `None` when
    /// nothing could be copied (another checkpoint is running) and on
    /// PostgreSQL.
    pub(crate) fn checkpoint(&mut self) -> Result<Option<Checkpointed>, StorageError> {
        match &mut self.engine {
            Engine::Sqlite(conn) => {
                // One row: busy, frames in the log, frames copied (-1 when
                // the checkpoint could not run).
                let (log, copied): (i64, i64) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                    Ok((row.get(1)?, row.get(2)?))
                })?;
                Ok(match (usize::try_from(log), usize::try_from(copied)) {
                    (Ok(log), Ok(copied)) => Some(Checkpointed { log, copied }),
                    _ => None,
                })
            }
            Engine::Postgres(_) => Ok(None),
        }
    }

    /// Rolls back whatever is open, ignoring "no transaction".
    pub(crate) fn rollback(&mut self) {
        // What was held back would be undone at once.
        if let Engine::Postgres(pg) = &mut self.engine {
            pg.held.statements.clear();
        }
        let _ = self.control("ROLLBACK");
        self.set_aborted(false);
        self.depth = 0;
    }

    /// A transaction left open by a failure is rolled back before the next
    /// one begins: beginning inside it would fail forever after.
    fn end_leftover(&mut self) {
        if let Engine::Sqlite(conn) = &self.engine
            && !conn.is_autocommit()
        {
            self.rollback();
        }
    }
}

thread_local! {
    /// The write-ahead log's size after the last commit on this thread
    /// (the writer's: one connection per thread).
    static WAL_PAGES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The WAL hook of the writer's connection: SQLite calls it after each
/// commit with the log's size in pages.
fn note_wal_pages(_wal: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_PAGES.set(usize::try_from(pages).unwrap_or(0));
    Ok(())
}

/// Binds parameters to a SQLite statement: `$n` by its number, `?` in order.
fn bind_sqlite(statement: &mut rusqlite::CachedStatement<'_>, params: &[&dyn ToSql]) -> Result<(), StorageError> {
    let count = statement.parameter_count();
    let mut used = 0;
    for index in 1..=count {
        let source = match statement.parameter_name(index) {
            None => index - 1,
            Some(name) => name
                .strip_prefix(['$', '?'])
                .and_then(|number| number.parse::<usize>().ok())
                .filter(|number| *number >= 1)
                .map(|number| number - 1)
                .ok_or_else(|| StorageError::Sql(format!("unsupported placeholder {name}: use $1, $2, … or ?")))?,
        };
        let param = params.get(source).ok_or_else(|| {
            StorageError::Sql(format!(
                "the statement uses parameter {} but {} were given",
                source + 1,
                params.len()
            ))
        })?;
        used = used.max(source + 1);
        statement.raw_bind_parameter(index, SqliteParam(param.to_sql()))?;
    }
    if used != params.len() {
        return Err(StorageError::Sql(format!(
            "the statement uses {used} parameters but {} were given",
            params.len()
        )));
    }
    Ok(())
}

struct SqliteParam<'a>(Value<'a>);

impl rusqlite::ToSql for SqliteParam<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null(_) => ValueRef::Null,
            Value::Int(int) => ValueRef::Integer(int),
            Value::Real(real) => ValueRef::Real(real),
            Value::Text(text) => ValueRef::Text(text.as_bytes()),
            Value::Blob(bytes) => ValueRef::Blob(bytes),
        }))
    }
}

impl Postgres {
    fn connect(config: &tokio_postgres::Config) -> Result<Postgres, StorageError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| {
                StorageError::Unavailable(format!("cannot start a PostgreSQL connection's runtime: {err}"))
            })?;
        let (client, connection) = runtime.block_on(config.connect(tokio_postgres::NoTls))?;
        runtime.spawn(async move {
            // The next statement finds the connection closed and fails.
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "PostgreSQL connection ended");
            }
        });
        Ok(Postgres {
            client,
            runtime,
            statements: HashMap::new(),
            held: Held::default(),
        })
    }

    /// The statement for `sql` with parameters of these kinds, prepared once.
    /// Declaring each parameter's type (rather than letting the server
    /// infer it) lets the server convert, as it would a literal.
    fn prepare(&mut self, sql: &str, values: &[Value<'_>]) -> Result<tokio_postgres::Statement, StorageError> {
        let kinds: Vec<Kind> = values.iter().map(Value::kind).collect();
        let key = (sql.to_owned(), kinds);
        if let Some(statement) = self.statements.get(&key) {
            return Ok(statement.clone());
        }
        let types: Vec<Type> = key
            .1
            .iter()
            .map(|kind| match kind {
                Kind::Int => Type::INT8,
                Kind::Real => Type::FLOAT8,
                Kind::Text => Type::TEXT,
                Kind::Blob => Type::BYTEA,
            })
            .collect();
        let statement = self.runtime.block_on(self.client.prepare_typed(sql, &types))?;
        // The server infers the type of a `$n` beyond those given.
        if statement.params().len() != values.len() {
            return Err(StorageError::Sql(format!(
                "the statement uses {} parameters but {} were given",
                statement.params().len(),
                values.len()
            )));
        }
        if self.statements.len() >= POSTGRES_STATEMENTS {
            self.statements.clear();
        }
        self.statements.insert(key, statement.clone());
        Ok(statement)
    }
}

#[derive(Debug)]
struct PgParam<'a>(Value<'a>);

impl tokio_postgres::types::ToSql for PgParam<'_> {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Value::Null(_) => Ok(tokio_postgres::types::IsNull::Yes),
            Value::Int(int) => tokio_postgres::types::ToSql::to_sql(&int, ty, out),
            Value::Real(real) => tokio_postgres::types::ToSql::to_sql(&real, ty, out),
            Value::Text(text) => tokio_postgres::types::ToSql::to_sql(&text, ty, out),
            Value::Blob(bytes) => tokio_postgres::types::ToSql::to_sql(&bytes, ty, out),
        }
    }

    // The statement was prepared with this value's own type.
    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// Sends the held statements and then `last` in one go, in order, and
/// waits for all their answers: the first failure among them is the
/// outcome (after a failure, PostgreSQL refuses what follows in the
/// transaction, so the first is the cause), and leaves the transaction
/// aborted.
fn exchange<T>(
    runtime: &tokio::runtime::Runtime,
    client: &tokio_postgres::Client,
    held: &mut Held,
    last: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, StorageError> {
    held.exchanges += 1;
    let ahead = std::mem::take(&mut held.statements);
    let outcome = if ahead.is_empty() {
        runtime.block_on(last)
    } else {
        runtime.block_on(async {
            let mut ahead: Vec<MaybeDone<LocalBoxFuture<'_, Result<(), tokio_postgres::Error>>>> = ahead
                .iter()
                .map(|statement| maybe_done(statement.send(client)))
                .collect();
            let mut last = std::pin::pin!(maybe_done(last));
            // A request goes to the connection when its future is first
            // polled: polling them once, in order, sends them in order.
            std::future::poll_fn(|cx| {
                for statement in &mut ahead {
                    let _ = Pin::new(statement).poll(cx);
                }
                let _ = last.as_mut().poll(cx);
                Poll::Ready(())
            })
            .await;
            // The answers come back in the same order.
            let mut first_failure = None;
            for statement in &mut ahead {
                (&mut *statement).await;
                if let Err(err) = Pin::new(statement).take_output().expect("awaited") {
                    first_failure.get_or_insert(err);
                }
            }
            last.as_mut().await;
            let last = last.as_mut().take_output().expect("awaited");
            match first_failure {
                Some(err) => Err(err),
                None => last,
            }
        })
    };
    if outcome.is_err() {
        held.aborted = true;
    }
    outcome.map_err(StorageError::from)
}

impl Pending {
    /// Sends the statement (when first polled) and awaits its answer.
    fn send<'a>(&'a self, client: &'a tokio_postgres::Client) -> LocalBoxFuture<'a, Result<(), tokio_postgres::Error>> {
        match self {
            Pending::Control(sql) => Box::pin(client.batch_execute(sql)),
            Pending::Execute(statement, params) => Box::pin(async move {
                let bound: Vec<PgParam<'_>> = params.iter().map(|p| PgParam(p.to_sql())).collect();
                let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = bound.iter().map(|p| p as _).collect();
                client.execute(statement, &refs).await.map(|_| ())
            }),
        }
    }
}

/// A PostgreSQL column as one of the five stored kinds.
fn postgres_value(row: &tokio_postgres::Row, index: usize, ty: &Type) -> Result<Stored, StorageError> {
    let decode = |err: tokio_postgres::Error| StorageError::Decode(err.to_string());
    Ok(match *ty {
        Type::INT8 => row
            .try_get::<_, Option<i64>>(index)
            .map_err(decode)?
            .map_or(Stored::Null, Stored::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(index)
            .map_err(decode)?
            .map_or(Stored::Null, |v| Stored::Int(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(index)
            .map_err(decode)?
            .map_or(Stored::Null, |v| Stored::Int(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(index)
            .map_err(decode)?
            .map_or(Stored::Null, |v| Stored::Int(v.into())),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(index)
            .map_err(decode)?
            .map_or(Stored::Null, Stored::Real),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(index)
            .map_err(decode)?
            .map_or(Stored::Null, |v| Stored::Real(v.into())),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => row
            .try_get::<_, Option<String>>(index)
            .map_err(decode)?
            .map_or(Stored::Null, Stored::Text),
        Type::BYTEA => row
            .try_get::<_, Option<Vec<u8>>>(index)
            .map_err(decode)?
            .map_or(Stored::Null, Stored::Blob),
        ref other => {
            return Err(StorageError::Decode(format!(
                "column {index} has type {other}, which Jigi does not store (cast sums and counts to BIGINT)"
            )));
        }
    })
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(6).collect::<Vec<_>>().join(" ")
}

/// The column names of the queries a connection ran, each kept once and
/// shared by every row: a row names its columns without copying them.
#[derive(Default)]
struct ColumnNames(HashMap<String, Arc<[String]>>);

impl ColumnNames {
    /// Queries remembered; beyond this the map is emptied (statements built
    /// for a request's shape are many).
    const MOST: usize = 256;

    /// The names of `sql`'s columns, which are `names` now (a schema change
    /// can change what `SELECT *` returns: kept names are checked).
    fn of<'a>(&mut self, sql: &str, names: impl Iterator<Item = &'a str> + Clone) -> Arc<[String]> {
        if let Some(kept) = self.0.get(sql)
            && kept.iter().map(String::as_str).eq(names.clone())
        {
            return kept.clone();
        }
        if self.0.len() >= Self::MOST {
            self.0.clear();
        }
        let fresh: Arc<[String]> = names.map(str::to_owned).collect();
        self.0.insert(sql.to_owned(), fresh.clone());
        fresh
    }
}
