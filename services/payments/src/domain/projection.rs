//! Who may be paid: the payments service's own view of the households
//! enrolled in TM, built from the registry's events.
//!
//! The inbox applies each event once and in stream order. The projection is
//! nevertheless tolerant of an older event arriving after a newer one (a
//! message redelivered after its ack was lost, while newer ones went
//! through): it keeps, per household, the order key (stream position, then
//! time) of the event that set its status and of the event that set its
//! location, and an older event changes neither.

use super::model::Place;

/// A household as the projection holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub household_id: String,
    pub place: Place,
    /// Enrolled in TM now.
    pub enrolled: bool,
    /// Date of the latest enrolment, `YYYY-MM-DD`.
    pub enrolled_on: String,
    /// Date of the latest exit, when exited.
    pub exited_on: Option<String>,
    /// Order key of the event that set the status (sortable text).
    pub status_at: String,
    /// Order key of the event that set the place.
    pub location_at: String,
}

/// What a registry event says about a household, for TM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Enrolled in TM on a date.
    Enrolled { place: Place, on: String },
    /// Exited from TM on a date.
    Exited { place: Place, on: String },
    /// Its location changed (or was restated).
    Moved { place: Place },
}

/// The household after `change`, whose order key is `at`.
///
/// A move of a household the projection has not seen enrolled is kept (not
/// enrolled, its place known): its enrolment may be an older event still to
/// be redelivered, and must not bring back the older place.
pub fn apply(current: Option<Tracked>, household_id: &str, change: Change, at: &str) -> Tracked {
    let (place, status) = match change {
        Change::Enrolled { place, on } => (place, Some((true, on))),
        Change::Exited { place, on } => (place, Some((false, on))),
        Change::Moved { place } => (place, None),
    };
    let mut tracked = current.unwrap_or_else(|| Tracked {
        household_id: household_id.to_owned(),
        place: place.clone(),
        enrolled: false,
        enrolled_on: String::new(),
        exited_on: None,
        status_at: String::new(),
        location_at: String::new(),
    });
    if at >= tracked.location_at.as_str() {
        tracked.place = place;
        tracked.location_at = at.to_owned();
    }
    if let Some((enrolled, on)) = status
        && at >= tracked.status_at.as_str()
    {
        tracked.enrolled = enrolled;
        if enrolled {
            tracked.enrolled_on = on;
            tracked.exited_on = None;
        } else {
            tracked.exited_on = Some(on);
        }
        tracked.status_at = at.to_owned();
    }
    tracked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(commune: &str) -> Place {
        Place {
            region: "segou".into(),
            cercle: "segou.baroueli".into(),
            commune: commune.into(),
            village: String::new(),
        }
    }

    const T1: &str = "2019-01-01T00:00:00.000001Z";
    const T2: &str = "2019-01-01T00:00:00.000002Z";
    const T3: &str = "2019-01-01T00:00:00.000003Z";

    fn enrolled(commune: &str) -> Change {
        Change::Enrolled {
            place: place(commune),
            on: "2019-01-01".into(),
        }
    }

    fn exited(commune: &str) -> Change {
        Change::Exited {
            place: place(commune),
            on: "2019-02-01".into(),
        }
    }

    #[test]
    fn follows_enrolment_exit_and_moves() {
        let h = apply(None, "h", enrolled("a"), T1);
        assert!(h.enrolled);
        let h = apply(Some(h), "h", Change::Moved { place: place("b") }, T2);
        assert_eq!(h.place.commune, "b");
        let h = apply(Some(h), "h", exited("b"), T3);
        assert!(!h.enrolled);
        assert_eq!(h.exited_on.as_deref(), Some("2019-02-01"));
        let unknown = apply(None, "x", Change::Moved { place: place("a") }, T1);
        assert!(!unknown.enrolled, "a move does not enrol");
    }

    #[test]
    fn an_older_event_changes_nothing() {
        let exited_last = apply(None, "h", exited("b"), T3);
        let after_late_enrolment = apply(Some(exited_last.clone()), "h", enrolled("a"), T1);
        assert_eq!(after_late_enrolment, exited_last);
        let after_late_move = apply(Some(exited_last.clone()), "h", Change::Moved { place: place("z") }, T2);
        assert_eq!(after_late_move, exited_last);
        // The same event twice is harmless.
        let again = apply(Some(exited_last.clone()), "h", exited("b"), T3);
        assert_eq!(again, exited_last);
    }

    #[test]
    fn a_move_seen_before_the_enrolment_keeps_the_newer_place() {
        let moved_first = apply(None, "h", Change::Moved { place: place("b") }, T2);
        let h = apply(Some(moved_first), "h", enrolled("a"), T1);
        assert!(h.enrolled, "the enrolment applies");
        assert_eq!(h.place.commune, "b", "but not its older place");
    }
}
