//! Bad input gets INVALID_ARGUMENT naming the field, and stores nothing.

use jigi_proto::common::Location;
use jigi_proto::registry::*;

use crate::helpers::{bad_fields, household, spawn_app};

type Case = (&'static str, Box<dyn Fn(&mut HouseholdDraft)>, &'static str);

#[tokio::test]
async fn each_bad_household_is_refused_naming_its_field_and_nothing_is_stored() {
    let mut app = spawn_app().await;
    let cases: Vec<Case> = vec![
        (
            "missing head",
            Box::new(|d| d.members.retain(|m| m.relation != Relation::Head as i32)),
            "household.members",
        ),
        (
            "no members at all",
            Box::new(|d| d.members.clear()),
            "household.members",
        ),
        (
            "birth date in the future",
            Box::new(|d| d.members[1].birth_date = "2999-12-31".into()),
            "household.members[1].birth_date",
        ),
        (
            "birth date not a date",
            Box::new(|d| d.members[0].birth_date = "31/12/1980".into()),
            "household.members[0].birth_date",
        ),
        (
            "unknown commune",
            Box::new(|d| d.location.as_mut().unwrap().commune = "segou.baroueli.atlantis".into()),
            "household.location.commune",
        ),
        (
            "commune of another region",
            Box::new(|d| {
                d.location = Some(Location {
                    commune: "mopti.mopti.sio".into(),
                    ..Default::default()
                })
            }),
            "household.location.commune",
        ),
        (
            "village of another commune",
            Box::new(|d| d.location.as_mut().unwrap().village = "segou.baroueli.somo.somo".into()),
            "household.location.village",
        ),
        ("no location", Box::new(|d| d.location = None), "household.location"),
        (
            "negative livestock",
            Box::new(|d| d.traits.as_mut().unwrap().livestock.as_mut().unwrap().cattle = -3),
            "household.traits.livestock.cattle",
        ),
        (
            "negative land",
            Box::new(|d| d.traits.as_mut().unwrap().cultivated_land_ares = -1),
            "household.traits.cultivated_land_ares",
        ),
        (
            "absurd asset count",
            Box::new(|d| d.traits.as_mut().unwrap().assets.as_mut().unwrap().radios = i32::MAX),
            "household.traits.assets.radios",
        ),
        (
            "unknown enum value for sex",
            Box::new(|d| d.members[0].sex = 17),
            "household.members[0].sex",
        ),
        (
            "unspecified relation",
            Box::new(|d| d.members[1].relation = 0),
            "household.members[1].relation",
        ),
        (
            "unknown roof material",
            Box::new(|d| d.traits.as_mut().unwrap().roof = -4),
            "household.traits.roof",
        ),
        (
            "oversized name",
            Box::new(|d| d.members[0].family_name = "T".repeat(10_000)),
            "household.members[0].family_name",
        ),
        (
            "too many members",
            Box::new(|d| {
                let child = d.members[1].clone();
                d.members.extend(std::iter::repeat_n(child, 80));
            }),
            "household.members",
        ),
        (
            "malformed ID card",
            Box::new(|d| d.members[0].id_card_number = "12".into()),
            "household.members[0].id_card_number",
        ),
        (
            "malformed phone",
            Box::new(|d| d.members[0].phone = "call me".into()),
            "household.members[0].phone",
        ),
        (
            "a pregnant man",
            Box::new(|d| d.members[1].pregnant = true),
            "household.members[1].pregnant",
        ),
    ];
    for (name, spoil, field) in cases {
        let mut draft = household(1);
        spoil(&mut draft);
        let status = app
            .client
            .register_household(RegisterHouseholdRequest {
                request_id: crate::helpers::request_id(),
                household: Some(draft),
            })
            .await
            .expect_err(name);
        let fields = bad_fields(&status);
        assert_eq!(fields.first().map(String::as_str), Some(field), "{name}: {status:?}");
        assert!(
            status.message().contains(field),
            "{name}: the message names the field: {}",
            status.message()
        );
    }
    let missing = app
        .client
        .register_household(RegisterHouseholdRequest {
            request_id: crate::helpers::request_id(),
            household: None,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&missing), ["household"]);
    // Every registration carries a request ID, as the contract says: a
    // tablet retrying over a poor link must not register twice.
    let no_request_id = app
        .client
        .register_household(RegisterHouseholdRequest {
            request_id: String::new(),
            household: Some(household(1)),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&no_request_id), ["request_id"]);
    assert!(
        no_request_id.message().contains("request_id is required"),
        "{no_request_id:?}"
    );
    let bad_request_id = app
        .client
        .register_household(RegisterHouseholdRequest {
            request_id: "has spaces in it".into(),
            household: Some(household(1)),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad_request_id), ["request_id"]);

    assert!(app.all_households().await.is_empty(), "nothing stored");
    let pending = jigi_bus::outbox::pending(&app.running.as_ref().unwrap().database)
        .await
        .unwrap();
    assert_eq!(pending, 0, "no event written");
    assert_eq!(
        jigi_testkit::stream_len(app.jetstream(), &app.stream()).await,
        0,
        "no event published"
    );
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_refused_before_it_is_read() {
    let mut app = spawn_app().await;
    let mut draft = household(1);
    // 2 MiB of text in one field: the server's 1 MiB message limit stops it.
    draft.members[0].given_name = "A".repeat(2 * 1024 * 1024);
    let status = app
        .client
        .register_household(RegisterHouseholdRequest {
            request_id: crate::helpers::request_id(),
            household: Some(draft),
        })
        .await
        .unwrap_err();
    // The gRPC status table's code for a message over a limit, not tonic's OUT_OF_RANGE.
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(app.all_households().await.is_empty());
}
