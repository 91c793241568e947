//! A service's database: one writer thread that commits commands in
//! groups, and reader threads for queries.
//!
//! **The write path.** Every change goes through [`Database::write`]: the
//! command (a closure that runs statements on a [`Tx`]) is sent to the
//! database's single writer thread. The writer takes every command that
//! is waiting (up to [`MAX_GROUP`]) and runs them in one transaction, each
//! in its own savepoint: a command that fails leaves no write behind and
//! does not undo its neighbours. One commit then makes the whole group
//! durable, and only after it does each caller get its answer. Under load
//! many commands share a commit; alone, a command commits at once. The
//! audit entry of the call a command serves is appended in the same
//! transaction (see [`crate::call`]).
//!
//! One writer means no writer ever waits on another's lock (SQLite allows
//! one writer at a time anyway), and statements run on the thread that
//! owns the connection, with no hop per statement.
//!
//! **Reads** ([`Database::read`]) run on reader threads with their own
//! connections, all of a request's queries in one trip, in one snapshot;
//! they never queue behind writes (SQLite's WAL lets readers read while the
//! writer writes).
//!
//! **Checkpoints** (SQLite) copy the write-ahead log into the database
//! file. A checkpointer thread copies the bulk once the log passes 4,000
//! pages; the writer copies the last frames itself, between two groups, so
//! that SQLite can start the log afresh (see `checkpoint`). A commit is
//! durable as before: against a crash of the process at once, against a
//! power cut from the next checkpoint on.
//!
//! **Failures.** A statement that fails fails its command (the client is
//! told, [`StorageError::is_transient`] says whether to retry). A failure
//! that loses the whole transaction (a full disk, an I/O error, a closed
//! PostgreSQL connection) fails every command of the group; the next group
//! begins afresh, so the service recovers by itself the moment the cause
//! passes. [`Database::health`] says how writing stands.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, watch};

use crate::cache::{Cache, Invalidate};
use crate::call::{Call, CommandFailure, CommandLog};
use crate::checkpoint::{Pacer, Progress, Step};
use crate::conn::{Backend, Conn};
use crate::error::StorageError;
use crate::migrate::{self, Migration};

/// Most commands committed together.
pub const MAX_GROUP: usize = 512;

/// Tuning of a database.
#[derive(Debug, Clone)]
pub struct Options {
    /// Reader threads (and connections).
    pub readers: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { readers: 2 }
    }
}

/// How writing stands.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// Whether the last group committed.
    pub writable: bool,
    /// What failed last, while writes fail.
    pub failing: Option<StorageError>,
    /// Since when writes fail.
    pub failing_since: Option<Instant>,
    /// Groups that failed to commit since the start, by kind of failure.
    pub failed_groups: u64,
    /// Of which because the disk was full.
    pub disk_full: u64,
    /// SQLite checkpoints run since the start.
    pub checkpoints: u64,
    /// Of which run by the writer itself: the last frames of a log, so
    /// that it can start afresh, or a log grown long.
    pub writer_checkpoints: u64,
    /// Times SQLite's write-ahead log started afresh (a log that never
    /// does grows until the writer copies all of it, stalling commands).
    pub log_restarts: u64,
}

/// A service's database. Cheap to clone; every clone uses the same threads.
#[derive(Clone)]
pub struct Database {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.shared.backend)
            .finish()
    }
}

struct Shared {
    backend: Backend,
    writer: mpsc::UnboundedSender<Message>,
    readers: Mutex<Option<std::sync::mpsc::Sender<ReadJob>>>,
    state: Arc<WriterState>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

/// What the writer thread shares with the handles.
struct WriterState {
    log: OnceLock<Arc<dyn CommandLog>>,
    /// Commands submitted and not yet taken by the writer.
    queued: AtomicUsize,
    commits: watch::Sender<u64>,
    /// Named signals ([`Database::signal`]), each counting the commits
    /// that raised it.
    signals: Mutex<HashMap<&'static str, watch::Sender<u64>>>,
    /// Read caches ([`Database::cache`]) the writer keeps exact.
    caches: Mutex<Vec<Weak<dyn Invalidate>>>,
    health: Mutex<Health>,
}

enum Message {
    Job(Box<dyn Job>),
    Close(oneshot::Sender<()>),
}

type ReadJob = Box<dyn FnOnce(&mut Conn) + Send>;

/// Where a database is, parsed from its URL.
#[derive(Debug, Clone)]
enum Target {
    Sqlite(String),
    Postgres(String),
}

impl Target {
    fn parse(url: &str) -> Result<Target, StorageError> {
        if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            // Options that sqlx took in the URL (`?mode=rwc`) mean nothing
            // here: the file is always created if missing.
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(StorageError::UnsupportedUrl(url.to_owned()));
            }
            Ok(Target::Sqlite(path.to_owned()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Target::Postgres(url.to_owned()))
        } else {
            Err(StorageError::UnsupportedUrl(url.to_owned()))
        }
    }

