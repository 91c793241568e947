//! The registry's public events, built from its domain values. Nothing here
//! may copy a name, an ID-card number or a phone number into an event.

use jigi_bus::OutgoingEvent;
use jigi_common::date::format_date;
use jigi_proto::common as pc;
use jigi_proto::events as ev;

use crate::domain::model::{Enrolment, Household, Location, Member};

/// `HouseholdRegistered`.
pub fn registered(household: &Household) -> OutgoingEvent {
    event(
        household,
        &ev::HouseholdRegistered {
            household_id: household.household_id.clone(),
            location: Some(location(&household.location)),
            members: household.members.iter().map(profile).collect(),
            pmt: Some(pmt(household)),
            registered_on: format_date(household.registered_at.date_naive()),
        },
    )
}

/// `HouseholdUpdated`.
pub fn updated(household: &Household) -> OutgoingEvent {
    event(
        household,
        &ev::HouseholdUpdated {
            household_id: household.household_id.clone(),
            version: household.version,
            location: Some(location(&household.location)),
            pmt: Some(pmt(household)),
            size: household.size() as i32,
        },
    )
}

/// `HouseholdEnrolled`.
pub fn enrolled(household: &Household, enrolment: &Enrolment, committee_override: bool) -> OutgoingEvent {
    event(
        household,
        &ev::HouseholdEnrolled {
            household_id: household.household_id.clone(),
            component: enrolment.component.to_proto() as i32,
            enrolled_on: format_date(enrolment.enrolled_on),
            location: Some(location(&household.location)),
            size: household.size() as i32,
            committee_override,
        },
    )
}

/// `HouseholdExited`.
pub fn exited(household: &Household, enrolment: &Enrolment) -> OutgoingEvent {
    event(
        household,
        &ev::HouseholdExited {
            household_id: household.household_id.clone(),
            component: enrolment.component.to_proto() as i32,
            exited_on: enrolment.exited_on.map(format_date).unwrap_or_default(),
            // The wire values of the API's ExitReason and the event's are the same.
            reason: enrolment.exit_reason.map(|r| r as i32).unwrap_or_default(),
            location: Some(location(&household.location)),
        },
    )
}

/// `MemberAdded`.
pub fn member_added(household: &Household, member: &Member) -> OutgoingEvent {
    event(
        household,
        &ev::MemberAdded {
            household_id: household.household_id.clone(),
            member: Some(profile(member)),
            location: Some(location(&household.location)),
            pmt: Some(pmt(household)),
            size: household.size() as i32,
        },
    )
}

/// `MemberUpdated`.
pub fn member_updated(household: &Household, member: &Member) -> OutgoingEvent {
    event(
        household,
        &ev::MemberUpdated {
            household_id: household.household_id.clone(),
            member: Some(profile(member)),
            location: Some(location(&household.location)),
            pmt: Some(pmt(household)),
            size: household.size() as i32,
        },
    )
}

fn event<M: jigi_bus::DomainEvent>(household: &Household, message: &M) -> OutgoingEvent {
    OutgoingEvent::new(household.location.region, &household.household_id, message)
}

/// What an event may say about a person.
fn profile(member: &Member) -> ev::MemberProfile {
    ev::MemberProfile {
        member_id: member.member_id.clone(),
        sex: member.sex as i32,
        birth_date: format_date(member.birth_date),
        // The API's Relation and MemberStatus have the same wire values as
        // the event's MemberRelation and MemberPresence (checked in tests).
        relation: member.relation as i32,
        pregnant: member.pregnant,
        lactating: member.lactating,
        presence: member.status as i32,
    }
}

pub fn location(location: &Location) -> pc::Location {
    pc::Location {
        region: location.region.slug().to_owned(),
        cercle: location.cercle.clone(),
        commune: location.commune.clone(),
        village: location.village.clone(),
    }
}

fn pmt(household: &Household) -> ev::PmtResult {
    ev::PmtResult {
        score: household.pmt.score,
        eligible: household.pmt.eligible,
    }
}

#[cfg(test)]
mod tests {
    use jigi_proto::events::{MemberPresence, MemberRelation};
    use jigi_proto::registry::{ExitReason, MemberStatus, Relation};

    use super::*;

    #[test]
    fn api_and_event_enums_share_wire_values() {
        for (api, event) in [
            (Relation::Head as i32, MemberRelation::Head as i32),
            (Relation::Spouse as i32, MemberRelation::Spouse as i32),
            (Relation::Child as i32, MemberRelation::Child as i32),
            (Relation::Grandchild as i32, MemberRelation::Grandchild as i32),
            (Relation::Parent as i32, MemberRelation::Parent as i32),
            (Relation::Sibling as i32, MemberRelation::Sibling as i32),
            (Relation::OtherRelative as i32, MemberRelation::OtherRelative as i32),
            (Relation::NotRelated as i32, MemberRelation::NotRelated as i32),
            (MemberStatus::Present as i32, MemberPresence::Present as i32),
            (MemberStatus::Left as i32, MemberPresence::Left as i32),
            (MemberStatus::Deceased as i32, MemberPresence::Deceased as i32),
            (ExitReason::Graduated as i32, ev::HouseholdExitReason::Graduated as i32),
            (ExitReason::Moved as i32, ev::HouseholdExitReason::Moved as i32),
            (ExitReason::Dissolved as i32, ev::HouseholdExitReason::Dissolved as i32),
            (
                ExitReason::Ineligible as i32,
                ev::HouseholdExitReason::Ineligible as i32,
            ),
            (ExitReason::Voluntary as i32, ev::HouseholdExitReason::Voluntary as i32),
            (ExitReason::Other as i32, ev::HouseholdExitReason::Other as i32),
        ] {
            assert_eq!(api, event);
        }
    }
}
