//! The nutrition service's public events, built from its domain values.
//! People and households appear by their registry IDs only: nothing here may
//! copy a name, an ID-card number or a phone number into an event.

use chrono::NaiveDate;
use jigi_bus::OutgoingEvent;
use jigi_common::Period;
use jigi_common::date::format_date;
use jigi_proto::common as pc;
use jigi_proto::events as ev;

use crate::domain::model::{CommuneFigures, Distribution, Group, GroupCounts, Location, Round, RoundReport, Warehouse};
use crate::domain::stock::{LossReason, Movement};

/// `RoundOpened`, about the round.
pub fn round_opened(round: &Round) -> OutgoingEvent {
    OutgoingEvent::new(
        round.region,
        &round.round_id,
        &ev::RoundOpened {
            round_id: round.round_id.clone(),
            year: round.year,
            number: round.number,
            starts_on: format_date(round.starts_on),
            ends_on: format_date(round.ends_on),
            communes: round.communes.iter().map(location).collect(),
            rations: Some(ev::RoundRations {
                child_grams: round.rations.child,
                pregnant_woman_grams: round.rations.pregnant_woman,
                lactating_woman_grams: round.rations.lactating_woman,
            }),
        },
    )
}

/// `RoundClosed`, about the round, with its figures at closing.
pub fn round_closed(report: &RoundReport, closed_on: NaiveDate) -> OutgoingEvent {
    let round = &report.round;
    OutgoingEvent::new(
        round.region,
        &round.round_id,
        &ev::RoundClosed {
            round_id: round.round_id.clone(),
            year: round.year,
            number: round.number,
            closed_on: format_date(closed_on),
            period: Some(period(closed_on)),
            communes: report.communes.iter().map(commune_summary).collect(),
        },
    )
}

fn commune_summary(figures: &CommuneFigures) -> ev::RoundCommuneSummary {
    ev::RoundCommuneSummary {
        location: Some(location(&figures.location)),
        planned: Some(counts(&figures.planned)),
        reached: Some(counts(&figures.reached)),
        distributed_grams: figures.distributed_grams,
        stock_on_hand_grams: figures.stock_left_grams,
    }
}

fn counts(counts: &GroupCounts) -> ev::PnpGroupCounts {
    ev::PnpGroupCounts {
        children: counts.children,
        pregnant_women: counts.pregnant_women,
        lactating_women: counts.lactating_women,
    }
}

/// `RationDistributed`, about the distribution.
pub fn ration_distributed(round: &Round, distribution: &Distribution) -> OutgoingEvent {
    OutgoingEvent::new(
        round.region,
        &distribution.distribution_id,
        &ev::RationDistributed {
            distribution_id: distribution.distribution_id.clone(),
            round_id: round.round_id.clone(),
            round_year: round.year,
            round_number: round.number,
            period: Some(period(distribution.distributed_on)),
            location: Some(location(&distribution.location)),
            group: group(distribution.group) as i32,
            grams: distribution.grams,
            distributed_on: format_date(distribution.distributed_on),
            household_id: distribution.household_id.clone(),
            member_id: distribution.member_id.clone(),
            warehouse_id: distribution.warehouse_id.clone(),
            lots: distribution
                .draws
                .iter()
                .map(|d| ev::LotQuantity {
                    lot_number: d.lot_number.clone(),
                    grams: d.grams,
                })
                .collect(),
            stock_on_hand_grams: distribution.stock_after,
        },
    )
}

/// `StockReceived`, about the warehouse.
pub fn stock_received(
    warehouse: &Warehouse,
    movement: &Movement,
    expires_on: NaiveDate,
    stock_on_hand: i64,
) -> OutgoingEvent {
    OutgoingEvent::new(
        warehouse.location.region,
        &warehouse.warehouse_id,
        &ev::StockReceived {
            movement_id: movement.movement_id.clone(),
            warehouse_id: warehouse.warehouse_id.clone(),
            location: Some(location(&warehouse.location)),
            lot_number: movement.lot_number.clone(),
            expires_on: format_date(expires_on),
            grams: movement.grams,
            received_on: format_date(movement.occurred_on),
            period: Some(period(movement.occurred_on)),
            stock_on_hand_grams: stock_on_hand,
        },
    )
}

