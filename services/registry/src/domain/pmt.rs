//! The proxy means test: a welfare score from observable traits, with the
//! weights and regional thresholds read from a configuration file (the built-in
//! one is `config/pmt.toml`, which documents the formula).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use jigi_common::Region;
use jigi_common::date::age_in_months;
use serde::Deserialize;

use super::model::{FloorMaterial, Member, PmtAssessment, RoofMaterial, Traits, WallMaterial};

/// The weights built into the registry.
pub const BUILT_IN: &str = include_str!("../../config/pmt.toml");

/// Points per material.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoofPoints {
    pub unspecified: f64,
    pub thatch: f64,
    pub earth: f64,
    pub metal_sheet: f64,
    pub concrete: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WallPoints {
    pub unspecified: f64,
    pub straw: f64,
    pub mud_brick: f64,
    pub stone: f64,
    pub cement: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloorPoints {
    pub unspecified: f64,
    pub earth: f64,
    pub cement: f64,
    pub tiles: f64,
}

/// Points per item owned.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetPoints {
    pub radio: f64,
    pub television: f64,
    pub mobile_phone: f64,
    pub bicycle: f64,
    pub motorcycle: f64,
    pub cart: f64,
    pub plough: f64,
    pub solar_panel: f64,
}

/// Tropical livestock units per animal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TluFactors {
    pub cattle: f64,
    pub sheep_goats: f64,
    pub donkeys: f64,
    pub horses: f64,
    pub camels: f64,
    pub poultry: f64,
}

/// The PMT configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PmtConfig {
    pub version: String,
    pub constant: f64,
    pub per_member: f64,
    pub dependency_ratio: f64,
    pub asset_cap: u32,
    pub livestock_per_tlu: f64,
    pub livestock_cap_tlu: f64,
    pub land_per_hectare: f64,
    pub land_cap_hectares: f64,
    pub roof: RoofPoints,
    pub wall: WallPoints,
    pub floor: FloorPoints,
    pub assets: AssetPoints,
    pub tlu: TluFactors,
    pub thresholds: BTreeMap<String, f64>,
}

