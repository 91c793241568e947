//! MA end to end: a session counted by sex and age group, published without
//! personal data, the households that missed it listed for follow-up, and
//! every refused sheet changing nothing.

use jigi_proto::activities::*;
use jigi_proto::common::{Component, Sex};
use jigi_proto::events as ev;
use tonic::Code;

use crate::helpers::*;

fn session(request_id: &str, member_ids: Vec<String>) -> RecordSessionRequest {
    RecordSessionRequest {
        request_id: request_id.into(),
        commune: SANANDO.into(),
        village: SANANDO_VILLAGE.into(),
        theme: SessionTheme::InfantFeeding as i32,
        held_on: days_ago(10),
        facilitator: "ong-gaas-mali".into(),
        member_ids,
    }
}

#[tokio::test]
async fn a_session_counts_people_by_sex_and_age_group_and_lists_who_missed_it() {
    let mut app = spawn_app().await;
    let family = app
        .household(SANANDO, vec![woman(), man(), child(3)], &[Component::Ma])
        .await;
    let neighbours = app
        .household(SANANDO, vec![woman()], &[Component::Ma, Component::Tm])
        .await;
    let absent = app.household(SANANDO, vec![man()], &[Component::Ma]).await;
    let tm_only = app.household(SANANDO, vec![woman()], &[Component::Tm]).await;

    let attendees = vec![member(&family, 0), member(&family, 2), member(&neighbours, 0)];
    let recorded = app
        .activities
        .record_session(session("session-1", attendees.clone()))
        .await
        .unwrap()
        .into_inner()
        .session
        .unwrap();
    assert_eq!((recorded.households, recorded.people), (2, 3));
    let count = |sex: Sex, group: AgeGroup| {
        recorded
            .attendance
            .iter()
            .find(|c| c.sex == sex as i32 && c.age_group == group as i32)
            .map_or(0, |c| c.people)
    };
    assert_eq!(count(Sex::Female, AgeGroup::AgeGroup18To59), 2);
    assert_eq!(count(Sex::Female, AgeGroup::Under5), 1);
    assert_eq!(count(Sex::Male, AgeGroup::AgeGroup18To59), 0);

    // The same sheet sent again is the same session, not a second one.
    let again = app
        .activities
        .record_session(session("session-1", attendees.clone()))
        .await
        .unwrap()
        .into_inner()
        .session
        .unwrap();
    assert_eq!(again.session_id, recorded.session_id);

    // The household that sent nobody is the one to visit; the TM-only
    // household is not an MA household at all.
    let missed = app
        .activities
        .list_missed_households(ListMissedHouseholdsRequest {
            commune: SANANDO.into(),
            from: days_ago(30),
            to: days_ago(0),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(missed.sessions, 1);
    assert_eq!(missed.household_ids, vec![absent.household_id.clone()]);

    // One event, with registry IDs, sex and age group only.
    let events = app.activities_events(1).await;
    assert_eq!(events[0].ce_type, "jigi.activities.session.held.v1");
    assert_eq!(events[0].subject, "jigi.segou.activities.session.held");
    let held: ev::MaSessionHeld = events[0].decode().unwrap();
    assert_eq!(held.session_id, recorded.session_id);
    assert_eq!(held.theme, ev::MaSessionTheme::InfantFeeding as i32);
    assert_eq!(held.attendees.len(), 3);
    assert!(held.attendees.iter().all(|a| a.age_group != 0 && a.sex != 0));
    let text = format!("{held:?}");
    for personal in ["Awa", "Traoré", "Moussa", "+223"] {
        assert!(!text.contains(personal), "the event carries {personal}");
    }

    // A member of a household not enrolled in MA refuses the whole sheet.
    let refused = app
        .activities
        .record_session(session("session-2", vec![member(&absent, 0), member(&tm_only, 0)]))
        .await
        .unwrap_err();
    assert_eq!(precondition(&refused), "NOT_ENROLLED");
    let unknown = app
        .activities
        .record_session(session("session-3", vec![NO_SUCH_ID.into()]))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let still = app
        .activities
        .list_missed_households(ListMissedHouseholdsRequest {
            commune: SANANDO.into(),
            from: days_ago(30),
            to: days_ago(0),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (still.sessions, still.household_ids.len()),
        (1, 1),
        "refused sheets changed nothing"
    );
}

#[tokio::test]
async fn a_bad_session_sheet_names_every_bad_field() {
    let mut app = spawn_app().await;
    // Listed twice: only the second entry is wrong.
    const SOMEONE: &str = "0190c1a2-7b3c-7d4e-8f50-123456789abc";
    let status = app
        .activities
        .record_session(RecordSessionRequest {
            request_id: "bad-1".into(),
            commune: "segou.nowhere".into(),
            village: String::new(),
            theme: 0,
            held_on: days_ago(0).replace('-', "/"),
            facilitator: "ONG GAAS".into(),
            member_ids: vec![SOMEONE.into(), SOMEONE.into()],
        })
        .await
        .unwrap_err();
    let mut fields = bad_fields(&status);
    fields.sort();
    assert_eq!(
        fields,
        ["commune", "facilitator", "held_on", "member_ids[1]", "theme", "village"]
    );
    let status = app
        .activities
        .record_session(RecordSessionRequest {
            request_id: String::new(),
            ..session("", vec!["m1".into()])
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["request_id"]);
    let future = app
        .activities
        .list_missed_households(ListMissedHouseholdsRequest {
            commune: SANANDO.into(),
            from: days_ago(0),
            to: days_ago(5),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&future), ["to"]);
}
