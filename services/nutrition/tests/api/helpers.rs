//! `spawn_app()`: for each test its own nats-server, its own registry and
//! nutrition service (each with its own SQLite file and gRPC port), talking
//! through JetStream as in production.

use std::collections::BTreeMap;
use std::time::Duration;

use jigi_auth::Role;
use jigi_bus::{Bus, BusConfig, ReceivedEvent, subject};
use jigi_common::Region;
use jigi_nutrition::Handle;
use jigi_nutrition::domain::eligibility::{Household, Person, PnpEnrolment};
use jigi_nutrition::domain::model::Location as Place;
use jigi_proto::common::Component;
use jigi_proto::nutrition::nutrition_service_client::NutritionServiceClient;
use jigi_proto::nutrition::*;
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_proto::registry::{self as pr, MemberDraft};
use jigi_registry::Registry;
use jigi_server::Running;
use jigi_storage::{Database, StorageError, params};
pub use jigi_testkit::households::{SANANDO, born, man, member};
use jigi_testkit::households::{enrol, register};
use jigi_testkit::{AuthedChannel, NatsServer, TempDir, TestAccess, connect_as, eventually, published_events};
pub use jigi_testkit::{bad_fields, precondition};
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(30);
/// Another commune of Ségou, never a pilot commune in these tests.
pub const OTHER_COMMUNE: &str = "segou.segou.pelengana";

/// Who the nutrition tests act as by default: the region's nutrition
/// officer, who sets rounds up, keeps the stock and distributes.
pub const OFFICER_ROLES: &[Role] = &[Role::RegionalSupervisor, Role::NutritionStoreKeeper, Role::FieldAgent];

/// The registry and the nutrition service of Ségou on one nats-server,
/// both checking tokens from one test identity provider.
pub struct TestApp {
    pub nats: NatsServer,
    /// A registrar's client: a field agent and supervisor of the region.
    pub registry: RegistryServiceClient<AuthedChannel>,
    /// The nutrition officer's client (see [`OFFICER_ROLES`]).
    pub nutrition: NutritionServiceClient<AuthedChannel>,
    pub running: Option<Running<Handle>>,
    pub shutdown: CancellationToken,
    _registry: Running<Registry>,
    registry_shutdown: CancellationToken,
    /// The identity provider both services trust.
    pub access: TestAccess,
    /// A connection of the test's own, as another system would have.
    pub bus: Bus,
    pub region: Region,
    pub dir: TempDir,
    next_seed: u32,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        self.registry_shutdown.cancel();
    }
}

pub async fn spawn_app() -> TestApp {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let region = Region::Segou;
    let access = TestAccess::new(dir.path());
    let registry_shutdown = CancellationToken::new();
    let mut registry_config = jigi_registry::Config::local(
        region,
        &nats.url(),
        &jigi_testkit::database_url(dir.path(), "registry").await,
    );
    registry_config.service.serve = access.serve_config();
    let registry = jigi_registry::start(registry_config, registry_shutdown.clone())
        .await
        .expect("registry starts");
    let registrar = access.token("a.sangare", &[Role::FieldAgent, Role::RegionalSupervisor], region);
    let registry_client = RegistryServiceClient::new(connect_as(registry.grpc_addr, &registrar).await);
    let (running, shutdown) = start_nutrition(&nats, &dir, &access, "nutrition").await;
    let nutrition = client(&running, &access).await;
    let bus = Bus::connect(&BusConfig::new(nats.url(), "test-observer"))
        .await
        .unwrap();
    TestApp {
        nats,
        registry: registry_client,
        nutrition,
        running: Some(running),
        shutdown,
        _registry: registry,
        registry_shutdown,
        access,
        bus,
        region,
        dir,
        next_seed: 1,
    }
}

