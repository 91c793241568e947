//! What the console shows, without I/O: the figures of an area, the
//! regions' links, events of the live feed, the labels in French and
//! English and how numbers are written in each.

pub mod chart;
pub mod figures;
pub mod format;
pub mod lang;
pub mod links;

pub use figures::{AsOf, Budget, BudgetRow, Cycle, Figures, Freshness, Round, RoundReport, Staleness};
pub use lang::{Labels, Lang};
pub use links::{LinkState, LinkStatus};
