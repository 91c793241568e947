//! Match keys for the national linkage index: written to the outbox in the
//! transaction of every change to a household's people, and recomputed for
//! every household when the set of active linkage keys changes (a rotation),
//! in the background, while the registry keeps serving.

use std::time::Duration;

use jigi_bus::{OutgoingEvent, linkage, outbox};
use jigi_proto::linkage as pl;
use jigi_storage::{Conn, StorageError, params};
use tokio_util::sync::CancellationToken;

use super::Registry;
use crate::domain::linkage::{KeyKind, match_keys};
use crate::domain::model::{Household, HouseholdStatus};
use crate::storage;

/// Households re-keyed per transaction during a rotation.
const REKEY_BATCH: usize = 500;

impl Registry {
    /// The household's match keys as a restricted message, or nothing when
    /// no linkage key is configured.
    pub(crate) fn keyed_event(&self, household: &Household) -> Option<OutgoingEvent> {
        if self.linkage.is_empty() {
            return None;
        }
        let keys = match_keys(household, &self.linkage)
            .into_iter()
            .map(|key| pl::MatchKey {
                key_id: key.key_id.as_str().to_owned(),
                kind: match key.kind {
                    KeyKind::IdCard => pl::MatchKind::IdCard,
                    KeyKind::Head => pl::MatchKind::Head,
                } as i32,
                member_id: key.member_id,
                value: key.value,
            })
            .collect();
        let message = pl::HouseholdKeyed {
            household_id: household.household_id.clone(),
            key_ids: self.key_ids(),
            keys,
            version: household.version,
            active: household.status != HouseholdStatus::Exited,
        };
        Some(linkage::HOUSEHOLD_KEYED.event(self.region, &household.household_id, &message))
    }

    /// Writes the households' match keys to the outbox (nothing when
    /// linkage is off).
    pub(crate) fn add_keyed(&self, conn: &mut Conn, households: &[&Household]) -> Result<(), StorageError> {
        let events: Vec<OutgoingEvent> = households.iter().filter_map(|h| self.keyed_event(h)).collect();
        if events.is_empty() {
            return Ok(());
        }
        outbox::add(conn, &events)
    }

    fn key_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.linkage.iter().map(|k| k.key_id().as_str().to_owned()).collect();
        ids.sort();
        ids
    }

    /// The active key set, as recorded once every household is keyed with it.
    fn key_set(&self) -> String {
        self.key_ids().join(",")
    }

    /// Recomputes every household's match keys with the active keys, unless
    /// that was done already: resumes where a previous run stopped, a batch
    /// per transaction. Returns how many households were re-keyed.
    pub async fn rekey_all(&self) -> Result<u64, StorageError> {
        if self.linkage.is_empty() {
            return Ok(0);
        }
        let key_set = self.key_set();
        let mut done = 0;
        loop {
            let (this, set) = (self.clone(), key_set.clone());
            let finished = self
                .db
                .write(move |conn| {
                    let state: Option<(String, i64)> = conn
                        .query(
                            "SELECT cursor, done FROM linkage_rekeys WHERE key_set = $1",
                            params![set.as_str()],
                        )?
                        .first()
                        .map(|row| Ok::<_, StorageError>((row.get(0)?, row.get(1)?)))
                        .transpose()?;
                    let cursor = match state {
                        Some((_, 1)) => return Ok((true, 0)),
                        Some((cursor, _)) => cursor,
                        None => {
                            // First run with this set: from the first household
                            // (those registered meanwhile are keyed as they come).
                            conn.pipeline(
                                "INSERT INTO linkage_rekeys (key_set, cursor, done) VALUES ($1, '', 0)",
                                params![set.as_str()],
                            )?;
                            String::new()
                        }
                    };
                    let after = (!cursor.is_empty()).then_some(cursor.as_str());
                    let ids = storage::list_ids(conn, &storage::ListFilter::default(), after, REKEY_BATCH)?;
                    let households = storage::load_many(conn, &ids)?;
                    let refs: Vec<&Household> = households.iter().collect();
                    this.add_keyed(conn, &refs)?;
                    let finished = ids.len() < REKEY_BATCH;
                    let last = ids.last().cloned().unwrap_or(cursor);
                    conn.pipeline(
                        "UPDATE linkage_rekeys SET cursor = $1, done = $2 WHERE key_set = $3",
                        params![last.as_str(), i64::from(finished), set.as_str()],
                    )?;
                    Ok::<_, StorageError>((finished, ids.len() as u64))
                })
                .await?;
            done += finished.1;
            if finished.0 {
                return Ok(done);
            }
        }
    }

    /// [`Registry::rekey_all`] in the background, retried until it succeeds.
    pub async fn rekey_in_background(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(200);
        loop {
            let outcome = tokio::select! {
                outcome = self.rekey_all() => outcome,
                () = shutdown.cancelled() => return,
            };
            match outcome {
                Ok(0) => return,
                Ok(count) => {
                    tracing::info!(households = count, key_set = %self.key_set(), "match keys recomputed with the active linkage keys");
                    return;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "recomputing match keys: will retry");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = shutdown.cancelled() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}