/// A nutrition service of Ségou on the database `name` of `dir`, checking
/// tokens from `access`.
pub async fn start_nutrition(
    nats: &NatsServer,
    dir: &TempDir,
    access: &TestAccess,
    name: &str,
) -> (Running<Handle>, CancellationToken) {
    let shutdown = CancellationToken::new();
    let mut config = jigi_nutrition::Config::regional(
        jigi_nutrition::SERVICE,
        Region::Segou,
        &nats.url(),
        &jigi_testkit::database_url(dir.path(), name).await,
    );
    config.serve = access.serve_config();
    let running = jigi_nutrition::start(config, shutdown.clone())
        .await
        .expect("nutrition service starts");
    (running, shutdown)
}

/// The nutrition officer's client of a running service.
pub async fn client(running: &Running<Handle>, access: &TestAccess) -> NutritionServiceClient<AuthedChannel> {
    client_as(running, &access.token("k.diarra", OFFICER_ROLES, Region::Segou)).await
}

/// A client of a running service calling with `token`.
pub async fn client_as(running: &Running<Handle>, token: &str) -> NutritionServiceClient<AuthedChannel> {
    NutritionServiceClient::new(connect_as(running.grpc_addr, token).await).max_decoding_message_size(64 * 1024 * 1024)
}

impl TestApp {
    pub fn running(&self) -> &Running<Handle> {
        self.running.as_ref().expect("the nutrition service is running")
    }

    pub fn database(&self) -> &Database {
        &self.running().database
    }

    /// Stops the nutrition service and waits until it has stopped.
    pub async fn stop_nutrition(&mut self) {
        self.shutdown.cancel();
        if let Some(running) = self.running.take() {
            running.stopped().await;
        }
    }

    /// Starts the nutrition service again on the same database.
    pub async fn restart_nutrition(&mut self) {
        self.stop_nutrition().await;
        let (running, shutdown) = start_nutrition(&self.nats, &self.dir, &self.access, "nutrition").await;
        self.nutrition = client(&running, &self.access).await;
        self.running = Some(running);
        self.shutdown = shutdown;
    }

    /// Registers a household of `commune` with these members (the first is
    /// the head) and enrols it in the PNP on `enrolled_on`.
    pub async fn pnp_household(
        &mut self,
        commune: &str,
        members: Vec<MemberDraft>,
        enrolled_on: &str,
    ) -> pr::Household {
        let household = self.register(commune, members).await;
        self.enrol_pnp(&household.household_id, enrolled_on).await
    }

    pub async fn register(&mut self, commune: &str, members: Vec<MemberDraft>) -> pr::Household {
        let seed = self.next_seed;
        self.next_seed += 1;
        register(&mut self.registry, commune, members, seed).await
    }

    pub async fn enrol_pnp(&mut self, household_id: &str, enrolled_on: &str) -> pr::Household {
        enrol(&mut self.registry, household_id, Component::Pnp, enrolled_on).await
    }