    fn backend(&self) -> Backend {
        match self {
            Target::Sqlite(_) => Backend::Sqlite,
            Target::Postgres(_) => Backend::Postgres,
        }
    }

    fn connect(&self, reader: bool) -> Result<Conn, StorageError> {
        match self {
            Target::Sqlite(path) => Conn::sqlite(path, reader),
            Target::Postgres(url) => Conn::postgres(url, reader),
        }
    }
}

impl Database {
    /// Opens the database at `url` (`sqlite://path/to/file.db`, created with
    /// its folder if missing, or `postgres://…`) and applies `migrations`.
    pub async fn open(url: &str, migrations: &[Migration]) -> Result<Database, StorageError> {
        Database::open_with(url, migrations, Options::default()).await
    }

    /// [`Database::open`] with explicit tuning.
    pub async fn open_with(url: &str, migrations: &[Migration], options: Options) -> Result<Database, StorageError> {
        let target = Target::parse(url)?;
        if let Target::Sqlite(path) = &target
            && let Some(dir) = Path::new(path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|err| StorageError::Unavailable(format!("cannot create {}: {err}", dir.display())))?;
        }
        let (writer, jobs) = mpsc::unbounded_channel();
        let state = Arc::new(WriterState {
            log: OnceLock::new(),
            queued: AtomicUsize::new(0),
            commits: watch::Sender::new(0),
            signals: Mutex::default(),
            caches: Mutex::default(),
            health: Mutex::new(Health {
                writable: true,
                ..Health::default()
            }),
        });
        let mut threads = Vec::new();

        // SQLite's checkpoints run on a thread of their own, so the writer
        // only copies the last frames of each log (see `checkpoint`).
        let (checkpoint, checkpoints) = match target {
            Target::Sqlite(_) => {
                let (wake, woken) = std::sync::mpsc::sync_channel::<u64>(1);
                let progress = Arc::new(Progress::default());
                (
                    Some(Checkpointer {
                        wake,
                        pacer: Pacer::new(progress.clone()),
                    }),
                    Some((woken, progress)),
                )
            }
            Target::Postgres(_) => (None, None),
        };

        // The writer opens its connection and migrates before anything else
        // touches the database.
        let (ready, opened) = oneshot::channel();
        let writer_target = target.clone();
        let writer_state = state.clone();
        let migrations = migrations.to_vec();
        threads.push(spawn("jigi-db-writer", move || {
            let mut conn = match writer_target
                .connect(false)
                .and_then(|mut conn| migrate::apply(&mut conn, &migrations).map(|()| conn))
            {
                Ok(conn) => conn,
                Err(err) => {
                    let _ = ready.send(Err(err));
                    return;
                }
            };
            if checkpoint.is_some() {
                conn.leave_checkpoints();
            }
            let _ = ready.send(Ok(()));
            write_loop(&mut conn, &writer_target, jobs, &writer_state, checkpoint);
        })?);
        opened
            .await
            .map_err(|_| StorageError::Unavailable("the database writer did not start".into()))??;

        if let Some((woken, progress)) = checkpoints {
            let (ready, opened) = oneshot::channel();
            let checkpoint_target = target.clone();
            let checkpoint_state = state.clone();
            threads.push(spawn("jigi-db-checkpoint", move || {
                let mut conn = match checkpoint_target.connect(false) {
                    Ok(conn) => conn,
                    Err(err) => {
                        let _ = ready.send(Err(err));
                        return;
                    }
                };
                let _ = ready.send(Ok(()));
                // Ends when the writer does (its sender is dropped).
                while let Ok(generation) = woken.recv() {
                    let result = match conn.checkpoint() {
                        Ok(result) => result,
                        Err(err) => {
                            tracing::debug!(error = %err, "checkpoint not done; the next commit asks again");
                            None
                        }
                    };
                    if result.is_some() {
                        checkpoint_state.health.lock().expect("health lock").checkpoints += 1;
                    }
                    progress.done(generation, result);
                }
            })?);
            opened
                .await
                .map_err(|_| StorageError::Unavailable("the database checkpointer did not start".into()))??;
        }

