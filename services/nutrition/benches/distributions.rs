//! Recording distributions at national scale: 500,000 rations recorded
//! through `RecordDistributionBatch` against 50 warehouses, each line
//! checked (eligibility on the date, one ration per round, stock drawn FEFO
//! and never below zero), stored with its stock movement, its event and the
//! batch's idempotent answer; the outbox relay publishes to a real
//! nats-server meanwhile.
//!
//! Baseline, measured in the same run on the same database file: the same
//! rows (a distribution, its stock movement and its outbox event per ration)
//! inserted straight with the same multi-row INSERTs, one transaction per
//! batch, without any check, lookup, idempotency or gRPC.
//!
//!     cargo bench -p jigi-nutrition --bench distributions
//!     BENCH_DISTRIBUTIONS=50000 cargo bench -p jigi-nutrition --bench distributions
//!
//! Other knobs: `BENCH_WAREHOUSES` (50), `BENCH_BATCH` (lines per batch,
//! 5,000), `BENCH_CONCURRENCY` (batches in flight, 2).

use std::time::{Duration, Instant};

use chrono::{Datelike, Months, NaiveDate};
use futures::StreamExt;
use jigi_common::{Geography, Region};
use jigi_localnats::NatsProcess;
use jigi_nutrition::app::projection::{Fact, apply};
use jigi_nutrition::domain::model::{Distribution, Group, Location, Rations, Round, RoundStatus};
use jigi_nutrition::domain::stock::{Draw, Movement, MovementKind};
use jigi_proto::common as pc;
use jigi_proto::events as ev;
use jigi_proto::nutrition as pn;
use jigi_proto::nutrition::nutrition_service_client::NutritionServiceClient;
use jigi_storage::{Database, StorageError, params};
use tokio_util::sync::CancellationToken;

struct Plan {
    distributions: usize,
    warehouses: usize,
    batch: usize,
    concurrency: usize,
    /// The communes of the warehouses, `communes[w % communes.len()]`.
    communes: Vec<Location>,
    today: NaiveDate,
    round_start: NaiveDate,
}

impl Plan {
    fn households(&self) -> usize {
        self.distributions / 2
    }

    /// People served by one warehouse (two per household: mother and child).
    fn people_per_warehouse(&self) -> usize {
        self.distributions / self.warehouses
    }

    fn batches_per_warehouse(&self) -> usize {
        self.people_per_warehouse().div_ceil(self.batch)
    }

    fn warehouse_id(w: usize) -> String {
        format!("wh-{w:02}")
    }

    /// Household `h` lives in the commune of warehouse `h % warehouses`.
    fn commune_of_household(&self, h: usize) -> &Location {
        &self.communes[(h % self.warehouses) % self.communes.len()]
    }

    /// The `k`-th person served by warehouse `w`: (household, mother or child).
    fn person(&self, w: usize, k: usize) -> (usize, usize) {
        (w + self.warehouses * (k / 2), k % 2)
    }
}

fn household_id(h: usize) -> String {
    uuid::Uuid::from_u128((0xB0 << 120) | h as u128).to_string()
}

