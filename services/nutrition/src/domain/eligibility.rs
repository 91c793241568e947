//! Who the PNP feeds on a given date.
//!
//! The registry tells this service facts (birth dates, pregnancy and
//! lactation, presence, PNP enrolment); eligibility is computed from them on
//! the distribution date, so a child leaves the programme on the day it
//! reaches 60 months without anything having to happen on that day.
//!
//! A person is eligible on a date when their household is enrolled in the
//! PNP on that date (enrolled on or before it, not exited on or before it),
//! they still live in it, and they are a child aged 6 to 59 months or a
//! pregnant or lactating woman.

use chrono::{Months, NaiveDate};
use jigi_common::Sex;
use jigi_common::date::age_in_months;

use super::model::{Group, Location, Reason, Refusal};

/// Youngest age fed, in whole months.
pub const MIN_CHILD_MONTHS: u32 = 6;
/// Age at which a child leaves, in whole months.
pub const MAX_CHILD_MONTHS: u32 = 60;

/// What the registry said of a person, as last told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub member_id: String,
    pub household_id: String,
    pub sex: Sex,
    pub birth_date: NaiveDate,
    pub pregnant: bool,
    pub lactating: bool,
    /// Still lives in the household (not left, not deceased).
    pub present: bool,
}

/// What the registry said of a household, as last told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Household {
    pub household_id: String,
    pub location: Location,
    /// The latest PNP enrolment, if the household was ever enrolled.
    pub pnp: Option<PnpEnrolment>,
}

/// A household's participation in the PNP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PnpEnrolment {
    pub enrolled_on: NaiveDate,
    /// The date it left; it receives nothing from that date on.
    pub exited_on: Option<NaiveDate>,
}

impl PnpEnrolment {
    pub fn covers(&self, on: NaiveDate) -> bool {
        self.enrolled_on <= on && self.exited_on.is_none_or(|exit| on < exit)
    }
}

/// The group a person belongs to on `on`, or why they receive nothing.
pub fn eligibility(person: &Person, household: &Household, on: NaiveDate) -> Result<Group, Refusal> {
    match household.pnp {
        None => {
            return Err(Refusal::new(
                Reason::NotEnrolled,
                format!("household {} is not enrolled in the PNP", household.household_id),
            ));
        }
        Some(enrolment) if !enrolment.covers(on) => {
            let message = match enrolment.exited_on {
                Some(exit) if on >= exit => format!("household {} left the PNP on {exit}", household.household_id),
                _ => format!(
                    "household {} is enrolled in the PNP only from {}",
                    household.household_id, enrolment.enrolled_on
                ),
            };
            return Err(Refusal::new(Reason::NotEnrolled, message));
        }
        Some(_) => {}
    }
    if !person.present {
        return Err(Refusal::new(
            Reason::NotPresent,
            format!("person {} no longer lives in the household", person.member_id),
        ));
    }
    group_on(person, on)
}

/// The group of a person on `on`, whatever their household's enrolment.
pub fn group_on(person: &Person, on: NaiveDate) -> Result<Group, Refusal> {
    let months = age_in_months(person.birth_date, on);
    if (MIN_CHILD_MONTHS..MAX_CHILD_MONTHS).contains(&months) {
        return Ok(Group::Child);
    }
    if person.sex == Sex::Female && person.pregnant {
        return Ok(Group::PregnantWoman);
    }
    if person.sex == Sex::Female && person.lactating {
        return Ok(Group::LactatingWoman);
    }
    if months < MIN_CHILD_MONTHS {
        let from = first_day_aged(person.birth_date, MIN_CHILD_MONTHS);
        return Err(Refusal::new(
            Reason::TooYoung,
            format!("the child is younger than 6 months; fed from {from}"),
        ));
    }
    // Within a few years of leaving, say when; an adult is simply not a target.
    if months < 10 * 12 {
        let left = first_day_aged(person.birth_date, MAX_CHILD_MONTHS);
        return Err(Refusal::new(
            Reason::AgedOut,
            format!("the child reached 60 months on {left}"),
        ));
    }
    Err(Refusal::new(
        Reason::NotATarget,
        "neither a child of 6 to 59 months nor a pregnant or lactating woman",
    ))
}

/// The first day on which someone born on `birth` is `months` months old
/// (as [`age_in_months`] counts).
pub fn first_day_aged(birth: NaiveDate, months: u32) -> NaiveDate {
    let mut day = birth.checked_add_months(Months::new(months)).unwrap_or(NaiveDate::MAX);
    // Adding months clamps to the end of a short month (31 Aug + 6 months is
    // 28 Feb), while whole months are counted by the day of the month.
    while day < NaiveDate::MAX && age_in_months(birth, day) < months {
        day = day.succ_opt().unwrap_or(NaiveDate::MAX);
    }
    day
}

