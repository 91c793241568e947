//! What the registry's benchmarks share: measuring (latency percentiles,
//! peak RSS, CPU time, context switches), the database to run on, and the
//! bare pipeline every figure is compared with.
//!
//! **The bare pipeline** is what a careful engineer would write by hand to
//! do the registry's work without Jigi's shared crates: the same domain
//! rules (validation, PMT, the event, which are pure functions of the
//! registry), and then
//!
//! - one writer thread owning a rusqlite (or synchronous `postgres`)
//!   connection, taking every job waiting and committing them together
//!   (group commit), with the same durability settings as the write path
//!   (WAL, `synchronous = NORMAL`; PostgreSQL's defaults);
//! - one lookup per group for duplicate heads, ID cards and request IDs,
//!   then multi-row `INSERT`s of the same rows in the same tables (households,
//!   members, outbox, idempotent requests, audit log), the audit chain's head
//!   kept in memory;
//! - after the commit, the group's events published to JetStream with many
//!   acks in flight (groups are pipelined, not waited for one by one), and
//!   once acked their outbox rows deleted in the writer's next transaction.
//!
//! If a group's statements fail (a duplicate two commands of the group
//! share, a constraint), the group is rolled back and its commands retried
//! one per transaction, so one bad command never fails its neighbours.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use async_nats::jetstream::message::PublishMessage;
use jigi_bus::OutgoingEvent;
use jigi_common::{Geography, Region};
use jigi_proto::registry as pr;
use jigi_registry::domain::identity;
use jigi_registry::domain::model::{Household, HouseholdStatus};
use jigi_registry::domain::pmt::PmtConfig;
use jigi_registry::domain::validate::Rules;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

// ---------------------------------------------------------------- measuring

/// An environment variable as a number, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn status_kib(field: &str) -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Peak resident memory of this process (VmHWM) in MiB, since the start or
/// the last [`reset_peak_rss`].
pub fn peak_rss_mib() -> f64 {
    status_kib("VmHWM:").unwrap_or(0) as f64 / 1024.0
}

/// Resident memory now (VmRSS) in MiB.
pub fn rss_mib() -> f64 {
    status_kib("VmRSS:").unwrap_or(0) as f64 / 1024.0
}

/// Resets VmHWM to the current RSS (Linux: `5` to `/proc/self/clear_refs`),
/// so the next [`peak_rss_mib`] is the peak of one phase.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// CPU time (user + system) and context switches of this process, all
/// threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub cpu: Duration,
    /// CPU time of the whole machine (every process: nats-server, PostgreSQL…).
    pub machine: Duration,
    pub voluntary: u64,
    pub involuntary: u64,
}

impl Usage {
    pub fn now() -> Usage {
        let mut usage = Usage::default();
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            // Fields after the command name (which may contain spaces).
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the line: 11 and 12 after ')'.
            let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
                + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
            usage.cpu = Duration::from_millis(ticks * 10);
        }
        if let Ok(stat) = std::fs::read_to_string("/proc/stat")
            && let Some(line) = stat.lines().next()
        {
            // cpu  user nice system idle iowait irq softirq steal …: busy is all but idle and iowait.
            let ticks: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
            let busy: u64 = ticks
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != 3 && *i != 4 && *i < 8)
                .map(|(_, t)| t)
                .sum();
            usage.machine = Duration::from_millis(busy * 10);
        }
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for task in tasks.flatten() {
                if let Ok(status) = std::fs::read_to_string(task.path().join("status")) {
                    for line in status.lines() {
                        let value = |l: &str| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok());
                        if line.starts_with("voluntary_ctxt_switches:") {
                            usage.voluntary += value(line).unwrap_or(0);
                        } else if line.starts_with("nonvoluntary_ctxt_switches:") {
                            usage.involuntary += value(line).unwrap_or(0);
                        }
                    }
                }
            }
        }
        usage
    }

    /// What was used since `self` (threads that ended in between are not
    /// counted in the switches).
    pub fn since(self, earlier: Usage) -> Usage {
        Usage {
            cpu: self.cpu.saturating_sub(earlier.cpu),
            machine: self.machine.saturating_sub(earlier.machine),
            voluntary: self.voluntary.saturating_sub(earlier.voluntary),
            involuntary: self.involuntary.saturating_sub(earlier.involuntary),
        }
    }

    /// `cpu 0.61 cores (machine 1.50), 12 µs/op, 3.1 + 0.2 switches/op`
    pub fn describe(&self, wall: Duration, operations: usize) -> String {
        let ops = operations.max(1) as f64;
        let wall = wall.as_secs_f64().max(1e-9);
        format!(
            "cpu {:.2} cores (machine {:.2}), {:.0} µs cpu/op, {:.1} voluntary + {:.1} involuntary switches/op",
            self.cpu.as_secs_f64() / wall,
            self.machine.as_secs_f64() / wall,
            self.cpu.as_secs_f64() * 1e6 / ops,
            self.voluntary as f64 / ops,
            self.involuntary as f64 / ops,
        )
    }
}

/// Cores kept busy by other processes (other builds on a shared machine,
/// nats-server's own housekeeping) over half a second while this process
/// idles. Waits up to BENCH_QUIET_WAIT seconds (default 120) for the
/// machine to quieten (under 0.25 cores), and says what it found.
pub async fn background_load() -> f64 {
    let deadline = Instant::now() + Duration::from_secs(env_usize("BENCH_QUIET_WAIT", 120) as u64);
    loop {
        let before = Usage::now();
        let started = Instant::now();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let used = Usage::now().since(before);
        let load = used.machine.saturating_sub(used.cpu).as_secs_f64() / started.elapsed().as_secs_f64();
        if load < 0.25 || Instant::now() >= deadline {
            return load;
        }
    }
}

