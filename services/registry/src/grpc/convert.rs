//! Domain values to the API's messages.

use chrono::{DateTime, Utc};
use jigi_common::date::format_date;
use jigi_common::{Area, AreaLevel};
use jigi_proto::registry as pr;

use crate::domain::model::{Enrolment, EnrolmentStatus, Household, HouseholdStatus, Member, StatusChange, Traits};
use crate::events;

pub fn household(household: &Household) -> pr::Household {
    pr::Household {
        household_id: household.household_id.clone(),
        location: Some(events::location(&household.location)),
        members: household.members.iter().map(member).collect(),
        traits: Some(traits(&household.traits)),
        pmt: Some(pr::PmtAssessment {
            score: household.pmt.score,
            threshold: household.pmt.threshold,
            eligible: household.pmt.eligible,
            weights_version: household.pmt.weights_version.clone(),
        }),
        enrolments: household.enrolments.iter().map(enrolment).collect(),
        status: household_status(household.status) as i32,
        version: household.version,
        registered_at: Some(timestamp(household.registered_at)),
        updated_at: Some(timestamp(household.updated_at)),
    }
}

fn member(member: &Member) -> pr::Member {
    pr::Member {
        member_id: member.member_id.clone(),
        given_name: member.given_name.as_str().to_owned(),
        family_name: member.family_name.as_str().to_owned(),
        sex: member.sex as i32,
        birth_date: format_date(member.birth_date),
        birth_date_estimated: member.birth_date_estimated,
        relation: member.relation as i32,
        pregnant: member.pregnant,
        lactating: member.lactating,
        id_card_number: member
            .id_card
            .as_ref()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        phone: member.phone.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default(),
        status: member.status as i32,
    }
}

fn traits(traits: &Traits) -> pr::HouseholdTraits {
    let (a, l) = (&traits.assets, &traits.livestock);
    let n = |count: u32| count as i32;
    pr::HouseholdTraits {
        roof: traits.roof as i32,
        wall: traits.wall as i32,
        floor: traits.floor as i32,
        assets: Some(pr::Assets {
            radios: n(a.radios),
            televisions: n(a.televisions),
            mobile_phones: n(a.mobile_phones),
            bicycles: n(a.bicycles),
            motorcycles: n(a.motorcycles),
            carts: n(a.carts),
            ploughs: n(a.ploughs),
            solar_panels: n(a.solar_panels),
        }),
        livestock: Some(pr::Livestock {
            cattle: n(l.cattle),
            sheep_goats: n(l.sheep_goats),
            donkeys: n(l.donkeys),
            horses: n(l.horses),
            camels: n(l.camels),
            poultry: n(l.poultry),
        }),
        cultivated_land_ares: n(traits.cultivated_land_ares),
    }
}

fn enrolment(enrolment: &Enrolment) -> pr::Enrolment {
    pr::Enrolment {
        component: enrolment.component.to_proto() as i32,
        status: enrolment_status(enrolment.status) as i32,
        enrolled_on: format_date(enrolment.enrolled_on),
        exited_on: enrolment.exited_on.map(format_date).unwrap_or_default(),
        exit_reason: enrolment.exit_reason.map(|r| r as i32).unwrap_or_default(),
    }
}

pub fn status_change(change: &StatusChange) -> pr::StatusChange {
    pr::StatusChange {
        component: change.component.to_proto() as i32,
        status: enrolment_status(change.status) as i32,
        effective_on: format_date(change.effective_on),
        exit_reason: change.exit_reason.map(|r| r as i32).unwrap_or_default(),
        note: change.note.clone(),
        recorded_at: Some(timestamp(change.recorded_at)),
    }
}

pub fn area(area: &Area) -> pr::Area {
    pr::Area {
        code: area.code.clone(),
        name: area.name.clone(),
        level: match area.level {
            AreaLevel::Region => pr::AreaLevel::Region,
            AreaLevel::Cercle => pr::AreaLevel::Cercle,
            AreaLevel::Commune => pr::AreaLevel::Commune,
            AreaLevel::Village => pr::AreaLevel::Village,
        } as i32,
        parent: area.parent().unwrap_or_default().to_owned(),
    }
}

fn household_status(status: HouseholdStatus) -> pr::HouseholdStatus {
    match status {
        HouseholdStatus::Registered => pr::HouseholdStatus::Registered,
        HouseholdStatus::Enrolled => pr::HouseholdStatus::Enrolled,
        HouseholdStatus::Exited => pr::HouseholdStatus::Exited,
    }
}

fn enrolment_status(status: EnrolmentStatus) -> pr::EnrolmentStatus {
    match status {
        EnrolmentStatus::Enrolled => pr::EnrolmentStatus::Enrolled,
        EnrolmentStatus::Exited => pr::EnrolmentStatus::Exited,
    }
}

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}
