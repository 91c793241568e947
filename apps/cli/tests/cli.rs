//! The real `jigi` binary, run as a user would, against real NATS servers
//! and services.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use jigi::demo::DemoReport;
use jigi_common::{Fcfa, Region};
use jigi_proto::common::Component;
use jigi_proto::monitoring::{Breakdown, GetIndicatorsRequest};
use jigi_proto::nutrition::ListBeneficiariesRequest;
use jigi_proto::payments::{ListEligibleHouseholdsRequest, PaymentOutcome, PaymentResult, RecordPaymentResultRequest};
use jigi_proto::registry::{Household, ListHouseholdsRequest};
use jigi_stack::LocalStack;
use jigi_stack::national::Figures;
use jigi_testkit::{NatsServer, eventually, sqlite_url};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);
const ADDRESS_VARIABLES: [&str; 5] = [
    "JIGI_REGISTRY_ADDR",
    "JIGI_PAYMENTS_ADDR",
    "JIGI_NUTRITION_ADDR",
    "JIGI_MONITORING_ADDR",
    "JIGI_NATS_URL",
];

fn sample_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/households-sample.csv")
}

/// The binary with a clean environment of addresses, then `env`.
fn command(args: &[&str], env: &[(&str, String)]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_jigi"));
    command.args(args).kill_on_drop(true);
    for variable in ADDRESS_VARIABLES {
        command.env_remove(variable);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit ok: {}\n--- stdout\n{}--- stderr\n{}",
            self.success, self.stdout, self.stderr
        )
    }
}

async fn jigi(args: &[&str], env: &[(&str, String)]) -> Run {
    let output = command(args, env).output().await.expect("the jigi binary runs");
    Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs and expects success.
async fn ok(args: &[&str], env: &[(&str, String)]) -> String {
    let run = jigi(args, env).await;
    assert!(run.success, "jigi {args:?} failed:\n{run:?}");
    run.stdout
}

/// Runs and expects a one-line error containing `expected` and a non-zero exit.
async fn fails(args: &[&str], env: &[(&str, String)], expected: &str) {
    let run = jigi(args, env).await;
    assert!(!run.success, "jigi {args:?} should fail:\n{run:?}");
    assert_eq!(run.stderr.trim().lines().count(), 1, "one line: {run:?}");
    assert!(run.stderr.starts_with("jigi: "), "{run:?}");
    assert!(run.stderr.contains(expected), "{expected:?} in {run:?}");
}

#[tokio::test]
async fn demo_runs_a_quarter_and_prints_indicators_that_agree_with_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let stdout = ok(&["demo", "--households", "40", "--data", data], &[]).await;
    // The displaced family's enrolment continued in Sikasso with Mopti's
    // committee decision, and it is listed once, in Sikasso.
    assert!(
        stdout.contains("Sikasso continued its enrolment in TM: transferred from mopti")
            && stdout.contains("committee decision: CCL de Sio, PV 14")
            && stdout.contains("the family among them")
            && stdout.contains("the family is not listed (paid once, in Sikasso)"),
        "{stdout}"
    );

    // The data stays in the one folder it names.
    let runs: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(runs.len(), 1);
    let run = runs[0].as_ref().unwrap().path();
    assert!(stdout.contains(&run.display().to_string()), "{stdout}");
    for file in [
        "registry-sikasso.db",
        "payments-mopti.db",
        "nutrition-sikasso.db",
        "monitoring.db",
        "summary.json",
    ] {
        assert!(run.join(file).exists(), "{file} in {}", run.display());
    }
    assert!(run.join("nats-hub").join("jetstream").is_dir());
    assert!(run.join("nats-mopti").join("jetstream").is_dir());

    // What it did, and what the monitoring reported, agree.
    let report: DemoReport = serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert!(report.agree, "{stdout}");
    assert_eq!(report.regions.len(), 2);
    assert_eq!(
        report.reported.iter().map(Figures::counts).collect::<Vec<_>>(),
        report.done.iter().map(Figures::counts).collect::<Vec<_>>()
    );
    for summary in &report.regions {
        assert_eq!(summary.households_registered, 40, "{}", summary.region);
        assert!(
            summary.enrolled_tm > 0 && summary.paid > 0 && summary.reached.total() > 0,
            "{summary:?}"
        );
        assert_eq!(
            summary.paid + summary.failed + summary.not_collected,
            summary.entitlements
        );
    }
    // And the printed tables are the reported figures: every row, every region.
    let total = report.reported.last().unwrap();
    assert_eq!(total.name, "Mali");
    assert_eq!(total.households_registered, 80);
    for figures in &report.reported {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{} ", figures.name)))
            .unwrap_or_else(|| panic!("a row for {} in {stdout}", figures.name));
        let amount = Fcfa::new(figures.amount_paid_fcfa).to_string().replace(" FCFA", "");
        for value in [
            figures.households_registered.to_string(),
            figures.enrolled_tm.to_string(),
            figures.enrolled_pnp.to_string(),
            figures.households_paid.to_string(),
            amount,
            format!("{:.1} %", figures.success_rate * 100.0),
        ] {
            assert!(line.contains(&value), "{value} in {line:?}");
        }
        let nutrition = stdout
            .lines()
            .filter(|l| l.trim_start().starts_with(&format!("{} ", figures.name)))
            .nth(1)
            .unwrap();
        for value in [
            figures.children_reached.to_string(),
            format!("{:.3}", figures.flour_distributed_grams as f64 / 1e6),
            format!("{:.1} %", figures.execution_rate() * 100.0),
        ] {
            assert!(nutrition.contains(&value), "{value} in {nutrition:?}");
        }
    }
    // The trace IDs of key actions are printed.
    for summary in &report.regions {
        assert_eq!(summary.traces.len(), 4);
        for trace in &summary.traces {
            assert_eq!(trace.trace_id.len(), 32, "{trace:?}");
            assert!(stdout.contains(&trace.trace_id), "{} printed", trace.trace_id);
        }
    }
    assert!(stdout.contains("Stopped. The data stays in"), "{stdout}");
}

