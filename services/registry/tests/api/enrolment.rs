//! Enrolment into components, exit, status history and the status filter.

use jigi_proto::common::Component;
use jigi_proto::registry::*;
use tonic::Code;

use crate::helpers::{household, months_ago, spawn_app, today};

#[tokio::test]
async fn enrol_and_exit_keep_a_history_and_move_the_status() {
    let mut app = spawn_app().await;
    let id = app.register(household(1)).await.household_id;
    let enrolled = app
        .client
        .enrol_household(EnrolHouseholdRequest {
            household_id: id.clone(),
            component: Component::Tm as i32,
            enrolled_on: months_ago(2),
            committee_override: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .household
        .unwrap();
    assert_eq!(enrolled.status, HouseholdStatus::Enrolled as i32);
    app.client
        .enrol_household(EnrolHouseholdRequest {
            household_id: id.clone(),
            component: Component::Pnp as i32,
            enrolled_on: months_ago(2),
            committee_override: String::new(),
        })
        .await
        .unwrap();

    let twice = app
        .client
        .enrol_household(EnrolHouseholdRequest {
            household_id: id.clone(),
            component: Component::Tm as i32,
            enrolled_on: today(),
            committee_override: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);

    let enrolled_in_tm = app
        .client
        .list_households(ListHouseholdsRequest {
            enrolled_in: Component::Tm as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(enrolled_in_tm.households.len(), 1);

    for component in [Component::Tm, Component::Pnp] {
        app.client
            .exit_household(ExitHouseholdRequest {
                household_id: id.clone(),
                component: component as i32,
                exited_on: today(),
                reason: ExitReason::Graduated as i32,
                note: String::new(),
            })
            .await
            .unwrap();
    }
    let household = app
        .client
        .get_household(GetHouseholdRequest {
            household_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .household
        .unwrap();
    assert_eq!(household.status, HouseholdStatus::Exited as i32);
    assert!(
        household
            .enrolments
            .iter()
            .all(|e| e.status == EnrolmentStatus::Exited as i32)
    );

    let history = app
        .client
        .get_status_history(GetStatusHistoryRequest { household_id: id })
        .await
        .unwrap()
        .into_inner()
        .changes;
    let steps: Vec<(i32, i32)> = history.iter().map(|c| (c.component, c.status)).collect();
    assert_eq!(
        steps,
        [
            (Component::Tm as i32, EnrolmentStatus::Enrolled as i32),
            (Component::Pnp as i32, EnrolmentStatus::Enrolled as i32),
            (Component::Tm as i32, EnrolmentStatus::Exited as i32),
            (Component::Pnp as i32, EnrolmentStatus::Exited as i32),
        ]
    );
    let exited = app
        .client
        .list_households(ListHouseholdsRequest {
            status: HouseholdStatus::Exited as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(exited.households.len(), 1);
}

#[tokio::test]
async fn an_ineligible_household_needs_a_committee_decision() {
    let mut app = spawn_app().await;
    let mut rich = household(1);
    rich.traits = Some(HouseholdTraits {
        roof: RoofMaterial::Concrete as i32,
        wall: WallMaterial::Cement as i32,
        floor: FloorMaterial::Tiles as i32,
        assets: Some(Assets {
            televisions: 3,
            motorcycles: 3,
            ..Default::default()
        }),
        ..Default::default()
    });
    let id = app.register(rich).await.household_id;
    let request = EnrolHouseholdRequest {
        household_id: id.clone(),
        component: Component::Tm as i32,
        enrolled_on: today(),
        committee_override: String::new(),
    };
    let refused = app.client.enrol_household(request.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("PMT"), "{}", refused.message());
    app.client
        .enrol_household(EnrolHouseholdRequest {
            committee_override: "CCL Sanando, PV n° 12 du 3 octobre".into(),
            ..request
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn exits_are_checked() {
    let mut app = spawn_app().await;
    let id = app.register(household(1)).await.household_id;
    let not_enrolled = app
        .client
        .exit_household(ExitHouseholdRequest {
            household_id: id.clone(),
            component: Component::Tm as i32,
            exited_on: today(),
            reason: ExitReason::Moved as i32,
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(not_enrolled.code(), Code::FailedPrecondition);
    app.client
        .enrol_household(EnrolHouseholdRequest {
            household_id: id.clone(),
            component: Component::Tm as i32,
            enrolled_on: months_ago(1),
            committee_override: String::new(),
        })
        .await
        .unwrap();
    let before_entry = app
        .client
        .exit_household(ExitHouseholdRequest {
            household_id: id.clone(),
            component: Component::Tm as i32,
            exited_on: months_ago(3),
            reason: ExitReason::Moved as i32,
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(crate::helpers::bad_fields(&before_entry), ["exited_on"]);
    let other_without_note = app
        .client
        .exit_household(ExitHouseholdRequest {
            household_id: id,
            component: Component::Tm as i32,
            exited_on: today(),
            reason: ExitReason::Other as i32,
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(crate::helpers::bad_fields(&other_without_note), ["note"]);
}
