//! Turning what a client sends into valid domain values (wire → domain).
//! Every problem is reported with the path of its field, all at once, and
//! nothing is built unless everything is valid; the commands of
//! [`crate::app`] receive only what is built here. The checks shared by
//! several fields are the domain's ([`crate::domain::validate`]).

use chrono::NaiveDate;
use jigi_common::{Fcfa, FieldError, HouseholdId, MemberId, Period, Problems};
use jigi_proto::activities as pa;
use jigi_proto::common as pc;

use crate::domain::agr::{ActivityType, FOLLOW_UP_MONTHS, MAX_GRANT, NewPlan, StopReason, TrancheRelease, Visit};
use crate::domain::himo::{
    AttendanceSheet, MAX_DAILY_WAGE, MAX_PLANNED_PERSON_DAYS, MAX_WORKERS_PER_DAY, Site, SiteStatus, SiteType,
    WorkerAssignment,
};
use crate::domain::ma::{MAX_ATTENDEES, NewSession, Theme};
use crate::domain::validate::{Rules, code, member_ids};

type Parsed<T> = Result<T, Vec<FieldError>>;

/// `RecordBusinessPlan`.
pub fn business_plan(rules: &Rules<'_>, request: &pa::RecordBusinessPlanRequest) -> Parsed<NewPlan> {
    let mut problems = Problems::new();
    let household_id = problems.check("household_id", HouseholdId::parse(&request.household_id));
    let activity_type = ActivityType::from_wire(request.activity_type);
    if activity_type.is_none() {
        problems.add("activity_type", "is required: one of the ActivityType values");
    }
    let planned_grant = problems.check("planned_grant", amount(request.planned_grant.as_ref(), MAX_GRANT));
    let approved_on = rules.past_date(&request.approved_on, "approved_on", &mut problems);
    problems.into_result(|| NewPlan {
        household_id: household_id.expect("checked"),
        activity_type: activity_type.expect("checked"),
        planned_grant: planned_grant.expect("checked"),
        approved_on: approved_on.expect("checked"),
    })
}

/// `ReleaseGrantTranche`.
pub fn tranche_release(rules: &Rules<'_>, request: &pa::ReleaseGrantTrancheRequest) -> Parsed<TrancheRelease> {
    let mut problems = Problems::new();
    let household_id = problems.check("household_id", HouseholdId::parse(&request.household_id));
    let amount = problems.check("amount", amount(request.amount.as_ref(), MAX_GRANT));
    let released_on = rules.past_date(&request.released_on, "released_on", &mut problems);
    problems.into_result(|| TrancheRelease {
        household_id: household_id.expect("checked"),
        amount: amount.expect("checked"),
        released_on: released_on.expect("checked"),
    })
}

/// `RecordFollowUpVisit`: the household and what the visit found.
pub fn follow_up_visit(rules: &Rules<'_>, request: &pa::RecordFollowUpVisitRequest) -> Parsed<(HouseholdId, Visit)> {
    let mut problems = Problems::new();
    let household_id = problems.check("household_id", HouseholdId::parse(&request.household_id));
    let month = u32::try_from(request.month)
        .ok()
        .filter(|m| FOLLOW_UP_MONTHS.contains(m));
    if month.is_none() {
        problems.add(
            "month",
            format!("{} is not a follow-up month: 3, 6 or 12", request.month),
        );
    }
    let visited_on = rules.past_date(&request.visited_on, "visited_on", &mut problems);
    let stopped = match pa::ActivityStatus::try_from(request.status) {
        Ok(pa::ActivityStatus::Running) => {
            if request.stop_reason != 0 {
                problems.add("stop_reason", "must be unset when the activity is running");
            }
            Some(None)
        }
        Ok(pa::ActivityStatus::Stopped) => match StopReason::from_wire(request.stop_reason) {
            Some(reason) => Some(Some(reason)),
            None => {
                problems.add("stop_reason", "is required when the activity has stopped");
                None
            }
        },
        _ => {
            problems.add("status", "is required: RUNNING or STOPPED");
            None
        }
    };
    problems.into_result(|| {
        (
            household_id.expect("checked"),
            Visit {
                month: month.expect("checked"),
                visited_on: visited_on.expect("checked"),
                stopped: stopped.expect("checked"),
            },
        )
    })
}

/// `PlanWorkSite`: a new site, planned.
pub fn work_site(rules: &Rules<'_>, request: &pa::PlanWorkSiteRequest) -> Parsed<Site> {
    let mut problems = Problems::new();
    let site_id = problems.check("site_id", code(&request.site_id));
    let site_type = SiteType::from_wire(request.site_type);
    if site_type.is_none() {
        problems.add("site_type", "is required: one of the SiteType values");
    }
    let place = rules.place(&request.commune, None, &mut problems);
    let planned_start = rules.date(&request.planned_start, "planned_start", &mut problems);
    if !(1..=MAX_PLANNED_PERSON_DAYS).contains(&request.planned_person_days) {
        problems.add(
            "planned_person_days",
            format!(
                "{} is not between 1 and {MAX_PLANNED_PERSON_DAYS}",
                request.planned_person_days
            ),
        );
    }
    let wage = problems.check("daily_wage", amount(request.daily_wage.as_ref(), MAX_DAILY_WAGE));
    problems.into_result(|| Site {
        site_id: site_id.expect("checked"),
        site_type: site_type.expect("checked"),
        location: place.expect("checked"),
        status: SiteStatus::Planned,
        planned_start: planned_start.expect("checked"),
        validated_on: None,
        started_on: None,
        closed_on: None,
        planned_person_days: request.planned_person_days,
        daily_wage: wage.expect("checked"),
    })
}

