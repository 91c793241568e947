//! Domain values to the API's messages.

use chrono::{DateTime, NaiveDate, Utc};
use jigi_common::date::format_date;
use jigi_proto::nutrition as pn;

use crate::domain::model::{
    CommuneFigures, Distribution, Group, GroupCounts, Reason, Refusal, Round, RoundReport, RoundStatus, Warehouse,
    kilograms, tonnes,
};
use crate::domain::stock::{Lot, Movement, MovementKind};
use crate::events::location;

pub fn group(group: Group) -> pn::BeneficiaryGroup {
    match group {
        Group::Child => pn::BeneficiaryGroup::Child,
        Group::PregnantWoman => pn::BeneficiaryGroup::PregnantWoman,
        Group::LactatingWoman => pn::BeneficiaryGroup::LactatingWoman,
    }
}

pub fn refusal_reason(reason: Reason) -> pn::RefusalReason {
    use pn::RefusalReason as R;
    match reason {
        Reason::Invalid => R::Invalid,
        Reason::UnknownPerson => R::UnknownPerson,
        Reason::HouseholdMismatch => R::HouseholdMismatch,
        Reason::NotEnrolled => R::NotEnrolled,
        Reason::NotPresent => R::NotPresent,
        Reason::TooYoung => R::TooYoung,
        Reason::AgedOut => R::AgedOut,
        Reason::NotATarget => R::NotATarget,
        Reason::NotInPilotCommune => R::NotInPilotCommune,
        Reason::WrongWarehouse => R::WrongWarehouse,
        Reason::AlreadyReceived => R::AlreadyReceived,
        Reason::InsufficientStock => R::InsufficientStock,
        Reason::OnlyExpiredStock => R::OnlyExpiredStock,
        Reason::OutsideRoundDates => R::OutsideRoundDates,
        Reason::RoundClosed => R::RoundClosed,
    }
}

pub fn quantity(grams: i64) -> pn::Quantity {
    pn::Quantity {
        grams,
        kilograms: kilograms(grams),
        tonnes: tonnes(grams),
    }
}

pub fn round(round: &Round) -> pn::Round {
    pn::Round {
        round_id: round.round_id.clone(),
        region: round.region.slug().to_owned(),
        year: round.year,
        number: round.number,
        starts_on: format_date(round.starts_on),
        ends_on: format_date(round.ends_on),
        communes: round.communes.iter().map(location).collect(),
        rations: Some(pn::Rations {
            child_grams: round.rations.child,
            pregnant_woman_grams: round.rations.pregnant_woman,
            lactating_woman_grams: round.rations.lactating_woman,
        }),
        status: match round.status {
            RoundStatus::Open => pn::RoundStatus::Open,
            RoundStatus::Closed => pn::RoundStatus::Closed,
        } as i32,
        opened_at: Some(timestamp(round.opened_at)),
        closed_on: round.closed_on.map(format_date).unwrap_or_default(),
    }
}

pub fn warehouse(warehouse: &Warehouse) -> pn::Warehouse {
    pn::Warehouse {
        warehouse_id: warehouse.warehouse_id.clone(),
        name: warehouse.name.clone(),
        location: Some(location(&warehouse.location)),
        registered_at: Some(timestamp(warehouse.registered_at)),
    }
}

/// A warehouse's stock, lots judged expired or not on `on`.
pub fn stock(warehouse: &Warehouse, lots: &[Lot], on: NaiveDate) -> pn::WarehouseStock {
    let mut sorted: Vec<&Lot> = lots.iter().filter(|l| l.on_hand > 0).collect();
    sorted.sort_by(|a, b| (a.expires_on, &a.lot_number).cmp(&(b.expires_on, &b.lot_number)));
    let on_hand: i64 = sorted.iter().map(|l| l.on_hand).sum();
    let expired: i64 = sorted.iter().filter(|l| l.expired_on(on)).map(|l| l.on_hand).sum();
    pn::WarehouseStock {
        warehouse: Some(self::warehouse(warehouse)),
        lots: sorted
            .iter()
            .map(|lot| pn::LotStock {
                lot_number: lot.lot_number.clone(),
                expires_on: format_date(lot.expires_on),
                on_hand: Some(quantity(lot.on_hand)),
                expired: lot.expired_on(on),
            })
            .collect(),
        on_hand: Some(quantity(on_hand)),
        usable: Some(quantity(on_hand - expired)),
        expired: Some(quantity(expired)),
    }
}

