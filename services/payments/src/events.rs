//! The payments service's public events, built from its domain values.
//! They name households by registry ID and agents by code; they carry no
//! name, ID-card or phone number, and no staff user ID.

use jigi_bus::OutgoingEvent;
use jigi_common::date::format_date;
use jigi_common::{Fcfa, Region};
use jigi_proto::common as pc;
use jigi_proto::events as ev;

use crate::domain::model::{Channel, Cycle, Place, Totals};
use crate::domain::results::{Outcome, Report};
use crate::storage::CommuneShare;

/// `PaymentCycleOpened`.
pub fn opened(cycle: &Cycle) -> OutgoingEvent {
    about_cycle(
        cycle,
        &ev::PaymentCycleOpened {
            cycle: Some(reference(cycle)),
            amount_per_household: Some(money(cycle.amount_per_household)),
            communes: cycle.communes.clone(),
            opened_on: format_date(cycle.opened_at.date_naive()),
        },
    )
}

/// `PaymentCycleFrozen`.
pub fn frozen(cycle: &Cycle, communes: &[CommuneShare]) -> OutgoingEvent {
    about_cycle(
        cycle,
        &ev::PaymentCycleFrozen {
            cycle: Some(reference(cycle)),
            totals: Some(totals(cycle.frozen)),
            communes: communes
                .iter()
                .map(|share| ev::CommunePaymentTotals {
                    location: Some(location(&share.place)),
                    totals: Some(totals(share.totals)),
                })
                .collect(),
            frozen_on: cycle
                .frozen_at
                .map(|at| format_date(at.date_naive()))
                .unwrap_or_default(),
        },
    )
}

/// `PaymentCycleApproved`.
pub fn approved(cycle: &Cycle) -> OutgoingEvent {
    about_cycle(
        cycle,
        &ev::PaymentCycleApproved {
            cycle: Some(reference(cycle)),
            control: Some(totals(cycle.control)),
            approved_on: cycle.approved_on().map(format_date).unwrap_or_default(),
        },
    )
}

/// The reconciled totals of a closing cycle.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcomes {
    pub paid: Totals,
    pub failed: Totals,
    pub not_collected: Totals,
    pub outstanding: Totals,
}

/// `PaymentCycleClosed`.
pub fn closed(cycle: &Cycle, outcomes: Outcomes) -> OutgoingEvent {
    about_cycle(
        cycle,
        &ev::PaymentCycleClosed {
            cycle: Some(reference(cycle)),
            control: Some(totals(cycle.control)),
            paid: Some(totals(outcomes.paid)),
            failed: Some(totals(outcomes.failed)),
            not_collected: Some(totals(outcomes.not_collected)),
            outstanding: Some(totals(outcomes.outstanding)),
            closed_on: cycle
                .ended_at
                .map(|at| format_date(at.date_naive()))
                .unwrap_or_default(),
        },
    )
}

/// `PaymentCycleCancelled`.
pub fn cancelled(cycle: &Cycle) -> OutgoingEvent {
    about_cycle(
        cycle,
        &ev::PaymentCycleCancelled {
            cycle: Some(reference(cycle)),
            cancelled_on: cycle
                .ended_at
                .map(|at| format_date(at.date_naive()))
                .unwrap_or_default(),
        },
    )
}

