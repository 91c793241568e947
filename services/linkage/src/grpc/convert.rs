//! Wire ↔ domain.

use chrono::{DateTime, Utc};
use jigi_proto::linkage as pl;

use crate::domain::{Duplicate, MatchKind, Resolution, Side};

pub fn duplicate(d: &Duplicate) -> pl::Duplicate {
    let (resolution, kept, resolved_at) = match &d.resolution {
        Some(r) => (
            resolution(r.resolution) as i32,
            r.kept_household_id.clone().unwrap_or_default(),
            Some(timestamp(r.resolved_at)),
        ),
        None => (pl::Resolution::Unspecified as i32, String::new(), None),
    };
    pl::Duplicate {
        duplicate_id: d.duplicate_id.clone(),
        first: Some(side(&d.first)),
        second: Some(side(&d.second)),
        matched: d.matched.iter().map(|m| match_kind(*m) as i32).collect(),
        status: if d.is_open() {
            pl::DuplicateStatus::Open
        } else {
            pl::DuplicateStatus::Resolved
        } as i32,
        suspected_at: Some(timestamp(d.suspected_at)),
        resolution,
        kept_household_id: kept,
        resolved_at,
        possible_double_payments: d
            .double_payments
            .iter()
            .map(|p| pl::PossibleDoublePayment {
                period: p.period.clone(),
                first_payment_id: p.first_payment_id.clone(),
                second_payment_id: p.second_payment_id.clone(),
            })
            .collect(),
    }
}

pub fn resolution(r: Resolution) -> pl::Resolution {
    match r {
        Resolution::SamePerson => pl::Resolution::SamePerson,
        Resolution::Moved => pl::Resolution::Moved,
        Resolution::DifferentPeople => pl::Resolution::DifferentPeople,
    }
}

fn match_kind(m: MatchKind) -> pl::MatchKind {
    match m {
        MatchKind::IdCard => pl::MatchKind::IdCard,
        MatchKind::Head => pl::MatchKind::Head,
    }
}

fn side(s: &Side) -> pl::LinkedHousehold {
    pl::LinkedHousehold {
        household_id: s.household_id.clone(),
        region: s.region.slug().to_owned(),
    }
}

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}
