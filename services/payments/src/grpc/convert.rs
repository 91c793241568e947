//! Domain values to the API's messages, and the API's enums to the
//! domain's (reading results is [`super::parse`]).

use chrono::{DateTime, Utc};
use jigi_proto::common as pc;
use jigi_proto::payments as pp;

use crate::app::{ResultRecorded, ResultsRecorded};
use crate::domain::model::{
    Channel, Cycle, CycleKind, CycleStatus, EntitlementStatus, FailureReason, FundingSource, Totals,
};
use crate::domain::projection::Tracked;
use crate::domain::reconcile::{Line, Reconciliation};
use crate::domain::results::{RefusalKind, ResultRefusal};
use crate::events::{location, money};
use crate::storage::{CommuneShare, EntitlementRow};

pub fn cycle(c: &Cycle) -> pp::PaymentCycle {
    pp::PaymentCycle {
        cycle_id: c.cycle_id.clone(),
        region: c.region.slug().to_owned(),
        period: Some(pc::Period {
            code: c.period.to_string(),
        }),
        funding_source: funding_source_to_wire(c.funding_source) as i32,
        amount_per_household: Some(money(c.amount_per_household)),
        kind: cycle_kind_to_wire(c.kind) as i32,
        communes: c.communes.clone(),
        status: status(c.status) as i32,
        frozen: Some(totals(c.frozen)),
        control: Some(totals(c.control)),
        paid: Some(totals(c.paid)),
        prepared_by: c.prepared_by.clone(),
        frozen_by: c.frozen_by.clone().unwrap_or_default(),
        approved_by: c.approved_by.clone().unwrap_or_default(),
        ended_by: c.ended_by.clone().unwrap_or_default(),
        cancel_reason: c.cancel_reason.clone().unwrap_or_default(),
        agents: c
            .agents
            .iter()
            .map(|a| pp::AgentAssignment {
                commune: a.commune.clone(),
                agent_code: a.agent.as_str().to_owned(),
                channel: channel_to_wire(a.channel) as i32,
            })
            .collect(),
        opened_at: Some(timestamp(c.opened_at)),
        frozen_at: c.frozen_at.map(timestamp),
        approved_at: c.approved_at.map(timestamp),
        ended_at: c.ended_at.map(timestamp),
    }
}

pub fn status(status: CycleStatus) -> pp::CycleStatus {
    match status {
        CycleStatus::Draft => pp::CycleStatus::Draft,
        CycleStatus::Frozen => pp::CycleStatus::Frozen,
        CycleStatus::Approved => pp::CycleStatus::Approved,
        CycleStatus::Disbursing => pp::CycleStatus::Disbursing,
        CycleStatus::Closed => pp::CycleStatus::Closed,
        CycleStatus::Cancelled => pp::CycleStatus::Cancelled,
    }
}

pub fn totals(t: Totals) -> pp::Totals {
    pp::Totals {
        count: t.count,
        amount: Some(money(t.amount)),
    }
}

pub fn commune_totals(share: &CommuneShare) -> pp::CommuneTotals {
    pp::CommuneTotals {
        location: Some(location(&share.place)),
        totals: Some(totals(share.totals)),
    }
}

pub fn entitlement(cycle: &Cycle, row: &EntitlementRow) -> pp::Entitlement {
    let agent = cycle.agent_of(&row.place.commune);
    pp::Entitlement {
        cycle_id: cycle.cycle_id.clone(),
        household_id: row.household_id.clone(),
        location: Some(location(&row.place)),
        amount: Some(money(row.amount)),
        status: entitlement_status_to_wire(row.status) as i32,
        agent_code: agent.map(|a| a.agent.as_str().to_owned()).unwrap_or_default(),
        channel: agent.map(|a| channel_to_wire(a.channel) as i32).unwrap_or_default(),
        result_date: row.result_date.clone().unwrap_or_default(),
        receipt_reference: row.receipt_reference.clone().unwrap_or_default(),
        failure_reason: row
            .failure_reason
            .map(|r| failure_reason_to_wire(r) as i32)
            .unwrap_or_default(),
    }
}

pub fn reconciliation(r: &Reconciliation) -> pp::Reconciliation {
    pp::Reconciliation {
        cycle_id: r.cycle_id.clone(),
        status: status(r.status) as i32,
        total: Some(line(&r.total)),
        by_commune: r.by_commune.iter().map(line).collect(),
        by_agent: r.by_agent.iter().map(line).collect(),
        control: Some(totals(r.control)),
    }
}

