//! `Country::start`: a hub with the linkage index, a leaf node and a
//! registry (with linkage keys) per region.

use std::path::Path;
use std::time::Duration;

use jigi_auth::Role;
use jigi_bus::{Bus, BusConfig};
use jigi_common::{Geography, Region};
use jigi_linkage::Handle;

use jigi_localnats::topology::{self, Hub, Leaf};
use jigi_proto::common::Period;
use jigi_proto::linkage::linkage_service_client::LinkageServiceClient;
use jigi_proto::linkage::{Duplicate, ListDuplicatesRequest};
use jigi_proto::payments::payments_service_client::PaymentsServiceClient;
use jigi_proto::payments::{FundingSource, OpenPaymentCycleRequest};
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_proto::registry::{Household, HouseholdDraft, RegisterHouseholdRequest};
use jigi_registry::domain::linkage::LinkageKey;
use jigi_registry::sample::HouseholdGenerator;
use jigi_server::Running;
use jigi_testkit::{AuthedChannel, TcpProxy, TempDir, TestAccess, connect_as, database_url, eventually, sqlite_url};
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(30);

/// Test linkage keys (never a real programme's).
pub const K1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
pub const K2: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1eff";

pub fn keys(ids: &[&str]) -> Vec<LinkageKey> {
    ids.iter()
        .map(|id| {
            let secret = if *id == "k1" { K1 } else { K2 };
            LinkageKey::new(id, secret).unwrap()
        })
        .collect()
}

/// Today, as the APIs write dates.
pub fn today() -> String {
    jigi_common::date::format_date(jigi_common::rules::today())
}

/// A region: its leaf node and its registry.
pub struct RegionNode {
    pub region: Region,
    pub leaf: Leaf,
    /// The region's link to the hub, which a test may cut.
    pub link: TcpProxy,
    pub registry: Option<Running<jigi_registry::Registry>>,
    pub client: RegistryServiceClient<AuthedChannel>,
    /// The region's payments service, holding what the index suspects.
    pub payments: Running<jigi_payments::Handle>,
    pub pay: PaymentsServiceClient<AuthedChannel>,
    shutdown: CancellationToken,
    database: String,
    generator: HouseholdGenerator,
    next: u64,
}

pub struct Country {
    pub hub: Hub,
    pub regions: Vec<RegionNode>,
    pub linkage: Running<Handle>,
    pub access: TestAccess,
    pub dir: TempDir,
    shutdown: CancellationToken,
}

impl Drop for Country {
    fn drop(&mut self) {
        self.shutdown.cancel();
        for node in &self.regions {
            node.shutdown.cancel();
        }
    }
}

impl Country {
    /// A hub, the linkage index on it, and each region's leaf node and
    /// registry computing match keys with `key_ids`; the databases are
    /// SQLite files, or PostgreSQL's with `JIGI_TEST_POSTGRES`.
    pub async fn start(regions: &[Region], key_ids: &[&str]) -> Country {
        Country::start_with(regions, key_ids, false).await
    }

    /// The same, every database a SQLite file under `dir` whatever the
    /// environment: for a test that searches what is stored, byte by byte.
    pub async fn start_on_files(regions: &[Region], key_ids: &[&str]) -> Country {
        Country::start_with(regions, key_ids, true).await
    }