#[tokio::test]
async fn import_stores_good_rows_and_reports_bad_ones_with_line_and_reason() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    // Access control on, as deployed: the registrar's token in JIGI_TOKEN.
    let access = jigi_testkit::TestAccess::new(dir.path());
    let mut config = jigi_registry::Config::local(Region::Sikasso, &nats.url(), &sqlite_url(dir.path(), "registry"));
    config.service.serve = access.serve_config();
    let running = jigi_registry::start(config, shutdown.clone()).await.unwrap();
    let token = access.token("k.keita", &[jigi_auth::Role::FieldAgent], Region::Sikasso);
    let supervisor = access.token("s.dembele", &[jigi_auth::Role::RegionalSupervisor], Region::Sikasso);
    let as_registrar = [("JIGI_TOKEN", token.clone())];
    let address = format!("http://{}", running.grpc_addr);
    let file = dir.path().join("field.csv");
    std::fs::copy(sample_csv(), &file).unwrap();

    let stdout = ok(
        &["households", "import", file.to_str().unwrap(), "--registry", &address],
        &as_registrar,
    )
    .await;
    assert!(
        stdout.contains("8 registered, 1 duplicates, 1 invalid, 0 lines unreadable"),
        "{stdout}"
    );
    let report = std::fs::read_to_string(dir.path().join("field.errors.csv")).unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines[0], "line,outcome,field,message,household_id");
    assert!(lines[1].starts_with("32,duplicate,"), "{report}");
    assert!(
        lines[2].starts_with("33,invalid,household.members[0].birth_date,"),
        "{report}"
    );
    assert_eq!(lines.len(), 3);
    // The good rows are stored, and nothing else.
    let stored = households_of(
        running.grpc_addr,
        jigi::address::Caller::with_token(&supervisor).unwrap(),
    )
    .await;
    assert_eq!(stored.len(), 8);
    assert!(
        !stored
            .iter()
            .any(|h| h.members.iter().any(|m| m.family_name == "Fofana"))
    );

    let id = stored[0].household_id.clone();
    let stdout = ok(
        &["households", "show", &id],
        &[("JIGI_REGISTRY_ADDR", address.clone()), ("JIGI_TOKEN", token.clone())],
    )
    .await;
    assert!(stdout.contains("Mariam Sangaré") && stdout.contains("head"), "{stdout}");

    // A service error is one line on stderr and a non-zero exit.
    fails(
        &[
            "households",
            "show",
            "01900000-0000-7000-8000-000000000000",
            "--registry",
            &address,
        ],
        &as_registrar,
        "not found",
    )
    .await;
    shutdown.cancel();
    running.stopped().await;
}

/// The households of the sample, by their reference's head name.
/// Every household of a registry (one page is enough for the tests).
async fn households_of(address: std::net::SocketAddr, caller: jigi::address::Caller) -> Vec<Household> {
    jigi::address::registry_client_as(jigi_testkit::connect_channel(address).await, caller)
        .list_households(ListHouseholdsRequest {
            page_size: 1_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .households
}

fn household_of<'a>(households: &'a [Household], head_given_name: &str) -> &'a Household {
    households
        .iter()
        .find(|h| h.members[0].given_name == head_given_name)
        .unwrap_or_else(|| panic!("household of {head_given_name}"))
}

