//! The activities service's commands and queries. Each command receives
//! valid domain values (the API layer parsed the request with [`Rules`]),
//! then runs on the write path: it checks the rules against what
//! is stored and writes its change, its events (outbox) and, for the
//! commands that record attendance or release money, its request ID and
//! answer (idempotency) in one transaction. Queries run on the database's
//! readers. [`projection`] applies the registry's events.

mod agr;
pub mod himo;
pub mod ma;
pub mod projection;

use std::sync::Arc;

use jigi_common::{Geography, Region};
use jigi_server::CommandError;
use jigi_storage::{Conn, Database};

use crate::domain::model::{Household, Refusal};
use crate::domain::validate::Rules;
use crate::metrics::Counters;
use crate::storage;

/// The activities service of one region.
#[derive(Clone)]
pub struct Activities {
    db: Database,
    geography: Arc<Geography>,
    region: Region,
    counters: Counters,
}

impl Activities {
    pub fn new(db: Database, geography: Arc<Geography>, region: Region, counters: Counters) -> Activities {
        Activities {
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

    /// A rule's refusal as the command's error, counted.
    fn refused(&self, refusal: Refusal, subject: &str) -> CommandError {
        self.counters.refusals.inc();
        CommandError::refused(refusal.kind, subject, refusal.message)
    }
}

pub use jigi_common::rules::today;

/// A household the registry told this service of, or `NOT_FOUND`.
fn known_household(conn: &mut Conn, household_id: &str) -> Result<Household, CommandError> {
    storage::registry::household(conn, household_id)?.ok_or_else(|| CommandError::not_found("household", household_id))
}
