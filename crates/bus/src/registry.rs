//! The registry's events as the services that project them read them
//! (nutrition, activities): a household's ID and location and a member's
//! profile, decoded and checked once, so every projection refuses the same
//! malformed event for the same reason. Each service turns these values into
//! its own domain types.

use chrono::NaiveDate;
use jigi_common::date::parse_date;
use jigi_common::{Region, Sex};
use jigi_proto::common as pc;
use jigi_proto::events as ev;

use crate::inbox::Rejection;

pub use jigi_common::Location;

/// A member as an event describes them, in the household the event names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub member_id: String,
    pub household_id: String,
    pub sex: Sex,
    pub birth_date: NaiveDate,
    pub pregnant: bool,
    pub lactating: bool,
    /// Still lives in the household (not left, not deceased).
    pub present: bool,
}

/// The household ID an event is about; an event without one is refused.
pub fn household_id(id: &str) -> Result<String, Rejection> {
    if id.is_empty() {
        return Err(Rejection("the event has no household ID".into()));
    }
    Ok(id.to_owned())
}

/// The household's location; refused without a known region, a cercle and a commune.
pub fn location(location: Option<&pc::Location>) -> Result<Location, Rejection> {
    let location = location.ok_or_else(|| Rejection("the event has no location".into()))?;
    let region: Region = location
        .region
        .parse()
        .map_err(|_| Rejection(format!("unknown region {:?}", location.region)))?;
    if location.commune.is_empty() || location.cercle.is_empty() {
        return Err(Rejection("the event's location has no commune or cercle".into()));
    }
    Ok(Location {
        region,
        cercle: location.cercle.clone(),
        commune: location.commune.clone(),
        village: location.village.clone(),
    })
}

/// A member of `household_id`; refused without IDs, a sex or a birth date.
pub fn member(household_id: &str, member: Option<&ev::MemberProfile>) -> Result<Member, Rejection> {
    let member = member.ok_or_else(|| Rejection("the event has no member".into()))?;
    if member.member_id.is_empty() || household_id.is_empty() {
        return Err(Rejection("the event has no member or household ID".into()));
    }
    let sex = Sex::from_proto(member.sex)
        .ok_or_else(|| Rejection(format!("member {} has no valid sex", member.member_id)))?;
    Ok(Member {
        member_id: member.member_id.clone(),
        household_id: household_id.to_owned(),
        sex,
        birth_date: date(&member.birth_date, "birth_date")?,
        pregnant: member.pregnant,
        lactating: member.lactating,
        present: member.presence == ev::MemberPresence::Present as i32,
    })
}

/// A date of the event's field `field`, `YYYY-MM-DD`.
pub fn date(text: &str, field: &str) -> Result<NaiveDate, Rejection> {
    parse_date(text).ok_or_else(|| Rejection(format!("{field} {text:?} is not a YYYY-MM-DD date")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sanando() -> pc::Location {
        pc::Location {
            region: "segou".into(),
            cercle: "segou.baroueli".into(),
            commune: "segou.baroueli.sanando".into(),
            village: String::new(),
        }
    }

    fn profile() -> ev::MemberProfile {
        ev::MemberProfile {
            member_id: "m1".into(),
            sex: pc::Sex::Female as i32,
            birth_date: "1990-03-12".into(),
            lactating: true,
            presence: ev::MemberPresence::Present as i32,
            ..Default::default()
        }
    }

    fn reason<T: std::fmt::Debug>(result: Result<T, Rejection>) -> String {
        result.unwrap_err().0
    }

    #[test]
    fn a_complete_event_reads_as_domain_values() {
        let place = location(Some(&sanando())).unwrap();
        assert_eq!(place.region, Region::Segou);
        assert_eq!(place.commune, "segou.baroueli.sanando");
        let member = member("h1", Some(&profile())).unwrap();
        assert_eq!(member.sex, Sex::Female);
        assert_eq!(member.household_id, "h1");
        assert_eq!(member.birth_date, NaiveDate::from_ymd_opt(1990, 3, 12).unwrap());
        assert!(member.lactating && !member.pregnant && member.present);
        assert_eq!(household_id("h1").unwrap(), "h1");
    }

    #[test]
    fn a_malformed_event_is_refused_with_its_reason() {
        assert_eq!(reason(household_id("")), "the event has no household ID");
        assert_eq!(reason(location(None)), "the event has no location");
        let mut elsewhere = sanando();
        elsewhere.region = "atlantis".into();
        assert_eq!(reason(location(Some(&elsewhere))), "unknown region \"atlantis\"");
        let mut no_commune = sanando();
        no_commune.commune.clear();
        assert_eq!(
            reason(location(Some(&no_commune))),
            "the event's location has no commune or cercle"
        );
        assert_eq!(reason(member("h1", None)), "the event has no member");
        assert_eq!(
            reason(member("", Some(&profile()))),
            "the event has no member or household ID"
        );
        let unspecified = ev::MemberProfile {
            sex: pc::Sex::Unspecified as i32,
            ..profile()
        };
        assert_eq!(reason(member("h1", Some(&unspecified))), "member m1 has no valid sex");
        let undated = ev::MemberProfile {
            birth_date: "12/03/1990".into(),
            ..profile()
        };
        assert_eq!(
            reason(member("h1", Some(&undated))),
            "birth_date \"12/03/1990\" is not a YYYY-MM-DD date"
        );
    }
}