fn member_id(h: usize, role: usize) -> String {
    uuid::Uuid::from_u128((0xA0 << 120) | ((h as u128) << 1) | role as u128).to_string()
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let today = chrono::Utc::now().date_naive();
    let geography = Geography::built_in();
    let communes: Vec<Location> = geography
        .communes("sikasso")
        .map(|area| Location {
            region: Region::Sikasso,
            cercle: area.parent().expect("a commune has a cercle").to_owned(),
            commune: area.code.clone(),
            village: String::new(),
        })
        .collect();
    let warehouses = env("BENCH_WAREHOUSES", 50);
    let plan = Plan {
        distributions: env("BENCH_DISTRIBUTIONS", 500_000) / (2 * warehouses) * (2 * warehouses),
        warehouses,
        batch: env("BENCH_BATCH", 5_000),
        concurrency: env("BENCH_CONCURRENCY", 2).max(1),
        communes,
        today,
        round_start: NaiveDate::from_ymd_opt(today.year(), 1, 1).expect("valid date"),
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let nats = NatsProcess::standalone(&dir.path().join("nats"))
        .await
        .expect("nats-server");
    let database_url = format!("sqlite://{}", dir.path().join("nutrition.db").display());
    println!(
        "distributions: {} rations, {} warehouses in {} communes of Sikasso, batches of {} lines, {} in flight",
        plan.distributions,
        plan.warehouses,
        plan.communes.len().min(plan.warehouses),
        plan.batch,
        plan.concurrency
    );

    // Set-up, not measured: the projection of 250,000 PNP households (a
    // lactating mother and a child of two each), as the registry's events
    // would have built it.
    let migrations = [
        jigi_server::host::shared_migrations().as_slice(),
        jigi_nutrition::storage::MIGRATIONS,
    ]
    .concat();
    let database = Database::open(&database_url, &migrations).await.expect("database");
    let started = Instant::now();
    seed_projection(&database, &plan).await;
    println!(
        "  set-up    projection of {} households ({} people) in {:.1} s",
        plan.households(),
        plan.distributions,
        started.elapsed().as_secs_f64()
    );

    // 1. Baseline: the same rows straight into the same database.
    let baseline = baseline(&database, &plan).await;
    println!(
        "  baseline  plain multi-row INSERTs (distribution + movement + outbox row each): {} in {:.2} s = {:.0} rows/s",
        plan.distributions,
        baseline.as_secs_f64(),
        plan.distributions as f64 / baseline.as_secs_f64()
    );
    database.close().await;

    // 2. The service, through its API.
    let shutdown = CancellationToken::new();
    let running = jigi_nutrition::start(
        jigi_nutrition::Config::regional(jigi_nutrition::SERVICE, Region::Sikasso, &nats.url(), &database_url),
        shutdown.clone(),
    )
    .await
    .expect("nutrition service");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", running.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = NutritionServiceClient::new(channel).max_decoding_message_size(256 * 1024 * 1024);
    let round = prepare_round(&mut client, &plan).await;

    // Peak memory of the measured part only.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let started = Instant::now();
    let requests = (0..plan.warehouses * plan.batches_per_warehouse()).map(|b| {
        let (w, j) = (b % plan.warehouses, b / plan.warehouses);
        let first = j * plan.batch;
        let last = ((j + 1) * plan.batch).min(plan.people_per_warehouse());
        pn::RecordDistributionBatchRequest {
            request_id: format!("bench-{w}-{j}"),
            round_id: round.clone(),
            warehouse_id: Plan::warehouse_id(w),
            lines: (first..last)
                .map(|k| {
                    let (h, role) = plan.person(w, k);
                    pn::DistributionLine {
                        line: k as i64 + 1,
                        household_id: household_id(h),
                        member_id: member_id(h, role),
                        distributed_on: plan.today.to_string(),
                    }
                })
                .collect(),
        }
    });
    let sender = client.clone();
    let mut answers = futures::stream::iter(requests)
        .map(|request| {
            let mut client = sender.clone();
            async move { client.record_distribution_batch(request).await }
        })
        .buffer_unordered(plan.concurrency);
    let (mut recorded, mut refused) = (0i64, 0i64);
    while let Some(answer) = answers.next().await {
        let answer = answer.expect("batch recorded").into_inner();
        recorded += answer.recorded;
        refused += answer.refused;
    }
    let stored = started.elapsed();
    let stored_peak = peak_rss_mib();
    drop(answers);
    assert_eq!(
        (recorded, refused),
        (plan.distributions as i64, 0),
        "every line recorded"
    );
    while jigi_bus::outbox::pending(&running.database).await.unwrap() > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let end_to_end = started.elapsed();
    println!(
        "  service   RecordDistributionBatch, recorded:        {} in {:.2} s = {:.0} distributions/s",
        plan.distributions,
        stored.as_secs_f64(),
        plan.distributions as f64 / stored.as_secs_f64()
    );
    println!(
        "  service   recorded + every event acked by JetStream: {:.2} s = {:.0} distributions/s",
        end_to_end.as_secs_f64(),
        plan.distributions as f64 / end_to_end.as_secs_f64()
    );
    println!(
        "  ratio     recorded ÷ baseline = {:.2}; end-to-end ÷ baseline = {:.2}",
        baseline.as_secs_f64() / stored.as_secs_f64(),
        baseline.as_secs_f64() / end_to_end.as_secs_f64()
    );
    println!(
        "  memory    peak RSS while recording (service + client + relay, one process): {stored_peak} MiB; \
         until drained: {} MiB",
        peak_rss_mib()
    );

    // The books balance.
    let started = Instant::now();
    let report = client
        .get_round_report(pn::GetRoundReportRequest {
            round_id: round.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    let total = report.total.unwrap();
    let ledger = running
        .database
        .read(jigi_nutrition::storage::stock::ledger_check)
        .await
        .unwrap();
    assert!(
        ledger
            .iter()
            .all(|(_, _, on_hand, moved)| on_hand == moved && *on_hand >= 0)
    );
    assert_eq!(total.reached.unwrap().total, plan.distributions as i64);
    println!(
        "  check     round report in {:.2} s: planned {}, reached {}, {:.1} t distributed, {:.1} t left; \
         every lot's balance = sum of its movements",
        started.elapsed().as_secs_f64(),
        total.planned.unwrap().total,
        total.reached.unwrap().total,
        total.distributed.unwrap().tonnes,
        total.stock_left.unwrap().tonnes
    );
    shutdown.cancel();
    running.stopped().await;
    let size = std::fs::metadata(dir.path().join("nutrition.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!("  database  {} MiB", size / (1024 * 1024));
}

/// Registered and enrolled PNP households, applied through the projection's
/// own code, 2,000 households per command.
async fn seed_projection(database: &Database, plan: &Plan) {
    let child_born = plan.today.checked_sub_months(Months::new(24)).expect("valid date");
    for chunk in (0..plan.households()).collect::<Vec<_>>().chunks(2_000) {
        let mut facts = Vec::with_capacity(chunk.len() * 2);
        for &h in chunk {
            let place = plan.commune_of_household(h);
            let location = pc::Location {
                region: "sikasso".into(),
                cercle: place.cercle.clone(),
                commune: place.commune.clone(),
                village: String::new(),
            };
            let registered = ev::HouseholdRegistered {
                household_id: household_id(h),
                location: Some(location.clone()),
                members: vec![
                    ev::MemberProfile {
                        member_id: member_id(h, 0),
                        sex: pc::Sex::Female as i32,
                        birth_date: "1992-04-01".into(),
                        relation: ev::MemberRelation::Head as i32,
                        pregnant: false,
                        lactating: true,
                        presence: ev::MemberPresence::Present as i32,
                    },
                    ev::MemberProfile {
                        member_id: member_id(h, 1),
                        sex: pc::Sex::Male as i32,
                        birth_date: child_born.to_string(),
                        relation: ev::MemberRelation::Child as i32,
                        pregnant: false,
                        lactating: false,
                        presence: ev::MemberPresence::Present as i32,
                    },
                ],
                pmt: None,
                registered_on: plan.round_start.to_string(),
            };
            let enrolled = ev::HouseholdEnrolled {
                household_id: household_id(h),
                component: pc::Component::Pnp as i32,
                enrolled_on: plan.round_start.to_string(),
                location: Some(location),
                size: 2,
                committee_override: false,
            };
            facts.push(Fact::registered(&registered).expect("a valid registration"));
            facts.push(
                Fact::enrolled(&enrolled)
                    .expect("a valid enrolment")
                    .expect("a PNP enrolment"),
            );
        }
        database
            .write(move |conn| {
                let facts: Vec<(i64, &Fact)> = facts.iter().map(|fact| (0, fact)).collect();
                apply(conn, &facts)
            })
            .await
            .unwrap();
    }
}

/// The same rows the service writes per ration, inserted straight: the
/// insert and commit times only (building the rows is not counted).
async fn baseline(database: &Database, plan: &Plan) -> Duration {
    let round = Round {
        round_id: "baseline".into(),
        region: Region::Sikasso,
        year: plan.round_start.year(),
        number: 12,
        starts_on: plan.round_start,
        ends_on: plan.round_start,
        communes: Vec::new(),
        rations: Rations {
            child: 3_000,
            pregnant_woman: 4_500,
            lactating_woman: 4_500,
        },
        status: RoundStatus::Open,
        opened_at: chrono::Utc::now(),
        closed_on: None,
    };
    let stored = round.clone();
    database
        .write(move |conn| jigi_nutrition::storage::rounds::insert(conn, &stored))
        .await
        .unwrap();
    let mut spent = Duration::ZERO;
    for w in 0..plan.warehouses {
        for j in 0..plan.batches_per_warehouse() {
            let first = j * plan.batch;
            let last = ((j + 1) * plan.batch).min(plan.people_per_warehouse());
            let distributions: Vec<Distribution> = (first..last)
                .map(|k| {
                    let (h, role) = plan.person(w, k);
                    let (group, grams) = if role == 0 {
                        (Group::LactatingWoman, 4_500)
                    } else {
                        (Group::Child, 3_000)
                    };
                    Distribution {
                        distribution_id: uuid::Uuid::now_v7().to_string(),
                        round_id: round.round_id.clone(),
                        warehouse_id: "baseline".into(),
                        household_id: household_id(h),
                        member_id: member_id(h, role),
                        group,
                        grams,
                        distributed_on: plan.today,
                        location: plan.commune_of_household(h).clone(),
                        draws: vec![Draw {
                            lot_number: "LOT-BASELINE".into(),
                            grams,
                        }],
                        stock_after: 0,
                    }
                })
                .collect();
            let movements: Vec<Movement> = distributions
                .iter()
                .map(|d| Movement {
                    movement_id: uuid::Uuid::now_v7().to_string(),
                    warehouse_id: "baseline".into(),
                    lot_number: "LOT-BASELINE".into(),
                    kind: MovementKind::Distribution,
                    grams: -d.grams,
                    occurred_on: d.distributed_on,
                    reference: d.distribution_id.clone(),
                    reason: None,
                    note: None,
                })
                .collect();
            let events: Vec<_> = distributions
                .iter()
                .map(|d| jigi_nutrition::events::ration_distributed(&round, d))
                .collect();
            let started = Instant::now();
            database
                .write(move |conn| {
                    jigi_nutrition::storage::distributions::insert(conn, &distributions)?;
                    jigi_nutrition::storage::stock::insert_movements(conn, &movements)?;
                    jigi_bus::outbox::add(conn, &events)
                })
                .await
                .unwrap();
            spent += started.elapsed();
        }
    }
    // Out again, so the service starts on the database as the set-up left it
    // (the freed pages are reused) and publishes none of these.
    database
        .write(|conn| {
            for statement in [
                "DELETE FROM distributions WHERE round_id = 'baseline'",
                "DELETE FROM stock_movements WHERE warehouse_id = 'baseline'",
                "DELETE FROM outbox",
                "DELETE FROM rounds WHERE round_id = 'baseline'",
            ] {
                conn.execute(statement, params![])?;
            }
            Ok::<_, StorageError>(())
        })
        .await
        .unwrap();
    spent
}

/// Warehouses with their stock (two lots each, so some rations span both),
/// and the round, through the API.
async fn prepare_round(client: &mut NutritionServiceClient<tonic::transport::Channel>, plan: &Plan) -> String {
    let per_warehouse = (plan.people_per_warehouse() as i64 / 2) * (4_500 + 3_000);
    for w in 0..plan.warehouses {
        let place = &plan.communes[w % plan.communes.len()];
        client
            .register_warehouse(pn::RegisterWarehouseRequest {
                warehouse_id: Plan::warehouse_id(w),
                name: format!("Magasin {w}"),
                commune: place.commune.clone(),
            })
            .await
            .unwrap();
        for (lot, days, grams) in [
            ("A", 200, per_warehouse / 2),
            ("B", 400, per_warehouse - per_warehouse / 2 + 1_000_000),
        ] {
            client
                .receive_stock(pn::ReceiveStockRequest {
                    request_id: format!("receipt-{w}-{lot}"),
                    warehouse_id: Plan::warehouse_id(w),
                    lot_number: format!("LOT-{w}-{lot}"),
                    expires_on: (plan.today + chrono::Days::new(days)).to_string(),
                    grams,
                    received_on: plan.today.to_string(),
                    waybill: format!("BL-{w}"),
                })
                .await
                .unwrap();
        }
    }
    let communes: Vec<String> = plan
        .communes
        .iter()
        .take(plan.warehouses)
        .map(|c| c.commune.clone())
        .collect();
    client
        .open_round(pn::OpenRoundRequest {
            year: plan.round_start.year(),
            number: 2,
            starts_on: plan.round_start.to_string(),
            ends_on: plan
                .round_start
                .checked_add_months(Months::new(12))
                .and_then(|d| d.pred_opt())
                .expect("valid date")
                .to_string(),
            communes,
            rations: Some(pn::Rations {
                child_grams: 3_000,
                pregnant_woman_grams: 4_500,
                lactating_woman_grams: 4_500,
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .round
        .unwrap()
        .round_id
}

/// Peak resident memory (VmHWM) of this process, from /proc.
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}
