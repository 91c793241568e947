//! The quarter's cash transfer cycle: open, assign agents, freeze, approve,
//! pay.

use std::collections::{BTreeMap, HashSet};

use jigi_proto::common::{Money, Period};
use jigi_proto::payments::{
    AgentAssignment, ApprovePaymentCycleRequest, AssignPaymentAgentsRequest, CycleKind, Entitlement, FailureReason,
    FreezePaymentCycleRequest, ListEligibleHouseholdsRequest, ListEntitlementsRequest, OpenPaymentCycleRequest,
    PaymentChannel, PaymentOutcome, PaymentResult, RecordPaymentResultRequest, RecordPaymentResultsRequest,
};

use jigi_auth::Role;
use tonic::transport::Channel;

use super::{KeyTrace, QuarterPlan, QuarterSummary, traced, wait_for};
use crate::clients::{self, PaymentsClient, service_error};
use crate::progress::Bars;
use crate::staff::Staff;

/// Results per `RecordPaymentResults` call.
const BATCH: usize = 200;

/// The regional office's staff: one prepares, another approves.
pub const PREPARER: &str = "a.traore";
pub const APPROVER: &str = "m.coulibaly";

/// What the cycle did.
#[derive(Debug, Default)]
pub struct Paid {
    cycle_id: String,
    funding_source: i32,
    funding_source_name: String,
    entitlements: i64,
    entitled_fcfa: i64,
    paid: i64,
    paid_fcfa: i64,
    failed: i64,
    not_collected: i64,
    traces: Vec<KeyTrace>,
}

impl Paid {
    pub fn into_summary(self, summary: &mut QuarterSummary) {
        summary.cycle_id = self.cycle_id;
        summary.funding_source = self.funding_source;
        summary.funding_source_name = self.funding_source_name;
        summary.entitlements = self.entitlements;
        summary.entitled_fcfa = self.entitled_fcfa;
        summary.paid = self.paid;
        summary.paid_fcfa = self.paid_fcfa;
        summary.failed = self.failed;
        summary.not_collected = self.not_collected;
        summary.traces.extend(self.traces);
    }
}

/// The people who pay, each calling as themselves: one prepares, another
/// approves, and each payment agent reports their own list.
#[derive(Clone)]
pub struct PaymentOffice {
    preparer: PaymentsClient,
    approver: PaymentsClient,
    /// By agent code.
    agents: BTreeMap<String, PaymentsClient>,
}

impl PaymentOffice {
    pub fn connect(channel: Channel, staff: &Staff, plan: &QuarterPlan) -> PaymentOffice {
        let region = plan.region;
        let client = |subject: &str, role: Role, agent: Option<&str>| {
            clients::payments_client_as(channel.clone(), staff.in_region(subject, &[role], region, agent))
        };
        let agents = (0..plan.communes.len().max(1))
            .map(|index| agent_of(plan, index).0)
            .collect::<HashSet<String>>()
            .into_iter()
            .map(|code| {
                let agent = client(&code.to_ascii_lowercase(), Role::PaymentAgent, Some(&code));
                (code, agent)
            })
            .collect();
        PaymentOffice {
            preparer: client(PREPARER, Role::PaymentPreparer, None),
            approver: client(APPROVER, Role::PaymentApprover, None),
            agents,
        }
    }

    fn agent(&self, code: &str) -> anyhow::Result<PaymentsClient> {
        self.agents
            .get(code)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no payment agent {code} in this office"))
    }
}

/// The agent of the `index`-th commune: cash and mobile money in turn.
pub fn agent_of(plan: &QuarterPlan, index: usize) -> (String, PaymentChannel) {
    let region = plan.region.slug().to_ascii_uppercase();
    if index.is_multiple_of(2) {
        (format!("BNDA-{region}"), PaymentChannel::Cash)
    } else {
        (format!("ORANGE-MONEY-{region}"), PaymentChannel::MobileMoney)
    }
}

/// What the agent reports for the `index`-th entitlement: 90 % paid, 7 %
/// failed, 3 % not collected, spread evenly.
fn outcome_of(index: usize) -> PaymentOutcome {
    match index % 100 {
        n if n % 10 == 3 && n < 70 => PaymentOutcome::Failed,
        n if n % 10 == 7 && n < 30 => PaymentOutcome::NotCollected,
        _ => PaymentOutcome::Paid,
    }
}

const FAILURES: [FailureReason; 4] = [
    FailureReason::IdentityNotVerified,
    FailureReason::AccountInvalid,
    FailureReason::AgentOutOfCash,
    FailureReason::NetworkFailure,
];

/// What a non-TM cycle (AGR grants, HIMO wages) paid.
#[derive(Debug, Default, Clone, Copy)]
pub struct KindPaid {
    pub paid: i64,
    pub paid_fcfa: i64,
}

