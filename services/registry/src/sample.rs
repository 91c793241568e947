//! Believable households for demos, benchmarks and tests: sizes, ages,
//! housing and assets in the proportions of rural Mali, in the communes of
//! the geography reference. Deterministic for a given seed, and every head
//! is unique (so no generated household is refused as a duplicate).

use chrono::{Datelike, Months, NaiveDate};
use jigi_common::{AreaLevel, Geography, Region};
use jigi_proto::common::{Location, Sex};
use jigi_proto::registry::{
    Assets, FloorMaterial, HouseholdDraft, HouseholdTraits, Livestock, MemberDraft, Relation, RoofMaterial,
    WallMaterial,
};

const WOMEN: [&str; 20] = [
    "Aminata",
    "Awa",
    "Fatoumata",
    "Mariam",
    "Kadiatou",
    "Fanta",
    "Oumou",
    "Hawa",
    "Djeneba",
    "Salimata",
    "Rokia",
    "Assetou",
    "Kani",
    "Mah",
    "Nana",
    "Bintou",
    "Korotoumou",
    "Sitan",
    "Ramata",
    "Aïssata",
];
const MEN: [&str; 20] = [
    "Mamadou",
    "Moussa",
    "Seydou",
    "Ibrahim",
    "Oumar",
    "Adama",
    "Bakary",
    "Souleymane",
    "Drissa",
    "Lassina",
    "Youssouf",
    "Modibo",
    "Sidiki",
    "Boubacar",
    "Amadou",
    "Issa",
    "Salif",
    "Siaka",
    "Dramane",
    "Bourama",
];
const FAMILIES: [&str; 32] = [
    "Traoré",
    "Coulibaly",
    "Diarra",
    "Keïta",
    "Koné",
    "Sangaré",
    "Diakité",
    "Doumbia",
    "Touré",
    "Cissé",
    "Sidibé",
    "Dembélé",
    "Kanté",
    "Camara",
    "Konaté",
    "Sissoko",
    "Bagayoko",
    "Fofana",
    "Samaké",
    "Togola",
    "Maïga",
    "Guindo",
    "Dicko",
    "Ballo",
    "Berthé",
    "Konaré",
    "Mariko",
    "Tangara",
    "Dao",
    "Haïdara",
    "Sow",
    "Bah",
];

/// A small deterministic generator (splitmix64).
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 0..n
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// Picks from `(weight, value)` pairs.
    fn weighted<T: Copy>(&mut self, choices: &[(u64, T)]) -> T {
        let total: u64 = choices.iter().map(|(w, _)| w).sum();
        let mut roll = self.below(total);
        for (weight, value) in choices {
            if roll < *weight {
                return *value;
            }
            roll -= weight;
        }
        choices[choices.len() - 1].1
    }
}

/// Generates households of one region.
pub struct HouseholdGenerator {
    communes: Vec<(String, Vec<String>)>,
    today: NaiveDate,
    seed: u64,
}

impl HouseholdGenerator {
    /// Households in every commune of `region` (or only `communes`, when given).
    pub fn new(
        geography: &Geography,
        region: Region,
        communes: &[&str],
        today: NaiveDate,
        seed: u64,
    ) -> HouseholdGenerator {
        let chosen: Vec<(String, Vec<String>)> = geography
            .communes(region.slug())
            .filter(|c| communes.is_empty() || communes.contains(&c.code.as_str()))
            .map(|commune| {
                let villages = geography
                    .areas(Some(&commune.code))
                    .filter(|a| a.level == AreaLevel::Village)
                    .map(|a| a.code.clone())
                    .collect();
                (commune.code.clone(), villages)
            })
            .collect();
        assert!(!chosen.is_empty(), "no commune to generate households in");
        HouseholdGenerator {
            communes: chosen,
            today,
            seed,
        }
    }

