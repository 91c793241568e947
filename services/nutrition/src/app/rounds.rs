//! Opening and closing distribution rounds.

use jigi_common::Problems;
use jigi_proto::nutrition as pn;

use super::queries::round_report;
use super::{CommandError, Nutrition};
use crate::domain::model::{Reason, Refusal, Round, RoundReport, RoundStatus};
use crate::{events, storage};

impl Nutrition {
    /// Opens a round. The same round opened again with the same content is
    /// returned as it is; with other content, it is a conflict.
    pub async fn open_round(&self, request: &pn::OpenRoundRequest) -> Result<Round, CommandError> {
        let mut problems = Problems::new();
        let new = self.rules().round(request, &mut problems);
        let new = match new {
            Some(new) if problems.is_empty() => new,
            _ => return Err(CommandError::Invalid(problems.into_errors())),
        };
        let round = Round {
            round_id: Round::id_for(self.region, new.year, new.number),
            region: self.region,
            year: new.year,
            number: new.number,
            starts_on: new.starts_on,
            ends_on: new.ends_on,
            communes: new.communes,
            rations: new.rations,
            status: RoundStatus::Open,
            opened_at: jigi_storage::timestamp::now_utc(),
            closed_on: None,
        };
        let mut tx = self.db.begin_write().await?;
        if let Some(existing) = storage::rounds::find(&mut tx, round.year, round.number).await? {
            let same = existing.starts_on == round.starts_on
                && existing.ends_on == round.ends_on
                && existing.communes == round.communes
                && existing.rations == round.rations;
            return if same {
                Ok(existing)
            } else {
                Err(CommandError::Conflict {
                    kind: "round",
                    id: existing.round_id.clone(),
                    message: format!(
                        "round {} of {} is already open as {} with other dates, communes or rations",
                        round.number, round.year, existing.round_id
                    ),
                })
            };
        }
        storage::rounds::insert(&mut tx, &round).await?;
        self.outbox.add(&mut tx, &[events::round_opened(&round)]).await?;
        self.commit(tx).await?;
        tracing::info!(round_id = %round.round_id, "round opened");
        Ok(round)
    }

    /// Closes a round and returns its final report. Closing a closed round
    /// returns it unchanged (and publishes nothing).
    pub async fn close_round(&self, round_id: &str, closed_on: &str) -> Result<(Round, RoundReport), CommandError> {
        let mut problems = Problems::new();
        let on = self.rules().past_date(closed_on, "closed_on", &mut problems);
        if round_id.is_empty() {
            problems.add("round_id", "is required");
        }
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let on = on.expect("checked");

        let mut tx = self.db.begin_write().await?;
        let mut round = storage::rounds::load(&mut tx, round_id)
            .await?
            .ok_or_else(|| CommandError::not_found("round", round_id))?;
        if round.status == RoundStatus::Closed {
            let report = round_report(&mut tx, &round).await?;
            return Ok((round, report));
        }
        if on < round.starts_on {
            return Err(CommandError::invalid(
                "closed_on",
                format!("{on} is before the round starts on {}", round.starts_on),
            ));
        }
        storage::rounds::close(&mut tx, round_id, on).await?;
        round.status = RoundStatus::Closed;
        round.closed_on = Some(on);
        let report = round_report(&mut tx, &round).await?;
        self.outbox.add(&mut tx, &[events::round_closed(&report, on)]).await?;
        self.commit(tx).await?;
        tracing::info!(round_id, "round closed");
        Ok((round, report))
    }

    pub async fn round(&self, round_id: &str) -> Result<Round, CommandError> {
        if round_id.is_empty() {
            return Err(CommandError::invalid("round_id", "is required"));
        }
        let mut conn = self.db.pool().acquire().await?;
        storage::rounds::load(&mut conn, round_id)
            .await?
            .ok_or_else(|| CommandError::not_found("round", round_id))
    }

    pub async fn rounds(&self, year: i32) -> Result<Vec<Round>, CommandError> {
        let mut conn = self.db.pool().acquire().await?;
        Ok(storage::rounds::list(&mut conn, (year != 0).then_some(year)).await?)
    }

    pub async fn report(&self, round_id: &str) -> Result<RoundReport, CommandError> {
        let round = self.round(round_id).await?;
        let mut conn = self.db.pool().acquire().await?;
        round_report(&mut conn, &round).await
    }
}

/// The refusal of a distribution in a round that no longer accepts them.
pub(crate) fn closed(round: &Round) -> CommandError {
    CommandError::Refused {
        refusal: Refusal::new(
            Reason::RoundClosed,
            format!(
                "round {} was closed on {}",
                round.round_id,
                round.closed_on.map(|d| d.to_string()).unwrap_or_default()
            ),
        ),
        subject: round.round_id.clone(),
    }
}