impl Paid {
    pub fn totals(&self) -> KindPaid {
        KindPaid {
            paid: self.paid,
            paid_fcfa: self.paid_fcfa,
        }
    }
}

/// Pays the quarter's cycle of `kind`: TM to `enrolled` (the households
/// enrolled in TM), or AGR grants and HIMO wages to `enrolled` (the
/// households the activities service published something owed to).
pub async fn pay(
    office: PaymentOffice,
    plan: &QuarterPlan,
    bars: &Bars,
    kind: CycleKind,
    enrolled: &[String],
) -> anyhow::Result<Paid> {
    let region = plan.region;
    let mut done = Paid::default();
    if enrolled.is_empty() {
        return Ok(done);
    }
    let mut client = office.preparer.clone();
    // The payments service learns enrolments from the registry's events,
    // grants and wages owed from the activities service's.
    let wanted: HashSet<&str> = enrolled.iter().map(String::as_str).collect();
    let what = match kind {
        CycleKind::AgrGrant => "AGR grant tranche",
        CycleKind::HimoWages => "HIMO wage sheet",
        _ => "TM enrolment",
    };
    let period = Some(Period {
        code: plan.period().to_string(),
    });
    wait_for(
        &format!("the payments service of {region} learning of every {what}"),
        || {
            let mut client = client.clone();
            let wanted = &wanted;
            let period = period.clone();
            async move {
                let mut known = 0;
                let mut page_token = String::new();
                loop {
                    let page = client
                        .list_eligible_households(ListEligibleHouseholdsRequest {
                            commune: String::new(),
                            page_size: 1_000,
                            page_token,
                            kind: kind as i32,
                            period: period.clone(),
                        })
                        .await
                        .map_err(|status| service_error("listing eligible households", status))?
                        .into_inner();
                    if page.total < wanted.len() as i64 {
                        return Ok(None);
                    }
                    known += page
                        .households
                        .iter()
                        .filter(|h| wanted.contains(h.household_id.as_str()))
                        .count();
                    if page.next_page_token.is_empty() {
                        return Ok((known == wanted.len()).then_some(()));
                    }
                    page_token = page.next_page_token;
                }
            }
        },
    )
    .await?;

    let cycle = client
        .open_payment_cycle(OpenPaymentCycleRequest {
            period: Some(Period {
                code: plan.period().to_string(),
            }),
            funding_source: plan.funding_source as i32,
            amount_per_household: None,
            communes: plan.communes.clone(),
            prepared_by: PREPARER.into(),
            kind: kind as i32,
        })
        .await
        .map_err(|status| service_error(&format!("opening the payment cycle of {region}"), status))?
        .into_inner()
        .cycle
        .unwrap_or_default();
    done.cycle_id = cycle.cycle_id.clone();
    done.funding_source = plan.funding_source as i32;
    done.funding_source_name = plan
        .funding_source
        .as_str_name()
        .trim_start_matches("FUNDING_SOURCE_")
        .to_owned();
    let assignments = plan
        .communes
        .iter()
        .enumerate()
        .map(|(index, commune)| {
            let (agent_code, channel) = agent_of(plan, index);
            AgentAssignment {
                commune: commune.clone(),
                agent_code,
                channel: channel as i32,
            }
        })
        .collect();
    client
        .assign_payment_agents(AssignPaymentAgentsRequest {
            cycle_id: cycle.cycle_id.clone(),
            assignments,
            assigned_by: PREPARER.into(),
        })
        .await
        .map_err(|status| service_error("assigning payment agents", status))?;
    let frozen = client
        .freeze_payment_cycle(FreezePaymentCycleRequest {
            cycle_id: cycle.cycle_id.clone(),
            prepared_by: PREPARER.into(),
        })
        .await
        .map_err(|status| service_error("freezing the payment cycle", status))?
        .into_inner()
        .cycle
        .unwrap_or_default()
        .frozen
        .unwrap_or_default();
    done.entitlements = frozen.count;
    done.entitled_fcfa = frozen.amount.unwrap_or_default().fcfa;

    // Another person approves, restating the totals they checked.
    let mut approver = office.approver.clone();
    let approval = ApprovePaymentCycleRequest {
        cycle_id: cycle.cycle_id.clone(),
        approved_by: APPROVER.into(),
        expected_count: frozen.count,
        expected_amount: frozen.amount,
    };
    let (approved, trace_id) = traced("approve the payment cycle", region, async move {
        approver.approve_payment_cycle(approval).await
    })
    .await;
    approved.map_err(|status| service_error("approving the payment cycle", status))?;
    done.traces.push(KeyTrace {
        action: "approve the payment cycle".into(),
        trace_id,
    });

    let entitlements = entitlements(&mut client, &cycle.cycle_id).await?;
    let date = plan.date();
    let results: Vec<PaymentResult> = entitlements
        .iter()
        .enumerate()
        .map(|(index, entitlement)| {
            let outcome = outcome_of(index);
            let mut result = PaymentResult {
                household_id: entitlement.household_id.clone(),
                outcome: outcome as i32,
                agent_code: entitlement.agent_code.clone(),
                date: date.clone(),
                ..Default::default()
            };
            match outcome {
                PaymentOutcome::Paid => {
                    result.amount = entitlement.amount;
                    result.receipt_reference = format!("RCPT-{}-{:06}", region.slug().to_ascii_uppercase(), index + 1);
                }
                PaymentOutcome::Failed => result.failure_reason = FAILURES[index / 10 % FAILURES.len()] as i32,
                _ => {}
            }
            result
        })
        .collect();
    let label = match kind {
        CycleKind::AgrGrant => "recording AGR grants paid",
        CycleKind::HimoWages => "recording HIMO wages paid",
        _ => "recording payments",
    };
    let bar = bars.bar(region.slug(), label, results.len() as u64, "results");
    let mut results = results.into_iter();
    // The first payment alone, so its trace is easy to find.
    if let Some(first) = results.next() {
        let mut single = office.agent(&first.agent_code)?;
        let request = RecordPaymentResultRequest {
            request_id: format!("{}-result-1", cycle.cycle_id),
            cycle_id: cycle.cycle_id.clone(),
            result: Some(first.clone()),
        };
        let (recorded, trace_id) = traced("record a payment", region, async move {
            single.record_payment_result(request).await
        })
        .await;
        recorded.map_err(|status| service_error("recording a payment", status))?;
        done.traces.push(KeyTrace {
            action: "record a payment".into(),
            trace_id,
        });
        count(&mut done, &first);
        bar.inc(1);
    }
    // Each agent reports their own results, in batches.
    let mut by_agent: BTreeMap<String, Vec<PaymentResult>> = BTreeMap::new();
    for result in results {
        by_agent.entry(result.agent_code.clone()).or_default().push(result);
    }
    for (agent_number, (agent_code, results)) in by_agent.into_iter().enumerate() {
        let mut agent = office.agent(&agent_code)?;
        for (number, batch) in results.chunks(BATCH).enumerate() {
            let answer = agent
                .record_payment_results(RecordPaymentResultsRequest {
                    request_id: format!("{}-agent{}-{}", cycle.cycle_id, agent_number + 1, number + 1),
                    cycle_id: cycle.cycle_id.clone(),
                    results: batch.to_vec(),
                })
                .await
                .map_err(|status| service_error("recording payment results", status))?
                .into_inner();
            if let Some(refused) = answer.outcomes.iter().find(|o| !o.accepted) {
                anyhow::bail!(
                    "recording payment results failed: the payments service refused household {}: {}",
                    refused.household_id,
                    refused.message
                );
            }
            for result in batch {
                count(&mut done, result);
            }
            bar.inc(batch.len() as u64);
        }
    }
    bar.finish_with_message("payments recorded");
    Ok(done)
}