fn line(l: &Line) -> pp::ReconciliationLine {
    pp::ReconciliationLine {
        location: l.place.as_ref().map(location),
        agent_code: l.agent.as_ref().map(|(a, _)| a.as_str().to_owned()).unwrap_or_default(),
        channel: l
            .agent
            .as_ref()
            .map(|(_, c)| channel_to_wire(*c) as i32)
            .unwrap_or_default(),
        expected: Some(totals(l.expected)),
        paid: Some(totals(l.paid)),
        failed: Some(totals(l.failed)),
        not_collected: Some(totals(l.not_collected)),
        outstanding: Some(totals(l.outstanding)),
    }
}

pub fn eligible(t: &Tracked) -> pp::EligibleHousehold {
    pp::EligibleHousehold {
        household_id: t.household_id.clone(),
        location: Some(location(&t.place)),
        enrolled_on: t.enrolled_on.clone(),
    }
}

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

pub fn held(held: &crate::storage::holds::Held) -> pp::HeldHousehold {
    pp::HeldHousehold {
        household_id: held.household_id.clone(),
        duplicate_id: held.duplicate_id.clone(),
        reason: held.reason.clone(),
    }
}

/// A cycle status to filter on; unset (0) is every status.
pub fn cycle_status_from_wire(value: i32) -> Result<Option<CycleStatus>, String> {
    Ok(Some(match pp::CycleStatus::try_from(value) {
        Ok(pp::CycleStatus::Unspecified) => return Ok(None),
        Ok(pp::CycleStatus::Draft) => CycleStatus::Draft,
        Ok(pp::CycleStatus::Frozen) => CycleStatus::Frozen,
        Ok(pp::CycleStatus::Approved) => CycleStatus::Approved,
        Ok(pp::CycleStatus::Disbursing) => CycleStatus::Disbursing,
        Ok(pp::CycleStatus::Closed) => CycleStatus::Closed,
        Ok(pp::CycleStatus::Cancelled) => CycleStatus::Cancelled,
        Err(_) => return Err("is not a cycle status".into()),
    }))
}

/// A cycle's kind; unset (0) is TM, as before kinds existed.
pub fn cycle_kind_from_wire(value: i32) -> Result<CycleKind, String> {
    match pp::CycleKind::try_from(value) {
        Ok(pp::CycleKind::Unspecified | pp::CycleKind::Tm) => Ok(CycleKind::Tm),
        Ok(pp::CycleKind::AgrGrant) => Ok(CycleKind::AgrGrant),
        Ok(pp::CycleKind::HimoWages) => Ok(CycleKind::HimoWages),
        Err(_) => Err("is not a CycleKind value".into()),
    }
}

pub fn cycle_kind_to_wire(kind: CycleKind) -> pp::CycleKind {
    match kind {
        CycleKind::Tm => pp::CycleKind::Tm,
        CycleKind::AgrGrant => pp::CycleKind::AgrGrant,
        CycleKind::HimoWages => pp::CycleKind::HimoWages,
    }
}

/// A funding source, which must be given.
pub fn funding_source_from_wire(value: i32) -> Result<FundingSource, String> {
    match pp::FundingSource::try_from(value) {
        Ok(pp::FundingSource::Unspecified) => Err("is required".into()),
        Ok(pp::FundingSource::WorldBankIda) => Ok(FundingSource::WorldBankIda),
        Ok(pp::FundingSource::Dfid) => Ok(FundingSource::Dfid),
        Ok(pp::FundingSource::StateBudget) => Ok(FundingSource::StateBudget),
        Err(_) => Err(format!("has unknown value {value}")),
    }
}

pub fn funding_source_to_wire(source: FundingSource) -> pp::FundingSource {
    match source {
        FundingSource::WorldBankIda => pp::FundingSource::WorldBankIda,
        FundingSource::Dfid => pp::FundingSource::Dfid,
        FundingSource::StateBudget => pp::FundingSource::StateBudget,
    }
}

/// How an agent pays, which must be given.
pub fn channel_from_wire(value: i32) -> Result<Channel, String> {
    match pp::PaymentChannel::try_from(value) {
        Ok(pp::PaymentChannel::Unspecified) => Err("is required (CASH or MOBILE_MONEY)".into()),
        Ok(pp::PaymentChannel::Cash) => Ok(Channel::Cash),
        Ok(pp::PaymentChannel::MobileMoney) => Ok(Channel::MobileMoney),
        Err(_) => Err(format!("has unknown value {value}")),
    }
}

