//! Moves between regions: a household that left its region (its origin's
//! registry ended its enrolments, "moved to <region>") continues them in
//! the destination, with the same committee decisions, and is paid there
//! from the quarter after the last its origin paid. The index relays the
//! move (IDs, dates, committee references, quarters; nothing personal) to
//! the destination once it knows which household the destination
//! registered: the origin named it, or a registrar resolved their
//! duplicate as a move.

use chrono::NaiveDate;
use jigi_common::{Component, Period, Region};

use super::{Duplicate, Resolution};

/// One enrolment the household had in its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedEnrolment {
    pub component: Component,
    pub enrolled_on: NaiveDate,
    /// The committee decision's reference, as the origin recorded it; empty
    /// when the PMT found the household eligible.
    pub committee_decision: String,
    pub committee_override: bool,
}

/// A household that moved, as its origin reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// `<origin region>/<origin household ID>`: a household moves out of a
    /// region once (a repeat of the move ends nothing and sends nothing).
    pub transfer_id: String,
    pub origin: Region,
    pub origin_household_id: String,
    pub destination: Region,
    /// Who the destination registered it as, once known.
    pub destination_household_id: Option<String>,
    pub transferred_on: NaiveDate,
    pub enrolments: Vec<MovedEnrolment>,
}

/// Why a reported move is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadTransfer {
    #[error("the subject names no region")]
    NoOrigin,
    #[error("household_id {0:?} is not a registry ID (a UUID)")]
    Household(String),
    #[error("destination_region {0:?} is not a region slug")]
    Destination(String),
    #[error("destination_region is the origin itself")]
    SameRegion,
    #[error("destination_household_id {0:?} is not a registry ID (a UUID)")]
    DestinationHousehold(String),
    #[error("transferred_on {0:?} is not a date YYYY-MM-DD")]
    Date(String),
    #[error("enrolments[{0}]: {1}")]
    Enrolment(usize, String),
}

/// One enrolment as the origin reported it (wire values, unchecked).
pub struct ReportedEnrolment {
    pub component: i32,
    pub enrolled_on: String,
    pub committee_decision: String,
    pub committee_override: bool,
}

/// Checks a move reported by `origin` (the subject's region, which only
/// that region's leaf may publish).
pub fn check_transfer(
    origin: Option<Region>,
    household_id: &str,
    destination: &str,
    destination_household_id: &str,
    transferred_on: &str,
    enrolments: impl IntoIterator<Item = ReportedEnrolment>,
) -> Result<Transfer, BadTransfer> {
    let origin = origin.ok_or(BadTransfer::NoOrigin)?;
    if uuid::Uuid::parse_str(household_id).is_err() {
        return Err(BadTransfer::Household(household_id.to_owned()));
    }
    let destination: Region = destination
        .parse()
        .map_err(|_| BadTransfer::Destination(destination.to_owned()))?;
    if destination == origin {
        return Err(BadTransfer::SameRegion);
    }
    let destination_household_id = match destination_household_id.trim() {
        "" => None,
        id if uuid::Uuid::parse_str(id).is_ok() => Some(id.to_owned()),
        id => return Err(BadTransfer::DestinationHousehold(id.to_owned())),
    };
    let transferred_on =
        jigi_common::date::parse_date(transferred_on).ok_or_else(|| BadTransfer::Date(transferred_on.to_owned()))?;
    let enrolments = enrolments
        .into_iter()
        .enumerate()
        .map(|(at, e)| {
            let component = Component::from_proto(e.component)
                .ok_or_else(|| BadTransfer::Enrolment(at, format!("component {} is unknown", e.component)))?;
            let enrolled_on = jigi_common::date::parse_date(&e.enrolled_on)
                .ok_or_else(|| BadTransfer::Enrolment(at, format!("enrolled_on {:?} is not a date", e.enrolled_on)))?;
            Ok(MovedEnrolment {
                component,
                enrolled_on,
                committee_decision: e.committee_decision.trim().to_owned(),
                committee_override: e.committee_override,
            })
        })
        .collect::<Result<Vec<_>, BadTransfer>>()?;
    Ok(Transfer {
        transfer_id: transfer_id(origin, household_id),
        origin,
        origin_household_id: household_id.to_owned(),
        destination,
        destination_household_id,
        transferred_on,
        enrolments,
    })
}

