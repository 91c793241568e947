//! `GetHousehold` serves households from a cache; after every kind of
//! change, the next read returns what the change answered.

use jigi_proto::common::{Component, Location, Sex};
use jigi_proto::registry::*;

use crate::helpers::{TestApp, household, months_ago, spawn_app, today};

async fn get(app: &mut TestApp, household_id: &str) -> Household {
    app.client
        .get_household(GetHouseholdRequest {
            household_id: household_id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .household
        .unwrap()
}

#[tokio::test]
async fn every_change_is_read_back_at_once_though_the_household_was_cached() {
    let mut app = spawn_app().await;
    let registered = app.register(household(1)).await;
    let id = registered.household_id.clone();
    assert_eq!(get(&mut app, &id).await, registered);
    assert_eq!(get(&mut app, &id).await, registered);
    let running = app.running.as_ref().unwrap();
    let cache = running.service.household_cache().stats();
    assert!(cache.hits >= 1, "the second read came from the cache: {cache:?}");
    let metrics = jigi_testkit::http_get(running.metrics_addr, "/metrics").await.unwrap();
    assert!(
        metrics.body.contains(&format!(
            "jigi_registry_households_cache_reads_total{{outcome=\"hit\"}} {}",
            cache.hits
        )),
        "{}",
        metrics.body
    );

    let moved = app
        .client
        .update_household(UpdateHouseholdRequest {
            household_id: id.clone(),
            expected_version: 0,
            location: Some(Location {
                commune: "segou.baroueli.somo".into(),
                ..Default::default()
            }),
            traits: None,
        })
        .await
        .unwrap()
        .into_inner()
        .household
        .unwrap();
    assert_eq!(get(&mut app, &id).await, moved, "after UpdateHousehold");

    let added = app
        .client
        .add_member(AddMemberRequest {
            household_id: id.clone(),
            member: Some(MemberDraft {
                given_name: "Kadiatou".into(),
                family_name: "Diarra".into(),
                sex: Sex::Female as i32,
                birth_date: "1998-07-09".into(),
                relation: Relation::Spouse as i32,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(get(&mut app, &id).await, added.household.unwrap(), "after AddMember");

    let updated = app
        .client
        .update_member(UpdateMemberRequest {
            household_id: id.clone(),
            member_id: added.member_id.clone(),
            pregnant: Some(true),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .household
        .unwrap();
    assert_eq!(get(&mut app, &id).await, updated, "after UpdateMember");

    let enrolled = app
        .client
        .enrol_household(EnrolHouseholdRequest {
            household_id: id.clone(),
            component: Component::Tm as i32,
            enrolled_on: months_ago(1),
            committee_override: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .household
        .unwrap();
    assert_eq!(get(&mut app, &id).await, enrolled, "after EnrolHousehold");

    let exited = app
        .client
        .exit_household(ExitHouseholdRequest {
            household_id: id.clone(),
            component: Component::Tm as i32,
            exited_on: today(),
            reason: ExitReason::Graduated as i32,
            note: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .household
        .unwrap();
    assert_eq!(get(&mut app, &id).await, exited, "after ExitHousehold");
    assert_eq!(exited.status, HouseholdStatus::Exited as i32);
}
