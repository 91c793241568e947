//! The numbers the registry's tables store for its enums.
//!
//! The columns were first written with the API's wire values, so each
//! table below repeats them: an existing database reads the same. They are
//! the database's own codes now and must never change, whatever the API
//! does with its enums.

use jigi_common::Sex;

use crate::domain::model::{ExitReason, FloorMaterial, MemberStatus, Relation, RoofMaterial, WallMaterial};

/// An enum stored as a number.
pub(crate) trait Stored: Copy + PartialEq + 'static {
    /// Every value with its stored number.
    const CODES: &'static [(Self, i64)];

    fn stored(self) -> i64 {
        Self::CODES
            .iter()
            .find(|(value, _)| *value == self)
            .map(|(_, code)| *code)
            .expect("every value has a stored code")
    }

    fn from_stored(code: i64) -> Option<Self> {
        Self::CODES.iter().find(|(_, c)| *c == code).map(|(value, _)| *value)
    }
}

impl Stored for Sex {
    const CODES: &'static [(Sex, i64)] = &[(Sex::Female, 1), (Sex::Male, 2)];
}

impl Stored for Relation {
    const CODES: &'static [(Relation, i64)] = &[
        (Relation::Head, 1),
        (Relation::Spouse, 2),
        (Relation::Child, 3),
        (Relation::Grandchild, 4),
        (Relation::Parent, 5),
        (Relation::Sibling, 6),
        (Relation::OtherRelative, 7),
        (Relation::NotRelated, 8),
    ];
}

impl Stored for MemberStatus {
    const CODES: &'static [(MemberStatus, i64)] = &[
        (MemberStatus::Present, 1),
        (MemberStatus::Left, 2),
        (MemberStatus::Deceased, 3),
    ];
}

impl Stored for RoofMaterial {
    const CODES: &'static [(RoofMaterial, i64)] = &[
        (RoofMaterial::Unknown, 0),
        (RoofMaterial::Thatch, 1),
        (RoofMaterial::Earth, 2),
        (RoofMaterial::MetalSheet, 3),
        (RoofMaterial::Concrete, 4),
    ];
}

impl Stored for WallMaterial {
    const CODES: &'static [(WallMaterial, i64)] = &[
        (WallMaterial::Unknown, 0),
        (WallMaterial::Straw, 1),
        (WallMaterial::MudBrick, 2),
        (WallMaterial::Stone, 3),
        (WallMaterial::Cement, 4),
    ];
}

impl Stored for FloorMaterial {
    const CODES: &'static [(FloorMaterial, i64)] = &[
        (FloorMaterial::Unknown, 0),
        (FloorMaterial::Earth, 1),
        (FloorMaterial::Cement, 2),
        (FloorMaterial::Tiles, 3),
    ];
}

impl Stored for ExitReason {
    const CODES: &'static [(ExitReason, i64)] = &[
        (ExitReason::Graduated, 1),
        (ExitReason::Moved, 2),
        (ExitReason::Dissolved, 3),
        (ExitReason::Ineligible, 4),
        (ExitReason::Voluntary, 5),
        (ExitReason::Other, 6),
    ];
}

#[cfg(test)]
mod tests {
    use jigi_proto::common as pc;
    use jigi_proto::registry as pr;

    use super::*;

    /// Every value has one code, read back as itself.
    fn round_trips<T: Stored + std::fmt::Debug>(all: &[T]) {
        assert_eq!(all.len(), T::CODES.len(), "a code for every value");
        for value in all {
            assert_eq!(T::from_stored(value.stored()), Some(*value));
        }
        assert_eq!(T::from_stored(99), None);
    }

    #[test]
    fn every_value_has_a_code_that_reads_back() {
        round_trips(&Sex::ALL);
        round_trips(&Relation::ALL);
        round_trips(&MemberStatus::ALL);
        round_trips(&RoofMaterial::ALL);
        round_trips(&WallMaterial::ALL);
        round_trips(&FloorMaterial::ALL);
        round_trips(&ExitReason::ALL);
    }

    /// The codes are the wire values the columns were first written with:
    /// a database written before the domain had its own enums reads the same.
    #[test]
    fn codes_are_the_wire_values_databases_already_hold() {
        let pairs: Vec<(i64, i32)> = [
            (Sex::Female.stored(), pc::Sex::Female as i32),
            (Sex::Male.stored(), pc::Sex::Male as i32),
            (Relation::Head.stored(), pr::Relation::Head as i32),
            (Relation::Spouse.stored(), pr::Relation::Spouse as i32),
            (Relation::Child.stored(), pr::Relation::Child as i32),
            (Relation::Grandchild.stored(), pr::Relation::Grandchild as i32),
            (Relation::Parent.stored(), pr::Relation::Parent as i32),
            (Relation::Sibling.stored(), pr::Relation::Sibling as i32),
            (Relation::OtherRelative.stored(), pr::Relation::OtherRelative as i32),
            (Relation::NotRelated.stored(), pr::Relation::NotRelated as i32),
            (MemberStatus::Present.stored(), pr::MemberStatus::Present as i32),
            (MemberStatus::Left.stored(), pr::MemberStatus::Left as i32),
            (MemberStatus::Deceased.stored(), pr::MemberStatus::Deceased as i32),
            (RoofMaterial::Unknown.stored(), pr::RoofMaterial::Unspecified as i32),
            (RoofMaterial::Thatch.stored(), pr::RoofMaterial::Thatch as i32),
            (RoofMaterial::Earth.stored(), pr::RoofMaterial::Earth as i32),
            (RoofMaterial::MetalSheet.stored(), pr::RoofMaterial::MetalSheet as i32),
            (RoofMaterial::Concrete.stored(), pr::RoofMaterial::Concrete as i32),
            (WallMaterial::Unknown.stored(), pr::WallMaterial::Unspecified as i32),
            (WallMaterial::Straw.stored(), pr::WallMaterial::Straw as i32),
            (WallMaterial::MudBrick.stored(), pr::WallMaterial::MudBrick as i32),
            (WallMaterial::Stone.stored(), pr::WallMaterial::Stone as i32),
            (WallMaterial::Cement.stored(), pr::WallMaterial::Cement as i32),
            (FloorMaterial::Unknown.stored(), pr::FloorMaterial::Unspecified as i32),
            (FloorMaterial::Earth.stored(), pr::FloorMaterial::Earth as i32),
            (FloorMaterial::Cement.stored(), pr::FloorMaterial::Cement as i32),
            (FloorMaterial::Tiles.stored(), pr::FloorMaterial::Tiles as i32),
            (ExitReason::Graduated.stored(), pr::ExitReason::Graduated as i32),
            (ExitReason::Moved.stored(), pr::ExitReason::Moved as i32),
            (ExitReason::Dissolved.stored(), pr::ExitReason::Dissolved as i32),
            (ExitReason::Ineligible.stored(), pr::ExitReason::Ineligible as i32),
            (ExitReason::Voluntary.stored(), pr::ExitReason::Voluntary as i32),
            (ExitReason::Other.stored(), pr::ExitReason::Other as i32),
        ]
        .into();
        for (stored, wire) in pairs {
            assert_eq!(stored, i64::from(wire));
        }
    }
}
