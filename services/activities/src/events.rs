//! The activities service's public events, built from its domain values.
//! Households and people appear by their registry IDs only, with at most the
//! sex and age group indicators are counted by: nothing here may copy a
//! name, an ID-card number or a phone number into an event.

use chrono::NaiveDate;
use jigi_bus::OutgoingEvent;
use jigi_common::date::format_date;
use jigi_common::{Fcfa, Period};
use jigi_proto::common as pc;
use jigi_proto::events as ev;

use crate::domain::agr::{Plan, Tranche, Visit};
use crate::domain::himo::Site;
use crate::domain::model::Location;
use crate::storage::himo::WageLine;
use crate::storage::ma::SessionRow;

/// `MaSessionHeld`, about the session.
pub fn session_held(session: &SessionRow) -> OutgoingEvent {
    OutgoingEvent::new(
        session.location.region,
        &session.session_id,
        &ev::MaSessionHeld {
            session_id: session.session_id.clone(),
            location: Some(location(&session.location)),
            // The API's SessionTheme and the event's MaSessionTheme share wire values (tested).
            theme: session.theme.wire(),
            held_on: format_date(session.held_on),
            period: Some(quarter(session.held_on)),
            facilitator: session.facilitator.clone(),
            attendees: session
                .attendees
                .iter()
                .map(|a| ev::MaAttendee {
                    household_id: a.household_id.clone(),
                    member_id: a.member_id.clone(),
                    sex: a.sex.to_proto() as i32,
                    age_group: a.age_group.wire(),
                })
                .collect(),
        },
    )
}

/// `AgrBusinessPlanApproved`, about the household.
pub fn plan_approved(plan: &Plan) -> OutgoingEvent {
    OutgoingEvent::new(
        plan.location.region,
        &plan.household_id,
        &ev::AgrBusinessPlanApproved {
            household_id: plan.household_id.clone(),
            location: Some(location(&plan.location)),
            activity_type: plan.activity_type.wire(),
            planned_grant: Some(money(plan.planned_grant)),
            approved_on: format_date(plan.approved_on),
            period: Some(quarter(plan.approved_on)),
        },
    )
}

/// `AgrGrantTrancheReleased`, about the household.
pub fn tranche_released(plan: &Plan, tranche: &Tranche) -> OutgoingEvent {
    OutgoingEvent::new(
        plan.location.region,
        &plan.household_id,
        &ev::AgrGrantTrancheReleased {
            tranche_id: tranche.tranche_id.clone(),
            household_id: plan.household_id.clone(),
            location: Some(location(&plan.location)),
            number: tranche.number,
            amount: Some(money(tranche.amount)),
            released_on: format_date(tranche.released_on),
            period: Some(quarter(tranche.released_on)),
            activity_type: plan.activity_type.wire(),
        },
    )
}

/// `AgrFollowUpVisited`, about the household.
pub fn follow_up_visited(plan: &Plan, visit: &Visit) -> OutgoingEvent {
    OutgoingEvent::new(
        plan.location.region,
        &plan.household_id,
        &ev::AgrFollowUpVisited {
            household_id: plan.household_id.clone(),
            location: Some(location(&plan.location)),
            month: visit.month as i32,
            visited_on: format_date(visit.visited_on),
            period: Some(quarter(visit.visited_on)),
            running: visit.stopped.is_none(),
            stop_reason: visit.stopped.map_or(0, |r| r.wire()),
        },
    )
}

/// `HimoWorkSitePlanned`, about the site.
pub fn site_planned(site: &Site) -> OutgoingEvent {
    OutgoingEvent::new(
        site.location.region,
        &site.site_id,
        &ev::HimoWorkSitePlanned {
            site_id: site.site_id.clone(),
            site_type: site.site_type.wire(),
            location: Some(location(&site.location)),
            planned_start: format_date(site.planned_start),
            planned_person_days: site.planned_person_days,
            daily_wage: Some(money(site.daily_wage)),
        },
    )
}

/// `HimoWorkSiteValidated`, about the site.
pub fn site_validated(site: &Site, on: NaiveDate) -> OutgoingEvent {
    OutgoingEvent::new(
        site.location.region,
        &site.site_id,
        &ev::HimoWorkSiteValidated {
            site_id: site.site_id.clone(),
            location: Some(location(&site.location)),
            validated_on: format_date(on),
        },
    )
}

/// `HimoWorkSiteStarted`, about the site.
pub fn site_started(site: &Site, on: NaiveDate) -> OutgoingEvent {
    OutgoingEvent::new(
        site.location.region,
        &site.site_id,
        &ev::HimoWorkSiteStarted {
            site_id: site.site_id.clone(),
            location: Some(location(&site.location)),
            planned_start: format_date(site.planned_start),
            started_on: format_date(on),
            start_delay_days: site.start_delay_days(on),
            period: Some(quarter(on)),
        },
    )
}