/// Latencies of a run, sorted.
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn new(mut samples: Vec<Duration>) -> Latencies {
        samples.sort_unstable();
        Latencies(samples)
    }

    /// The `p`-th percentile (nearest rank).
    pub fn percentile(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    pub fn p50(&self) -> Duration {
        self.percentile(50.0)
    }

    pub fn p99(&self) -> Duration {
        self.percentile(99.0)
    }

    pub fn max(&self) -> Duration {
        self.0.last().copied().unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------- databases

/// A database for one side of a benchmark.
pub struct BenchDatabase {
    pub url: String,
    /// `(server, name)` of a PostgreSQL database made for the run, dropped by [`BenchDatabase::drop_now`].
    made: Option<(String, String)>,
}

/// The PostgreSQL server to run on: `BENCH_POSTGRES`, else `JIGI_TEST_POSTGRES`.
pub fn postgres_server() -> Option<String> {
    ["BENCH_POSTGRES", "JIGI_TEST_POSTGRES"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|v| !v.is_empty())
        .map(|v| v.trim_end_matches('/').to_owned())
}

impl BenchDatabase {
    /// SQLite in `dir`, or a fresh PostgreSQL database when a server is
    /// given (`BENCH_POSTGRES` or `JIGI_TEST_POSTGRES`).
    pub async fn new(dir: &std::path::Path, name: &str) -> BenchDatabase {
        if std::env::var("BENCH_POSTGRES").map(|v| v.is_empty()).unwrap_or(true) {
            // The testkit's own rule (JIGI_TEST_POSTGRES, else SQLite).
            let url = jigi_testkit::database_url(dir, name).await;
            let made = postgres_server().map(|server| {
                let database = url.rsplit('/').next().unwrap_or_default().to_owned();
                (server, database)
            });
            return BenchDatabase { url, made };
        }
        let server = postgres_server().expect("BENCH_POSTGRES is set");
        let database = format!("jigi_bench_{name}_{}", std::process::id());
        let (admin, db) = (format!("{server}/postgres"), database.clone());
        tokio::task::spawn_blocking(move || {
            let mut client = postgres::Client::connect(&admin, postgres::NoTls)
                .unwrap_or_else(|err| panic!("cannot reach PostgreSQL at {admin}: {err}"));
            // Two statements: neither may run inside a (multi-statement) transaction.
            client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
                .expect("drop a leftover benchmark database");
            client
                .batch_execute(&format!("CREATE DATABASE {db}"))
                .expect("create the benchmark's database");
        })
        .await
        .unwrap();
        BenchDatabase {
            url: format!("{server}/{database}"),
            made: Some((server, database)),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }

    /// Drops a PostgreSQL database made for the run (SQLite files go with their folder).
    pub async fn drop_now(self) {
        if let Some((server, database)) = self.made {
            let _ = tokio::task::spawn_blocking(move || {
                if let Ok(mut client) = postgres::Client::connect(&format!("{server}/postgres"), postgres::NoTls) {
                    let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"));
                }
            })
            .await;
        }
    }
}

/// Creates the registry's tables (its own and the host's shared ones) in
/// `url`, exactly as the service does, for the bare pipeline to write to.
pub async fn create_registry_schema(url: &str) {
    let migrations = [
        jigi_server::host::shared_migrations().as_slice(),
        jigi_registry::storage::MIGRATIONS,
    ]
    .concat();
    let database = jigi_storage::Database::open(url, &migrations)
        .await
        .expect("registry schema");
    database.close().await;
}

/// `engine (url)` for the figures' heading.
pub fn describe_database(url: &str) -> String {
    if url.starts_with("postgres") {
        format!("PostgreSQL ({})", jigi_server::host::redact(url))
    } else {
        "SQLite (WAL, synchronous=NORMAL)".to_owned()
    }
}

// ---------------------------------------------------------------- the work

/// The domain work of one registration, done before anything is written:
/// validation, the PMT score, the duplicate keys, the event, and every
/// value formatted for storage.
pub struct Prepared {
    pub household: Household,
    head_key: String,
    id_cards: Vec<String>,
    event: OutgoingEvent,
    registered_at: String,
    ce_time: String,
    birth_dates: Vec<String>,
}

/// What the bare pipeline knows of the region's rules.
pub struct Domain {
    geography: Geography,
    pmt: PmtConfig,
    region: Region,
}

impl Domain {
    pub fn new(region: Region) -> Domain {
        Domain {
            geography: Geography::built_in(),
            pmt: PmtConfig::built_in(),
            region,
        }
    }

    /// Validates and scores a draft, as the registry does.
    pub fn prepare(&self, draft: &pr::HouseholdDraft) -> Result<Prepared, String> {
        let today = jigi_storage::timestamp::now_utc().date_naive();
        let rules = Rules {
            geography: &self.geography,
            region: self.region,
            today,
        };
        let new = jigi_registry::grpc::parse::household(&rules, Some(draft), "household").map_err(|errors| {
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.description))
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        let head = &new.members[0];
        let head_key = identity::head_key(&head.given_name, &head.family_name, head.birth_date, &new.location);
        let id_cards = new
            .members
            .iter()
            .filter_map(|m| m.id_card.as_ref().map(|c| c.as_str().to_owned()))
            .collect();
        let pmt = self.pmt.assess(new.location.region, &new.members, &new.traits, today);
        let now = jigi_storage::timestamp::now_utc();
        let household = Household {
            household_id: uuid::Uuid::now_v7().to_string(),
            location: new.location,
            members: new.members,
            traits: new.traits,
            pmt,
            enrolments: Vec::new(),
            status: HouseholdStatus::Registered,
            version: 1,
            registered_at: now,
            updated_at: now,
        };
        let event = jigi_registry::events::registered(&household);
        Ok(Prepared {
            registered_at: jigi_storage::timestamp::format(now),
            ce_time: jigi_bus::envelope::format_time(event.time),
            birth_dates: household
                .members
                .iter()
                .map(|m| jigi_common::date::format_date(m.birth_date))
                .collect(),
            household,
            head_key,
            id_cards,
            event,
        })
    }
}

/// The idempotency record of a command.
pub struct RequestRecord {
    pub request_id: String,
    pub fingerprint: String,
}

impl RequestRecord {
    /// As the registry fingerprints a request: SHA-256 of the scope and the
    /// request's content without its ID.
    pub fn new(scope: &str, request_id: &str, content: &[u8]) -> RequestRecord {
        RequestRecord {
            request_id: request_id.to_owned(),
            fingerprint: hex::encode(Sha256::digest([scope.as_bytes(), b"\0", content].concat())),
        }
    }
}

/// Who made a call, for the audit log.
#[derive(Clone)]
pub struct Caller {
    pub subject: String,
    pub method: String,
    pub request_id: String,
}

/// One command for the writer: households to register, with the call's
/// request record and audit entry.
pub struct Command {
    pub households: Vec<Prepared>,
    pub request: Option<RequestRecord>,
    pub audit: Option<Caller>,
}

// ---------------------------------------------------------------- SQL

/// A value bound to a statement.
#[derive(Debug, Clone, Copy)]
enum P<'a> {
    Int(i64),
    Real(f64),
    Text(&'a str),
    OptText(Option<&'a str>),
    Blob(&'a [u8]),
}

impl rusqlite::ToSql for P<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            P::Int(v) => ValueRef::Integer(v),
            P::Real(v) => ValueRef::Real(v),
            P::Text(v) => ValueRef::Text(v.as_bytes()),
            P::OptText(None) => ValueRef::Null,
            P::OptText(Some(v)) => ValueRef::Text(v.as_bytes()),
            P::Blob(v) => ValueRef::Blob(v),
        }))
    }
}

