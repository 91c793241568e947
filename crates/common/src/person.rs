//! What the programme records about a person that every component reads.

use std::fmt;

use jigi_proto::common::Sex as ProtoSex;

/// A person's sex as the household survey records it. The PNP's groups
/// (pregnant women, children by age) and the indicators by sex read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sex {
    Female,
    Male,
}

impl Sex {
    pub const ALL: [Sex; 2] = [Sex::Female, Sex::Male];

    /// The word used in storage, CSV and reports: `female`, `male`.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
        }
    }

    /// Parses a word as [`Sex::code`] writes it.
    pub fn from_code(code: &str) -> Option<Sex> {
        Sex::ALL.into_iter().find(|s| s.code() == code)
    }

    /// From the wire enum; `None` for `SEX_UNSPECIFIED` and unknown values.
    pub fn from_proto(value: i32) -> Option<Sex> {
        match ProtoSex::try_from(value).ok()? {
            ProtoSex::Unspecified => None,
            ProtoSex::Female => Some(Sex::Female),
            ProtoSex::Male => Some(Sex::Male),
        }
    }

    pub fn to_proto(self) -> ProtoSex {
        match self {
            Sex::Female => ProtoSex::Female,
            Sex::Male => ProtoSex::Male,
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_values_map_both_ways_and_unspecified_is_none() {
        assert_eq!(Sex::from_proto(1), Some(Sex::Female));
        assert_eq!(Sex::from_proto(2), Some(Sex::Male));
        assert_eq!(Sex::from_proto(0), None);
        assert_eq!(Sex::from_proto(i32::MIN), None);
        for sex in Sex::ALL {
            assert_eq!(Sex::from_proto(sex.to_proto() as i32), Some(sex));
            assert_eq!(Sex::from_code(sex.code()), Some(sex));
        }
    }
}
