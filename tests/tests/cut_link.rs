//! A region cut off from the capital keeps working, and the national view
//! converges to the exact totals when the link returns (issue 7).
//!
//! Sikasso's leaf node reaches the hub through a TCP proxy standing for the
//! office's link. The link is cut before Sikasso runs its whole quarter
//! (registering, enrolling, paying, distributing) on its own services and
//! its own JetStream; Mopti runs its quarter over a working link. When the
//! link returns, the monitoring converges to both quarters' exact totals,
//! and the time it took is printed.
//!
//! `JIGI_CUT_LINK_HOUSEHOLDS` (default 40) scales each region's quarter, to
//! measure convergence after larger outages (about 2.6 events buffered per
//! household):
//!
//! ```text
//! JIGI_CUT_LINK_HOUSEHOLDS=3800 cargo test --release -p jigi-e2e --test cut_link -- --nocapture
//! ```

use std::collections::HashSet;
use std::time::{Duration, Instant};

use jigi_auth::Role;
use jigi_common::Region;
use jigi_e2e::{Hub, event_ids, random_passwords};
use jigi_stack::national::{self, Figures};
use jigi_stack::progress::Bars;
use jigi_stack::quarter::{self, QuarterPlan, QuarterSummary};
use jigi_stack::{RegionNode, StackAccess, clients};
use jigi_testkit::{TcpProxy, eventually, sqlite_url};
use tokio_util::sync::CancellationToken;

