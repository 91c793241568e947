//! Moves between regions.
//!
//! - Origin: [`Registry::transfer`](super::Registry::transfer) ends the
//!   household's enrolments and, in the same transaction, reports the move
//!   to the national linkage index on the restricted subject
//!   `jigilink.<region>.registry.household.transferred` (IDs, dates and
//!   committee references; nothing personal).
//! - Destination: [`TransferOrders`] applies the index's orders
//!   (`jigidup.<region>.linkage.transfer.ordered`) through the inbox: the
//!   household named continues each enrolment, with the origin's committee
//!   decision in its history, its `household.enrolled` event published
//!   as for any enrolment, and an audit entry naming the index's order. The region's payments service reads the same
//!   order for the first quarter it may pay.
//!
//! An order is applied once: the inbox drops a redelivered message, and
//! `transfers_received` a repeated order (the index sends it again when
//! the origin paid a later quarter).

use chrono::NaiveDate;
use jigi_bus::inbox::{Decoded, EventHandler, EventMeta, Rejection};
use jigi_bus::{OutgoingEvent, ReceivedEvent, linkage, outbox};
use jigi_common::{Component, Region};
use jigi_proto::linkage as pl;
use jigi_server::CommandError;
use jigi_storage::{Conn, StorageError};
use prost::Message as _;

use super::Registry;
use crate::domain::model::Household;
use crate::domain::transfer::{self, CarriedEnrolment, Continued};
use crate::{events, storage};

impl Registry {
    /// The move of `household` (its enrolments not yet ended) as the
    /// restricted message the index reads.
    pub(super) fn transferred_event(
        &self,
        conn: &mut Conn,
        household: &Household,
        destination: Region,
        destination_household_id: &str,
        on: NaiveDate,
    ) -> Result<OutgoingEvent, StorageError> {
        let history = storage::history(conn, &household.household_id)?;
        let message = pl::HouseholdTransferred {
            household_id: household.household_id.clone(),
            destination_region: destination.slug().to_owned(),
            destination_household_id: destination_household_id.to_owned(),
            transferred_on: jigi_common::date::format_date(on),
            enrolments: transfer::carried(household, &history)
                .into_iter()
                .map(|c| pl::TransferredEnrolment {
                    component: c.component.to_proto() as i32,
                    enrolled_on: jigi_common::date::format_date(c.enrolled_on),
                    committee_decision: c.committee_decision,
                    committee_override: c.committee_override,
                    last_period_paid: String::new(),
                })
                .collect(),
        };
        Ok(linkage::HOUSEHOLD_TRANSFERRED.event(self.region, &household.household_id, &message))
    }

    /// Applies one transfer order in its own savepoint: a household that
    /// cannot continue (unknown here) is recorded as such and logged, and
    /// the batch goes on.
    fn continue_moved(&self, conn: &mut Conn, order: &Order, meta: &EventMeta) -> Result<(), StorageError> {
        if storage::transfers::received(conn, &order.transfer_id)? {
            return Ok(());
        }
        let outcome = match conn.isolated(|conn| self.continue_in(conn, order)) {
            Ok(outcome) => outcome,
            Err(CommandError::Storage(err)) => return Err(err),
            Err(refused) => {
                tracing::warn!(
                    transfer_id = %order.transfer_id,
                    household_id = %order.household_id,
                    error = %refused,
                    "a transfer order cannot be applied"
                );
                format!("refused: {refused}")
            }
        };
        storage::transfers::record_received(
            conn,
            &order.transfer_id,
            order.origin.slug(),
            &order.origin_household_id,
            &order.household_id,
            &outcome,
        )?;
        // No call made this change: the audit log names the index's order
        // (its message type and ID) as what made it, in its transaction.
        jigi_audit::append_in(
            conn,
            jigi_audit::Record {
                recorded_at: jigi_storage::timestamp::now_utc(),
                subject: "linkage".into(),
                roles: String::new(),
                scope: "national".into(),
                service_area: self.region.slug().into(),
                method: meta.ce_type.clone(),
                request_id: meta.id.clone(),
                trace_id: String::new(),
                outcome: if outcome.starts_with("refused") {
                    "FAILED_PRECONDITION".into()
                } else {
                    "OK".into()
                },
            },
        )?;
        Ok(())
    }

