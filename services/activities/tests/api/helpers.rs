//! `spawn_app()`: for each test its own nats-server, its own registry and
//! activities service (each with its own SQLite file and gRPC port), talking
//! through JetStream as in production, both checking tokens.

use std::time::Duration;

use chrono::{Days, NaiveDate};
use jigi_activities::Handle;
use jigi_auth::Role;
use jigi_bus::{Bus, BusConfig, ReceivedEvent, subject};
use jigi_common::Region;
use jigi_proto::activities::activities_service_client::ActivitiesServiceClient;
use jigi_proto::common::Component;
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_proto::registry::{self as pr, MemberDraft};
use jigi_registry::Registry;
use jigi_server::Running;
use jigi_storage::{StorageError, params};
pub use jigi_testkit::households::{SANANDO, SANANDO_VILLAGE, man, member, woman};
use jigi_testkit::households::{born, enrol, register};
use jigi_testkit::{AuthedChannel, NatsServer, TempDir, TestAccess, connect_as, eventually, published_events};
pub use jigi_testkit::{bad_fields, precondition};
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(30);
/// A well-formed registry ID that names no one: the registry never issued it.
pub const NO_SUCH_ID: &str = "0190c1a2-0000-7000-8000-000000000000";
pub const PELENGANA: &str = "segou.segou.pelengana";

/// Who the tests act as by default: the region's officer for the three
/// components, who plans and records.
pub const OFFICER_ROLES: &[Role] = &[Role::RegionalSupervisor, Role::FieldAgent];

pub struct TestApp {
    _nats: NatsServer,
    pub registry: RegistryServiceClient<AuthedChannel>,
    pub activities: ActivitiesServiceClient<AuthedChannel>,
    pub running: Running<Handle>,
    _registry: Running<Registry>,
    shutdown: CancellationToken,
    pub access: TestAccess,
    pub bus: Bus,
    _dir: TempDir,
    next_seed: u32,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn spawn_app() -> TestApp {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let region = Region::Segou;
    let access = TestAccess::new(dir.path());
    let shutdown = CancellationToken::new();
    let mut registry_config = jigi_registry::Config::local(
        region,
        &nats.url(),
        &jigi_testkit::database_url(dir.path(), "registry").await,
    );
    registry_config.service.serve = access.serve_config();
    let registry = jigi_registry::start(registry_config, shutdown.clone())
        .await
        .expect("registry starts");
    let registrar = access.token("a.sangare", &[Role::FieldAgent, Role::RegionalSupervisor], region);
    let registry_client = RegistryServiceClient::new(connect_as(registry.grpc_addr, &registrar).await);
    let mut config = jigi_activities::Config::regional(
        jigi_activities::SERVICE,
        region,
        &nats.url(),
        &jigi_testkit::database_url(dir.path(), "activities").await,
    );
    config.serve = access.serve_config();
    let running = jigi_activities::start(config, shutdown.clone())
        .await
        .expect("activities service starts");
    let officer = access.token("k.diarra", OFFICER_ROLES, region);
    let activities = client_as(&running, &officer).await;
    let bus = Bus::connect(&BusConfig::new(nats.url(), "test-observer"))
        .await
        .unwrap();
    TestApp {
        _nats: nats,
        registry: registry_client,
        activities,
        running,
        _registry: registry,
        shutdown,
        access,
        bus,
        _dir: dir,
        next_seed: 1,
    }
}

pub async fn client_as(running: &Running<Handle>, token: &str) -> ActivitiesServiceClient<AuthedChannel> {
    ActivitiesServiceClient::new(connect_as(running.grpc_addr, token).await)
}

impl TestApp {
    /// Registers a household of `commune` with these members (the first is
    /// the head), enrols it in `components` a year ago, and waits until the
    /// activities service knows of it.
    pub async fn household(
        &mut self,
        commune: &str,
        members: Vec<MemberDraft>,
        components: &[Component],
    ) -> pr::Household {
        let seed = self.next_seed;
        self.next_seed += 1;
        let household = register(&mut self.registry, commune, members, seed).await;
        for component in components {
            enrol(&mut self.registry, &household.household_id, *component, &days_ago(400)).await;
        }
        // The service keeps MA, AGR and HIMO enrolments only.
        let kept = components
            .iter()
            .filter(|c| matches!(c, Component::Ma | Component::Agr | Component::Himo))
            .count();
        self.wait_known(&household.household_id, kept as i64).await;
        household
    }

    /// Waits until the activities service holds a household with its members
    /// and `enrolments` enrolments.
    pub async fn wait_known(&self, household_id: &str, enrolments: i64) {
        let database = self.running.database.clone();
        eventually(
            WAIT,
            &format!("household {household_id} known to the activities service"),
            || {
                let (database, id) = (database.clone(), household_id.to_owned());
                async move {
                    let (members, enrolled) = database
                        .read(move |conn| {
                            let members: i64 = conn.query_scalar(
                                "SELECT COUNT(*) FROM registry_members WHERE household_id = $1",
                                params![id],
                            )?;
                            let enrolled: i64 = conn.query_scalar(
                                "SELECT COUNT(*) FROM registry_enrolments WHERE household_id = $1",
                                params![id],
                            )?;
                            Ok::<_, StorageError>((members, enrolled))
                        })
                        .await
                        .ok()?;
                    (members > 0 && enrolled == enrolments).then_some(())
                }
            },
        )
        .await;
    }

    /// Waits until the outbox is empty and the stream holds `count`
    /// activities events; returns them in order.
    pub async fn activities_events(&self, count: usize) -> Vec<ReceivedEvent> {
        let stream = subject::region_stream(Region::Segou);
        published_events(
            &self.bus.jetstream,
            &self.running.database,
            &stream,
            "activities",
            count,
            WAIT,
        )
        .await
    }
}

/// A child (a girl) born `years` years ago.
pub fn child(years: u32) -> MemberDraft {
    jigi_testkit::households::child("Fanta", born(12 * years, 0))
}

pub fn today_date() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// The day `days` days before today, `YYYY-MM-DD`.
pub fn days_ago(days: u64) -> String {
    (today_date() - Days::new(days)).to_string()
}

/// The quarter before today's and its days (all in the past).
pub fn last_quarter() -> (String, NaiveDate) {
    let today = today_date();
    let this = jigi_common::Period::quarter_of(today);
    let previous = jigi_common::Period::quarter_of(this.start() - Days::new(1));
    (previous.to_string(), previous.start())
}

pub fn money(fcfa: i64) -> Option<jigi_proto::common::Money> {
    Some(jigi_proto::common::Money { fcfa })
}
