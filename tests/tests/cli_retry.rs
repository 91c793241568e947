//! A payment agent's return file recorded with `jigi cycles results` while
//! the payments service crashes (`kill -9`) and comes back: the CLI says
//! in one line that it sends the same request again, does, and finishes;
//! every household is paid exactly once, in the database and in the stream.

use std::collections::BTreeMap;
use std::time::Duration;

use jigi_auth::Role;
use jigi_bus::{Bus, BusConfig, OutgoingEvent, streams, subject};
use jigi_common::Region;
use jigi_proto::common::{Component, Location, Money, Period};
use jigi_proto::events as ev;
use jigi_proto::payments::payments_service_client::PaymentsServiceClient;
use jigi_proto::payments::{
    AgentAssignment, ApprovePaymentCycleRequest, AssignPaymentAgentsRequest, FreezePaymentCycleRequest, FundingSource,
    GetReconciliationRequest, ListEligibleHouseholdsRequest, OpenPaymentCycleRequest, PaymentChannel, Reconciliation,
};
use jigi_testkit::{AuthedChannel, NatsServer, ServiceProcess, TestAccess, connect_as, eventually, workspace_binary};

const WAIT: Duration = Duration::from_secs(60);
const HOUSEHOLDS: u32 = 3_000;
const COMMUNE: &str = "sikasso.sikasso.finkolo";
const AGENT: &str = "BNDA-FINKOLO";

fn household(n: u32) -> String {
    format!("0190a000-0000-7000-8000-{n:012}")
}

fn enrolled(n: u32, on: &str) -> OutgoingEvent {
    OutgoingEvent::new(
        Region::Sikasso,
        &household(n),
        &ev::HouseholdEnrolled {
            household_id: household(n),
            component: Component::Tm as i32,
            enrolled_on: on.into(),
            location: Some(Location {
                region: "sikasso".into(),
                cercle: "sikasso.sikasso".into(),
                commune: COMMUNE.into(),
                village: String::new(),
            }),
            size: 5,
            committee_override: false,
        },
    )
}

async fn reconciliation(client: &mut PaymentsServiceClient<AuthedChannel>, cycle_id: &str) -> Option<Reconciliation> {
    client
        .get_reconciliation(GetReconciliationRequest {
            cycle_id: cycle_id.into(),
        })
        .await
        .ok()?
        .into_inner()
        .reconciliation
}

fn paid_count(reconciliation: &Reconciliation) -> i64 {
    reconciliation
        .total
        .as_ref()
        .and_then(|line| line.paid)
        .map_or(0, |totals| totals.count)
}

