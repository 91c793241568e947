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
use jigi_proto::common::{Component, Location, Sex};
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_proto::registry::{self as pr, HouseholdDraft, MemberDraft, Relation};
use jigi_registry::Registry;
use jigi_server::Running;
use jigi_storage::{StorageError, params};
use jigi_testkit::{AuthedChannel, NatsServer, TempDir, TestAccess, connect_as, eventually, read_stream, stream_len};
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(30);
pub const SANANDO: &str = "segou.baroueli.sanando";
pub const SANANDO_VILLAGE: &str = "segou.baroueli.sanando.dioforongo";
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
    let mut config = jigi_activities::Config::local(
        region,
        &nats.url(),
        &jigi_testkit::database_url(dir.path(), "activities").await,
    );
    config.service.serve = access.serve_config();
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
        mut members: Vec<MemberDraft>,
        components: &[Component],
    ) -> pr::Household {
        let seed = self.next_seed;
        self.next_seed += 1;
        members[0].relation = Relation::Head as i32;
        members[0].given_name = format!("Awa{seed}");
        let village = if commune == SANANDO { SANANDO_VILLAGE } else { "" };
        let household = self
            .registry
            .register_household(pr::RegisterHouseholdRequest {
                request_id: uuid::Uuid::new_v4().to_string(),
                household: Some(HouseholdDraft {
                    location: Some(Location {
                        commune: commune.into(),
                        village: village.into(),
                        ..Default::default()
                    }),
                    members,
                    traits: Some(pr::HouseholdTraits {
                        roof: pr::RoofMaterial::Thatch as i32,
                        wall: pr::WallMaterial::MudBrick as i32,
                        floor: pr::FloorMaterial::Earth as i32,
                        ..Default::default()
                    }),
                }),
            })
            .await
            .expect("registration succeeds")
            .into_inner()
            .household
            .unwrap();
        for component in components {
            self.registry
                .enrol_household(pr::EnrolHouseholdRequest {
                    household_id: household.household_id.clone(),
                    component: *component as i32,
                    enrolled_on: days_ago(400),
                    committee_override: "CCL Sanando 2018-04".into(),
                })
                .await
                .expect("enrolment succeeds");
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
        let database = self.running.database.clone();
        let stream = subject::region_stream(Region::Segou);
        eventually(WAIT, &format!("{count} activities events published"), || {
            let (js, stream, database) = (self.bus.jetstream.clone(), stream.clone(), database.clone());
            async move {
                let pending = jigi_bus::outbox::pending(&database).await.ok()?;
                if stream_len(&js, &stream).await == 0 {
                    return None;
                }
                let published = activities_only(read_stream(&js, &stream).await).len();
                (pending == 0 && published >= count).then_some(())
            }
        })
        .await;
        let events = activities_only(read_stream(&self.bus.jetstream, &stream).await);
        assert_eq!(events.len(), count, "exactly {count} activities events");
        events
    }
}

fn activities_only(messages: Vec<async_nats::jetstream::Message>) -> Vec<ReceivedEvent> {
    messages
        .iter()
        .filter(|m| m.subject.as_str().starts_with("jigi.segou.activities."))
        .map(|m| ReceivedEvent::from_jetstream(m).expect("a valid CloudEvent"))
        .collect()
}

/// A woman born in 1990; head when first in a household's list.
pub fn woman() -> MemberDraft {
    MemberDraft {
        given_name: "Awa".into(),
        family_name: "Traoré".into(),
        sex: Sex::Female as i32,
        birth_date: "1990-03-12".into(),
        relation: Relation::Spouse as i32,
        phone: "+22376123456".into(),
        ..Default::default()
    }
}

/// A man born in 1985.
pub fn man() -> MemberDraft {
    MemberDraft {
        given_name: "Moussa".into(),
        family_name: "Traoré".into(),
        sex: Sex::Male as i32,
        birth_date: "1985-07-01".into(),
        relation: Relation::Spouse as i32,
        ..Default::default()
    }
}

/// A child (a girl) born `years` years ago.
pub fn child(years: u32) -> MemberDraft {
    let today = chrono::Utc::now().date_naive();
    MemberDraft {
        given_name: "Fanta".into(),
        family_name: "Traoré".into(),
        sex: Sex::Female as i32,
        birth_date: today
            .checked_sub_months(chrono::Months::new(12 * years))
            .unwrap()
            .to_string(),
        relation: Relation::Child as i32,
        ..Default::default()
    }
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

pub fn member(household: &pr::Household, index: usize) -> String {
    household.members[index].member_id.clone()
}

/// The `PreconditionFailure` type of a `FAILED_PRECONDITION` status.
pub fn precondition(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    status
        .get_error_details()
        .precondition_failure()
        .and_then(|p| p.violations.first().map(|v| v.r#type.clone()))
        .unwrap_or_default()
}

/// The field names of an `INVALID_ARGUMENT` status's `BadRequest` detail.
pub fn bad_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

pub fn money(fcfa: i64) -> Option<jigi_proto::common::Money> {
    Some(jigi_proto::common::Money { fcfa })
}
