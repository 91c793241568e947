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

/// A household the PMT does not find eligible (concrete house, three
/// televisions and motorcycles).
fn rich(seed: u32) -> HouseholdDraft {
    let mut rich = household(seed);
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
    rich
}

#[tokio::test]
async fn a_list_of_households_is_enrolled_each_on_its_own_and_a_retry_changes_nothing() {
    let mut app = spawn_app().await;
    let poor: Vec<HouseholdDraft> = [1, 2, 3].into_iter().map(household).collect::<Vec<_>>();
    let mut ids = Vec::new();
    for draft in poor {
        ids.push(app.register(draft).await.household_id);
    }
    let wealthy = app.register(rich(4)).await.household_id;
    // Already enrolled before the batch.
    app.client
        .enrol_household(EnrolHouseholdRequest {
            household_id: ids[0].clone(),
            component: Component::Tm as i32,
            enrolled_on: months_ago(1),
            committee_override: String::new(),
        })
        .await
        .unwrap();
    let unknown = uuid::Uuid::now_v7().to_string();
    let request = EnrolHouseholdsRequest {
        request_id: crate::helpers::request_id(),
        component: Component::Tm as i32,
        enrolled_on: today(),
        committee_override: String::new(),
        household_ids: vec![
            ids[0].clone(),
            ids[1].clone(),
            wealthy.clone(),
            unknown.clone(),
            ids[2].clone(),
        ],
        selection: None,
    };
    let response = app.client.enrol_households(request.clone()).await.unwrap().into_inner();
    let outcomes: Vec<(String, i32, String)> = response
        .outcomes
        .iter()
        .map(|o| (o.household_id.clone(), o.result, o.refusal.clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (ids[0].clone(), EnrolmentResult::AlreadyEnrolled as i32, String::new()),
            (ids[1].clone(), EnrolmentResult::Enrolled as i32, String::new()),
            (
                wealthy.clone(),
                EnrolmentResult::Refused as i32,
                "NOT_ELIGIBLE".to_owned()
            ),
            (unknown.clone(), EnrolmentResult::Refused as i32, "NOT_FOUND".to_owned()),
            (ids[2].clone(), EnrolmentResult::Enrolled as i32, String::new()),
        ]
    );
    assert_eq!(
        (response.enrolled, response.already_enrolled, response.refused),
        (2, 1, 2)
    );
    // Registered 4, one enrolment before, two by the batch: 7 events.
    assert_eq!(app.events(7).await.len(), 7);

    // The same request again: the first answer, nothing enrolled twice.
    let again = app.client.enrol_households(request.clone()).await.unwrap().into_inner();
    assert_eq!(again, response);
    // The same ID with other content is refused.
    let reused = app
        .client
        .enrol_households(EnrolHouseholdsRequest {
            committee_override: "CCL Sanando".into(),
            ..request
        })
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists);
    assert_eq!(app.events(7).await.len(), 7, "no event from the retries");
    let history = app
        .client
        .get_status_history(GetStatusHistoryRequest { household_id: wealthy })
        .await
        .unwrap()
        .into_inner();
    assert!(history.changes.is_empty(), "a refused household is left untouched");
}

#[tokio::test]
async fn a_selection_enrols_the_eligible_households_of_a_commune() {
    let mut app = spawn_app().await;
    let mut eligible = Vec::new();
    for seed in 1..=3 {
        eligible.push(app.register(household(seed)).await.household_id);
    }
    app.register(rich(9)).await;
    let response = app
        .client
        .enrol_households(EnrolHouseholdsRequest {
            request_id: crate::helpers::request_id(),
            component: Component::Pnp as i32,
            enrolled_on: today(),
            committee_override: String::new(),
            household_ids: Vec::new(),
            selection: Some(EnrolmentSelection {
                area: "segou.baroueli.sanando".into(),
                eligible_only: true,
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let mut enrolled: Vec<String> = response.outcomes.iter().map(|o| o.household_id.clone()).collect();
    enrolled.sort();
    eligible.sort();
    assert_eq!(enrolled, eligible, "the three eligible households, not the rich one");
    assert_eq!(response.enrolled, 3);

    // A selection outside the region, and a request naming both, are refused.
    let outside = app
        .client
        .enrol_households(EnrolHouseholdsRequest {
            request_id: crate::helpers::request_id(),
            component: Component::Pnp as i32,
            enrolled_on: today(),
            selection: Some(EnrolmentSelection {
                area: "sikasso".into(),
                eligible_only: true,
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(crate::helpers::bad_fields(&outside), ["selection.area"]);
    let both = app
        .client
        .enrol_households(EnrolHouseholdsRequest {
            request_id: crate::helpers::request_id(),
            component: Component::Pnp as i32,
            enrolled_on: today(),
            household_ids: vec![eligible[0].clone()],
            selection: Some(EnrolmentSelection::default()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(crate::helpers::bad_fields(&both), ["selection"]);
}