        let (reader_sender, reader_jobs) = std::sync::mpsc::channel::<ReadJob>();
        let reader_jobs = Arc::new(Mutex::new(reader_jobs));
        for index in 0..options.readers.max(1) {
            let (ready, opened) = oneshot::channel();
            let reader_target = target.clone();
            let jobs = reader_jobs.clone();
            threads.push(spawn(&format!("jigi-db-reader-{index}"), move || {
                let conn = match reader_target.connect(true) {
                    Ok(conn) => conn,
                    Err(err) => {
                        let _ = ready.send(Err(err));
                        return;
                    }
                };
                let _ = ready.send(Ok(()));
                read_loop(conn, &reader_target, &jobs);
            })?);
            opened
                .await
                .map_err(|_| StorageError::Unavailable("a database reader did not start".into()))??;
        }

        Ok(Database {
            shared: Arc::new(Shared {
                backend: target.backend(),
                writer,
                readers: Mutex::new(Some(reader_sender)),
                state,
                threads: Mutex::new(threads),
            }),
        })
    }

    pub fn backend(&self) -> Backend {
        self.shared.backend
    }

    /// Runs `command` on the writer, in the next group's transaction; its
    /// answer comes once that transaction is committed. If the command
    /// fails, its writes are undone and the group goes on. A command serving
    /// a call (see [`crate::call`]) has the call's entry appended in the
    /// same transaction.
    ///
    /// The command runs inside the caller's span, so the events it writes
    /// carry the caller's trace context.
    ///
    /// The command runs even if the caller stops waiting: it happens or
    /// not as a whole, and an idempotent retry finds its first answer.
    pub async fn write<T, E, F>(&self, command: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: CommandFailure,
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Command {
            run: command,
            call: Call::current(),
            span: tracing::Span::current(),
            dispatch: tracing::dispatcher::get_default(Clone::clone),
            reply,
        });
        self.shared.state.queued.fetch_add(1, Ordering::Relaxed);
        if self.shared.writer.send(Message::Job(job)).is_err() {
            self.shared.state.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(E::from(closed()));
        }
        answer.await.unwrap_or_else(|_| Err(E::from(closed())))
    }

    /// A read cache named `name`, holding at most `capacity` values, which
    /// the writer keeps exact: commands name the keys they change
    /// ([`Conn::changed`]) and the writer drops them before answering.
    pub fn cache<V: Send + Sync + 'static>(&self, name: &'static str, capacity: usize) -> Cache<V> {
        let cache = Cache::new(name, capacity);
        let mut caches = self
            .shared
            .state
            .caches
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        caches.retain(|cache| cache.strong_count() > 0);
        caches.push(Arc::downgrade(&cache.invalidator()));
        cache
    }

    /// Runs `query` on a reader, in one read transaction (one snapshot).
    pub async fn read<T, E, F>(&self, query: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let span = tracing::Span::current();
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let job: ReadJob = Box::new(move |conn: &mut Conn| {
            let _dispatch = tracing::dispatcher::set_default(&dispatch);
            let _entered = span.enter();
            match conn.begin_read() {
                Ok(()) => {
                    let result = query(conn);
                    // The caller has its answer while the snapshot ends
                    // (a round trip on PostgreSQL).
                    let _ = reply.send(result);
                    conn.rollback();
                }
                Err(err) => {
                    let _ = reply.send(Err(E::from(err)));
                }
            }
        });
        let sent = match &*self.shared.readers.lock().expect("reader channel lock") {
            Some(readers) => readers.send(job).is_ok(),
            None => false,
        };
        if !sent {
            return Err(E::from(closed()));
        }
        answer.await.unwrap_or_else(|_| Err(E::from(closed())))
    }

    /// Installs the log that records, in each command's transaction, the
    /// call it serves. Set once, before serving calls.
    pub fn set_command_log(&self, log: Arc<dyn CommandLog>) -> Result<(), StorageError> {
        self.shared
            .state
            .log
            .set(log)
            .map_err(|_| StorageError::Sql("the database already has a command log".into()))
    }

    /// Counts committed groups; changes after every commit (the outbox
    /// relay waits on it for new events).
    pub fn commits(&self) -> watch::Receiver<u64> {
        self.shared.state.commits.subscribe()
    }

    /// Changes after every commit of a transaction that raised `name`
    /// ([`Conn::raise`]): a watcher wakes for the changes it cares about,
    /// not for every commit (its own included).
    pub fn signal(&self, name: &'static str) -> watch::Receiver<u64> {
        let mut signals = self
            .shared
            .state
            .signals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        signals.entry(name).or_insert_with(|| watch::Sender::new(0)).subscribe()
    }

    /// Commands waiting for the writer: how far behind writing is.
    pub fn queued(&self) -> usize {
        self.shared.state.queued.load(Ordering::Relaxed)
    }

    /// How writing stands now.
    pub fn health(&self) -> Health {
        self.shared.state.health.lock().expect("health lock").clone()
    }

    /// Finishes the commands already submitted, then closes every
    /// connection. Later calls fail as unavailable.
    pub async fn close(&self) {
        let (done, finished) = oneshot::channel();
        if self.shared.writer.send(Message::Close(done)).is_ok() {
            let _ = finished.await;
        }
        self.shared.readers.lock().expect("reader channel lock").take();
        let threads: Vec<_> = std::mem::take(&mut *self.shared.threads.lock().expect("threads lock"));
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}

