//! A partner in another language, end to end: the hub from the deployment's
//! files, Sikasso's leaf node with its registry, payments and nutrition
//! services, the national monitoring (with its JSON mirror) on the hub. An
//! office registers and enrols a household, pays it and feeds its child;
//! an operator creates the partner's durable consumer on JIGI_JSON with
//! `jigi partners`; `examples/python/subscriber.py` (nats-py) logs in with
//! the partner's credentials and prints every event, decoded.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use jigi_auth::Role;
use jigi_bus::{Bus, subject};
use jigi_common::{Period, Region};
use jigi_e2e::{Hub, random_passwords};
use jigi_proto::common::{Component, Location, Money, Sex};
use jigi_proto::nutrition::{
    CheckEligibilityRequest, OpenRoundRequest, Rations, ReceiveStockRequest, RecordDistributionRequest,
    RegisterWarehouseRequest,
};
use jigi_proto::payments::*;
use jigi_proto::registry::*;
use jigi_stack::clients::{self, NutritionClient, PaymentsClient, RegistryClient};
use jigi_stack::{RegionNode, StackAccess};
use jigi_storage::Database;
use jigi_subscribers::json;
use jigi_testkit::{TempDir, eventually, sqlite_url, stream_len};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);
const REGION: Region = Region::Sikasso;
const COMMUNE: &str = "sikasso.yanfolila.gouanan";
const PARTNER: &str = "partner_donor";

