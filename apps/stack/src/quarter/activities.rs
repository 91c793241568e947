//! The quarter's accompanying measures, AGR and HIMO in one region, through
//! the activities service as the NGOs, the AGR officers and the site
//! foremen would record them:
//!
//! - MA: one session per commune (themes in turn) with every member of the
//!   commune's MA households (at most the session's 2,000);
//! - AGR: a business plan per AGR household (activity types in turn, a
//!   150,000 FCFA grant), its first tranche of 75,000 released;
//! - HIMO: one site per commune, planned three weeks before today (so its
//!   set-up delay shows), validated and set up today, the commune's HIMO
//!   workers assigned, a day of work recorded, the quarter's wages closed.
//!
//! The grants and wages are then paid by the payments service in cycles of
//! their own kind (see [`super::payments::pay`]).

use std::collections::BTreeMap;

use chrono::Days;
use jigi_proto::activities::{
    ActivityType, AssignWorkerRequest, CloseWagePeriodRequest, PlanWorkSiteRequest, RecordAttendanceRequest,
    RecordBusinessPlanRequest, RecordSessionRequest, ReleaseGrantTrancheRequest, SessionTheme, SiteType,
    StartWorkSiteRequest, ValidateWorkSiteRequest,
};
use jigi_proto::common::{Money, Period};
use tonic::Code;

use super::registry::ActivityHousehold;
use super::{QuarterPlan, wait_for};
use crate::clients::{ActivitiesClient, service_error};
use crate::progress::Bars;

/// The planned grant of every AGR household, and its first tranche.
pub const GRANT: i64 = 150_000;
pub const FIRST_TRANCHE: i64 = 75_000;
/// The daily wage of the demo's sites.
pub const DAILY_WAGE: i64 = 1_500;
/// Days between a site's planned set-up and today.
pub const SITE_DELAY_DAYS: u64 = 21;
/// Most people at one session.
const SESSION_PEOPLE: usize = 2_000;

/// What was recorded.
#[derive(Debug, Default, Clone)]
pub struct Done {
    pub ma_sessions: i64,
    pub ma_people: i64,
    pub agr_plans: i64,
    /// Households with a tranche released (to be paid).
    pub agr_households: Vec<String>,
    pub agr_released_fcfa: i64,
    pub himo_sites: i64,
    pub himo_person_days: i64,
    /// Households with wages due (to be paid).
    pub himo_households: Vec<String>,
    pub himo_wages_fcfa: i64,
}

/// Whether a refusal only says the service has not learnt of the
/// registry's enrolments yet (the driver then waits and sends again).
fn not_known_yet(status: &tonic::Status) -> bool {
    status.code() == Code::NotFound
        || (status.code() == Code::FailedPrecondition && status.message().contains("not enrolled"))
}

/// Sends `call` until the activities service knows every household it
/// names; any other refusal is an error.
async fn once_known<T, F, Fut>(what: &str, mut call: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    wait_for(
        &format!("the activities service learning of the households ({what})"),
        || {
            let call = call();
            async move {
                match call.await {
                    Ok(answer) => Ok(Some(answer.into_inner())),
                    Err(status) if not_known_yet(&status) => Ok(None),
                    Err(status) => Err(service_error(what, status)),
                }
            }
        },
    )
    .await
}

