//! HIMO end to end: a site validated then set up (its delay visible),
//! workers of working age from HIMO households, attendance refused on a
//! site not open and over the wage cap, a quarter's wage sheet computed from
//! attendance and published once per household for the payments service.

use chrono::{Days, NaiveDate};
use jigi_proto::activities::*;
use jigi_proto::common::{Component, Period};
use jigi_proto::events as ev;
use tonic::Code;

use crate::helpers::*;

const SITE: &str = "sanando-piste-1";

fn attendance(request_id: &str, day: NaiveDate, member_ids: &[&str]) -> RecordAttendanceRequest {
    RecordAttendanceRequest {
        request_id: request_id.into(),
        site_id: SITE.into(),
        worked_on: day.to_string(),
        member_ids: member_ids.iter().map(|m| (*m).to_owned()).collect(),
    }
}

#[tokio::test]
async fn wages_come_from_attendance_within_the_cap_on_an_open_site_only() {
    let mut app = spawn_app().await;
    let (quarter, quarter_start) = last_quarter();
    let day = |n: u64| quarter_start + Days::new(n);

    let site = app
        .activities
        .plan_work_site(PlanWorkSiteRequest {
            site_id: SITE.into(),
            site_type: SiteType::RuralRoad as i32,
            commune: SANANDO.into(),
            planned_start: (quarter_start - Days::new(10)).to_string(),
            planned_person_days: 500,
            daily_wage: money(10_000),
        })
        .await
        .unwrap()
        .into_inner()
        .site
        .unwrap();
    assert_eq!(site.status, SiteStatus::Planned as i32);

    let first = app.household(SANANDO, vec![man()], &[Component::Himo]).await;
    let second = app
        .household(SANANDO, vec![woman(), child(15)], &[Component::Himo])
        .await;
    let not_himo = app.household(SANANDO, vec![man()], &[Component::Tm]).await;
    let elsewhere = app.household(PELENGANA, vec![man()], &[Component::Himo]).await;
    let assign = |household: &jigi_proto::registry::Household, index: usize| AssignWorkerRequest {
        site_id: SITE.into(),
        household_id: household.household_id.clone(),
        member_id: member(household, index),
    };
    let too_young = app.activities.assign_worker(assign(&second, 1)).await.unwrap_err();
    assert_eq!(precondition(&too_young), "NOT_OF_WORKING_AGE");
    let not_enrolled = app.activities.assign_worker(assign(&not_himo, 0)).await.unwrap_err();
    assert_eq!(precondition(&not_enrolled), "NOT_ENROLLED");
    let outside = app.activities.assign_worker(assign(&elsewhere, 0)).await.unwrap_err();
    assert_eq!(precondition(&outside), "OUTSIDE_COMMUNE");
    app.activities.assign_worker(assign(&first, 0)).await.unwrap();
    app.activities.assign_worker(assign(&second, 0)).await.unwrap();
    // Assigning the same worker again changes nothing; a second worker of a
    // household is refused.
    app.activities.assign_worker(assign(&first, 0)).await.unwrap();
    let (w1, w2) = (member(&first, 0), member(&second, 0));

    // Not validated, then not set up: no attendance.
    let unvalidated = app
        .activities
        .record_attendance(attendance("a-0", day(5), &[&w1]))
        .await
        .unwrap_err();
    assert_eq!(precondition(&unvalidated), "SITE_NOT_VALIDATED");
    app.activities
        .validate_work_site(ValidateWorkSiteRequest {
            site_id: SITE.into(),
            validated_on: (quarter_start - Days::new(3)).to_string(),
        })
        .await
        .unwrap();
    let not_started = app
        .activities
        .record_attendance(attendance("a-0", day(5), &[&w1]))
        .await
        .unwrap_err();
    assert_eq!(precondition(&not_started), "SITE_NOT_STARTED");
    let started = app
        .activities
        .start_work_site(StartWorkSiteRequest {
            site_id: SITE.into(),
            started_on: day(5).to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .site
        .unwrap();
    assert_eq!(started.start_delay_days, 15, "set up 15 days after the planned date");
    let before = app
        .activities
        .record_attendance(attendance("a-0", day(4), &[&w1]))
        .await
        .unwrap_err();
    assert_eq!(precondition(&before), "BEFORE_SITE_START");

    // Nine days at 10,000 reach the cap of 90,000 a quarter exactly.
    for n in 0..9 {
        let recorded = app
            .activities
            .record_attendance(attendance(&format!("a-{n}"), day(5 + n), &[&w1, &w2]))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(recorded.workers, 2);
    }
    // A retry of the last sheet is its first answer.
    let retry = app
        .activities
        .record_attendance(attendance("a-8", day(13), &[&w1, &w2]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retry.site.unwrap().worked_person_days, 18);
    // The same day under another request is already recorded.
    let twice = app
        .activities
        .record_attendance(attendance("a-x", day(13), &[&w1]))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);
    // A tenth day would take the wages over the cap: refused, for the whole sheet.
    let capped = app
        .activities
        .record_attendance(attendance("a-9", day(14), &[&w1, &w2]))
        .await
        .unwrap_err();
    assert_eq!(precondition(&capped), "WAGE_CAP_EXCEEDED");
    let stranger = app
        .activities
        .record_attendance(attendance("a-s", day(14), &[&member(&not_himo, 0)]))
        .await
        .unwrap_err();
    assert_eq!(precondition(&stranger), "NOT_A_WORKER");

    // The quarter's wage sheet: days × 10,000 per household, never over the cap.
    let close = CloseWagePeriodRequest {
        site_id: SITE.into(),
        period: Some(Period { code: quarter.clone() }),
    };
    let sheet = app
        .activities
        .close_wage_period(close.clone())
        .await
        .unwrap()
        .into_inner();
    let mut expected = vec![
        (first.household_id.clone(), 9, 90_000),
        (second.household_id.clone(), 9, 90_000),
    ];
    expected.sort();
    let lines: Vec<(String, i64, i64)> = sheet
        .wages
        .iter()
        .map(|w| (w.household_id.clone(), w.days, w.amount.unwrap().fcfa))
        .collect();
    assert_eq!(lines, expected);
    assert_eq!(sheet.total, money(180_000));
    assert_eq!(sheet.cap_per_household, money(90_000));
    let again = app.activities.close_wage_period(close).await.unwrap().into_inner();
    assert_eq!(again.wages, sheet.wages, "a closed quarter keeps its sheet");
    let late = app
        .activities
        .record_attendance(attendance("a-l", day(20), &[&w1]))
        .await
        .unwrap_err();
    assert_eq!(precondition(&late), "WAGE_PERIOD_CLOSED");

    // A closed site takes no more attendance.
    app.activities
        .close_work_site(CloseWorkSiteRequest {
            site_id: SITE.into(),
            closed_on: days_ago(0),
        })
        .await
        .unwrap();
    let closed = app
        .activities
        .record_attendance(attendance("a-c", today_date(), &[&w1]))
        .await
        .unwrap_err();
    assert_eq!(precondition(&closed), "SITE_CLOSED");

    // planned, validated, started, 9 days, 2 wage lines, closed.
    let events = app.activities_events(15).await;
    let wages: Vec<ev::HimoWagesDue> = events
        .iter()
        .filter(|e| e.is::<ev::HimoWagesDue>())
        .map(|e| e.decode().unwrap())
        .collect();
    assert_eq!(wages.len(), 2);
    assert!(wages.iter().all(|w| w.days == 9 && w.amount.unwrap().fcfa == 90_000));
    assert!(wages.iter().all(|w| w.period.as_ref().unwrap().code == quarter));
    let started: ev::HimoWorkSiteStarted = events
        .iter()
        .find(|e| e.is::<ev::HimoWorkSiteStarted>())
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(started.start_delay_days, 15);
    let closed: ev::HimoWorkSiteClosed = events.last().unwrap().decode().unwrap();
    assert_eq!((closed.planned_person_days, closed.worked_person_days), (500, 18));
}

#[tokio::test]
async fn a_bad_site_names_every_bad_field() {
    let mut app = spawn_app().await;
    let status = app
        .activities
        .plan_work_site(PlanWorkSiteRequest {
            site_id: "Piste 1".into(),
            site_type: 0,
            commune: "kayes.kayes.kayes".into(),
            planned_start: "2018-13-01".into(),
            planned_person_days: 0,
            daily_wage: money(10_001),
        })
        .await
        .unwrap_err();
    let mut fields = bad_fields(&status);
    fields.sort();
    assert_eq!(
        fields,
        [
            "commune",
            "daily_wage",
            "planned_person_days",
            "planned_start",
            "site_id",
            "site_type"
        ]
    );
    let missing = app
        .activities
        .get_work_site(GetWorkSiteRequest {
            site_id: "no-such-site".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}
