//! Entering and leaving the programme's components.
//!
//! - A household enters a component only when the PMT finds it eligible,
//!   or by a recorded decision of the local committee (CCL).
//! - The PNP is for households with someone to feed: a child aged 6 to 59
//!   months, or a pregnant or lactating woman.
//! - A household is in a component once at a time; it can leave and, later,
//!   enter again. It leaves no earlier than it entered.

use chrono::NaiveDate;
use jigi_common::date::age_in_months;
use jigi_common::{Component, Sex};

use super::model::{Enrolment, EnrolmentStatus, ExitReason, Household, Member};

/// Why an enrolment or exit is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    AlreadyEnrolled { since: NaiveDate },
    NotEligible { score: f64, threshold: f64 },
    NoPnpTarget,
    NotEnrolled,
    ExitBeforeEnrolment { enrolled_on: NaiveDate },
}

impl Refusal {
    /// A short machine-readable reason.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::AlreadyEnrolled { .. } => "ALREADY_ENROLLED",
            Refusal::NotEligible { .. } => "NOT_ELIGIBLE",
            Refusal::NoPnpTarget => "NO_PNP_TARGET",
            Refusal::NotEnrolled => "NOT_ENROLLED",
            Refusal::ExitBeforeEnrolment { .. } => "EXIT_BEFORE_ENROLMENT",
        }
    }

    /// What a person reads.
    pub fn explain(&self, component: Component) -> String {
        match self {
            Refusal::AlreadyEnrolled { since } => {
                format!("the household is already enrolled in {component} since {since}")
            }
            Refusal::NotEligible { score, threshold } => format!(
                "the household's PMT score {score} is above its region's threshold {threshold}; \
                 enrolment needs a committee decision (committee_override)"
            ),
            Refusal::NoPnpTarget => {
                "the household has no child aged 6 to 59 months and no pregnant or lactating woman".into()
            }
            Refusal::NotEnrolled => format!("the household is not enrolled in {component}"),
            Refusal::ExitBeforeEnrolment { enrolled_on } => format!("is before the enrolment date {enrolled_on}"),
        }
    }
}

/// Checks an enrolment and returns it.
pub fn enrol(
    household: &Household,
    component: Component,
    on: NaiveDate,
    committee_override: bool,
) -> Result<Enrolment, Refusal> {
    if let Some(current) = household.enrolment(component)
        && current.status == EnrolmentStatus::Enrolled
    {
        return Err(Refusal::AlreadyEnrolled {
            since: current.enrolled_on,
        });
    }
    if !household.pmt.eligible && !committee_override {
        return Err(Refusal::NotEligible {
            score: household.pmt.score,
            threshold: household.pmt.threshold,
        });
    }
    if component == Component::Pnp && pnp_targets(&household.members, on) == 0 {
        return Err(Refusal::NoPnpTarget);
    }
    Ok(Enrolment {
        component,
        status: EnrolmentStatus::Enrolled,
        enrolled_on: on,
        exited_on: None,
        exit_reason: None,
    })
}

/// Checks an exit and returns the enrolment as it becomes.
pub fn exit(
    household: &Household,
    component: Component,
    on: NaiveDate,
    reason: ExitReason,
) -> Result<Enrolment, Refusal> {
    let current = household
        .enrolment(component)
        .filter(|e| e.status == EnrolmentStatus::Enrolled)
        .ok_or(Refusal::NotEnrolled)?;
    if on < current.enrolled_on {
        return Err(Refusal::ExitBeforeEnrolment {
            enrolled_on: current.enrolled_on,
        });
    }
    Ok(Enrolment {
        status: EnrolmentStatus::Exited,
        exited_on: Some(on),
        exit_reason: Some(reason),
        ..current.clone()
    })
}

