//! Bulk registration through the client-streaming import.

use jigi_proto::registry::*;

use crate::helpers::{household, spawn_app};

fn rows(drafts: Vec<HouseholdDraft>) -> impl tokio_stream::Stream<Item = ImportHouseholdsRequest> {
    tokio_stream::iter(
        drafts
            .into_iter()
            .enumerate()
            .map(|(index, draft)| ImportHouseholdsRequest {
                row: index as i64 + 2, // CSV line numbers: line 1 is the header
                household: Some(draft),
            }),
    )
}

#[tokio::test]
async fn ten_thousand_households_in_one_stream_with_duplicates_reported_per_row() {
    let mut app = spawn_app().await;
    let already = app.register(household(5)).await;
    let mut drafts: Vec<HouseholdDraft> = (0..10_000).map(household).collect();
    // Row 5 (line 7) repeats the household registered before the import;
    // rows 9,000.. repeat rows 0..100 of the same import.
    for (seed, draft) in drafts[9_000..9_100].iter_mut().enumerate() {
        *draft = household(seed as u32);
    }
    let response = app.client.import_households(rows(drafts)).await.unwrap().into_inner();

    assert_eq!(response.results.len(), 10_000);
    assert_eq!(response.registered, 10_000 - 1 - 100);
    assert_eq!(response.duplicates, 101);
    assert_eq!(response.invalid, 0);
    let stored_duplicate = &response.results[5];
    assert_eq!(stored_duplicate.row, 7);
    assert_eq!(stored_duplicate.outcome, ImportRowOutcome::Duplicate as i32);
    assert_eq!(stored_duplicate.household_id, already.household_id);
    let repeat = &response.results[9_000];
    assert_eq!(repeat.outcome, ImportRowOutcome::Duplicate as i32);
    assert_eq!(repeat.duplicate_of_row, 2, "row 9,000 repeats the first row (line 2)");
    assert_eq!(repeat.household_id, response.results[0].household_id);

    // All stored, all published.
    assert_eq!(app.all_households().await.len(), 10_000 - 100);
    let events = app.events(10_000 - 100).await;
    assert!(
        events
            .iter()
            .all(|e| e.ce_type == "jigi.registry.household.registered.v1")
    );
}

#[tokio::test]
async fn bad_rows_are_reported_and_good_rows_stored() {
    let mut app = spawn_app().await;
    let mut drafts: Vec<HouseholdDraft> = (0..6).map(household).collect();
    drafts[1].members[0].birth_date = "2999-01-01".into();
    drafts[3].location.as_mut().unwrap().commune = "segou.nowhere.nothing".into();
    drafts[4].members.retain(|m| m.relation != Relation::Head as i32);
    let response = app.client.import_households(rows(drafts)).await.unwrap().into_inner();
    let outcomes: Vec<(i64, i32, String)> = response
        .results
        .iter()
        .map(|r| (r.row, r.outcome, r.field.clone()))
        .collect();
    let (ok, bad) = (ImportRowOutcome::Registered as i32, ImportRowOutcome::Invalid as i32);
    assert_eq!(
        outcomes,
        [
            (2, ok, String::new()),
            (3, bad, "household.members[0].birth_date".into()),
            (4, ok, String::new()),
            (5, bad, "household.location.commune".into()),
            (6, bad, "household.members".into()),
            (7, ok, String::new()),
        ]
    );
    assert_eq!((response.registered, response.invalid), (3, 3));
    assert_eq!(app.all_households().await.len(), 3);
    app.events(3).await;
}
