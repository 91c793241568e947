//! The nutrition service's commands and queries. Each command validates,
//! checks the rules, and writes its change, its events (outbox) and, for the
//! commands that move flour, its request ID and answer (idempotency) in one
//! write transaction: on SQLite `BEGIN IMMEDIATE` serialises writers, so a
//! stock check and the withdrawal it allows cannot be split by another writer.

mod distributions;
mod queries;
mod rounds;
mod stock;

use std::sync::Arc;

use chrono::NaiveDate;
use jigi_bus::Outbox;
use jigi_common::{FieldError, Geography, Region};
use jigi_storage::idempotency::{self, Prior, RequestId};
use jigi_storage::{Database, StorageError, Tx};
use prometheus_client::metrics::counter::Counter;
use prost::Message;

pub use distributions::LineInput;
pub use queries::{BeneficiaryPage, Eligibility};

use crate::domain::model::Refusal;
use crate::domain::validate::Rules;

/// Why a command was refused or failed. A refused command changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    /// A rule forbids the command; `subject` names what it is about.
    #[error("{}", refusal.message)]
    Refused { refusal: Refusal, subject: String },
    /// Something with this identity exists with other content.
    #[error("{message}")]
    Conflict {
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
        CommandError::Storage(err.into())
    }
}

impl CommandError {
    pub(crate) fn invalid(field: impl Into<String>, description: impl Into<String>) -> CommandError {
        CommandError::Invalid(vec![FieldError::new(field, description)])
    }

    pub(crate) fn not_found(kind: &'static str, id: &str) -> CommandError {
        CommandError::NotFound {
            kind,
            id: id.to_owned(),
        }
    }
}

/// Counters of what the service did, served at `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub distributions_recorded: Counter,
    pub distributions_refused: Counter,
    pub stock_movements: Counter,
}

impl Counters {
    pub fn register(&self, metrics: &jigi_server::Metrics) {
        metrics.register(
            "distributions_recorded",
            "Rations recorded as given",
            self.distributions_recorded.clone(),
        );
        metrics.register(
            "distributions_refused",
            "Distribution lines refused (not eligible, already received, no stock, ...)",
            self.distributions_refused.clone(),
        );
        metrics.register(
            "stock_movements",
            "Stock movements recorded (receipts, transfers, losses, distributions)",
            self.stock_movements.clone(),
        );
    }
}

/// The nutrition service of one region.
#[derive(Clone)]
pub struct Nutrition {
    db: Database,
    outbox: Outbox,
    geography: Arc<Geography>,
    region: Region,
    counters: Counters,
}

impl Nutrition {
    pub fn new(
        db: Database,
        outbox: Outbox,
        geography: Arc<Geography>,
        region: Region,
        counters: Counters,
    ) -> Nutrition {
        Nutrition {
            db,
            outbox,
            geography,
            region,
            counters,
        }
    }

    pub fn region(&self) -> Region {
        self.region
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Validation rules as of today.
    fn rules(&self) -> Rules<'_> {
        Rules {
            geography: &self.geography,
            region: self.region,
            today: today(),
        }
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

/// A request ID and the fingerprint of the request's content.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub request_id: RequestId,
    pub fingerprint: String,
}

impl Idempotency {
    /// Parses a request's ID (required) and fingerprints its encoding.
    pub fn of(request_id: &str, encoded_request: &[u8]) -> Result<Idempotency, CommandError> {
        let request_id =
            RequestId::parse(request_id).map_err(|err| CommandError::invalid("request_id", err.to_string()))?;
        Ok(Idempotency {
            request_id,
            fingerprint: idempotency::fingerprint(encoded_request),
        })
    }

    /// The stored answer when this request was already carried out.
    async fn prior<R: Message + Default>(&self, tx: &mut Tx, scope: &str) -> Result<Option<R>, CommandError> {
        match idempotency::lookup(tx, scope, &self.request_id, &self.fingerprint).await? {
            Prior::New => Ok(None),
            Prior::Same(bytes) => {
                let answer =
                    R::decode(bytes.as_slice()).map_err(|err| StorageError::Sql(sqlx::Error::Decode(Box::new(err))))?;
                Ok(Some(answer))
            }
            Prior::Conflict => Err(CommandError::RequestReused(self.request_id.as_str().to_owned())),
        }
    }

    /// Stores the answer, in the transaction that carried the request out.
    async fn remember<R: Message>(&self, tx: &mut Tx, scope: &str, answer: &R) -> Result<(), CommandError> {
        idempotency::remember(tx, scope, &self.request_id, &self.fingerprint, &answer.encode_to_vec()).await?;
        Ok(())
    }
}
