//! The national linkage index's findings about this region's households,
//! applied through the inbox: a suspected duplicate holds the household out
//! of the next freeze until the duplicate is resolved; a transfer order (a
//! household that moved here) makes it payable from the quarter after the
//! last its origin paid.

use jigi_bus::{Decoded, EventHandler, ReceivedEvent, Rejection, linkage};
use jigi_common::{Period, Region};
use jigi_proto::linkage as pl;
use jigi_storage::{Conn, StorageError};
use prost::Message as _;

use super::Payments;
use crate::domain::model::CycleId;
use crate::storage::holds::{self, Held};
use crate::storage::transfers;

/// What a finding changes here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldChange {
    /// Hold these households of the region (each with the other side).
    Hold {
        duplicate_id: String,
        holds: Vec<(String, String, String)>,
    },
    /// Lift the duplicate's holds.
    Release { duplicate_id: String },
    /// A household moved here whose TM enrolment continues: payable from
    /// `first_period`, the quarter after the last its origin paid.
    Transferred {
        household_id: String,
        first_period: String,
        transfer_id: String,
        origin_region: String,
    },
}

/// The inbox handler of the region's copy of `JIGI_DUPLICATES`.
#[derive(Debug, Clone, Copy)]
pub struct DuplicateHolds {
    pub region: Region,
}

impl EventHandler for DuplicateHolds {
    type Effect = HoldChange;

    fn decode(&self, event: &ReceivedEvent) -> Result<Option<HoldChange>, Rejection> {
        let duplicate = if event.ce_type == linkage::DUPLICATE_SUSPECTED.ce_type() {
            pl::DuplicateSuspected::decode(event.data.clone())
                .map_err(|err| Rejection(format!("DuplicateSuspected does not decode: {err}")))?
                .duplicate
        } else if event.ce_type == linkage::DUPLICATE_RESOLVED.ce_type() {
            let resolved = pl::DuplicateResolved::decode(event.data.clone())
                .map_err(|err| Rejection(format!("DuplicateResolved does not decode: {err}")))?;
            let id = resolved.duplicate.map(|d| d.duplicate_id).unwrap_or_default();
            if id.is_empty() {
                return Err(Rejection("a resolution names no duplicate".into()));
            }
            return Ok(Some(HoldChange::Release { duplicate_id: id }));
        } else if event.ce_type == linkage::TRANSFER_ORDERED.ce_type() {
            return transferred(event);
        } else {
            return Ok(None);
        };
        let duplicate = duplicate.ok_or_else(|| Rejection("a suspicion names no duplicate".into()))?;
        let (Some(first), Some(second)) = (duplicate.first, duplicate.second) else {
            return Err(Rejection("a suspicion names fewer than two households".into()));
        };
        let mine = self.region.slug();
        let mut found = Vec::new();
        for (this, other) in [(&first, &second), (&second, &first)] {
            if this.region == mine {
                found.push((
                    this.household_id.clone(),
                    other.household_id.clone(),
                    other.region.clone(),
                ));
            }
        }
        Ok(Some(HoldChange::Hold {
            duplicate_id: duplicate.duplicate_id,
            holds: found,
        }))
    }

    fn apply(&self, conn: &mut Conn, events: &[Decoded<HoldChange>]) -> Result<(), StorageError> {
        for event in events {
            match &event.effect {
                HoldChange::Hold { duplicate_id, holds } => {
                    for (household, other, other_region) in holds {
                        holds::hold(conn, household, duplicate_id, other, other_region)?;
                    }
                }
                HoldChange::Release { duplicate_id } => holds::release(conn, duplicate_id)?,
                HoldChange::Transferred {
                    household_id,
                    first_period,
                    transfer_id,
                    origin_region,
                } => transfers::record_first_period(conn, household_id, first_period, transfer_id, origin_region)?,
            }
        }
        Ok(())
    }
}

/// What a transfer order changes here: nothing unless the origin paid the
/// household's TM for some quarter, in which case this region pays from
/// the next one.
fn transferred(event: &ReceivedEvent) -> Result<Option<HoldChange>, Rejection> {
    let order = pl::TransferOrdered::decode(event.data.clone())
        .map_err(|err| Rejection(format!("TransferOrdered does not decode: {err}")))?;
    if order.household_id.is_empty() || order.transfer_id.is_empty() {
        return Err(Rejection("a transfer order names no household".into()));
    }
    let tm = jigi_proto::common::Component::Tm as i32;
    let Some(last_paid) = order
        .enrolments
        .iter()
        .find(|e| e.component == tm)
        .map(|e| e.last_period_paid.as_str())
        .filter(|p| !p.is_empty())
    else {
        return Ok(None);
    };
    let last_paid: Period = last_paid
        .parse()
        .map_err(|err| Rejection(format!("transfer order's last quarter paid {last_paid:?}: {err}")))?;
    // The day after a quarter's last day is in the next quarter.
    let first = last_paid
        .end()
        .succ_opt()
        .map(Period::quarter_of)
        .ok_or_else(|| Rejection(format!("no quarter follows {last_paid}")))?;
    Ok(Some(HoldChange::Transferred {
        household_id: order.household_id,
        first_period: first.to_string(),
        transfer_id: order.transfer_id,
        origin_region: order.origin_region,
    }))
}

impl Payments {
    /// The households a cycle's freeze held, with the reason.
    pub async fn held(&self, cycle_id: &CycleId) -> Result<Vec<Held>, jigi_server::CommandError> {
        let cycle_id = cycle_id.to_owned();
        Ok(self.db.read(move |conn| holds::cycle_holds(conn, &cycle_id)).await?)
    }

    /// The first quarter this region may pay a household that moved here
    /// (the one after the last its origin paid), if the origin paid it any.
    pub async fn first_payable(&self, household_id: &str) -> Result<Option<String>, StorageError> {
        let household_id = household_id.to_owned();
        self.db
            .read(move |conn| transfers::first_period(conn, &household_id))
            .await
    }

    /// Households held now (open suspicions), for tests and operators.
    pub async fn holds_open(&self) -> Result<i64, StorageError> {
        self.db
            .read(|conn| conn.query_scalar("SELECT COUNT(DISTINCT household_id) FROM linkage_holds", &[]))
            .await
    }
}

/// The region's copy of the index's findings about it, on its leaf node
/// (the same stream the registry reads transfer orders from).
pub fn region_duplicates_stream(region: Region, hub_domain: Option<&str>) -> async_nats::jetstream::stream::Config {
    linkage::region_findings_stream_config(region, hub_domain)
}