impl postgres::types::ToSql for P<'_> {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            P::Int(v) => v.to_sql(ty, out),
            P::Real(v) => v.to_sql(ty, out),
            P::Text(v) => v.to_sql(ty, out),
            P::OptText(v) => v.to_sql(ty, out),
            P::Blob(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

enum Engine {
    Sqlite(rusqlite::Connection),
    Postgres {
        client: Box<postgres::Client>,
        statements: HashMap<String, postgres::Statement>,
    },
}

type SqlResult<T> = Result<T, String>;

impl Engine {
    fn open(url: &str) -> Engine {
        if url.starts_with("postgres") {
            Engine::Postgres {
                client: Box::new(postgres::Client::connect(url, postgres::NoTls).expect("PostgreSQL")),
                statements: HashMap::new(),
            }
        } else {
            let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
            let conn = rusqlite::Connection::open(path).expect("SQLite file");
            conn.set_prepared_statement_cache_capacity(256);
            conn.execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                 PRAGMA busy_timeout = 5000;",
            )
            .expect("SQLite pragmas");
            Engine::Sqlite(conn)
        }
    }

    fn batch(&mut self, sql: &str) -> SqlResult<()> {
        match self {
            Engine::Sqlite(conn) => conn.execute_batch(sql).map_err(|e| e.to_string()),
            Engine::Postgres { client, .. } => client.batch_execute(sql).map_err(|e| e.to_string()),
        }
    }

    fn begin(&mut self) -> SqlResult<()> {
        match self {
            Engine::Sqlite(_) => self.batch("BEGIN IMMEDIATE"),
            Engine::Postgres { .. } => self.batch("BEGIN"),
        }
    }

    fn rollback(&mut self) {
        let _ = self.batch("ROLLBACK");
    }

    /// `(?, ?), (?, ?)` or `($1, $2), ($3, $4)`.
    fn rows(&self, rows: usize, columns: usize) -> String {
        let numbered = matches!(self, Engine::Postgres { .. });
        let mut out = String::with_capacity(rows * columns * 4);
        let mut n = 0;
        for r in 0..rows {
            out.push_str(if r == 0 { "(" } else { ", (" });
            for c in 0..columns {
                if c > 0 {
                    out.push_str(", ");
                }
                n += 1;
                if numbered {
                    out.push('$');
                    out.push_str(&n.to_string());
                } else {
                    out.push('?');
                }
            }
            out.push(')');
        }
        out
    }

    fn list(&self, count: usize, first: usize) -> String {
        let numbered = matches!(self, Engine::Postgres { .. });
        (first..first + count)
            .map(|n| if numbered { format!("${n}") } else { "?".to_owned() })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn pg_statement(
        client: &mut postgres::Client,
        statements: &mut HashMap<String, postgres::Statement>,
        sql: &str,
    ) -> SqlResult<postgres::Statement> {
        if let Some(statement) = statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = client.prepare(sql).map_err(|e| format!("{e}: {sql:.80}"))?;
        statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    fn execute(&mut self, sql: &str, params: &[P<'_>]) -> SqlResult<u64> {
        match self {
            Engine::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql).map_err(|e| e.to_string())?;
                statement
                    .execute(rusqlite::params_from_iter(params.iter()))
                    .map(|n| n as u64)
                    .map_err(|e| e.to_string())
            }
            Engine::Postgres { client, statements } => {
                let statement = Self::pg_statement(client, statements, sql)?;
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
                client.execute(&statement, &refs).map_err(|e| e.to_string())
            }
        }
    }

    /// The first column of every row, as integers.
    fn query_ints(&mut self, sql: &str, params: &[P<'_>]) -> SqlResult<Vec<i64>> {
        match self {
            Engine::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql).map_err(|e| e.to_string())?;
                let rows = statement
                    .query_map(rusqlite::params_from_iter(params.iter()), |row| row.get::<_, i64>(0))
                    .map_err(|e| e.to_string())?;
                rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
            }
            Engine::Postgres { client, statements } => {
                let statement = Self::pg_statement(client, statements, sql)?;
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
                let rows = client.query(&statement, &refs).map_err(|e| e.to_string())?;
                Ok(rows.iter().map(|row| row.get::<_, i64>(0)).collect())
            }
        }
    }

    /// The first column of every row, as text.
    fn query_texts(&mut self, sql: &str, params: &[P<'_>]) -> SqlResult<Vec<String>> {
        match self {
            Engine::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql).map_err(|e| e.to_string())?;
                let rows = statement
                    .query_map(rusqlite::params_from_iter(params.iter()), |row| row.get::<_, String>(0))
                    .map_err(|e| e.to_string())?;
                rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
            }
            Engine::Postgres { client, statements } => {
                let statement = Self::pg_statement(client, statements, sql)?;
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
                let rows = client.query(&statement, &refs).map_err(|e| e.to_string())?;
                Ok(rows.iter().map(|row| row.get::<_, String>(0)).collect())
            }
        }
    }

    /// `{head} VALUES …` for the rows whose values, `columns` per row, are
    /// `values`, in statements of at most `per_statement` rows. With
    /// `returning`, the first column of what the statements return.
    fn insert_rows(
        &mut self,
        head: &str,
        columns: usize,
        per_statement: usize,
        values: &[P<'_>],
        returning: Option<&str>,
    ) -> SqlResult<Vec<i64>> {
        let mut returned = Vec::new();
        for chunk in values.chunks(per_statement * columns) {
            let mut sql = format!("{head} VALUES {}", self.rows(chunk.len() / columns, columns));
            if let Some(returning) = returning {
                sql.push_str(" RETURNING ");
                sql.push_str(returning);
            }
            if returning.is_some() {
                returned.extend(self.query_ints(&sql, chunk)?);
            } else {
                self.execute(&sql, chunk)?;
            }
        }
        Ok(returned)
    }

    /// Which of `keys` `select … IN (…)` finds (first column).
    fn find(&mut self, select: &str, fixed: &[P<'_>], keys: &[&str]) -> SqlResult<Vec<String>> {
        let mut found = Vec::new();
        for chunk in keys.chunks(500) {
            let sql = format!("{select} ({})", self.list(chunk.len(), fixed.len() + 1));
            let mut params: Vec<P<'_>> = fixed.to_vec();
            params.extend(chunk.iter().map(|k| P::Text(k)));
            found.extend(self.query_texts(&sql, &params)?);
        }
        Ok(found)
    }
}

const HOUSEHOLDS_INSERT: &str = "INSERT INTO households (household_id, region, cercle, commune, village, roof, wall, \
    floor, radios, televisions, mobile_phones, bicycles, motorcycles, carts, ploughs, solar_panels, cattle, \
    sheep_goats, donkeys, horses, camels, poultry, cultivated_land_ares, pmt_score, pmt_threshold, pmt_eligible, \
    pmt_weights_version, status, version, registered_at, updated_at, head_key)";
const MEMBERS_INSERT: &str = "INSERT INTO members (member_id, household_id, position, given_name, family_name, sex, \
    birth_date, birth_date_estimated, relation, pregnant, lactating, id_card_number, phone, status)";
const OUTBOX_INSERT: &str = "INSERT INTO outbox (event_id, subject, ce_type, ce_source, ce_subject, ce_time, \
    content_type, payload, traceparent, tracestate)";
const REQUESTS_INSERT: &str = "INSERT INTO idempotent_requests (scope, request_id, fingerprint, response, created_at)";
const AUDIT_INSERT: &str = "INSERT INTO audit_log (sequence, recorded_at, subject, roles, scope, service_area, \
    method, request_id, trace_id, outcome, previous_hash, hash)";

/// Rows per multi-row statement (SQLite allows 32,766 values, PostgreSQL 65,535).
const ROWS_PER_STATEMENT: usize = 100;
const SCOPE: &str = "RegisterHousehold";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

struct AuditRow {
    sequence: i64,
    recorded_at: String,
    caller: Caller,
    previous_hash: String,
    hash: String,
}

/// Writes `commands` and `forget` (outbox positions published) in the
/// open transaction; returns the outbox positions of each command's events.
fn write_group(
    engine: &mut Engine,
    commands: &[&Command],
    forget: &[i64],
    audit_head: &mut (i64, String),
) -> SqlResult<Vec<Vec<i64>>> {
    // Duplicates: one lookup per kind for the whole group.
    let heads: Vec<&str> = commands
        .iter()
        .flat_map(|c| c.households.iter().map(|h| h.head_key.as_str()))
        .collect();
    let cards: Vec<&str> = commands
        .iter()
        .flat_map(|c| c.households.iter().flat_map(|h| h.id_cards.iter().map(String::as_str)))
        .collect();
    let requests: Vec<&str> = commands
        .iter()
        .filter_map(|c| c.request.as_ref().map(|r| r.request_id.as_str()))
        .collect();
    let mut seen = HashSet::with_capacity(heads.len() + cards.len());
    if !heads.iter().chain(&cards).all(|k| seen.insert(*k)) {
        return Err("a duplicate inside the group".into());
    }
    if !engine
        .find("SELECT head_key FROM households WHERE head_key IN", &[], &heads)?
        .is_empty()
        || !engine
            .find(
                "SELECT id_card_number FROM members WHERE id_card_number IN",
                &[],
                &cards,
            )?
            .is_empty()
        || !engine
            .find(
                "SELECT request_id FROM idempotent_requests WHERE scope = $1 AND request_id IN",
                &[P::Text(SCOPE)],
                &requests,
            )?
            .is_empty()
    {
        return Err("a duplicate or a repeated request".into());
    }

    let households: Vec<&Prepared> = commands.iter().flat_map(|c| c.households.iter()).collect();
    let counts: Vec<[i64; 18]> = households.iter().map(|p| counts(&p.household)).collect();
    let mut v = Vec::with_capacity(households.len() * 32);
    for (p, counts) in households.iter().zip(&counts) {
        let h = &p.household;
        v.extend([
            P::Text(&h.household_id),
            P::Text(h.location.region.slug()),
            P::Text(&h.location.cercle),
            P::Text(&h.location.commune),
            P::Text(&h.location.village),
        ]);
        v.extend(counts.iter().map(|c| P::Int(*c)));
        v.extend([
            P::Real(h.pmt.score),
            P::Real(h.pmt.threshold),
            P::Int(h.pmt.eligible.into()),
            P::Text(&h.pmt.weights_version),
            P::Text("registered"),
            P::Int(h.version),
            P::Text(&p.registered_at),
            P::Text(&p.registered_at),
            P::Text(&p.head_key),
        ]);
    }
    engine.insert_rows(HOUSEHOLDS_INSERT, 32, ROWS_PER_STATEMENT, &v, None)?;

    let mut v = Vec::with_capacity(households.len() * 6 * 14);
    for p in &households {
        for (i, m) in p.household.members.iter().enumerate() {
            v.extend([
                P::Text(&m.member_id),
                P::Text(&p.household.household_id),
                P::Int(i as i64),
                P::Text(m.given_name.as_str()),
                P::Text(m.family_name.as_str()),
                P::Int(m.sex as i64),
                P::Text(&p.birth_dates[i]),
                P::Int(m.birth_date_estimated.into()),
                P::Int(m.relation as i64),
                P::Int(m.pregnant.into()),
                P::Int(m.lactating.into()),
                P::OptText(m.id_card.as_ref().map(|c| c.as_str())),
                P::OptText(m.phone.as_ref().map(|c| c.as_str())),
                P::Int(m.status as i64),
            ]);
        }
    }
    engine.insert_rows(MEMBERS_INSERT, 14, ROWS_PER_STATEMENT * 2, &v, None)?;

    let mut v = Vec::with_capacity(households.len() * 10);
    for p in &households {
        let e = &p.event;
        v.extend([
            P::Text(&e.id),
            P::Text(&e.subject),
            P::Text(&e.ce_type),
            P::Text(&e.source),
            P::Text(&e.about),
            P::Text(&p.ce_time),
            P::Text(&e.content_type),
            P::Blob(&e.payload),
            P::OptText(e.trace.traceparent.as_deref()),
            P::OptText(e.trace.tracestate.as_deref()),
        ]);
    }
    let positions = engine.insert_rows(OUTBOX_INSERT, 10, ROWS_PER_STATEMENT, &v, Some("position"))?;

    let now = jigi_storage::timestamp::now();
    let mut v = Vec::new();
    for c in commands {
        if let Some(r) = &c.request {
            let id = c
                .households
                .first()
                .map(|h| h.household.household_id.as_str())
                .unwrap_or("");
            v.extend([
                P::Text(SCOPE),
                P::Text(&r.request_id),
                P::Text(&r.fingerprint),
                P::Blob(id.as_bytes()),
                P::Text(&now),
            ]);
        }
    }
    engine.insert_rows(REQUESTS_INSERT, 5, ROWS_PER_STATEMENT, &v, None)?;

    // The audit chain continues from the head kept in memory (the writer is
    // the only one appending).
    let (mut sequence, mut previous) = audit_head.clone();
    let mut entries = Vec::new();
    for caller in commands.iter().filter_map(|c| c.audit.clone()) {
        sequence += 1;
        let hash = audit_hash(sequence, &now, &caller, &previous);
        entries.push(AuditRow {
            sequence,
            recorded_at: now.clone(),
            caller,
            previous_hash: std::mem::replace(&mut previous, hash.clone()),
            hash,
        });
    }
    let mut v = Vec::with_capacity(entries.len() * 12);
    for a in &entries {
        v.extend([
            P::Int(a.sequence),
            P::Text(&a.recorded_at),
            P::Text(&a.caller.subject),
            P::Text("field_agent,regional_supervisor"),
            P::Text("sikasso"),
            P::Text("sikasso"),
            P::Text(&a.caller.method),
            P::Text(&a.caller.request_id),
            P::Text(""),
            P::Text("OK"),
            P::Text(&a.previous_hash),
            P::Text(&a.hash),
        ]);
    }
    engine.insert_rows(AUDIT_INSERT, 12, ROWS_PER_STATEMENT, &v, None)?;
    for chunk in forget.chunks(500) {
        let sql = format!("DELETE FROM outbox WHERE position IN ({})", engine.list(chunk.len(), 1));
        let params: Vec<P<'_>> = chunk.iter().map(|p| P::Int(*p)).collect();
        engine.execute(&sql, &params)?;
    }
    *audit_head = (sequence, previous);
    // Outbox positions come back in the order of the VALUES rows.
    let mut positions = positions.into_iter();
    Ok(commands
        .iter()
        .map(|c| positions.by_ref().take(c.households.len()).collect())
        .collect())
}

fn counts(h: &Household) -> [i64; 18] {
    let t = &h.traits;
    let (a, l) = (&t.assets, &t.livestock);
    [
        t.roof as i64,
        t.wall as i64,
        t.floor as i64,
        a.radios.into(),
        a.televisions.into(),
        a.mobile_phones.into(),
        a.bicycles.into(),
        a.motorcycles.into(),
        a.carts.into(),
        a.ploughs.into(),
        a.solar_panels.into(),
        l.cattle.into(),
        l.sheep_goats.into(),
        l.donkeys.into(),
        l.horses.into(),
        l.camels.into(),
        l.poultry.into(),
        t.cultivated_land_ares.into(),
    ]
}

fn audit_hash(sequence: i64, recorded_at: &str, caller: &Caller, previous: &str) -> String {
    let mut digest = Sha256::new();
    let sequence = sequence.to_string();
    for field in [
        sequence.as_str(),
        recorded_at,
        &caller.subject,
        "field_agent,regional_supervisor",
        "sikasso",
        "sikasso",
        &caller.method,
        &caller.request_id,
        "",
        "OK",
        previous,
    ] {
        digest.update((field.len() as u64).to_be_bytes());
        digest.update(field.as_bytes());
    }
    hex::encode(digest.finalize())
}

// ---------------------------------------------------------------- the pipeline

enum Job {
    Register {
        command: Command,
        reply: oneshot::Sender<Result<Vec<Household>, String>>,
    },
    Forget(Vec<i64>),
}

/// What the bare pipeline has done.
#[derive(Default)]
pub struct Progress {
    /// Households committed.
    pub stored: AtomicU64,
    /// Events acked by JetStream and their outbox rows deleted (committed).
    pub forgotten: AtomicU64,
    /// Transactions committed.
    pub commits: AtomicU64,
}

/// The bare pipeline: a writer thread and a publisher task.
#[derive(Clone)]
pub struct BarePipeline {
    jobs: mpsc::UnboundedSender<Job>,
    pub progress: Arc<Progress>,
}

/// Most jobs committed together (as the write path's `MAX_GROUP`).
const MAX_GROUP: usize = 512;

impl BarePipeline {
    /// Starts the writer on `url` (whose tables exist) and the publisher to
    /// `stream` (created like a region's stream, capturing `prefix.>`).
    pub async fn start(url: &str, jetstream: jetstream::Context, stream: &str, prefix: &str) -> BarePipeline {
        let mut config = jigi_bus::streams::region_stream_config(Region::Sikasso);
        config.name = stream.to_owned();
        config.subjects = vec![format!("{prefix}.>")];
        config.description = Some("the bare pipeline's events".into());
        jetstream.create_stream(config).await.expect("baseline stream");

        let (jobs, mut receiver) = mpsc::unbounded_channel::<Job>();
        let (published, mut to_publish) = mpsc::unbounded_channel::<(Vec<OutgoingEvent>, Vec<i64>)>();
        let progress = Arc::new(Progress::default());
        let url = url.to_owned();
        let writer_progress = progress.clone();
        std::thread::Builder::new()
            .name("bare-writer".into())
            .spawn(move || {
                let mut engine = Engine::open(&url);
                let mut audit_head = (0i64, GENESIS.to_owned());
                while let Some(first) = receiver.blocking_recv() {
                    let mut group = vec![first];
                    while group.len() < MAX_GROUP {
                        match receiver.try_recv() {
                            Ok(job) => group.push(job),
                            Err(_) => break,
                        }
                    }
                    let mut registers = Vec::new();
                    let mut forget = Vec::new();
                    for job in group {
                        match job {
                            Job::Register { command, reply } => registers.push((command, reply)),
                            Job::Forget(positions) => forget.extend(positions),
                        }
                    }
                    let commands: Vec<&Command> = registers.iter().map(|(c, _)| c).collect();
                    let outcome = engine.begin().and_then(|()| {
                        let positions = write_group(&mut engine, &commands, &forget, &mut audit_head)?;
                        engine.batch("COMMIT")?;
                        Ok(positions)
                    });
                    let outcomes: Vec<Result<Vec<i64>, String>> = match outcome {
                        Ok(positions) => {
                            writer_progress.commits.fetch_add(1, Ordering::Relaxed);
                            writer_progress
                                .forgotten
                                .fetch_add(forget.len() as u64, Ordering::Relaxed);
                            positions.into_iter().map(Ok).collect()
                        }
                        Err(_) => {
                            // One transaction per command, so that only the
                            // bad one fails.
                            engine.rollback();
                            let mut each = Vec::new();
                            for command in &commands {
                                let mut head = audit_head.clone();
                                let result = engine.begin().and_then(|()| {
                                    let positions = write_group(&mut engine, &[command], &[], &mut head)?;
                                    engine.batch("COMMIT")?;
                                    Ok(positions.into_iter().next().unwrap_or_default())
                                });
                                if result.is_ok() {
                                    audit_head = head;
                                    writer_progress.commits.fetch_add(1, Ordering::Relaxed);
                                } else {
                                    engine.rollback();
                                }
                                each.push(result);
                            }
                            if !forget.is_empty() {
                                let mut head = audit_head.clone();
                                if engine
                                    .begin()
                                    .and_then(|()| write_group(&mut engine, &[], &forget, &mut head))
                                    .and_then(|_| engine.batch("COMMIT"))
                                    .is_ok()
                                {
                                    writer_progress
                                        .forgotten
                                        .fetch_add(forget.len() as u64, Ordering::Relaxed);
                                } else {
                                    engine.rollback();
                                }
                            }
                            each
                        }
                    };
                    let mut events = Vec::new();
                    let mut positions = Vec::new();
                    for ((command, reply), outcome) in registers.into_iter().zip(outcomes) {
                        match outcome {
                            Ok(at) => {
                                writer_progress
                                    .stored
                                    .fetch_add(command.households.len() as u64, Ordering::Relaxed);
                                positions.extend(at);
                                let mut households = Vec::with_capacity(command.households.len());
                                for prepared in command.households {
                                    events.push(prepared.event);
                                    households.push(prepared.household);
                                }
                                let _ = reply.send(Ok(households));
                            }
                            Err(err) => {
                                let _ = reply.send(Err(err));
                            }
                        }
                    }
                    if !events.is_empty() {
                        let _ = published.send((events, positions));
                    }
                }
            })
            .expect("writer thread");

        let prefix = prefix.to_owned();
        let forget = jobs.clone();
        tokio::spawn(async move {
            while let Some((events, positions)) = to_publish.recv().await {
                let mut acks = Vec::with_capacity(events.len());
                for event in events {
                    let message = PublishMessage::build()
                        .payload(event.payload.clone().into())
                        .headers(event.headers());
                    match jetstream
                        .send_publish(format!("{prefix}.{}", event.subject), message)
                        .await
                    {
                        Ok(ack) => acks.push(ack),
                        Err(err) => panic!("baseline publish: {err}"),
                    }
                }
                // Acks are awaited apart, so the next group is published
                // meanwhile: many acks in flight across groups.
                let forget = forget.clone();
                tokio::spawn(async move {
                    for ack in acks {
                        ack.await.expect("baseline ack");
                    }
                    let _ = forget.send(Job::Forget(positions));
                });
            }
        });
        BarePipeline { jobs, progress }
    }

    /// Runs one command; its households once committed.
    pub async fn register(&self, command: Command) -> Result<Vec<Household>, String> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Register { command, reply })
            .map_err(|_| "the writer stopped".to_owned())?;
        answer.await.map_err(|_| "the writer stopped".to_owned())?
    }

    /// Waits until `count` events in all are acked and their rows deleted.
    pub async fn wait_forgotten(&self, count: u64) {
        while self.progress.forgotten.load(Ordering::Relaxed) < count {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// A domain household as the API's message (what the registry answers).
pub fn household_message(household: &Household) -> pr::Household {
    let t = &household.traits;
    let (a, l) = (&t.assets, &t.livestock);
    let n = |count: u32| count as i32;
    let at = |time: chrono::DateTime<chrono::Utc>| prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    };
    pr::Household {
        household_id: household.household_id.clone(),
        location: Some(jigi_registry::events::location(&household.location)),
        members: household
            .members
            .iter()
            .map(|m| pr::Member {
                member_id: m.member_id.clone(),
                given_name: m.given_name.as_str().to_owned(),
                family_name: m.family_name.as_str().to_owned(),
                sex: m.sex as i32,
                birth_date: jigi_common::date::format_date(m.birth_date),
                birth_date_estimated: m.birth_date_estimated,
                relation: m.relation as i32,
                pregnant: m.pregnant,
                lactating: m.lactating,
                id_card_number: m.id_card.as_ref().map(|c| c.as_str().to_owned()).unwrap_or_default(),
                phone: m.phone.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default(),
                status: m.status as i32,
            })
            .collect(),
        traits: Some(pr::HouseholdTraits {
            roof: t.roof as i32,
            wall: t.wall as i32,
            floor: t.floor as i32,
            assets: Some(pr::Assets {
                radios: n(a.radios),
                televisions: n(a.televisions),
                mobile_phones: n(a.mobile_phones),
                bicycles: n(a.bicycles),
                motorcycles: n(a.motorcycles),
                carts: n(a.carts),
                ploughs: n(a.ploughs),
                solar_panels: n(a.solar_panels),
            }),
            livestock: Some(pr::Livestock {
                cattle: n(l.cattle),
                sheep_goats: n(l.sheep_goats),
                donkeys: n(l.donkeys),
                horses: n(l.horses),
                camels: n(l.camels),
                poultry: n(l.poultry),
            }),
            cultivated_land_ares: n(t.cultivated_land_ares),
        }),
        pmt: Some(pr::PmtAssessment {
            score: household.pmt.score,
            threshold: household.pmt.threshold,
            eligible: household.pmt.eligible,
            weights_version: household.pmt.weights_version.clone(),
        }),
        enrolments: Vec::new(),
        status: pr::HouseholdStatus::Registered as i32,
        version: household.version,
        registered_at: Some(at(household.registered_at)),
        updated_at: Some(at(household.updated_at)),
    }
}

/// Households drawn by the registry's own generator (every head unique).
pub fn generator(region: Region) -> jigi_registry::sample::HouseholdGenerator {
    jigi_registry::sample::HouseholdGenerator::new(
        &Geography::built_in(),
        region,
        &[],
        chrono::Utc::now().date_naive(),
        1,
    )
}

/// Time `f`, with this process's CPU and context switches.
pub async fn measured<T>(f: impl Future<Output = T>) -> (T, Duration, Usage) {
    let usage = Usage::now();
    let started = Instant::now();
    let out = f.await;
    let wall = started.elapsed();
    (out, wall, Usage::now().since(usage))
}

// ---------------------------------------------------------------- bare reads

/// Reads a stored row's columns the same way on both engines.
trait Columns {
    fn text(&self, i: usize) -> String;
    fn opt_text(&self, i: usize) -> Option<String>;
    fn int(&self, i: usize) -> i64;
    fn real(&self, i: usize) -> f64;
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, i: usize) -> String {
        self.get(i).unwrap_or_default()
    }
    fn opt_text(&self, i: usize) -> Option<String> {
        self.get(i).unwrap_or_default()
    }
    fn int(&self, i: usize) -> i64 {
        self.get(i).unwrap_or_default()
    }
    fn real(&self, i: usize) -> f64 {
        self.get(i).unwrap_or_default()
    }
}

