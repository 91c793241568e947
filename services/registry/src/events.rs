//! The registry's public events, built from its domain values. Nothing here
//! may copy a name, an ID-card number or a phone number into an event.

use jigi_bus::OutgoingEvent;
use jigi_common::date::format_date;
use jigi_proto::common as pc;
use jigi_proto::events as ev;

use crate::domain::model::{Enrolment, ExitReason, Household, Location, Member, MemberStatus, Relation};

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
            reason: enrolment.exit_reason.map(|r| exit_reason(r) as i32).unwrap_or_default(),
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
        sex: member.sex.to_proto() as i32,
        birth_date: format_date(member.birth_date),
        relation: relation(member.relation) as i32,
        pregnant: member.pregnant,
        lactating: member.lactating,
        presence: presence(member.status) as i32,
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

fn relation(relation: Relation) -> ev::MemberRelation {
    match relation {
        Relation::Head => ev::MemberRelation::Head,
        Relation::Spouse => ev::MemberRelation::Spouse,
        Relation::Child => ev::MemberRelation::Child,
        Relation::Grandchild => ev::MemberRelation::Grandchild,
        Relation::Parent => ev::MemberRelation::Parent,
        Relation::Sibling => ev::MemberRelation::Sibling,
        Relation::OtherRelative => ev::MemberRelation::OtherRelative,
        Relation::NotRelated => ev::MemberRelation::NotRelated,
    }
}

fn presence(status: MemberStatus) -> ev::MemberPresence {
    match status {
        MemberStatus::Present => ev::MemberPresence::Present,
        MemberStatus::Left => ev::MemberPresence::Left,
        MemberStatus::Deceased => ev::MemberPresence::Deceased,
    }
}

fn exit_reason(reason: ExitReason) -> ev::HouseholdExitReason {
    match reason {
        ExitReason::Graduated => ev::HouseholdExitReason::Graduated,
        ExitReason::Moved => ev::HouseholdExitReason::Moved,
        ExitReason::Dissolved => ev::HouseholdExitReason::Dissolved,
        ExitReason::Ineligible => ev::HouseholdExitReason::Ineligible,
        ExitReason::Voluntary => ev::HouseholdExitReason::Voluntary,
        ExitReason::Other => ev::HouseholdExitReason::Other,
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
    use super::*;
    use crate::grpc::convert as api;

    /// Partners read the same number for a value in an event as in the
    /// API: each domain value goes to the same wire number both ways, and
    /// the event's enum reads it back as the value's own name.
    #[test]
    fn events_and_api_give_a_domain_value_the_same_wire_value() {
        for value in Relation::ALL {
            assert_eq!(relation(value) as i32, api::relation_to_wire(value) as i32, "{value:?}");
            assert_eq!(
                relation(value).as_str_name().trim_start_matches("MEMBER_RELATION_"),
                api::relation_to_wire(value)
                    .as_str_name()
                    .trim_start_matches("RELATION_")
            );
        }
        for value in MemberStatus::ALL {
            assert_eq!(
                presence(value) as i32,
                api::member_status_to_wire(value) as i32,
                "{value:?}"
            );
            assert_eq!(
                presence(value).as_str_name().trim_start_matches("MEMBER_PRESENCE_"),
                api::member_status_to_wire(value)
                    .as_str_name()
                    .trim_start_matches("MEMBER_STATUS_")
            );
        }
        for value in ExitReason::ALL {
            assert_eq!(
                exit_reason(value) as i32,
                api::exit_reason_to_wire(value) as i32,
                "{value:?}"
            );
            assert_eq!(
                exit_reason(value)
                    .as_str_name()
                    .trim_start_matches("HOUSEHOLD_EXIT_REASON_"),
                api::exit_reason_to_wire(value)
                    .as_str_name()
                    .trim_start_matches("EXIT_REASON_")
            );
        }
    }
}
