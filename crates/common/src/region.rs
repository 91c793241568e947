//! The regions of the programme. Their slugs name NATS subjects
//! (`jigi.<slug>.…`), JetStream streams (`JIGI_<SLUG>`) and JetStream domains.

use std::fmt;
use std::str::FromStr;

/// One of the eight regions (the district of Bamako counts as one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Region {
    Kayes,
    Koulikoro,
    Sikasso,
    Segou,
    Mopti,
    Tombouctou,
    Gao,
    Bamako,
}

impl Region {
    /// Every region, in the order the programme lists them.
    pub const ALL: [Region; 8] = [
        Region::Kayes,
        Region::Koulikoro,
        Region::Sikasso,
        Region::Segou,
        Region::Mopti,
        Region::Tombouctou,
        Region::Gao,
        Region::Bamako,
    ];

    /// Lower-case ASCII slug, e.g. `segou`.
    pub fn slug(self) -> &'static str {
        match self {
            Region::Kayes => "kayes",
            Region::Koulikoro => "koulikoro",
            Region::Sikasso => "sikasso",
            Region::Segou => "segou",
            Region::Mopti => "mopti",
            Region::Tombouctou => "tombouctou",
            Region::Gao => "gao",
            Region::Bamako => "bamako",
        }
    }

    /// Display name, e.g. `Ségou`.
    pub fn name(self) -> &'static str {
        match self {
            Region::Kayes => "Kayes",
            Region::Koulikoro => "Koulikoro",
            Region::Sikasso => "Sikasso",
            Region::Segou => "Ségou",
            Region::Mopti => "Mopti",
            Region::Tombouctou => "Tombouctou",
            Region::Gao => "Gao",
            Region::Bamako => "District de Bamako",
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// A string that is not one of the region slugs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown region {0:?}: expected one of kayes, koulikoro, sikasso, segou, mopti, tombouctou, gao, bamako")]
pub struct UnknownRegion(pub String);

impl FromStr for Region {
    type Err = UnknownRegion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::ALL
            .into_iter()
            .find(|region| region.slug() == s)
            .ok_or_else(|| UnknownRegion(s.to_owned()))
    }
}

/// Regions as a setting lists them: comma-separated slugs
/// (`JIGI_REGIONS=sikasso,mopti`); empty entries are skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionList(pub Vec<Region>);

impl RegionList {
    /// The eight regions, the default of a national service.
    pub fn all() -> RegionList {
        RegionList(Region::ALL.to_vec())
    }
}

impl FromStr for RegionList {
    type Err = UnknownRegion;

    fn from_str(text: &str) -> Result<RegionList, UnknownRegion> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(RegionList)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_round_trip() {
        for region in Region::ALL {
            assert_eq!(region.slug().parse::<Region>(), Ok(region));
        }
    }

    #[test]
    fn names_and_case_variants_are_not_slugs() {
        assert!("Ségou".parse::<Region>().is_err());
        assert!("SIKASSO".parse::<Region>().is_err());
        assert!("".parse::<Region>().is_err());
    }
}