impl Columns for postgres::Row {
    fn text(&self, i: usize) -> String {
        self.get(i)
    }
    fn opt_text(&self, i: usize) -> Option<String> {
        self.get(i)
    }
    fn int(&self, i: usize) -> i64 {
        self.get(i)
    }
    fn real(&self, i: usize) -> f64 {
        self.get(i)
    }
}

const HOUSEHOLD_SELECT: &str = "SELECT household_id, region, cercle, commune, village, roof, wall, floor, radios, \
    televisions, mobile_phones, bicycles, motorcycles, carts, ploughs, solar_panels, cattle, sheep_goats, donkeys, \
    horses, camels, poultry, cultivated_land_ares, pmt_score, pmt_threshold, pmt_eligible, pmt_weights_version, \
    status, version, registered_at, updated_at FROM households WHERE household_id = ";
const MEMBER_SELECT: &str = "SELECT member_id, given_name, family_name, sex, birth_date, birth_date_estimated, \
    relation, pregnant, lactating, id_card_number, phone, status FROM members WHERE household_id = ";
const ENROLMENT_SELECT: &str = "SELECT component, status, enrolled_on, exited_on, exit_reason FROM enrolments \
    WHERE household_id = ";

fn timestamp_of(text: &str) -> Option<prost_types::Timestamp> {
    let at = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    Some(prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    })
}

