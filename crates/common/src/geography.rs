//! The geography reference: regions, cercles, communes and villages.
//!
//! The reference is data, not code: a CSV file (`data/mali-geography.csv` is
//! built in; a deployment may load its own) with one area per line. A code is
//! its parent's code, a dot, and a slug, so `segou.baroueli.sanando` lies in
//! the cercle `segou.baroueli` of the region `segou`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::region::Region;

/// The reference built into Jigi: Mali's eight regions, their cercles, and the
/// communes and villages the programme works in.
pub const BUILT_IN_CSV: &str = include_str!("../data/mali-geography.csv");

/// Level of an area in the hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AreaLevel {
    Region,
    Cercle,
    Commune,
    Village,
}

impl AreaLevel {
    fn parse(text: &str) -> Option<AreaLevel> {
        match text {
            "region" => Some(AreaLevel::Region),
            "cercle" => Some(AreaLevel::Cercle),
            "commune" => Some(AreaLevel::Commune),
            "village" => Some(AreaLevel::Village),
            _ => None,
        }
    }

    /// Number of dot-separated segments in a code of this level.
    fn depth(self) -> usize {
        match self {
            AreaLevel::Region => 1,
            AreaLevel::Cercle => 2,
            AreaLevel::Commune => 3,
            AreaLevel::Village => 4,
        }
    }
}

/// One area of the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Area {
    pub code: String,
    pub name: String,
    pub level: AreaLevel,
}

impl Area {
    /// Code of the enclosing area; `None` for a region.
    pub fn parent(&self) -> Option<&str> {
        parent_code(&self.code)
    }

    /// The region the area lies in.
    pub fn region(&self) -> Region {
        region_of(&self.code).expect("loaded areas lie in a known region")
    }
}

/// Where a household lives, or where a site, session, warehouse or round
/// is: every level from the region down, each checked against the
/// geography (or taken from an event that was). One type for every
/// service, so a place read from an event and one checked in a request
/// are the same value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub region: Region,
    pub cercle: String,
    pub commune: String,
    /// Empty when the village is not known.
    pub village: String,
}

/// Why a location was refused; the variant says which level is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    #[error("commune is required")]
    MissingCommune,
    #[error("unknown commune {0:?}")]
    UnknownCommune(String),
    #[error("unknown village {0:?} in commune {1:?}")]
    UnknownVillage(String, String),
    #[error("region {0:?} does not match the commune's region {1:?}")]
    RegionMismatch(String, String),
    #[error("cercle {0:?} does not match the commune's cercle {1:?}")]
    CercleMismatch(String, String),
}

/// Why a geography file was refused.
#[derive(Debug, thiserror::Error)]
pub enum GeographyError {
    #[error("cannot read geography file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("geography line {line}: {reason}")]
    Line { line: usize, reason: String },
}

/// The loaded reference, indexed by code.
#[derive(Debug, Clone)]
pub struct Geography {
    /// Keyed by code; a `BTreeMap` keeps each parent before its children when iterated.
    areas: BTreeMap<String, Area>,
}

impl Geography {
    /// The reference built into Jigi.
    pub fn built_in() -> Geography {
        Geography::parse(BUILT_IN_CSV).expect("the built-in geography file is valid")
    }

