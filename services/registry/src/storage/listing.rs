//! Listing households by filter, a page at a time.

use jigi_common::{AreaLevel, Component};
use jigi_storage::sql::Filter;
use jigi_storage::{Conn, Owned, StorageError};

use crate::domain::model::HouseholdStatus;

/// What to list. Every field narrows the list; the default lists everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListFilter {
    /// Households in this area (its level says which column to compare).
    pub area: Option<(AreaLevel, String)>,
    pub status: Option<HouseholdStatus>,
    /// Currently enrolled in this component.
    pub enrolled_in: Option<Component>,
    pub pmt_min: Option<f64>,
    pub pmt_max: Option<f64>,
    pub eligible_only: bool,
}

/// IDs of the households matching `filter`, in registration order, after
/// the household `after` (exclusive), at most `limit`.
pub fn list_ids(
    conn: &mut Conn,
    filter: &ListFilter,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<String>, StorageError> {
    let mut conditions = Filter::new();
    if let Some((level, code)) = &filter.area {
        let column = match level {
            AreaLevel::Region => "h.region = {}",
            AreaLevel::Cercle => "h.cercle = {}",
            AreaLevel::Commune => "h.commune = {}",
            AreaLevel::Village => "h.village = {}",
        };
        conditions.add(column, code.as_str());
    }
    if let Some(status) = filter.status {
        conditions.add("h.status = {}", status.code());
    }
    if let Some(component) = filter.enrolled_in {
        conditions.add(
            "EXISTS (SELECT 1 FROM enrolments e WHERE e.household_id = h.household_id \
             AND e.component = {} AND e.status = 'enrolled')",
            component.code(),
        );
    }
    if let Some(min) = filter.pmt_min {
        conditions.add("h.pmt_score >= {}", min);
    }
    if let Some(max) = filter.pmt_max {
        conditions.add("h.pmt_score <= {}", max);
    }
    if filter.eligible_only {
        conditions.add_plain("h.pmt_eligible = 1");
    }
    if let Some(after) = after {
        conditions.add("h.household_id > {}", after);
    }
    let statement = format!(
        "SELECT h.household_id FROM households h{} ORDER BY h.household_id LIMIT ${}",
        conditions.where_sql(),
        conditions.next_placeholder()
    );
    let limit = Owned::Int(limit as i64);
    conn.query(&statement, &conditions.params(&[&limit]))?
        .iter()
        .map(|row| row.get(0))
        .collect()
}