pub fn channel_to_wire(channel: Channel) -> pp::PaymentChannel {
    match channel {
        Channel::Cash => pp::PaymentChannel::Cash,
        Channel::MobileMoney => pp::PaymentChannel::MobileMoney,
    }
}

/// An entitlement status to filter on; unset (0) is every status.
pub fn entitlement_status_from_wire(value: i32) -> Result<Option<EntitlementStatus>, String> {
    match pp::EntitlementStatus::try_from(value) {
        Ok(pp::EntitlementStatus::Unspecified) => Ok(None),
        Ok(pp::EntitlementStatus::Pending) => Ok(Some(EntitlementStatus::Pending)),
        Ok(pp::EntitlementStatus::Paid) => Ok(Some(EntitlementStatus::Paid)),
        Ok(pp::EntitlementStatus::Failed) => Ok(Some(EntitlementStatus::Failed)),
        Ok(pp::EntitlementStatus::NotCollected) => Ok(Some(EntitlementStatus::NotCollected)),
        Err(_) => Err("is not an entitlement status".into()),
    }
}

pub fn entitlement_status_to_wire(status: EntitlementStatus) -> pp::EntitlementStatus {
    match status {
        EntitlementStatus::Pending => pp::EntitlementStatus::Pending,
        EntitlementStatus::Paid => pp::EntitlementStatus::Paid,
        EntitlementStatus::Failed => pp::EntitlementStatus::Failed,
        EntitlementStatus::NotCollected => pp::EntitlementStatus::NotCollected,
    }
}

/// Why a payment failed; `None` for unset (0) and values this build does not know.
pub fn failure_reason_from_wire(value: i32) -> Option<FailureReason> {
    Some(match pp::FailureReason::try_from(value).ok()? {
        pp::FailureReason::Unspecified => return None,
        pp::FailureReason::IdentityNotVerified => FailureReason::IdentityNotVerified,
        pp::FailureReason::AccountInvalid => FailureReason::AccountInvalid,
        pp::FailureReason::AgentOutOfCash => FailureReason::AgentOutOfCash,
        pp::FailureReason::NetworkFailure => FailureReason::NetworkFailure,
        pp::FailureReason::BeneficiaryDeceased => FailureReason::BeneficiaryDeceased,
        pp::FailureReason::SiteInaccessible => FailureReason::SiteInaccessible,
        pp::FailureReason::Other => FailureReason::Other,
    })
}

pub fn failure_reason_to_wire(reason: FailureReason) -> pp::FailureReason {
    match reason {
        FailureReason::IdentityNotVerified => pp::FailureReason::IdentityNotVerified,
        FailureReason::AccountInvalid => pp::FailureReason::AccountInvalid,
        FailureReason::AgentOutOfCash => pp::FailureReason::AgentOutOfCash,
        FailureReason::NetworkFailure => pp::FailureReason::NetworkFailure,
        FailureReason::BeneficiaryDeceased => pp::FailureReason::BeneficiaryDeceased,
        FailureReason::SiteInaccessible => pp::FailureReason::SiteInaccessible,
        FailureReason::Other => pp::FailureReason::Other,
    }
}

/// The answer to `RecordPaymentResults`.
pub fn results_recorded(recorded: &ResultsRecorded) -> pp::RecordPaymentResultsResponse {
    let mut response = pp::RecordPaymentResultsResponse {
        paid: Some(totals(recorded.paid)),
        ..Default::default()
    };
    for (index, (household_id, decision)) in recorded.decisions.iter().enumerate() {
        match decision {
            Ok(()) => response.accepted += 1,
            Err(_) => response.refused += 1,
        }
        response.outcomes.push(outcome(index, household_id, decision.clone()));
    }
    response
}

/// The answer to `RecordPaymentResult`.
pub fn result_recorded(recorded: &ResultRecorded) -> pp::RecordPaymentResultResponse {
    pp::RecordPaymentResultResponse {
        outcome: Some(outcome(0, &recorded.household_id, Ok(()))),
        paid: Some(totals(recorded.paid)),
    }
}

