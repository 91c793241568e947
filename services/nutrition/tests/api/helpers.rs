//! `spawn_app()`: for each test its own nats-server, its own registry and
//! nutrition service (each with its own SQLite file and gRPC port), talking
//! through JetStream as in production.

use std::collections::BTreeMap;
use std::time::Duration;

use jigi_bus::{Bus, BusConfig, ReceivedEvent, subject};
use jigi_common::Region;
use jigi_nutrition::domain::eligibility::{Household, Person};
use jigi_proto::common::{Component, Location, Sex};
use jigi_proto::nutrition::nutrition_service_client::NutritionServiceClient;
use jigi_proto::nutrition::*;
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_proto::registry::{self as pr, HouseholdDraft, MemberDraft, Relation};
use jigi_testkit::{NatsServer, TempDir, connect_channel, eventually, read_stream, stream_len};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub const WAIT: Duration = Duration::from_secs(30);
pub const SANANDO: &str = "segou.baroueli.sanando";
pub const SANANDO_VILLAGE: &str = "segou.baroueli.sanando.dioforongo";
/// Another commune of Ségou, never a pilot commune in these tests.
pub const OTHER_COMMUNE: &str = "segou.segou.pelengana";

/// The registry and the nutrition service of Ségou on one nats-server.
pub struct TestApp {
    pub nats: NatsServer,
    pub registry: RegistryServiceClient<Channel>,
    pub nutrition: NutritionServiceClient<Channel>,
    pub running: Option<jigi_nutrition::Running>,
    pub shutdown: CancellationToken,
    _registry: jigi_registry::Running,
    registry_shutdown: CancellationToken,
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
    let registry_shutdown = CancellationToken::new();
    let registry = jigi_registry::start(
        jigi_registry::Config::local(
            region,
            &nats.url(),
            &jigi_testkit::database_url(dir.path(), "registry").await,
        ),
        registry_shutdown.clone(),
    )
    .await
    .expect("registry starts");
    let registry_client = RegistryServiceClient::new(connect_channel(registry.grpc_addr).await);
    let (running, shutdown) = start_nutrition(&nats, &dir, "nutrition").await;
    let nutrition = client(&running).await;
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
        bus,
        region,
        dir,
        next_seed: 1,
    }
}

/// A nutrition service of Ségou on the database file `name` of `dir`.
pub async fn start_nutrition(
    nats: &NatsServer,
    dir: &TempDir,
    name: &str,
) -> (jigi_nutrition::Running, CancellationToken) {
    let shutdown = CancellationToken::new();
    let config = jigi_nutrition::Config::local(
        Region::Segou,
        &nats.url(),
        &jigi_testkit::database_url(dir.path(), name).await,
    );
    let running = jigi_nutrition::start(config, shutdown.clone())
        .await
        .expect("nutrition service starts");
    (running, shutdown)
}

pub async fn client(running: &jigi_nutrition::Running) -> NutritionServiceClient<Channel> {
    NutritionServiceClient::new(connect_channel(running.grpc_addr).await).max_decoding_message_size(64 * 1024 * 1024)
}

