//! `spawn_app()`: a payments service of its own for each test, with its own
//! nats-server, database and gRPC port, checking tokens as deployed. Tests
//! play the registry by publishing its events to the region's stream,
//! exactly as its outbox relay does (the end-to-end test runs the real
//! registry instead), and call the API as the people of a payment office:
//! the preparer (the default client), approvers, and each commune's agent.

use std::collections::HashMap;
use std::time::Duration;

use jigi_auth::Role;
use jigi_bus::{Bus, BusConfig, OutgoingEvent, ReceivedEvent, streams, subject};
use jigi_common::Region;
use jigi_payments::{Config, Handle, start};
use jigi_proto::common::{Component, Location, Money, Period};
use jigi_proto::events as ev;
use jigi_proto::payments::payments_service_client::PaymentsServiceClient;
use jigi_proto::payments::*;
use jigi_server::Running;
use jigi_testkit::{AuthedChannel, NatsServer, TempDir, TestAccess, connect_as, eventually, read_stream};
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(30);
pub const REGION: Region = Region::Segou;
pub const SANANDO: &str = "segou.baroueli.sanando";
pub const KONOBOUGOU: &str = "segou.baroueli.konobougou";
/// The cash agent of Sanando and the mobile money agent of Konobougou.
pub const CASH_AGENT: &str = "BNDA-SANANDO";
pub const MOBILE_AGENT: &str = "ORANGE-MONEY-KONO";
pub const QUARTER: i64 = 30_000;
/// Who opens, assigns and freezes cycles in the tests: the default client.
pub const PREPARER: &str = "preparer";

pub type Client = PaymentsServiceClient<AuthedChannel>;

pub struct TestApp {
    pub nats: NatsServer,
    /// The preparer's client: [`PREPARER`], a payment preparer of the region.
    pub client: Client,
    pub running: Option<Running<Handle>>,
    /// The identity provider the service trusts.
    pub access: TestAccess,
    /// Clients of other people, by token, made once.
    people: HashMap<String, Client>,
    pub shutdown: CancellationToken,
    /// A connection of the test's own, as the registry or a subscriber has.
    pub bus: Bus,
    pub config: Config,
    pub dir: TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A payments service whose configuration `adjust` may change.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let access = TestAccess::new(dir.path());
    let mut config = Config::local(
        REGION,
        &nats.url(),
        &jigi_testkit::database_url(dir.path(), "payments").await,
    );
    config.service.serve = access.serve_config();
    adjust(&mut config);
    let bus = Bus::connect(&BusConfig::new(nats.url(), "test-registry"))
        .await
        .unwrap();
    streams::ensure_region_stream(&bus.jetstream, REGION).await.unwrap();
    let shutdown = CancellationToken::new();
    let running = start(config.clone(), shutdown.clone()).await.expect("payments starts");
    let client = preparer(&running, &access).await;
    TestApp {
        nats,
        client,
        running: Some(running),
        access,
        people: HashMap::new(),
        shutdown,
        bus,
        config,
        dir,
    }
}

/// A client of `running` calling with `token`.
pub async fn client(running: &Running<Handle>, token: &str) -> Client {
    PaymentsServiceClient::new(connect_as(running.grpc_addr, token).await).max_decoding_message_size(64 * 1024 * 1024)
}

/// The preparer's client.
pub async fn preparer(running: &Running<Handle>, access: &TestAccess) -> Client {
    client(running, &access.token(PREPARER, &[Role::PaymentPreparer], REGION)).await
}

/// A registry household ID (a UUID) numbered `n`.
pub fn household(n: u32) -> String {
    format!("0190a000-0000-7000-8000-{n:012}")
}

pub fn location(commune: &str) -> Location {
    let cercle = commune.rsplit_once('.').unwrap().0;
    Location {
        region: REGION.slug().into(),
        cercle: cercle.into(),
        commune: commune.into(),
        village: format!("{commune}.{}", commune.rsplit('.').next().unwrap()),
    }
}

pub fn today() -> String {
    chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string()
}

pub fn money(fcfa: i64) -> Option<Money> {
    Some(Money { fcfa })
}

/// A payment of a household's quarter by its commune's agent.
pub fn paid(household_id: &str, agent: &str, receipt: &str) -> PaymentResult {
    PaymentResult {
        household_id: household_id.into(),
        outcome: PaymentOutcome::Paid as i32,
        agent_code: agent.into(),
        date: today(),
        amount: money(QUARTER),
        receipt_reference: receipt.into(),
        failure_reason: 0,
    }
}

pub fn failed(household_id: &str, agent: &str, reason: FailureReason) -> PaymentResult {
    PaymentResult {
        household_id: household_id.into(),
        outcome: PaymentOutcome::Failed as i32,
        agent_code: agent.into(),
        date: today(),
        failure_reason: reason as i32,
        ..Default::default()
    }
}

pub fn not_collected(household_id: &str, agent: &str) -> PaymentResult {
    PaymentResult {
        household_id: household_id.into(),
        outcome: PaymentOutcome::NotCollected as i32,
        agent_code: agent.into(),
        date: today(),
        ..Default::default()
    }
}