/// Members present whom the PNP feeds on `on`: children of 6 to 59 months,
/// pregnant or lactating women.
pub fn pnp_targets(members: &[Member], on: NaiveDate) -> usize {
    members
        .iter()
        .filter(|m| m.is_present())
        .filter(|m| {
            let months = age_in_months(m.birth_date, on);
            (6..60).contains(&months) || (m.sex == Sex::Female && (m.pregnant || m.lactating))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use jigi_common::Region;

    use super::*;
    use crate::domain::model::{HouseholdStatus, Location, MemberStatus, PersonName, PmtAssessment, Relation, Traits};

    fn member(born: &str, sex: Sex, relation: Relation) -> Member {
        Member {
            member_id: "m".into(),
            given_name: PersonName::parse("A").unwrap(),
            family_name: PersonName::parse("B").unwrap(),
            sex,
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

    fn household(eligible: bool, members: Vec<Member>) -> Household {
        Household {
            household_id: "h".into(),
            location: Location {
                region: Region::Mopti,
                cercle: "mopti.mopti".into(),
                commune: "mopti.mopti.sio".into(),
                village: String::new(),
            },
            members,
            traits: Traits::default(),
            pmt: PmtAssessment {
                score: if eligible { 20.0 } else { 45.0 },
                threshold: 28.0,
                eligible,
                weights_version: "v".into(),
            },
            enrolments: vec![],
            status: HouseholdStatus::Registered,
            version: 1,
            registered_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn eligible_households_enrol_others_need_the_committee() {
        let poor = household(true, vec![member("1980-01-01", Sex::Male, Relation::Head)]);
        assert!(enrol(&poor, Component::Tm, d("2018-10-01"), false).is_ok());
        let better_off = household(false, poor.members.clone());
        assert_eq!(
            enrol(&better_off, Component::Tm, d("2018-10-01"), false)
                .unwrap_err()
                .kind(),
            "NOT_ELIGIBLE"
        );
        assert!(enrol(&better_off, Component::Tm, d("2018-10-01"), true).is_ok());
    }

    #[test]
    fn pnp_needs_a_young_child_or_a_pregnant_or_lactating_woman() {
        let on = d("2018-10-01");
        let adults = household(true, vec![member("1980-01-01", Sex::Male, Relation::Head)]);
        assert_eq!(enrol(&adults, Component::Pnp, on, false), Err(Refusal::NoPnpTarget));
        let mut with_baby = adults.clone();
        with_baby
            .members
            .push(member("2018-03-01", Sex::Female, Relation::Child)); // 7 months
        assert!(enrol(&with_baby, Component::Pnp, on, false).is_ok());
        let mut with_five_year_old = adults.clone();
        with_five_year_old
            .members
            .push(member("2013-10-01", Sex::Male, Relation::Child)); // 60 months
        assert_eq!(
            enrol(&with_five_year_old, Component::Pnp, on, false),
            Err(Refusal::NoPnpTarget)
        );
        let mut with_mother = adults.clone();
        let mut wife = member("1990-01-01", Sex::Female, Relation::Spouse);
        wife.lactating = true;
        with_mother.members.push(wife);
        assert_eq!(pnp_targets(&with_mother.members, on), 1);
    }

    #[test]
    fn one_enrolment_at_a_time_and_exit_not_before_entry() {
        let mut h = household(true, vec![member("1980-01-01", Sex::Male, Relation::Head)]);
        let enrolment = enrol(&h, Component::Tm, d("2018-10-01"), false).unwrap();
        h.enrolments.push(enrolment);
        assert_eq!(
            enrol(&h, Component::Tm, d("2018-11-01"), false).unwrap_err().kind(),
            "ALREADY_ENROLLED"
        );
        assert!(
            enrol(&h, Component::Ma, d("2018-11-01"), false).is_ok(),
            "another component is fine"
        );
        assert_eq!(
            exit(&h, Component::Tm, d("2018-09-30"), ExitReason::Moved)
                .unwrap_err()
                .kind(),
            "EXIT_BEFORE_ENROLMENT"
        );
        assert_eq!(
            exit(&h, Component::Ma, d("2018-12-01"), ExitReason::Moved),
            Err(Refusal::NotEnrolled)
        );
        let exited = exit(&h, Component::Tm, d("2018-12-31"), ExitReason::Graduated).unwrap();
        assert_eq!(exited.status, EnrolmentStatus::Exited);
        h.enrolments[0] = exited;
        assert_eq!(HouseholdStatus::from_enrolments(&h.enrolments), HouseholdStatus::Exited);
        assert!(
            enrol(&h, Component::Tm, d("2019-04-01"), false).is_ok(),
            "may enter again"
        );
    }
}
