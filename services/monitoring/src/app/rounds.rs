//! PNP distribution rounds across regions: the query behind
//! `ListRoundIndicators`.

use jigi_common::{Period, Region};
use jigi_server::CommandError;

use super::{Fresh, Monitoring};
use crate::domain::rounds::{RoundFigures, RoundState};
use crate::storage::rounds as queries;

impl Monitoring {
    /// Rounds of a region (every region when `None`), whose first day falls
    /// in a period (every period when `None`), in a state (every state when
    /// `None`), with every region's freshness.
    pub async fn rounds(
        &self,
        region: Option<Region>,
        period: Option<Period>,
        state: Option<RoundState>,
    ) -> Result<Fresh<Vec<RoundFigures>>, CommandError> {
        let this = self.clone();
        let mut rounds = self
            .db
            .read(move |conn| {
                let rounds = queries::rounds(conn)?;
                this.fresh(conn, rounds)
            })
            .await?;
        rounds.value.retain(|round| {
            region.is_none_or(|region| round.region == region.slug())
                && state.is_none_or(|state| RoundState::of(round) == state)
                && match period {
                    None => true,
                    Some(period) => round.period.parse::<Period>().is_ok_and(|p| period.contains(p.start())),
                }
        });
        Ok(rounds)
    }
}