fn closed() -> StorageError {
    StorageError::Unavailable("the database is closed".into())
}

fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<std::thread::JoinHandle<()>, StorageError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(work)
        .map_err(|err| StorageError::Unavailable(format!("cannot start a database thread: {err}")))
}

/// A command waiting for the writer.
trait Job: Send {
    /// Runs the command in the open transaction; what to tell its caller
    /// once the transaction has ended.
    /// `alone`: the only command of its transaction, which then needs no
    /// savepoint of its own.
    fn run(self: Box<Self>, conn: &mut Conn, log: Option<&dyn CommandLog>, alone: bool) -> Box<dyn Finish>;
    /// Tells the caller the command could not run.
    fn fail(self: Box<Self>, err: StorageError);
}

/// Telling a caller how its command ended, once the commit is known.
trait Finish: Send {
    fn finish(self: Box<Self>, commit: &Result<(), StorageError>);
}

struct Command<F, T, E> {
    run: F,
    call: Option<Call>,
    /// The caller's span: what the command does (events it writes carry
    /// their trace context from it) belongs to the caller's trace.
    span: tracing::Span,
    /// The caller's subscriber: in a process running several services,
    /// each service's telemetry is its own.
    dispatch: tracing::Dispatch,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<F, T, E> Job for Command<F, T, E>
where
    T: Send + 'static,
    E: CommandFailure,
    F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut Conn, log: Option<&dyn CommandLog>, alone: bool) -> Box<dyn Finish> {
        let Command {
            run,
            call,
            span,
            dispatch,
            reply,
        } = *self;
        tracing::dispatcher::with_default(&dispatch, move || {
            let _entered = span.enter();
            run_command(run, call, reply, conn, log, alone)
        })
    }

    fn fail(self: Box<Self>, err: StorageError) {
        let _ = self.reply.send(Err(E::from(err)));
    }
}

