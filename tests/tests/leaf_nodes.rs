//! A national hub and two regional leaf nodes (Sikasso and Mopti), each with
//! its JetStream domain, run from the deployment's NATS files; a registry on
//! each leaf; the national stream on the hub sourcing both regions' streams.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use jigi_bus::{Bus, streams, subject};
use jigi_common::{Geography, Region};
use jigi_e2e::{Hub, Leaf, Passwords, domain_sources, event_ids, random_passwords};
use jigi_proto::common::Component;
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_proto::registry::{EnrolHouseholdRequest, GetHouseholdRequest, RegisterHouseholdRequest};
use jigi_registry::sample::HouseholdGenerator;
use jigi_server::Running;
use jigi_testkit::{AuthedChannel, TempDir, TestAccess, connect_as, eventually, sqlite_url, stream_len};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);

/// A region: its leaf node and its registry.
struct RegionNode {
    leaf: Leaf,
    registry: RegistryServiceClient<AuthedChannel>,
    running: Running<jigi_registry::Registry>,
    /// The region's own view of its events (its leaf, its domain).
    bus: Bus,
    generator: HouseholdGenerator,
    registered: u64,
}

impl RegionNode {
    async fn start(
        dir: &TempDir,
        region: Region,
        hub: &Hub,
        passwords: &Passwords,
        access: &TestAccess,
        shutdown: &CancellationToken,
    ) -> Self {
        let leaf = Leaf::start(&dir.path().join(region.slug()), region, hub.leaf_port, passwords).await;
        let mut config = jigi_registry::Config::local(
            region,
            &leaf.services_url(),
            &sqlite_url(dir.path(), &format!("registry-{region}")),
        );
        config.service.nats.jetstream_domain = Some(region.slug().to_owned());
        config.service.serve = access.serve_config();
        let running = jigi_registry::start(config, shutdown.clone())
            .await
            .expect("registry starts");
        let token = access.token(
            "k.keita",
            &[jigi_auth::Role::FieldAgent, jigi_auth::Role::RegionalSupervisor],
            region,
        );
        let registry = RegistryServiceClient::new(connect_as(running.grpc_addr, &token).await);
        let bus = leaf.connect().await;
        let generator =
            HouseholdGenerator::new(&Geography::built_in(), region, &[], chrono::Utc::now().date_naive(), 7);
        RegionNode {
            leaf,
            registry,
            running,
            bus,
            generator,
            registered: 0,
        }
    }

    /// Registers `count` households and enrols every other one in the
    /// cash transfers; returns their IDs.
    async fn register(&mut self, count: u64) -> Vec<String> {
        let mut ids = Vec::new();
        for _ in 0..count {
            let draft = self.generator.household(self.registered);
            self.registered += 1;
            let household = self
                .registry
                .register_household(RegisterHouseholdRequest {
                    request_id: format!("e2e-{}", self.registered),
                    household: Some(draft),
                })
                .await
                .expect("the region's registry answers")
                .into_inner()
                .household
                .expect("a household");
            if self.registered.is_multiple_of(2) {
                self.registry
                    .enrol_household(EnrolHouseholdRequest {
                        household_id: household.household_id.clone(),
                        component: Component::Tm as i32,
                        enrolled_on: chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string(),
                        committee_override: "CCL e2e test".into(),
                    })
                    .await
                    .expect("enrolment succeeds");
            }
            ids.push(household.household_id);
        }
        ids
    }

    fn stream(&self) -> String {
        subject::region_stream(self.leaf.region)
    }

    /// Waits until the outbox is empty, and returns the regional stream's event IDs.
    async fn published_events(&self) -> Vec<String> {
        let database = self.running.database.clone();
        eventually(WAIT, &format!("{} outbox empty", self.leaf.region), || {
            let database = database.clone();
            async move { (jigi_bus::outbox::pending(&database).await.ok()? == 0).then_some(()) }
        })
        .await;
        event_ids(&self.bus.jetstream, &self.stream()).await
    }
}

/// Waits until the national stream holds exactly `expected` events, and
/// checks that they are those events, each once.
async fn assert_national_converges(national: &jetstream::Context, expected: &[String], what: &str) {
    let count = expected.len() as u64;
    eventually(
        WAIT,
        &format!("{what}: {count} events in the national stream"),
        || async move { (stream_len(national, subject::NATIONAL_STREAM).await >= count).then_some(()) },
    )
    .await;
    let ids = event_ids(national, subject::NATIONAL_STREAM).await;
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "{what}: an event was counted twice");
    let wanted: HashSet<&String> = expected.iter().collect();
    assert_eq!(
        unique, wanted,
        "{what}: the national stream holds exactly the regions' events"
    );
}

