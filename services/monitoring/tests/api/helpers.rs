//! `spawn_app()`: a monitoring of its own for each test, reading the
//! national stream of a real nats-server, checking tokens as deployed, and
//! ways to feed it events.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jigi_auth::Role;
use jigi_bus::inbox::ConsumerStats;
use jigi_bus::{Bus, BusConfig, DomainEvent, OutgoingEvent, inbox, streams, subject};
use jigi_common::Region;
use jigi_monitoring::{Config, Handle, start};
use jigi_proto::common::{Component, Location, Period};
use jigi_proto::events as ev;
use jigi_proto::monitoring::monitoring_service_client::MonitoringServiceClient;
use jigi_proto::monitoring::*;
use jigi_server::Running;
use jigi_storage::Database;
pub use jigi_testkit::eventually;
use jigi_testkit::{AuthedChannel, NatsServer, TempDir, TestAccess, connect_as};
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(30);
pub const REGIONS: [Region; 2] = [Region::Sikasso, Region::Mopti];

pub struct TestApp {
    pub nats: NatsServer,
    /// A national operator's client: reads every region, enters the budget.
    pub client: MonitoringServiceClient<AuthedChannel>,
    pub running: Option<Running<Handle>>,
    /// The identity provider the monitoring trusts.
    pub access: TestAccess,
    pub shutdown: CancellationToken,
    pub bus: Bus,
    pub dir: TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bus = Bus::connect(&BusConfig::new(nats.url(), "test-producer"))
        .await
        .unwrap();
    for region in REGIONS {
        streams::ensure_region_stream(&bus.jetstream, region).await.unwrap();
    }
    let access = TestAccess::new(dir.path());
    let mut config = Config::local(
        &REGIONS,
        &nats.url(),
        &jigi_testkit::database_url(dir.path(), "monitoring").await,
    );
    config.service.serve = access.serve_config();
    adjust(&mut config);
    let shutdown = CancellationToken::new();
    let running = start(config, shutdown.clone()).await.expect("monitoring starts");
    let client = operator_client(&access, &running).await;
    TestApp {
        nats,
        client,
        running: Some(running),
        access,
        shutdown,
        bus,
        dir,
    }
}

/// A national operator's client of a running monitoring.
async fn operator_client(access: &TestAccess, running: &Running<Handle>) -> MonitoringServiceClient<AuthedChannel> {
    let token = access.national_token("k.diarra", &[Role::NationalOperator]);
    MonitoringServiceClient::new(connect_as(running.grpc_addr, &token).await)
}

impl TestApp {
    pub fn consumer(&self) -> Arc<ConsumerStats> {
        self.running.as_ref().unwrap().service.consumer.clone()
    }

    /// The monitoring's database, as the service has it.
    pub fn database(&self) -> Database {
        self.running.as_ref().unwrap().database.clone()
    }

    /// A client calling with `token`.
    pub async fn client_as(&self, token: &str) -> MonitoringServiceClient<AuthedChannel> {
        MonitoringServiceClient::new(connect_as(self.running.as_ref().unwrap().grpc_addr, token).await)
    }

    /// Publishes an event to its region's stream, as a regional service's
    /// relay would, with the event time given.
    pub async fn publish<M: DomainEvent>(
        &mut self,
        region: Region,
        about: &str,
        message: &M,
        at: DateTime<Utc>,
    ) -> OutgoingEvent {
        let mut event = OutgoingEvent::new(region, about, message);
        event.time = at;
        self.publish_event(&event, &event.id).await;
        event
    }

