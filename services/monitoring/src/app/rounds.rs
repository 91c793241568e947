//! PNP distribution rounds across regions: the query behind
//! `ListRoundIndicators`.

use jigi_common::{Period, Problems, Region};
use jigi_server::CommandError;

use super::{Fresh, Monitoring, parse_period, refuse};
use crate::domain::rounds::{RoundFigures, RoundState};
use crate::storage::rounds as queries;

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