/// Why a PMT configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum PmtConfigError {
    #[error("PMT configuration does not parse: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("PMT configuration has no threshold for region {0}")]
    MissingThreshold(&'static str),
    #[error("PMT configuration has a threshold for unknown region {0:?}")]
    UnknownRegion(String),
    #[error("PMT configuration: {0} must be a finite number, not negative")]
    BadCap(&'static str),
}

impl PmtConfig {
    pub fn built_in() -> PmtConfig {
        PmtConfig::parse(BUILT_IN).expect("the built-in PMT configuration is valid")
    }

    pub fn parse(text: &str) -> Result<PmtConfig, PmtConfigError> {
        let config: PmtConfig = toml::from_str(text)?;
        for region in Region::ALL {
            if !config.thresholds.contains_key(region.slug()) {
                return Err(PmtConfigError::MissingThreshold(region.slug()));
            }
        }
        if let Some(unknown) = config.thresholds.keys().find(|k| k.parse::<Region>().is_err()) {
            return Err(PmtConfigError::UnknownRegion(unknown.clone()));
        }
        for (name, cap) in [
            ("livestock_cap_tlu", config.livestock_cap_tlu),
            ("land_cap_hectares", config.land_cap_hectares),
        ] {
            if !cap.is_finite() || cap < 0.0 {
                return Err(PmtConfigError::BadCap(name));
            }
        }
        Ok(config)
    }

    pub fn threshold(&self, region: Region) -> f64 {
        self.thresholds[region.slug()]
    }

    /// Scores a household on `on` (ages are counted on that date).
    pub fn assess(&self, region: Region, members: &[Member], traits: &Traits, on: NaiveDate) -> PmtAssessment {
        let score = self.score(members, traits, on);
        let threshold = self.threshold(region);
        PmtAssessment {
            score,
            threshold,
            eligible: score <= threshold,
            weights_version: self.version.clone(),
        }
    }

    /// The welfare score, 0 to 100, two decimals.
    pub fn score(&self, members: &[Member], traits: &Traits, on: NaiveDate) -> f64 {
        let present: Vec<&Member> = members.iter().filter(|m| m.is_present()).collect();
        let (dependants, working_age) = present.iter().fold((0u32, 0u32), |(dep, work), member| {
            let years = age_in_months(member.birth_date, on) / 12;
            if (15..=64).contains(&years) {
                (dep, work + 1)
            } else {
                (dep + 1, work)
            }
        });
        let dependency_ratio = f64::from(dependants) / f64::from(working_age.max(1));

        let roof = match traits.roof {
            RoofMaterial::Unknown => self.roof.unspecified,
            RoofMaterial::Thatch => self.roof.thatch,
            RoofMaterial::Earth => self.roof.earth,
            RoofMaterial::MetalSheet => self.roof.metal_sheet,
            RoofMaterial::Concrete => self.roof.concrete,
        };
        let wall = match traits.wall {
            WallMaterial::Unknown => self.wall.unspecified,
            WallMaterial::Straw => self.wall.straw,
            WallMaterial::MudBrick => self.wall.mud_brick,
            WallMaterial::Stone => self.wall.stone,
            WallMaterial::Cement => self.wall.cement,
        };
        let floor = match traits.floor {
            FloorMaterial::Unknown => self.floor.unspecified,
            FloorMaterial::Earth => self.floor.earth,
            FloorMaterial::Cement => self.floor.cement,
            FloorMaterial::Tiles => self.floor.tiles,
        };
        let a = &traits.assets;
        let capped = |count: u32| f64::from(count.min(self.asset_cap));
        let assets = self.assets.radio * capped(a.radios)
            + self.assets.television * capped(a.televisions)
            + self.assets.mobile_phone * capped(a.mobile_phones)
            + self.assets.bicycle * capped(a.bicycles)
            + self.assets.motorcycle * capped(a.motorcycles)
            + self.assets.cart * capped(a.carts)
            + self.assets.plough * capped(a.ploughs)
            + self.assets.solar_panel * capped(a.solar_panels);
        let l = &traits.livestock;
        let tlu = self.tlu.cattle * f64::from(l.cattle)
            + self.tlu.sheep_goats * f64::from(l.sheep_goats)
            + self.tlu.donkeys * f64::from(l.donkeys)
            + self.tlu.horses * f64::from(l.horses)
            + self.tlu.camels * f64::from(l.camels)
            + self.tlu.poultry * f64::from(l.poultry);
        let hectares = f64::from(traits.cultivated_land_ares) / 100.0;

        let raw = self.constant
            + self.per_member * present.len() as f64
            + self.dependency_ratio * dependency_ratio
            + roof
            + wall
            + floor
            + assets
            + self.livestock_per_tlu * tlu.min(self.livestock_cap_tlu)
            + self.land_per_hectare * hectares.min(self.land_cap_hectares);
        (raw.clamp(0.0, 100.0) * 100.0).round() / 100.0
    }
}

#[cfg(test)]
mod tests {
    use jigi_common::Sex;

    use super::*;
    use crate::domain::model::{Assets, Livestock, MemberStatus, PersonName, Relation};

    fn person(born: &str, relation: Relation) -> Member {
        Member {
            member_id: String::new(),
            given_name: PersonName::parse("A").unwrap(),
            family_name: PersonName::parse("B").unwrap(),
            sex: Sex::Female,
            birth_date: born.parse().unwrap(),
            birth_date_estimated: false,
            relation,
            pregnant: false,
            lactating: false,
            id_card: None,
            phone: None,
            status: MemberStatus::Present,
        }
    }

    fn on() -> NaiveDate {
        "2018-10-01".parse().unwrap()
    }

    #[test]
    fn a_poor_rural_household_is_eligible() {
        let pmt = PmtConfig::built_in();
        let members = vec![
            person("1975-01-01", Relation::Head),
            person("1980-01-01", Relation::Spouse),
            person("2010-01-01", Relation::Child),
            person("2014-01-01", Relation::Child),
            person("2017-06-01", Relation::Child),
        ];
        let traits = Traits {
            roof: RoofMaterial::Thatch,
            wall: WallMaterial::MudBrick,
            floor: FloorMaterial::Earth,
            assets: Assets {
                radios: 1,
                ..Default::default()
            },
            livestock: Livestock {
                sheep_goats: 4,
                poultry: 10,
                ..Default::default()
            },
            cultivated_land_ares: 150,
        };
        // 40 - 1.5×5 - 6×(3/2) + 0 + 2 + 0 + 1 + 1.5×0.5 + 1.5 = 28.75
        let assessment = pmt.assess(Region::Segou, &members, &traits, on());
        assert_eq!(assessment.score, 28.75);
        assert!(assessment.eligible, "28.75 <= Ségou's 30");
        assert!(
            !pmt.assess(Region::Bamako, &members, &traits, on()).eligible,
            "28.75 > Bamako's 24"
        );
    }

    #[test]
    fn assets_and_land_raise_the_score_up_to_their_caps() {
        let pmt = PmtConfig::built_in();
        let members = vec![person("1975-01-01", Relation::Head)];
        let base = Traits::default();
        let three_tvs = Traits {
            assets: Assets {
                televisions: 3,
                ..Default::default()
            },
            ..base
        };
        let ten_tvs = Traits {
            assets: Assets {
                televisions: 10,
                ..Default::default()
            },
            ..base
        };
        assert_eq!(
            pmt.score(&members, &three_tvs, on()) - pmt.score(&members, &base, on()),
            12.0
        );
        assert_eq!(
            pmt.score(&members, &ten_tvs, on()),
            pmt.score(&members, &three_tvs, on())
        );
        let rich = Traits {
            roof: RoofMaterial::Concrete,
            wall: WallMaterial::Cement,
            floor: FloorMaterial::Tiles,
            assets: Assets {
                televisions: 3,
                motorcycles: 3,
                solar_panels: 3,
                ..Default::default()
            },
            livestock: Livestock {
                cattle: 1_000,
                ..Default::default()
            },
            cultivated_land_ares: 100_000,
        };
        assert_eq!(pmt.score(&members, &rich, on()), 100.0, "clamped");
    }

    #[test]
    fn members_who_left_do_not_count() {
        let pmt = PmtConfig::built_in();
        let mut members = vec![
            person("1975-01-01", Relation::Head),
            person("2015-01-01", Relation::Child),
        ];
        let with_child = pmt.score(&members, &Traits::default(), on());
        members[1].status = MemberStatus::Left;
        assert!(pmt.score(&members, &Traits::default(), on()) > with_child);
    }

    #[test]
    fn refuses_incomplete_or_unknown_thresholds() {
        let missing = BUILT_IN.replace("gao = 26.0\n", "");
        assert!(matches!(
            PmtConfig::parse(&missing),
            Err(PmtConfigError::MissingThreshold("gao"))
        ));
        let unknown = BUILT_IN.replace("gao = 26.0\n", "gao = 26.0\nkidal = 20.0\n");
        assert!(matches!(
            PmtConfig::parse(&unknown),
            Err(PmtConfigError::UnknownRegion(_))
        ));
        let typo = BUILT_IN.replace("radio = 1.0", "radoi = 1.0");
        assert!(matches!(PmtConfig::parse(&typo), Err(PmtConfigError::Parse(_))));
    }
}