pub fn movement(movement: &Movement) -> pn::StockMovement {
    pn::StockMovement {
        movement_id: movement.movement_id.clone(),
        warehouse_id: movement.warehouse_id.clone(),
        lot_number: movement.lot_number.clone(),
        kind: match movement.kind {
            MovementKind::Receipt => pn::StockMovementKind::Receipt,
            MovementKind::TransferOut => pn::StockMovementKind::TransferOut,
            MovementKind::TransferIn => pn::StockMovementKind::TransferIn,
            MovementKind::Loss => pn::StockMovementKind::Loss,
            MovementKind::Distribution => pn::StockMovementKind::Distribution,
        } as i32,
        grams: movement.grams,
        occurred_on: format_date(movement.occurred_on),
        reference: movement.reference.clone(),
    }
}

pub fn distribution(distribution: &Distribution) -> pn::Distribution {
    pn::Distribution {
        distribution_id: distribution.distribution_id.clone(),
        round_id: distribution.round_id.clone(),
        warehouse_id: distribution.warehouse_id.clone(),
        household_id: distribution.household_id.clone(),
        member_id: distribution.member_id.clone(),
        group: group(distribution.group) as i32,
        grams: distribution.grams,
        distributed_on: format_date(distribution.distributed_on),
        lots: distribution
            .draws
            .iter()
            .map(|d| pn::LotDraw {
                lot_number: d.lot_number.clone(),
                grams: d.grams,
            })
            .collect(),
        location: Some(location(&distribution.location)),
    }
}

pub fn refusal(refusal: &Refusal) -> pn::Refusal {
    pn::Refusal {
        reason: refusal_reason(refusal.reason) as i32,
        message: refusal.message.clone(),
        field: refusal.field.clone(),
    }
}

pub fn report(report: &RoundReport) -> pn::RoundReport {
    pn::RoundReport {
        round: Some(round(&report.round)),
        planned_on: format_date(report.planned_on),
        communes: report.communes.iter().map(commune_report).collect(),
        total: Some(commune_report(&report.total)),
    }
}

fn commune_report(figures: &CommuneFigures) -> pn::CommuneReport {
    pn::CommuneReport {
        location: Some(location(&figures.location)),
        planned: Some(counts(&figures.planned)),
        reached: Some(counts(&figures.reached)),
        distributed: Some(quantity(figures.distributed_grams)),
        stock_left: Some(quantity(figures.stock_left_grams)),
    }
}

fn counts(counts: &GroupCounts) -> pn::GroupCounts {
    pn::GroupCounts {
        children: counts.children,
        pregnant_women: counts.pregnant_women,
        lactating_women: counts.lactating_women,
        total: counts.total(),
    }
}

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// A batch's answer: each line's outcome under its reference, and the totals.
pub fn batch_answer(outcomes: &[(i64, Result<Distribution, Refusal>)]) -> pn::RecordDistributionBatchResponse {
    let mut answer = pn::RecordDistributionBatchResponse {
        results: Vec::with_capacity(outcomes.len()),
        ..Default::default()
    };
    let mut grams = 0;
    for (line, outcome) in outcomes {
        answer.results.push(match outcome {
            Ok(d) => {
                answer.recorded += 1;
                grams += d.grams;
                pn::DistributionLineResult {
                    line: *line,
                    outcome: pn::DistributionOutcome::Recorded as i32,
                    distribution: Some(distribution(d)),
                    refusal: None,
                }
            }
            Err(r) => {
                answer.refused += 1;
                pn::DistributionLineResult {
                    line: *line,
                    outcome: pn::DistributionOutcome::Refused as i32,
                    distribution: None,
                    refusal: Some(refusal(r)),
                }
            }
        });
    }
    answer.distributed = Some(quantity(grams));
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_are_the_api_names_without_prefix() {
        for reason in Reason::ALL {
            assert_eq!(
                refusal_reason(reason).as_str_name(),
                format!("REFUSAL_REASON_{}", reason.code())
            );
        }
    }
}