    async fn start_with(regions: &[Region], key_ids: &[&str], files: bool) -> Country {
        jigi_testkit::init_tracing();
        let dir = tempfile::tempdir().unwrap();
        let passwords = topology::passwords();
        let hub = Hub::start(&dir.path().join("hub"), &passwords)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let access = TestAccess::new(dir.path());
        let shutdown = CancellationToken::new();
        let mut nodes = Vec::new();
        for (n, region) in regions.iter().enumerate() {
            let link = TcpProxy::start(format!("127.0.0.1:{}", hub.leaf_port).parse().unwrap()).await;
            let leaf = Leaf::start(&dir.path().join(region.slug()), region.slug(), link.port(), &passwords)
                .await
                .unwrap_or_else(|err| panic!("{err}"));
            leaf.wait_linked(WAIT).await.unwrap();
            let database = store(dir.path(), &format!("registry-{region}"), files).await;
            let node_shutdown = CancellationToken::new();
            let (registry, client) = start_registry(*region, &leaf, &access, &database, key_ids, &node_shutdown).await;
            let mut config = jigi_payments::Config::local(
                *region,
                &leaf.services_url(),
                &store(dir.path(), &format!("payments-{region}"), files).await,
            );
            config.service.nats.jetstream_domain = Some(region.slug().to_owned());
            config.service.serve = access.serve_config();
            // The index's findings come from the hub's domain, as deployed.
            config.linkage_domain = Some("national".into());
            let payments = jigi_payments::start(config, shutdown.clone())
                .await
                .expect("payments starts");
            let token = access.token("s.traore", &[Role::PaymentPreparer], *region);
            let pay = PaymentsServiceClient::new(connect_as(payments.grpc_addr, &token).await);
            nodes.push(RegionNode {
                region: *region,
                leaf,
                link,
                registry: Some(registry),
                client,
                payments,
                pay,
                shutdown: node_shutdown,
                database,
                generator: HouseholdGenerator::new(
                    &Geography::built_in(),
                    *region,
                    &[],
                    chrono::Utc::now().date_naive(),
                    11,
                ),
                // Generated heads and ID cards are a function of the index:
                // each region draws from its own range, so no two regions
                // generate the same person by chance.
                next: 100_000 * (n as u64 + 1),
            });
        }
        let database = store(dir.path(), "linkage", files).await;
        let mut config = jigi_linkage::Config::local(regions, &hub.url_as("linkage"), &database);
        config.region_domains = true;
        config.service.serve = access.serve_config();
        let linkage = jigi_linkage::start(config, shutdown.clone())
            .await
            .expect("the linkage index starts");
        Country {
            hub,
            regions: nodes,
            linkage,
            access,

            dir,
            shutdown,
        }
    }

    pub fn region(&mut self, region: Region) -> &mut RegionNode {
        self.regions
            .iter_mut()
            .find(|node| node.region == region)
            .expect("the country has this region")
    }

    /// A client of the index as a registrar of `region`.
    pub async fn registrar(&self, region: Region) -> LinkageServiceClient<AuthedChannel> {
        let token = self.access.token("f.diarra", &[Role::RegionalSupervisor], region);
        LinkageServiceClient::new(connect_as(self.linkage.grpc_addr, &token).await)
    }

    /// A client of the index as a national operator.
    pub async fn operator(&self) -> LinkageServiceClient<AuthedChannel> {
        let token = self.access.national_token("o.coulibaly", &[Role::NationalOperator]);
        LinkageServiceClient::new(connect_as(self.linkage.grpc_addr, &token).await)
    }

    /// Every duplicate, as a national operator sees them.
    pub async fn duplicates(&self) -> Vec<Duplicate> {
        self.operator()
            .await
            .list_duplicates(ListDuplicatesRequest {
                page_size: 500,
                ..Default::default()
            })
            .await
            .expect("the index lists duplicates")
            .into_inner()
            .duplicates
    }

    /// Waits until the index knows of `count` duplicates.
    pub async fn wait_duplicates(&self, count: usize) -> Vec<Duplicate> {
        eventually(WAIT, &format!("{count} duplicates suspected"), || async move {
            let found = self.duplicates().await;
            (found.len() >= count).then_some(found)
        })
        .await
    }

    /// Waits until the index has applied `count` match-key messages.
    pub async fn wait_indexed(&self, count: u64) {
        let stats = self.linkage.service.consumer.clone();
        eventually(WAIT, &format!("{count} match-key messages indexed"), || {
            let stats = stats.clone();
            async move { (stats.handled() >= count).then_some(()) }
        })
        .await;
    }

    /// Waits until every region's outbox is empty (its keys are in its stream).
    pub async fn wait_published(&self) {
        for node in &self.regions {
            let database = node.registry.as_ref().unwrap().database.clone();
            eventually(WAIT, &format!("{} outbox empty", node.region), || {
                let database = database.clone();
                async move { (jigi_bus::outbox::pending(&database).await.ok()? == 0).then_some(()) }
            })
            .await;
        }
    }

