//! `spawn_app()`: a registry of its own for each test.

use std::time::Duration;

use async_nats::jetstream;
use jigi_auth::Role;
use jigi_bus::{Bus, BusConfig, ReceivedEvent, subject};
use jigi_common::Region;
use jigi_proto::common::{Location, Sex};
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_proto::registry::*;
use jigi_registry::{Config, Registry, start};
use jigi_server::Running;
use jigi_testkit::{AuthedChannel, NatsServer, TempDir, TestAccess, connect_as, eventually, read_stream, stream_len};
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(30);

pub struct TestApp {
    pub nats: NatsServer,
    /// A registrar's client: a field agent and supervisor of the region.
    pub client: RegistryServiceClient<AuthedChannel>,
    pub running: Option<Running<Registry>>,
    /// The identity provider the registry trusts.
    pub access: TestAccess,
    pub shutdown: CancellationToken,
    /// A connection of the test's own, as another system would have.
    pub bus: Bus,
    pub region: Region,
    _dir: TempDir,
}

/// A fresh request ID, as a client makes one per command.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A registry of `region` on its own database, checking tokens from `access`.
pub async fn start_registry(
    region: Region,
    nats: &NatsServer,
    access: &TestAccess,
    database_url: &str,
    shutdown: &CancellationToken,
) -> (Running<Registry>, RegistryServiceClient<AuthedChannel>) {
    let mut config = Config::local(region, &nats.url(), database_url);
    config.service.serve = access.serve_config();
    let running = start(config, shutdown.clone()).await.expect("registry starts");
    let token = access.token("a.sangare", &[Role::FieldAgent, Role::RegionalSupervisor], region);
    let client = RegistryServiceClient::new(connect_as(running.grpc_addr, &token).await)
        .max_decoding_message_size(64 * 1024 * 1024);
    (running, client)
}

pub async fn spawn_app() -> TestApp {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let region = Region::Segou;
    let access = TestAccess::new(dir.path());
    let shutdown = CancellationToken::new();
    let database = jigi_testkit::database_url(dir.path(), "registry").await;
    let (running, client) = start_registry(region, &nats, &access, &database, &shutdown).await;
    let bus = Bus::connect(&BusConfig::new(nats.url(), "test-observer"))
        .await
        .unwrap();
    TestApp {
        nats,
        client,
        running: Some(running),
        access,
        shutdown,
        bus,
        region,
        _dir: dir,
    }
}

impl TestApp {
    pub fn stream(&self) -> String {
        subject::region_stream(self.region)
    }

    /// Waits until the region's stream holds exactly `count` events and the
    /// outbox is empty, then returns them.
    pub async fn events(&self, count: u64) -> Vec<ReceivedEvent> {
        let database = self.running.as_ref().unwrap().database.clone();
        eventually(WAIT, &format!("{count} events published and the outbox empty"), || {
            let (js, stream, database) = (self.bus.jetstream.clone(), self.stream(), database.clone());
            async move {
                let published = stream_len(&js, &stream).await;
                let pending = jigi_bus::outbox::pending(&database).await.ok()?;
                (published >= count && pending == 0).then_some(())
            }
        })
        .await;
        let messages = read_stream(&self.bus.jetstream, &self.stream()).await;
        assert_eq!(messages.len() as u64, count, "exactly {count} events in the stream");
        messages
            .iter()
            .map(|m| ReceivedEvent::from_jetstream(m).expect("a valid CloudEvent"))
            .collect()
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.bus.jetstream
    }

    pub async fn register(&mut self, draft: HouseholdDraft) -> Household {
        self.client
            .register_household(RegisterHouseholdRequest {
                request_id: request_id(),
                household: Some(draft),
            })
            .await
            .expect("registration succeeds")
            .into_inner()
            .household
            .unwrap()
    }

    /// Every household, through the API's pagination.
    pub async fn all_households(&mut self) -> Vec<Household> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .client
                .list_households(ListHouseholdsRequest {
                    page_size: 1000,
                    page_token: page_token.clone(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            all.extend(page.households);
            if page.next_page_token.is_empty() {
                return all;
            }
            page_token = page.next_page_token;
        }
    }
}

/// A valid household in Sanando (Ségou) whose head is unique to `seed`.
/// A mother with three children (one under two): poor enough to be
/// eligible, and PNP-eligible too.
pub fn household(seed: u32) -> HouseholdDraft {
    HouseholdDraft {
        location: Some(Location {
            commune: "segou.baroueli.sanando".into(),
            village: "segou.baroueli.sanando.dioforongo".into(),
            ..Default::default()
        }),
        members: vec![
            MemberDraft {
                given_name: format!("Awa{seed}"),
                family_name: "Traoré".into(),
                sex: Sex::Female as i32,
                birth_date: "1980-05-17".into(),
                relation: Relation::Head as i32,
                id_card_number: format!("ML{seed:010}"),
                phone: "+22376123456".into(),
                ..Default::default()
            },
            MemberDraft {
                given_name: "Moussa".into(),
                family_name: "Traoré".into(),
                sex: Sex::Male as i32,
                birth_date: months_ago(18),
                relation: Relation::Child as i32,
                ..Default::default()
            },
            MemberDraft {
                given_name: "Fanta".into(),
                family_name: "Traoré".into(),
                sex: Sex::Female as i32,
                birth_date: months_ago(7 * 12),
                relation: Relation::Child as i32,
                ..Default::default()
            },
            MemberDraft {
                given_name: "Seydou".into(),
                family_name: "Traoré".into(),
                sex: Sex::Male as i32,
                birth_date: months_ago(11 * 12),
                relation: Relation::Child as i32,
                ..Default::default()
            },
        ],
        traits: Some(HouseholdTraits {
            roof: RoofMaterial::Thatch as i32,
            wall: WallMaterial::MudBrick as i32,
            floor: FloorMaterial::Earth as i32,
            assets: Some(Assets {
                radios: 1,
                ..Default::default()
            }),
            livestock: Some(Livestock {
                sheep_goats: 3,
                ..Default::default()
            }),
            cultivated_land_ares: 120,
        }),
    }
}

pub use jigi_testkit::bad_fields;

/// The date `months` months before today, `YYYY-MM-DD` (ages in tests stay
/// right whatever day they run).
pub fn months_ago(months: u32) -> String {
    let today = chrono::Utc::now().date_naive();
    today
        .checked_sub_months(chrono::Months::new(months))
        .expect("a date in range")
        .format("%Y-%m-%d")
        .to_string()
}

/// Today, `YYYY-MM-DD`.
pub fn today() -> String {
    months_ago(0)
}
