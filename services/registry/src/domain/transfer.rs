//! Moves between regions, on both sides.
//!
//! - The origin ends every enrolment of a household that moved (reason
//!   MOVED, "moved to <region>") and reports the move, with each
//!   enrolment's committee decision, to the national linkage index.
//! - The destination continues those enrolments on the index's order: the
//!   origin's decision stands (the household is not targeted again: a
//!   region's PMT threshold is not a reason to drop a family that fled
//!   another), the enrolment dates from the move, and its history names the
//!   origin and the decision. A component the household is already enrolled
//!   in here is left as it is.

use chrono::NaiveDate;
use jigi_common::{Component, Region};

use super::model::{Enrolment, EnrolmentStatus, Household, StatusChange};

/// What the origin knew of one enrolment when the household moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarriedEnrolment {
    pub component: Component,
    pub enrolled_on: NaiveDate,
    /// The committee decision's reference as recorded at enrolment; empty
    /// when the PMT found the household eligible.
    pub committee_decision: String,
    /// Enrolled by that decision despite the PMT.
    pub committee_override: bool,
}

/// The household's current enrolments with their decisions, from its
/// status history (the note of the latest enrolment in each component).
pub fn carried(household: &Household, history: &[StatusChange]) -> Vec<CarriedEnrolment> {
    household
        .enrolments
        .iter()
        .filter(|e| e.status == EnrolmentStatus::Enrolled)
        .map(|e| {
            let decision = history
                .iter()
                .rev()
                .find(|c| c.component == e.component && c.status == EnrolmentStatus::Enrolled)
                .map(|c| c.note.trim().to_owned())
                .unwrap_or_default();
            CarriedEnrolment {
                component: e.component,
                enrolled_on: e.enrolled_on,
                committee_override: !decision.is_empty() && !household.pmt.eligible,
                committee_decision: decision,
            }
        })
        .collect()
}

/// What continuing one enrolment here comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Continued {
    /// Enrolled here from the date of the move.
    Enrolled(Enrolment),
    /// Already enrolled here (since that date): left as it is.
    AlreadyEnrolled(NaiveDate),
}

/// Continues an enrolment of a household that moved here on `on`.
pub fn continue_enrolment(household: &Household, component: Component, on: NaiveDate) -> Continued {
    match household.enrolment(component) {
        Some(current) if current.status == EnrolmentStatus::Enrolled => Continued::AlreadyEnrolled(current.enrolled_on),
        _ => Continued::Enrolled(Enrolment {
            component,
            status: EnrolmentStatus::Enrolled,
            enrolled_on: on,
            exited_on: None,
            exit_reason: None,
        }),
    }
}

/// The history note of a continued enrolment: where it came from and on
/// whose decision.
pub fn continued_note(origin: Region, origin_household_id: &str, carried: &CarriedEnrolment) -> String {
    let decision = if carried.committee_decision.is_empty() {
        format!("eligible by the PMT in {}", origin.slug())
    } else {
        format!("committee decision: {}", carried.committee_decision)
    };
    format!(
        "transferred from {} (household {origin_household_id}, enrolled there on {}); {decision}",
        origin.slug(),
        carried.enrolled_on
    )
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use jigi_common::Sex;

    use super::*;
    use crate::domain::model::{
        HouseholdStatus, Location, Member, MemberStatus, PersonName, PmtAssessment, Relation, Traits,
    };

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn household(eligible: bool, enrolments: Vec<Enrolment>) -> Household {
        Household {
            household_id: "h".into(),
            location: Location {
                region: Region::Sikasso,
                cercle: "sikasso.koutiala".into(),
                commune: "sikasso.koutiala.koutiala".into(),
                village: String::new(),
            },
            members: vec![Member {
                member_id: "m".into(),
                given_name: PersonName::parse("A").unwrap(),
                family_name: PersonName::parse("B").unwrap(),
                sex: Sex::Female,
                birth_date: d("1980-01-01"),
                birth_date_estimated: false,
                relation: Relation::Head,
                pregnant: false,
                lactating: false,
                id_card: None,
                phone: None,
                status: MemberStatus::Present,
            }],
            traits: Traits::default(),
            pmt: PmtAssessment {
                score: if eligible { 20.0 } else { 45.0 },
                threshold: 28.0,
                eligible,
                weights_version: "v".into(),
            },
            enrolments,
            status: HouseholdStatus::Registered,
            version: 1,
            registered_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn enrolled(component: Component, on: &str) -> Enrolment {
        Enrolment {
            component,
            status: EnrolmentStatus::Enrolled,
            enrolled_on: d(on),
            exited_on: None,
            exit_reason: None,
        }
    }

    fn change(component: Component, note: &str) -> StatusChange {
        StatusChange {
            component,
            status: EnrolmentStatus::Enrolled,
            effective_on: d("2026-01-10"),
            exit_reason: None,
            note: note.into(),
            recorded_at: Utc::now(),
        }
    }

    #[test]
    fn the_origin_carries_each_current_enrolment_with_its_latest_decision() {
        let h = household(false, vec![enrolled(Component::Tm, "2026-01-10")]);
        let history = [change(Component::Tm, "CCL, PV 1"), change(Component::Tm, " CCL, PV 2 ")];
        let carried = carried(&h, &history);
        assert_eq!(carried.len(), 1);
        assert_eq!(carried[0].committee_decision, "CCL, PV 2");
        assert!(carried[0].committee_override, "not eligible by the PMT");
        let eligible = household(true, vec![enrolled(Component::Tm, "2026-01-10")]);
        let carried = super::carried(&eligible, &[change(Component::Tm, "")]);
        assert!(!carried[0].committee_override);
    }

    #[test]
    fn the_destination_continues_unless_already_enrolled() {
        let not_eligible = household(false, vec![]);
        match continue_enrolment(&not_eligible, Component::Tm, d("2026-05-04")) {
            Continued::Enrolled(e) => assert_eq!(e.enrolled_on, d("2026-05-04")),
            other => panic!("{other:?}"),
        }
        let already = household(true, vec![enrolled(Component::Tm, "2026-04-01")]);
        assert_eq!(
            continue_enrolment(&already, Component::Tm, d("2026-05-04")),
            Continued::AlreadyEnrolled(d("2026-04-01"))
        );
        let carried = CarriedEnrolment {
            component: Component::Tm,
            enrolled_on: d("2026-01-10"),
            committee_decision: "CCL Sio, PV 3".into(),
            committee_override: true,
        };
        assert_eq!(
            continued_note(Region::Mopti, "x", &carried),
            "transferred from mopti (household x, enrolled there on 2026-01-10); committee decision: CCL Sio, PV 3"
        );
    }
}
