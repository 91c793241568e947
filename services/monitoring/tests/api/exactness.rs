//! Each event counted once, late events in their own period, the same
//! numbers after a restart and after a rebuild from the stream.

use std::time::Duration;

use jigi_common::Region;
use jigi_proto::common::Component;
use jigi_proto::monitoring::{Breakdown, FreshnessStatus, GetFreshnessRequest};

use crate::helpers::*;

const YANFOLILA: &str = "sikasso.yanfolila.gouanan";
const FINKOLO: &str = "sikasso.sikasso.finkolo";
const SIO: &str = "mopti.mopti.sio";

/// Registrations and enrolments over the second half of 2018, some events
/// repeated, one enrolment arriving long after later ones.
async fn feed_2018(app: &mut TestApp) {
    let t = at("2018-07-02T08:00:00Z");
    for (i, commune) in [YANFOLILA, YANFOLILA, FINKOLO].iter().enumerate() {
        app.publish(
            Region::Sikasso,
            &format!("s{i}"),
            &registered(&format!("s{i}"), commune, "2018-07-02"),
            t,
        )
        .await;
    }
    app.publish(Region::Mopti, "m0", &registered("m0", SIO, "2018-07-03"), t)
        .await;
    app.publish(
        Region::Mopti,
        "m1",
        &registered("m1", SIO, "2018-10-05"),
        at("2018-10-05T08:00:00Z"),
    )
    .await;

    let enrol_s0 = app
        .publish(
            Region::Sikasso,
            "s0",
            &enrolled("s0", YANFOLILA, Component::Tm, "2018-07-15"),
            at("2018-07-15T09:00:00Z"),
        )
        .await;
    app.publish(
        Region::Sikasso,
        "s1",
        &enrolled("s1", YANFOLILA, Component::Tm, "2018-10-10"),
        at("2018-10-10T09:00:00Z"),
    )
    .await;
    app.publish(
        Region::Sikasso,
        "s1",
        &enrolled("s1", YANFOLILA, Component::Pnp, "2018-10-10"),
        at("2018-10-10T09:01:00Z"),
    )
    .await;
    app.publish(
        Region::Mopti,
        "m0",
        &enrolled("m0", SIO, Component::Tm, "2018-07-20"),
        at("2018-07-20T09:00:00Z"),
    )
    .await;
    app.publish(
        Region::Mopti,
        "m0",
        &exited("m0", SIO, Component::Tm, "2018-11-30"),
        at("2018-11-30T09:00:00Z"),
    )
    .await;
    // The same enrolment delivered again (republished outside JetStream's
    // duplicate window): it must count once.
    app.publish_event(&enrol_s0, &format!("{}-again", enrol_s0.id)).await;
    // An enrolment of August that arrives after the November events (a
    // region that was cut off): it lands in Q3.
    app.publish(
        Region::Sikasso,
        "s2",
        &enrolled("s2", FINKOLO, Component::Tm, "2018-08-15"),
        at("2018-08-15T09:00:00Z"),
    )
    .await;
    app.settled().await;
}

async fn assert_2018_figures(app: &mut TestApp) {
    let q3 = app.totals("", "2018Q3").await;
    assert_eq!(q3.households_registered, 4);
    assert_eq!(q3.households_registered_in_period, 4);
    assert_eq!(
        enrolled_in(&q3, Component::Tm),
        3,
        "s0, s2 (late) and m0 at the end of Q3"
    );
    assert_eq!(enrolled_in(&q3, Component::Pnp), 0);

    let q4 = app.totals("", "2018Q4").await;
    assert_eq!(q4.households_registered, 5);
    assert_eq!(q4.households_registered_in_period, 1);
    assert_eq!(enrolled_in(&q4, Component::Tm), 3, "s0, s1, s2; m0 exited in November");
    assert_eq!(enrolled_in(&q4, Component::Pnp), 1);
    assert_eq!(exits_from(&q4, Component::Tm), 1);

    let sikasso = app.totals("sikasso", "2018Q4").await;
    assert_eq!(
        (sikasso.households_registered, enrolled_in(&sikasso, Component::Tm)),
        (3, 3)
    );
    let mopti = app.totals("mopti", "2018").await;
    assert_eq!(
        (
            mopti.households_registered,
            enrolled_in(&mopti, Component::Tm),
            exits_from(&mopti, Component::Tm)
        ),
        (2, 0, 1)
    );

    let communes = app.indicators("sikasso", "2018Q4", Breakdown::Commune).await;
    let gouanan = communes.iter().find(|r| r.area == YANFOLILA).unwrap();
    assert_eq!(gouanan.area_name, "Gouanan");
    assert_eq!(gouanan.indicators.as_ref().unwrap().households_registered, 2);
    let quiet = communes
        .iter()
        .find(|r| r.area == "sikasso.kadiolo.loulouni")
        .expect("every commune has a row");
    assert_eq!(quiet.indicators.as_ref().unwrap().households_registered, 0);
}

#[tokio::test]
async fn each_event_counts_once_and_late_events_land_in_their_period() {
    let mut app = spawn_app().await;
    feed_2018(&mut app).await;
    assert_2018_figures(&mut app).await;
    assert_eq!(app.consumer().duplicates(), 1, "the repeat was recognised by the inbox");
}

#[tokio::test]
async fn a_restart_and_a_full_rebuild_from_the_stream_give_the_same_numbers() {
    let mut app = spawn_app().await;
    feed_2018(&mut app).await;
    assert_2018_figures(&mut app).await;

    app.restart(false).await;
    assert_2018_figures(&mut app).await;

    // A new database: the consumer reads the national stream from the start.
    app.restart(true).await;
    app.settled().await;
    assert_2018_figures(&mut app).await;

    // And NATS itself restarting changes nothing either.
    app.nats.restart().await;
    app.publish(
        Region::Sikasso,
        "s9",
        &registered("s9", FINKOLO, "2018-12-01"),
        at("2018-12-01T08:00:00Z"),
    )
    .await;
    app.settled().await;
    assert_eq!(app.totals("", "2018Q4").await.households_registered, 6);
}

#[tokio::test]
async fn a_silent_region_shows_as_silent_since_its_last_event_not_as_zero() {
    let mut app = spawn_app_with(|config| config.silence_threshold = Duration::from_millis(300)).await;
    app.publish(
        Region::Sikasso,
        "s0",
        &registered("s0", FINKOLO, "2018-07-02"),
        at("2018-07-02T08:00:00Z"),
    )
    .await;
    app.settled().await;
    let regions = eventually(WAIT, "Sikasso to fall silent", || {
        let mut client = app.client.clone();
        async move {
            let regions = client
                .get_freshness(GetFreshnessRequest {})
                .await
                .ok()?
                .into_inner()
                .regions;
            let sikasso = regions.iter().find(|r| r.region == "sikasso")?;
            (sikasso.status == FreshnessStatus::Silent as i32).then_some(regions)
        }
    })
    .await;
    let sikasso = regions.iter().find(|r| r.region == "sikasso").unwrap();
    assert!(sikasso.last_received_at.is_some(), "silent since a given time");
    assert_eq!(sikasso.events_received, 1);
    assert_eq!(
        sikasso.last_event_time.as_ref().unwrap().seconds,
        at("2018-07-02T08:00:00Z").timestamp()
    );
    let mopti = regions.iter().find(|r| r.region == "mopti").unwrap();
    assert_eq!(mopti.status, FreshnessStatus::NeverHeard as i32);
    assert_eq!(
        app.totals("sikasso", "2018").await.households_registered,
        1,
        "figures stay, marked silent"
    );
}