/// How long to wait for the national view: more for bigger quarters.
fn wait(households: u64) -> Duration {
    Duration::from_secs(120 + households / 20)
}
fn households() -> u64 {
    std::env::var("JIGI_CUT_LINK_HOUSEHOLDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(40)
}

#[tokio::test]
async fn a_region_cut_off_keeps_working_and_the_nation_converges_when_the_link_returns() {
    jigi_testkit::init_tracing();
    let households = households();
    let dir = tempfile::tempdir().unwrap();
    let passwords = random_passwords();
    let hub = Hub::start(&dir.path().join("hub"), &passwords).await;
    let link = TcpProxy::start(format!("127.0.0.1:{}", hub.leaf_port).parse().unwrap()).await;
    let shutdown = CancellationToken::new();
    let access = StackAccess::create(dir.path()).unwrap();
    let shared = jigi_stack::Shared {
        passwords: passwords.clone(),
        access: access.clone(),
        telemetry: jigi_stack::Telemetry::default(),
    };
    let node = |region, port| RegionNode::start(dir.path(), region, port, &shared, &shutdown);
    let sikasso = node(Region::Sikasso, link.port()).await.unwrap();
    let mopti = node(Region::Mopti, hub.leaf_port).await.unwrap();
    let mut config = jigi_monitoring::Config::local(
        &[Region::Sikasso, Region::Mopti],
        &hub.url_as("monitoring"),
        &sqlite_url(dir.path(), "monitoring"),
    );
    config.region_domains = true;
    config.service.serve = access.serve.clone();
    let monitoring = jigi_monitoring::start(config, shutdown.clone()).await.unwrap();
    let operator = access.staff.national("n.diallo", &[Role::NationalOperator]);
    let channel = clients::connect(&format!("http://{}", monitoring.grpc_addr), "monitoring", "", "")
        .await
        .unwrap();
    let mut client = clients::monitoring_client_as(channel, operator);

    // The link goes down; both regions run their quarter.
    link.cut().await;
    let bars = Bars::hidden();
    let plans = [
        QuarterPlan::new(Region::Sikasso, households),
        QuarterPlan::new(Region::Mopti, households),
    ];
    let (sikasso_endpoints, mopti_endpoints) = (sikasso.endpoints(), mopti.endpoints());
    let (cut_off, connected) = tokio::join!(
        quarter::run(&sikasso_endpoints, &plans[0], &bars),
        quarter::run(&mopti_endpoints, &plans[1], &bars),
    );
    let cut_off: QuarterSummary = cut_off.expect("Sikasso's services answer while cut off");
    let connected: QuarterSummary = connected.expect("Mopti's quarter runs");
    assert_eq!(cut_off.households_registered, households as i64);
    assert!(cut_off.paid > 0 && cut_off.reached.total() > 0, "{cut_off:?}");
    // Sikasso's own services have it all.
    let (own_households, paid, _) = jigi_e2e::programme::own_reports(&sikasso, &access.staff, &cut_off).await;
    assert_eq!(own_households, households as i64);
    assert_eq!(paid.0, cut_off.paid);

    let summaries = vec![cut_off.clone(), connected.clone()];
    let expected = national::expected(&summaries);
    let year = chrono::Datelike::year(&plans[0].today);
    let period = plans[0].period().to_string();
    let sources: Vec<(String, i32)> = summaries.iter().map(|s| (s.region.clone(), s.funding_source)).collect();
    national::set_budget(&mut client, year, &national::forecasts(&summaries))
        .await
        .unwrap();

    // While cut off, the nation sees Mopti's whole quarter and none of Sikasso's.
    let mopti_done = expected.iter().find(|f| f.area == "mopti").unwrap().counts();
    eventually(wait(households), "Mopti's quarter to reach the national view", || {
        let (mut client, period, sources, mopti_done) = (client.clone(), period.clone(), sources.clone(), mopti_done);
        async move {
            let reported = national::reported(&mut client, &period, year, &sources).await.ok()?;
            let mopti = reported.iter().find(|f| f.area == "mopti")?;
            (mopti.counts() == mopti_done).then_some(())
        }
    })
    .await;
    let reported = national::reported(&mut client, &period, year, &sources).await.unwrap();
    let sikasso_seen = reported.iter().find(|f| f.area == "sikasso").unwrap();
    assert_eq!(sikasso_seen.households_registered, 0, "nothing crossed the cut link");
    let buffered = event_ids(
        &jigi_e2e::connect_leaf(&sikasso.leaf, Region::Sikasso).await.jetstream,
        "JIGI_SIKASSO",
    )
    .await
    .len();

    // The link returns: the national view converges to the exact totals.
    link.restore().await;
    let restored = Instant::now();
    let reported: Vec<Figures> = eventually(
        wait(households),
        "the national view to converge after the link returned",
        || {
            let (mut client, period, sources, expected) =
                (client.clone(), period.clone(), sources.clone(), expected.clone());
            async move {
                let reported = national::reported(&mut client, &period, year, &sources).await.ok()?;
                reported
                    .iter()
                    .map(Figures::counts)
                    .eq(expected.iter().map(Figures::counts))
                    .then_some(reported)
            }
        },
    )
    .await;
    let converged = restored.elapsed();
    println!(
        "cut_link: Sikasso buffered {buffered} events while cut off; the national indicators converged {:.2} s after the link returned",
        converged.as_secs_f64()
    );
    let total = reported.last().unwrap();
    assert_eq!(total.households_registered, 2 * households as i64);
    assert_eq!(total.households_paid, cut_off.paid + connected.paid);
    assert_eq!(total.amount_paid_fcfa, cut_off.paid_fcfa + connected.paid_fcfa);
    assert_eq!(
        total.flour_distributed_grams,
        cut_off.flour_distributed_grams + connected.flour_distributed_grams
    );

    // Nothing lost, nothing counted twice: every event once in the national stream.
    let national_events = event_ids(&hub.connect_as("national").await.jetstream, "JIGI_NATIONAL").await;
    let unique: HashSet<&String> = national_events.iter().collect();
    assert_eq!(
        unique.len(),
        national_events.len(),
        "no event twice in the national stream"
    );
    assert_eq!(monitoring.service.consumer.duplicates(), 0);
    assert_eq!(monitoring.service.consumer.rejected(), 0);

    shutdown.cancel();
    monitoring.stopped().await;
    sikasso.stopped().await;
    mopti.stopped().await;
}