fn count(done: &mut Paid, result: &PaymentResult) {
    match PaymentOutcome::try_from(result.outcome) {
        Ok(PaymentOutcome::Paid) => {
            done.paid += 1;
            done.paid_fcfa += result.amount.unwrap_or(Money { fcfa: 0 }).fcfa;
        }
        Ok(PaymentOutcome::Failed) => done.failed += 1,
        _ => done.not_collected += 1,
    }
}

/// Every entitlement of a cycle, in the service's order (commune, household).
async fn entitlements(client: &mut PaymentsClient, cycle_id: &str) -> anyhow::Result<Vec<Entitlement>> {
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_entitlements(ListEntitlementsRequest {
                cycle_id: cycle_id.to_owned(),
                page_size: 1_000,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .map_err(|status| service_error("listing entitlements", status))?
            .into_inner();
        all.extend(page.entitlements);
        if page.next_page_token.is_empty() {
            return Ok(all);
        }
        page_token = page.next_page_token;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ninety_paid_seven_failed_three_not_collected_in_a_hundred() {
        let outcomes: Vec<PaymentOutcome> = (0..100).map(outcome_of).collect();
        let count = |o: PaymentOutcome| outcomes.iter().filter(|x| **x == o).count();
        assert_eq!(count(PaymentOutcome::Paid), 90);
        assert_eq!(count(PaymentOutcome::Failed), 7);
        assert_eq!(count(PaymentOutcome::NotCollected), 3);
    }
}
