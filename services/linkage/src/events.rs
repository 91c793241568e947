//! What the index publishes: suspected and resolved duplicates, on the
//! restricted subjects `jigidup.<region>.linkage.duplicate.<action>`, one
//! message for each region concerned. They name households and regions, and
//! which kind of identifier matched; never a key's value. And the orders
//! to a destination region to continue a moved household's enrolments
//! (`jigidup.<destination>.linkage.transfer.ordered`): IDs, dates,
//! committee references and quarters.

use jigi_bus::{OutgoingEvent, linkage};
use jigi_proto::linkage as pl;

use jigi_common::Component;
use jigi_common::date::format_date;

use crate::domain::Duplicate;
use crate::domain::transfer::Transfer;
use crate::grpc::convert;

/// `DuplicateSuspected`, for each region concerned.
pub fn suspected(duplicate: &Duplicate) -> Vec<OutgoingEvent> {
    let message = pl::DuplicateSuspected {
        duplicate: Some(convert::duplicate(duplicate)),
    };
    duplicate
        .regions()
        .into_iter()
        .map(|region| linkage::DUPLICATE_SUSPECTED.event(region, &duplicate.duplicate_id, &message))
        .collect()
}

/// `DuplicateResolved`, for each region concerned.
pub fn resolved(duplicate: &Duplicate) -> Vec<OutgoingEvent> {
    let message = pl::DuplicateResolved {
        duplicate: Some(convert::duplicate(duplicate)),
    };
    duplicate
        .regions()
        .into_iter()
        .map(|region| linkage::DUPLICATE_RESOLVED.event(region, &duplicate.duplicate_id, &message))
        .collect()
}

/// `TransferOrdered`, to the destination region only: the household there
/// continues the moved household's enrolments; for TM, from the quarter
/// after `last_period_paid`.
pub fn transfer_ordered(
    transfer: &Transfer,
    destination_household: &str,
    last_period_paid: Option<&str>,
) -> OutgoingEvent {
    let tm = Component::Tm;
    let message = pl::TransferOrdered {
        transfer_id: transfer.transfer_id.clone(),
        origin_region: transfer.origin.slug().to_owned(),
        origin_household_id: transfer.origin_household_id.clone(),
        household_id: destination_household.to_owned(),
        transferred_on: format_date(transfer.transferred_on),
        enrolments: transfer
            .enrolments
            .iter()
            .map(|e| pl::TransferredEnrolment {
                component: e.component.to_proto() as i32,
                enrolled_on: format_date(e.enrolled_on),
                committee_decision: e.committee_decision.clone(),
                committee_override: e.committee_override,
                last_period_paid: if e.component == tm {
                    last_period_paid.unwrap_or_default().to_owned()
                } else {
                    String::new()
                },
            })
            .collect(),
    };
    linkage::TRANSFER_ORDERED.event(transfer.destination, destination_household, &message)
}