impl TestApp {
    pub fn running(&self) -> &jigi_nutrition::Running {
        self.running.as_ref().expect("the nutrition service is running")
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
        let (running, shutdown) = start_nutrition(&self.nats, &self.dir, "nutrition").await;
        self.nutrition = client(&running).await;
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

    pub async fn register(&mut self, commune: &str, mut members: Vec<MemberDraft>) -> pr::Household {
        let seed = self.next_seed;
        self.next_seed += 1;
        members[0].relation = Relation::Head as i32;
        members[0].given_name = format!("Awa{seed}");
        let village = if commune == SANANDO { SANANDO_VILLAGE } else { "" };
        self.registry
            .register_household(pr::RegisterHouseholdRequest {
                request_id: String::new(),
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
            .unwrap()
    }

    pub async fn enrol_pnp(&mut self, household_id: &str, enrolled_on: &str) -> pr::Household {
        self.registry
            .enrol_household(pr::EnrolHouseholdRequest {
                household_id: household_id.into(),
                component: Component::Pnp as i32,
                enrolled_on: enrolled_on.into(),
                committee_override: "CCL Sanando 2018-04".into(),
            })
            .await
            .expect("PNP enrolment succeeds")
            .into_inner()
            .household
            .unwrap()
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
                    .map(|e| jigi_nutrition::domain::eligibility::PnpEnrolment {
                        enrolled_on: e.enrolled_on.parse().unwrap(),
                        exited_on: (!e.exited_on.is_empty()).then(|| e.exited_on.parse().unwrap()),
                    });
                let projected = Household {
                    household_id: household.household_id.clone(),
                    location: jigi_nutrition::domain::model::Location {
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
                        sex: Sex::try_from(member.sex).unwrap(),
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
        let database = self.running().database.clone();
        let stream = subject::region_stream(self.region);
        eventually(WAIT, &format!("{count} nutrition events published"), || {
            let (js, stream, database) = (self.bus.jetstream.clone(), stream.clone(), database.clone());
            async move {
                let pending = jigi_bus::outbox::pending(&database).await.ok()?;
                if stream_len(&js, &stream).await == 0 {
                    // Not created yet (the relay creates it before its first publish).
                    return None;
                }
                let published = nutrition_only(read_stream(&js, &stream).await).len();
                (pending == 0 && published >= count).then_some(())
            }
        })
        .await;
        let events = nutrition_only(read_stream(&self.bus.jetstream, &stream).await);
        assert_eq!(events.len(), count, "exactly {count} nutrition events");
        events
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

    /// Distributions stored, and every lot's balance beside its movements.
    pub async fn ledger(&self) -> (i64, Vec<(String, String, i64, i64)>) {
        let mut conn = self.running().database.pool().acquire().await.unwrap();
        let count = jigi_nutrition::storage::distributions::count(&mut conn).await.unwrap();
        let lots = jigi_nutrition::storage::stock::ledger_check(&mut conn).await.unwrap();
        for (warehouse, lot, on_hand, moved) in &lots {
            assert_eq!(
                on_hand, moved,
                "lot {lot} of {warehouse}: balance is the sum of its movements"
            );
            assert!(*on_hand >= 0, "lot {lot} of {warehouse} is never negative");
        }
        (count, lots)
    }
}

/// Everything the nutrition projection holds, by member ID.
pub async fn projection(database: &jigi_storage::Database) -> BTreeMap<String, (Person, Household)> {
    let mut conn = database.pool().acquire().await.unwrap();
    jigi_nutrition::storage::projection::people_in_area(&mut conn, None, None, 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .map(|(person, household)| (person.member_id.clone(), (person, household)))
        .collect()
}

fn nutrition_only(messages: Vec<async_nats::jetstream::Message>) -> Vec<ReceivedEvent> {
    messages
        .iter()
        .filter(|m| m.subject.as_str().contains(".nutrition."))
        .map(|m| ReceivedEvent::from_jetstream(m).expect("a valid CloudEvent"))
        .collect()
}

/// Child 3 kg, pregnant and lactating women 4.5 kg.
pub fn rations() -> Rations {
    Rations {
        child_grams: 3_000,
        pregnant_woman_grams: 4_500,
        lactating_woman_grams: 4_500,
    }
}

/// A woman born in 1990; head when first in a household's list.
pub fn woman(pregnant: bool, lactating: bool) -> MemberDraft {
    MemberDraft {
        given_name: "Awa".into(),
        family_name: "Traoré".into(),
        sex: Sex::Female as i32,
        birth_date: "1990-03-12".into(),
        relation: Relation::Spouse as i32,
        pregnant,
        lactating,
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

/// A child born `months` months (and `days` days) before today.
pub fn child(name: &str, months: u32, days: u64) -> MemberDraft {
    MemberDraft {
        given_name: name.into(),
        family_name: "Traoré".into(),
        sex: Sex::Female as i32,
        birth_date: born(months, days),
        relation: Relation::Child as i32,
        ..Default::default()
    }
}

/// The date `months` months and `days` days before today, `YYYY-MM-DD`
/// (ages in tests stay right whatever day they run).
pub fn born(months: u32, days: u64) -> String {
    let today = chrono::Utc::now().date_naive();
    (today.checked_sub_months(chrono::Months::new(months)).unwrap() - chrono::Days::new(days)).to_string()
}

/// Today, `YYYY-MM-DD`.
pub fn today() -> String {
    born(0, 0)
}

/// The member ID of the `index`-th member of a household.
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
