//! Turning what a client sends into valid domain values. Every problem is
//! reported with the path of its field (`household.members[2].birth_date`),
//! all at once, and nothing is built unless everything is valid.

use std::collections::HashMap;

use chrono::NaiveDate;
use jigi_common::date::{age_in_months, parse_date};
use jigi_common::geography::{Geography, LocationError};
use jigi_common::{FieldError, Problems, Region};
use jigi_proto::common::{self as pc, Sex};
use jigi_proto::registry::{self as pr, FloorMaterial, MemberStatus, Relation, RoofMaterial, WallMaterial};

use super::model::{Assets, IdCardNumber, Livestock, Location, Member, PersonName, PhoneNumber, Traits};

/// Most members a household may list.
pub const MAX_MEMBERS: usize = 60;
/// Most items of one asset.
pub const MAX_ASSET_COUNT: i32 = 100;
/// Most animals of one kind.
pub const MAX_ANIMALS: i32 = 10_000;
/// Most land, in ares (1,000 ha).
pub const MAX_LAND_ARES: i32 = 100_000;

/// What validation needs to know besides the request.
pub struct Rules<'a> {
    pub geography: &'a Geography,
    /// The region this registry serves.
    pub region: Region,
    /// Today, for "not in the future" and ages.
    pub today: NaiveDate,
}

/// A household that passed validation, ready to be stored.
#[derive(Debug, Clone)]
pub struct NewHousehold {
    pub location: Location,
    pub members: Vec<Member>,
    pub traits: Traits,
}