#[tokio::test]
async fn every_operator_command_against_a_running_stack() {
    let dir = tempfile::tempdir().unwrap();
    let stack = LocalStack::start(dir.path(), &[Region::Sikasso, Region::Mopti])
        .await
        .unwrap();
    let sikasso = stack.region(Region::Sikasso);
    let endpoints = sikasso.endpoints();
    let env = vec![
        ("JIGI_REGISTRY_ADDR", endpoints.registry.clone()),
        ("JIGI_PAYMENTS_ADDR", endpoints.payments.clone()),
        ("JIGI_NUTRITION_ADDR", endpoints.nutrition.clone()),
        ("JIGI_MONITORING_ADDR", format!("http://{}", stack.monitoring_addr())),
        ("JIGI_NATS_URL", stack.hub_url("national")),
    ];
    // Every call carries a token from the stack's own key: the office's
    // for most, and the named person's where a command says who acts.
    let issuer = jigi_auth::LocalIssuer::load_or_create(&jigi_stack::stack::key_file(dir.path())).unwrap();
    let env_as = |subject: &str| {
        let token = issuer.issue(&jigi_auth::Grant::new(
            subject,
            &jigi_auth::Role::ALL,
            jigi_auth::Scope::National,
        ));
        let mut env = env.clone();
        env.push(("JIGI_TOKEN", token));
        env
    };
    let env = env_as("office");
    let everyone = stack.staff.national("test", &jigi_auth::Role::ALL);
    let today = chrono::Utc::now().date_naive();
    let date = |days: u64| (today + chrono::Days::new(days)).format("%Y-%m-%d").to_string();

    // Households: import, enrol (a committee decision for TM; the PNP only
    // where someone qualifies), show.
    let file = dir.path().join("households.csv");
    std::fs::copy(sample_csv(), &file).unwrap();
    let stdout = ok(&["households", "import", file.to_str().unwrap(), "--quiet"], &env).await;
    assert!(stdout.contains("8 registered"), "{stdout}");
    let households = households_of(sikasso.registry.grpc_addr, everyone.clone()).await;
    for household in &households {
        let stdout = ok(
            &[
                "households",
                "enrol",
                &household.household_id,
                "--component",
                "tm",
                "--committee",
                "CCL Yanfolila 2018-07",
            ],
            &env,
        )
        .await;
        assert!(stdout.contains("enrolled in TM"), "{stdout}");
    }
    let diakite = household_of(&households, "Seydou"); // a lactating mother: always a PNP target
    let doumbia = household_of(&households, "Ibrahim"); // grown children only: never
    ok(
        &[
            "households",
            "enrol",
            &diakite.household_id,
            "--component",
            "pnp",
            "--committee",
            "CCL",
        ],
        &env,
    )
    .await;
    fails(
        &[
            "households",
            "enrol",
            &doumbia.household_id,
            "--component",
            "pnp",
            "--committee",
            "CCL",
        ],
        &env,
        "enrol household",
    )
    .await;
    // A mistyped argument is caught before any call, by the argument parser.
    let run = jigi(
        &["households", "enrol", &doumbia.household_id, "--component", "xyz"],
        &env,
    )
    .await;
    assert!(
        !run.success && run.stderr.contains("unknown component \"xyz\": use tm, pnp"),
        "{run:?}"
    );
    let stdout = ok(&["households", "show", &diakite.household_id], &env).await;
    assert!(stdout.contains("TM since") && stdout.contains("PNP since"), "{stdout}");

    // Cycles: open with agents, freeze, approve (the preparer may not), reconcile.
    let mut payments = jigi::address::payments_client_as(
        jigi_testkit::connect_channel(sikasso.payments.grpc_addr).await,
        everyone.clone(),
    );
    eventually(WAIT, "payments to learn the 8 enrolments", || {
        let mut payments = payments.clone();
        async move {
            let total = payments
                .list_eligible_households(ListEligibleHouseholdsRequest::default())
                .await
                .ok()?
                .into_inner()
                .total;
            (total == 8).then_some(())
        }
    })
    .await;
    let wassoulou = "sikasso.yanfolila.wassoulou-balle";
    let kaboila = "sikasso.sikasso.kaboila";
    let stdout = ok(
        &[
            "cycles",
            "open",
            "--funding-source",
            "world-bank-ida",
            "--by",
            "a.traore",
            "--commune",
            wassoulou,
            "--commune",
            kaboila,
            "--agent",
            &format!("{wassoulou}=BNDA-YANFOLILA:cash"),
            "--agent",
            &format!("{kaboila}=ORANGE-MONEY-KABOILA:mobile-money"),
        ],
        &env_as("a.traore"),
    )
    .await;
    let cycle = stdout
        .split_whitespace()
        .nth(1)
        .filter(|id| id.len() == 36)
        .unwrap_or_else(|| panic!("a cycle ID in {stdout}"))
        .to_owned();
    assert!(
        stdout.contains("(DRAFT)") && stdout.contains("World Bank IDA"),
        "{stdout}"
    );
    assert!(stdout.contains("paid by ORANGE-MONEY-KABOILA"), "{stdout}");
    let stdout = ok(&["cycles", "freeze", &cycle, "--by", "a.traore"], &env_as("a.traore")).await;
    assert!(stdout.contains("frozen: 4 households, 120 000 FCFA"), "{stdout}");
    fails(
        &[
            "cycles", "approve", &cycle, "--by", "a.traore", "--count", "4", "--amount", "120000",
        ],
        &env_as("a.traore"),
        "another person must approve it",
    )
    .await;
    // A frozen cycle's commune may change agent before approval.
    let stdout = ok(
        &[
            "cycles",
            "assign",
            &cycle,
            "--by",
            "a.traore",
            "--agent",
            &format!("{kaboila}=WAVE-KABOILA:mobile-money"),
        ],
        &env_as("a.traore"),
    )
    .await;
    assert!(stdout.contains(&format!("{kaboila} paid by WAVE-KABOILA")), "{stdout}");
    fails(
        &[
            "cycles",
            "approve",
            &cycle,
            "--by",
            "m.coulibaly",
            "--count",
            "5",
            "--amount",
            "150000",
        ],
        &env_as("m.coulibaly"),
        "check the list again",
    )
    .await;
    let stdout = ok(
        &[
            "cycles",
            "approve",
            &cycle,
            "--by",
            "m.coulibaly",
            "--count",
            "4",
            "--amount",
            "120000",
        ],
        &env_as("m.coulibaly"),
    )
    .await;
    assert!(stdout.contains("control totals 4 households, 120 000 FCFA"), "{stdout}");
    payments
        .record_payment_result(RecordPaymentResultRequest {
            request_id: "test-payment-1".into(),
            cycle_id: cycle.clone(),
            result: Some(PaymentResult {
                household_id: diakite.household_id.clone(),
                outcome: PaymentOutcome::Paid as i32,
                agent_code: "BNDA-YANFOLILA".into(),
                date: date(0),
                amount: Some(jigi_proto::common::Money { fcfa: 30_000 }),
                receipt_reference: "R-0001".into(),
                failure_reason: 0,
            }),
        })
        .await
        .unwrap();
    let stdout = ok(&["cycles", "reconcile", &cycle], &env).await;
    let total = stdout.lines().find(|l| l.trim_start().starts_with("total")).unwrap();
    assert!(
        total.contains("120 000 FCFA") && total.contains("30 000 FCFA"),
        "{stdout}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["cycles", "reconcile", &cycle, "--json"], &env).await).unwrap();
    // The JSON mirror's convention: camelCase, 64-bit numbers as strings,
    // zeros written out.
    assert_eq!(json["total"]["paid"]["count"], "1", "{json}");
    assert_eq!(json["total"]["outstanding"]["count"], "3");
    assert_eq!(json["total"]["notCollected"]["count"], "0", "zeros are printed: {json}");
    fails(
        &["cycles", "freeze", "01900000-0000-7000-8000-000000000000", "--by", "x"],
        &env_as("x"),
        "not found",
    )
    .await;

    // Nutrition: a warehouse, flour, a round, a register with a bad line, the report.
    let warehouse = "wassoulou-balle-1";
    ok(
        &[
            "nutrition",
            "warehouse",
            warehouse,
            "--commune",
            wassoulou,
            "--name",
            "Magasin de Yanfolila",
        ],
        &env,
    )
    .await;
    let stdout = ok(
        &[
            "nutrition",
            "receive",
            "--warehouse",
            warehouse,
            "--lot",
            "LOT-A",
            "--expires",
            &date(180),
            "--kg",
            "250",
        ],
        &env,
    )
    .await;
    assert!(stdout.contains("now holds 250.000 kg"), "{stdout}");
    let stdout = ok(
        &[
            "nutrition",
            "round",
            "--number",
            "3",
            "--ends",
            &date(30),
            "--commune",
            wassoulou,
        ],
        &env,
    )
    .await;
    let round = format!("sikasso-{}-r3", chrono::Datelike::year(&today));
    assert!(stdout.contains(&format!("Round {round} open")), "{stdout}");
    let nutrition = jigi::address::nutrition_client_as(
        jigi_testkit::connect_channel(sikasso.nutrition.grpc_addr).await,
        everyone.clone(),
    );
    let kadiatou = diakite
        .members
        .iter()
        .find(|m| m.given_name == "Kadiatou")
        .unwrap()
        .member_id
        .clone();
    let beneficiaries = eventually(WAIT, "nutrition to learn of the PNP household", || {
        let mut nutrition = nutrition.clone();
        let kadiatou = kadiatou.clone();
        async move {
            let listed = nutrition
                .list_beneficiaries(ListBeneficiariesRequest {
                    area: wassoulou.into(),
                    page_size: 1_000,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .beneficiaries;
            listed.iter().any(|b| b.member_id == kadiatou).then_some(listed)
        }
    })
    .await;
    let register = dir.path().join("register.csv");
    let mut text = String::from("household_id,member_id,distributed_on\n");
    for b in &beneficiaries {
        text.push_str(&format!("{},{},\n", b.household_id, b.member_id));
    }
    let moussa = doumbia.members.iter().find(|m| m.given_name == "Moussa").unwrap();
    text.push_str(&format!("{},{},{}\n", doumbia.household_id, moussa.member_id, date(0)));
    std::fs::write(&register, text).unwrap();
    let stdout = ok(
        &[
            "nutrition",
            "distribute",
            "--round",
            &round,
            "--warehouse",
            warehouse,
            register.to_str().unwrap(),
        ],
        &env,
    )
    .await;
    let recorded = beneficiaries.len();
    assert!(
        stdout.contains(&format!("{recorded} rations recorded")) && stdout.contains("1 refused"),
        "{stdout}"
    );
    let errors = std::fs::read_to_string(dir.path().join("register.errors.csv")).unwrap();
    assert!(
        errors
            .lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("{},", recorded + 2)),
        "{errors}"
    );
    let stdout = ok(&["nutrition", "report", &round], &env).await;
    let total = stdout.lines().find(|l| l.trim_start().starts_with("total")).unwrap();
    assert!(
        total.split_whitespace().nth(5) == Some(&recorded.to_string()),
        "reached: {stdout}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["nutrition", "report", &round, "--json"], &env).await).unwrap();
    assert_eq!(json["total"]["reached"]["total"], recorded.to_string(), "{json}");
    fails(
        &[
            "nutrition",
            "distribute",
            "--round",
            &round,
            "--warehouse",
            warehouse,
            "--household",
            &doumbia.household_id,
            "--member",
            &moussa.member_id,
        ],
        &env,
        "record the ration",
    )
    .await;

    // Indicators and budget, once the monitoring has counted it all.
    let monitoring = jigi::address::monitoring_client_as(
        jigi_testkit::connect_channel(stack.monitoring_addr()).await,
        everyone.clone(),
    );
    let period = jigi_common::Period::quarter_of(today).to_string();
    eventually(WAIT, "the monitoring to count the payment and the rations", || {
        let mut monitoring = monitoring.clone();
        let period = period.clone();
        async move {
            let rows = monitoring
                .get_indicators(GetIndicatorsRequest {
                    area: "sikasso".into(),
                    period: Some(jigi_proto::common::Period { code: period }),
                    breakdown: Breakdown::Unspecified as i32,
                })
                .await
                .ok()?
                .into_inner()
                .rows;
            let i = rows.first()?.indicators.clone()?;
            let pnp = i
                .enrolled
                .iter()
                .find(|c| c.component == Component::Pnp as i32)
                .map(|c| c.households);
            (i.households_paid == 1
                && i.flour_distributed_grams > 0
                && pnp.is_some()
                && i.pnp_children_reached + i.pnp_pregnant_women_reached + i.pnp_lactating_women_reached
                    == recorded as i64)
                .then_some(())
        }
    })
    .await;
    let stdout = ok(&["indicators"], &env).await;
    let row = stdout.lines().find(|l| l.trim_start().starts_with("Sikasso")).unwrap();
    let cells: Vec<&str> = row.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(&cells[..5], ["Sikasso", "8", "8", "1", "1"], "{stdout}");
    assert_eq!(cells[5], "30 000", "{stdout}");
    assert!(stdout.lines().any(|l| l.trim_start().starts_with("Mopti")), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.trim_start().starts_with("total (Mali)")),
        "{stdout}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["indicators", "--json", "--by", "none"], &env).await).unwrap();
    assert_eq!(json["rows"][0]["areaName"], "Mali", "{json}");
    assert_eq!(json["rows"][0]["indicators"]["householdsRegistered"], "8");
    assert_eq!(json["rows"][0]["indicators"]["amountPaid"]["fcfa"], "30000");
    fails(&["indicators", "--period", "2018Q5"], &env, "period").await;

    let year = chrono::Datelike::year(&today).to_string();
    let stdout = ok(
        &[
            "budget",
            "set",
            "--year",
            &year,
            "--component",
            "tm",
            "--funding-source",
            "world-bank-ida",
            "--forecast",
            "960000",
        ],
        &env,
    )
    .await;
    assert!(stdout.contains("960 000 FCFA"), "{stdout}");
    let stdout = ok(&["budget", "--year", &year], &env).await;
    let line = stdout.lines().find(|l| l.contains("World Bank IDA")).unwrap();
    assert!(
        line.contains("960 000 FCFA") && line.contains("30 000 FCFA") && line.contains("3.1 %"),
        "{stdout}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["budget", "--year", &year, "--json"], &env).await).unwrap();
    assert_eq!(json["achieved"]["fcfa"], "30000", "{json}");

    // Exports.
    let exported = dir.path().join("dhis2.json");
    ok(&["export", "dhis2", "--output", exported.to_str().unwrap()], &env).await;
    let set: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&exported).unwrap()).unwrap();
    assert!(!set["dataValues"].as_array().unwrap().is_empty(), "{set}");
    let csv = ok(&["export", "csv"], &env).await;
    assert!(csv.starts_with("area,area_name,period,indicator,value"), "{csv}");
    assert!(csv.contains(",households_paid,1"), "{csv}");

    // Events: follow Sikasso's nutrition events on the national hub, as
    // JSON and as readable lines, while flour arrives.
    for (json, lot) in [(true, "LOT-B"), (false, "LOT-C")] {
        let mut args = vec!["events", "tail", "jigi.sikasso.nutrition.>", "--count", "1"];
        if json {
            args.push("--json");
        }
        let mut tail = command(&args, &env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(tail.stderr.take().unwrap()).lines();
        let first = stderr.next_line().await.unwrap().unwrap_or_default();
        assert!(first.starts_with("Following"), "{first}");
        ok(
            &[
                "nutrition",
                "receive",
                "--warehouse",
                warehouse,
                "--lot",
                lot,
                "--expires",
                &date(200),
                "--kg",
                "10",
            ],
            &env,
        )
        .await;
        let output = tokio::time::timeout(WAIT, tail.wait_with_output())
            .await
            .expect("the event arrives")
            .unwrap();
        assert!(output.status.success());
        let line = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if json {
            let event: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(event["type"], "jigi.nutrition.stock.received.v1", "{line}");
            assert_eq!(event["specversion"], "1.0");
            assert_eq!(event["data"]["lotNumber"], lot, "{line}");
            assert_eq!(event["data"]["grams"], "10000", "{line}");
            assert_eq!(event["data"]["location"]["commune"], wassoulou, "{line}");
        } else {
            assert!(
                line.contains(" jigi.sikasso.nutrition.stock.received jigi.nutrition.stock.received.v1 "),
                "{line}"
            );
            assert!(
                line.contains(&format!("lotNumber={lot}")) && line.contains("grams=10000"),
                "{line}"
            );
            assert!(line.contains(&format!("location={wassoulou}")), "{line}");
        }
    }

    // A service that is not there: one line, what to do, non-zero exit.
    fails(
        &["indicators", "--monitoring", "http://127.0.0.1:9"],
        &[],
        "cannot reach the monitoring",
    )
    .await;
    stack.stop().await;
}

/// The cells of the table rows (and other lines) `stdout` prints, by words.
fn printed_rows(stdout: &str) -> Vec<Vec<&str>> {
    stdout.lines().map(|line| line.split_whitespace().collect()).collect()
}

#[tokio::test]
async fn activities_commands_record_and_print_sessions_plans_and_work_sites() {
    let dir = tempfile::tempdir().unwrap();
    let stack = LocalStack::start(dir.path(), &[Region::Sikasso]).await.unwrap();
    let sikasso = stack.region(Region::Sikasso);
    let endpoints = sikasso.endpoints();
    let issuer = jigi_auth::LocalIssuer::load_or_create(&jigi_stack::stack::key_file(dir.path())).unwrap();
    let token = issuer.issue(&jigi_auth::Grant::new(
        "office",
        &jigi_auth::Role::ALL,
        jigi_auth::Scope::National,
    ));
    let env = vec![
        ("JIGI_REGISTRY_ADDR", endpoints.registry.clone()),
        ("JIGI_ACTIVITIES_ADDR", endpoints.activities.clone()),
        ("JIGI_TOKEN", token),
    ];
    let today = chrono::Utc::now().date_naive();
    let ago = |days: u64| (today - chrono::Days::new(days)).to_string();

    // The Sangaré household of the sample (Wassoulou-Ballé, village of
    // Yanfolila), enrolled in MA, AGR and HIMO for more than a year.
    let file = dir.path().join("households.csv");
    std::fs::copy(sample_csv(), &file).unwrap();
    ok(&["households", "import", file.to_str().unwrap(), "--quiet"], &env).await;
    let everyone = stack.staff.national("test", &jigi_auth::Role::ALL);
    let households = households_of(sikasso.registry.grpc_addr, everyone).await;
    let sangare = household_of(&households, "Mariam");
    let id = sangare.household_id.as_str();
    let person = |given_name: &str| {
        let member = sangare.members.iter().find(|m| m.given_name == given_name).unwrap();
        (
            member.member_id.clone(),
            member.birth_date.parse::<chrono::NaiveDate>().unwrap(),
        )
    };
    let (mariam, mariam_born) = person("Mariam");
    let (aminata, aminata_born) = person("Aminata");
    for component in ["ma", "agr", "himo"] {
        ok(
            &[
                "households",
                "enrol",
                id,
                "--component",
                component,
                "--on",
                &ago(400),
                "--committee",
                "CCL Yanfolila",
            ],
            &env,
        )
        .await;
    }
    let commune = "sikasso.yanfolila.wassoulou-balle";

    // MA: a session, attendance counted by sex and age group (computed here
    // from the birth dates), retried until the service has heard of the
    // household from the registry's events.
    let held_on = ago(10);
    let session = [
        "activities",
        "session",
        "--commune",
        commune,
        "--village",
        "sikasso.yanfolila.wassoulou-balle.yanfolila",
        "--theme",
        "infant-feeding",
        "--facilitator",
        "ong-gaas-mali",
        "--held-on",
        &held_on,
        "--member",
        &mariam,
        "--member",
        &aminata,
    ];
    let stdout = eventually(WAIT, "the session to be recorded", || async {
        let run = jigi(&session, &env).await;
        run.success.then_some(run.stdout)
    })
    .await;
    assert!(stdout.contains("recorded: 2 people of 1 households"), "{stdout}");
    let group = |born: chrono::NaiveDate| match held_on.parse::<chrono::NaiveDate>().unwrap().years_since(born) {
        Some(0..=4) => "under_5",
        Some(5..=17) => "5_to_17",
        Some(18..=59) => "18_to_59",
        _ => "60_and_over",
    };
    let rows = printed_rows(&stdout);
    assert!(rows.contains(&vec!["sex", "age", "group", "people"]), "{stdout}");
    assert!(rows.contains(&vec!["female", group(mariam_born), "1"]), "{stdout}");
    assert!(rows.contains(&vec!["female", group(aminata_born), "1"]), "{stdout}");
    let stdout = ok(
        &[
            "activities",
            "missed",
            "--commune",
            commune,
            "--from",
            &ago(30),
            "--to",
            &ago(1),
        ],
        &env,
    )
    .await;
    assert!(
        stdout.contains("1 sessions held; 0 households to follow up"),
        "{stdout}"
    );

    // AGR: a plan, a tranche, a visit three months on, each printing the plan.
    let fcfa = |francs: i64| Fcfa::new(francs).to_string();
    let stdout = ok(
        &[
            "activities",
            "plan",
            id,
            "--activity",
            "small-livestock",
            "--grant",
            "150000",
            "--approved-on",
            &ago(200),
        ],
        &env,
    )
    .await;
    assert!(
        stdout.contains(&format!(
            "Household {id}: small_livestock plan, grant {}, {} released",
            fcfa(150_000),
            fcfa(0)
        )),
        "{stdout}"
    );
    let stdout = ok(
        &[
            "activities",
            "tranche",
            id,
            "--amount",
            "75000",
            "--released-on",
            &ago(150),
        ],
        &env,
    )
    .await;
    assert!(
        stdout.contains(&format!("{} released", fcfa(75_000)))
            && stdout.contains(&format!("tranche 1 of {} released on {}", fcfa(75_000), ago(150))),
        "{stdout}"
    );
    ok(
        &["activities", "visit", id, "--month", "3", "--visited-on", &ago(50)],
        &env,
    )
    .await;
    let stdout = ok(&["activities", "show-plan", id], &env).await;
    assert!(
        stdout.contains(&format!("month-3 visit on {}: running", ago(50))),
        "{stdout}"
    );

    // HIMO: a site planned, validated, set up late, Mariam working two days
    // of the last quarter, and its wage sheet.
    let this_quarter = jigi_common::Period::quarter_of(today);
    let quarter = jigi_common::Period::quarter_of(this_quarter.start() - chrono::Days::new(1));
    let day = |offset: i64| (quarter.start() + chrono::Duration::days(offset)).to_string();
    let site = "yanfolila-piste-1";
    let stdout = ok(
        &[
            "activities",
            "site-plan",
            site,
            "--type",
            "rural-road",
            "--commune",
            commune,
            "--planned-start",
            &day(-10),
            "--person-days",
            "500",
            "--daily-wage",
            "1500",
        ],
        &env,
    )
    .await;
    assert!(
        stdout.contains(&format!("Site {site} ({commune}): planned,")),
        "{stdout}"
    );
    let stdout = ok(&["activities", "site", site, "validate", "--on", &day(-3)], &env).await;
    assert!(stdout.contains(": validated,"), "{stdout}");
    let stdout = ok(&["activities", "site", site, "start", "--on", &day(5)], &env).await;
    assert!(
        stdout.contains(&format!(
            ": open, planned {}, set up {} (15 days late)",
            day(-10),
            day(5)
        )),
        "{stdout}"
    );
    let stdout = ok(
        &["activities", "worker", site, "--household", id, "--member", &mariam],
        &env,
    )
    .await;
    assert!(stdout.contains(", 1 workers,"), "{stdout}");
    for offset in [6, 7] {
        let stdout = ok(
            &[
                "activities",
                "attendance",
                site,
                "--on",
                &day(offset),
                "--member",
                &mariam,
            ],
            &env,
        )
        .await;
        assert!(stdout.starts_with("1 workers recorded."), "{stdout}");
    }
    let stdout = ok(&["activities", "site", site, "show"], &env).await;
    assert!(stdout.contains(", 2 of 500 person-days, 1 workers,"), "{stdout}");
    let stdout = ok(&["activities", "wages", site, "--period", &quarter.to_string()], &env).await;
    let rows = printed_rows(&stdout);
    assert!(rows.contains(&vec!["household", "days", "wages", "(FCFA)"]), "{stdout}");
    let wages = fcfa(2 * 1_500);
    let mut row = vec![id, "2"];
    row.extend(wages.split_whitespace());
    assert!(rows.contains(&row), "{stdout}");
    assert!(stdout.contains(&format!("Total {wages}")), "{stdout}");
    stack.stop().await;
}

#[tokio::test]
async fn up_runs_the_stack_until_interrupted_and_prints_every_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = command(&["up", "--data", dir.path().to_str().unwrap()], &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(up.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let ready = line.starts_with("Ready.");
            printed.push(line);
            if ready {
                return;
            }
        }
        panic!("jigi up ended before it was ready: {printed:?}");
    })
    .await
    .expect("jigi up gets ready");
    let text = printed.join("\n");
    for service in [
        "registry",
        "payments",
        "nutrition",
        "activities",
        "monitoring",
        "linkage index",
        "console",
        "NATS hub",
        "NATS leaf",
    ] {
        assert!(text.contains(service), "{service} in {text}");
    }
    let exported: Vec<(String, String)> = printed
        .iter()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(exported.len(), 9, "{text}");
    // The token line is a command to run: do as a person would.
    let (token_command, exported): (Vec<_>, Vec<_>) = exported.into_iter().partition(|(k, _)| k == "JIGI_TOKEN");
    let mut env: Vec<(&str, String)> = exported.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let words: Vec<&str> = token_command[0]
        .1
        .trim_start_matches("$(jigi ")
        .trim_end_matches(')')
        .split_whitespace()
        .collect();
    let token = ok(&words, &env).await;
    env.push(("JIGI_TOKEN", token.trim().to_owned()));
    let stdout = ok(
        &[
            "households",
            "import",
            sample_csv().to_str().unwrap(),
            "--report",
            dir.path().join("errors.csv").to_str().unwrap(),
        ],
        &env,
    )
    .await;
    assert!(stdout.contains("8 registered"), "{stdout}");

    // Ctrl-C stops it cleanly, and the data stays.
    let pid = up.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let rest = tokio::time::timeout(WAIT, async {
        let mut rest = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            rest.push(line);
        }
        rest
    })
    .await
    .expect("jigi up stops");
    assert!(up.wait().await.unwrap().success());
    assert!(rest.iter().any(|l| l.starts_with("Stopped.")), "{rest:?}");
    assert!(dir.path().join("registry-sikasso.db").exists());
}

