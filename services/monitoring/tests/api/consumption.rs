//! The national consumer on events read in large batches: what a batch
//! folds in memory gives the figures the events give one by one; and each
//! region's lag, from an event's time to the commit of its facts.

use chrono::{Duration, Utc};
use jigi_common::Region;
use jigi_proto::common::{Component, Money, Period};
use jigi_proto::events as ev;
use jigi_proto::monitoring::{Breakdown, GetFreshnessRequest, ListCycleIndicatorsRequest, RegionFreshness};

use crate::helpers::*;

const FINKOLO: &str = "sikasso.sikasso.finkolo";
const GOUANAN: &str = "sikasso.yanfolila.gouanan";
const SIO: &str = "mopti.mopti.sio";
const QUARTERLY: i64 = 30_000;

fn moved(household: &str, commune: &str) -> ev::HouseholdUpdated {
    ev::HouseholdUpdated {
        household_id: household.into(),
        version: 2,
        location: Some(location(commune)),
        ..Default::default()
    }
}

fn cycle_ref() -> Option<ev::PaymentCycleRef> {
    Some(ev::PaymentCycleRef {
        cycle_id: "sikasso-2018Q3".into(),
        region: "sikasso".into(),
        period: Some(Period { code: "2018Q3".into() }),
        funding_source: ev::PaymentFundingSource::WorldBankIda as i32,
        ..Default::default()
    })
}

fn totals(count: i64) -> Option<ev::PaymentTotals> {
    Some(ev::PaymentTotals {
        count,
        amount: Some(Money {
            fcfa: count * QUARTERLY,
        }),
    })
}

async fn freshness(app: &mut TestApp) -> Vec<RegionFreshness> {
    app.client
        .get_freshness(GetFreshnessRequest {})
        .await
        .unwrap()
        .into_inner()
        .regions
}

