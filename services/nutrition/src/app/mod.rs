//! The nutrition service's commands and queries. Each command receives
//! valid domain values (the API layer parsed the request with [`Rules`]),
//! then runs on the write path: it checks the rules against what is
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

use jigi_common::{Geography, Region};
use jigi_server::CommandError;
use jigi_storage::Database;

pub use distributions::BatchLines;
pub use queries::{BeneficiaryPage, BeneficiaryQuery, Eligibility};
pub use stock::{LotChange, StockMoved, WarehouseStock};

use crate::domain::model::{Reason, Refusal};
use crate::domain::validate::Rules;
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

    /// Validation rules as of today, for the API layer to parse requests with.
    pub fn rules(&self) -> Rules<'_> {
        Rules::today(&self.geography, self.region)
    }
}

pub use jigi_common::rules::today;

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
