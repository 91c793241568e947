//! The payments service's commands and queries. Each command checks its
//! input, then in one write transaction loads the cycle, applies the rules,
//! and writes its change with its events (outbox) and, for results, the
//! request ID and answer (idempotency). A refused command rolls back: it
//! changes nothing.

mod cycles;
mod projection;
mod queries;
mod results;

use std::sync::Arc;

use chrono::NaiveDate;
use jigi_bus::Outbox;
use jigi_common::{FieldError, Geography, Region};
use jigi_storage::{Database, StorageError, Tx};

pub use cycles::{AssignmentRequest, Frozen};
pub use projection::RegistryProjection;
pub use queries::{CSV_HEADER, EligiblePage, EntitlementPage, ExportPlan, cycle_status};
pub use results::MAX_BATCH;

use crate::domain::cycle::Refusal;
use crate::domain::model::Cycle;
use crate::metrics::PaymentMetrics;
use crate::storage;

/// Why a command was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("{message}")]
    Refused {
        kind: &'static str,
        subject: String,
        message: String,
    },
    #[error("{message}")]
    Exists {
        kind: &'static str,
        id: String,
        message: String,
    },
    #[error("request_id {0} was already used for a different request")]
    RequestReused(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<sqlx::Error> for CommandError {
    fn from(err: sqlx::Error) -> Self {
        // The database's uniqueness rules back up the service's own: a
        // second payment of a household, a second live cycle for a quarter.
        if let sqlx::Error::Database(db) = &err
            && db.is_unique_violation()
        {
            return CommandError::Exists {
                kind: "record",
                id: String::new(),
                message: "the same payment or cycle was recorded at the same moment; nothing was changed".into(),
            };
        }
        CommandError::Storage(err.into())
    }
}

impl CommandError {
    pub(crate) fn invalid(field: impl Into<String>, description: impl Into<String>) -> CommandError {
        CommandError::Invalid(vec![FieldError::new(field, description)])
    }

    fn refused(refusal: Refusal, subject: &str) -> CommandError {
        CommandError::Refused {
            kind: refusal.kind,
            subject: subject.to_owned(),
            message: refusal.message,
        }
    }
}

/// The payments service of one region.
#[derive(Clone)]
pub struct Payments {
    db: Database,
    outbox: Outbox,
    geography: Arc<Geography>,
    region: Region,
    metrics: PaymentMetrics,
}

impl Payments {
    pub fn new(
        db: Database,
        outbox: Outbox,
        geography: Arc<Geography>,
        region: Region,
        metrics: PaymentMetrics,
    ) -> Payments {
        Payments {
            db,
            outbox,
            geography,
            region,
            metrics,
        }
    }

    pub fn region(&self) -> Region {
        self.region
    }

    /// Loads a cycle for a change, or says it does not exist.
    async fn load_for_change(&self, tx: &mut Tx, cycle_id: &str) -> Result<Cycle, CommandError> {
        check_cycle_id(cycle_id)?;
        storage::load_cycle(tx, cycle_id)
            .await?
            .ok_or_else(|| cycle_not_found(cycle_id))
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

fn cycle_not_found(cycle_id: &str) -> CommandError {
    CommandError::NotFound {
        kind: "payment cycle",
        id: cycle_id.to_owned(),
    }
}

/// Cycle IDs are UUIDs; anything else cannot name a cycle.
fn check_cycle_id(cycle_id: &str) -> Result<(), CommandError> {
    if cycle_id.is_empty() {
        return Err(CommandError::invalid("cycle_id", "is required"));
    }
    if uuid::Uuid::parse_str(cycle_id).is_err() {
        return Err(CommandError::invalid("cycle_id", "is not a payment cycle ID (a UUID)"));
    }
    Ok(())
}
