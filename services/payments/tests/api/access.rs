//! The payments service with access control on: the token says who acts,
//! the preparer of a cycle cannot approve it whatever roles they hold, and a
//! payment agent sees and reports only their own list.

use std::collections::BTreeSet;

use jigi_auth::{Grant, LocalIssuer, Role, Scope};
use jigi_proto::payments::payments_service_client::PaymentsServiceClient;
use jigi_proto::payments::*;
use jigi_testkit::connect_channel;
use tonic::{Code, Request};

use crate::helpers::*;

/// A payments service of Ségou with three households enrolled (two in
/// Sanando, one in Konobougou).
async fn app_with_households() -> TestApp {
    let app = spawn_app().await;
    app.enrol(&household(1), SANANDO).await;
    app.enrol(&household(2), SANANDO).await;
    app.enrol(&household(3), KONOBOUGOU).await;
    app.wait_handled(3).await;
    app
}

/// `message` with `authorization: Bearer <token>`, for a client without a
/// token of its own.
fn signed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// Opens, assigns and freezes a 2019Q1 cycle as the caller of `preparer`
/// (who names no user in the requests: the token says who acts).
async fn frozen_cycle(preparer: &mut Client) -> PaymentCycle {
    let opened = preparer
        .open_payment_cycle(OpenPaymentCycleRequest {
            period: Some(jigi_proto::common::Period { code: "2019Q1".into() }),
            funding_source: FundingSource::WorldBankIda as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .cycle
        .unwrap();
    let assignments = vec![
        AgentAssignment {
            commune: SANANDO.into(),
            agent_code: CASH_AGENT.into(),
            channel: PaymentChannel::Cash as i32,
        },
        AgentAssignment {
            commune: KONOBOUGOU.into(),
            agent_code: MOBILE_AGENT.into(),
            channel: PaymentChannel::MobileMoney as i32,
        },
    ];
    preparer
        .assign_payment_agents(AssignPaymentAgentsRequest {
            cycle_id: opened.cycle_id.clone(),
            assignments,
            assigned_by: String::new(),
        })
        .await
        .unwrap();
    preparer
        .freeze_payment_cycle(FreezePaymentCycleRequest {
            cycle_id: opened.cycle_id.clone(),
            prepared_by: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .cycle
        .unwrap()
}

fn approval(cycle: &PaymentCycle, approved_by: &str) -> ApprovePaymentCycleRequest {
    let frozen = cycle.frozen.unwrap_or_default();
    ApprovePaymentCycleRequest {
        cycle_id: cycle.cycle_id.clone(),
        approved_by: approved_by.into(),
        expected_count: frozen.count,
        expected_amount: frozen.amount,
    }
}

#[tokio::test]
async fn the_preparer_cannot_approve_even_holding_both_roles_and_no_one_acts_in_anothers_name() {
    let mut app = app_with_households().await;
    let mut awa = app.person("awa", &[Role::PaymentPreparer, Role::PaymentApprover]).await;
    let mut bakary = app.person("bakary", &[Role::PaymentApprover]).await;
    let mut moussa = app.person("moussa", &[Role::PaymentPreparer]).await;
    let frozen = frozen_cycle(&mut awa).await;
    assert_eq!(frozen.prepared_by, "awa", "the token's subject, not a request field");
    assert_eq!(frozen.frozen_by, "awa");

    // Awa holds the approver role too, but she prepared this cycle.
    let status = awa.approve_payment_cycle(approval(&frozen, "")).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(precondition(&status), "SELF_APPROVAL");
    // A preparer without the approver role is refused before any rule runs.
    let status = moussa.approve_payment_cycle(approval(&frozen, "")).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    // Bakary may approve, but not in Awa's name (nor may anyone in his).
    let status = bakary
        .approve_payment_cycle(approval(&frozen, "awa"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains("approved_by"), "{}", status.message());
    let status = awa
        .approve_payment_cycle(approval(&frozen, "bakary"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains("approved_by"), "{}", status.message());
    assert_eq!(
        cycle_of(&mut bakary, &frozen.cycle_id).await.status,
        CycleStatus::Frozen as i32
    );

    let approved = bakary
        .approve_payment_cycle(approval(&frozen, "bakary"))
        .await
        .unwrap()
        .into_inner()
        .cycle
        .unwrap();
    assert_eq!(
        (approved.status, approved.approved_by.as_str()),
        (CycleStatus::Approved as i32, "bakary")
    );
}

#[tokio::test]
async fn a_payment_agent_reads_and_reports_only_their_own_list() {
    let mut app = app_with_households().await;
    let mut approver = app.person("bakary", &[Role::PaymentApprover]).await;
    let frozen = frozen_cycle(&mut app.person("awa", &[Role::PaymentPreparer]).await).await;
    approver.approve_payment_cycle(approval(&frozen, "")).await.unwrap();
    let mut cash_agent = app.agent(CASH_AGENT).await;

    // Listing without naming an agent gives the caller's own communes only.
    let own = cash_agent
        .list_entitlements(ListEntitlementsRequest {
            cycle_id: frozen.cycle_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let communes: BTreeSet<String> = own
        .entitlements
        .iter()
        .map(|e| e.location.clone().unwrap().commune)
        .collect();
    assert_eq!(communes, BTreeSet::from([SANANDO.to_owned()]));
    // Another agent's list is refused.
    let export = ExportPaymentListRequest {
        cycle_id: frozen.cycle_id.clone(),
        agent_code: MOBILE_AGENT.into(),
        only_unpaid: false,
    };
    let status = cash_agent.export_payment_list(export).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    // A token of the agent role that names no agent reads nothing.
    let mut codeless = app.person("agent-without-code", &[Role::PaymentAgent]).await;
    let status = codeless
        .list_entitlements(ListEntitlementsRequest {
            cycle_id: frozen.cycle_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains("agent_code"), "{}", status.message());

    // A batch with one result claimed for the other agent is refused whole.
    let batch = RecordPaymentResultsRequest {
        request_id: "batch-1".into(),
        cycle_id: frozen.cycle_id.clone(),
        results: vec![
            paid(&household(1), CASH_AGENT, "R-1"),
            paid(&household(3), MOBILE_AGENT, "R-2"),
        ],
    };
    let status = cash_agent.record_payment_results(batch).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().contains("results[1].agent_code"),
        "{}",
        status.message()
    );
    let reconciliation = reconciliation_of(&mut approver, &frozen.cycle_id).await;
    assert_eq!(
        reconciliation.total.unwrap().paid.unwrap_or_default().count,
        0,
        "nothing was written"
    );
    // Nor may an agent report one result in another's name.
    let theirs = RecordPaymentResultRequest {
        request_id: "one-3".into(),
        cycle_id: frozen.cycle_id.clone(),
        result: Some(paid(&household(3), MOBILE_AGENT, "R-3")),
    };
    let status = cash_agent.record_payment_result(theirs).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains("result.agent_code"), "{}", status.message());

    // Their own result goes through.
    let own_result = RecordPaymentResultRequest {
        request_id: "one-1".into(),
        cycle_id: frozen.cycle_id.clone(),
        result: Some(paid(&household(1), CASH_AGENT, "R-1")),
    };
    cash_agent.record_payment_result(own_result).await.unwrap();
    let reconciliation = reconciliation_of(&mut approver, &frozen.cycle_id).await;
    assert_eq!(reconciliation.total.unwrap().paid.unwrap_or_default().count, 1);
}

#[tokio::test]
async fn another_regions_token_and_missing_tokens_are_refused() {
    let mut app = app_with_households().await;
    let mopti = app
        .access
        .token("fanta", &[Role::PaymentPreparer], jigi_common::Region::Mopti);
    let open = OpenPaymentCycleRequest {
        period: Some(jigi_proto::common::Period { code: "2019Q1".into() }),
        funding_source: FundingSource::Dfid as i32,
        ..Default::default()
    };
    let status = app
        .with_token(mopti)
        .await
        .open_payment_cycle(open.clone())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains("segou"), "{}", status.message());
    // A client without a token of its own.
    let mut anonymous = PaymentsServiceClient::new(connect_channel(app.running().grpc_addr).await);
    let status = anonymous.open_payment_cycle(open.clone()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let stranger = LocalIssuer::generate();
    let forged = stranger.issue(&Grant::new(
        "awa",
        &[Role::PaymentPreparer],
        Scope::Regions(BTreeSet::from([REGION])),
    ));
    let status = anonymous.open_payment_cycle(signed(&forged, open)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let cycles = app
        .person("bakary", &[Role::PaymentApprover])
        .await
        .list_payment_cycles(ListPaymentCyclesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(cycles.cycles.is_empty(), "no cycle was opened by the refused calls");
}

async fn cycle_of(client: &mut Client, cycle_id: &str) -> PaymentCycle {
    let request = GetPaymentCycleRequest {
        cycle_id: cycle_id.into(),
    };
    client
        .get_payment_cycle(request)
        .await
        .unwrap()
        .into_inner()
        .cycle
        .unwrap()
}

async fn reconciliation_of(client: &mut Client, cycle_id: &str) -> Reconciliation {
    let request = GetReconciliationRequest {
        cycle_id: cycle_id.into(),
    };
    client
        .get_reconciliation(request)
        .await
        .unwrap()
        .into_inner()
        .reconciliation
        .unwrap()
}