#[tokio::test]
async fn the_cli_sends_a_batch_again_across_a_crash_of_the_payments_service_and_nothing_is_paid_twice() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start().await;
    let access = TestAccess::new(dir.path());
    let bus = Bus::connect(&BusConfig::new(nats.url(), "test-registry"))
        .await
        .unwrap();
    streams::ensure_region_stream(&bus.jetstream, Region::Sikasso)
        .await
        .unwrap();

    // The registry's enrolments, as its relay publishes them.
    let today = chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string();
    let mut acks = Vec::new();
    for n in 0..HOUSEHOLDS {
        let event = enrolled(n, &today);
        acks.push(
            bus.jetstream
                .publish_with_headers(event.subject.clone(), event.headers(), event.payload.clone().into())
                .await
                .unwrap(),
        );
    }
    for ack in acks {
        ack.await.unwrap();
    }

    let mut env = vec![
        ("JIGI_NATS_URL", nats.url()),
        (
            "JIGI_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("payments.db").display()),
        ),
        ("JIGI_REGION", "sikasso".to_owned()),
        ("JIGI_DEPLOYMENT", "cli-retry".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ];
    env.extend(access.process_env());
    let mut payments = ServiceProcess::start("jigi-payments", dir.path(), &env).await;
    let preparer_token = access.token("preparer", &[Role::PaymentPreparer], Region::Sikasso);
    let mut preparer = PaymentsServiceClient::new(connect_as(payments.grpc_addr, &preparer_token).await);
    eventually(WAIT, "every enrolment to reach the payments service", || {
        let mut client = preparer.clone();
        async move {
            let total = client
                .list_eligible_households(ListEligibleHouseholdsRequest::default())
                .await
                .ok()?
                .into_inner()
                .total;
            (total == i64::from(HOUSEHOLDS)).then_some(())
        }
    })
    .await;

    // An approved cycle for the commune's agent.
    let cycle = preparer
        .open_payment_cycle(OpenPaymentCycleRequest {
            period: Some(Period { code: "2026Q4".into() }),
            funding_source: FundingSource::WorldBankIda as i32,
            amount_per_household: None,
            communes: vec![],
            prepared_by: "preparer".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .cycle
        .unwrap();
    let cycle_id = cycle.cycle_id.clone();
    preparer
        .assign_payment_agents(AssignPaymentAgentsRequest {
            cycle_id: cycle_id.clone(),
            assignments: vec![AgentAssignment {
                commune: COMMUNE.into(),
                agent_code: AGENT.into(),
                channel: PaymentChannel::Cash as i32,
            }],
            assigned_by: "preparer".into(),
        })
        .await
        .unwrap();
    let frozen = preparer
        .freeze_payment_cycle(FreezePaymentCycleRequest {
            cycle_id: cycle_id.clone(),
            prepared_by: "preparer".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .cycle
        .unwrap()
        .frozen
        .unwrap();
    assert_eq!(frozen.count, i64::from(HOUSEHOLDS));
    let amount = frozen.amount.unwrap().fcfa / frozen.count;
    let approver_token = access.token("approver", &[Role::PaymentApprover], Region::Sikasso);
    PaymentsServiceClient::new(connect_as(payments.grpc_addr, &approver_token).await)
        .approve_payment_cycle(ApprovePaymentCycleRequest {
            cycle_id: cycle_id.clone(),
            approved_by: "approver".into(),
            expected_count: frozen.count,
            expected_amount: Some(Money {
                fcfa: frozen.count * amount,
            }),
        })
        .await
        .unwrap();

    // The agent's return file: every household paid.
    let file = dir.path().join("bnda-finkolo.csv");
    let mut csv = String::from("household_id,outcome,date,amount_fcfa,receipt_reference\n");
    for n in 0..HOUSEHOLDS {
        csv.push_str(&format!("{},paid,{today},{amount},R-{n:06}\n", household(n)));
    }
    std::fs::write(&file, csv).unwrap();

    let agent_token = access.agent_token("agent", Region::Sikasso, AGENT);
    let payments_addr = format!("http://{}", payments.grpc_addr);
    let jigi = || {
        let mut command = tokio::process::Command::new(workspace_binary("jigi"));
        command
            .args(["cycles", "results", &cycle_id])
            .arg(&file)
            .args(["--agent", AGENT, "--batch-size", "50", "--quiet"])
            .env("JIGI_PAYMENTS_ADDR", &payments_addr)
            .env("JIGI_TOKEN", &agent_token)
            .kill_on_drop(true);
        command
    };
    let cli = jigi().output();
    let crash = async {
        // The service crashes once the first batches are in.
        eventually(WAIT, "the first results to be recorded", || {
            let mut client = preparer.clone();
            let cycle_id = cycle_id.clone();
            async move {
                let recorded = paid_count(&reconciliation(&mut client, &cycle_id).await?);
                (recorded > 0).then_some(recorded)
            }
        })
        .await;
        payments.kill().await;
        payments.restart().await;
    };
    let (output, ()) = tokio::join!(cli, crash);
    let output = output.unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "jigi failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("{HOUSEHOLDS} results recorded, 0 refused")),
        "{stdout}"
    );
    assert!(
        stderr.contains("sending the same request again"),
        "the CLI says it retries:\n{stderr}"
    );
    println!("{}", stderr.lines().find(|l| l.contains("again")).unwrap_or_default());

    // The same file sent again by mistake pays no one twice.
    let again = jigi().output().await.unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));

    let mut preparer = PaymentsServiceClient::new(connect_as(payments.grpc_addr, &preparer_token).await);
    let done = reconciliation(&mut preparer, &cycle_id).await.unwrap();
    let total = done.total.unwrap();
    let paid = total.paid.unwrap();
    assert_eq!(paid.count, i64::from(HOUSEHOLDS));
    assert_eq!(paid.amount.unwrap().fcfa, i64::from(HOUSEHOLDS) * amount);
    assert_eq!(total.outstanding.unwrap_or_default().count, 0);

    // One payment event per household in the region's stream.
    let expected: BTreeMap<String, usize> = (0..HOUSEHOLDS).map(|n| (household(n), 1)).collect();
    eventually(WAIT, "one PaymentMade per household in the stream", || {
        let (bus, expected) = (bus.clone(), expected.clone());
        async move {
            let mut made = BTreeMap::new();
            for message in jigi_testkit::read_stream(&bus.jetstream, &subject::region_stream(Region::Sikasso)).await {
                if message.subject.ends_with(".payments.payment.made") {
                    let about = message.headers.as_ref()?.get("ce-subject")?.as_str().to_owned();
                    *made.entry(about).or_insert(0) += 1;
                }
            }
            (made == expected).then_some(())
        }
    })
    .await;
}