/// `<origin region>/<origin household ID>`.
pub fn transfer_id(origin: Region, household_id: &str) -> String {
    format!("{}/{household_id}", origin.slug())
}

/// The destination household a duplicate resolved as a move names for this
/// transfer: the pair is the origin household and a household of the
/// destination region, and the destination's is the one kept.
pub fn destination_named_by(duplicate: &Duplicate, transfer: &Transfer) -> Option<String> {
    let resolved = duplicate.resolution.as_ref()?;
    if resolved.resolution != Resolution::Moved {
        return None;
    }
    let kept = resolved.kept_household_id.as_deref()?;
    let (mine, other) = if duplicate.first.household_id == transfer.origin_household_id {
        (&duplicate.first, &duplicate.second)
    } else if duplicate.second.household_id == transfer.origin_household_id {
        (&duplicate.second, &duplicate.first)
    } else {
        return None;
    };
    (mine.region == transfer.origin && other.region == transfer.destination && other.household_id == kept)
        .then(|| kept.to_owned())
}

/// The latest of the quarters paid, if any (`YYYYQn`; others are ignored).
pub fn last_period(paid: &[String]) -> Option<Period> {
    paid.iter()
        .filter_map(|p| p.parse::<Period>().ok())
        .filter(|p| matches!(p, Period::Quarter { .. }))
        .max_by_key(|p| p.start())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::Utc;

    use super::*;
    use crate::domain::{Resolved, Side};

    const ORIGIN: &str = "0190a000-0000-7000-8000-000000000001";
    const DEST: &str = "0190a000-0000-7000-8000-000000000002";

    fn transfer() -> Transfer {
        check_transfer(
            Some(Region::Mopti),
            ORIGIN,
            "sikasso",
            "",
            "2026-05-04",
            [ReportedEnrolment {
                component: jigi_proto::common::Component::Tm as i32,
                enrolled_on: "2026-01-10".into(),
                committee_decision: " CCL Sio, PV 3 ".into(),
                committee_override: true,
            }],
        )
        .unwrap()
    }

    #[test]
    fn a_move_is_checked_and_named_by_origin_and_household() {
        let t = transfer();
        assert_eq!(t.transfer_id, format!("mopti/{ORIGIN}"));
        assert_eq!(t.enrolments[0].committee_decision, "CCL Sio, PV 3");
        assert_eq!(t.destination_household_id, None);
        let same = check_transfer(Some(Region::Mopti), ORIGIN, "mopti", "", "2026-05-04", []);
        assert_eq!(same, Err(BadTransfer::SameRegion));
        let unknown = check_transfer(
            Some(Region::Mopti),
            ORIGIN,
            "sikasso",
            "",
            "2026-05-04",
            [ReportedEnrolment {
                component: 99,
                enrolled_on: "2026-01-10".into(),
                committee_decision: String::new(),
                committee_override: false,
            }],
        );
        assert!(matches!(unknown, Err(BadTransfer::Enrolment(0, _))));
    }

    #[test]
    fn only_a_move_resolution_keeping_the_destination_household_names_it() {
        let t = transfer();
        let mut duplicate = Duplicate::suspected(
            Side {
                household_id: ORIGIN.into(),
                region: Region::Mopti,
            },
            Side {
                household_id: DEST.into(),
                region: Region::Sikasso,
            },
            BTreeSet::new(),
            Utc::now(),
        );
        assert_eq!(destination_named_by(&duplicate, &t), None, "open");
        let resolved = |resolution, kept: &str| Resolved {
            resolution,
            kept_household_id: Some(kept.into()),
            resolved_at: Utc::now(),
        };
        duplicate.resolution = Some(resolved(Resolution::SamePerson, DEST));
        assert_eq!(destination_named_by(&duplicate, &t), None, "not a move");
        duplicate.resolution = Some(resolved(Resolution::Moved, ORIGIN));
        assert_eq!(destination_named_by(&duplicate, &t), None, "moved the other way");
        duplicate.resolution = Some(resolved(Resolution::Moved, DEST));
        assert_eq!(destination_named_by(&duplicate, &t), Some(DEST.into()));
    }

    #[test]
    fn the_last_quarter_paid_is_the_latest() {
        let paid = ["2026Q1".to_owned(), "2025Q4".to_owned(), "2026Q2".to_owned()];
        assert_eq!(last_period(&paid), Some("2026Q2".parse().unwrap()));
        assert_eq!(last_period(&[]), None);
    }
}