/// Runs a command in its savepoint (or, alone in its transaction, in the
/// transaction itself) and appends its call's entry.
fn run_command<F, T, E>(
    run: F,
    call: Option<Call>,
    reply: oneshot::Sender<Result<T, E>>,
    conn: &mut Conn,
    log: Option<&dyn CommandLog>,
    alone: bool,
) -> Box<dyn Finish>
where
    T: Send + 'static,
    E: CommandFailure,
    F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
{
    // A call is logged once, by its first command to commit.
    let logging = match (log, &call) {
        (Some(log), Some(call)) if !call.is_logged() => Some((log, call)),
        _ => None,
    };
    let mut appended = false;
    let work = |conn: &mut Conn| {
        let value = run(conn)?;
        if let Some((log, call)) = logging {
            log.append(conn, call, "OK")?;
            appended = true;
        }
        Ok(value)
    };
    let mut result: Result<T, E> = if alone {
        // Two statements fewer for the common case of a command that
        // commits alone; a refusal undoes the whole transaction (its own
        // writes only) and a fresh one takes what follows.
        let result = work(conn);
        if result.is_err() {
            let restarted = conn.restart_write();
            if let Some(log) = log {
                log.ended(false);
            }
            if let Err(err) = restarted {
                // No transaction to log the refusal in: the group is lost.
                return Box::new(Reply {
                    result: Err(E::from(err)),
                    reply,
                    logged: None,
                });
            }
        }
        result
    } else {
        conn.isolated(work)
    };
    if result.is_err() {
        appended = false;
    }
    // A refusal is logged too, after its writes were undone: in a group,
    // in a savepoint of its own, so that an entry that cannot be written
    // fails this command only (on PostgreSQL its failure would otherwise
    // surface with the next command's statements).
    if let (Err(refusal), Some((log, call))) = (&result, logging) {
        let appended_refusal = if alone {
            log.append(conn, call, refusal.outcome())
        } else {
            conn.isolated(|conn| log.append(conn, call, refusal.outcome()))
        };
        match appended_refusal {
            Ok(()) => appended = true,
            Err(err) => result = Err(E::from(err)),
        }
    }
    Box::new(Reply {
        result,
        reply,
        logged: logging.filter(|_| appended).map(|(_, call)| call.clone()),
    })
}

struct Reply<T, E> {
    result: Result<T, E>,
    reply: oneshot::Sender<Result<T, E>>,
    logged: Option<Call>,
}

impl<T: Send, E: CommandFailure> Finish for Reply<T, E> {
    fn finish(self: Box<Self>, commit: &Result<(), StorageError>) {
        let Reply { result, reply, logged } = *self;
        let outcome = match commit {
            Ok(()) => {
                if let Some(call) = logged {
                    call.mark_logged();
                }
                result
            }
            Err(err) => Err(E::from(err.clone())),
        };
        let _ = reply.send(outcome);
    }
}

fn write_loop(
    conn: &mut Conn,
    target: &Target,
    mut jobs: mpsc::UnboundedReceiver<Message>,
    state: &WriterState,
    mut checkpoint: Option<Checkpointer>,
) {
    let mut closing = None;
    while closing.is_none() {
        let mut group: Vec<Box<dyn Job>> = Vec::new();
        match jobs.blocking_recv() {
            None => break,
            Some(Message::Close(done)) => closing = Some(done),
            Some(Message::Job(job)) => group.push(job),
        }
        while closing.is_none() && group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(Message::Job(job)) => group.push(job),
                Ok(Message::Close(done)) => closing = Some(done),
                Err(_) => break,
            }
        }
        if group.is_empty() {
            continue;
        }
        state.queued.fetch_sub(group.len(), Ordering::Relaxed);
        if !conn.is_usable() {
            match target.connect(false) {
                Ok(fresh) => *conn = fresh,
                Err(err) => {
                    state.record(&Err(err.clone()));
                    for job in group {
                        job.fail(err.clone());
                    }
                    continue;
                }
            }
        }
        commit_group(conn, group, state);
        if let Some(checkpoint) = &mut checkpoint {
            checkpoint.after_commit(conn, state);
        }
    }
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

/// The writer's side of SQLite's checkpoints.
struct Checkpointer {
    /// Wakes the checkpointer thread for a generation of the log.
    wake: std::sync::mpsc::SyncSender<u64>,
    pacer: Pacer,
}

impl Checkpointer {
    fn after_commit(&mut self, conn: &mut Conn, state: &WriterState) {
        let pages = conn.wal_pages();
        let restarts = self.pacer.restarts();
        let step = self.pacer.after_commit(pages);
        if self.pacer.restarts() != restarts {
            state.health.lock().expect("health lock").log_restarts = self.pacer.restarts();
        }
        match step {
            Step::Nothing => {}
            // The channel is empty here (the checkpointer took the last
            // wake before reporting); an error means its thread has ended.
            Step::Wake(generation) => {
                if self.wake.try_send(generation).is_err() {
                    self.pacer.wake_failed();
                }
            }
            Step::Copy => match conn.checkpoint() {
                Ok(Some(result)) => {
                    self.pacer.copied(result);
                    let mut health = state.health.lock().expect("health lock");
                    health.checkpoints += 1;
                    health.writer_checkpoints += 1;
                }
                // The checkpointer is copying; the next commit looks again.
                Ok(None) => {}
                Err(err) => tracing::warn!(error = %err, pages, "the write-ahead log cannot be checkpointed"),
            },
        }
    }
}

