//! Moves between regions, relayed: an origin's registry reports a
//! household that moved (`household.transferred`, on its restricted
//! stream); the index records it and, once it knows which household the
//! destination registered (named by the origin, or by a registrar's move
//! resolution of their duplicate), sends the destination an order to
//! continue its enrolments, with the last TM quarter the origin paid (from
//! the payments it has seen). Each step is in the transaction of what
//! caused it, with its order in the outbox.
//!
//! A payment the origin makes after the order (a cycle frozen before the
//! move, paid after) sends the order again with the later quarter, so the
//! destination starts after it; a quarter both regions paid anyway is named
//! as a possible double payment of the pair (`storage::find_double_payments`).

use jigi_bus::inbox::{Decoded, EventHandler, Rejection};
use jigi_bus::{ReceivedEvent, linkage, outbox};
use jigi_common::Period;
use jigi_proto::linkage as pl;
use jigi_storage::{Conn, StorageError};
use prost::Message as _;

use crate::domain::Duplicate;
use crate::domain::transfer::{self, ReportedEnrolment, Transfer};
use crate::events;
use crate::metrics::LinkageMetrics;
use crate::storage::{self, transfers};

/// The durable consumer's name.
pub const CONSUMER: &str = "linkage-transfers";

/// The inbox handler of the moves in `JIGI_LINKAGE`.
pub struct TransfersSeen {
    metrics: LinkageMetrics,
}

impl TransfersSeen {
    pub fn new(metrics: LinkageMetrics) -> TransfersSeen {
        TransfersSeen { metrics }
    }
}

impl EventHandler for TransfersSeen {
    type Effect = Transfer;

    fn decode(&self, event: &ReceivedEvent) -> Result<Option<Transfer>, Rejection> {
        if event.ce_type != linkage::HOUSEHOLD_TRANSFERRED.ce_type() {
            return Ok(None);
        }
        let message = pl::HouseholdTransferred::decode(event.data.clone())
            .map_err(|err| Rejection(format!("HouseholdTransferred does not decode: {err}")))?;
        // The origin is the subject's region, which only that region's leaf
        // may publish: a region cannot move another's households.
        let origin = event.subject.split('.').nth(1).and_then(|slug| slug.parse().ok());
        let enrolments = message.enrolments.into_iter().map(|e| ReportedEnrolment {
            component: e.component,
            enrolled_on: e.enrolled_on,
            committee_decision: e.committee_decision,
            committee_override: e.committee_override,
        });
        transfer::check_transfer(
            origin,
            &message.household_id,
            &message.destination_region,
            &message.destination_household_id,
            &message.transferred_on,
            enrolments,
        )
        .map(Some)
        .map_err(|err| Rejection(err.to_string()))
    }

    fn apply(&self, conn: &mut Conn, events: &[Decoded<Transfer>]) -> Result<(), StorageError> {
        for event in events {
            let mut transfer = event.effect.clone();
            if transfer.destination_household_id.is_none() {
                // A registrar may have resolved their duplicate as a move already.
                transfer.destination_household_id = storage::duplicates_of(conn, &transfer.origin_household_id)?
                    .iter()
                    .find_map(|duplicate| transfer::destination_named_by(duplicate, &transfer));
            }
            if !transfers::insert(conn, &transfer)? {
                continue;
            }
            self.metrics.transfers.inc();
            match &transfer.destination_household_id {
                Some(destination) => order(conn, &transfer, destination)?,
                None => tracing::info!(
                    transfer_id = %transfer.transfer_id,
                    destination = transfer.destination.slug(),
                    "move recorded; its order waits until a registrar names the household in the destination"
                ),
            }
        }
        Ok(())
    }
}

/// Sends the destination its order (in the outbox of this transaction) and
/// records it.
fn order(conn: &mut Conn, transfer: &Transfer, destination_household: &str) -> Result<(), StorageError> {
    let paid = transfers::periods_paid(conn, &transfer.origin_household_id)?;
    let last = transfer::last_period(&paid).map(|p| p.to_string());
    outbox::add(
        conn,
        &[events::transfer_ordered(
            transfer,
            destination_household,
            last.as_deref(),
        )],
    )?;
    transfers::mark_ordered(conn, &transfer.transfer_id, destination_household, last.as_deref())?;
    tracing::info!(
        transfer_id = %transfer.transfer_id,
        destination = transfer.destination.slug(),
        last_period_paid = last.as_deref().unwrap_or(""),
        "transfer ordered to the destination"
    );
    Ok(())
}

/// A duplicate just resolved as a move names the destination household of
/// a move waiting for it: its order goes now.
pub fn on_resolved(conn: &mut Conn, duplicate: &Duplicate) -> Result<(), StorageError> {
    for household in [&duplicate.first.household_id, &duplicate.second.household_id] {
        for stored in transfers::of_origin_household(conn, household)? {
            if stored.ordered {
                continue;
            }
            if let Some(destination) = transfer::destination_named_by(duplicate, &stored.transfer) {
                order(conn, &stored.transfer, &destination)?;
            }
        }
    }
    Ok(())
}

/// The origin of a move paid a TM quarter later than the one its order
/// named: the order goes again with it (the destination keeps the latest).
pub fn origin_paid(conn: &mut Conn, household_id: &str) -> Result<(), StorageError> {
    for stored in transfers::of_origin_household(conn, household_id)? {
        let (true, Some(destination)) = (stored.ordered, stored.transfer.destination_household_id.as_deref()) else {
            continue;
        };
        let paid = transfers::periods_paid(conn, household_id)?;
        let ordered = stored
            .last_period_paid
            .as_deref()
            .and_then(|p| p.parse::<Period>().ok());
        let later = match (transfer::last_period(&paid), ordered) {
            (Some(now), Some(before)) => now.start() > before.start(),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if later {
            tracing::warn!(
                transfer_id = %stored.transfer.transfer_id,
                "the origin paid a moved household after its order: ordering again with the later quarter"
            );
            order(conn, &stored.transfer, destination)?;
        }
    }
    Ok(())
}