    /// A connection to the hub as `user` of the deployed accounts.conf.
    /// A connection as the hub's `user`, on its own inbox prefix
    /// (`_INBOX_<user>`, the only one the hub lets it read).
    pub async fn hub_as(&self, user: &str) -> Bus {
        let mut config = BusConfig::new(self.hub.url_as(user), format!("test-{user}"));
        config.inbox_prefix = Some(format!("_INBOX_{user}"));
        Bus::connect(&config).await.expect("connects to the hub")
    }
}

async fn start_registry(
    region: Region,
    leaf: &Leaf,
    access: &TestAccess,
    database: &str,
    key_ids: &[&str],
    shutdown: &CancellationToken,
) -> (Running<jigi_registry::Registry>, RegistryServiceClient<AuthedChannel>) {
    let mut config = jigi_registry::Config::local(region, &leaf.services_url(), database);
    config.service.nats.jetstream_domain = Some(region.slug().to_owned());
    config.service.serve = access.serve_config();
    config.linkage_keys = keys(key_ids);
    // The index's transfer orders come from the hub's domain, as deployed.
    config.linkage_domain = Some("national".into());
    let running = jigi_registry::start(config, shutdown.clone())
        .await
        .expect("registry starts");
    let token = access.token("k.keita", &[Role::FieldAgent, Role::RegionalSupervisor], region);
    let client = RegistryServiceClient::new(connect_as(running.grpc_addr, &token).await);
    (running, client)
}

impl RegionNode {
    /// A generated household of the region, unlike any other region's.
    pub fn draft(&mut self) -> HouseholdDraft {
        self.next += 1;
        self.generator.household(self.next)
    }

    /// A generated household whose head has these identifiers.
    pub fn draft_with_head(&mut self, given: &str, family: &str, born: &str, id_card: &str) -> HouseholdDraft {
        let mut draft = self.draft();
        let head = &mut draft.members[0];
        head.given_name = given.into();
        head.family_name = family.into();
        head.birth_date = born.into();
        head.id_card_number = id_card.into();
        head.birth_date_estimated = false;
        draft
    }

    pub async fn register(&mut self, draft: HouseholdDraft) -> Household {
        self.client
            .register_household(RegisterHouseholdRequest {
                request_id: uuid::Uuid::new_v4().to_string(),
                household: Some(draft),
            })
            .await
            .expect("registration succeeds")
            .into_inner()
            .household
            .unwrap()
    }

    /// Opens the region's TM cycle of `period` (World Bank funding, every
    /// enrolled commune); returns its ID.
    pub async fn open_cycle(&mut self, period: &str) -> String {
        self.pay
            .open_payment_cycle(OpenPaymentCycleRequest {
                period: Some(Period { code: period.into() }),
                funding_source: FundingSource::WorldBankIda as i32,
                amount_per_household: None,
                communes: vec![],
                prepared_by: String::new(),
                ..Default::default()
            })
            .await
            .expect("the cycle opens")
            .into_inner()
            .cycle
            .unwrap()
            .cycle_id
    }

    /// Stops the registry and starts it again on the same database, with
    /// the linkage keys `key_ids` (a rotation step).
    pub async fn restart_with_keys(&mut self, access: &TestAccess, key_ids: &[&str]) {
        self.shutdown.cancel();
        self.registry.take().unwrap().stopped().await;
        self.shutdown = CancellationToken::new();
        let (registry, client) =
            start_registry(self.region, &self.leaf, access, &self.database, key_ids, &self.shutdown).await;
        self.registry = Some(registry);
        self.client = client;
    }

    /// The registry's database file (and its journal), for searching.
    pub fn database_path(&self) -> &str {
        self.database.trim_start_matches("sqlite://")
    }
}

/// A test database: a SQLite file in `dir` when `files`, else
/// [`database_url`]'s choice.
async fn store(dir: &Path, name: &str, files: bool) -> String {
    if files {
        sqlite_url(dir, name)
    } else {
        database_url(dir, name).await
    }
}

/// Every file below `dir` whose bytes contain `needle` (ASCII, any case).
pub fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let needle = needle.to_ascii_lowercase().into_bytes();
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                let lower = bytes.to_ascii_lowercase();
                if lower.windows(needle.len()).any(|w| w == needle.as_slice()) {
                    found.push(path.display().to_string());
                }
            }
        }
    }
    found
}