#[tokio::test]
async fn token_issues_what_the_services_verify_and_audit_verify_finds_an_edit() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("auth/key.pem");
    let key_arg = key.display().to_string();
    let jwks = ok(&["token", "--key", &key_arg, "--jwks"], &[]).await;
    let keys = jigi_auth::KeySet::parse(&jwks).unwrap();
    let token = ok(
        &[
            "token",
            "--key",
            &key_arg,
            "--subject",
            "a.traore",
            "--role",
            "payment_preparer",
            "--role",
            "auditor",
            "--region",
            "sikasso",
            "--hours",
            "2",
        ],
        &[],
    )
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let identity = jigi_auth::token::verify(token.trim(), &keys, &jigi_auth::Expectations::default(), now).unwrap();
    assert_eq!(identity.subject, "a.traore");
    assert_eq!(identity.roles.len(), 2);
    assert!(identity.scope.covers(jigi_common::Region::Sikasso));
    let run = jigi(
        &[
            "token",
            "--key",
            &key_arg,
            "--subject",
            "x",
            "--role",
            "admin",
            "--region",
            "sikasso",
        ],
        &[],
    )
    .await;
    assert!(!run.success && run.stderr.contains("unknown role \"admin\""), "{run:?}");
    fails(
        &[
            "token",
            "--key",
            &key_arg,
            "--subject",
            "x",
            "--role",
            "auditor",
            "--region",
            "atlantis",
        ],
        &[],
        "not a region",
    )
    .await;

    // An audit log of three entries, verified, then edited behind the triggers' back.
    let url = format!("sqlite://{}", dir.path().join("payments.db").display());
    let db = jigi_storage::Database::open(&url, jigi_audit::MIGRATIONS)
        .await
        .unwrap();
    let log = jigi_audit::AuditLog::attach(db.clone()).unwrap();
    for subject in ["a.traore", "m.coulibaly", "agent"] {
        let record = jigi_audit::Record {
            recorded_at: chrono::Utc::now(),
            subject: subject.into(),
            roles: "payment_preparer".into(),
            scope: "sikasso".into(),
            service_area: "sikasso".into(),
            method: "/jigi.payments.v1.PaymentsService/OpenPaymentCycle".into(),
            request_id: subject.into(),
            trace_id: String::new(),
            outcome: "OK".into(),
        };
        log.append(record).await.unwrap();
    }
    let verdict = ok(&["audit", "verify", "--database", &url], &[]).await;
    assert!(verdict.starts_with("intact: 3 entries"), "{verdict}");
    db.write(|conn| {
        conn.execute_batch(
            "DROP TRIGGER audit_log_no_update; \
             UPDATE audit_log SET outcome = 'PERMISSION_DENIED' WHERE sequence = 2;",
        )
    })
    .await
    .unwrap();
    fails(&["audit", "verify", "--database", &url], &[], "BROKEN at entry 2").await;
    let missing = format!("sqlite://{}", dir.path().join("nope.db").display());
    fails(&["audit", "verify", "--database", &missing], &[], "no database").await;
}

