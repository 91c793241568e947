//! The monitoring's queries and the budget commands. A query validates its
//! input, then reads everything a request needs on one of the database's
//! readers, in one snapshot. A command validates its input, then runs on the
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

use jigi_common::{AreaLevel, Geography, Period, Problems, Region};
use jigi_server::CommandError;
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

    /// Checks an area code: empty (the country), a region, a cercle or a
    /// commune; a problem is added under `field` otherwise.
    fn area(&self, field: &str, code: &str, problems: &mut Problems) -> Option<(AreaLevel, String)> {
        if code.is_empty() {
            return None;
        }
        match self.geography.get(code) {
            Some(area) if area.level != AreaLevel::Village => Some((area.level, code.to_owned())),
            Some(_) => {
                problems.add(field, "indicators go down to communes, not villages");
                None
            }
            None => {
                problems.add(
                    field,
                    format!("unknown area {code:?}: use a region, cercle or commune code"),
                );
                None
            }
        }
    }
}

/// A required period: a quarter like `2018Q4` or a year like `2018`.
fn parse_period(text: Option<&str>, field: &str, problems: &mut Problems) -> Option<Period> {
    match text {
        None | Some("") => {
            problems.add(field, "is required: a quarter like 2018Q4 or a year like 2018");
            None
        }
        Some(code) => problems.check(
            format!("{field}.code"),
            code.parse::<Period>().map_err(|e| e.to_string()),
        ),
    }
}

/// The problems found, as the command's refusal.
fn refuse(problems: Problems) -> Result<(), CommandError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CommandError::Invalid(problems.into_errors()))
    }
}