pub async fn run(
    client: ActivitiesClient,
    plan: &QuarterPlan,
    bars: &Bars,
    households: &[ActivityHousehold],
) -> anyhow::Result<Done> {
    let region = plan.region;
    let today = plan.date();
    let mut done = Done::default();
    let mut by_commune: BTreeMap<&str, Vec<&ActivityHousehold>> = BTreeMap::new();
    for household in households {
        by_commune
            .entry(household.commune.as_str())
            .or_default()
            .push(household);
    }
    let agr: Vec<&ActivityHousehold> = households.iter().filter(|h| h.agr).collect();
    let steps = by_commune.len() as u64 * 2 + agr.len() as u64;
    let bar = bars.bar(region.slug(), "MA sessions, AGR grants, HIMO sites", steps, "steps");

    // MA: a session per commune, themes in turn.
    let themes = [
        SessionTheme::InfantFeeding,
        SessionTheme::EarlyChildhood,
        SessionTheme::Hygiene,
        SessionTheme::IncomeGenerating,
    ];
    for (index, (commune, families)) in by_commune.iter().enumerate() {
        let member_ids: Vec<String> = families
            .iter()
            .flat_map(|h| h.people.iter().cloned())
            .take(SESSION_PEOPLE)
            .collect();
        if member_ids.is_empty() {
            continue;
        }
        let village = jigi_common::Geography::built_in()
            .areas(Some(commune))
            .find(|a| a.level == jigi_common::AreaLevel::Village)
            .map(|a| a.code.clone());
        let Some(village) = village else { continue };
        let request = RecordSessionRequest {
            request_id: format!("ma-{commune}-{today}"),
            commune: (*commune).to_owned(),
            village,
            theme: themes[index % themes.len()] as i32,
            held_on: today.clone(),
            facilitator: "ong-gaas-mali".into(),
            member_ids,
        };
        let session = once_known(&format!("recording the MA session of {commune}"), || {
            let (mut client, request) = (client.clone(), request.clone());
            async move { client.record_session(request).await }
        })
        .await?
        .session
        .unwrap_or_default();
        done.ma_sessions += 1;
        done.ma_people += session.people;
        bar.inc(1);
    }

    // AGR: a plan and its first tranche per AGR household.
    let activity_types = [
        ActivityType::SmallLivestock,
        ActivityType::PettyTrade,
        ActivityType::MarketGardening,
    ];
    for (index, household) in agr.iter().enumerate() {
        let request = RecordBusinessPlanRequest {
            household_id: household.household_id.clone(),
            activity_type: activity_types[index % activity_types.len()] as i32,
            planned_grant: Some(Money { fcfa: GRANT }),
            approved_on: today.clone(),
        };
        once_known("recording a business plan", || {
            let (mut client, request) = (client.clone(), request.clone());
            async move { client.record_business_plan(request).await }
        })
        .await?;
        done.agr_plans += 1;
        let mut agr_client = client.clone();
        agr_client
            .release_grant_tranche(ReleaseGrantTrancheRequest {
                request_id: format!("agr-{}-1", household.household_id),
                household_id: household.household_id.clone(),
                amount: Some(Money { fcfa: FIRST_TRANCHE }),
                released_on: today.clone(),
            })
            .await
            .map_err(|status| service_error("releasing a grant tranche", status))?;
        done.agr_households.push(household.household_id.clone());
        done.agr_released_fcfa += FIRST_TRANCHE;
        bar.inc(1);
    }

    // HIMO: a site per commune, its workers, a day of work, the quarter's wages.
    let planned_start = plan
        .today
        .checked_sub_days(Days::new(SITE_DELAY_DAYS))
        .unwrap_or(plan.today)
        .to_string();
    for (commune, families) in &by_commune {
        let workers: Vec<(&str, &str)> = families
            .iter()
            .filter_map(|h| h.worker.as_deref().map(|w| (h.household_id.as_str(), w)))
            .collect();
        if workers.is_empty() {
            bar.inc(1);
            continue;
        }
        let site_id = format!(
            "{}-piste-{}",
            commune.rsplit('.').next().unwrap_or("site"),
            plan.period()
        )
        .to_ascii_lowercase();
        let mut c = client.clone();
        c.plan_work_site(PlanWorkSiteRequest {
            site_id: site_id.clone(),
            site_type: SiteType::RuralRoad as i32,
            commune: (*commune).to_owned(),
            planned_start: planned_start.clone(),
            planned_person_days: 60 * workers.len() as i64,
            daily_wage: Some(Money { fcfa: DAILY_WAGE }),
        })
        .await
        .map_err(|status| service_error("planning a HIMO site", status))?;
        c.validate_work_site(ValidateWorkSiteRequest {
            site_id: site_id.clone(),
            validated_on: today.clone(),
        })
        .await
        .map_err(|status| service_error("validating a HIMO site", status))?;
        c.start_work_site(StartWorkSiteRequest {
            site_id: site_id.clone(),
            started_on: today.clone(),
        })
        .await
        .map_err(|status| service_error("setting a HIMO site up", status))?;
        for (household_id, member_id) in &workers {
            let request = AssignWorkerRequest {
                site_id: site_id.clone(),
                household_id: (*household_id).to_owned(),
                member_id: (*member_id).to_owned(),
            };
            once_known("assigning a HIMO worker", || {
                let (mut client, request) = (client.clone(), request.clone());
                async move { client.assign_worker(request).await }
            })
            .await?;
        }
        let recorded = c
            .record_attendance(RecordAttendanceRequest {
                request_id: format!("{site_id}-{today}"),
                site_id: site_id.clone(),
                worked_on: today.clone(),
                member_ids: workers.iter().map(|(_, m)| (*m).to_owned()).collect(),
            })
            .await
            .map_err(|status| service_error("recording a day of HIMO work", status))?
            .into_inner();
        let sheet = c
            .close_wage_period(CloseWagePeriodRequest {
                site_id: site_id.clone(),
                period: Some(Period {
                    code: plan.period().to_string(),
                }),
            })
            .await
            .map_err(|status| service_error("closing a HIMO wage sheet", status))?
            .into_inner();
        done.himo_sites += 1;
        done.himo_person_days += recorded.workers;
        done.himo_households
            .extend(sheet.wages.iter().map(|w| w.household_id.clone()));
        done.himo_wages_fcfa += sheet.total.unwrap_or_default().fcfa;
        bar.inc(1);
    }
    bar.finish_with_message("MA, AGR and HIMO recorded");
    Ok(done)
}