impl Rules<'_> {
    /// Checks a household draft; `path` is where it sits in the request.
    pub fn household(&self, draft: Option<&pr::HouseholdDraft>, path: &str) -> Result<NewHousehold, Vec<FieldError>> {
        let mut problems = Problems::new();
        let Some(draft) = draft else {
            problems.add(path, "is required");
            return Err(problems.into_errors());
        };
        let location = self.location(draft.location.as_ref(), &format!("{path}.location"), &mut problems);
        let traits = self.traits(draft.traits.as_ref(), &format!("{path}.traits"), &mut problems);
        let members_path = format!("{path}.members");
        if draft.members.is_empty() {
            problems.add(&members_path, "must list the household's members, the head included");
        } else if draft.members.len() > MAX_MEMBERS {
            problems.add(
                &members_path,
                format!(
                    "lists {} members; at most {MAX_MEMBERS} are allowed",
                    draft.members.len()
                ),
            );
        }
        let mut members = Vec::with_capacity(draft.members.len());
        let mut id_cards: HashMap<String, usize> = HashMap::new();
        let mut heads = 0;
        for (index, member) in draft.members.iter().enumerate().take(MAX_MEMBERS) {
            let member_path = format!("{members_path}[{index}]");
            if member.relation == Relation::Head as i32 {
                heads += 1;
                if heads > 1 {
                    problems.add(format!("{member_path}.relation"), "a household has exactly one head");
                }
            }
            if let Some(member) = self.member(member, &member_path, &mut problems) {
                if let Some(card) = &member.id_card
                    && let Some(first) = id_cards.insert(card.as_str().to_owned(), index)
                {
                    problems.add(
                        format!("{member_path}.id_card_number"),
                        format!("is the same as members[{first}]'s"),
                    );
                }
                members.push(member);
            }
        }
        if !draft.members.is_empty() && heads == 0 {
            problems.add(
                &members_path,
                "has no head: exactly one member must have relation RELATION_HEAD",
            );
        }
        let result = problems.into_result(|| ());
        result.map(|()| {
            // The head first, the others in the order given.
            members.sort_by_key(|member: &Member| !member.is_head());
            NewHousehold {
                location: location.expect("valid when no problems"),
                members,
                traits: traits.expect("valid when no problems"),
            }
        })
    }

    /// Checks a location: a known commune of this registry's region, and a
    /// village of that commune when given.
    pub fn location(&self, location: Option<&pc::Location>, path: &str, problems: &mut Problems) -> Option<Location> {
        let Some(location) = location else {
            problems.add(path, "is required");
            return None;
        };
        match self
            .geography
            .resolve(&location.region, &location.cercle, &location.commune, &location.village)
        {
            Ok(resolved) if resolved.region != self.region => {
                problems.add(
                    format!("{path}.commune"),
                    format!(
                        "{} is in the region of {}; this registry serves {}",
                        location.commune,
                        resolved.region.name(),
                        self.region.name()
                    ),
                );
                None
            }
            Ok(resolved) => Some(Location {
                region: resolved.region,
                cercle: resolved.cercle,
                commune: resolved.commune,
                village: resolved.village,
            }),
            Err(err) => {
                let field = match err {
                    LocationError::MissingCommune | LocationError::UnknownCommune(_) => "commune",
                    LocationError::UnknownVillage(..) => "village",
                    LocationError::RegionMismatch(..) => "region",
                    LocationError::CercleMismatch(..) => "cercle",
                };
                problems.add(format!("{path}.{field}"), err.to_string());
                None
            }
        }
    }

    /// Checks one member draft and gives the person a new registry ID.
    pub fn member(&self, draft: &pr::MemberDraft, path: &str, problems: &mut Problems) -> Option<Member> {
        let given_name = problems.check(format!("{path}.given_name"), PersonName::parse(&draft.given_name));
        let family_name = problems.check(format!("{path}.family_name"), PersonName::parse(&draft.family_name));
        let sex = problems.check(format!("{path}.sex"), known_enum::<Sex>(draft.sex, "SEX"));
        let relation = problems.check(
            format!("{path}.relation"),
            known_enum::<Relation>(draft.relation, "RELATION"),
        );
        let birth_date = problems.check(format!("{path}.birth_date"), self.birth_date(&draft.birth_date));
        let id_card = optional(&draft.id_card_number)
            .and_then(|text| problems.check(format!("{path}.id_card_number"), IdCardNumber::parse(text)));
        let phone =
            optional(&draft.phone).and_then(|text| problems.check(format!("{path}.phone"), PhoneNumber::parse(text)));
        let (sex, birth_date) = (sex?, birth_date?);
        self.check_maternity(sex, birth_date, draft.pregnant, draft.lactating, path, problems);
        let id_card_given = !draft.id_card_number.trim().is_empty();
        let phone_given = !draft.phone.trim().is_empty();
        if (id_card_given && id_card.is_none()) || (phone_given && phone.is_none()) {
            return None;
        }
        Some(Member {
            member_id: uuid::Uuid::now_v7().to_string(),
            given_name: given_name?,
            family_name: family_name?,
            sex,
            birth_date,
            birth_date_estimated: draft.birth_date_estimated,
            relation: relation?,
            pregnant: draft.pregnant,
            lactating: draft.lactating,
            id_card,
            phone,
            status: MemberStatus::Present,
        })
    }

    /// `YYYY-MM-DD`, from 1900 up to today.
    pub fn birth_date(&self, text: &str) -> Result<NaiveDate, String> {
        if text.is_empty() {
            return Err("is required".into());
        }
        let date = parse_date(text).ok_or_else(|| format!("{text:?} is not a date in YYYY-MM-DD form"))?;
        if date > self.today {
            return Err(format!("{text} is in the future"));
        }
        if date < NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date") {
            return Err(format!("{text} is before 1900"));
        }
        Ok(date)
    }

    /// An effective date (enrolment, exit): `YYYY-MM-DD`, not in the future.
    pub fn effective_date(&self, text: &str) -> Result<NaiveDate, String> {
        if text.is_empty() {
            return Err("is required".into());
        }
        let date = parse_date(text).ok_or_else(|| format!("{text:?} is not a date in YYYY-MM-DD form"))?;
        if date > self.today {
            return Err(format!("{text} is in the future"));
        }
        if date < NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date") {
            return Err(format!("{text} is before 2000"));
        }
        Ok(date)
    }

    /// Pregnancy and lactation are recorded for women aged 10 and over.
    pub fn check_maternity(
        &self,
        sex: Sex,
        birth_date: NaiveDate,
        pregnant: bool,
        lactating: bool,
        path: &str,
        problems: &mut Problems,
    ) {
        for (flag, name) in [(pregnant, "pregnant"), (lactating, "lactating")] {
            if !flag {
                continue;
            }
            if sex != Sex::Female {
                problems.add(format!("{path}.{name}"), "can only be set for a woman");
            } else if age_in_months(birth_date, self.today) < 120 {
                problems.add(format!("{path}.{name}"), "can only be set for a woman aged 10 or over");
            }
        }
    }

    /// Checks household traits (absent traits are all unknown).
    pub fn traits(&self, traits: Option<&pr::HouseholdTraits>, path: &str, problems: &mut Problems) -> Option<Traits> {
        let Some(traits) = traits else {
            return Some(Traits::default());
        };
        let before = problems.len();
        let roof = problems.check(format!("{path}.roof"), any_enum::<RoofMaterial>(traits.roof));
        let wall = problems.check(format!("{path}.wall"), any_enum::<WallMaterial>(traits.wall));
        let floor = problems.check(format!("{path}.floor"), any_enum::<FloorMaterial>(traits.floor));
        let default_assets = pr::Assets::default();
        let a = traits.assets.as_ref().unwrap_or(&default_assets);
        let mut count = |field: &str, value: i32, max: i32| -> u32 {
            problems
                .check(format!("{path}.{field}"), bounded(value, max))
                .unwrap_or(0)
        };
        let assets = Assets {
            radios: count("assets.radios", a.radios, MAX_ASSET_COUNT),
            televisions: count("assets.televisions", a.televisions, MAX_ASSET_COUNT),
            mobile_phones: count("assets.mobile_phones", a.mobile_phones, MAX_ASSET_COUNT),
            bicycles: count("assets.bicycles", a.bicycles, MAX_ASSET_COUNT),
            motorcycles: count("assets.motorcycles", a.motorcycles, MAX_ASSET_COUNT),
            carts: count("assets.carts", a.carts, MAX_ASSET_COUNT),
            ploughs: count("assets.ploughs", a.ploughs, MAX_ASSET_COUNT),
            solar_panels: count("assets.solar_panels", a.solar_panels, MAX_ASSET_COUNT),
        };
        let default_livestock = pr::Livestock::default();
        let l = traits.livestock.as_ref().unwrap_or(&default_livestock);
        let livestock = Livestock {
            cattle: count("livestock.cattle", l.cattle, MAX_ANIMALS),
            sheep_goats: count("livestock.sheep_goats", l.sheep_goats, MAX_ANIMALS),
            donkeys: count("livestock.donkeys", l.donkeys, MAX_ANIMALS),
            horses: count("livestock.horses", l.horses, MAX_ANIMALS),
            camels: count("livestock.camels", l.camels, MAX_ANIMALS),
            poultry: count("livestock.poultry", l.poultry, MAX_ANIMALS),
        };
        let land = count("cultivated_land_ares", traits.cultivated_land_ares, MAX_LAND_ARES);
        if problems.len() > before {
            return None;
        }
        Some(Traits {
            roof: roof?,
            wall: wall?,
            floor: floor?,
            assets,
            livestock,
            cultivated_land_ares: land,
        })
    }
}

