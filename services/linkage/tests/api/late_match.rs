//! A region cut off from the hub goes on registering and paying. The same
//! card is registered and paid in Sikasso (linked) and in Mopti (cut off):
//! nothing can be held, since the match cannot be known. When the link
//! returns, the index finds the pair and names both payments of the
//! quarter, so one can be recovered.

use jigi_auth::Role;
use jigi_common::Region;
use jigi_proto::common::{Component, Money};
use jigi_proto::payments::payments_service_client::PaymentsServiceClient;
use jigi_proto::payments::{
    AgentAssignment, ApprovePaymentCycleRequest, AssignPaymentAgentsRequest, FreezePaymentCycleRequest, PaymentChannel,
    PaymentOutcome, PaymentResult, RecordPaymentResultRequest,
};
use jigi_proto::registry::EnrolHouseholdRequest;
use jigi_testkit::{connect_as, eventually};

use crate::helpers::{Country, WAIT, today};

/// Registers a household with this card, enrols it in TM, and pays its
/// quarter through the region's whole cycle; returns `(household, cycle)`.
async fn register_and_pay(country: &mut Country, region: Region, given: &str, card: &str) -> (String, String) {
    let access = country.access.clone();
    let node = country.region(region);
    let draft = node.draft_with_head(given, "Tembély", "1977-09-01", card);
    let household = node.register(draft).await;
    let commune = household.location.clone().unwrap().commune;
    node.client
        .enrol_household(EnrolHouseholdRequest {
            household_id: household.household_id.clone(),
            component: Component::Tm as i32,
            enrolled_on: today(),
            committee_override: "CCL, PV 7".into(),
        })
        .await
        .unwrap();
    let payments = node.payments.service.payments.clone();
    eventually(WAIT, "the household is eligible for payment", || {
        let payments = payments.clone();
        async move { (payments.eligible("", 10, "").await.ok()?.total == 1).then_some(()) }
    })
    .await;
    let agent = format!("AGENT-{}", region.slug().to_ascii_uppercase());
    let cycle_id = node.open_cycle("2026Q4").await;
    node.pay
        .assign_payment_agents(AssignPaymentAgentsRequest {
            cycle_id: cycle_id.clone(),
            assignments: vec![AgentAssignment {
                commune,
                agent_code: agent.clone(),
                channel: PaymentChannel::Cash as i32,
            }],
            assigned_by: String::new(),
        })
        .await
        .unwrap();
    let frozen = node
        .pay
        .freeze_payment_cycle(FreezePaymentCycleRequest {
            cycle_id: cycle_id.clone(),
            prepared_by: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(frozen.held.is_empty(), "nothing known to hold yet");
    let totals = frozen.cycle.unwrap().frozen.unwrap();
    assert_eq!(totals.count, 1);
    let approver = access.token("m.keita", &[Role::PaymentApprover], region);
    PaymentsServiceClient::new(connect_as(node.payments.grpc_addr, &approver).await)
        .approve_payment_cycle(ApprovePaymentCycleRequest {
            cycle_id: cycle_id.clone(),
            approved_by: String::new(),
            expected_count: totals.count,
            expected_amount: totals.amount,
        })
        .await
        .unwrap();
    let agent_token = access.agent_token(&agent.to_ascii_lowercase(), region, &agent);
    PaymentsServiceClient::new(connect_as(node.payments.grpc_addr, &agent_token).await)
        .record_payment_result(RecordPaymentResultRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            cycle_id: cycle_id.clone(),
            result: Some(PaymentResult {
                household_id: household.household_id.clone(),
                outcome: PaymentOutcome::Paid as i32,
                agent_code: agent,
                date: today(),
                amount: Some(Money {
                    fcfa: totals.amount.unwrap().fcfa,
                }),
                receipt_reference: "R-1".into(),
                failure_reason: 0,
            }),
        })
        .await
        .unwrap();
    (household.household_id, cycle_id)
}

#[tokio::test]
async fn a_late_match_after_a_cut_link_names_both_payments() {
    let mut country = Country::start(&[Region::Sikasso, Region::Mopti], &["k1"]).await;
    country.region(Region::Mopti).link.cut().await;
    let (in_mopti, mopti_cycle) = register_and_pay(&mut country, Region::Mopti, "Kadia", "ML2718281828").await;
    let (in_sikasso, sikasso_cycle) = register_and_pay(&mut country, Region::Sikasso, "KADIA", "ml 2718 2818 28").await;
    // Sikasso's keys reached the index; Mopti's did not.
    country.wait_indexed(1).await;
    assert!(country.duplicates().await.is_empty(), "no match while Mopti is cut off");

    country.region(Region::Mopti).link.restore().await;
    let duplicate = eventually(WAIT, "the late match names both payments", || async {
        let found = country.duplicates().await;
        let duplicate = found.into_iter().next()?;
        (!duplicate.possible_double_payments.is_empty()).then_some(duplicate)
    })
    .await;
    assert_eq!(duplicate.possible_double_payments.len(), 1);
    let double = &duplicate.possible_double_payments[0];
    assert_eq!(double.period, "2026Q4");
    let mopti_payment = format!("{mopti_cycle}/{in_mopti}");
    let sikasso_payment = format!("{sikasso_cycle}/{in_sikasso}");
    let mut named = [double.first_payment_id.clone(), double.second_payment_id.clone()];
    named.sort();
    let mut expected = [mopti_payment, sikasso_payment];
    expected.sort();
    assert_eq!(named, expected);
}