fn household_of(row: &impl Columns) -> pr::Household {
    let n = |i: usize| row.int(i) as i32;
    pr::Household {
        household_id: row.text(0),
        location: Some(jigi_proto::common::Location {
            region: row.text(1),
            cercle: row.text(2),
            commune: row.text(3),
            village: row.text(4),
        }),
        members: Vec::new(),
        traits: Some(pr::HouseholdTraits {
            roof: n(5),
            wall: n(6),
            floor: n(7),
            assets: Some(pr::Assets {
                radios: n(8),
                televisions: n(9),
                mobile_phones: n(10),
                bicycles: n(11),
                motorcycles: n(12),
                carts: n(13),
                ploughs: n(14),
                solar_panels: n(15),
            }),
            livestock: Some(pr::Livestock {
                cattle: n(16),
                sheep_goats: n(17),
                donkeys: n(18),
                horses: n(19),
                camels: n(20),
                poultry: n(21),
            }),
            cultivated_land_ares: n(22),
        }),
        pmt: Some(pr::PmtAssessment {
            score: row.real(23),
            threshold: row.real(24),
            eligible: row.int(25) != 0,
            weights_version: row.text(26),
        }),
        enrolments: Vec::new(),
        status: match row.text(27).as_str() {
            "enrolled" => pr::HouseholdStatus::Enrolled,
            "exited" => pr::HouseholdStatus::Exited,
            _ => pr::HouseholdStatus::Registered,
        } as i32,
        version: row.int(28),
        registered_at: timestamp_of(&row.text(29)),
        updated_at: timestamp_of(&row.text(30)),
    }
}

