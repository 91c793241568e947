//! Payments made, from the national stream's public `payment.made` events
//! (household and cycle IDs, no personal data): when both households of a
//! duplicate were paid for the same quarter, both payments are named, so one
//! can be recovered. This catches what the freeze hold cannot: a region cut
//! off from the hub that registered and paid before the match was known.

use jigi_bus::{Decoded, EventHandler, ReceivedEvent, Rejection};
use jigi_common::Component;
use jigi_proto::events::PaymentMade;
use jigi_storage::{Conn, StorageError};

use super::index::report_double_payments;
use crate::metrics::LinkageMetrics;
use crate::storage;

/// A payment made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paid {
    pub household_id: String,
    pub cycle_id: String,
    pub period: String,
    pub region: String,
    /// What the cycle paid (TM when the event predates cycle kinds).
    pub component: Component,
}

/// The inbox handler of the national stream's payments.
pub struct PaymentsSeen {
    metrics: LinkageMetrics,
}

impl PaymentsSeen {
    pub fn new(metrics: LinkageMetrics) -> PaymentsSeen {
        PaymentsSeen { metrics }
    }
}

impl EventHandler for PaymentsSeen {
    type Effect = Paid;

    fn decode(&self, event: &ReceivedEvent) -> Result<Option<Paid>, Rejection> {
        if !event.is::<PaymentMade>() {
            return Ok(None);
        }
        let made: PaymentMade = event.decode()?;
        let cycle = made
            .cycle
            .ok_or_else(|| Rejection("payment.made names no cycle".into()))?;
        let period = cycle.period.map(|p| p.code).unwrap_or_default();
        if made.household_id.is_empty() || cycle.cycle_id.is_empty() || period.is_empty() {
            return Err(Rejection("payment.made lacks its household, cycle or quarter".into()));
        }
        let component = Component::from_proto(cycle.component).unwrap_or(Component::Tm);
        Ok(Some(Paid {
            household_id: made.household_id,
            cycle_id: cycle.cycle_id,
            period,
            region: cycle.region,
            component,
        }))
    }

    fn apply(&self, conn: &mut Conn, events: &[Decoded<Paid>]) -> Result<(), StorageError> {
        for event in events {
            let paid = &event.effect;
            storage::record_payment(
                conn,
                &paid.household_id,
                &paid.cycle_id,
                &paid.period,
                &paid.region,
                paid.component,
            )?;
            // A quarter the origin of a move paid after the move was
            // relayed: the destination starts after it.
            if paid.component == Component::Tm {
                super::transfers::origin_paid(conn, &paid.household_id)?;
            }
            for duplicate in storage::duplicates_of(conn, &paid.household_id)? {
                let found = storage::find_double_payments(conn, &duplicate)?;
                report_double_payments(&self.metrics, &duplicate, found);
            }
        }
        Ok(())
    }
}
