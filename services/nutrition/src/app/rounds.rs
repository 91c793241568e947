//! Opening and closing distribution rounds.

use chrono::NaiveDate;
use jigi_bus::outbox;
use jigi_server::CommandError;
use jigi_storage::Conn;

use super::queries::round_report;
use super::{Nutrition, refused};
use crate::domain::model::{Reason, Refusal, Round, RoundReport, RoundStatus};
use crate::domain::validate::NewRound;
use crate::{events, storage};

impl Nutrition {
    /// Opens a round. The same round opened again with the same content is
    /// returned as it is; with other content, it already exists.
    pub async fn open_round(&self, new: NewRound) -> Result<Round, CommandError> {
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
        let round = self.db.write(move |conn| open_round_in(conn, round)).await?;
        tracing::info!(round_id = %round.round_id, "round opened");
        Ok(round)
    }

    /// Closes a round and returns its final report. Closing a closed round
    /// returns it unchanged (and publishes nothing).
    pub async fn close_round(&self, round_id: String, on: NaiveDate) -> Result<(Round, RoundReport), CommandError> {
        let closed = self.db.write(move |conn| close_round_in(conn, &round_id, on)).await?;
        tracing::info!(round_id = %closed.0.round_id, "round closed");
        Ok(closed)
    }

    pub async fn round(&self, round_id: String) -> Result<Round, CommandError> {
        self.db.read(move |conn| load_round(conn, &round_id)).await
    }

    pub async fn rounds(&self, year: i32) -> Result<Vec<Round>, CommandError> {
        Ok(self
            .db
            .read(move |conn| storage::rounds::list(conn, (year != 0).then_some(year)))
            .await?)
    }

    pub async fn report(&self, round_id: String) -> Result<RoundReport, CommandError> {
        self.db
            .read(move |conn| {
                let round = load_round(conn, &round_id)?;
                Ok(round_report(conn, &round)?)
            })
            .await
    }
}

fn open_round_in(conn: &mut Conn, round: Round) -> Result<Round, CommandError> {
    if let Some(existing) = storage::rounds::find(conn, round.year, round.number)? {
        let same = existing.starts_on == round.starts_on
            && existing.ends_on == round.ends_on
            && existing.communes == round.communes
            && existing.rations == round.rations;
        return if same {
            Ok(existing)
        } else {
            Err(CommandError::exists(
                "round",
                existing.round_id.clone(),
                format!(
                    "round {} of {} is already open as {} with other dates, communes or rations",
                    round.number, round.year, existing.round_id
                ),
            ))
        };
    }
    storage::rounds::insert(conn, &round)?;
    outbox::add(conn, &[events::round_opened(&round)])?;
    Ok(round)
}

fn close_round_in(conn: &mut Conn, round_id: &str, on: NaiveDate) -> Result<(Round, RoundReport), CommandError> {
    let mut round = load_round(conn, round_id)?;
    if round.status == RoundStatus::Closed {
        let report = round_report(conn, &round)?;
        return Ok((round, report));
    }
    if on < round.starts_on {
        return Err(CommandError::invalid(
            "closed_on",
            format!("{on} is before the round starts on {}", round.starts_on),
        ));
    }
    storage::rounds::close(conn, round_id, on)?;
    round.status = RoundStatus::Closed;
    round.closed_on = Some(on);
    let report = round_report(conn, &round)?;
    outbox::add(conn, &[events::round_closed(&report, on)])?;
    Ok((round, report))
}

/// A round, or says it does not exist.
pub(crate) fn load_round(conn: &mut Conn, round_id: &str) -> Result<Round, CommandError> {
    storage::rounds::load(conn, round_id)?.ok_or_else(|| CommandError::not_found("round", round_id))
}

/// The refusal of a distribution in a round that no longer accepts them.
pub(crate) fn closed(round: &Round) -> CommandError {
    refused(
        Refusal::new(
            Reason::RoundClosed,
            format!(
                "round {} was closed on {}",
                round.round_id,
                round.closed_on.map(|d| d.to_string()).unwrap_or_default()
            ),
        ),
        &round.round_id,
    )
}