    /// Publishes `event` with a given `Nats-Msg-Id` (another ID than the
    /// event's own makes JetStream store a repeat, as a republish after the
    /// duplicate window would).
    pub async fn publish_event(&mut self, event: &OutgoingEvent, message_id: &str) {
        let mut headers = event.headers();
        headers.insert("Nats-Msg-Id", message_id);
        self.bus
            .jetstream
            .publish_with_headers(event.subject.clone(), headers, event.payload.clone().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    /// Waits until the monitoring has applied every message the region
    /// streams stored so far: the national stream has sourced them all and
    /// the position the monitoring committed has reached its end. Read from
    /// the server and the database, so it holds across restarts (a counter
    /// of messages handled starts again with each run).
    pub async fn settled(&self) {
        let js = self.bus.jetstream.clone();
        let db = self.database();
        let stats = self.consumer();
        eventually(WAIT, "the monitoring to apply every stored event", || {
            let (js, db, stats) = (js.clone(), db.clone(), stats.clone());
            async move {
                let mut stored = 0;
                for region in REGIONS {
                    let mut stream = js.get_stream(subject::region_stream(region)).await.ok()?;
                    stored += stream.info().await.ok()?.state.messages;
                }
                let mut national = js.get_stream(subject::NATIONAL_STREAM).await.ok()?;
                let sourced = national.info().await.ok()?.state.last_sequence;
                let applied = inbox::applied_sequence(&db, jigi_monitoring::CONSUMER).await.ok()?;
                // Committed, and counted: the consumer's counts are updated
                // just after its commit.
                let counted = stats.applied_sequence();
                (sourced >= stored && applied >= sourced && counted >= sourced).then_some(())
            }
        })
        .await;
    }

    /// Stops the monitoring (the events published meanwhile wait in the
    /// streams).
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        self.running.take().unwrap().stopped().await;
    }

    /// Starts the monitoring again on the same database (`fresh`: on a new one).
    pub async fn start(&mut self, fresh: bool) {
        let name = if fresh { "rebuilt" } else { "monitoring" };
        let mut config = Config::local(
            &REGIONS,
            &self.nats.url(),
            &jigi_testkit::database_url(self.dir.path(), name).await,
        );
        config.service.serve = self.access.serve_config();
        self.shutdown = CancellationToken::new();
        let running = start(config, self.shutdown.clone()).await.unwrap();
        self.client = operator_client(&self.access, &running).await;
        self.running = Some(running);
    }

    /// Restarts the monitoring on the same database (`fresh`: on a new one).
    pub async fn restart(&mut self, fresh: bool) {
        self.stop().await;
        self.start(fresh).await;
    }

    pub async fn indicators(&mut self, area: &str, period: &str, breakdown: Breakdown) -> Vec<IndicatorRow> {
        self.client
            .get_indicators(GetIndicatorsRequest {
                area: area.into(),
                period: Some(Period { code: period.into() }),
                breakdown: breakdown as i32,
            })
            .await
            .expect("indicators")
            .into_inner()
            .rows
    }

    /// The single row for an area (the whole country when empty).
    pub async fn totals(&mut self, area: &str, period: &str) -> Indicators {
        let rows = self.indicators(area, period, Breakdown::Unspecified).await;
        assert_eq!(rows.len(), 1);
        rows[0].indicators.clone().unwrap()
    }
}

pub fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

pub fn location(commune: &str) -> Location {
    let parts: Vec<&str> = commune.split('.').collect();
    Location {
        region: parts[0].into(),
        cercle: format!("{}.{}", parts[0], parts[1]),
        commune: commune.into(),
        village: String::new(),
    }
}

pub fn registered(household: &str, commune: &str, on: &str) -> ev::HouseholdRegistered {
    ev::HouseholdRegistered {
        household_id: household.into(),
        location: Some(location(commune)),
        members: Vec::new(),
        pmt: Some(ev::PmtResult {
            score: 20.0,
            eligible: true,
        }),
        registered_on: on.into(),
    }
}

pub fn enrolled(household: &str, commune: &str, component: Component, on: &str) -> ev::HouseholdEnrolled {
    ev::HouseholdEnrolled {
        household_id: household.into(),
        component: component as i32,
        enrolled_on: on.into(),
        location: Some(location(commune)),
        size: 5,
        committee_override: false,
    }
}

pub fn exited(household: &str, commune: &str, component: Component, on: &str) -> ev::HouseholdExited {
    ev::HouseholdExited {
        household_id: household.into(),
        component: component as i32,
        exited_on: on.into(),
        reason: ev::HouseholdExitReason::Graduated as i32,
        location: Some(location(commune)),
    }
}

/// The enrolled count of a component in a row.
pub fn enrolled_in(indicators: &Indicators, component: Component) -> i64 {
    indicators
        .enrolled
        .iter()
        .find(|c| c.component == component as i32)
        .map(|c| c.households)
        .unwrap_or(0)
}

pub fn exits_from(indicators: &Indicators, component: Component) -> i64 {
    indicators
        .exits
        .iter()
        .find(|c| c.component == component as i32)
        .map(|c| c.households)
        .unwrap_or(0)
}