    /// The `index`-th household (the same index always gives the same household).
    pub fn household(&self, index: u64) -> HouseholdDraft {
        let mut dice = Dice(self.seed ^ index.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let (commune, villages) = &self.communes[dice.below(self.communes.len() as u64) as usize];
        let village = if villages.is_empty() {
            String::new()
        } else {
            villages[dice.below(villages.len() as u64) as usize].clone()
        };
        let family = FAMILIES[dice.below(FAMILIES.len() as u64) as usize];
        let head_is_woman = dice.chance(15);
        let mut members = vec![self.head(index, family, head_is_woman)];
        let head_age = self.today.year() - birth_year(&members[0]);
        if !head_is_woman && dice.chance(85) {
            let age = (head_age - 5 - dice.below(12) as i32).max(18);
            let born = self.born(age, &mut dice);
            let mut spouse = person(&mut dice, Sex::Female, born, Relation::Spouse, family);
            spouse.pregnant = age < 42 && dice.chance(12);
            spouse.lactating = !spouse.pregnant && age < 42 && dice.chance(20);
            members.push(spouse);
        }
        let children = dice.weighted(&[
            (5, 0u64),
            (10, 1),
            (15, 2),
            (18, 3),
            (18, 4),
            (14, 5),
            (10, 6),
            (6, 7),
            (4, 8),
        ]);
        for _ in 0..children {
            let age_months = dice.below(17 * 12) as u32;
            let sex = if dice.chance(50) { Sex::Female } else { Sex::Male };
            let born = self
                .today
                .checked_sub_months(Months::new(age_months + 1))
                .expect("date in range");
            members.push(person(&mut dice, sex, born, Relation::Child, family));
        }
        if dice.chance(20) {
            let age = 60 + dice.below(25) as i32;
            let born = self.born(age, &mut dice);
            members.push(person(&mut dice, Sex::Female, born, Relation::Parent, family));
        }
        HouseholdDraft {
            location: Some(Location {
                commune: commune.clone(),
                village,
                ..Default::default()
            }),
            members,
            traits: Some(traits(&mut dice)),
        }
    }

    /// A head unique to `index`: given name, family name and birth date
    /// together are a one-to-one function of the index.
    fn head(&self, index: u64, family: &str, woman: bool) -> MemberDraft {
        const DAYS: u64 = 40 * 365;
        let scrambled = index.wrapping_mul(2_654_435_761) % (20 * DAYS * FAMILIES.len() as u64);
        let given = if woman { WOMEN } else { MEN }[(scrambled % 20) as usize];
        let day = (scrambled / 20) % DAYS;
        let family_index = (scrambled / 20 / DAYS) as usize % FAMILIES.len();
        let family = if index < 20 * DAYS * FAMILIES.len() as u64 {
            FAMILIES[family_index]
        } else {
            family
        };
        let born = self.today - chrono::Duration::days((22 * 365 + day) as i64);
        MemberDraft {
            given_name: given.to_owned(),
            family_name: family.to_owned(),
            sex: if woman { Sex::Female } else { Sex::Male } as i32,
            birth_date: born.format("%Y-%m-%d").to_string(),
            relation: Relation::Head as i32,
            id_card_number: if index.is_multiple_of(3) {
                format!("ML{index:010}")
            } else {
                String::new()
            },
            ..Default::default()
        }
    }

    fn born(&self, age: i32, dice: &mut Dice) -> NaiveDate {
        let days = age as i64 * 365 + dice.below(365) as i64;
        self.today - chrono::Duration::days(days)
    }
}

fn birth_year(member: &MemberDraft) -> i32 {
    member.birth_date[..4].parse().unwrap_or(1980)
}

fn person(dice: &mut Dice, sex: Sex, born: NaiveDate, relation: Relation, family: &str) -> MemberDraft {
    let names = if sex == Sex::Female { WOMEN } else { MEN };
    MemberDraft {
        given_name: names[dice.below(names.len() as u64) as usize].to_owned(),
        family_name: family.to_owned(),
        sex: sex as i32,
        birth_date: born.format("%Y-%m-%d").to_string(),
        relation: relation as i32,
        ..Default::default()
    }
}

fn traits(dice: &mut Dice) -> HouseholdTraits {
    let better_off = dice.chance(25);
    let roof = if better_off {
        dice.weighted(&[
            (60, RoofMaterial::MetalSheet),
            (30, RoofMaterial::Concrete),
            (10, RoofMaterial::Earth),
        ])
    } else {
        dice.weighted(&[
            (55, RoofMaterial::Thatch),
            (30, RoofMaterial::Earth),
            (15, RoofMaterial::MetalSheet),
        ])
    };
    let wall = if better_off {
        dice.weighted(&[
            (60, WallMaterial::Cement),
            (30, WallMaterial::MudBrick),
            (10, WallMaterial::Stone),
        ])
    } else {
        dice.weighted(&[(80, WallMaterial::MudBrick), (20, WallMaterial::Straw)])
    };
    let floor = if better_off {
        dice.weighted(&[(70, FloorMaterial::Cement), (30, FloorMaterial::Tiles)])
    } else {
        dice.weighted(&[(90, FloorMaterial::Earth), (10, FloorMaterial::Cement)])
    };
    let few = |dice: &mut Dice, percent: u64, max: u64| {
        if dice.chance(percent) {
            1 + dice.below(max) as i32
        } else {
            0
        }
    };
    HouseholdTraits {
        roof: roof as i32,
        wall: wall as i32,
        floor: floor as i32,
        assets: Some(Assets {
            radios: few(dice, 60, 1),
            televisions: if better_off { few(dice, 60, 2) } else { few(dice, 5, 1) },
            mobile_phones: few(dice, 75, if better_off { 4 } else { 2 }),
            bicycles: few(dice, 35, 2),
            motorcycles: if better_off { few(dice, 70, 2) } else { few(dice, 10, 1) },
            carts: few(dice, 25, 1),
            ploughs: few(dice, 30, 1),
            solar_panels: few(dice, if better_off { 50 } else { 10 }, 1),
        }),
        livestock: Some(Livestock {
            cattle: if better_off {
                few(dice, 60, 12)
            } else {
                few(dice, 15, 3)
            },
            sheep_goats: few(dice, 60, 10),
            donkeys: few(dice, 20, 2),
            horses: few(dice, 3, 1),
            camels: 0,
            poultry: few(dice, 70, 20),
        }),
        cultivated_land_ares: if dice.chance(80) {
            50 + dice.below(if better_off { 1500 } else { 400 }) as i32
        } else {
            0
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::domain::identity;
    use crate::domain::validate::Rules;

    #[test]
    fn generated_households_are_valid_unique_and_repeatable() {
        let geography = Geography::built_in();
        let today: NaiveDate = "2018-10-01".parse().unwrap();
        let generator = HouseholdGenerator::new(&geography, Region::Sikasso, &[], today, 7);
        let rules = Rules {
            geography: &geography,
            region: Region::Sikasso,
            today,
        };
        let mut heads = HashSet::new();
        let mut sizes = 0;
        for index in 0..5_000 {
            let draft = generator.household(index);
            let household = crate::grpc::parse::household(&rules, Some(&draft), "household")
                .unwrap_or_else(|errors| panic!("household {index} invalid: {errors:?}"));
            let head = &household.members[0];
            let key = identity::head_key(
                &head.given_name,
                &head.family_name,
                head.birth_date,
                &household.location,
            );
            assert!(heads.insert(key), "household {index} repeats a head");
            sizes += household.members.len();
        }
        let mean = sizes as f64 / 5_000.0;
        assert!((4.0..8.0).contains(&mean), "mean household size {mean}");
        assert_eq!(generator.household(42), generator.household(42));
    }
}