    /// Loads a reference file in the same format as the built-in one.
    pub fn load(path: &Path) -> Result<Geography, GeographyError> {
        let text = std::fs::read_to_string(path).map_err(|source| GeographyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Geography::parse(&text)
    }

    /// Parses CSV lines `level,code,name` (a header line and `#` comments allowed).
    pub fn parse(text: &str) -> Result<Geography, GeographyError> {
        let mut areas = BTreeMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let fail = |reason: String| GeographyError::Line { line, reason };
            let raw = raw.trim();
            if raw.is_empty() || raw.starts_with('#') || raw == "level,code,name" {
                continue;
            }
            let mut fields = raw.splitn(3, ',');
            let (Some(level), Some(code), Some(name)) = (fields.next(), fields.next(), fields.next()) else {
                return Err(fail("expected level,code,name".into()));
            };
            let level = AreaLevel::parse(level).ok_or_else(|| fail(format!("unknown level {level:?}")))?;
            if !is_valid_code(code) || code.split('.').count() != level.depth() {
                return Err(fail(format!("code {code:?} is not a valid {level:?} code")));
            }
            if region_of(code).is_none() {
                return Err(fail(format!("code {code:?} is not in a known region")));
            }
            if let Some(parent) = parent_code(code)
                && !areas.contains_key(parent)
            {
                return Err(fail(format!("parent {parent:?} of {code:?} is not listed before it")));
            }
            if name.trim().is_empty() {
                return Err(fail(format!("area {code:?} has no name")));
            }
            let area = Area {
                code: code.to_owned(),
                name: name.trim().to_owned(),
                level,
            };
            if areas.insert(code.to_owned(), area).is_some() {
                return Err(fail(format!("code {code:?} is listed twice")));
            }
        }
        Ok(Geography { areas })
    }

    /// The area with this code.
    pub fn get(&self, code: &str) -> Option<&Area> {
        self.areas.get(code)
    }

    /// Areas in hierarchical order; with `under`, only that area and its descendants.
    pub fn areas<'a>(&'a self, under: Option<&'a str>) -> impl Iterator<Item = &'a Area> + 'a {
        self.areas
            .values()
            .filter(move |area| under.is_none_or(|root| is_within(&area.code, root)))
    }

    /// Communes of a region (or of any area), in code order.
    pub fn communes<'a>(&'a self, under: &'a str) -> impl Iterator<Item = &'a Area> + 'a {
        self.areas(Some(under)).filter(|area| area.level == AreaLevel::Commune)
    }

    /// A commune `code` of the region a service serves, with the levels above
    /// it filled in. The error is the reason, to be named with the field.
    pub fn commune_of(&self, code: &str, serves: Region) -> Result<Location, String> {
        if code.is_empty() {
            return Err("is required".into());
        }
        match self.resolve("", "", code, "") {
            Ok(resolved) if resolved.region != serves => Err(format!(
                "{code} is in the region of {}; this service serves {}",
                resolved.region.name(),
                serves.name()
            )),
            Ok(resolved) => Ok(resolved),
            Err(_) => Err(format!("{code:?} is not a known commune code")),
        }
    }

    /// Checks a location given as codes and fills in the levels above the commune.
    pub fn resolve(&self, region: &str, cercle: &str, commune: &str, village: &str) -> Result<Location, LocationError> {
        if commune.is_empty() {
            return Err(LocationError::MissingCommune);
        }
        let commune_area = self
            .get(commune)
            .filter(|area| area.level == AreaLevel::Commune)
            .ok_or_else(|| LocationError::UnknownCommune(commune.to_owned()))?;
        let commune_region = commune_area.region();
        let commune_cercle = parent_code(commune).expect("a commune has a cercle");
        if !region.is_empty() && region != commune_region.slug() {
            return Err(LocationError::RegionMismatch(
                region.to_owned(),
                commune_region.slug().to_owned(),
            ));
        }
        if !cercle.is_empty() && cercle != commune_cercle {
            return Err(LocationError::CercleMismatch(
                cercle.to_owned(),
                commune_cercle.to_owned(),
            ));
        }
        if !village.is_empty() {
            let known = self
                .get(village)
                .is_some_and(|area| area.level == AreaLevel::Village && area.parent() == Some(commune));
            if !known {
                return Err(LocationError::UnknownVillage(village.to_owned(), commune.to_owned()));
            }
        }
        Ok(Location {
            region: commune_region,
            cercle: commune_cercle.to_owned(),
            commune: commune.to_owned(),
            village: village.to_owned(),
        })
    }
}

/// Whether `code` is `root` or lies below it.
pub fn is_within(code: &str, root: &str) -> bool {
    code == root || (code.starts_with(root) && code.as_bytes().get(root.len()) == Some(&b'.'))
}

