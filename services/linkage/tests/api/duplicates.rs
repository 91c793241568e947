//! The same person registered in two regions is suspected nationally within
//! seconds; registrars of the regions concerned, and only they, resolve it;
//! a pair resolved as different people is never flagged again.

use std::time::Instant;

use futures::StreamExt;
use jigi_bus::{ReceivedEvent, linkage};
use jigi_common::Region;
use jigi_proto::linkage::{
    DuplicateResolved, DuplicateStatus, DuplicateSuspected, GetDuplicateRequest, ListDuplicatesRequest, MatchKind,
    Resolution, ResolveDuplicateRequest,
};
use jigi_proto::registry::{AddMemberRequest, MemberDraft, Relation};
use jigi_testkit::eventually;
use prost::Message as _;

use crate::helpers::{Country, WAIT};

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test]
async fn the_same_id_card_in_two_regions_is_suspected_within_seconds_then_resolved_by_a_registrar() {
    let mut country = Country::start(&[Region::Sikasso, Region::Mopti], &["k1"]).await;
    // Unrelated households on both sides: never suspected.
    for _ in 0..5 {
        let draft = country.region(Region::Sikasso).draft();
        country.region(Region::Sikasso).register(draft).await;
        let draft = country.region(Region::Mopti).draft();
        country.region(Region::Mopti).register(draft).await;
    }
    let draft = country
        .region(Region::Mopti)
        .draft_with_head("Aminata", "Guindo", "1984-02-11", "ML 0420-1984");
    let in_mopti = country.region(Region::Mopti).register(draft).await;
    // The same card, written differently, in another household of Sikasso
    // (its head someone else).
    let draft = country
        .region(Region::Sikasso)
        .draft_with_head("Oumar", "Sanogo", "1979-07-30", "ml04201984");
    let registered = Instant::now();
    let in_sikasso = country.region(Region::Sikasso).register(draft).await;

    let found = country.wait_duplicates(1).await;
    let latency = registered.elapsed();
    assert!(latency.as_secs() < 10, "suspected {latency:?} after the registration");
    assert_eq!(found.len(), 1, "one pair suspected, nothing else: {found:?}");
    let duplicate = &found[0];
    let mut pair = [
        (in_mopti.household_id.clone(), "mopti".to_owned()),
        (in_sikasso.household_id.clone(), "sikasso".to_owned()),
    ];
    pair.sort();
    let first = duplicate.first.as_ref().unwrap();
    let second = duplicate.second.as_ref().unwrap();
    assert_eq!(
        [
            (first.household_id.clone(), first.region.clone()),
            (second.household_id.clone(), second.region.clone())
        ],
        pair
    );
    assert_eq!(
        duplicate.matched,
        [MatchKind::IdCard as i32],
        "the card matched, not the heads"
    );
    assert_eq!(duplicate.status, DuplicateStatus::Open as i32);
    assert_eq!(duplicate.duplicate_id, format!("{}~{}", pair[0].0, pair[1].0));

    // Published for each region concerned, on the restricted subjects.
    let national = country.hub_as("national").await;
    let mut subjects = Vec::new();
    let stream = national.jetstream.get_stream(linkage::DUPLICATES_STREAM).await.unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config::default())
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap().take(2);
    while let Some(message) = messages.next().await {
        let message = message.unwrap();
        let event = ReceivedEvent::from_jetstream(&message).unwrap();
        assert_eq!(event.ce_type, "jigi.linkage.duplicate.suspected.v1");
        let suspected = DuplicateSuspected::decode(event.data.clone()).unwrap();
        assert_eq!(suspected.duplicate.unwrap().duplicate_id, duplicate.duplicate_id);
        subjects.push(event.subject);
    }
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "jigidup.mopti.linkage.duplicate.suspected",
            "jigidup.sikasso.linkage.duplicate.suspected"
        ]
    );

    // A registrar of Gao neither sees nor decides it.
    let mut gao = country.registrar(Region::Gao).await;
    let listed = gao
        .list_duplicates(ListDuplicatesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.duplicates.is_empty());
    let refused = gao
        .get_duplicate(GetDuplicateRequest {
            duplicate_id: duplicate.duplicate_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    let refused = gao
        .resolve_duplicate(ResolveDuplicateRequest {
            request_id: request_id(),
            duplicate_id: duplicate.duplicate_id.clone(),
            resolution: Resolution::DifferentPeople as i32,
            kept_household_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    // Nor does a national operator: they read, registrars decide.
    let refused = country
        .operator()
        .await
        .resolve_duplicate(ResolveDuplicateRequest {
            request_id: request_id(),
            duplicate_id: duplicate.duplicate_id.clone(),
            resolution: Resolution::DifferentPeople as i32,
            kept_household_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");

    // Bad requests name their field and change nothing.
    let mut mopti = country.registrar(Region::Mopti).await;
    let refused = mopti
        .resolve_duplicate(ResolveDuplicateRequest {
            request_id: request_id(),
            duplicate_id: duplicate.duplicate_id.clone(),
            resolution: Resolution::Moved as i32,
            kept_household_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("kept_household_id"), "{refused:?}");
    let refused = mopti
        .get_duplicate(GetDuplicateRequest {
            duplicate_id: "not-a-pair".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("duplicate_id"), "{refused:?}");

    // Mopti's registrar finds two different people (a mistyped card).
    let id = request_id();
    let resolve = ResolveDuplicateRequest {
        request_id: id.clone(),
        duplicate_id: duplicate.duplicate_id.clone(),
        resolution: Resolution::DifferentPeople as i32,
        kept_household_id: String::new(),
    };
    let resolved = mopti.resolve_duplicate(resolve.clone()).await.unwrap().into_inner();
    let resolved = resolved.duplicate.unwrap();
    assert_eq!(resolved.status, DuplicateStatus::Resolved as i32);
    assert_eq!(resolved.resolution, Resolution::DifferentPeople as i32);
    // A retry gets the same answer; another decision is refused.
    let again = mopti.resolve_duplicate(resolve).await.unwrap().into_inner();
    assert_eq!(again.duplicate.unwrap(), resolved);
    let refused = country
        .registrar(Region::Sikasso)
        .await
        .resolve_duplicate(ResolveDuplicateRequest {
            request_id: request_id(),
            duplicate_id: duplicate.duplicate_id.clone(),
            resolution: Resolution::SamePerson as i32,
            kept_household_id: in_sikasso.household_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused:?}");

    // The resolution reaches both regions' subjects too.
    let resolved_messages = eventually(WAIT, "two resolution messages", || {
        let js = national.jetstream.clone();
        async move {
            let mut info = js.get_stream(linkage::DUPLICATES_STREAM).await.ok()?;
            (info.info().await.ok()?.state.messages >= 4).then_some(())
        }
    });
    resolved_messages.await;
    let _ = DuplicateResolved::default();

    // The Sikasso household changes (a child is added): its keys are sent
    // again, and the pair resolved as different people is not flagged again.
    let indexed = country.linkage.service.consumer.handled();
    country
        .region(Region::Sikasso)
        .client
        .add_member(AddMemberRequest {
            household_id: in_sikasso.household_id.clone(),
            member: Some(MemberDraft {
                given_name: "Mariam".into(),
                family_name: "Sanogo".into(),
                sex: jigi_proto::common::Sex::Female as i32,
                birth_date: chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string(),
                relation: Relation::Child as i32,
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    country.wait_indexed(indexed + 1).await;
    let all = country.duplicates().await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status, DuplicateStatus::Resolved as i32);
}

#[tokio::test]
async fn heads_spelt_differently_match_and_namesakes_born_another_day_do_not() {
    let mut country = Country::start(&[Region::Sikasso, Region::Mopti], &["k1"]).await;
    let draft = country
        .region(Region::Mopti)
        .draft_with_head("Awa", "Traoré", "1975-03-02", "");
    let in_mopti = country.region(Region::Mopti).register(draft).await;
    // The same head, spelt as another registrar wrote it.
    let draft = country
        .region(Region::Sikasso)
        .draft_with_head("AWA ", "TRAORE", "1975-03-02", "");
    let in_sikasso = country.region(Region::Sikasso).register(draft).await;
    // A namesake born a day later, and one in another household of Mopti
    // born another year: different people.
    let draft = country
        .region(Region::Sikasso)
        .draft_with_head("Awa", "Traore", "1975-03-03", "");
    country.region(Region::Sikasso).register(draft).await;
    let draft = country
        .region(Region::Mopti)
        .draft_with_head("Awa", "Traoré", "1990-03-02", "");
    country.region(Region::Mopti).register(draft).await;

    let found = country.wait_duplicates(1).await;
    country.wait_published().await;
    country.wait_indexed(4).await;
    let found_after = country.duplicates().await;
    assert_eq!(found_after.len(), 1, "only the same head matched: {found_after:?}");
    assert_eq!(found[0].matched, [MatchKind::Head as i32]);
    let ids = [
        found[0].first.as_ref().unwrap().household_id.clone(),
        found[0].second.as_ref().unwrap().household_id.clone(),
    ];
    assert!(ids.contains(&in_mopti.household_id) && ids.contains(&in_sikasso.household_id));
}
