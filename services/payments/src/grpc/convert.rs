//! Domain values to the API's messages.

use chrono::{DateTime, Utc};
use jigi_proto::common as pc;
use jigi_proto::payments as pp;

use crate::domain::model::{Cycle, CycleStatus, Totals};
use crate::domain::projection::Tracked;
use crate::domain::reconcile::{Line, Reconciliation};
use crate::events::{location, money};
use crate::storage::{CommuneShare, EntitlementRow};

pub fn cycle(c: &Cycle) -> pp::PaymentCycle {
    pp::PaymentCycle {
        cycle_id: c.cycle_id.clone(),
        region: c.region.slug().to_owned(),
        period: Some(pc::Period {
            code: c.period.to_string(),
        }),
        funding_source: c.funding_source.wire(),
        amount_per_household: Some(money(c.amount_per_household)),
        kind: c.kind.wire(),
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
                channel: a.channel.wire(),
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
        status: row.status.wire(),
        agent_code: agent.map(|a| a.agent.as_str().to_owned()).unwrap_or_default(),
        channel: agent.map(|a| a.channel.wire()).unwrap_or_default(),
        result_date: row.result_date.clone().unwrap_or_default(),
        receipt_reference: row.receipt_reference.clone().unwrap_or_default(),
        failure_reason: row.failure_reason.map(|r| r.wire()).unwrap_or_default(),
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
        channel: l.agent.as_ref().map(|(_, c)| c.wire()).unwrap_or_default(),
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
