//! AGR end to end: a business plan, a first tranche, the second refused
//! until the follow-up visit, then released; never more than the plan;
//! each tranche published once for the payments service, a retry changing
//! nothing.

use jigi_proto::activities::*;
use jigi_proto::common::Component;
use jigi_proto::events as ev;
use tonic::Code;

use crate::helpers::*;

fn tranche(request_id: &str, household_id: &str, amount: i64, days_back: u64) -> ReleaseGrantTrancheRequest {
    ReleaseGrantTrancheRequest {
        request_id: request_id.into(),
        household_id: household_id.into(),
        amount: money(amount),
        released_on: days_ago(days_back),
    }
}

#[tokio::test]
async fn a_second_tranche_waits_for_the_follow_up_visit_and_the_grant_is_never_exceeded() {
    let mut app = spawn_app().await;
    let household = app.household(SANANDO, vec![woman()], &[Component::Agr]).await;
    let id = household.household_id.clone();
    let plan = app
        .activities
        .record_business_plan(RecordBusinessPlanRequest {
            household_id: id.clone(),
            activity_type: ActivityType::SmallLivestock as i32,
            planned_grant: money(150_000),
            approved_on: days_ago(300),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(plan.location.unwrap().commune, SANANDO);

    let first = app
        .activities
        .release_grant_tranche(tranche("t-1", &id, 75_000, 250))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.tranche.as_ref().unwrap().number, 1);
    // The same request again returns the same tranche.
    let retry = app
        .activities
        .release_grant_tranche(tranche("t-1", &id, 75_000, 250))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retry, first);
    // The same ID for another amount is refused.
    let reused = app
        .activities
        .release_grant_tranche(tranche("t-1", &id, 70_000, 250))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists);

    // No visit yet: the second tranche is refused.
    let refused = app
        .activities
        .release_grant_tranche(tranche("t-2", &id, 75_000, 200))
        .await
        .unwrap_err();
    assert_eq!(precondition(&refused), "FOLLOW_UP_VISIT_MISSING");
    // The month-3 visit is not due before three months after the first tranche.
    let early = app
        .activities
        .record_follow_up_visit(RecordFollowUpVisitRequest {
            household_id: id.clone(),
            month: 3,
            visited_on: days_ago(200),
            status: ActivityStatus::Running as i32,
            stop_reason: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(precondition(&early), "VISIT_NOT_DUE");
    let visited = app
        .activities
        .record_follow_up_visit(RecordFollowUpVisitRequest {
            household_id: id.clone(),
            month: 3,
            visited_on: days_ago(150),
            status: ActivityStatus::Running as i32,
            stop_reason: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(visited.visits.len(), 1);

    // More than what is left of the plan is refused; what is left is released.
    let over = app
        .activities
        .release_grant_tranche(tranche("t-2", &id, 75_001, 140))
        .await
        .unwrap_err();
    assert_eq!(precondition(&over), "GRANT_EXCEEDED");
    let second = app
        .activities
        .release_grant_tranche(tranche("t-3", &id, 75_000, 140))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.tranche.as_ref().unwrap().number, 2);
    assert_eq!(second.plan.as_ref().unwrap().released, money(150_000));

    // Plan, two tranches, one visit: four events, the tranches with their
    // amounts and quarters for the payments service.
    let events = app.activities_events(4).await;
    let types: Vec<&str> = events.iter().map(|e| e.ce_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "jigi.activities.business_plan.approved.v1",
            "jigi.activities.grant_tranche.released.v1",
            "jigi.activities.follow_up.visited.v1",
            "jigi.activities.grant_tranche.released.v1",
        ]
    );
    let released: Vec<ev::AgrGrantTrancheReleased> =
        [&events[1], &events[3]].iter().map(|e| e.decode().unwrap()).collect();
    assert_eq!(released.iter().map(|t| t.amount.unwrap().fcfa).sum::<i64>(), 150_000);
    assert_eq!(released[0].tranche_id, first.tranche.unwrap().tranche_id);
    assert_eq!(
        released[1].period.as_ref().unwrap().code,
        jigi_common::Period::quarter_of(today_date() - chrono::Days::new(140)).to_string()
    );
    assert!(released.iter().all(|t| t.household_id == id));
}

#[tokio::test]
async fn plans_are_for_agr_households_and_a_stopped_activity_is_funded_no_more() {
    let mut app = spawn_app().await;
    let tm_only = app.household(SANANDO, vec![woman()], &[Component::Tm]).await;
    let plan = |household_id: &str| RecordBusinessPlanRequest {
        household_id: household_id.into(),
        activity_type: ActivityType::PettyTrade as i32,
        planned_grant: money(100_000),
        approved_on: days_ago(300),
    };
    let refused = app
        .activities
        .record_business_plan(plan(&tm_only.household_id))
        .await
        .unwrap_err();
    assert_eq!(precondition(&refused), "NOT_ENROLLED");
    let unknown = app.activities.record_business_plan(plan(NO_SUCH_ID)).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let agr = app.household(SANANDO, vec![woman()], &[Component::Agr]).await;
    let id = agr.household_id.clone();
    app.activities.record_business_plan(plan(&id)).await.unwrap();
    // A second, different plan for the same household already exists.
    let other = RecordBusinessPlanRequest {
        planned_grant: money(120_000),
        ..plan(&id)
    };
    assert_eq!(
        app.activities.record_business_plan(other).await.unwrap_err().code(),
        Code::AlreadyExists
    );
    // A visit before any grant has nothing to follow.
    let nothing = app
        .activities
        .record_follow_up_visit(RecordFollowUpVisitRequest {
            household_id: id.clone(),
            month: 3,
            visited_on: days_ago(1),
            status: ActivityStatus::Running as i32,
            stop_reason: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(precondition(&nothing), "NO_GRANT_YET");
    app.activities
        .release_grant_tranche(tranche("s-1", &id, 50_000, 250))
        .await
        .unwrap();
    // A stopped activity needs its reason; recorded, it stops the grant.
    let bad = app
        .activities
        .record_follow_up_visit(RecordFollowUpVisitRequest {
            household_id: id.clone(),
            month: 4,
            visited_on: days_ago(100),
            status: ActivityStatus::Stopped as i32,
            stop_reason: 0,
        })
        .await
        .unwrap_err();
    let mut fields = bad_fields(&bad);
    fields.sort();
    assert_eq!(fields, ["month", "stop_reason"]);
    app.activities
        .record_follow_up_visit(RecordFollowUpVisitRequest {
            household_id: id.clone(),
            month: 3,
            visited_on: days_ago(100),
            status: ActivityStatus::Stopped as i32,
            stop_reason: StopReason::LivestockLoss as i32,
        })
        .await
        .unwrap();
    let stopped = app
        .activities
        .release_grant_tranche(tranche("s-2", &id, 50_000, 90))
        .await
        .unwrap_err();
    assert_eq!(precondition(&stopped), "ACTIVITY_STOPPED");
    let plan = app
        .activities
        .get_business_plan(GetBusinessPlanRequest { household_id: id })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!((plan.tranches.len(), plan.released), (1, money(50_000)));
}