/// Every event is published while the monitoring is down, so a fresh
/// monitoring reads them all from the stream in a few large batches.
/// Households move, register twice, move before they are known; a cycle's
/// events arrive out of time order; an event is delivered twice.
#[tokio::test]
async fn events_read_in_large_batches_count_as_they_do_one_by_one() {
    let mut app = spawn_app().await;
    app.stop().await;

    // Sikasso.
    app.publish(
        Region::Sikasso,
        "a",
        &registered("a", FINKOLO, "2018-07-02"),
        at("2018-07-02T08:00:00Z"),
    )
    .await;
    app.publish(Region::Sikasso, "a", &moved("a", GOUANAN), at("2018-07-03T08:00:00Z"))
        .await;
    // Moved before the registry's registration event arrived: an update
    // of a household not yet known changes nothing.
    app.publish(Region::Sikasso, "b", &moved("b", GOUANAN), at("2018-07-04T08:00:00Z"))
        .await;
    app.publish(
        Region::Sikasso,
        "b",
        &registered("b", FINKOLO, "2018-07-05"),
        at("2018-07-05T08:00:00Z"),
    )
    .await;
    app.publish(
        Region::Sikasso,
        "c",
        &registered("c", FINKOLO, "2018-07-06"),
        at("2018-07-06T08:00:00Z"),
    )
    .await;
    // A second registration event of the same household: the first counts.
    app.publish(
        Region::Sikasso,
        "c",
        &registered("c", GOUANAN, "2018-08-01"),
        at("2018-08-01T08:00:00Z"),
    )
    .await;
    let enrolment = app
        .publish(
            Region::Sikasso,
            "a",
            &enrolled("a", GOUANAN, Component::Tm, "2018-07-10"),
            at("2018-07-10T08:00:00Z"),
        )
        .await;
    app.publish_event(&enrolment, &format!("{}-again", enrolment.id)).await;
    let opened = ev::PaymentCycleOpened {
        cycle: cycle_ref(),
        ..Default::default()
    };
    app.publish(Region::Sikasso, "cycle", &opened, at("2018-08-01T10:00:00Z"))
        .await;
    let approved = ev::PaymentCycleApproved {
        cycle: cycle_ref(),
        control: totals(4),
        approved_on: "2018-08-01".into(),
    };
    app.publish(Region::Sikasso, "cycle", &approved, at("2018-08-01T12:00:00Z"))
        .await;
    // Frozen before it was approved, but arriving after: the status stays.
    let frozen = ev::PaymentCycleFrozen {
        cycle: cycle_ref(),
        totals: totals(4),
        ..Default::default()
    };
    app.publish(Region::Sikasso, "cycle", &frozen, at("2018-08-01T11:00:00Z"))
        .await;
    for n in 0..4 {
        let household = format!("p{n}");
        let time = at("2018-08-15T08:00:00Z");
        let amount = Some(Money { fcfa: QUARTERLY });
        if n < 3 {
            let made = ev::PaymentMade {
                cycle: cycle_ref(),
                household_id: household.clone(),
                location: Some(location(FINKOLO)),
                amount,
                paid_on: "2018-08-15".into(),
                ..Default::default()
            };
            app.publish(Region::Sikasso, &household, &made, time).await;
        } else {
            let failed = ev::PaymentFailed {
                cycle: cycle_ref(),
                household_id: household.clone(),
                location: Some(location(FINKOLO)),
                amount,
                attempted_on: "2018-08-15".into(),
                ..Default::default()
            };
            app.publish(Region::Sikasso, &household, &failed, time).await;
        }
    }
    // Mopti: enrolled, then exited within the quarter.
    app.publish(
        Region::Mopti,
        "m",
        &registered("m", SIO, "2018-07-03"),
        at("2018-07-03T09:00:00Z"),
    )
    .await;
    app.publish(
        Region::Mopti,
        "m",
        &enrolled("m", SIO, Component::Tm, "2018-07-20"),
        at("2018-07-20T09:00:00Z"),
    )
    .await;
    app.publish(
        Region::Mopti,
        "m",
        &exited("m", SIO, Component::Tm, "2018-09-01"),
        at("2018-09-01T09:00:00Z"),
    )
    .await;

    // A new database: the consumer reads the national stream from the start.
    app.start(true).await;
    app.settled().await;
    assert_eq!(app.consumer().handled(), 17);
    assert_eq!(app.consumer().duplicates(), 1, "the repeat was recognised by the inbox");
    assert_eq!(app.consumer().rejected(), 0);

    let q3 = app.totals("", "2018Q3").await;
    assert_eq!(q3.households_registered, 4, "a, b, c and m, each once");
    assert_eq!(q3.households_registered_in_period, 4);
    assert_eq!(enrolled_in(&q3, Component::Tm), 1, "a; m exited in September");
    assert_eq!(exits_from(&q3, Component::Tm), 1);
    assert_eq!((q3.households_paid, q3.payments_made, q3.payments_failed), (3, 3, 1));
    assert_eq!(q3.amount_paid.unwrap().fcfa, 3 * QUARTERLY);
    assert_eq!(q3.amount_outstanding.unwrap().fcfa, QUARTERLY, "approved for 4, 3 paid");

    let communes = app.indicators("sikasso", "2018Q3", Breakdown::Commune).await;
    let registered_in = |commune: &str| {
        communes
            .iter()
            .find(|row| row.area == commune)
            .map(|row| row.indicators.as_ref().unwrap().households_registered)
    };
    assert_eq!(registered_in(GOUANAN), Some(1), "a, which moved there; not b, not c");
    assert_eq!(registered_in(FINKOLO), Some(2), "b and c");

    let cycles = app
        .client
        .list_cycle_indicators(ListCycleIndicatorsRequest {
            region: "sikasso".into(),
            period: None,
        })
        .await
        .unwrap()
        .into_inner()
        .cycles;
    assert_eq!(cycles.len(), 1);
    let cycle = &cycles[0];
    assert_eq!(cycle.status, "approved", "the late freeze does not undo the approval");
    assert_eq!(
        (cycle.expected_households, cycle.households_paid, cycle.payments_failed),
        (4, 3, 1)
    );
    assert_eq!(cycle.amount_outstanding.as_ref().unwrap().fcfa, QUARTERLY);

    let regions = freshness(&mut app).await;
    let sikasso = regions.iter().find(|r| r.region == "sikasso").unwrap();
    assert_eq!(sikasso.events_received, 14, "every Sikasso event once");
    assert_eq!(
        sikasso.last_event_time.as_ref().unwrap().seconds,
        at("2018-08-15T08:00:00Z").timestamp(),
        "the latest event's time, not the last one read"
    );
    let mopti = regions.iter().find(|r| r.region == "mopti").unwrap();
    assert_eq!(mopti.events_received, 3);
    assert_eq!(
        mopti.last_event_time.as_ref().unwrap().seconds,
        at("2018-09-01T09:00:00Z").timestamp()
    );
}

