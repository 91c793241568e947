//! Domain values to the API's messages, and the API's enums to the
//! domain's (reading whole requests is [`super::parse`]).

use chrono::{DateTime, Utc};
use jigi_common::date::format_date;
use jigi_common::{Area, AreaLevel, Component, Sex};
use jigi_proto::registry as pr;

use crate::domain::model::{
    Enrolment, EnrolmentStatus, ExitReason, FloorMaterial, Household, HouseholdStatus, Member, MemberStatus, Relation,
    RoofMaterial, StatusChange, Traits, WallMaterial,
};
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
        sex: member.sex.to_proto() as i32,
        birth_date: format_date(member.birth_date),
        birth_date_estimated: member.birth_date_estimated,
        relation: relation_to_wire(member.relation) as i32,
        pregnant: member.pregnant,
        lactating: member.lactating,
        id_card_number: member
            .id_card
            .as_ref()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        phone: member.phone.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default(),
        status: member_status_to_wire(member.status) as i32,
    }
}

fn traits(traits: &Traits) -> pr::HouseholdTraits {
    let (a, l) = (&traits.assets, &traits.livestock);
    let n = |count: u32| count as i32;
    pr::HouseholdTraits {
        roof: roof_to_wire(traits.roof) as i32,
        wall: wall_to_wire(traits.wall) as i32,
        floor: floor_to_wire(traits.floor) as i32,
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
        exit_reason: enrolment
            .exit_reason
            .map(|r| exit_reason_to_wire(r) as i32)
            .unwrap_or_default(),
    }
}

