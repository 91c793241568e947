//! PNP distribution rounds as the monitoring sees them: each round's
//! figures, its state and whether the region's control totals at closing
//! agree with what the monitoring counted.

/// A round's figures, as stored and counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundFigures {
    pub round_id: String,
    pub region: String,
    pub year: i32,
    pub number: i32,
    /// The quarter of its first day.
    pub period: String,
    pub starts_on: String,
    pub ends_on: String,
    /// Empty while open.
    pub closed_on: String,
    /// `open` or `closed`.
    pub status: String,
    pub pilot_communes: i64,
    pub households_served: i64,
    /// Children, pregnant women, lactating women served (distinct people).
    pub served: [i64; 3],
    pub rations: i64,
    pub distributed_grams: i64,
    pub lost_grams: i64,
    /// What the region reported at closing, once closed.
    pub control: Option<RoundControl>,
}

/// A region's figures at a round's closing, summed over its communes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundControl {
    /// Children, pregnant women, lactating women eligible on the first day.
    pub planned: [i64; 3],
    /// Children, pregnant women, lactating women the region counted served.
    pub reached: [i64; 3],
    pub distributed_grams: i64,
    pub stock_on_hand_grams: i64,
}

/// A round's state, as its latest event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundState {
    Open,
    Closed,
}

impl RoundState {
    /// The state stored for a round (`open` or `closed`).
    pub fn of(round: &RoundFigures) -> RoundState {
        if round.status == "closed" {
            RoundState::Closed
        } else {
            RoundState::Open
        }
    }
}

/// Whether a closed round's figures agree: the people served by group and
/// the grams given that the region reported at closing equal those the
/// monitoring counted from the rations it received. An open round is not
/// reconciled: nothing has been reported yet.
pub fn reconciled(round: &RoundFigures) -> bool {
    match &round.control {
        Some(control) if RoundState::of(round) == RoundState::Closed => {
            control.reached == round.served && control.distributed_grams == round.distributed_grams
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(status: &str, control: Option<RoundControl>) -> RoundFigures {
        RoundFigures {
            round_id: "r1".into(),
            region: "sikasso".into(),
            year: 2018,
            number: 1,
            period: "2018Q4".into(),
            starts_on: "2018-10-01".into(),
            ends_on: "2018-10-31".into(),
            closed_on: String::new(),
            status: status.into(),
            pilot_communes: 2,
            households_served: 3,
            served: [4, 1, 2],
            rations: 7,
            distributed_grams: 21_000,
            lost_grams: 0,
            control,
        }
    }

    fn control(reached: [i64; 3], grams: i64) -> Option<RoundControl> {
        Some(RoundControl {
            planned: [5, 1, 2],
            reached,
            distributed_grams: grams,
            stock_on_hand_grams: 1_000,
        })
    }

    #[test]
    fn only_a_closed_round_whose_totals_agree_is_reconciled() {
        assert!(reconciled(&round("closed", control([4, 1, 2], 21_000))));
        assert!(
            !reconciled(&round("closed", control([4, 1, 1], 21_000))),
            "a group differs"
        );
        assert!(
            !reconciled(&round("closed", control([4, 1, 2], 20_999))),
            "the grams differ"
        );
        assert!(!reconciled(&round("closed", None)), "no control totals");
        assert!(!reconciled(&round("open", control([4, 1, 2], 21_000))), "still open");
        assert_eq!(RoundState::of(&round("open", None)), RoundState::Open);
        assert_eq!(RoundState::of(&round("closed", None)), RoundState::Closed);
    }
}
