//! The nutrition service's commands and queries. Each command validates its
//! input, then runs on the write path: it checks the rules against what is
//! stored and writes its change, its events (outbox) and, for the commands
//! that move flour, its request ID and answer (idempotency) in one
//! transaction. One writer runs every command, so a stock check and the
//! withdrawal it allows cannot be split by another writer. Queries run on
//! the database's readers, all of a request's queries in one snapshot.
//! [`projection`] applies the registry's events.

mod distributions;
pub mod projection;
mod queries;
mod rounds;
mod stock;

use std::sync::Arc;

use chrono::NaiveDate;
use jigi_common::{Geography, Region};
use jigi_server::CommandError;
use jigi_storage::idempotency::Remembered;
use jigi_storage::{Database, StorageError};

pub use distributions::LineInput;
pub use queries::{BeneficiaryPage, Eligibility};

use crate::domain::model::{Reason, Refusal};
use crate::grpc::parse::Rules;
use crate::metrics::Counters;

/// The nutrition service of one region.
#[derive(Clone)]
pub struct Nutrition {
    db: Database,
    geography: Arc<Geography>,
    region: Region,
    counters: Counters,
}

impl Nutrition {
    pub fn new(db: Database, geography: Arc<Geography>, region: Region, counters: Counters) -> Nutrition {
        Nutrition {
            db,
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
}

/// Today's date in Mali (UTC, no daylight saving).
pub fn today() -> NaiveDate {
    jigi_storage::timestamp::now_utc().date_naive()
}

/// A refusal as the command's error. A person unknown to the registry is
/// `NOT_FOUND`, a second ration in a round `ALREADY_EXISTS`, an invalid line
/// names its field; any other rule is a refusal of its own kind, about
/// `subject`.
pub(crate) fn refused(refusal: Refusal, subject: &str) -> CommandError {
    match refusal.reason {
        Reason::UnknownPerson => CommandError::not_found("person", subject),
        Reason::AlreadyReceived => CommandError::exists("distribution", subject, refusal.message),
        Reason::Invalid => CommandError::invalid(refusal.field, refusal.message),
        reason => CommandError::refused(reason.code(), subject, refusal.message),
    }
}

/// An API answer remembered under its request ID, as its protobuf encoding,
/// and given back, byte for byte, to a retry.
pub(crate) struct Answer<M>(pub M);

impl<M: prost::Message + Default> Remembered for Answer<M> {
    fn to_stored(&self) -> Vec<u8> {
        self.0.encode_to_vec()
    }

    fn from_stored(bytes: &[u8]) -> Result<Self, StorageError> {
        M::decode(bytes)
            .map(Answer)
            .map_err(|err| StorageError::Decode(format!("stored answer: {err}")))
    }
}