pub fn outcome(index: usize, household_id: &str, decision: Result<(), ResultRefusal>) -> pp::ResultOutcome {
    match decision {
        Ok(()) => pp::ResultOutcome {
            index: index as i32,
            household_id: household_id.to_owned(),
            accepted: true,
            ..Default::default()
        },
        Err(refusal) => pp::ResultOutcome {
            index: index as i32,
            household_id: household_id.to_owned(),
            accepted: false,
            refusal: refusal_to_wire(refusal.kind) as i32,
            field: refusal.field,
            message: refusal.message,
        },
    }
}

/// The API's `ResultRefusal` for a refusal (the answer is stored as the
/// API's message, so a replay answers exactly as the first time).
fn refusal_to_wire(kind: RefusalKind) -> pp::ResultRefusal {
    match kind {
        RefusalKind::Invalid => pp::ResultRefusal::Invalid,
        RefusalKind::NotEntitled => pp::ResultRefusal::NotEntitled,
        RefusalKind::AlreadyPaid => pp::ResultRefusal::AlreadyPaid,
        RefusalKind::RepeatedInRequest => pp::ResultRefusal::RepeatedInRequest,
        RefusalKind::AmountMismatch => pp::ResultRefusal::AmountMismatch,
        RefusalKind::WrongAgent => pp::ResultRefusal::WrongAgent,
        RefusalKind::ReceiptReused => pp::ResultRefusal::ReceiptReused,
        RefusalKind::ControlTotalExceeded => pp::ResultRefusal::ControlTotalExceeded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_domain_value_goes_to_the_wire_and_back() {
        for kind in CycleKind::ALL {
            assert_eq!(cycle_kind_from_wire(cycle_kind_to_wire(kind) as i32), Ok(kind));
        }
        for status in CycleStatus::ALL {
            assert_eq!(cycle_status_from_wire(super::status(status) as i32), Ok(Some(status)));
        }
        for source in FundingSource::ALL {
            assert_eq!(
                funding_source_from_wire(funding_source_to_wire(source) as i32),
                Ok(source)
            );
        }
        for channel in Channel::ALL {
            assert_eq!(channel_from_wire(channel_to_wire(channel) as i32), Ok(channel));
        }
        for status in EntitlementStatus::ALL {
            assert_eq!(
                entitlement_status_from_wire(entitlement_status_to_wire(status) as i32),
                Ok(Some(status))
            );
        }
        for reason in FailureReason::ALL {
            assert_eq!(
                failure_reason_from_wire(failure_reason_to_wire(reason) as i32),
                Some(reason)
            );
        }
    }

    #[test]
    fn unset_and_unknown_wire_values() {
        assert_eq!(
            cycle_kind_from_wire(0),
            Ok(CycleKind::Tm),
            "unset is TM, as before kinds existed"
        );
        assert_eq!(funding_source_from_wire(0), Err("is required".to_owned()));
        assert_eq!(
            channel_from_wire(0),
            Err("is required (CASH or MOBILE_MONEY)".to_owned())
        );
        assert_eq!(entitlement_status_from_wire(0), Ok(None), "unset filters nothing");
        assert_eq!(cycle_status_from_wire(0), Ok(None), "unset filters nothing");
        assert_eq!(failure_reason_from_wire(0), None);
        for unknown in [99, -1, i32::MIN] {
            assert_eq!(
                cycle_kind_from_wire(unknown),
                Err("is not a CycleKind value".to_owned())
            );
            assert_eq!(
                funding_source_from_wire(unknown),
                Err(format!("has unknown value {unknown}"))
            );
            assert_eq!(channel_from_wire(unknown), Err(format!("has unknown value {unknown}")));
            assert_eq!(
                entitlement_status_from_wire(unknown),
                Err("is not an entitlement status".to_owned())
            );
            assert_eq!(failure_reason_from_wire(unknown), None);
            assert_eq!(cycle_status_from_wire(unknown), Err("is not a cycle status".to_owned()));
        }
    }

    #[test]
    fn every_refusal_has_its_own_wire_value_named_like_its_code() {
        let mut seen = std::collections::HashSet::new();
        for kind in RefusalKind::ALL {
            let wire = refusal_to_wire(kind);
            assert!(seen.insert(wire as i32), "{kind:?} repeats a wire value");
            assert_eq!(wire.as_str_name(), format!("RESULT_REFUSAL_{}", kind.code()));
            assert_eq!(pp::ResultRefusal::try_from(wire as i32), Ok(wire));
        }
        assert!(!seen.contains(&(pp::ResultRefusal::Unspecified as i32)));
    }
}
