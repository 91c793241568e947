//! The monitoring's queries and the budget commands, on domain values (the
//! API layer parsed the request). A query reads everything a request needs
//! on one of the database's readers, in one snapshot. A command runs on the
//! write path, one transaction (with its request ID, for an expenditure).
//! The [`projection`] turns the national stream's events into the facts the
//! queries read.

mod budget;
mod exports;
mod freshness;
mod indicators;
pub mod projection;
mod rounds;

use std::sync::Arc;
use std::time::Duration;

use jigi_common::{Geography, Region};
use jigi_storage::Database;

pub use crate::domain::rounds::{RoundState, reconciled};
pub use budget::LineExecution;
pub use exports::Dhis2Export;
pub use freshness::{AsOf, Fresh, Freshness};
pub use indicators::{IndicatorReport, IndicatorRow};
pub use projection::Lags;

use crate::domain::dhis2::Mapping;
pub use crate::domain::rounds::{RoundControl, RoundFigures};
pub use crate::storage::indicators::CycleIndicators;

/// The national monitoring.
#[derive(Clone)]
pub struct Monitoring {
    db: Database,
    geography: Arc<Geography>,
    mapping: Arc<Mapping>,
    regions: Vec<Region>,
    silence: Duration,
    lags: Lags,
    /// The national consumer's counters: how far behind the stream it is.
    consumer: Option<Arc<jigi_bus::inbox::ConsumerStats>>,
}

impl Monitoring {
    pub fn new(
        db: Database,
        geography: Arc<Geography>,
        mapping: Arc<Mapping>,
        regions: Vec<Region>,
        silence: Duration,
        lags: Lags,
    ) -> Monitoring {
        Monitoring {
            db,
            geography,
            mapping,
            regions,
            silence,
            lags,
            consumer: None,
        }
    }

    /// Reads how far behind the national stream its consumer is from
    /// `stats`, for the freshness every answer carries.
    pub fn with_consumer(mut self, stats: Arc<jigi_bus::inbox::ConsumerStats>) -> Monitoring {
        self.consumer = Some(stats);
        self
    }

    /// The programme's places, for the API layer to check area codes with.
    pub fn geography(&self) -> &Geography {
        &self.geography
    }
}