/// `PaymentMade`, `PaymentFailed` or `PaymentNotCollected` for an accepted
/// report. `place` and `due` come from the household's entitlement.
pub fn result(cycle: &Cycle, report: &Report, place: &Place, due: Fcfa, channel: Channel) -> OutgoingEvent {
    let cycle_ref = Some(reference(cycle));
    let household_id = report.household_id.clone();
    let location = Some(location(place));
    let date = format_date(report.date);
    let agent_code = report.agent.as_str().to_owned();
    let channel = channel.wire();
    match &report.outcome {
        Outcome::Paid { amount, .. } => about_household(
            cycle.region,
            report,
            &ev::PaymentMade {
                cycle: cycle_ref,
                household_id,
                location,
                amount: Some(money(*amount)),
                paid_on: date,
                agent_code,
                channel,
            },
        ),
        Outcome::Failed(reason) => about_household(
            cycle.region,
            report,
            &ev::PaymentFailed {
                cycle: cycle_ref,
                household_id,
                location,
                amount: Some(money(due)),
                attempted_on: date,
                agent_code,
                channel,
                reason: reason.wire(),
            },
        ),
        Outcome::NotCollected => about_household(
            cycle.region,
            report,
            &ev::PaymentNotCollected {
                cycle: cycle_ref,
                household_id,
                location,
                amount: Some(money(due)),
                reported_on: date,
                agent_code,
                channel,
            },
        ),
    }
}

fn about_cycle<M: jigi_bus::DomainEvent>(cycle: &Cycle, message: &M) -> OutgoingEvent {
    OutgoingEvent::new(cycle.region, &cycle.cycle_id, message)
}

/// Payment events are about the household: the outbox relay keeps one
/// entity's events in order and publishes different entities' in parallel.
fn about_household<M: jigi_bus::DomainEvent>(region: Region, report: &Report, message: &M) -> OutgoingEvent {
    OutgoingEvent::new(region, &report.household_id, message)
}

fn reference(cycle: &Cycle) -> ev::PaymentCycleRef {
    ev::PaymentCycleRef {
        cycle_id: cycle.cycle_id.clone(),
        region: cycle.region.slug().to_owned(),
        period: Some(pc::Period {
            code: cycle.period.to_string(),
        }),
        funding_source: cycle.funding_source.wire(),
        component: cycle.kind.component().to_proto() as i32,
    }
}

pub fn money(amount: Fcfa) -> pc::Money {
    pc::Money { fcfa: amount.francs() }
}

fn totals(t: Totals) -> ev::PaymentTotals {
    ev::PaymentTotals {
        count: t.count,
        amount: Some(money(t.amount)),
    }
}

pub fn location(place: &Place) -> pc::Location {
    pc::Location {
        region: place.region.clone(),
        cercle: place.cercle.clone(),
        commune: place.commune.clone(),
        village: place.village.clone(),
    }
}

#[cfg(test)]
mod tests {
    use jigi_proto::events::{PaymentChannelKind, PaymentFailureReason, PaymentFundingSource};
    use jigi_proto::payments::{FailureReason, FundingSource, PaymentChannel};

    use crate::domain::model;

    #[test]
    fn api_and_event_enums_share_wire_values() {
        for source in model::FundingSource::ALL {
            let api = FundingSource::try_from(source.wire()).unwrap();
            let event = PaymentFundingSource::try_from(source.wire()).unwrap();
            assert_eq!(
                api.as_str_name().strip_prefix("FUNDING_SOURCE_"),
                event.as_str_name().strip_prefix("PAYMENT_FUNDING_SOURCE_")
            );
        }
        for channel in [model::Channel::Cash, model::Channel::MobileMoney] {
            let api = PaymentChannel::try_from(channel.wire()).unwrap();
            let event = PaymentChannelKind::try_from(channel.wire()).unwrap();
            assert_eq!(
                api.as_str_name().strip_prefix("PAYMENT_CHANNEL_"),
                event.as_str_name().strip_prefix("PAYMENT_CHANNEL_KIND_")
            );
        }
        for reason in model::FailureReason::ALL {
            let api = FailureReason::try_from(reason.wire()).unwrap();
            let event = PaymentFailureReason::try_from(reason.wire()).unwrap();
            assert_eq!(
                api.as_str_name().strip_prefix("FAILURE_REASON_"),
                event.as_str_name().strip_prefix("PAYMENT_FAILURE_REASON_")
            );
            assert_eq!(
                api.as_str_name().to_ascii_lowercase(),
                format!("failure_reason_{}", reason.code())
            );
        }
    }
}