struct Country {
    hub: Hub,
    sikasso: RegionNode,
    mopti: RegionNode,
    /// The national monitoring's connection: it sets up the national stream
    /// and reads it with its own (read-only) credentials.
    monitoring: Bus,
    shutdown: CancellationToken,
    _dir: TempDir,
}

async fn country() -> Country {
    jigi_testkit::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let passwords = random_passwords();
    let hub = Hub::start(&dir.path().join("hub"), &passwords).await;
    let shutdown = CancellationToken::new();
    let access = TestAccess::new(dir.path());
    let sikasso = RegionNode::start(&dir, Region::Sikasso, &hub, &passwords, &access, &shutdown).await;
    let mopti = RegionNode::start(&dir, Region::Mopti, &hub, &passwords, &access, &shutdown).await;
    let monitoring = hub.connect_as("monitoring").await;
    let sources = domain_sources(&[Region::Sikasso, Region::Mopti]);
    streams::ensure_national_stream(&monitoring.jetstream, &sources)
        .await
        .expect("monitoring sets up the national stream");
    // At every start: idempotent.
    streams::ensure_national_stream(&monitoring.jetstream, &sources)
        .await
        .expect("setting it up again changes nothing");
    Country {
        hub,
        sikasso,
        mopti,
        monitoring,
        shutdown,
        _dir: dir,
    }
}

impl Drop for Country {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

#[tokio::test]
async fn the_national_stream_holds_every_event_of_both_regions_once() {
    let mut country = country().await;
    country.sikasso.register(12).await;
    country.mopti.register(9).await;
    let mut expected = country.sikasso.published_events().await;
    let mopti = country.mopti.published_events().await;
    assert!(
        expected.len() >= 12 && mopti.len() >= 9,
        "registrations and enrolments published"
    );
    expected.extend(mopti);
    assert_national_converges(&country.monitoring.jetstream, &expected, "both regions").await;

    // Every national event names its region in its subject.
    let national = jigi_testkit::read_stream(&country.monitoring.jetstream, subject::NATIONAL_STREAM).await;
    let per_region = |region: Region| {
        national
            .iter()
            .filter(|m| subject::region_of_subject(&m.subject) == Some(region))
            .count()
    };
    assert_eq!(per_region(Region::Sikasso) + per_region(Region::Mopti), national.len());
    assert_eq!(
        per_region(Region::Mopti) as u64,
        stream_len(&country.mopti.bus.jetstream, &country.mopti.stream()).await
    );
}

#[tokio::test]
async fn a_region_cut_off_keeps_working_and_the_nation_converges_after() {
    let mut country = country().await;
    country.sikasso.register(5).await;
    country.mopti.register(5).await;
    let sikasso_before = country.sikasso.published_events().await;
    let mut before = sikasso_before.clone();
    before.extend(country.mopti.published_events().await);
    assert_national_converges(&country.monitoring.jetstream, &before, "before the cut").await;

    // The link is cut: the hub goes down.
    country.hub.server.stop().await;

    // Sikasso keeps registering; its registry answers, reads included, and
    // its own stream keeps every event.
    let while_cut = country.sikasso.register(40).await;
    let answer = country
        .sikasso
        .registry
        .get_household(GetHouseholdRequest {
            household_id: while_cut[0].clone(),
        })
        .await
        .expect("the region's registry answers while cut off");
    assert_eq!(answer.into_inner().household.unwrap().household_id, while_cut[0]);
    let sikasso = country.sikasso.published_events().await;
    let buffered = sikasso.len() - sikasso_before.len();
    let mopti = country.mopti.published_events().await;
    assert!(buffered >= 40, "events buffered in the region while cut off");

    // The link returns; the national stream catches up exactly.
    country.hub.server.restart().await.expect("the hub restarts");
    let restored = Instant::now();
    let mut expected = sikasso;
    expected.extend(mopti);
    let monitoring = country.hub.connect_as("monitoring").await;
    assert_national_converges(&monitoring.jetstream, &expected, "after the link returned").await;
    println!(
        "cut link: {buffered} events buffered in sikasso; national stream converged {:.2} s after the hub returned",
        restored.elapsed().as_secs_f64()
    );

    // Later events still flow, still once.
    country.sikasso.register(3).await;
    let mut expected = country.sikasso.published_events().await;
    expected.extend(country.mopti.published_events().await);
    assert_national_converges(&monitoring.jetstream, &expected, "after the catch-up").await;
}