    /// What the registry holds now, as the nutrition projection should hold it.
    pub async fn registry_truth(&mut self) -> BTreeMap<String, (Person, Household)> {
        let mut truth = BTreeMap::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .registry
                .list_households(pr::ListHouseholdsRequest {
                    page_size: 1000,
                    page_token: page_token.clone(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            for household in page.households {
                let location = household.location.clone().unwrap();
                let pnp = household
                    .enrolments
                    .iter()
                    .find(|e| e.component == Component::Pnp as i32)
                    .map(|e| PnpEnrolment {
                        enrolled_on: e.enrolled_on.parse().unwrap(),
                        exited_on: (!e.exited_on.is_empty()).then(|| e.exited_on.parse().unwrap()),
                    });
                let projected = Household {
                    household_id: household.household_id.clone(),
                    location: Place {
                        region: location.region.parse().unwrap(),
                        cercle: location.cercle,
                        commune: location.commune,
                        village: location.village,
                    },
                    pnp,
                };
                for member in household.members {
                    let person = Person {
                        member_id: member.member_id.clone(),
                        household_id: household.household_id.clone(),
                        sex: jigi_common::Sex::from_proto(member.sex).unwrap(),
                        birth_date: member.birth_date.parse().unwrap(),
                        pregnant: member.pregnant,
                        lactating: member.lactating,
                        present: member.status == pr::MemberStatus::Present as i32,
                    };
                    truth.insert(member.member_id, (person, projected.clone()));
                }
            }
            if page.next_page_token.is_empty() {
                return truth;
            }
            page_token = page.next_page_token;
        }
    }

    /// Waits until the nutrition projection holds exactly what the registry holds.
    pub async fn wait_projection_matches_registry(&mut self) -> BTreeMap<String, (Person, Household)> {
        let truth = self.registry_truth().await;
        let database = self.running().database.clone();
        eventually(WAIT, "the nutrition projection to match the registry", || {
            let (database, truth) = (database.clone(), truth.clone());
            async move { (projection(&database).await == truth).then_some(()) }
        })
        .await;
        truth
    }

    /// Waits until the nutrition service's outbox is empty and the stream
    /// holds exactly `count` nutrition events; returns them in order.
    pub async fn nutrition_events(&self, count: usize) -> Vec<ReceivedEvent> {
        let stream = subject::region_stream(self.region);
        published_events(&self.bus.jetstream, self.database(), &stream, "nutrition", count, WAIT).await
    }

    /// A warehouse of Sanando.
    pub async fn warehouse(&mut self, warehouse_id: &str, commune: &str) {
        self.nutrition
            .register_warehouse(RegisterWarehouseRequest {
                warehouse_id: warehouse_id.into(),
                name: format!("Magasin {warehouse_id}"),
                commune: commune.into(),
            })
            .await
            .expect("warehouse registered");
    }

    pub async fn receive(&mut self, warehouse_id: &str, lot: &str, grams: i64, received_on: &str, expires_on: &str) {
        self.nutrition
            .receive_stock(ReceiveStockRequest {
                request_id: format!("receipt-{warehouse_id}-{lot}-{received_on}-{grams}"),
                warehouse_id: warehouse_id.into(),
                lot_number: lot.into(),
                expires_on: expires_on.into(),
                grams,
                received_on: received_on.into(),
                waybill: "BL-2018-0042".into(),
            })
            .await
            .expect("receipt recorded");
    }

    /// Opens round `number` of this year, from today for 30 days, in `communes`.
    pub async fn open_round(&mut self, number: i32, communes: &[&str]) -> Round {
        let today = chrono::Utc::now().date_naive();
        self.nutrition
            .open_round(OpenRoundRequest {
                year: chrono::Datelike::year(&today),
                number,
                starts_on: today.to_string(),
                ends_on: (today + chrono::Days::new(30)).to_string(),
                communes: communes.iter().map(|c| (*c).to_owned()).collect(),
                rations: Some(rations()),
            })
            .await
            .expect("round opened")
            .into_inner()
            .round
            .unwrap()
    }

    pub async fn stock(&mut self, warehouse_id: &str) -> WarehouseStock {
        self.nutrition
            .get_stock(GetStockRequest {
                warehouse_id: warehouse_id.into(),
                on: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .stock
            .unwrap()
    }

    pub async fn report(&mut self, round_id: &str) -> RoundReport {
        self.nutrition
            .get_round_report(GetRoundReportRequest {
                round_id: round_id.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .report
            .unwrap()
    }

    /// Distributions stored, and every lot's balance beside the sum of its
    /// movements, read straight from the tables: `(warehouse, lot,
    /// balance, sum of movements)`. Every balance must be that sum, and
    /// never negative.
    pub async fn ledger(&self) -> (i64, Vec<(String, String, i64, i64)>) {
        let (count, balances, movements) = self
            .database()
            .read(|conn| {
                let count: i64 = conn.query_scalar("SELECT COUNT(*) FROM distributions", params![])?;
                let mut balances = Vec::new();
                conn.query_each(
                    "SELECT warehouse_id, lot_number, on_hand_grams FROM stock_lots",
                    params![],
                    |row| {
                        balances.push((row.get::<String>(0)?, row.get::<String>(1)?, row.get::<i64>(2)?));
                        Ok(())
                    },
                )?;
                let mut movements = Vec::new();
                conn.query_each(
                    "SELECT warehouse_id, lot_number, grams FROM stock_movements",
                    params![],
                    |row| {
                        movements.push((row.get::<String>(0)?, row.get::<String>(1)?, row.get::<i64>(2)?));
                        Ok(())
                    },
                )?;
                Ok::<_, StorageError>((count, balances, movements))
            })
            .await
            .unwrap();
        let mut moved: BTreeMap<(String, String), i64> = BTreeMap::new();
        for (warehouse, lot, grams) in movements {
            *moved.entry((warehouse, lot)).or_default() += grams;
        }
        let mut lots = Vec::new();
        for (warehouse, lot, on_hand) in balances {
            let sum = moved.remove(&(warehouse.clone(), lot.clone())).unwrap_or(0);
            assert_eq!(
                on_hand, sum,
                "lot {lot} of {warehouse}: balance is the sum of its movements"
            );
            assert!(on_hand >= 0, "lot {lot} of {warehouse} is never negative");
            lots.push((warehouse, lot, on_hand, sum));
        }
        assert!(moved.is_empty(), "movements of lots without a balance: {moved:?}");
        lots.sort();
        (count, lots)
    }
}

/// The value of one of the service's own counters, as `/metrics` serves it.
pub async fn counter(running: &Running<Handle>, name: &str) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(running.metrics_addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    let series = format!("jigi_nutrition_{name}_total ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .unwrap_or_else(|| panic!("no {series} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Everything the nutrition projection holds, by member ID, read straight
/// from its tables.
pub async fn projection(database: &Database) -> BTreeMap<String, (Person, Household)> {
    database
        .read(|conn| {
            let mut people = BTreeMap::new();
            conn.query_each(
                "SELECT m.member_id, m.household_id, m.sex, m.birth_date, m.pregnant, m.lactating, m.present, \
                 h.region, h.cercle, h.commune, h.village, h.pnp_enrolled_on, h.pnp_exited_on \
                 FROM registry_members m JOIN registry_households h ON h.household_id = m.household_id",
                params![],
                |row| {
                    let member_id: String = row.get(0)?;
                    let household_id: String = row.get(1)?;
                    let person = Person {
                        member_id: member_id.clone(),
                        household_id: household_id.clone(),
                        sex: jigi_common::Sex::from_proto(row.get::<i32>(2)?).expect("a stored sex"),
                        birth_date: row.get(3)?,
                        pregnant: row.get(4)?,
                        lactating: row.get(5)?,
                        present: row.get(6)?,
                    };
                    let enrolled_on: Option<chrono::NaiveDate> = row.get(11)?;
                    let exited_on: Option<chrono::NaiveDate> = row.get(12)?;
                    let household = Household {
                        household_id,
                        location: Place {
                            region: row.get::<String>(7)?.parse().expect("a stored region"),
                            cercle: row.get(8)?,
                            commune: row.get(9)?,
                            village: row.get(10)?,
                        },
                        pnp: enrolled_on.map(|enrolled_on| PnpEnrolment { enrolled_on, exited_on }),
                    };
                    people.insert(member_id, (person, household));
                    Ok(())
                },
            )?;
            Ok::<_, StorageError>(people)
        })
        .await
        .unwrap()
}

/// Child 3 kg, pregnant and lactating women 4.5 kg.
pub fn rations() -> Rations {
    Rations {
        child_grams: 3_000,
        pregnant_woman_grams: 4_500,
        lactating_woman_grams: 4_500,
    }
}

/// A woman born in 1990, pregnant or lactating or neither; head when
/// first in a household's list.
pub fn woman(pregnant: bool, lactating: bool) -> MemberDraft {
    MemberDraft {
        pregnant,
        lactating,
        ..jigi_testkit::households::woman()
    }
}

/// A child born `months` months (and `days` days) before today.
pub fn child(name: &str, months: u32, days: u64) -> MemberDraft {
    jigi_testkit::households::child(name, born(months, days))
}

/// Today, `YYYY-MM-DD`.
pub fn today() -> String {
    born(0, 0)
}