/// The lag of an event is the time from the event to the commit that made
/// its facts visible: at least the time until it was published, at most
/// the time until its effect was seen.
#[tokio::test]
async fn the_lag_runs_from_the_event_to_its_effect() {
    let mut app = spawn_app().await;
    let happened = Utc::now() - Duration::seconds(30);
    let published = Utc::now();
    let day = happened.format("%Y-%m-%d").to_string();
    app.publish(Region::Mopti, "m", &registered("m", SIO, &day), happened)
        .await;
    app.settled().await;
    assert_eq!(app.totals("mopti", &day[..4]).await.households_registered, 1);
    // The lag is measured once the commit is done: wait until it is.
    let client = app.client.clone();
    let regions = eventually(WAIT, "the lag to be measured", || {
        let mut client = client.clone();
        async move {
            let regions = client
                .get_freshness(GetFreshnessRequest {})
                .await
                .ok()?
                .into_inner()
                .regions;
            let mopti = regions.iter().find(|r| r.region == "mopti")?;
            (mopti.lag_p50_seconds > 0.0).then_some(regions)
        }
    })
    .await;
    let seen = Utc::now();
    let mopti = regions.iter().find(|r| r.region == "mopti").unwrap();
    let earliest = (published - happened).as_seconds_f64();
    let latest = (seen - happened).as_seconds_f64();
    assert!(
        earliest <= mopti.lag_p50_seconds && mopti.lag_p50_seconds <= latest,
        "lag {} s, expected between {earliest} and {latest}",
        mopti.lag_p50_seconds
    );
    assert_eq!(mopti.lag_p99_seconds, mopti.lag_p50_seconds, "one event");
    let sikasso = regions.iter().find(|r| r.region == "sikasso").unwrap();
    assert_eq!(sikasso.lag_p50_seconds, 0.0, "no event, no lag");
}

/// The national stream's positions, read from the server: the newest
/// sequence overall and each region's newest.
async fn stream_positions(app: &TestApp) -> (u64, std::collections::HashMap<String, u64>) {
    let mut stream = app
        .bus
        .jetstream
        .get_stream(jigi_bus::subject::NATIONAL_STREAM)
        .await
        .unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut newest = std::collections::HashMap::new();
    for sequence in 1..=last {
        let message = stream.get_raw_message(sequence).await.unwrap();
        let region = message.subject.split('.').nth(1).unwrap().to_owned();
        newest.insert(region, sequence);
    }
    (last, newest)
}

/// Every answer says how far into the national stream its figures go, so
/// figures still catching up (after a restart, a cut link) are not read as
/// final: the position applied, kept across a restart, and each region's.
#[tokio::test]
async fn figures_say_how_far_into_the_national_stream_they_go() {
    let mut app = spawn_app().await;
    let nothing = app
        .client
        .get_freshness(GetFreshnessRequest {})
        .await
        .unwrap()
        .into_inner();
    let as_of = nothing.as_of.unwrap();
    assert_eq!((as_of.stream_sequence, as_of.events_waiting), (0, 0));
    assert!(as_of.applied_at.is_none(), "nothing applied yet");

    let before = Utc::now();
    let today = before.format("%Y-%m-%d").to_string();
    app.publish(Region::Mopti, "m1", &registered("m1", SIO, &today), before)
        .await;
    app.publish(Region::Sikasso, "s1", &registered("s1", FINKOLO, &today), before)
        .await;
    app.publish(Region::Mopti, "m2", &registered("m2", SIO, &today), before)
        .await;
    app.settled().await;

    let (last, newest) = stream_positions(&app).await;
    assert_eq!(last, 3);
    let fresh = app
        .client
        .get_freshness(GetFreshnessRequest {})
        .await
        .unwrap()
        .into_inner();
    let as_of = fresh.as_of.unwrap();
    assert_eq!(as_of.stream_sequence, last);
    assert_eq!(as_of.events_waiting, 0, "caught up");
    let applied_at = as_of.applied_at.unwrap();
    let applied_at = chrono::DateTime::from_timestamp(applied_at.seconds, applied_at.nanos as u32).unwrap();
    assert!(
        before <= applied_at && applied_at <= Utc::now(),
        "applied at {applied_at}"
    );
    for region in &fresh.regions {
        assert_eq!(
            Some(&region.stream_sequence),
            newest.get(&region.region),
            "{}",
            region.region
        );
    }

    // The other reads carry the same position.
    let indicators = app
        .client
        .get_indicators(jigi_proto::monitoring::GetIndicatorsRequest {
            area: "mopti".into(),
            period: Some(Period {
                code: today[..4].into(),
            }),
            breakdown: Breakdown::Unspecified as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(indicators.as_of.unwrap().stream_sequence, last);
    let cycles = app
        .client
        .list_cycle_indicators(ListCycleIndicatorsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cycles.as_of.unwrap().stream_sequence, last);
    assert_eq!(cycles.freshness.len(), REGIONS.len());

    // Events published while the monitoring is down: after the restart the
    // position moves on from where it was, and only Sikasso's moves.
    app.stop().await;
    app.publish(Region::Sikasso, "s2", &registered("s2", GOUANAN, &today), Utc::now())
        .await;
    app.start(false).await;
    app.settled().await;
    let (last, newest) = stream_positions(&app).await;
    assert_eq!(last, 4);
    let fresh = app
        .client
        .get_freshness(GetFreshnessRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fresh.as_of.unwrap().stream_sequence, 4);
    let by_region: std::collections::HashMap<_, _> = fresh
        .regions
        .iter()
        .map(|r| (r.region.clone(), r.stream_sequence))
        .collect();
    assert_eq!(by_region["sikasso"], 4);
    assert_eq!(by_region["mopti"], newest["mopti"]);
}