/// Runs a group of commands in one transaction, commits it, and answers
/// each command's caller.
fn commit_group(conn: &mut Conn, group: Vec<Box<dyn Job>>, state: &WriterState) {
    let log = state.log.get().map(|log| log.as_ref());
    if let Err(err) = conn.begin_write() {
        conn.rollback();
        state.record(&Err(err.clone()));
        for job in group {
            job.fail(err.clone());
        }
        return;
    }
    let mut finishes = Vec::with_capacity(group.len());
    let mut lost: Option<StorageError> = None;
    let alone = group.len() == 1;
    for job in group {
        if let Some(err) = &lost {
            // The transaction is gone: running more commands now would
            // commit each statement on its own.
            job.fail(err.clone());
            continue;
        }
        finishes.push(job.run(conn, log, alone));
        if !conn.in_transaction() || !conn.is_usable() {
            // The failure that cost the transaction is what every command
            // of the group is told (a full disk, a lost connection).
            lost = Some(
                conn.first_failure()
                    .filter(StorageError::is_transient)
                    .unwrap_or_else(|| {
                        StorageError::Unavailable("the database rolled the transaction back after a failure".into())
                    }),
            );
        }
    }
    let commit = match lost {
        Some(err) => Err(err),
        None => conn.commit(),
    };
    if commit.is_err() {
        conn.rollback();
    }
    if let Some(log) = log {
        log.ended(commit.is_ok());
    }
    // A command refused for a full disk fails alone (SQLite need not lose
    // the transaction for it), yet writing is failing all the same. A
    // commit refused for what a command wrote (on PostgreSQL, a pipelined
    // statement's constraint) says nothing of the database.
    let failing = match &commit {
        Ok(()) => conn
            .first_failure()
            .filter(StorageError::is_transient)
            .map_or(Ok(()), Err),
        Err(err) if err.is_transient() => Err(err.clone()),
        Err(_) => Ok(()),
    };
    // Health and the commit count first: a caller that hears its answer
    // and looks sees the state its command left.
    state.record(&failing);
    // Committed or not (a lost connection may have committed), before any
    // caller hears its answer.
    let changed = conn.take_changed();
    if !changed.is_empty() {
        let caches = state.caches.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for cache in caches.iter().filter_map(Weak::upgrade) {
            for (name, key) in &changed {
                if *name == cache.name() {
                    cache.invalidate(key);
                }
            }
        }
    }
    let raised = conn.take_raised();
    if commit.is_ok() {
        state.commits.send_modify(|count| *count += 1);
        if !raised.is_empty() {
            let signals = state.signals.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for name in raised {
                if let Some(signal) = signals.get(name) {
                    signal.send_modify(|count| *count += 1);
                }
            }
        }
    }
    for finish in finishes {
        finish.finish(&commit);
    }
}

fn read_loop(mut conn: Conn, target: &Target, jobs: &Mutex<std::sync::mpsc::Receiver<ReadJob>>) {
    loop {
        let job = {
            let Ok(jobs) = jobs.lock() else { return };
            match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        if !conn.is_usable()
            && let Ok(fresh) = target.connect(true)
        {
            conn = fresh;
        }
        job(&mut conn);
    }
}

impl WriterState {
    fn record(&self, outcome: &Result<(), StorageError>) {
        let mut health = self.health.lock().expect("health lock");
        match outcome {
            Ok(()) => {
                if !health.writable {
                    tracing::info!("database writes succeed again");
                }
                health.writable = true;
                health.failing = None;
                health.failing_since = None;
            }
            Err(err) => {
                if health.writable {
                    tracing::error!(error = %err, "database writes fail");
                }
                health.writable = false;
                health.failing = Some(err.clone());
                health.failing_since.get_or_insert_with(Instant::now);
                health.failed_groups += 1;
                if matches!(err, StorageError::Full(_)) {
                    health.disk_full += 1;
                }
            }
        }
    }
}
