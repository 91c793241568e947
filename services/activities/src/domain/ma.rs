//! Accompanying measures (MA): sessions run by an implementing NGO in a
//! village, who may be counted as present, and how people are counted.

use chrono::NaiveDate;
use jigi_common::Sex;
use jigi_common::{Component, MemberId};

use super::model::{Household, Location, Person, Refusal, age_in_years, takes_part};

/// Most people recorded at one session (a village assembly at most).
pub const MAX_ATTENDEES: usize = 2_000;

/// What a session is about. Wire values are shared by the API's
/// `SessionTheme` and the events' `MaSessionTheme` (tested).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Theme {
    InfantFeeding,
    EarlyChildhood,
    Hygiene,
    IncomeGenerating,
    CivilRegistration,
    Health,
}

impl Theme {
    pub const ALL: [Theme; 6] = [
        Theme::InfantFeeding,
        Theme::EarlyChildhood,
        Theme::Hygiene,
        Theme::IncomeGenerating,
        Theme::CivilRegistration,
        Theme::Health,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Theme::InfantFeeding => "infant_feeding",
            Theme::EarlyChildhood => "early_childhood",
            Theme::Hygiene => "hygiene",
            Theme::IncomeGenerating => "income_generating",
            Theme::CivilRegistration => "civil_registration",
            Theme::Health => "health",
        }
    }

    pub fn from_code(code: &str) -> Option<Theme> {
        Theme::ALL.into_iter().find(|t| t.code() == code)
    }

    pub fn wire(self) -> i32 {
        match self {
            Theme::InfantFeeding => 1,
            Theme::EarlyChildhood => 2,
            Theme::Hygiene => 3,
            Theme::IncomeGenerating => 4,
            Theme::CivilRegistration => 5,
            Theme::Health => 6,
        }
    }

    pub fn from_wire(value: i32) -> Option<Theme> {
        Theme::ALL.into_iter().find(|t| t.wire() == value)
    }
}

/// The age groups MA indicators are counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AgeGroup {
    Under5,
    From5To17,
    From18To59,
    From60,
}

impl AgeGroup {
    pub const ALL: [AgeGroup; 4] = [
        AgeGroup::Under5,
        AgeGroup::From5To17,
        AgeGroup::From18To59,
        AgeGroup::From60,
    ];

    /// A person's group on a day.
    pub fn of(birth: NaiveDate, on: NaiveDate) -> AgeGroup {
        match age_in_years(birth, on) {
            0..=4 => AgeGroup::Under5,
            5..=17 => AgeGroup::From5To17,
            18..=59 => AgeGroup::From18To59,
            _ => AgeGroup::From60,
        }
    }

    /// Shared by the API's `AgeGroup` and the events' `MaAgeGroup`.
    pub fn wire(self) -> i32 {
        match self {
            AgeGroup::Under5 => 1,
            AgeGroup::From5To17 => 2,
            AgeGroup::From18To59 => 3,
            AgeGroup::From60 => 4,
        }
    }

    pub fn from_wire(value: i32) -> Option<AgeGroup> {
        AgeGroup::ALL.into_iter().find(|g| g.wire() == value)
    }
}

/// A session and who attended it, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub location: Location,
    pub theme: Theme,
    pub held_on: NaiveDate,
    /// The facilitating organisation's code.
    pub facilitator: String,
    /// Registry IDs of the people who attended, each once.
    pub member_ids: Vec<MemberId>,
}

/// One person counted present at a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    pub household_id: String,
    pub member_id: String,
    pub sex: Sex,
    pub age_group: AgeGroup,
}

/// Checks that a person may be counted at a session held in `commune` on
/// `on`: a member present in a household enrolled in MA that day, living in
/// the session's commune (sessions are village meetings of the commune's
/// beneficiaries). Returns how the person is counted.
pub fn attendee(person: &Person, household: &Household, commune: &str, on: NaiveDate) -> Result<Attendee, Refusal> {
    takes_part(person, household, Component::Ma, on)?;
    if household.location.commune != commune {
        return Err(Refusal::new(
            "OUTSIDE_COMMUNE",
            format!(
                "household {} lives in {}, not in {commune} where the session was held",
                household.household_id, household.location.commune
            ),
        ));
    }
    Ok(Attendee {
        household_id: household.household_id.clone(),
        member_id: person.member_id.clone(),
        sex: person.sex,
        age_group: AgeGroup::of(person.birth_date, on),
    })
}

