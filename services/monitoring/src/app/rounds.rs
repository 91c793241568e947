//! PNP distribution rounds across regions: the query behind
//! `ListRoundIndicators`.

use jigi_common::{Period, Problems, Region};
use jigi_server::CommandError;

use super::{Fresh, Monitoring, parse_period, refuse};
use crate::storage::rounds::{self as queries, RoundFigures};

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

impl Monitoring {
    /// Rounds of a region (every region when empty), whose first day falls
    /// in a period (every period when `None`), in a state (every state when
    /// `None`), with every region's freshness.
    pub async fn rounds(
        &self,
        region: &str,
        period: Option<&str>,
        state: Option<RoundState>,
    ) -> Result<Fresh<Vec<RoundFigures>>, CommandError> {
        let mut problems = Problems::new();
        if !region.is_empty() && region.parse::<Region>().is_err() {
            problems.add("region", format!("unknown region {region:?}"));
        }
        let period = period.map(|p| parse_period(Some(p), "period", &mut problems));
        refuse(problems)?;
        let this = self.clone();
        let mut rounds = self
            .db
            .read(move |conn| {
                let rounds = queries::rounds(conn)?;
                this.fresh(conn, rounds)
            })
            .await?;
        rounds.value.retain(|round| {
            (region.is_empty() || round.region == region)
                && state.is_none_or(|state| RoundState::of(round) == state)
                && match period.flatten() {
                    None => true,
                    Some(period) => round.period.parse::<Period>().is_ok_and(|p| period.contains(p.start())),
                }
        });
        Ok(rounds)
    }
}