fn member_of(row: &impl Columns) -> pr::Member {
    pr::Member {
        member_id: row.text(0),
        given_name: row.text(1),
        family_name: row.text(2),
        sex: row.int(3) as i32,
        birth_date: row.text(4),
        birth_date_estimated: row.int(5) != 0,
        relation: row.int(6) as i32,
        pregnant: row.int(7) != 0,
        lactating: row.int(8) != 0,
        id_card_number: row.opt_text(9).unwrap_or_default(),
        phone: row.opt_text(10).unwrap_or_default(),
        status: row.int(11) as i32,
    }
}

fn enrolment_of(row: &impl Columns) -> pr::Enrolment {
    pr::Enrolment {
        // Stored as the component's code; the bench's households have none.
        component: 0,
        status: if row.text(1) == "enrolled" { 1 } else { 2 },
        enrolled_on: row.text(2),
        exited_on: row.opt_text(3).unwrap_or_default(),
        exit_reason: 0,
    }
}

/// One household read in one snapshot: its row, its members, its enrolments.
fn read_household(engine: &mut Engine, id: &str) -> Option<pr::Household> {
    match engine {
        Engine::Sqlite(conn) => {
            conn.execute_batch("BEGIN").ok()?;
            let read = (|| {
                let mut household = conn
                    .prepare_cached(&format!("{HOUSEHOLD_SELECT}?1"))
                    .ok()?
                    .query_row([id], |row| Ok(household_of(row)))
                    .ok()?;
                let mut members = conn
                    .prepare_cached(&format!("{MEMBER_SELECT}?1 ORDER BY position"))
                    .ok()?;
                household.members = members
                    .query_map([id], |row| Ok(member_of(row)))
                    .ok()?
                    .collect::<Result<_, _>>()
                    .ok()?;
                let mut enrolments = conn
                    .prepare_cached(&format!("{ENROLMENT_SELECT}?1 ORDER BY component"))
                    .ok()?;
                household.enrolments = enrolments
                    .query_map([id], |row| Ok(enrolment_of(row)))
                    .ok()?
                    .collect::<Result<_, _>>()
                    .ok()?;
                Some(household)
            })();
            let _ = conn.execute_batch("ROLLBACK");
            read
        }
        Engine::Postgres { client, statements } => {
            client
                .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .ok()?;
            let mut read = || -> Option<pr::Household> {
                let one = Engine::pg_statement(client, statements, &format!("{HOUSEHOLD_SELECT}$1")).ok()?;
                let many =
                    Engine::pg_statement(client, statements, &format!("{MEMBER_SELECT}$1 ORDER BY position")).ok()?;
                let enrolled =
                    Engine::pg_statement(client, statements, &format!("{ENROLMENT_SELECT}$1 ORDER BY component"))
                        .ok()?;
                let mut household = household_of(&client.query_one(&one, &[&id]).ok()?);
                household.members = client.query(&many, &[&id]).ok()?.iter().map(member_of).collect();
                household.enrolments = client.query(&enrolled, &[&id]).ok()?.iter().map(enrolment_of).collect();
                Some(household)
            };
            let household = read();
            let _ = client.batch_execute("ROLLBACK");
            household
        }
    }
}