/// The region a code lies in, from its first segment.
pub fn region_of(code: &str) -> Option<Region> {
    code.split('.').next()?.parse().ok()
}

fn parent_code(code: &str) -> Option<&str> {
    code.rsplit_once('.').map(|(parent, _)| parent)
}

/// Segments of lower-case ASCII letters, digits and inner hyphens, joined by dots.
fn is_valid_code(code: &str) -> bool {
    code.split('.').all(|segment| {
        !segment.is_empty()
            && !segment.starts_with('-')
            && !segment.ends_with('-')
            && segment
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_reference_has_every_region_and_the_programme_places() {
        let geo = Geography::built_in();
        for region in Region::ALL {
            assert_eq!(geo.get(region.slug()).map(|a| a.level), Some(AreaLevel::Region));
        }
        for cercle in [
            "sikasso.sikasso",
            "sikasso.yanfolila",
            "kayes.yelimane",
            "koulikoro.koulikoro",
            "koulikoro.banamba",
            "gao.gao",
            "tombouctou.niafunke",
            "segou.baroueli",
        ] {
            assert_eq!(geo.get(cercle).map(|a| a.level), Some(AreaLevel::Cercle), "{cercle}");
        }
        let sanando = geo.get("segou.baroueli.sanando").unwrap();
        assert_eq!(sanando.name, "Sanando");
        let village = geo.get("segou.baroueli.sanando.dioforongo").unwrap();
        assert_eq!(
            (village.name.as_str(), village.level),
            ("Dioforongo", AreaLevel::Village)
        );
        assert_eq!(geo.get("segou.baroueli").unwrap().name, "Barouéli");
    }

    #[test]
    fn resolves_a_commune_and_checks_the_other_levels() {
        let geo = Geography::built_in();
        let loc = geo
            .resolve("", "", "segou.baroueli.sanando", "segou.baroueli.sanando.dioforongo")
            .unwrap();
        assert_eq!(loc.region, Region::Segou);
        assert_eq!(loc.cercle, "segou.baroueli");
        assert_eq!(geo.resolve("", "", "", ""), Err(LocationError::MissingCommune));
        assert!(matches!(
            geo.resolve("", "", "segou.baroueli", ""),
            Err(LocationError::UnknownCommune(_))
        ));
        assert!(matches!(
            geo.resolve("mopti", "", "segou.baroueli.sanando", ""),
            Err(LocationError::RegionMismatch(..))
        ));
        assert!(matches!(
            geo.resolve("", "segou.bla", "segou.baroueli.sanando", ""),
            Err(LocationError::CercleMismatch(..))
        ));
        // A village of another commune is refused.
        assert!(matches!(
            geo.resolve("", "", "segou.baroueli.sanando", "segou.baroueli.somo.somo"),
            Err(LocationError::UnknownVillage(..))
        ));
    }

    #[test]
    fn subtree_listing_does_not_match_prefixes_of_names() {
        let geo = Geography::parse(
            "region,segou,Ségou\ncercle,segou.san,San\ncercle,segou.sans,Sans\ncommune,segou.san.san,San\n",
        )
        .unwrap();
        let codes: Vec<_> = geo.areas(Some("segou.san")).map(|a| a.code.as_str()).collect();
        assert_eq!(codes, ["segou.san", "segou.san.san"]);
    }

    #[test]
    fn refuses_bad_files_naming_the_line() {
        for (text, line) in [
            ("region,atlantis,Atlantis", 1),
            ("region,segou,Ségou\ncommune,segou.bla.bla,Bla", 2),
            ("region,segou,Ségou\ncercle,segou.Bla,Bla", 2),
            ("region,segou,Ségou\nregion,segou,Ségou", 2),
            ("hamlet,segou,Ségou", 1),
            ("region,segou", 1),
        ] {
            match Geography::parse(text) {
                Err(GeographyError::Line { line: l, .. }) => assert_eq!(l, line, "{text}"),
                other => panic!("{text}: expected a line error, got {other:?}"),
            }
        }
    }
}