/// What a transfer moved, for its event.
pub struct Transfer<'a> {
    pub transfer_id: &'a str,
    pub from: &'a Warehouse,
    pub to: &'a Warehouse,
    pub lot_number: &'a str,
    pub expires_on: NaiveDate,
    pub grams: i64,
    pub transferred_on: NaiveDate,
    pub from_on_hand: i64,
    pub to_on_hand: i64,
}

/// `StockTransferred`, about the sending warehouse.
pub fn stock_transferred(transfer: &Transfer<'_>) -> OutgoingEvent {
    OutgoingEvent::new(
        transfer.from.location.region,
        &transfer.from.warehouse_id,
        &ev::StockTransferred {
            transfer_id: transfer.transfer_id.to_owned(),
            from_warehouse_id: transfer.from.warehouse_id.clone(),
            from_location: Some(location(&transfer.from.location)),
            to_warehouse_id: transfer.to.warehouse_id.clone(),
            to_location: Some(location(&transfer.to.location)),
            lot_number: transfer.lot_number.to_owned(),
            expires_on: format_date(transfer.expires_on),
            grams: transfer.grams,
            transferred_on: format_date(transfer.transferred_on),
            period: Some(period(transfer.transferred_on)),
            from_stock_on_hand_grams: transfer.from_on_hand,
            to_stock_on_hand_grams: transfer.to_on_hand,
        },
    )
}

/// `StockLost`, about the warehouse.
pub fn stock_lost(warehouse: &Warehouse, movement: &Movement, reason: LossReason, stock_on_hand: i64) -> OutgoingEvent {
    OutgoingEvent::new(
        warehouse.location.region,
        &warehouse.warehouse_id,
        &ev::StockLost {
            movement_id: movement.movement_id.clone(),
            warehouse_id: warehouse.warehouse_id.clone(),
            location: Some(location(&warehouse.location)),
            lot_number: movement.lot_number.clone(),
            grams: -movement.grams,
            reason: loss_reason(reason) as i32,
            occurred_on: format_date(movement.occurred_on),
            period: Some(period(movement.occurred_on)),
            stock_on_hand_grams: stock_on_hand,
        },
    )
}

pub fn location(location: &Location) -> pc::Location {
    pc::Location {
        region: location.region.slug().to_owned(),
        cercle: location.cercle.clone(),
        commune: location.commune.clone(),
        village: location.village.clone(),
    }
}

/// The group as the events name it.
fn group(group: Group) -> ev::BeneficiaryGroup {
    match group {
        Group::Child => ev::BeneficiaryGroup::Child,
        Group::PregnantWoman => ev::BeneficiaryGroup::PregnantWoman,
        Group::LactatingWoman => ev::BeneficiaryGroup::LactatingWoman,
    }
}

fn loss_reason(reason: LossReason) -> ev::StockLossReason {
    match reason {
        LossReason::Damaged => ev::StockLossReason::Damaged,
        LossReason::Expired => ev::StockLossReason::Expired,
        LossReason::Spoiled => ev::StockLossReason::Spoiled,
        LossReason::Theft => ev::StockLossReason::Theft,
        LossReason::Other => ev::StockLossReason::Other,
    }
}

/// The quarter a date falls in, e.g. `2018Q4`.
fn period(date: NaiveDate) -> pc::Period {
    pc::Period {
        code: Period::quarter_of(date).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::{convert, parse};

    /// A subscriber reading a group or a loss reason from an event and a
    /// client reading it from the API see the same wire value.
    #[test]
    fn api_and_event_enums_share_wire_values() {
        for g in Group::ALL {
            assert_eq!(group(g) as i32, convert::group(g) as i32, "{g:?}");
        }
        for reason in LossReason::ALL {
            assert_eq!(parse::loss_reason(loss_reason(reason) as i32), Some(reason));
        }
    }
}
