//! The payments service's commands and queries. Each command checks its
//! input, then runs on the write path: in one transaction it loads the
//! cycle, applies the rules, and writes its change with its events (outbox)
//! and, for results, the request ID and answer (idempotency). A refused
//! command leaves no write behind. Queries run on the database's readers,
//! all of a request's queries in one read.

mod activities;
mod cycles;
pub mod linkage;
mod projection;
mod queries;
mod results;

use std::sync::Arc;

use jigi_common::{Geography, Region};
use jigi_server::CommandError;
use jigi_storage::{Conn, Database};

pub use activities::ActivitiesProjection;
pub use cycles::Frozen;
pub use projection::{RegistryChange, RegistryProjection};
pub use queries::{CSV_HEADER, EligiblePage, EntitlementPage, ExportPlan};
pub use results::{MAX_BATCH, ResultRecorded, ResultsRecorded};

use crate::domain::cycle::Refusal;
use crate::domain::model::Cycle;
use crate::metrics::PaymentMetrics;
use crate::storage;

/// The payments service of one region.
#[derive(Clone)]
pub struct Payments {
    db: Database,
    geography: Arc<Geography>,
    region: Region,
    metrics: PaymentMetrics,
}

impl Payments {
    pub fn new(db: Database, geography: Arc<Geography>, region: Region, metrics: PaymentMetrics) -> Payments {
        Payments {
            db,
            geography,
            region,
            metrics,
        }
    }

    /// The geography reference, for the API layer to read requests with.
    pub fn geography(&self) -> &Geography {
        &self.geography
    }

    pub fn region(&self) -> Region {
        self.region
    }
}

/// A cycle, or says it does not exist.
fn load_cycle(conn: &mut Conn, cycle_id: &str) -> Result<Cycle, CommandError> {
    storage::load_cycle(conn, cycle_id)?.ok_or_else(|| cycle_not_found(cycle_id))
}

pub use jigi_common::rules::today;

fn cycle_not_found(cycle_id: &str) -> CommandError {
    CommandError::not_found("payment cycle", cycle_id)
}

/// A rule's refusal of a step on `subject`.
fn refused(refusal: Refusal, subject: &str) -> CommandError {
    CommandError::refused(refusal.kind, subject, refusal.message)
}
