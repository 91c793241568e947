//! Where money moves: the same ID card enrolled in TM in Sikasso and in
//! Mopti is suspected at the hub, held out of the freeze in both regions
//! (the findings cross the leaf links from the hub, under the deployed
//! permissions), resolved as a move, and then paid once: in Sikasso.

use jigi_common::Region;
use jigi_proto::common::Component;
use jigi_proto::linkage::{Resolution, ResolveDuplicateRequest};
use jigi_proto::payments::{FreezePaymentCycleRequest, FreezePaymentCycleResponse};
use jigi_proto::registry::{EnrolHouseholdRequest, ExitReason, GetStatusHistoryRequest, TransferHouseholdRequest};
use jigi_testkit::eventually;

use crate::helpers::{Country, RegionNode, WAIT, today};

async fn enrol(node: &mut RegionNode, household_id: &str) {
    node.client
        .enrol_household(EnrolHouseholdRequest {
            household_id: household_id.into(),
            component: Component::Tm as i32,
            enrolled_on: today(),
            committee_override: "CCL Koutiala, PV 12".into(),
        })
        .await
        .expect("enrolment succeeds");
}

/// Opens and freezes the region's cycle of `period`.
async fn freeze(node: &mut RegionNode, period: &str) -> FreezePaymentCycleResponse {
    let cycle_id = node.open_cycle(period).await;
    node.pay
        .freeze_payment_cycle(FreezePaymentCycleRequest {
            cycle_id,
            prepared_by: String::new(),
        })
        .await
        .expect("the cycle freezes")
        .into_inner()
}

async fn wait_eligible(node: &RegionNode, count: usize, what: &str) {
    let payments = node.payments.service.payments.clone();
    eventually(WAIT, what, || {
        let payments = payments.clone();
        async move {
            let page = payments.eligible("", 100, "").await.ok()?;
            (page.total as usize == count).then_some(())
        }
    })
    .await;
}

async fn wait_holds(node: &RegionNode, count: i64) {
    let payments = node.payments.service.payments.clone();
    eventually(WAIT, &format!("{count} households held in {}", node.region), || {
        let payments = payments.clone();
        async move { (payments.holds_open().await.ok()? == count).then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn the_same_card_in_two_regions_is_held_in_both_then_resolved_and_paid_once() {
    let mut country = Country::start(&[Region::Sikasso, Region::Mopti], &["k1"]).await;
    let draft = country
        .region(Region::Mopti)
        .draft_with_head("Fatoumata", "Ongoïba", "1981-06-14", "ML3141592653");
    let in_mopti = country.region(Region::Mopti).register(draft).await;
    enrol(country.region(Region::Mopti), &in_mopti.household_id).await;
    // Displaced by insecurity, registered again in Sikasso.
    let draft =
        country
            .region(Region::Sikasso)
            .draft_with_head("FATOUMATA", "ONGOIBA", "1981-06-14", "ML 3141 5926 53");
    let in_sikasso = country.region(Region::Sikasso).register(draft).await;
    enrol(country.region(Region::Sikasso), &in_sikasso.household_id).await;
    // Someone else, enrolled in Sikasso: paid as usual.
    let draft = country.region(Region::Sikasso).draft();
    let other = country.region(Region::Sikasso).register(draft).await;
    enrol(country.region(Region::Sikasso), &other.household_id).await;

    let duplicate = country.wait_duplicates(1).await.remove(0);
    for region in [Region::Sikasso, Region::Mopti] {
        wait_holds(country.region(region), 1).await;
    }
    wait_eligible(country.region(Region::Sikasso), 2, "Sikasso's two households enrolled").await;
    wait_eligible(country.region(Region::Mopti), 1, "Mopti's household enrolled").await;

    let frozen = freeze(country.region(Region::Sikasso), "2026Q4").await;
    assert_eq!(
        frozen.cycle.unwrap().frozen.unwrap().count,
        1,
        "only the other household"
    );
    assert_eq!(frozen.held.len(), 1);
    assert_eq!(frozen.held[0].household_id, in_sikasso.household_id);
    assert_eq!(frozen.held[0].duplicate_id, duplicate.duplicate_id);
    assert!(
        frozen.held[0].reason.contains(&in_mopti.household_id),
        "{:?}",
        frozen.held[0]
    );
    let frozen = freeze(country.region(Region::Mopti), "2026Q4").await;
    assert_eq!(frozen.cycle.unwrap().frozen.unwrap().count, 0);
    assert_eq!(frozen.held[0].household_id, in_mopti.household_id);

    // Mopti's registrar: the household moved to Sikasso. It leaves TM in
    // Mopti and is kept in Sikasso.
    country
        .registrar(Region::Mopti)
        .await
        .resolve_duplicate(ResolveDuplicateRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            duplicate_id: duplicate.duplicate_id.clone(),
            resolution: Resolution::Moved as i32,
            kept_household_id: in_sikasso.household_id.clone(),
        })
        .await
        .expect("the registrar resolves it");
    country
        .region(Region::Mopti)
        .client
        .transfer_household(TransferHouseholdRequest {
            household_id: in_mopti.household_id.clone(),
            destination_region: "sikasso".into(),
            destination_household_id: in_sikasso.household_id.clone(),
            transferred_on: String::new(),
        })
        .await
        .expect("the origin transfers it");
    let history = country
        .region(Region::Mopti)
        .client
        .get_status_history(GetStatusHistoryRequest {
            household_id: in_mopti.household_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .changes;
    let last = history.last().unwrap();
    assert_eq!(last.exit_reason, ExitReason::Moved as i32);
    assert_eq!(
        last.note,
        format!("moved to sikasso (household {})", in_sikasso.household_id)
    );
    for region in [Region::Sikasso, Region::Mopti] {
        wait_holds(country.region(region), 0).await;
    }
    wait_eligible(country.region(Region::Mopti), 0, "Mopti's household exited").await;

    // The next quarter pays the household once, in Sikasso.
    let frozen = freeze(country.region(Region::Sikasso), "2027Q1").await;
    assert_eq!(frozen.cycle.unwrap().frozen.unwrap().count, 2);
    assert!(frozen.held.is_empty());
    let frozen = freeze(country.region(Region::Mopti), "2027Q1").await;
    assert_eq!(frozen.cycle.unwrap().frozen.unwrap().count, 0);
    assert!(frozen.held.is_empty());
}
