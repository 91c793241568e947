//! What the activities service knows of households and people (from the
//! registry's events), and how a rule says no.

use chrono::NaiveDate;
use jigi_common::Component;
use jigi_common::Sex;

pub use jigi_common::Location;

/// A household's enrolment in one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enrolment {
    pub enrolled_on: NaiveDate,
    pub exited_on: Option<NaiveDate>,
}

impl Enrolment {
    /// Whether the household takes part on `date`: enrolled on or before it
    /// and not exited by then.
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.enrolled_on <= date && self.exited_on.is_none_or(|exit| date < exit)
    }
}

/// A household as the registry's events describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Household {
    pub household_id: String,
    pub location: Location,
    /// Enrolments in MA, AGR and HIMO (the others are not kept).
    pub enrolments: Vec<(Component, Enrolment)>,
}

impl Household {
    pub fn enrolment(&self, component: Component) -> Option<Enrolment> {
        self.enrolments.iter().find(|(c, _)| *c == component).map(|(_, e)| *e)
    }

    /// Whether the household takes part in `component` on `date`.
    pub fn takes_part(&self, component: Component, date: NaiveDate) -> bool {
        self.enrolment(component).is_some_and(|e| e.covers(date))
    }
}

/// A person as the registry's events describe them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub member_id: String,
    pub household_id: String,
    pub sex: Sex,
    pub birth_date: NaiveDate,
    /// Still lives in the household (not left, not deceased).
    pub present: bool,
}

/// Why a rule refuses a command: a short machine-readable kind (the
/// `PreconditionFailure` type clients see, e.g. `SITE_CLOSED`) and what a
/// person reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            kind,
            message: message.into(),
        }
    }
}

/// Whole years of age on `on`.
pub fn age_in_years(birth: NaiveDate, on: NaiveDate) -> u32 {
    jigi_common::date::age_in_months(birth, on) / 12
}

/// Checks that a person may take part, on `on`, in `component` through
/// their household: the household takes part that day, the person still
/// lives in it.
pub fn takes_part(person: &Person, household: &Household, component: Component, on: NaiveDate) -> Result<(), Refusal> {
    if person.household_id != household.household_id {
        return Err(Refusal::new(
            "HOUSEHOLD_MISMATCH",
            format!(
                "person {} is not a member of household {}",
                person.member_id, household.household_id
            ),
        ));
    }
    if !household.takes_part(component, on) {
        return Err(Refusal::new(
            "NOT_ENROLLED",
            format!(
                "household {} is not enrolled in {component} on {on}",
                household.household_id
            ),
        ));
    }
    if !person.present {
        return Err(Refusal::new(
            "NOT_PRESENT",
            format!(
                "person {} no longer lives in household {}",
                person.member_id, household.household_id
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use jigi_common::Region;

    use super::*;

    pub fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    pub fn household(component: Component, enrolled_on: &str, exited_on: Option<&str>) -> Household {
        Household {
            household_id: "hh-1".into(),
            location: Location {
                region: Region::Segou,
                cercle: "segou.baroueli".into(),
                commune: "segou.baroueli.sanando".into(),
                village: String::new(),
            },
            enrolments: vec![(
                component,
                Enrolment {
                    enrolled_on: d(enrolled_on),
                    exited_on: exited_on.map(d),
                },
            )],
        }
    }

    pub fn person(sex: Sex, birth: &str) -> Person {
        Person {
            member_id: "m-1".into(),
            household_id: "hh-1".into(),
            sex,
            birth_date: d(birth),
            present: true,
        }
    }

    #[test]
    fn a_person_takes_part_only_through_an_enrolled_household_they_live_in() {
        let household = household(Component::Ma, "2018-01-15", Some("2018-12-31"));
        let mut person = person(Sex::Female, "1990-05-01");
        assert_eq!(takes_part(&person, &household, Component::Ma, d("2018-03-01")), Ok(()));
        let kind = |r: Result<(), Refusal>| r.unwrap_err().kind;
        assert_eq!(
            kind(takes_part(&person, &household, Component::Ma, d("2018-01-14"))),
            "NOT_ENROLLED"
        );
        assert_eq!(
            kind(takes_part(&person, &household, Component::Ma, d("2018-12-31"))),
            "NOT_ENROLLED"
        );
        assert_eq!(
            kind(takes_part(&person, &household, Component::Himo, d("2018-03-01"))),
            "NOT_ENROLLED"
        );
        person.present = false;
        assert_eq!(
            kind(takes_part(&person, &household, Component::Ma, d("2018-03-01"))),
            "NOT_PRESENT"
        );
        person.household_id = "hh-2".into();
        assert_eq!(
            kind(takes_part(&person, &household, Component::Ma, d("2018-03-01"))),
            "HOUSEHOLD_MISMATCH"
        );
        assert_eq!(age_in_years(d("1990-05-01"), d("2018-04-30")), 27);
        assert_eq!(age_in_years(d("1990-05-01"), d("2018-05-01")), 28);
    }
}