#[tokio::test]
async fn duplicates_are_listed_shown_and_resolved_and_a_household_transferred() {
    use jigi_auth::{Grant, LocalIssuer, Role, Scope};
    use jigi_proto::registry::RegisterHouseholdRequest;

    let dir = tempfile::tempdir().unwrap();
    let stack = LocalStack::start(dir.path(), &[Region::Sikasso, Region::Mopti])
        .await
        .unwrap();
    let issuer = LocalIssuer::load_or_create(&jigi_stack::stack::key_file(dir.path())).unwrap();
    let token = |roles: &[Role], scope: Scope| issuer.issue(&Grant::new("c.dembele", roles, scope));
    let in_region = |region: Region| Scope::Regions([region].into());
    let linkage = ("JIGI_LINKAGE_ADDR", format!("http://{}", stack.linkage_addr()));
    let operator = vec![
        linkage.clone(),
        ("JIGI_TOKEN", token(&[Role::NationalOperator], Scope::National)),
    ];
    let mopti_registrar = vec![
        linkage.clone(),
        ("JIGI_REGISTRY_ADDR", stack.region(Region::Mopti).endpoints().registry),
        (
            "JIGI_TOKEN",
            token(&[Role::RegionalSupervisor, Role::FieldAgent], in_region(Region::Mopti)),
        ),
    ];
    let gao_registrar = vec![
        linkage.clone(),
        ("JIGI_TOKEN", token(&[Role::RegionalSupervisor], in_region(Region::Gao))),
    ];

    // The same person registered in both regions, by the services' API.
    let mut ids = Vec::new();
    for (region, card) in [(Region::Mopti, "ML1122334455"), (Region::Sikasso, "ml 1122-3344-55")] {
        let caller = stack.staff.in_region("agent", &[Role::FieldAgent], region, None);
        let mut client = jigi::address::registry_client_as(
            jigi::address::connect(&stack.region(region).endpoints().registry, "registry", "", "")
                .await
                .unwrap(),
            caller,
        );
        let mut draft = jigi_registry::sample::HouseholdGenerator::new(
            &jigi_common::Geography::built_in(),
            region,
            &[],
            chrono::Utc::now().date_naive(),
            5,
        )
        .household(7_000_000);
        draft.members[0].id_card_number = card.into();
        let household = client
            .register_household(RegisterHouseholdRequest {
                request_id: uuid::Uuid::new_v4().to_string(),
                household: Some(draft),
            })
            .await
            .unwrap()
            .into_inner()
            .household
            .unwrap();
        ids.push(household.household_id);
    }
    let (in_mopti, in_sikasso) = (ids[0].clone(), ids[1].clone());
    let mut pair = [in_mopti.clone(), in_sikasso.clone()];
    pair.sort();
    let duplicate_id = format!("{}~{}", pair[0], pair[1]);

    let listed = eventually(WAIT, "jigi duplicates list shows the pair", || {
        let operator = operator.clone();
        async move {
            let run = jigi(&["duplicates", "list", "--open"], &operator).await;
            (run.success && run.stdout.contains("1 duplicate(s)")).then_some(run.stdout)
        }
    })
    .await;
    assert!(listed.contains(&duplicate_id) && listed.contains("OPEN"), "{listed}");
    let shown = ok(&["duplicates", "show", &duplicate_id], &operator).await;
    assert!(
        shown.contains("ID card") && shown.contains("(mopti)") && shown.contains("(sikasso)"),
        "{shown}"
    );
    fails(&["duplicates", "show", &duplicate_id], &gao_registrar, "gao").await;
    fails(
        &["duplicates", "resolve", &duplicate_id, "--as", "moved"],
        &mopti_registrar,
        "kept_household_id",
    )
    .await;
    let resolved = ok(
        &[
            "duplicates",
            "resolve",
            &duplicate_id,
            "--as",
            "moved",
            "--keep",
            &in_sikasso,
        ],
        &mopti_registrar,
    )
    .await;
    assert!(
        resolved.contains("resolved: moved") && resolved.contains(&in_sikasso),
        "{resolved}"
    );
    let transferred = ok(
        &[
            "households",
            "transfer",
            &in_mopti,
            "--to",
            "sikasso",
            "--as",
            &in_sikasso,
        ],
        &mopti_registrar,
    )
    .await;
    assert!(transferred.contains("transferred"), "{transferred}");
    let open = ok(&["duplicates", "list", "--open"], &operator).await;
    assert!(open.contains("0 duplicate(s)"), "{open}");
    stack.stop().await;
}