/// A site and the day something happened to it (`ValidateWorkSite`,
/// `StartWorkSite`, `CloseWorkSite`); `field` names the day.
pub fn site_day(rules: &Rules<'_>, site_id: &str, day: &str, field: &str) -> Parsed<(String, NaiveDate)> {
    let mut problems = Problems::new();
    let site_id = problems.check("site_id", code(site_id));
    let on = rules.past_date(day, field, &mut problems);
    problems.into_result(|| (site_id.expect("checked"), on.expect("checked")))
}

/// A site's ID.
pub fn site_id(site_id: &str) -> Parsed<String> {
    code(site_id).map_err(|e| vec![FieldError::new("site_id", e)])
}

/// `AssignWorker`.
pub fn worker_assignment(request: &pa::AssignWorkerRequest) -> Parsed<WorkerAssignment> {
    let mut problems = Problems::new();
    let household_id = problems.check("household_id", HouseholdId::parse(&request.household_id));
    let member_id = problems.check("member_id", MemberId::parse(&request.member_id));
    let site_id = problems.check("site_id", code(&request.site_id));
    problems.into_result(|| WorkerAssignment {
        site_id: site_id.expect("checked"),
        household_id: household_id.expect("checked"),
        member_id: member_id.expect("checked"),
    })
}

/// `RecordAttendance`.
pub fn attendance_sheet(rules: &Rules<'_>, request: &pa::RecordAttendanceRequest) -> Parsed<AttendanceSheet> {
    let mut problems = Problems::new();
    let worked_on = rules.past_date(&request.worked_on, "worked_on", &mut problems);
    let member_ids = member_ids(&request.member_ids, MAX_WORKERS_PER_DAY, &mut problems);
    let site_id = problems.check("site_id", code(&request.site_id));
    problems.into_result(|| AttendanceSheet {
        site_id: site_id.expect("checked"),
        worked_on: worked_on.expect("checked"),
        member_ids,
    })
}

/// `CloseWagePeriod`: the site and a quarter that has begun.
pub fn wage_period(rules: &Rules<'_>, request: &pa::CloseWagePeriodRequest) -> Parsed<(String, Period)> {
    let mut problems = Problems::new();
    let period = problems.check("period", quarter(request.period.as_ref()));
    if let Some(period) = period
        && period.start() > rules.today
    {
        problems.add("period", format!("{period} has not begun"));
    }
    let site_id = problems.check("site_id", code(&request.site_id));
    problems.into_result(|| (site_id.expect("checked"), period.expect("checked")))
}

/// `RecordSession`.
pub fn session(rules: &Rules<'_>, request: &pa::RecordSessionRequest) -> Parsed<NewSession> {
    let mut problems = Problems::new();
    let place = rules.place(&request.commune, Some(&request.village), &mut problems);
    let theme = Theme::from_wire(request.theme);
    if theme.is_none() {
        problems.add("theme", "is required: one of the SessionTheme values");
    }
    let held_on = rules.past_date(&request.held_on, "held_on", &mut problems);
    let facilitator = problems.check("facilitator", code(&request.facilitator));
    let member_ids = member_ids(&request.member_ids, MAX_ATTENDEES, &mut problems);
    problems.into_result(|| NewSession {
        location: place.expect("checked"),
        theme: theme.expect("checked"),
        held_on: held_on.expect("checked"),
        facilitator: facilitator.expect("checked"),
        member_ids,
    })
}

/// `ListMissedHouseholds`: a commune of the region and two days in order.
pub fn missed_period(
    rules: &Rules<'_>,
    request: &pa::ListMissedHouseholdsRequest,
) -> Parsed<(String, NaiveDate, NaiveDate)> {
    let mut problems = Problems::new();
    let place = rules.place(&request.commune, None, &mut problems);
    let from = rules.date(&request.from, "from", &mut problems);
    let to = rules.date(&request.to, "to", &mut problems);
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        problems.add("to", format!("{to} is before from ({from})"));
    }
    problems.into_result(|| {
        (
            place.expect("checked").commune,
            from.expect("checked"),
            to.expect("checked"),
        )
    })
}

/// A quarter, `YYYYQn`.
pub fn quarter(period: Option<&pc::Period>) -> Result<Period, String> {
    let code = period.map(|p| p.code.as_str()).unwrap_or("");
    if code.is_empty() {
        return Err("is required".into());
    }
    match code.parse::<Period>() {
        Ok(period @ Period::Quarter { .. }) => Ok(period),
        Ok(Period::Year(_)) => Err(format!("{code} is a year; a quarter like 2018Q3 is expected")),
        Err(err) => Err(err.to_string()),
    }
}

/// An amount from 1 to `max`.
pub fn amount(money: Option<&pc::Money>, max: Fcfa) -> Result<Fcfa, String> {
    let francs = money.map_or(0, |m| m.fcfa);
    if francs <= 0 {
        return Err("must be at least 1 FCFA".into());
    }
    if francs > max.francs() {
        return Err(format!(
            "{} is more than the largest accepted, {max}",
            Fcfa::new(francs)
        ));
    }
    Ok(Fcfa::new(francs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_and_bad_ones_named() {
        assert!(quarter(Some(&pc::Period { code: "2018Q3".into() })).is_ok());
        assert!(quarter(Some(&pc::Period { code: "2018".into() })).is_err());
        assert!(quarter(None).is_err());
        assert_eq!(
            amount(Some(&pc::Money { fcfa: 1_500 }), Fcfa::new(10_000)),
            Ok(Fcfa::new(1_500))
        );
        assert!(amount(Some(&pc::Money { fcfa: 0 }), Fcfa::new(10_000)).is_err());
        assert!(amount(Some(&pc::Money { fcfa: 10_001 }), Fcfa::new(10_000)).is_err());
    }
}