#[cfg(test)]
mod tests {
    use jigi_common::Region;

    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn person(born: &str, sex: Sex) -> Person {
        Person {
            member_id: "m".into(),
            household_id: "h".into(),
            sex,
            birth_date: d(born),
            pregnant: false,
            lactating: false,
            present: true,
        }
    }

    fn household(pnp: Option<PnpEnrolment>) -> Household {
        Household {
            household_id: "h".into(),
            location: Location {
                region: Region::Segou,
                cercle: "segou.baroueli".into(),
                commune: "segou.baroueli.sanando".into(),
                village: String::new(),
            },
            pnp,
        }
    }

    fn enrolled(on: &str) -> Household {
        household(Some(PnpEnrolment {
            enrolled_on: d(on),
            exited_on: None,
        }))
    }

    fn reason(result: Result<Group, Refusal>) -> Reason {
        result.unwrap_err().reason
    }

    #[test]
    fn children_are_fed_from_6_to_59_months() {
        let h = enrolled("2018-01-01");
        let child = person("2013-10-15", Sex::Male);
        assert_eq!(eligibility(&child, &h, d("2018-10-14")), Ok(Group::Child), "59 months");
        let refusal = eligibility(&child, &h, d("2018-10-15")).unwrap_err();
        assert_eq!(refusal.reason, Reason::AgedOut, "60 months: out, no timer needed");
        assert!(refusal.message.contains("2018-10-15"), "{}", refusal.message);
        let baby = person("2018-05-01", Sex::Female);
        assert_eq!(reason(eligibility(&baby, &h, d("2018-10-31"))), Reason::TooYoung);
        assert_eq!(eligibility(&baby, &h, d("2018-11-01")), Ok(Group::Child));
        let adult = person("1990-01-01", Sex::Male);
        assert_eq!(reason(eligibility(&adult, &h, d("2018-10-01"))), Reason::NotATarget);
    }

    #[test]
    fn pregnant_or_lactating_women_are_fed_pregnancy_first() {
        let h = enrolled("2018-01-01");
        let mut woman = person("1995-03-02", Sex::Female);
        assert_eq!(reason(eligibility(&woman, &h, d("2018-10-01"))), Reason::NotATarget);
        woman.lactating = true;
        assert_eq!(eligibility(&woman, &h, d("2018-10-01")), Ok(Group::LactatingWoman));
        woman.pregnant = true;
        assert_eq!(eligibility(&woman, &h, d("2018-10-01")), Ok(Group::PregnantWoman));
        let mut man = person("1995-03-02", Sex::Male);
        man.pregnant = true;
        assert_eq!(reason(eligibility(&man, &h, d("2018-10-01"))), Reason::NotATarget);
    }

    #[test]
    fn the_household_must_be_enrolled_on_the_date_and_the_person_present() {
        let child = person("2017-01-01", Sex::Female);
        assert_eq!(
            reason(eligibility(&child, &household(None), d("2018-10-01"))),
            Reason::NotEnrolled
        );
        let h = enrolled("2018-10-02");
        assert_eq!(reason(eligibility(&child, &h, d("2018-10-01"))), Reason::NotEnrolled);
        assert_eq!(eligibility(&child, &h, d("2018-10-02")), Ok(Group::Child));
        let left = household(Some(PnpEnrolment {
            enrolled_on: d("2018-01-01"),
            exited_on: Some(d("2018-10-01")),
        }));
        assert_eq!(eligibility(&child, &left, d("2018-09-30")), Ok(Group::Child));
        let refusal = eligibility(&child, &left, d("2018-10-01")).unwrap_err();
        assert_eq!(refusal.reason, Reason::NotEnrolled);
        assert!(refusal.message.contains("left"));
        let mut gone = child.clone();
        gone.present = false;
        assert_eq!(
            reason(eligibility(&gone, &enrolled("2018-01-01"), d("2018-10-01"))),
            Reason::NotPresent
        );
    }

    #[test]
    fn first_day_aged_follows_whole_month_counting() {
        assert_eq!(first_day_aged(d("2018-03-15"), 6), d("2018-09-15"));
        // 31 August + 6 months is not 28 February: whole months count by day.
        assert_eq!(first_day_aged(d("2018-08-31"), 6), d("2019-03-01"));
        assert_eq!(age_in_months(d("2018-08-31"), d("2019-02-28")), 5);
        assert_eq!(first_day_aged(d("2013-10-15"), 60), d("2018-10-15"));
    }
}
