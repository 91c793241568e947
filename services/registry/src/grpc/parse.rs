//! Reading what a client sends into valid domain values. Every problem is
//! reported with the path of its field (`household.members[2].birth_date`),
//! all at once, and nothing is built unless everything is valid. The rules
//! themselves (dates, maternity, limits) are the domain's
//! ([`crate::domain::validate`]); this is where the wire format ends.

use std::collections::HashMap;

use jigi_common::geography::LocationError;
use jigi_common::{Component, FieldError, HouseholdId, MemberId, Problems};
use jigi_proto::common as pc;
use jigi_proto::registry as pr;

use super::convert;
use crate::app::{MAX_BATCH, Targets};
use crate::domain::model::{
    Assets, ExitReason, IdCardNumber, Livestock, Location, Member, MemberStatus, PersonName, PhoneNumber, Traits,
};
use crate::domain::validate::{
    self, Enrolling, Exiting, MAX_ANIMALS, MAX_ASSET_COUNT, MAX_LAND_ARES, MAX_MEMBERS, MAX_NOTE_CHARS, MemberEdit,
    Moving, NewHousehold, Rules,
};

/// Checks a household draft; `path` is where it sits in the request.
pub fn household(
    rules: &Rules<'_>,
    draft: Option<&pr::HouseholdDraft>,
    path: &str,
) -> Result<NewHousehold, Vec<FieldError>> {
    let mut problems = Problems::new();
    let Some(draft) = draft else {
        problems.add(path, "is required");
        return Err(problems.into_errors());
    };
    let location = location(
        rules,
        draft.location.as_ref(),
        &format!("{path}.location"),
        &mut problems,
    );
    let traits = traits(draft.traits.as_ref(), &format!("{path}.traits"), &mut problems);
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
    for (index, member_draft) in draft.members.iter().enumerate().take(MAX_MEMBERS) {
        let member_path = format!("{members_path}[{index}]");
        if member_draft.relation == pr::Relation::Head as i32 {
            heads += 1;
            if heads > 1 {
                problems.add(format!("{member_path}.relation"), "a household has exactly one head");
            }
        }
        if let Some(member) = member(rules, member_draft, &member_path, &mut problems) {
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
pub fn location(
    rules: &Rules<'_>,
    location: Option<&pc::Location>,
    path: &str,
    problems: &mut Problems,
) -> Option<Location> {
    let Some(location) = location else {
        problems.add(path, "is required");
        return None;
    };
    match rules
        .geography
        .resolve(&location.region, &location.cercle, &location.commune, &location.village)
    {
        Ok(resolved) if resolved.region != rules.region => {
            problems.add(
                format!("{path}.commune"),
                format!(
                    "{} is in the region of {}; this registry serves {}",
                    location.commune,
                    resolved.region.name(),
                    rules.region.name()
                ),
            );
            None
        }
        Ok(resolved) => Some(resolved),
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
pub fn member(rules: &Rules<'_>, draft: &pr::MemberDraft, path: &str, problems: &mut Problems) -> Option<Member> {
    let given_name = problems.check(format_args!("{path}.given_name"), PersonName::parse(&draft.given_name));
    let family_name = problems.check(
        format_args!("{path}.family_name"),
        PersonName::parse(&draft.family_name),
    );
    let sex = problems.check(
        format_args!("{path}.sex"),
        convert::required(convert::sex_from_wire(draft.sex), "SEX"),
    );
    let relation = problems.check(
        format_args!("{path}.relation"),
        convert::required(convert::relation_from_wire(draft.relation), "RELATION"),
    );
    let birth_date = problems.check(
        format_args!("{path}.birth_date"),
        validate::birth_date(&draft.birth_date, rules.today),
    );
    let id_card = optional(&draft.id_card_number)
        .and_then(|text| problems.check(format_args!("{path}.id_card_number"), IdCardNumber::parse(text)));
    let phone =
        optional(&draft.phone).and_then(|text| problems.check(format_args!("{path}.phone"), PhoneNumber::parse(text)));
    let (sex, birth_date) = (sex?, birth_date?);
    validate::check_maternity(
        rules.today,
        sex,
        birth_date,
        draft.pregnant,
        draft.lactating,
        path,
        problems,
    );
    let id_card_given = !draft.id_card_number.trim().is_empty();
    let phone_given = !draft.phone.trim().is_empty();
    if (id_card_given && id_card.is_none()) || (phone_given && phone.is_none()) {
        return None;
    }
    Some(Member {
        member_id: MemberId::issue().into_string(),
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

/// Checks the person an `AddMember` adds: anyone but a second head.
pub fn added_member(rules: &Rules<'_>, draft: Option<&pr::MemberDraft>) -> Result<Member, Vec<FieldError>> {
    let mut problems = Problems::new();
    let Some(draft) = draft else {
        return Err(vec![FieldError::new("member", "is required")]);
    };
    if draft.relation == pr::Relation::Head as i32 {
        problems.add(
            "member.relation",
            "a household has one head; add the person with another relation",
        );
    }
    let member = member(rules, draft, "member", &mut problems);
    problems.into_result(|| member.expect("valid when no problems"))
}

/// Checks household traits (absent traits are all unknown).
pub fn traits(traits: Option<&pr::HouseholdTraits>, path: &str, problems: &mut Problems) -> Option<Traits> {
    let Some(traits) = traits else {
        return Some(Traits::default());
    };
    let before = problems.len();
    let roof = problems.check(format_args!("{path}.roof"), convert::roof_from_wire(traits.roof));
    let wall = problems.check(format_args!("{path}.wall"), convert::wall_from_wire(traits.wall));
    let floor = problems.check(format_args!("{path}.floor"), convert::floor_from_wire(traits.floor));
    let default_assets = pr::Assets::default();
    let a = traits.assets.as_ref().unwrap_or(&default_assets);
    let mut count = |field: &str, value: i32, max: i32| -> u32 {
        problems
            .check(format_args!("{path}.{field}"), bounded(value, max))
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

/// The location and traits an `UpdateHousehold` gives, each checked when given.
pub fn household_changes(
    rules: &Rules<'_>,
    location_given: Option<&pc::Location>,
    traits_given: Option<&pr::HouseholdTraits>,
) -> Result<(Option<Location>, Option<Traits>), Vec<FieldError>> {
    let mut problems = Problems::new();
    let location = location_given.and_then(|l| location(rules, Some(l), "location", &mut problems));
    let traits = traits_given.and_then(|t| traits(Some(t), "traits", &mut problems));
    problems.into_result(|| (location, traits))
}

/// A member status on update: unspecified means unchanged.
pub fn member_status(value: i32) -> Result<Option<MemberStatus>, String> {
    convert::member_status_from_wire(value)
}

/// An exit's reason, which must be given.
pub fn exit_reason(value: i32) -> Result<ExitReason, String> {
    convert::exit_reason_from_wire(value)?.ok_or_else(|| "is required".to_owned())
}

/// `UpdateMember`: every change checked, all problems at once.
/// `UpdateMember`: the person (every problem of the request named at
/// once, the person's ID among them) and the changes.
pub fn member_edit(
    rules: &Rules<'_>,
    request: &pr::UpdateMemberRequest,
) -> Result<(MemberId, MemberEdit), Vec<FieldError>> {
    let mut problems = Problems::new();
    let given_name = request
        .given_name
        .as_deref()
        .and_then(|n| problems.check("given_name", PersonName::parse(n)));
    let family_name = request
        .family_name
        .as_deref()
        .and_then(|n| problems.check("family_name", PersonName::parse(n)));
    let birth_date = request
        .birth_date
        .as_deref()
        .and_then(|d| problems.check("birth_date", validate::birth_date(d, rules.today)));
    // An empty string removes an ID card or a phone number.
    let id_card = request.id_card_number.as_deref().and_then(|c| match c.trim() {
        "" => Some(None),
        c => problems.check("id_card_number", IdCardNumber::parse(c)).map(Some),
    });
    let phone = request.phone.as_deref().and_then(|p| match p.trim() {
        "" => Some(None),
        p => problems.check("phone", PhoneNumber::parse(p)).map(Some),
    });
    let status = problems.check("status", member_status(request.status)).flatten();
    let member_id = problems.check("member_id", MemberId::parse(&request.member_id));
    problems.into_result(|| {
        let edit = MemberEdit {
            given_name,
            family_name,
            birth_date,
            birth_date_estimated: request.birth_date_estimated,
            pregnant: request.pregnant,
            lactating: request.lactating,
            id_card,
            phone,
            status,
        };
        (member_id.expect("checked"), edit)
    })
}

/// An enrolment's component, date and committee reference (`EnrolHousehold`,
/// `EnrolHouseholds`), its problems added to `problems`.
pub fn enrolling(
    rules: &Rules<'_>,
    component: i32,
    enrolled_on: &str,
    committee_override: &str,
    problems: &mut Problems,
) -> Option<Enrolling> {
    let component = problems.check("component", known_component(component));
    let on = rules.past_date(enrolled_on, "enrolled_on", problems);
    let committee_override = committee_override.trim();
    if committee_override.chars().count() > MAX_NOTE_CHARS {
        problems.add(
            "committee_override",
            format!("is longer than {MAX_NOTE_CHARS} characters"),
        );
        return None;
    }
    Some(Enrolling {
        component: component?,
        on: on?,
        committee_override: committee_override.to_owned(),
    })
}

/// `EnrolHouseholds`: the enrolment and the households it names or selects.
pub fn batch_enrolment(
    rules: &Rules<'_>,
    request: &pr::EnrolHouseholdsRequest,
    targets: Targets,
) -> Result<(Enrolling, Targets), Vec<FieldError>> {
    let mut problems = Problems::new();
    let enrolling = enrolling(
        rules,
        request.component,
        &request.enrolled_on,
        &request.committee_override,
        &mut problems,
    );
    let targets = match targets {
        Targets::Listed(ids) if ids.is_empty() => {
            problems.add("household_ids", "name at least one household, or give a selection");
            None
        }
        Targets::Listed(ids) if ids.len() > MAX_BATCH => {
            problems.add("household_ids", format!("at most {MAX_BATCH} households per request"));
            None
        }
        Targets::Listed(ids) => {
            // In the registry's own form, as the single-household RPCs read them.
            let ids: Vec<String> = ids
                .iter()
                .enumerate()
                .filter_map(|(index, id)| {
                    problems
                        .check(format_args!("household_ids[{index}]"), HouseholdId::parse(id))
                        .map(HouseholdId::into_string)
                })
                .collect();
            Some(Targets::Listed(ids))
        }
        selected => Some(selected),
    };
    problems.into_result(|| (enrolling.expect("checked"), targets.expect("checked")))
}

/// `ExitHousehold`.
pub fn exiting(rules: &Rules<'_>, request: &pr::ExitHouseholdRequest) -> Result<Exiting, Vec<FieldError>> {
    let mut problems = Problems::new();
    let component = problems.check("component", known_component(request.component));
    let on = rules.past_date(&request.exited_on, "exited_on", &mut problems);
    let reason = problems.check("reason", exit_reason(request.reason));
    let note = request.note.trim();
    if note.chars().count() > MAX_NOTE_CHARS {
        problems.add("note", format!("is longer than {MAX_NOTE_CHARS} characters"));
    }
    if reason == Some(ExitReason::Other) && note.is_empty() {
        problems.add("note", "is required when the reason is EXIT_REASON_OTHER");
    }
    problems.into_result(|| Exiting {
        component: component.expect("checked"),
        on: on.expect("checked"),
        reason: reason.expect("checked"),
        note: note.to_owned(),
    })
}

/// `TransferHousehold`: another region, an optional registry ID there, and
/// a date (today when empty).
pub fn moving(rules: &Rules<'_>, request: &pr::TransferHouseholdRequest) -> Result<Moving, Vec<FieldError>> {
    let mut problems = Problems::new();
    let destination = &request.destination_region;
    let destination_region = match destination.parse::<jigi_common::Region>() {
        Ok(region) if region == rules.region => {
            problems.add("destination_region", "is this region: a move within it is an update");
            None
        }
        Ok(region) => Some(region),
        Err(_) => {
            problems.add("destination_region", format!("{destination:?} is not a region slug"));
            None
        }
    };
    let destination_household_id = match request.destination_household_id.trim() {
        "" => Some(String::new()),
        id => problems
            .check("destination_household_id", HouseholdId::parse(id))
            .map(HouseholdId::into_string),
    };
    let on = if request.transferred_on.trim().is_empty() {
        Some(rules.today)
    } else {
        rules.past_date(&request.transferred_on, "transferred_on", &mut problems)
    };
    problems.into_result(|| Moving {
        destination: destination_region.expect("checked"),
        destination_household_id: destination_household_id.expect("checked"),
        on: on.expect("checked"),
    })
}

/// A component the programme runs (`COMPONENT_UNSPECIFIED` is not one).
fn known_component(value: i32) -> Result<Component, String> {
    Component::from_proto(value).ok_or_else(|| match value {
        0 => "is required (COMPONENT_UNSPECIFIED is not a component)".to_owned(),
        other => format!("has unknown value {other}"),
    })
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

#[cfg(test)]
mod tests {
    use jigi_common::Region;
    use jigi_common::geography::Geography;
    use jigi_proto::common::Sex;
    use jigi_proto::registry::Relation;

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
        let household = household(&rules(&geo), Some(&draft()), "household").unwrap();
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
            fields(household(&rules(&geo), Some(&bad), "household")),
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
            fields(household(&rules(&geo), Some(&other_region), "household")),
            ["household.location.commune"]
        );
        let mut unknown = draft();
        unknown.location.as_mut().unwrap().commune = "segou.nowhere".into();
        assert_eq!(
            fields(household(&rules(&geo), Some(&unknown), "household")),
            ["household.location.commune"]
        );
        let mut no_location = draft();
        no_location.location = None;
        assert_eq!(
            fields(household(&rules(&geo), Some(&no_location), "household")),
            ["household.location"]
        );
    }

    #[test]
    fn exactly_one_head() {
        let geo = Geography::built_in();
        let mut headless = draft();
        headless.members.remove(1);
        assert_eq!(
            fields(household(&rules(&geo), Some(&headless), "household")),
            ["household.members"]
        );
        let mut two_heads = draft();
        two_heads.members.push(pr::MemberDraft {
            id_card_number: String::new(),
            given_name: "Fanta".into(),
            ..head()
        });
        assert_eq!(
            fields(household(&rules(&geo), Some(&two_heads), "household")),
            ["household.members[2].relation"]
        );
        let mut empty = draft();
        empty.members.clear();
        assert_eq!(
            fields(household(&rules(&geo), Some(&empty), "household")),
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
            fields(household(&rules(&geo), Some(&bad), "household")),
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
            fields(household(&rules(&geo), Some(&crowded), "household")),
            ["household.members"]
        );
    }

    #[test]
    fn unspecified_or_unknown_enums_are_refused_by_field() {
        let geo = Geography::built_in();
        let mut bad = draft();
        bad.members[0].sex = Sex::Unspecified as i32;
        bad.members[0].relation = 42;
        bad.members[1].sex = -3;
        bad.traits = Some(pr::HouseholdTraits {
            wall: 9,
            floor: -1,
            ..Default::default()
        });
        let errors = household(&rules(&geo), Some(&bad), "household").unwrap_err();
        let described: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.description.as_str()))
            .collect();
        assert_eq!(
            described,
            [
                ("household.traits.wall", "has unknown value 9"),
                ("household.traits.floor", "has unknown value -1"),
                (
                    "household.members[0].sex",
                    "is required (SEX_UNSPECIFIED is not a value)"
                ),
                ("household.members[0].relation", "has unknown value 42"),
                ("household.members[1].sex", "has unknown value -3"),
            ]
        );
        let mut no_relation = draft();
        no_relation.members[0].relation = Relation::Unspecified as i32;
        let errors = household(&rules(&geo), Some(&no_relation), "household").unwrap_err();
        assert_eq!(errors[0].field, "household.members[0].relation");
        assert_eq!(
            errors[0].description,
            "is required (RELATION_UNSPECIFIED is not a value)"
        );
    }

    #[test]
    fn wire_enums_read_into_the_domain_values_they_name() {
        let geo = Geography::built_in();
        let mut draft = draft();
        draft.traits = Some(pr::HouseholdTraits {
            roof: pr::RoofMaterial::MetalSheet as i32,
            wall: pr::WallMaterial::MudBrick as i32,
            floor: pr::FloorMaterial::Unspecified as i32,
            ..Default::default()
        });
        let household = household(&rules(&geo), Some(&draft), "household").unwrap();
        assert_eq!(household.members[0].sex, jigi_common::Sex::Female);
        assert_eq!(household.members[0].relation, crate::domain::model::Relation::Head);
        assert_eq!(household.members[1].relation, crate::domain::model::Relation::Child);
        assert_eq!(household.members[0].status, MemberStatus::Present);
        assert_eq!(household.traits.roof, crate::domain::model::RoofMaterial::MetalSheet);
        assert_eq!(household.traits.wall, crate::domain::model::WallMaterial::MudBrick);
        assert_eq!(household.traits.floor, crate::domain::model::FloorMaterial::Unknown);
    }

    #[test]
    fn status_may_be_left_unchanged_but_an_exit_needs_its_reason() {
        assert_eq!(member_status(0), Ok(None));
        assert_eq!(
            member_status(pr::MemberStatus::Left as i32),
            Ok(Some(MemberStatus::Left))
        );
        assert_eq!(member_status(7), Err("has unknown value 7".to_owned()));
        assert_eq!(exit_reason(0), Err("is required".to_owned()));
        assert_eq!(exit_reason(pr::ExitReason::Other as i32), Ok(ExitReason::Other));
        assert_eq!(exit_reason(70), Err("has unknown value 70".to_owned()));
    }

    #[test]
    fn an_added_member_is_required_and_not_a_second_head() {
        let geo = Geography::built_in();
        let fields = |draft: Option<&pr::MemberDraft>| -> Vec<String> {
            added_member(&rules(&geo), draft)
                .unwrap_err()
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(fields(None), ["member"]);
        assert_eq!(fields(Some(&head())), ["member.relation"]);
        let spouse = pr::MemberDraft {
            relation: Relation::Spouse as i32,
            ..head()
        };
        assert_eq!(
            added_member(&rules(&geo), Some(&spouse)).unwrap().relation,
            crate::domain::model::Relation::Spouse
        );
    }
}