pub fn status_change(change: &StatusChange) -> pr::StatusChange {
    pr::StatusChange {
        component: change.component.to_proto() as i32,
        status: enrolment_status(change.status) as i32,
        effective_on: format_date(change.effective_on),
        exit_reason: change
            .exit_reason
            .map(|r| exit_reason_to_wire(r) as i32)
            .unwrap_or_default(),
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

/// A household status to filter on; unset (0) is every status.
pub fn household_status_from_wire(value: i32) -> Result<Option<HouseholdStatus>, String> {
    from_wire(value, |wire: pr::HouseholdStatus| match wire {
        pr::HouseholdStatus::Unspecified => None,
        pr::HouseholdStatus::Registered => Some(HouseholdStatus::Registered),
        pr::HouseholdStatus::Enrolled => Some(HouseholdStatus::Enrolled),
        pr::HouseholdStatus::Exited => Some(HouseholdStatus::Exited),
    })
}

/// A component to filter on; unset (0) is none in particular.
pub fn component_from_wire(value: i32) -> Result<Option<Component>, String> {
    match value {
        0 => Ok(None),
        value => Component::from_proto(value)
            .map(Some)
            .ok_or_else(|| format!("has unknown value {value}")),
    }
}

/// A wire enum's value: `Ok(None)` for its UNSPECIFIED value, an error
/// for a value this build does not know (a newer client's, or garbage).
fn from_wire<W: TryFrom<i32>, D>(value: i32, map: impl FnOnce(W) -> Option<D>) -> Result<Option<D>, String> {
    W::try_from(value)
        .map(map)
        .map_err(|_| format!("has unknown value {value}"))
}

/// A required wire enum: its UNSPECIFIED value (`PREFIX_UNSPECIFIED`) is refused.
pub fn required<D>(read: Result<Option<D>, String>, prefix: &str) -> Result<D, String> {
    read?.ok_or_else(|| format!("is required ({prefix}_UNSPECIFIED is not a value)"))
}

pub fn sex_from_wire(value: i32) -> Result<Option<Sex>, String> {
    match Sex::from_proto(value) {
        Some(sex) => Ok(Some(sex)),
        None if value == jigi_proto::common::Sex::Unspecified as i32 => Ok(None),
        None => Err(format!("has unknown value {value}")),
    }
}

pub fn relation_from_wire(value: i32) -> Result<Option<Relation>, String> {
    from_wire(value, |wire: pr::Relation| match wire {
        pr::Relation::Unspecified => None,
        pr::Relation::Head => Some(Relation::Head),
        pr::Relation::Spouse => Some(Relation::Spouse),
        pr::Relation::Child => Some(Relation::Child),
        pr::Relation::Grandchild => Some(Relation::Grandchild),
        pr::Relation::Parent => Some(Relation::Parent),
        pr::Relation::Sibling => Some(Relation::Sibling),
        pr::Relation::OtherRelative => Some(Relation::OtherRelative),
        pr::Relation::NotRelated => Some(Relation::NotRelated),
    })
}

pub fn relation_to_wire(relation: Relation) -> pr::Relation {
    match relation {
        Relation::Head => pr::Relation::Head,
        Relation::Spouse => pr::Relation::Spouse,
        Relation::Child => pr::Relation::Child,
        Relation::Grandchild => pr::Relation::Grandchild,
        Relation::Parent => pr::Relation::Parent,
        Relation::Sibling => pr::Relation::Sibling,
        Relation::OtherRelative => pr::Relation::OtherRelative,
        Relation::NotRelated => pr::Relation::NotRelated,
    }
}

pub fn member_status_from_wire(value: i32) -> Result<Option<MemberStatus>, String> {
    from_wire(value, |wire: pr::MemberStatus| match wire {
        pr::MemberStatus::Unspecified => None,
        pr::MemberStatus::Present => Some(MemberStatus::Present),
        pr::MemberStatus::Left => Some(MemberStatus::Left),
        pr::MemberStatus::Deceased => Some(MemberStatus::Deceased),
    })
}

pub fn member_status_to_wire(status: MemberStatus) -> pr::MemberStatus {
    match status {
        MemberStatus::Present => pr::MemberStatus::Present,
        MemberStatus::Left => pr::MemberStatus::Left,
        MemberStatus::Deceased => pr::MemberStatus::Deceased,
    }
}

pub fn exit_reason_from_wire(value: i32) -> Result<Option<ExitReason>, String> {
    from_wire(value, |wire: pr::ExitReason| match wire {
        pr::ExitReason::Unspecified => None,
        pr::ExitReason::Graduated => Some(ExitReason::Graduated),
        pr::ExitReason::Moved => Some(ExitReason::Moved),
        pr::ExitReason::Dissolved => Some(ExitReason::Dissolved),
        pr::ExitReason::Ineligible => Some(ExitReason::Ineligible),
        pr::ExitReason::Voluntary => Some(ExitReason::Voluntary),
        pr::ExitReason::Other => Some(ExitReason::Other),
    })
}

pub fn exit_reason_to_wire(reason: ExitReason) -> pr::ExitReason {
    match reason {
        ExitReason::Graduated => pr::ExitReason::Graduated,
        ExitReason::Moved => pr::ExitReason::Moved,
        ExitReason::Dissolved => pr::ExitReason::Dissolved,
        ExitReason::Ineligible => pr::ExitReason::Ineligible,
        ExitReason::Voluntary => pr::ExitReason::Voluntary,
        ExitReason::Other => pr::ExitReason::Other,
    }
}

/// A roof material; UNSPECIFIED is a material not observed.
pub fn roof_from_wire(value: i32) -> Result<RoofMaterial, String> {
    from_wire(value, |wire: pr::RoofMaterial| {
        Some(match wire {
            pr::RoofMaterial::Unspecified => RoofMaterial::Unknown,
            pr::RoofMaterial::Thatch => RoofMaterial::Thatch,
            pr::RoofMaterial::Earth => RoofMaterial::Earth,
            pr::RoofMaterial::MetalSheet => RoofMaterial::MetalSheet,
            pr::RoofMaterial::Concrete => RoofMaterial::Concrete,
        })
    })
    .map(|material| material.expect("every wire value is a material"))
}

pub fn roof_to_wire(material: RoofMaterial) -> pr::RoofMaterial {
    match material {
        RoofMaterial::Unknown => pr::RoofMaterial::Unspecified,
        RoofMaterial::Thatch => pr::RoofMaterial::Thatch,
        RoofMaterial::Earth => pr::RoofMaterial::Earth,
        RoofMaterial::MetalSheet => pr::RoofMaterial::MetalSheet,
        RoofMaterial::Concrete => pr::RoofMaterial::Concrete,
    }
}

/// A wall material; UNSPECIFIED is a material not observed.
pub fn wall_from_wire(value: i32) -> Result<WallMaterial, String> {
    from_wire(value, |wire: pr::WallMaterial| {
        Some(match wire {
            pr::WallMaterial::Unspecified => WallMaterial::Unknown,
            pr::WallMaterial::Straw => WallMaterial::Straw,
            pr::WallMaterial::MudBrick => WallMaterial::MudBrick,
            pr::WallMaterial::Stone => WallMaterial::Stone,
            pr::WallMaterial::Cement => WallMaterial::Cement,
        })
    })
    .map(|material| material.expect("every wire value is a material"))
}

pub fn wall_to_wire(material: WallMaterial) -> pr::WallMaterial {
    match material {
        WallMaterial::Unknown => pr::WallMaterial::Unspecified,
        WallMaterial::Straw => pr::WallMaterial::Straw,
        WallMaterial::MudBrick => pr::WallMaterial::MudBrick,
        WallMaterial::Stone => pr::WallMaterial::Stone,
        WallMaterial::Cement => pr::WallMaterial::Cement,
    }
}

/// A floor material; UNSPECIFIED is a material not observed.
pub fn floor_from_wire(value: i32) -> Result<FloorMaterial, String> {
    from_wire(value, |wire: pr::FloorMaterial| {
        Some(match wire {
            pr::FloorMaterial::Unspecified => FloorMaterial::Unknown,
            pr::FloorMaterial::Earth => FloorMaterial::Earth,
            pr::FloorMaterial::Cement => FloorMaterial::Cement,
            pr::FloorMaterial::Tiles => FloorMaterial::Tiles,
        })
    })
    .map(|material| material.expect("every wire value is a material"))
}

pub fn floor_to_wire(material: FloorMaterial) -> pr::FloorMaterial {
    match material {
        FloorMaterial::Unknown => pr::FloorMaterial::Unspecified,
        FloorMaterial::Earth => pr::FloorMaterial::Earth,
        FloorMaterial::Cement => pr::FloorMaterial::Cement,
        FloorMaterial::Tiles => pr::FloorMaterial::Tiles,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every domain value goes to the wire and comes back as itself;
    /// UNSPECIFIED is no value and an unknown number is refused, named.
    fn round_trips<D: Copy + PartialEq + std::fmt::Debug>(
        all: &[D],
        to_wire: impl Fn(D) -> i32,
        from_wire: impl Fn(i32) -> Result<Option<D>, String>,
    ) {
        for value in all {
            assert_eq!(from_wire(to_wire(*value)), Ok(Some(*value)));
        }
        assert_eq!(from_wire(0), Ok(None));
        for unknown in [99, -1, i32::MIN, i32::MAX] {
            assert_eq!(from_wire(unknown), Err(format!("has unknown value {unknown}")));
        }
    }

    #[test]
    fn sex_relation_status_and_exit_reason_round_trip() {
        round_trips(&Sex::ALL, |s| s.to_proto() as i32, sex_from_wire);
        round_trips(&Relation::ALL, |r| relation_to_wire(r) as i32, relation_from_wire);
        round_trips(
            &MemberStatus::ALL,
            |s| member_status_to_wire(s) as i32,
            member_status_from_wire,
        );
        round_trips(
            &ExitReason::ALL,
            |r| exit_reason_to_wire(r) as i32,
            exit_reason_from_wire,
        );
    }

    #[test]
    fn materials_round_trip_and_unspecified_is_unknown() {
        for material in RoofMaterial::ALL {
            assert_eq!(roof_from_wire(roof_to_wire(material) as i32), Ok(material));
        }
        for material in WallMaterial::ALL {
            assert_eq!(wall_from_wire(wall_to_wire(material) as i32), Ok(material));
        }
        for material in FloorMaterial::ALL {
            assert_eq!(floor_from_wire(floor_to_wire(material) as i32), Ok(material));
        }
        assert_eq!(roof_from_wire(0), Ok(RoofMaterial::Unknown));
        assert_eq!(wall_from_wire(0), Ok(WallMaterial::Unknown));
        assert_eq!(floor_from_wire(0), Ok(FloorMaterial::Unknown));
        for unknown in [99, -1, i32::MIN] {
            let refused = format!("has unknown value {unknown}");
            assert_eq!(roof_from_wire(unknown).unwrap_err(), refused);
            assert_eq!(wall_from_wire(unknown).unwrap_err(), refused);
            assert_eq!(floor_from_wire(unknown).unwrap_err(), refused);
        }
    }

    #[test]
    fn listing_filters_round_trip_and_unset_filters_nothing() {
        for status in [
            HouseholdStatus::Registered,
            HouseholdStatus::Enrolled,
            HouseholdStatus::Exited,
        ] {
            assert_eq!(
                household_status_from_wire(household_status(status) as i32),
                Ok(Some(status))
            );
        }
        for component in Component::ALL {
            assert_eq!(component_from_wire(component.to_proto() as i32), Ok(Some(component)));
        }
        assert_eq!(household_status_from_wire(0), Ok(None));
        assert_eq!(component_from_wire(0), Ok(None));
        assert_eq!(household_status_from_wire(9), Err("has unknown value 9".to_owned()));
        assert_eq!(component_from_wire(-4), Err("has unknown value -4".to_owned()));
    }

    #[test]
    fn a_required_enum_refuses_unspecified_by_its_name() {
        assert_eq!(
            required(relation_from_wire(0), "RELATION"),
            Err("is required (RELATION_UNSPECIFIED is not a value)".to_owned())
        );
        assert_eq!(required(sex_from_wire(2), "SEX"), Ok(Sex::Male));
        assert_eq!(required(sex_from_wire(3), "SEX"), Err("has unknown value 3".to_owned()));
    }
}
