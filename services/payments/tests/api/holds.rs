//! A household the national linkage index suspects of being registered
//! twice is held out of the next freeze, listed as held with the reason in
//! the cycle's report and its reconciliation, until the duplicate is
//! resolved. The index is played by publishing its messages, as its relay
//! does, to `JIGI_DUPLICATES` on the same server.

use jigi_bus::{OutgoingEvent, linkage, streams};
use jigi_common::Region;
use jigi_proto::linkage as pl;
use jigi_proto::payments::FundingSource;
use jigi_testkit::eventually;

use crate::helpers::*;

fn duplicate(ours: &str, theirs: &str, their_region: &str, our_region: &str) -> pl::Duplicate {
    let (first, second) = (
        pl::LinkedHousehold {
            household_id: ours.into(),
            region: our_region.into(),
        },
        pl::LinkedHousehold {
            household_id: theirs.into(),
            region: their_region.into(),
        },
    );
    pl::Duplicate {
        duplicate_id: format!("{ours}~{theirs}"),
        first: Some(first),
        second: Some(second),
        ..Default::default()
    }
}

fn suspected(region: Region, duplicate: pl::Duplicate) -> OutgoingEvent {
    let id = duplicate.duplicate_id.clone();
    linkage::DUPLICATE_SUSPECTED.event(
        region,
        &id,
        &pl::DuplicateSuspected {
            duplicate: Some(duplicate),
        },
    )
}

fn resolved(region: Region, duplicate: pl::Duplicate) -> OutgoingEvent {
    let id = duplicate.duplicate_id.clone();
    linkage::DUPLICATE_RESOLVED.event(
        region,
        &id,
        &pl::DuplicateResolved {
            duplicate: Some(duplicate),
        },
    )
}

async fn wait_findings(app: &TestApp, count: u64) {
    let stats = app.running().service.linkage.clone();
    eventually(WAIT, &format!("{count} findings of the index applied"), || {
        let stats = stats.clone();
        async move { (stats.handled() >= count).then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn a_suspected_duplicate_is_held_out_of_the_freeze_until_resolved() {
    let mut app = spawn_app().await;
    streams::ensure(&app.bus.jetstream, linkage::duplicates_stream_config())
        .await
        .unwrap();
    for n in 1..=3 {
        app.enrol(&household(n), SANANDO).await;
    }
    app.wait_eligible(3).await;
    let in_mopti = "0190a000-0000-7000-9000-000000000001";
    let pair = duplicate(&household(1), in_mopti, "mopti", "segou");
    app.publish(&suspected(REGION, pair.clone())).await;
    // The same suspicion as Mopti receives it, and one between Mopti and
    // Gao: neither is delivered to Ségou's payments.
    app.publish(&suspected(Region::Mopti, pair.clone())).await;
    app.publish(&suspected(
        Region::Mopti,
        duplicate(in_mopti, "0190a000-0000-7000-9000-000000000002", "gao", "mopti"),
    ))
    .await;
    wait_findings(&app, 1).await;
    assert_eq!(app.running().service.payments.holds_open().await.unwrap(), 1);

    let cycle = app.open("2019Q1", FundingSource::WorldBankIda).await.unwrap();
    app.assign_agents(&cycle.cycle_id).await;
    let frozen = app.freeze(&cycle.cycle_id).await;
    let totals = frozen.cycle.as_ref().unwrap().frozen.unwrap();
    assert_eq!(totals.count, 2, "the suspected household is not in the list");
    assert_eq!(frozen.already_in_other_cycle, 0);
    assert_eq!(frozen.held.len(), 1);
    let held = &frozen.held[0];
    assert_eq!(held.household_id, household(1));
    assert_eq!(held.duplicate_id, pair.duplicate_id);
    assert_eq!(
        held.reason,
        format!("suspected duplicate: also registered as household {in_mopti} in mopti")
    );
    let report = app
        .client
        .get_reconciliation(jigi_proto::payments::GetReconciliationRequest {
            cycle_id: cycle.cycle_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.held, frozen.held);
    assert_eq!(report.reconciliation.unwrap().total.unwrap().expected.unwrap().count, 2);

    // A registrar resolves it: the next quarter lists the household again.
    app.publish(&resolved(REGION, pair)).await;
    wait_findings(&app, 2).await;
    assert_eq!(app.running().service.payments.holds_open().await.unwrap(), 0);
    let next = app.open("2019Q2", FundingSource::WorldBankIda).await.unwrap();
    app.assign_agents(&next.cycle_id).await;
    let frozen = app.freeze(&next.cycle_id).await;
    assert_eq!(frozen.cycle.unwrap().frozen.unwrap().count, 3);
    assert!(frozen.held.is_empty());
}