impl TestApp {
    pub fn running(&self) -> &Running<Handle> {
        self.running.as_ref().expect("payments is running")
    }

    /// The client of whoever `token` names (made once per token).
    pub async fn with_token(&mut self, token: String) -> Client {
        if let Some(client) = self.people.get(&token) {
            return client.clone();
        }
        let made = client(self.running(), &token).await;
        self.people.insert(token, made.clone());
        made
    }

    /// The client of `subject`, holding `roles` in the region.
    pub async fn person(&mut self, subject: &str, roles: &[Role]) -> Client {
        let token = self.access.token(subject, roles, REGION);
        self.with_token(token).await
    }

    /// The client of the payment agent `agent_code` (whose token names it).
    pub async fn agent(&mut self, agent_code: &str) -> Client {
        let token = self
            .access
            .agent_token(&agent_code.to_ascii_lowercase(), REGION, agent_code);
        self.with_token(token).await
    }

    /// Stops the service and waits until every part has stopped.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(running) = self.running.take() {
            running.stopped().await;
        }
    }

    /// Starts the service again on the same database.
    pub async fn start_again(&mut self) {
        self.shutdown = CancellationToken::new();
        let running = start(self.config.clone(), self.shutdown.clone())
            .await
            .expect("payments starts again");
        self.client = preparer(&running, &self.access).await;
        self.people.clear();
        self.running = Some(running);
    }

    /// Publishes an event as the registry's relay does, waiting for the
    /// ack and retrying (as the relay would) while NATS reconnects; a
    /// repeat is dropped by JetStream's `Nats-Msg-Id` check.
    pub async fn publish(&self, event: &OutgoingEvent) {
        let js = self.bus.jetstream.clone();
        eventually(WAIT, &format!("event {} acknowledged", event.id), || {
            let js = js.clone();
            async move {
                let ack = js
                    .publish_with_headers(event.subject.clone(), event.headers(), event.payload.clone().into())
                    .await
                    .ok()?;
                ack.await.ok().map(|_| ())
            }
        })
        .await;
    }

    pub async fn enrol(&self, household_id: &str, commune: &str) {
        self.publish(&enrolled(household_id, commune, Component::Tm)).await;
    }

    pub async fn exit(&self, household_id: &str, commune: &str) {
        self.publish(&exited(household_id, commune)).await;
    }

    pub async fn move_to(&self, household_id: &str, commune: &str) {
        self.publish(&moved(household_id, commune)).await;
    }

    /// Every eligible household, `(household_id, commune)`, by ID.
    pub async fn eligible(&mut self) -> Vec<(String, String)> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .client
                .list_eligible_households(ListEligibleHouseholdsRequest {
                    page_size: 1_000,
                    page_token: page_token.clone(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            all.extend(
                page.households
                    .into_iter()
                    .map(|h| (h.household_id, h.location.unwrap().commune)),
            );
            if page.next_page_token.is_empty() {
                return all;
            }
            page_token = page.next_page_token;
        }
    }

    /// Waits until the projection counts `count` eligible households.
    pub async fn wait_eligible(&mut self, count: i64) {
        let client = self.client.clone();
        eventually(WAIT, &format!("{count} eligible households"), || {
            let mut client = client.clone();
            async move {
                let total = client
                    .list_eligible_households(ListEligibleHouseholdsRequest::default())
                    .await
                    .ok()?
                    .into_inner()
                    .total;
                (total == count).then_some(())
            }
        })
        .await;
    }

    /// Waits until the consumer has handled `count` registry events in all.
    pub async fn wait_handled(&self, count: i64) {
        let db = self.running().database.clone();
        let name = jigi_payments::consumer_name(&self.config);
        eventually(WAIT, &format!("{count} registry events handled"), || {
            let (db, name) = (db.clone(), name.clone());
            async move {
                let handled = jigi_bus::inbox::processed_count(&db, &name).await.ok()?;
                (handled == count).then_some(())
            }
        })
        .await;
    }

    pub async fn open(&mut self, period: &str, source: FundingSource) -> Result<PaymentCycle, tonic::Status> {
        self.client
            .open_payment_cycle(OpenPaymentCycleRequest {
                period: Some(Period { code: period.into() }),
                funding_source: source as i32,
                amount_per_household: None,
                communes: vec![],
                prepared_by: PREPARER.into(),
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().cycle.unwrap())
    }

    /// Assigns Sanando to the cash agent and Konobougou to the mobile money agent.
    pub async fn assign_agents(&mut self, cycle_id: &str) {
        self.client
            .assign_payment_agents(AssignPaymentAgentsRequest {
                cycle_id: cycle_id.into(),
                assignments: vec![
                    AgentAssignment {
                        commune: SANANDO.into(),
                        agent_code: CASH_AGENT.into(),
                        channel: PaymentChannel::Cash as i32,
                    },
                    AgentAssignment {
                        commune: KONOBOUGOU.into(),
                        agent_code: MOBILE_AGENT.into(),
                        channel: PaymentChannel::MobileMoney as i32,
                    },
                ],
                assigned_by: PREPARER.into(),
            })
            .await
            .unwrap();
    }

    pub async fn freeze(&mut self, cycle_id: &str) -> FreezePaymentCycleResponse {
        self.client
            .freeze_payment_cycle(FreezePaymentCycleRequest {
                cycle_id: cycle_id.into(),
                prepared_by: PREPARER.into(),
            })
            .await
            .unwrap()
            .into_inner()
    }

    /// Approves `cycle` as `approver`, a payment approver of the region who
    /// names themself in the request.
    pub async fn approve(&mut self, cycle: &PaymentCycle, approver: &str) -> Result<PaymentCycle, tonic::Status> {
        let frozen = cycle.frozen.unwrap_or_default();
        self.person(approver, &[Role::PaymentApprover])
            .await
            .approve_payment_cycle(ApprovePaymentCycleRequest {
                cycle_id: cycle.cycle_id.clone(),
                approved_by: approver.into(),
                expected_count: frozen.count,
                expected_amount: frozen.amount,
            })
            .await
            .map(|r| r.into_inner().cycle.unwrap())
    }

    /// An approved 2019Q1 cycle of the households enrolled now (which the
    /// projection must already show).
    pub async fn approved_cycle(&mut self) -> PaymentCycle {
        let cycle = self.open("2019Q1", FundingSource::WorldBankIda).await.unwrap();
        self.assign_agents(&cycle.cycle_id).await;
        let frozen = self.freeze(&cycle.cycle_id).await.cycle.unwrap();
        self.approve(&frozen, "approver").await.unwrap()
    }

    pub async fn cycle(&mut self, cycle_id: &str) -> PaymentCycle {
        self.client
            .get_payment_cycle(GetPaymentCycleRequest {
                cycle_id: cycle_id.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .cycle
            .unwrap()
    }

    /// Records a batch of results as the payment agent `agent`.
    pub async fn record(
        &mut self,
        agent: &str,
        request_id: &str,
        cycle_id: &str,
        results: Vec<PaymentResult>,
    ) -> Result<RecordPaymentResultsResponse, tonic::Status> {
        self.agent(agent)
            .await
            .record_payment_results(RecordPaymentResultsRequest {
                request_id: request_id.into(),
                cycle_id: cycle_id.into(),
                results,
            })
            .await
            .map(|r| r.into_inner())
    }

    /// Records one result as the payment agent `agent`.
    pub async fn record_one(
        &mut self,
        agent: &str,
        request_id: &str,
        cycle_id: &str,
        result: PaymentResult,
    ) -> Result<RecordPaymentResultResponse, tonic::Status> {
        self.agent(agent)
            .await
            .record_payment_result(RecordPaymentResultRequest {
                request_id: request_id.into(),
                cycle_id: cycle_id.into(),
                result: Some(result),
            })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn reconciliation(&mut self, cycle_id: &str) -> Reconciliation {
        self.client
            .get_reconciliation(GetReconciliationRequest {
                cycle_id: cycle_id.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .reconciliation
            .unwrap()
    }

    /// Waits until the payments outbox is empty, then returns every event
    /// the payments service published, in stream order.
    pub async fn payment_events(&self) -> Vec<ReceivedEvent> {
        let db = self.running().database.clone();
        eventually(WAIT, "the payments outbox to drain", || {
            let db = db.clone();
            async move { (jigi_bus::outbox::pending(&db).await.ok()? == 0).then_some(()) }
        })
        .await;
        read_stream(&self.bus.jetstream, &subject::region_stream(REGION))
            .await
            .iter()
            .map(|m| ReceivedEvent::from_jetstream(m).expect("a valid CloudEvent"))
            .filter(|e| e.subject.starts_with("jigi.segou.payments."))
            .collect()
    }
}

/// A `HouseholdEnrolled` event as the registry publishes it.
pub fn enrolled(household_id: &str, commune: &str, component: Component) -> OutgoingEvent {
    OutgoingEvent::new(
        REGION,
        household_id,
        &ev::HouseholdEnrolled {
            household_id: household_id.into(),
            component: component as i32,
            enrolled_on: today(),
            location: Some(location(commune)),
            size: 5,
            committee_override: false,
        },
    )
}

pub fn exited(household_id: &str, commune: &str) -> OutgoingEvent {
    OutgoingEvent::new(
        REGION,
        household_id,
        &ev::HouseholdExited {
            household_id: household_id.into(),
            component: Component::Tm as i32,
            exited_on: today(),
            reason: ev::HouseholdExitReason::Moved as i32,
            location: Some(location(commune)),
        },
    )
}

pub fn moved(household_id: &str, commune: &str) -> OutgoingEvent {
    OutgoingEvent::new(
        REGION,
        household_id,
        &ev::HouseholdUpdated {
            household_id: household_id.into(),
            version: 2,
            location: Some(location(commune)),
            pmt: None,
            size: 5,
        },
    )
}

pub use jigi_testkit::{bad_fields, precondition};
