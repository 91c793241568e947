//! The index's commands and queries. The index itself is fed by the inbox
//! ([`index::KeyIndex`]); resolving a duplicate is one transaction on the
//! write path that also writes its messages to the outbox.

pub mod index;
pub mod payments;
pub mod transfers;

use jigi_bus::outbox;
use jigi_server::CommandError;
use jigi_storage::idempotency::{self, Remembered, RequestKey};
use jigi_storage::{Database, StorageError};

use crate::domain::{self, Duplicate, Refusal, Resolution};
use crate::{events, storage};

/// Most duplicates one page lists.
pub const MAX_PAGE: usize = 500;

/// The national linkage index.
#[derive(Clone)]
pub struct Linkage {
    db: Database,
}

/// A page of duplicates and where the next one starts.
#[derive(Debug, Clone)]
pub struct Page {
    pub duplicates: Vec<Duplicate>,
    pub next_offset: Option<usize>,
}

impl Linkage {
    pub fn new(db: Database) -> Linkage {
        Linkage { db }
    }

    /// One duplicate, or `NOT_FOUND`.
    pub async fn get(&self, duplicate_id: &str) -> Result<Duplicate, CommandError> {
        domain::parse_duplicate_id(duplicate_id).map_err(|err| CommandError::invalid("duplicate_id", err))?;
        let id = duplicate_id.to_owned();
        self.db
            .read(move |conn| storage::duplicate(conn, &id))
            .await?
            .ok_or_else(|| CommandError::not_found("duplicate", duplicate_id))
    }

    /// A page of duplicates.
    pub async fn list(&self, filter: storage::ListFilter, offset: usize, size: usize) -> Result<Page, StorageError> {
        let size = size.clamp(1, MAX_PAGE);
        let mut duplicates = self
            .db
            .read(move |conn| storage::list(conn, &filter, offset, size + 1))
            .await?;
        let next_offset = (duplicates.len() > size).then_some(offset + size);
        duplicates.truncate(size);
        Ok(Page {
            duplicates,
            next_offset,
        })
    }

    /// Records a registrar's finding (the API has checked that the caller
    /// covers one of the duplicate's regions, which never change). The
    /// answer `answer` makes of the resolved duplicate is remembered under
    /// the request ID.
    pub async fn resolve<A>(
        &self,
        key: RequestKey,
        duplicate_id: &str,
        resolution: Resolution,
        kept: &str,
        answer: impl FnOnce(&Duplicate) -> A + Send + 'static,
    ) -> Result<A, CommandError>
    where
        A: Remembered + Send + 'static,
    {
        domain::parse_duplicate_id(duplicate_id).map_err(|err| CommandError::invalid("duplicate_id", err))?;
        let (id, kept) = (duplicate_id.to_owned(), kept.to_owned());
        self.db
            .write(move |conn| {
                idempotency::once(conn, &key, |conn| {
                    let mut duplicate =
                        storage::duplicate(conn, &id)?.ok_or_else(|| CommandError::not_found("duplicate", &id))?;
                    match domain::resolve(&duplicate, resolution, &kept, chrono::Utc::now()) {
                        Ok(Some(resolved)) => {
                            storage::save_resolution(conn, &id, &resolved)?;
                            duplicate.resolution = Some(resolved);
                            outbox::add(conn, &events::resolved(&duplicate))?;
                            // A move waiting for its destination household goes now.
                            transfers::on_resolved(conn, &duplicate)?;
                        }
                        Ok(None) => {}
                        Err(
                            refusal @ (Refusal::KeptRequired | Refusal::KeptNotInPair(_) | Refusal::KeptNotExpected),
                        ) => {
                            return Err(CommandError::invalid("kept_household_id", refusal.to_string()));
                        }
                        Err(refusal @ Refusal::AlreadyResolved(_)) => {
                            return Err(CommandError::refused(
                                "ALREADY_RESOLVED",
                                id.clone(),
                                refusal.to_string(),
                            ));
                        }
                    }
                    Ok::<_, CommandError>(answer(&duplicate))
                })
            })
            .await
    }
}
