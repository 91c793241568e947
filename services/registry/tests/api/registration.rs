//! Register, get, update, list with pagination.

use jigi_proto::common::Location;
use jigi_proto::registry::*;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{household, spawn_app};

#[tokio::test]
async fn register_then_get_returns_what_was_registered_with_its_score() {
    let mut app = spawn_app().await;
    let registered = app.register(household(1)).await;
    assert_eq!(registered.members.len(), 4);
    assert_eq!(registered.members[0].relation, Relation::Head as i32, "head first");
    assert_eq!(registered.status, HouseholdStatus::Registered as i32);
    assert_eq!(registered.version, 1);
    let location = registered.location.clone().unwrap();
    assert_eq!(
        (location.region.as_str(), location.cercle.as_str()),
        ("segou", "segou.baroueli")
    );
    let pmt = registered.pmt.clone().unwrap();
    assert!(
        pmt.eligible,
        "a thatched, mud-brick household with a radio is poor: {pmt:?}"
    );
    assert_eq!(pmt.threshold, 30.0);

    let fetched = app
        .client
        .get_household(GetHouseholdRequest {
            household_id: registered.household_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .household
        .unwrap();
    assert_eq!(fetched, registered);
    assert_eq!(fetched.members[0].id_card_number, "ML0000000001");
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_told_apart() {
    let mut app = spawn_app().await;
    let missing = app
        .client
        .get_household(GetHouseholdRequest {
            household_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let malformed = app
        .client
        .get_household(GetHouseholdRequest {
            household_id: "'; DROP TABLE households; --".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn an_id_in_capitals_names_the_same_household_in_single_and_batch_requests() {
    let mut app = spawn_app().await;
    let registered = app.register(household(1)).await;
    let shouted = registered.household_id.to_uppercase();
    assert_ne!(shouted, registered.household_id, "the test needs letters in the ID");
    let fetched = app
        .client
        .get_household(GetHouseholdRequest {
            household_id: shouted.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .household
        .unwrap();
    assert_eq!(fetched.household_id, registered.household_id);
    let enrol = |id: String| EnrolHouseholdsRequest {
        request_id: crate::helpers::request_id(),
        component: jigi_proto::common::Component::Tm as i32,
        enrolled_on: crate::helpers::today(),
        committee_override: "CCL Sanando".into(),
        household_ids: vec![id],
        selection: None,
    };
    let batch = app.client.enrol_households(enrol(shouted)).await.unwrap().into_inner();
    assert_eq!((batch.enrolled, batch.refused), (1, 0), "{batch:?}");
    // Other spellings of a UUID are not the registry's: refused by name.
    let braced = app
        .client
        .enrol_households(enrol(format!("{{{}}}", registered.household_id)))
        .await
        .unwrap_err();
    assert_eq!(braced.code(), Code::InvalidArgument);
    assert_eq!(jigi_testkit::bad_fields(&braced), ["household_ids[0]"]);
}

#[tokio::test]
async fn update_changes_traits_rescores_and_checks_the_version() {
    let mut app = spawn_app().await;
    let registered = app.register(household(1)).await;
    let richer = HouseholdTraits {
        roof: RoofMaterial::Concrete as i32,
        wall: WallMaterial::Cement as i32,
        floor: FloorMaterial::Tiles as i32,
        assets: Some(Assets {
            televisions: 2,
            motorcycles: 2,
            ..Default::default()
        }),
        ..Default::default()
    };
    let updated = app
        .client
        .update_household(UpdateHouseholdRequest {
            household_id: registered.household_id.clone(),
            expected_version: 1,
            traits: Some(richer),
            location: None,
        })
        .await
        .unwrap()
        .into_inner()
        .household
        .unwrap();
    assert_eq!(updated.version, 2);
    assert!(
        !updated.pmt.unwrap().eligible,
        "a concrete house with motorcycles is not poor"
    );
    assert_eq!(updated.location, registered.location, "location unchanged");

    let stale = app
        .client
        .update_household(UpdateHouseholdRequest {
            household_id: registered.household_id.clone(),
            expected_version: 1,
            traits: Some(richer),
            location: None,
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition);

    let moved = app
        .client
        .update_household(UpdateHouseholdRequest {
            household_id: registered.household_id.clone(),
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
    assert_eq!(moved.location.unwrap().commune, "segou.baroueli.somo");
    assert_eq!(moved.version, 3);
}

#[tokio::test]
async fn members_are_added_and_updated() {
    let mut app = spawn_app().await;
    let registered = app.register(household(1)).await;
    let added = app
        .client
        .add_member(AddMemberRequest {
            household_id: registered.household_id.clone(),
            member: Some(MemberDraft {
                given_name: "Kadiatou".into(),
                family_name: "Diarra".into(),
                sex: jigi_proto::common::Sex::Female as i32,
                birth_date: "1998-07-09".into(),
                relation: Relation::Spouse as i32,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(added.household.as_ref().unwrap().members.len(), 5);
    let updated = app
        .client
        .update_member(UpdateMemberRequest {
            household_id: registered.household_id.clone(),
            member_id: added.member_id.clone(),
            pregnant: Some(true),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .household
        .unwrap();
    let spouse = updated.members.iter().find(|m| m.member_id == added.member_id).unwrap();
    assert!(spouse.pregnant);

    // The head cannot be recorded as gone.
    let head_id = registered.members[0].member_id.clone();
    let refused = app
        .client
        .update_member(UpdateMemberRequest {
            household_id: registered.household_id.clone(),
            member_id: head_id,
            status: MemberStatus::Left as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn duplicates_are_refused_naming_the_existing_household() {
    let mut app = spawn_app().await;
    let first = app.register(household(1)).await;

    // Same ID card, other head.
    let mut same_card = household(2);
    same_card.members[0].id_card_number = "ml-0000000001".into();
    let status = app
        .client
        .register_household(RegisterHouseholdRequest {
            request_id: crate::helpers::request_id(),
            household: Some(same_card),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert_eq!(
        status.get_error_details().resource_info().unwrap().resource_name,
        first.household_id
    );

    // Same head (name written differently), same birth date and village, no card.
    let mut same_head = household(1);
    same_head.members[0].given_name = "AWA1".into();
    same_head.members[0].family_name = "Traore".into();
    same_head.members[0].id_card_number = String::new();
    let status = app
        .client
        .register_household(RegisterHouseholdRequest {
            request_id: crate::helpers::request_id(),
            household: Some(same_head),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(status.message().contains(&first.household_id), "{}", status.message());
    assert_eq!(app.all_households().await.len(), 1);
}

#[tokio::test]
async fn a_request_id_makes_registration_idempotent() {
    let mut app = spawn_app().await;
    let request = RegisterHouseholdRequest {
        request_id: "tablet-7/2018-10-01/0042".into(),
        household: Some(household(1)),
    };
    let first = app
        .client
        .register_household(request.clone())
        .await
        .unwrap()
        .into_inner();
    let again = app
        .client
        .register_household(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again, "the same request gets the same answer");
    let other = app
        .client
        .register_household(RegisterHouseholdRequest {
            household: Some(household(2)),
            ..request
        })
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::AlreadyExists);
    assert_eq!(app.all_households().await.len(), 1);
}

#[tokio::test]
async fn listing_filters_and_pages_through_everything_once() {
    let mut app = spawn_app().await;
    let mut ids = Vec::new();
    for seed in 0..25 {
        let mut draft = household(seed);
        if seed % 5 == 0 {
            draft.location = Some(Location {
                commune: "segou.bla.bla".into(),
                ..Default::default()
            });
        }
        ids.push(app.register(draft).await.household_id);
    }
    // Pages of 10 visit every household once, in registration order.
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = app
            .client
            .list_households(ListHouseholdsRequest {
                page_size: 10,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        seen.extend(page.households.into_iter().map(|h| h.household_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);

    let in_bla = app
        .client
        .list_households(ListHouseholdsRequest {
            area: "segou.bla.bla".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(in_bla.households.len(), 5);
    let in_cercle = app
        .client
        .list_households(ListHouseholdsRequest {
            area: "segou.baroueli".into(),
            pmt_score_max: Some(100.0),
            eligible_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(in_cercle.households.len(), 20);
    let none_above = app
        .client
        .list_households(ListHouseholdsRequest {
            pmt_score_min: Some(90.0),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(none_above.households.is_empty());

    // A token is bound to its filter.
    let first_page = app
        .client
        .list_households(ListHouseholdsRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let misuse = app
        .client
        .list_households(ListHouseholdsRequest {
            page_size: 2,
            area: "segou.bla.bla".into(),
            page_token: first_page.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(misuse.code(), Code::InvalidArgument);
}
