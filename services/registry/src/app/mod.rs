//! The registry's commands and queries: each command validates, checks the
//! rules, and writes its change, its event (outbox) and, where the client
//! sent one, its request ID (idempotency) in one transaction.

mod changes;
mod queries;
mod register;

use std::sync::Arc;

use chrono::NaiveDate;
use jigi_bus::Outbox;
use jigi_common::{FieldError, Geography, Region};
use jigi_storage::{Database, StorageError, Tx};

pub use changes::MemberChanges;
pub use queries::Page;
pub use register::{ImportRow, ImportSession, RowOutcome};

use crate::domain::identity;
use crate::domain::model::Household;
use crate::domain::pmt::PmtConfig;
use crate::domain::validate::Rules;
use crate::storage;

/// Why a command was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    #[error("{message}")]
    Duplicate { household_id: String, message: String },
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("{message}")]
    Refused {
        kind: &'static str,
        subject: String,
        message: String,
    },
    #[error("request_id {0} was already used for a different request")]
    RequestReused(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<sqlx::Error> for CommandError {
    fn from(err: sqlx::Error) -> Self {
        // The database's own uniqueness checks back up the registry's: a
        // race between two writers ends here rather than in a double.
        if let sqlx::Error::Database(db) = &err
            && db.is_unique_violation()
        {
            return CommandError::Duplicate {
                household_id: String::new(),
                message: "a household with the same head or ID-card number was registered at the same moment".into(),
            };
        }
        CommandError::Storage(err.into())
    }
}

impl CommandError {
    fn invalid(field: impl Into<String>, description: impl Into<String>) -> CommandError {
        CommandError::Invalid(vec![FieldError::new(field, description)])
    }

    fn household_not_found(id: &str) -> CommandError {
        CommandError::NotFound {
            kind: "household",
            id: id.to_owned(),
        }
    }
}

/// The registry of one region.
#[derive(Clone)]
pub struct Registry {
    db: Database,
    outbox: Outbox,
    geography: Arc<Geography>,
    pmt: Arc<PmtConfig>,
    region: Region,
}

impl Registry {
    pub fn new(
        db: Database,
        outbox: Outbox,
        geography: Arc<Geography>,
        pmt: Arc<PmtConfig>,
        region: Region,
    ) -> Registry {
        Registry {
            db,
            outbox,
            geography,
            pmt,
            region,
        }
    }

    pub fn region(&self) -> Region {
        self.region
    }

    pub fn geography(&self) -> &Geography {
        &self.geography
    }

    /// Validation rules as of today.
    fn rules(&self) -> Rules<'_> {
        Rules {
            geography: &self.geography,
            region: self.region,
            today: today(),
        }
    }

    /// Loads a household for a change, or says it does not exist.
    async fn load_for_change(&self, tx: &mut Tx, household_id: &str) -> Result<Household, CommandError> {
        check_household_id(household_id)?;
        storage::load(tx, household_id)
            .await?
            .ok_or_else(|| CommandError::household_not_found(household_id))
    }

    /// Rescores, bumps the version and saves a changed household's own row,
    /// refusing a head that another household already has.
    async fn save_changed(&self, tx: &mut Tx, household: &mut Household) -> Result<(), CommandError> {
        household.pmt = self.pmt.assess(
            household.location.region,
            &household.members,
            &household.traits,
            today(),
        );
        household.version += 1;
        household.updated_at = jigi_storage::timestamp::now_utc();
        let head = household.head();
        let head_key = identity::head_key(
            &head.given_name,
            &head.family_name,
            head.birth_date,
            &household.location,
        );
        if let Some(other) = storage::households_by_head_key(tx, std::slice::from_ref(&head_key))
            .await?
            .remove(&head_key)
            .filter(|other| *other != household.household_id)
        {
            return Err(CommandError::Duplicate {
                message: format!("household {other} already has this head (same name, birth date and village)"),
                household_id: other,
            });
        }
        storage::update_household(tx, household, &head_key).await?;
        Ok(())
    }

    /// Commits a transaction that added events, and wakes the relay.
    async fn commit(&self, tx: Tx) -> Result<(), CommandError> {
        tx.commit().await?;
        self.outbox.wake();
        Ok(())
    }
}

/// Today's date in Mali (UTC, no daylight saving).
pub fn today() -> NaiveDate {
    jigi_storage::timestamp::now_utc().date_naive()
}

/// Household IDs are UUIDs; anything else cannot name a household.
fn check_household_id(household_id: &str) -> Result<(), CommandError> {
    if household_id.is_empty() {
        return Err(CommandError::invalid("household_id", "is required"));
    }
    if uuid::Uuid::parse_str(household_id).is_err() {
        return Err(CommandError::invalid("household_id", "is not a registry ID (a UUID)"));
    }
    Ok(())
}