type ReadJob = (String, oneshot::Sender<Option<pr::Household>>);

/// Bare reads: reader threads, each with its own connection and its own
/// queue, given requests in turn; or, [`BareReader::inline`], on the
/// caller's thread; or, [`BareReader::in_memory`], from a map.
pub struct BareReader(Mode);

impl Drop for BareReader {
    /// A synchronous PostgreSQL client closes by running its own runtime,
    /// which cannot start on a thread driving another: the inline reads'
    /// idle connections are closed outside it.
    fn drop(&mut self) {
        if let Mode::Inline { pool, .. } = &mut self.0 {
            let engines = std::mem::take(pool.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner()));
            match tokio::runtime::Handle::try_current() {
                Ok(_) => tokio::task::block_in_place(|| drop(engines)),
                Err(_) => drop(engines),
            }
        }
    }
}

enum Mode {
    Threads {
        queues: Vec<std::sync::mpsc::Sender<ReadJob>>,
        next: std::sync::atomic::AtomicUsize,
    },
    /// The database and the idle connections of inline reads.
    Inline {
        url: String,
        pool: std::sync::Mutex<Vec<Engine>>,
    },
    Memory(std::collections::HashMap<String, pr::Household>),
}

impl BareReader {
    pub fn start(url: &str, threads: usize) -> BareReader {
        let queues = (0..threads)
            .map(|index| {
                let (queue, jobs) = std::sync::mpsc::channel::<ReadJob>();
                let url = url.to_owned();
                std::thread::Builder::new()
                    .name(format!("bare-reader-{index}"))
                    .spawn(move || {
                        let mut engine = Engine::open(&url);
                        if let Engine::Sqlite(conn) = &engine {
                            let _ = conn.execute_batch("PRAGMA query_only = ON");
                        }
                        while let Ok((id, reply)) = jobs.recv() {
                            let _ = reply.send(read_household(&mut engine, &id));
                        }
                    })
                    .expect("reader thread");
                queue
            })
            .collect();
        BareReader(Mode::Threads {
            queues,
            next: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Answers from these households, already read and converted: what
    /// any GetHousehold costs beyond its reads (a cache's best case).
    pub fn in_memory(households: std::collections::HashMap<String, pr::Household>) -> BareReader {
        BareReader(Mode::Memory(households))
    }

    /// Bare reads run on the caller's thread, each with a connection of a
    /// pool (as many as threads read at once): no hop to a reader thread.
    pub fn inline(url: &str) -> BareReader {
        BareReader(Mode::Inline {
            url: url.to_owned(),
            pool: std::sync::Mutex::new(Vec::new()),
        })
    }

    pub async fn get(&self, id: String) -> Option<pr::Household> {
        match &self.0 {
            Mode::Memory(households) => households.get(&id).cloned(),
            Mode::Inline { url, pool } => {
                let read = || {
                    let engine = pool.lock().expect("pool lock").pop();
                    let mut engine = engine.unwrap_or_else(|| {
                        let engine = Engine::open(url);
                        if let Engine::Sqlite(conn) = &engine {
                            let _ = conn.execute_batch("PRAGMA query_only = ON");
                        }
                        engine
                    });
                    let read = read_household(&mut engine, &id);
                    pool.lock().expect("pool lock").push(engine);
                    read
                };
                // The synchronous PostgreSQL client runs a runtime of its
                // own, which cannot start on a thread driving this one.
                if url.starts_with("postgres") {
                    tokio::task::block_in_place(read)
                } else {
                    read()
                }
            }
            Mode::Threads { queues, next } => {
                let (reply, answer) = oneshot::channel();
                let index = next.fetch_add(1, Ordering::Relaxed) % queues.len();
                queues[index].send((id, reply)).ok()?;
                answer.await.ok().flatten()
            }
        }
    }
}
