//! The payments service's public events, built from its domain values.
//! They name households by registry ID and agents by code; they carry no
//! name, ID-card or phone number, and no staff user ID.

use jigi_bus::OutgoingEvent;
use jigi_common::date::format_date;
use jigi_common::{Fcfa, Region};
use jigi_proto::common as pc;
use jigi_proto::events as ev;

use crate::domain::model::{Channel, Cycle, FailureReason, FundingSource, Place, Totals};
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
    let household_id = report.household_id.to_string();
    let location = Some(location(place));
    let date = format_date(report.date);
    let agent_code = report.agent.as_str().to_owned();
    let channel = channel_kind(channel) as i32;
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
                reason: failure_reason(*reason) as i32,
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
        funding_source: funding_source(cycle.funding_source) as i32,
        component: cycle.kind.component().to_proto() as i32,
    }
}

fn funding_source(source: FundingSource) -> ev::PaymentFundingSource {
    match source {
        FundingSource::WorldBankIda => ev::PaymentFundingSource::WorldBankIda,
        FundingSource::Dfid => ev::PaymentFundingSource::Dfid,
        FundingSource::StateBudget => ev::PaymentFundingSource::StateBudget,
    }
}

fn channel_kind(channel: Channel) -> ev::PaymentChannelKind {
    match channel {
        Channel::Cash => ev::PaymentChannelKind::Cash,
        Channel::MobileMoney => ev::PaymentChannelKind::MobileMoney,
    }
}

fn failure_reason(reason: FailureReason) -> ev::PaymentFailureReason {
    match reason {
        FailureReason::IdentityNotVerified => ev::PaymentFailureReason::IdentityNotVerified,
        FailureReason::AccountInvalid => ev::PaymentFailureReason::AccountInvalid,
        FailureReason::AgentOutOfCash => ev::PaymentFailureReason::AgentOutOfCash,
        FailureReason::NetworkFailure => ev::PaymentFailureReason::NetworkFailure,
        FailureReason::BeneficiaryDeceased => ev::PaymentFailureReason::BeneficiaryDeceased,
        FailureReason::SiteInaccessible => ev::PaymentFailureReason::SiteInaccessible,
        FailureReason::Other => ev::PaymentFailureReason::Other,
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
    use super::*;
    use crate::grpc::convert as api;

    /// Partners read the same number for a value in an event as in the API,
    /// and the event's enum names it as the API's does.
    #[test]
    fn events_and_api_give_a_domain_value_the_same_wire_value() {
        for source in FundingSource::ALL {
            let (api, event) = (api::funding_source_to_wire(source), funding_source(source));
            assert_eq!(api as i32, event as i32, "{source:?}");
            assert_eq!(
                api.as_str_name().strip_prefix("FUNDING_SOURCE_"),
                event.as_str_name().strip_prefix("PAYMENT_FUNDING_SOURCE_")
            );
        }
        for channel in Channel::ALL {
            let (api, event) = (api::channel_to_wire(channel), channel_kind(channel));
            assert_eq!(api as i32, event as i32, "{channel:?}");
            assert_eq!(
                api.as_str_name().strip_prefix("PAYMENT_CHANNEL_"),
                event.as_str_name().strip_prefix("PAYMENT_CHANNEL_KIND_")
            );
        }
        for reason in FailureReason::ALL {
            let (api, event) = (api::failure_reason_to_wire(reason), failure_reason(reason));
            assert_eq!(api as i32, event as i32, "{reason:?}");
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
