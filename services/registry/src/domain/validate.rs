//! The rules a valid household and its members follow, on domain values.
//! Reading them from a request (every problem named by the path of its
//! field, `household.members[2].birth_date`, all at once) is the gRPC
//! layer's part: `grpc::parse`.

use chrono::NaiveDate;
use jigi_common::date::{age_in_months, parse_date};
use jigi_common::{Problems, Region, Sex};

use super::model::{ExitReason, IdCardNumber, Location, Member, MemberStatus, PersonName, PhoneNumber, Traits};

/// Most members a household may list.
pub const MAX_MEMBERS: usize = 60;
/// Most items of one asset.
pub const MAX_ASSET_COUNT: i32 = 100;
/// Most animals of one kind.
pub const MAX_ANIMALS: i32 = 10_000;
/// Most land, in ares (1,000 ha).
pub const MAX_LAND_ARES: i32 = 100_000;

/// Longest committee reference or exit note kept.
pub const MAX_NOTE_CHARS: usize = 500;

/// The checked changes of an `UpdateMember`: `None` leaves a field as it
/// is; for the ID card and phone, `Some(None)` removes it.
#[derive(Debug, Clone, Default)]
pub struct MemberEdit {
    pub given_name: Option<PersonName>,
    pub family_name: Option<PersonName>,
    pub birth_date: Option<NaiveDate>,
    pub birth_date_estimated: Option<bool>,
    pub pregnant: Option<bool>,
    pub lactating: Option<bool>,
    pub id_card: Option<Option<IdCardNumber>>,
    pub phone: Option<Option<PhoneNumber>>,
    pub status: Option<MemberStatus>,
}

/// An enrolment asked for: the component, from when, and the committee's
/// reference when it overrides the PMT (empty otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolling {
    pub component: jigi_common::Component,
    pub on: NaiveDate,
    pub committee_override: String,
}

/// A move to another region asked for: where to, the household there when
/// it is already registered (empty otherwise), and from when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moving {
    pub destination: Region,
    pub destination_household_id: String,
    pub on: NaiveDate,
}

/// An exit asked for: the component, from when, why, and a note (required
/// when the reason is `Other`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exiting {
    pub component: jigi_common::Component,
    pub on: NaiveDate,
    pub reason: ExitReason,
    pub note: String,
}

pub use jigi_common::Rules;

/// A household that passed validation, ready to be stored.
#[derive(Debug, Clone)]
pub struct NewHousehold {
    pub location: Location,
    pub members: Vec<Member>,
    pub traits: Traits,
}

/// A birth date: `YYYY-MM-DD`, from 1900 up to `today`.
pub fn birth_date(text: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    if text.is_empty() {
        return Err("is required".into());
    }
    let date = parse_date(text).ok_or_else(|| format!("{text:?} is not a date in YYYY-MM-DD form"))?;
    if date > today {
        return Err(format!("{text} is in the future"));
    }
    if date < NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date") {
        return Err(format!("{text} is before 1900"));
    }
    Ok(date)
}

/// Pregnancy and lactation are recorded for women aged 10 and over (on `today`).
pub fn check_maternity(
    today: NaiveDate,
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
        } else if age_in_months(birth_date, today) < 120 {
            problems.add(format!("{path}.{name}"), "can only be set for a woman aged 10 or over");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        "2018-10-01".parse().unwrap()
    }

    #[test]
    fn dates_are_bounded_by_today_and_their_earliest_year() {
        assert_eq!(birth_date("1975-03-02", today()), Ok("1975-03-02".parse().unwrap()));
        assert_eq!(birth_date("", today()), Err("is required".to_owned()));
        assert!(birth_date("2018-10-02", today()).unwrap_err().contains("in the future"));
        assert!(birth_date("1899-12-31", today()).unwrap_err().contains("before 1900"));
        assert!(birth_date("02/03/1975", today()).unwrap_err().contains("YYYY-MM-DD"));
    }

    #[test]
    fn maternity_only_for_women_of_ten_and_over() {
        let fields = |sex, born: &str| {
            let mut problems = Problems::new();
            check_maternity(today(), sex, born.parse().unwrap(), true, true, "m", &mut problems);
            problems.into_errors().into_iter().map(|e| e.field).collect::<Vec<_>>()
        };
        assert!(fields(Sex::Female, "1990-01-01").is_empty());
        assert_eq!(fields(Sex::Male, "1990-01-01"), ["m.pregnant", "m.lactating"]);
        assert_eq!(fields(Sex::Female, "2009-01-01"), ["m.pregnant", "m.lactating"]);
    }
}