/// `None` for an empty or blank optional text field.
fn optional(text: &str) -> Option<&str> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then_some(trimmed)
}

/// A count from 0 to `max`.
fn bounded(value: i32, max: i32) -> Result<u32, String> {
    if value < 0 {
        Err(format!("is negative ({value})"))
    } else if value > max {
        Err(format!("is {value}; at most {max} is accepted"))
    } else {
        Ok(value as u32)
    }
}

/// A known, specified value of a wire enum.
fn known_enum<E>(value: i32, prefix: &str) -> Result<E, String>
where
    E: TryFrom<i32> + PartialEq + Default,
{
    match E::try_from(value) {
        Ok(e) if e == E::default() => Err(format!("is required ({prefix}_UNSPECIFIED is not a value)")),
        Ok(e) => Ok(e),
        Err(_) => Err(format!("has unknown value {value}")),
    }
}

/// A known value of a wire enum, unspecified allowed.
fn any_enum<E: TryFrom<i32>>(value: i32) -> Result<E, String> {
    E::try_from(value).map_err(|_| format!("has unknown value {value}"))
}

/// Checks a member status on update: unspecified means unchanged.
pub fn member_status(value: i32) -> Result<Option<MemberStatus>, String> {
    match MemberStatus::try_from(value) {
        Ok(MemberStatus::Unspecified) => Ok(None),
        Ok(status) => Ok(Some(status)),
        Err(_) => Err(format!("has unknown value {value}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(geography: &Geography) -> Rules<'_> {
        Rules {
            geography,
            region: Region::Segou,
            today: "2018-10-01".parse().unwrap(),
        }
    }

    fn head() -> pr::MemberDraft {
        pr::MemberDraft {
            given_name: "Awa".into(),
            family_name: "Traoré".into(),
            sex: Sex::Female as i32,
            birth_date: "1975-03-02".into(),
            relation: Relation::Head as i32,
            id_card_number: "ML12345678".into(),
            ..Default::default()
        }
    }

    fn draft() -> pr::HouseholdDraft {
        pr::HouseholdDraft {
            location: Some(pc::Location {
                commune: "segou.baroueli.sanando".into(),
                village: "segou.baroueli.sanando.dioforongo".into(),
                ..Default::default()
            }),
            members: vec![
                pr::MemberDraft {
                    given_name: "Moussa".into(),
                    family_name: "Traoré".into(),
                    sex: Sex::Male as i32,
                    birth_date: "2016-05-10".into(),
                    relation: Relation::Child as i32,
                    ..Default::default()
                },
                head(),
            ],
            traits: None,
        }
    }

    fn fields(result: Result<NewHousehold, Vec<FieldError>>) -> Vec<String> {
        result.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_valid_draft_puts_the_head_first() {
        let geo = Geography::built_in();
        let household = rules(&geo).household(Some(&draft()), "household").unwrap();
        assert_eq!(household.members[0].given_name.as_str(), "Awa");
        assert_eq!(household.location.cercle, "segou.baroueli");
        assert_eq!(household.traits, Traits::default());
    }

    #[test]
    fn names_every_bad_field_at_once() {
        let geo = Geography::built_in();
        let mut bad = draft();
        bad.members[0].birth_date = "2019-01-01".into();
        bad.members[0].sex = 7;
        bad.members[1].given_name = " ".into();
        bad.members[1].phone = "12".into();
        bad.traits = Some(pr::HouseholdTraits {
            roof: 42,
            cultivated_land_ares: -5,
            assets: Some(pr::Assets {
                radios: -1,
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(
            fields(rules(&geo).household(Some(&bad), "household")),
            [
                "household.traits.roof",
                "household.traits.assets.radios",
                "household.traits.cultivated_land_ares",
                "household.members[0].sex",
                "household.members[0].birth_date",
                "household.members[1].given_name",
                "household.members[1].phone",
            ]
        );
    }

    #[test]
    fn location_must_be_a_known_commune_of_this_region() {
        let geo = Geography::built_in();
        let mut other_region = draft();
        other_region.location = Some(pc::Location {
            commune: "sikasso.yanfolila.gouanan".into(),
            ..Default::default()
        });
        assert_eq!(
            fields(rules(&geo).household(Some(&other_region), "household")),
            ["household.location.commune"]
        );
        let mut unknown = draft();
        unknown.location.as_mut().unwrap().commune = "segou.nowhere".into();
        assert_eq!(
            fields(rules(&geo).household(Some(&unknown), "household")),
            ["household.location.commune"]
        );
        let mut no_location = draft();
        no_location.location = None;
        assert_eq!(
            fields(rules(&geo).household(Some(&no_location), "household")),
            ["household.location"]
        );
    }

    #[test]
    fn exactly_one_head() {
        let geo = Geography::built_in();
        let mut headless = draft();
        headless.members.remove(1);
        assert_eq!(
            fields(rules(&geo).household(Some(&headless), "household")),
            ["household.members"]
        );
        let mut two_heads = draft();
        two_heads.members.push(pr::MemberDraft {
            id_card_number: String::new(),
            given_name: "Fanta".into(),
            ..head()
        });
        assert_eq!(
            fields(rules(&geo).household(Some(&two_heads), "household")),
            ["household.members[2].relation"]
        );
        let mut empty = draft();
        empty.members.clear();
        assert_eq!(
            fields(rules(&geo).household(Some(&empty), "household")),
            ["household.members"]
        );
    }

    #[test]
    fn maternity_only_for_women_of_age_and_id_cards_unique_in_the_household() {
        let geo = Geography::built_in();
        let mut bad = draft();
        bad.members[0].pregnant = true; // a boy of two
        bad.members.push(pr::MemberDraft {
            given_name: "Fanta".into(),
            relation: Relation::Spouse as i32,
            id_card_number: "ml-12345678".into(), // the head's, differently written
            lactating: true,
            ..head()
        });
        assert_eq!(
            fields(rules(&geo).household(Some(&bad), "household")),
            ["household.members[0].pregnant", "household.members[2].id_card_number"]
        );
    }

    #[test]
    fn too_many_members_is_refused() {
        let geo = Geography::built_in();
        let mut crowded = draft();
        let child = crowded.members[0].clone();
        crowded.members.extend(std::iter::repeat_n(child, MAX_MEMBERS));
        assert_eq!(
            fields(rules(&geo).household(Some(&crowded), "household")),
            ["household.members"]
        );
    }
}
