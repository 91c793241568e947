//! A HIMO wage cycle computed from 1,000,000 attendance days, beside raw
//! inserts of the same rows, in the same run and the same database:
//!
//! 1. baseline: the attendance rows written with plain multi-row `INSERT`s
//!    (no rule checked, no event);
//! 2. the service: the same days recorded through `RecordAttendance`'s
//!    command (site open, workers of the site, one day per worker, the wage
//!    cap per household per quarter, one event per sheet, the answer kept
//!    under its request ID), a sheet of `BENCH_WORKERS` workers at a time;
//! 3. the wage cycle: the quarter's wage sheet closed from those days (days
//!    × daily wage per household, one `HimoWagesDue` event each).
//!
//! `cargo bench -p jigi-activities --bench wage_cycle`; `BENCH_DAYS`
//! (1,000,000) and `BENCH_WORKERS` (20,000 households, so 50 days each at
//! 1,500 FCFA stay under the 90,000 FCFA cap) scale it.

use std::sync::Arc;
use std::time::Instant;

use chrono::{Days, NaiveDate};
use jigi_activities::Activities;
use jigi_activities::domain::himo::{AttendanceSheet, Site, SiteStatus, SiteType};
use jigi_activities::domain::model::{Location, Person};
use jigi_activities::metrics::Counters;
use jigi_activities::storage;
use jigi_common::{Component, Fcfa, Geography, Region};
use jigi_proto::activities as pa;
use jigi_server::WireAnswer;
use jigi_storage::idempotency::{RequestId, RequestKey};
use jigi_storage::sql::Placeholders;
use jigi_storage::{Database, StorageError, ToSql, params};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

// Registry IDs are UUIDs: numbered ones, households and people apart.
fn household(h: usize) -> String {
    format!("00000000-0000-7000-8000-{h:012}")
}