/// People counted by sex and age group, in (sex, group) order.
pub fn counts(attendees: &[Attendee]) -> Vec<(Sex, AgeGroup, i64)> {
    let mut counts = std::collections::BTreeMap::new();
    for attendee in attendees {
        *counts.entry((attendee.sex, attendee.age_group)).or_insert(0i64) += 1;
    }
    counts.into_iter().map(|((sex, group), n)| (sex, group, n)).collect()
}

/// Households with at least one member present.
pub fn households(attendees: &[Attendee]) -> i64 {
    let mut ids: Vec<&str> = attendees.iter().map(|a| a.household_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::tests::{d, household, person};

    #[test]
    fn age_groups_follow_whole_years_on_the_session_day() {
        assert_eq!(AgeGroup::of(d("2014-03-02"), d("2019-03-01")), AgeGroup::Under5);
        assert_eq!(AgeGroup::of(d("2014-03-01"), d("2019-03-01")), AgeGroup::From5To17);
        assert_eq!(AgeGroup::of(d("2001-03-01"), d("2019-03-01")), AgeGroup::From18To59);
        assert_eq!(AgeGroup::of(d("1959-03-02"), d("2019-03-01")), AgeGroup::From18To59);
        assert_eq!(AgeGroup::of(d("1959-03-01"), d("2019-03-01")), AgeGroup::From60);
    }

    #[test]
    fn only_members_of_ma_households_of_the_commune_are_counted() {
        let ma = household(Component::Ma, "2018-01-01", None);
        let woman = person(Sex::Female, "1990-01-01");
        let counted = attendee(&woman, &ma, "segou.baroueli.sanando", d("2018-06-01")).unwrap();
        assert_eq!(counted.age_group, AgeGroup::From18To59);
        let refused = attendee(&woman, &ma, "segou.segou.pelengana", d("2018-06-01")).unwrap_err();
        assert_eq!(refused.kind, "OUTSIDE_COMMUNE");
        let tm_only = household(Component::Tm, "2018-01-01", None);
        let refused = attendee(&woman, &tm_only, "segou.baroueli.sanando", d("2018-06-01")).unwrap_err();
        assert_eq!(refused.kind, "NOT_ENROLLED");
        let before = attendee(&woman, &ma, "segou.baroueli.sanando", d("2017-12-31")).unwrap_err();
        assert_eq!(before.kind, "NOT_ENROLLED");
    }

    #[test]
    fn people_are_counted_by_sex_and_age_group_and_households_once() {
        let attendee = |household: &str, member: &str, sex, age_group| Attendee {
            household_id: household.into(),
            member_id: member.into(),
            sex,
            age_group,
        };
        let present = [
            attendee("h1", "a", Sex::Female, AgeGroup::From18To59),
            attendee("h1", "b", Sex::Female, AgeGroup::Under5),
            attendee("h2", "c", Sex::Female, AgeGroup::From18To59),
            attendee("h3", "d", Sex::Male, AgeGroup::From60),
        ];
        assert_eq!(households(&present), 3);
        assert_eq!(
            counts(&present),
            vec![
                (Sex::Female, AgeGroup::Under5, 1),
                (Sex::Female, AgeGroup::From18To59, 2),
                (Sex::Male, AgeGroup::From60, 1),
            ]
        );
    }

    #[test]
    fn theme_and_age_group_codes_round_trip() {
        for theme in Theme::ALL {
            assert_eq!(Theme::from_code(theme.code()), Some(theme));
            assert_eq!(Theme::from_wire(theme.wire()), Some(theme));
        }
        for group in AgeGroup::ALL {
            assert_eq!(AgeGroup::from_wire(group.wire()), Some(group));
        }
        assert_eq!(Theme::from_wire(0), None);
    }
}