    fn continue_in(&self, conn: &mut Conn, order: &Order) -> Result<String, CommandError> {
        let mut household = self.load_for_change(conn, &order.household_id)?;
        let mut done = Vec::new();
        for carried in &order.enrolments {
            match transfer::continue_enrolment(&household, carried.component, order.transferred_on) {
                Continued::Enrolled(enrolment) => {
                    let note = transfer::continued_note(order.origin, &order.origin_household_id, carried);
                    self.apply_enrolment(conn, &mut household, &enrolment, &note)?;
                    let by_committee = carried.committee_override || !household.pmt.eligible;
                    outbox::add(conn, &[events::enrolled(&household, &enrolment, by_committee)])?;
                    done.push(format!("{} enrolled", carried.component.code()));
                }
                Continued::AlreadyEnrolled(since) => {
                    done.push(format!("{} already enrolled since {since}", carried.component.code()));
                }
            }
        }
        tracing::info!(
            transfer_id = %order.transfer_id,
            household_id = %order.household_id,
            origin = order.origin.slug(),
            "a household that moved here continues its enrolments"
        );
        Ok(done.join(", "))
    }
}

/// A transfer order, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub transfer_id: String,
    pub origin: Region,
    pub origin_household_id: String,
    pub household_id: String,
    pub transferred_on: NaiveDate,
    pub enrolments: Vec<CarriedEnrolment>,
}

/// The inbox handler of the region's transfer orders.
pub struct TransferOrders {
    registry: Registry,
}

impl TransferOrders {
    pub fn new(registry: Registry) -> TransferOrders {
        TransferOrders { registry }
    }
}

impl EventHandler for TransferOrders {
    type Effect = Order;

    fn decode(&self, event: &ReceivedEvent) -> Result<Option<Order>, Rejection> {
        if event.ce_type != linkage::TRANSFER_ORDERED.ce_type() {
            return Ok(None);
        }
        // Only this region's orders (the stream holds no other; a copy
        // misrouted by hand is refused, not applied).
        if event.subject != linkage::TRANSFER_ORDERED.subject(self.registry.region) {
            return Err(Rejection(format!("{} is not an order to this region", event.subject)));
        }
        let message = pl::TransferOrdered::decode(event.data.clone())
            .map_err(|err| Rejection(format!("TransferOrdered does not decode: {err}")))?;
        let bad = |what: &str| Rejection(format!("transfer order {:?}: {what}", message.transfer_id));
        if message.transfer_id.is_empty() {
            return Err(bad("names no transfer"));
        }
        if uuid::Uuid::parse_str(&message.household_id).is_err() {
            return Err(bad("household_id is not a registry ID"));
        }
        let origin: Region = message
            .origin_region
            .parse()
            .map_err(|_| bad("origin_region is not a region slug"))?;
        let date = |text: &str, field: &str| {
            jigi_common::date::parse_date(text).ok_or_else(|| bad(&format!("{field} is not a date")))
        };
        let transferred_on = date(&message.transferred_on, "transferred_on")?;
        let enrolments = message
            .enrolments
            .iter()
            .map(|e| {
                Ok(CarriedEnrolment {
                    component: Component::from_proto(e.component).ok_or_else(|| bad("a component is unknown"))?,
                    enrolled_on: date(&e.enrolled_on, "enrolled_on")?,
                    committee_decision: e.committee_decision.trim().to_owned(),
                    committee_override: e.committee_override,
                })
            })
            .collect::<Result<Vec<_>, Rejection>>()?;
        Ok(Some(Order {
            transfer_id: message.transfer_id,
            origin,
            origin_household_id: message.origin_household_id,
            household_id: message.household_id,
            transferred_on,
            enrolments,
        }))
    }

    fn apply(&self, conn: &mut Conn, events: &[Decoded<Order>]) -> Result<(), StorageError> {
        for event in events {
            self.registry.continue_moved(conn, &event.effect, &event.meta)?;
        }
        Ok(())
    }
}