/// Why the Python subscriber cannot run here, if it cannot.
fn python_missing() -> Option<String> {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import nats"])
        .output();
    match probe {
        Err(err) => Some(format!("python3 is not installed ({err})")),
        Ok(output) if !output.status.success() => Some(format!(
            "nats-py is not installed for python3 ({})",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Ok(_) => None,
    }
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

async fn run(mut command: tokio::process::Command, what: &str) -> Output {
    command.kill_on_drop(true).stdin(std::process::Stdio::null());
    tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish"))
        .unwrap_or_else(|err| panic!("cannot run {what}: {err}"))
}

/// Sikasso's three services on its leaf node, and the monitoring on the hub.
struct Programme {
    hub: Hub,
    node: RegionNode,
    /// A registrar (field agent and supervisor).
    registry: RegistryClient,
    /// The cycle's preparer, `aminata.preparer`.
    payments: PaymentsClient,
    /// Another person, who approves: `boubacar.approver`.
    approver: PaymentsClient,
    /// The commune's payment agent, `AGENT-001`.
    agent: PaymentsClient,
    /// The PNP team (store keeper and field agent).
    nutrition: NutritionClient,
    databases: Vec<Database>,
    json_mirror: std::sync::Arc<jigi_subscribers::mirror::MirrorStats>,
    shutdown: CancellationToken,
    _dir: TempDir,
}

impl Drop for Programme {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn programme() -> Programme {
    jigi_testkit::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let passwords = random_passwords();
    let hub = Hub::start(&dir.path().join("hub"), &passwords).await;
    let shutdown = CancellationToken::new();
    let access = StackAccess::create(dir.path()).unwrap();
    let node = RegionNode::start(
        dir.path(),
        REGION,
        hub.leaf_port,
        &jigi_stack::Shared {
            passwords: passwords.clone(),
            access: access.clone(),
            telemetry: jigi_stack::Telemetry::default(),
        },
        &shutdown,
    )
    .await
    .unwrap();
    let staff = &access.staff;
    let connect = |addr: std::net::SocketAddr| async move {
        clients::connect(&format!("http://{addr}"), "service", "", "")
            .await
            .unwrap()
    };
    let registry = clients::registry_client_as(
        connect(node.registry.grpc_addr).await,
        staff.in_region("k.keita", &[Role::FieldAgent, Role::RegionalSupervisor], REGION, None),
    );
    let person = |subject: &str, roles: &[Role], agent: Option<&str>| staff.in_region(subject, roles, REGION, agent);
    let payments_channel = connect(node.payments.grpc_addr).await;
    let payments = clients::payments_client_as(
        payments_channel.clone(),
        person("aminata.preparer", &[Role::PaymentPreparer], None),
    );
    let approver = clients::payments_client_as(
        payments_channel.clone(),
        person("boubacar.approver", &[Role::PaymentApprover], None),
    );
    let agent = clients::payments_client_as(
        payments_channel,
        person("agent.001", &[Role::PaymentAgent], Some("AGENT-001")),
    );
    let nutrition = clients::nutrition_client_as(
        connect(node.nutrition.grpc_addr).await,
        person(
            "f.coulibaly",
            &[Role::NutritionStoreKeeper, Role::FieldAgent, Role::RegionalSupervisor],
            None,
        ),
    );

    // The national monitoring with its own credentials; the mirror is on by default.
    let mut config = jigi_monitoring::Config::local(
        &[REGION],
        &hub.url_as("monitoring"),
        &sqlite_url(dir.path(), "monitoring"),
    );
    config.region_domains = true;
    config.service.serve = access.serve.clone();
    assert!(config.json_mirror, "the JSON mirror runs by default");
    let monitoring = jigi_monitoring::start(config, shutdown.clone()).await.unwrap();

    Programme {
        registry,
        payments,
        approver,
        agent,
        nutrition,
        databases: vec![
            node.registry.database.clone(),
            node.payments.database.clone(),
            node.nutrition.database.clone(),
        ],
        json_mirror: monitoring.service.json_mirror.clone().expect("the mirror's counters"),
        hub,
        node,
        shutdown,
        _dir: dir,
    }
}

fn today() -> String {
    chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string()
}

fn months_ago(months: u32) -> String {
    let today = chrono::Utc::now().date_naive();
    today
        .checked_sub_months(chrono::Months::new(months))
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}

/// What the office did: the IDs the partner should see.
struct Done {
    household_id: String,
    child_id: String,
    cycle_id: String,
}

impl Programme {
    /// A mother and her 18-month-old child, registered and enrolled in the
    /// cash transfers and the nutrition package.
    async fn register_and_enrol(&mut self) -> (String, String) {
        let member = |given: &str, sex: Sex, born: String, relation: Relation| MemberDraft {
            given_name: given.into(),
            family_name: "Sangaré".into(),
            sex: sex as i32,
            birth_date: born,
            relation: relation as i32,
            ..Default::default()
        };
        let mut mother = member("Mariam", Sex::Female, "1990-04-12".into(), Relation::Head);
        mother.lactating = true;
        mother.phone = "+22376110011".into();
        let household = self
            .registry
            .register_household(RegisterHouseholdRequest {
                request_id: "subscribers-e2e-1".into(),
                household: Some(HouseholdDraft {
                    location: Some(Location {
                        commune: COMMUNE.into(),
                        ..Default::default()
                    }),
                    members: vec![mother, member("Bakary", Sex::Male, months_ago(18), Relation::Child)],
                    traits: Some(HouseholdTraits {
                        roof: RoofMaterial::Thatch as i32,
                        wall: WallMaterial::MudBrick as i32,
                        floor: FloorMaterial::Earth as i32,
                        ..Default::default()
                    }),
                }),
            })
            .await
            .expect("registered")
            .into_inner()
            .household
            .unwrap();
        for component in [Component::Tm, Component::Pnp] {
            self.registry
                .enrol_household(EnrolHouseholdRequest {
                    household_id: household.household_id.clone(),
                    component: component as i32,
                    enrolled_on: today(),
                    committee_override: "CCL Yanfolila e2e".into(),
                })
                .await
                .expect("enrolled");
        }
        (household.household_id, household.members[1].member_id.clone())
    }

    /// A quarter's cycle: opened, agent assigned, frozen, approved by another
    /// user, and the household's payment recorded.
    async fn pay(&mut self, household_id: &str) -> String {
        let payments = self.payments.clone();
        eventually(WAIT, "payments to know the enrolled household", || {
            let mut payments = payments.clone();
            async move {
                let page = payments
                    .list_eligible_households(ListEligibleHouseholdsRequest {
                        commune: COMMUNE.into(),
                        page_size: 10,
                        page_token: String::new(),
                        ..Default::default()
                    })
                    .await
                    .ok()?
                    .into_inner();
                (!page.households.is_empty()).then_some(())
            }
        })
        .await;
        let quarter = Period::quarter_of(chrono::Utc::now().date_naive()).to_string();
        let cycle_id = self
            .payments
            .open_payment_cycle(OpenPaymentCycleRequest {
                period: Some(jigi_proto::common::Period { code: quarter }),
                funding_source: FundingSource::WorldBankIda as i32,
                amount_per_household: Some(Money { fcfa: 30_000 }),
                communes: vec![COMMUNE.into()],
                prepared_by: "aminata.preparer".into(),
                ..Default::default()
            })
            .await
            .expect("cycle opened")
            .into_inner()
            .cycle
            .unwrap()
            .cycle_id;
        self.payments
            .assign_payment_agents(AssignPaymentAgentsRequest {
                cycle_id: cycle_id.clone(),
                assignments: vec![AgentAssignment {
                    commune: COMMUNE.into(),
                    agent_code: "AGENT-001".into(),
                    channel: PaymentChannel::Cash as i32,
                }],
                assigned_by: "aminata.preparer".into(),
            })
            .await
            .expect("agent assigned");
        let totals = self
            .payments
            .freeze_payment_cycle(FreezePaymentCycleRequest {
                cycle_id: cycle_id.clone(),
                prepared_by: "aminata.preparer".into(),
            })
            .await
            .expect("frozen")
            .into_inner()
            .cycle
            .unwrap()
            .frozen
            .unwrap_or_default();
        self.approver
            .approve_payment_cycle(ApprovePaymentCycleRequest {
                cycle_id: cycle_id.clone(),
                approved_by: "boubacar.approver".into(),
                expected_count: totals.count,
                expected_amount: totals.amount,
            })
            .await
            .expect("approved by another user");
        self.agent
            .record_payment_result(RecordPaymentResultRequest {
                request_id: "subscribers-e2e-payment-1".into(),
                cycle_id: cycle_id.clone(),
                result: Some(PaymentResult {
                    household_id: household_id.into(),
                    outcome: PaymentOutcome::Paid as i32,
                    agent_code: "AGENT-001".into(),
                    date: today(),
                    amount: Some(Money { fcfa: 30_000 }),
                    receipt_reference: "REC-0001".into(),
                    failure_reason: 0,
                }),
            })
            .await
            .expect("payment recorded");
        cycle_id
    }

    /// A warehouse, 50 kg of flour, a round, and the child's ration.
    async fn distribute(&mut self, household_id: &str, child_id: &str) {
        let nutrition = self.nutrition.clone();
        let child = child_id.to_owned();
        eventually(WAIT, "nutrition to know the enrolled child", || {
            let (mut nutrition, child) = (nutrition.clone(), child.clone());
            async move {
                let answer = nutrition
                    .check_eligibility(CheckEligibilityRequest {
                        member_id: child,
                        on: String::new(),
                    })
                    .await
                    .ok()?
                    .into_inner();
                answer.eligible.then_some(())
            }
        })
        .await;
        self.nutrition
            .register_warehouse(RegisterWarehouseRequest {
                warehouse_id: "gouanan-1".into(),
                name: "Magasin de Gouanan".into(),
                commune: COMMUNE.into(),
            })
            .await
            .expect("warehouse registered");
        let next_year = (chrono::Utc::now().date_naive() + chrono::Days::new(365)).to_string();
        self.nutrition
            .receive_stock(ReceiveStockRequest {
                request_id: "subscribers-e2e-receipt-1".into(),
                warehouse_id: "gouanan-1".into(),
                lot_number: "LOT-A".into(),
                expires_on: next_year,
                grams: 50_000,
                received_on: today(),
                waybill: "BL-2018-0042".into(),
            })
            .await
            .expect("stock received");
        let now = chrono::Utc::now().date_naive();
        let round = self
            .nutrition
            .open_round(OpenRoundRequest {
                year: chrono::Datelike::year(&now),
                number: 1,
                starts_on: now.to_string(),
                ends_on: (now + chrono::Days::new(30)).to_string(),
                communes: vec![COMMUNE.into()],
                rations: Some(Rations {
                    child_grams: 3_000,
                    pregnant_woman_grams: 4_500,
                    lactating_woman_grams: 4_500,
                }),
            })
            .await
            .expect("round opened")
            .into_inner()
            .round
            .unwrap();
        self.nutrition
            .record_distribution(RecordDistributionRequest {
                request_id: "subscribers-e2e-ration-1".into(),
                round_id: round.round_id,
                warehouse_id: "gouanan-1".into(),
                household_id: household_id.into(),
                member_id: child_id.into(),
                distributed_on: today(),
            })
            .await
            .expect("ration distributed");
    }

    async fn drive(&mut self) -> Done {
        let (household_id, child_id) = self.register_and_enrol().await;
        let cycle_id = self.pay(&household_id).await;
        self.distribute(&household_id, &child_id).await;
        Done {
            household_id,
            child_id,
            cycle_id,
        }
    }

    /// Waits until every event is published, in the national stream and in
    /// JIGI_JSON; returns how many there are.
    async fn wait_all_mirrored(&self, national: &Bus) -> u64 {
        for database in &self.databases {
            eventually(WAIT, "every outbox empty", || {
                let database = database.clone();
                async move { (jigi_bus::outbox::pending(&database).await.ok()? == 0).then_some(()) }
            })
            .await;
        }
        let region = jigi_e2e::connect_leaf(&self.node.leaf, REGION).await;
        let published = stream_len(&region.jetstream, &subject::region_stream(REGION)).await;
        let js = national.jetstream.clone();
        eventually(
            WAIT,
            &format!("{published} events in JIGI_NATIONAL and JIGI_JSON"),
            || {
                let js = js.clone();
                async move {
                    (stream_len(&js, subject::NATIONAL_STREAM).await == published
                        && stream_len(&js, json::STREAM).await == published)
                        .then_some(())
                }
            },
        )
        .await;
        published
    }
}

/// `python3 examples/python/subscriber.py` as the partner.
fn subscriber(hub: &Hub, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("python3");
    command
        .arg(repository().join("examples/python/subscriber.py"))
        .args(["--url", &format!("nats://127.0.0.1:{}", hub.server.port())])
        .args(["--user", PARTNER])
        .args(args)
        .env("JIGI_PARTNER_PASSWORD", hub.passwords.of(PARTNER));
    command
}

fn line_of<'a>(lines: &[&'a str], ce_type: &str) -> &'a str {
    let found: Vec<&str> = lines.iter().copied().filter(|l| l.starts_with(ce_type)).collect();
    assert_eq!(found.len(), 1, "one {ce_type} line in {lines:#?}");
    found[0]
}

#[tokio::test]
async fn a_python_partner_reads_a_registration_a_payment_and_a_ration_as_json() {
    if let Some(reason) = python_missing() {
        let how = "install it: pip3 install -r examples/python/requirements.txt (scripts/ensure-tools does)";
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the Python subscriber, but {reason}; {how}"
        );
        eprintln!("SKIPPED a_python_partner_reads_...: {reason}; {how}");
        return;
    }
    let started = chrono::Utc::now() - chrono::Duration::minutes(1);
    let mut programme = programme().await;
    let done = programme.drive().await;
    let national = programme.hub.connect_as("national").await;
    let events = programme.wait_all_mirrored(&national).await;
    assert!(
        events >= 10,
        "registration, 2 enrolments, 4 of the cycle, 3 of nutrition: {events}"
    );
    let mirror = programme.json_mirror.clone();
    eventually(WAIT, "the mirror to count what it published", || {
        let mirror = mirror.clone();
        async move { (mirror.published() == events).then_some(()) }
    })
    .await;

    // The operator creates the partner's consumer: from a time, on JIGI_JSON.
    let since = started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut add = tokio::process::Command::new(jigi_testkit::workspace_binary("jigi"));
    add.args(["partners", "add", PARTNER, "--json", "--since", &since])
        .env("JIGI_NATS_URL", programme.hub.url_as("national"));
    let added = run(add, "jigi partners add").await;
    let said = String::from_utf8_lossy(&added.stdout);
    assert!(
        added.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert!(
        said.starts_with("created: consumer partner_donor on JIGI_JSON"),
        "{said}"
    );
    assert!(said.contains(&format!("{events} waiting")), "{said}");

    // The partner's program, with the partner's credentials only.
    let count = events.to_string();
    let output = run(
        subscriber(&programme.hub, &["--count", &count, "--timeout", "60"]),
        "the Python subscriber",
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "subscriber failed:\n{stdout}\n{stderr}");
    assert!(stderr.trim().is_empty(), "no refusal, no error: {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len() as u64, events, "one line per event:\n{stdout}");

    let registered = line_of(&lines, "jigi.registry.household.registered.v1 ");
    assert!(
        registered.contains(&format!(
            "region=sikasso household={} commune={COMMUNE} members=2 ",
            done.household_id
        )),
        "{registered}"
    );
    let paid = line_of(&lines, "jigi.payments.payment.made.v1 ");
    assert!(
        paid.contains(&format!(
            "region=sikasso household={} cycle={} amount=30000 FCFA channel=PAYMENT_CHANNEL_KIND_CASH agent=AGENT-001",
            done.household_id, done.cycle_id
        )),
        "{paid}"
    );
    let ration = line_of(&lines, "jigi.nutrition.ration.distributed.v1 ");
    assert!(
        ration.contains(&format!(
            "region=sikasso member={} household={} group=BENEFICIARY_GROUP_CHILD grams=3000 warehouse=gouanan-1 stock_on_hand_grams=47000",
            done.child_id, done.household_id
        )),
        "{ration}"
    );
    for personal in ["Mariam", "Sangaré", "+22376110011"] {
        assert!(!stdout.contains(personal), "a partner never sees {personal}");
    }

    // It acked them: started again, it has nothing more and says so.
    let output = run(
        subscriber(&programme.hub, &["--count", "1", "--timeout", "3"]),
        "the Python subscriber, again",
    )
    .await;
    assert_eq!(output.status.code(), Some(2), "a timeout is an error exit");
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no event for 3 s (0 received)"));
    let info = jigi_subscribers::partners::partner_consumer(&national.jetstream, json::STREAM, PARTNER)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((info.ack_floor.consumer_sequence, info.num_ack_pending), (events, 0));
}
