//! What the index publishes: suspected and resolved duplicates, on the
//! restricted subjects `jigidup.<region>.linkage.duplicate.<action>`, one
//! message for each region concerned. They name households and regions, and
//! which kind of identifier matched; never a key's value.

use jigi_bus::{OutgoingEvent, linkage};
use jigi_proto::linkage as pl;

use crate::domain::Duplicate;
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