fn member(h: usize) -> String {
    format!("00000000-0000-7000-9000-{h:012}")
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let workers = env("BENCH_WORKERS", 20_000).max(1);
    let days = (env("BENCH_DAYS", 1_000_000) / workers).max(1);
    let total = days * workers;
    assert!(
        days * 1_500 <= 90_000,
        "{days} days at 1,500 FCFA would pass the cap: raise BENCH_WORKERS"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("activities.db").display());
    let migrations = [jigi_server::host::shared_migrations().as_slice(), storage::MIGRATIONS].concat();
    let db = Database::open(&url, &migrations).await.expect("database");
    println!("wage cycle: {total} attendance days ({workers} workers × {days} days) on SQLite");

    // Set-up, not measured: the households, their workers and two open sites.
    let commune = "sikasso.yanfolila.gouanan";
    let location = Location {
        region: Region::Sikasso,
        cercle: "sikasso.yanfolila".into(),
        commune: commune.into(),
        village: String::new(),
    };
    let start = NaiveDate::from_ymd_opt(2018, 7, 2).expect("date");
    let setup = Instant::now();
    {
        let location = location.clone();
        db.write(move |conn| {
            for (site_id, start) in [("bench-site", start), ("baseline-site", start)] {
                storage::himo::insert_site(
                    conn,
                    &Site {
                        site_id: site_id.into(),
                        site_type: SiteType::RuralRoad,
                        location: location.clone(),
                        status: SiteStatus::Open,
                        planned_start: start,
                        validated_on: Some(start),
                        started_on: Some(start),
                        closed_on: None,
                        planned_person_days: total as i64,
                        daily_wage: Fcfa::new(1_500),
                    },
                )?;
            }
            for h in 0..workers {
                storage::registry::set_location(conn, &household(h), &location, 1)?;
                storage::registry::set_enrolment(
                    conn,
                    &household(h),
                    Component::Himo,
                    NaiveDate::from_ymd_opt(2018, 1, 2),
                    None,
                    1,
                )?;
                storage::registry::set_member(
                    conn,
                    &Person {
                        member_id: member(h),
                        household_id: household(h),
                        sex: if h % 2 == 0 {
                            jigi_common::Sex::Female
                        } else {
                            jigi_common::Sex::Male
                        },
                        birth_date: NaiveDate::from_ymd_opt(1985, 1, 1).expect("date"),
                        present: true,
                    },
                    1,
                )?;
                storage::himo::insert_worker(conn, &household(h), &member(h), "bench-site", start)?;
            }
            Ok::<_, StorageError>(())
        })
        .await
        .expect("set-up");
    }
    println!(
        "  set-up    {workers} households and workers in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    // 1. Baseline: the same rows, plain multi-row INSERTs, one transaction per day.
    let started = Instant::now();
    for d in 0..days {
        let on = (start + Days::new(d as u64)).to_string();
        db.write(move |conn| {
            for chunk in (0..workers).collect::<Vec<_>>().chunks(1_000) {
                let statement = format!(
                    "INSERT INTO himo_attendance (member_id, worked_on, household_id, site_id, period, wage) VALUES {}",
                    Placeholders::for_connection(conn).rows(chunk.len(), 6)
                );
                let rows: Vec<(String, String)> = chunk
                    .iter()
                    .map(|h| (format!("b-{}", member(*h)), household(*h)))
                    .collect();
                let (site, period, wage) = ("baseline-site", "2018Q3", 1_500i64);
                let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 6);
                for (m, h) in &rows {
                    values.extend([m as &dyn ToSql, &on, h, &site, &period, &wage]);
                }
                conn.execute(&statement, &values)?;
            }
            Ok::<_, StorageError>(())
        })
        .await
        .expect("baseline");
    }
    let baseline = started.elapsed().as_secs_f64();
    println!(
        "  baseline  plain INSERTs of {total} attendance rows: {baseline:.2} s = {:.0} rows/s",
        total as f64 / baseline
    );
    db.write(|conn| conn.execute("DELETE FROM himo_attendance WHERE site_id = 'baseline-site'", params![]))
        .await
        .expect("clear the baseline");

    // 2. The same days through the service's command.
    let activities = Activities::new(
        db.clone(),
        Arc::new(Geography::built_in()),
        Region::Sikasso,
        Counters::default(),
    );
    let sheet = env("BENCH_SHEET", 5_000).clamp(1, 5_000);
    let started = Instant::now();
    let mut calls = 0;
    for d in 0..days {
        let on = (start + Days::new(d as u64)).to_string();
        for (s, chunk) in (0..workers).collect::<Vec<_>>().chunks(sheet).enumerate() {
            let request = pa::RecordAttendanceRequest {
                request_id: String::new(),
                site_id: "bench-site".into(),
                worked_on: on.clone(),
                member_ids: chunk.iter().map(|h| member(*h)).collect(),
            };
            let key = RequestKey::new(
                "RecordAttendance",
                RequestId::parse(&format!("bench-{d}-{s}")).expect("request ID"),
                &prost::Message::encode_to_vec(&request),
            );
            let sheet = AttendanceSheet {
                site_id: request.site_id,
                worked_on: start + Days::new(d as u64),
                member_ids: request
                    .member_ids
                    .iter()
                    .map(|id| id.parse().expect("a registry ID"))
                    .collect(),
            };
            activities
                .record_attendance(key, sheet, |_, workers| {
                    WireAnswer(pa::RecordAttendanceResponse {
                        workers: workers as i64,
                        site: None,
                    })
                })
                .await
                .expect("attendance recorded");
            calls += 1;
        }
    }
    let recorded = started.elapsed().as_secs_f64();
    println!(
        "  service   RecordAttendance, {calls} sheets of up to {sheet} workers (rules, cap, events, idempotency): \
         {recorded:.2} s = {:.0} days/s ({:.1}× the baseline's time)",
        total as f64 / recorded,
        recorded / baseline
    );

    // 3. The wage cycle: the quarter's sheet from every day recorded.
    let started = Instant::now();
    let wages = activities
        .close_wage_period("bench-site".into(), "2018Q3".parse().expect("quarter"))
        .await
        .expect("wage sheet");
    let cycle = started.elapsed().as_secs_f64();
    let total_wages = wages.total().francs();
    assert_eq!(wages.lines.len(), workers, "one line per household");
    assert_eq!(total_wages, total as i64 * 1_500, "days × daily wage");
    println!(
        "  wages     sheet of {} households from {total} days ({} FCFA, one HimoWagesDue event each): {cycle:.2} s \
         ({:.2}× the baseline's time)",
        wages.lines.len(),
        total_wages,
        cycle / baseline
    );
    db.close().await;
}
