//! Domain values to the API's messages.

use chrono::{DateTime, Utc};
use jigi_common::date::format_date;
use jigi_proto::activities as pa;

use crate::app::himo::WageSheet;
use crate::domain::agr::{Plan, Tranche};
use crate::domain::himo::SiteView;
use crate::domain::himo::WAGE_CAP_PER_QUARTER;
use crate::domain::ma;
use crate::events::{location, money, quarter};
use crate::storage::ma::SessionRow;

pub fn session(session: &SessionRow) -> pa::Session {
    pa::Session {
        session_id: session.session_id.clone(),
        location: Some(location(&session.location)),
        theme: session.theme.wire(),
        held_on: format_date(session.held_on),
        facilitator: session.facilitator.clone(),
        households: ma::households(&session.attendees),
        people: session.attendees.len() as i64,
        attendance: ma::counts(&session.attendees)
            .into_iter()
            .map(|(sex, group, people)| pa::AttendanceCount {
                sex: sex.to_proto() as i32,
                age_group: group.wire(),
                people,
            })
            .collect(),
    }
}

pub fn tranche(tranche: &Tranche) -> pa::GrantTranche {
    pa::GrantTranche {
        tranche_id: tranche.tranche_id.clone(),
        number: tranche.number,
        amount: Some(money(tranche.amount)),
        released_on: format_date(tranche.released_on),
        period: Some(quarter(tranche.released_on)),
    }
}

pub fn plan(plan: &Plan) -> pa::BusinessPlan {
    pa::BusinessPlan {
        household_id: plan.household_id.clone(),
        location: Some(location(&plan.location)),
        activity_type: plan.activity_type.wire(),
        planned_grant: Some(money(plan.planned_grant)),
        approved_on: format_date(plan.approved_on),
        tranches: plan.tranches.iter().map(tranche).collect(),
        visits: plan
            .visits
            .iter()
            .map(|v| pa::FollowUpVisit {
                month: v.month as i32,
                visited_on: format_date(v.visited_on),
                status: if v.stopped.is_some() {
                    pa::ActivityStatus::Stopped
                } else {
                    pa::ActivityStatus::Running
                } as i32,
                stop_reason: v.stopped.map_or(0, |r| r.wire()),
            })
            .collect(),
        released: Some(money(plan.released())),
    }
}

pub fn site(view: &SiteView) -> pa::WorkSite {
    let site = &view.site;
    pa::WorkSite {
        site_id: site.site_id.clone(),
        site_type: site.site_type.wire(),
        location: Some(location(&site.location)),
        status: site.status.wire(),
        planned_start: format_date(site.planned_start),
        validated_on: site.validated_on.map(format_date).unwrap_or_default(),
        started_on: site.started_on.map(format_date).unwrap_or_default(),
        start_delay_days: site.start_delay_days(view.today),
        closed_on: site.closed_on.map(format_date).unwrap_or_default(),
        planned_person_days: site.planned_person_days,
        worked_person_days: view.worked_person_days,
        daily_wage: Some(money(site.daily_wage)),
        workers: view.workers,
    }
}

pub fn wage_sheet(sheet: &WageSheet) -> pa::CloseWagePeriodResponse {
    pa::CloseWagePeriodResponse {
        site_id: sheet.site_id.clone(),
        period: Some(jigi_proto::common::Period {
            code: sheet.period.to_string(),
        }),
        wages: sheet
            .lines
            .iter()
            .map(|l| pa::Wage {
                household_id: l.household_id.clone(),
                days: l.days,
                amount: Some(money(l.amount)),
            })
            .collect(),
        total: Some(money(sheet.total())),
        cap_per_household: Some(money(WAGE_CAP_PER_QUARTER)),
        closed_at: Some(timestamp(sheet.closed_at)),
    }
}

pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}