/// `HimoWorkSiteClosed`, about the site.
pub fn site_closed(site: &Site, on: NaiveDate, worked_person_days: i64) -> OutgoingEvent {
    OutgoingEvent::new(
        site.location.region,
        &site.site_id,
        &ev::HimoWorkSiteClosed {
            site_id: site.site_id.clone(),
            location: Some(location(&site.location)),
            closed_on: format_date(on),
            planned_person_days: site.planned_person_days,
            worked_person_days,
        },
    )
}

/// `HimoAttendanceRecorded`, about the site.
pub fn attendance_recorded(site: &Site, on: NaiveDate, household_ids: Vec<String>, women: i64) -> OutgoingEvent {
    OutgoingEvent::new(
        site.location.region,
        &site.site_id,
        &ev::HimoAttendanceRecorded {
            site_id: site.site_id.clone(),
            location: Some(location(&site.location)),
            worked_on: format_date(on),
            period: Some(quarter(on)),
            household_ids,
            women,
        },
    )
}

/// `HimoWagesDue`, about the household.
pub fn wages_due(site: &Site, period: Period, line: &WageLine) -> OutgoingEvent {
    OutgoingEvent::new(
        site.location.region,
        &line.household_id,
        &ev::HimoWagesDue {
            site_id: site.site_id.clone(),
            household_id: line.household_id.clone(),
            location: Some(location(&site.location)),
            period: Some(pc::Period {
                code: period.to_string(),
            }),
            days: line.days,
            daily_wage: Some(money(site.daily_wage)),
            amount: Some(money(line.amount)),
        },
    )
}

pub fn location(location: &Location) -> pc::Location {
    pc::Location {
        region: location.region.slug().to_owned(),
        cercle: location.cercle.clone(),
        commune: location.commune.clone(),
        village: location.village.clone(),
    }
}

pub fn money(amount: Fcfa) -> pc::Money {
    pc::Money { fcfa: amount.francs() }
}

/// The quarter a date falls in, e.g. `2018Q4`.
pub fn quarter(date: NaiveDate) -> pc::Period {
    pc::Period {
        code: Period::quarter_of(date).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use jigi_proto::activities as api;

    use crate::domain::agr::{ActivityType, StopReason};
    use crate::domain::himo::SiteType;
    use crate::domain::ma::{AgeGroup, Theme};

    use super::*;

    #[test]
    fn api_and_event_enums_share_wire_values() {
        for theme in Theme::ALL {
            let api = api::SessionTheme::try_from(theme.wire()).unwrap().as_str_name();
            let event = ev::MaSessionTheme::try_from(theme.wire()).unwrap().as_str_name();
            assert_eq!(
                api.replace("SESSION_THEME_", ""),
                event.replace("MA_SESSION_THEME_", "")
            );
        }
        for group in AgeGroup::ALL {
            let api = api::AgeGroup::try_from(group.wire()).unwrap().as_str_name();
            let event = ev::MaAgeGroup::try_from(group.wire()).unwrap().as_str_name();
            assert_eq!(api.replace("AGE_GROUP_", ""), event.replace("MA_AGE_GROUP_", ""));
        }
        for activity in ActivityType::ALL {
            let api = api::ActivityType::try_from(activity.wire()).unwrap().as_str_name();
            let event = ev::AgrActivityType::try_from(activity.wire()).unwrap().as_str_name();
            assert_eq!(api, event.replace("AGR_", ""));
            assert_eq!(api, format!("ACTIVITY_TYPE_{}", activity.code().to_uppercase()));
        }
        for reason in StopReason::ALL {
            let api = api::StopReason::try_from(reason.wire()).unwrap().as_str_name();
            let event = ev::AgrStopReason::try_from(reason.wire()).unwrap().as_str_name();
            assert_eq!(api, event.replace("AGR_", ""));
            assert_eq!(api, format!("STOP_REASON_{}", reason.code().to_uppercase()));
        }
        for site_type in SiteType::ALL {
            let api = api::SiteType::try_from(site_type.wire()).unwrap().as_str_name();
            let event = ev::HimoSiteType::try_from(site_type.wire()).unwrap().as_str_name();
            assert_eq!(api, event.replace("HIMO_", ""));
            assert_eq!(api, format!("SITE_TYPE_{}", site_type.code().to_uppercase()));
        }
        for theme in Theme::ALL {
            let api = api::SessionTheme::try_from(theme.wire()).unwrap().as_str_name();
            assert_eq!(api, format!("SESSION_THEME_{}", theme.code().to_uppercase()));
        }
    }
}
