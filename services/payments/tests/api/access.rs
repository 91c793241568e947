//! The payments service with access control on: the token says who acts,
//! the preparer of a cycle cannot approve it whatever roles they hold, and a
//! payment agent sees and reports only their own list.

use std::collections::BTreeSet;

use jigi_auth::{Expectations, Grant, KeySource, LocalIssuer, Role, Scope};
use jigi_proto::payments::*;
use jigi_server::serving::AccessSettings;
use tonic::{Code, Request};

use crate::helpers::*;

/// A payments service of Ségou that accepts tokens of `issuer`, with three
/// households enrolled (two in Sanando, one in Konobougou).
async fn app_with_tokens(issuer: &LocalIssuer) -> TestApp {
    let keys = issuer.key_set();
    let app = spawn_app_with(|config| {
        config.serve.access = AccessSettings::Tokens {
            keys: KeySource::Fixed(keys),
            expect: Expectations::default(),
        };
    })
    .await;
    app.enrol(&household(1), SANANDO).await;
    app.enrol(&household(2), SANANDO).await;
    app.enrol(&household(3), KONOBOUGOU).await;
    app.wait_handled(3).await;
    app
}

fn token(issuer: &LocalIssuer, subject: &str, roles: &[Role]) -> String {
    issuer.issue(&Grant::new(subject, roles, Scope::Regions(BTreeSet::from([REGION]))))
}

fn agent_token(issuer: &LocalIssuer, agent_code: &str) -> String {
    let mut grant = Grant::new(
        "agent-sanando",
        &[Role::PaymentAgent],
        Scope::Regions(BTreeSet::from([REGION])),
    );
    grant.agent_code = Some(agent_code.to_owned());
    issuer.issue(&grant)
}

/// `message` with `authorization: Bearer <token>`.
fn signed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// Opens, assigns and freezes a 2019Q1 cycle as `preparer` (who names no
/// user in the requests: the token says who acts).
async fn frozen_cycle(app: &mut TestApp, preparer: &str) -> PaymentCycle {
    let opened = app
        .client
        .open_payment_cycle(signed(
            preparer,
            OpenPaymentCycleRequest {
                period: Some(jigi_proto::common::Period { code: "2019Q1".into() }),
                funding_source: FundingSource::WorldBankIda as i32,
                ..Default::default()
            },
        ))
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
    app.client
        .assign_payment_agents(signed(
            preparer,
            AssignPaymentAgentsRequest {
                cycle_id: opened.cycle_id.clone(),
                assignments,
                assigned_by: String::new(),
            },
        ))
        .await
        .unwrap();
    app.client
        .freeze_payment_cycle(signed(
            preparer,
            FreezePaymentCycleRequest {
                cycle_id: opened.cycle_id.clone(),
                prepared_by: String::new(),
            },
        ))
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
    let issuer = LocalIssuer::generate();
    let mut app = app_with_tokens(&issuer).await;
    let awa = token(&issuer, "awa", &[Role::PaymentPreparer, Role::PaymentApprover]);
    let bakary = token(&issuer, "bakary", &[Role::PaymentApprover]);
    let moussa = token(&issuer, "moussa", &[Role::PaymentPreparer]);
    let frozen = frozen_cycle(&mut app, &awa).await;
    assert_eq!(frozen.prepared_by, "awa", "the token's subject, not a request field");

    // Awa holds the approver role too, but she prepared this cycle.
    let status = app
        .client
        .approve_payment_cycle(signed(&awa, approval(&frozen, "")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(precondition(&status), "SELF_APPROVAL");
    // A preparer without the approver role is refused before any rule runs.
    let status = app
        .client
        .approve_payment_cycle(signed(&moussa, approval(&frozen, "")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    // Bakary may approve, but not in Awa's name (nor may anyone in his).
    let status = app
        .client
        .approve_payment_cycle(signed(&bakary, approval(&frozen, "awa")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains("approved_by"), "{}", status.message());
    assert_eq!(
        app.cycle_as(&bakary, &frozen.cycle_id).await.status,
        CycleStatus::Frozen as i32
    );

    let approved = app
        .client
        .approve_payment_cycle(signed(&bakary, approval(&frozen, "bakary")))
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
    let issuer = LocalIssuer::generate();
    let mut app = app_with_tokens(&issuer).await;
    let preparer = token(&issuer, "awa", &[Role::PaymentPreparer]);
    let approver = token(&issuer, "bakary", &[Role::PaymentApprover]);
    let frozen = frozen_cycle(&mut app, &preparer).await;
    app.client
        .approve_payment_cycle(signed(&approver, approval(&frozen, "")))
        .await
        .unwrap();
    let cash_agent = agent_token(&issuer, CASH_AGENT);

    // Listing without naming an agent gives the caller's own communes only.
    let own = app
        .client
        .list_entitlements(signed(
            &cash_agent,
            ListEntitlementsRequest {
                cycle_id: frozen.cycle_id.clone(),
                ..Default::default()
            },
        ))
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
    let status = app
        .client
        .export_payment_list(signed(&cash_agent, export))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    // A batch with one result claimed for the other agent is refused whole.
    let batch = RecordPaymentResultsRequest {
        request_id: "batch-1".into(),
        cycle_id: frozen.cycle_id.clone(),
        results: vec![
            paid(&household(1), CASH_AGENT, "R-1"),
            paid(&household(3), MOBILE_AGENT, "R-2"),
        ],
    };
    let status = app
        .client
        .record_payment_results(signed(&cash_agent, batch))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().contains("results[1].agent_code"),
        "{}",
        status.message()
    );
    let reconciliation = app.reconciliation_as(&approver, &frozen.cycle_id).await;
    assert_eq!(
        reconciliation.total.unwrap().paid.unwrap_or_default().count,
        0,
        "nothing was written"
    );

    // Their own result goes through.
    let own_result = RecordPaymentResultRequest {
        request_id: "one-1".into(),
        cycle_id: frozen.cycle_id.clone(),
        result: Some(paid(&household(1), CASH_AGENT, "R-1")),
    };
    app.client
        .record_payment_result(signed(&cash_agent, own_result))
        .await
        .unwrap();
    let reconciliation = app.reconciliation_as(&approver, &frozen.cycle_id).await;
    assert_eq!(reconciliation.total.unwrap().paid.unwrap_or_default().count, 1);
}

#[tokio::test]
async fn another_regions_token_and_missing_tokens_are_refused() {
    let issuer = LocalIssuer::generate();
    let mut app = app_with_tokens(&issuer).await;
    let mopti = issuer.issue(&Grant::new(
        "fanta",
        &[Role::PaymentPreparer],
        Scope::Regions(BTreeSet::from([jigi_common::Region::Mopti])),
    ));
    let open = OpenPaymentCycleRequest {
        period: Some(jigi_proto::common::Period { code: "2019Q1".into() }),
        funding_source: FundingSource::Dfid as i32,
        ..Default::default()
    };
    let status = app
        .client
        .open_payment_cycle(signed(&mopti, open.clone()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains("segou"), "{}", status.message());
    let status = app.client.open_payment_cycle(open.clone()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let stranger = LocalIssuer::generate();
    let forged = token(&stranger, "awa", &[Role::PaymentPreparer]);
    let status = app.client.open_payment_cycle(signed(&forged, open)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let approver = token(&issuer, "bakary", &[Role::PaymentApprover]);
    let cycles = app
        .client
        .list_payment_cycles(signed(&approver, ListPaymentCyclesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(cycles.cycles.is_empty(), "no cycle was opened by the refused calls");
}

impl TestApp {
    async fn cycle_as(&mut self, token: &str, cycle_id: &str) -> PaymentCycle {
        let request = GetPaymentCycleRequest {
            cycle_id: cycle_id.into(),
        };
        self.client
            .get_payment_cycle(signed(token, request))
            .await
            .unwrap()
            .into_inner()
            .cycle
            .unwrap()
    }

    async fn reconciliation_as(&mut self, token: &str, cycle_id: &str) -> Reconciliation {
        let request = GetReconciliationRequest {
            cycle_id: cycle_id.into(),
        };
        self.client
            .get_reconciliation(signed(token, request))
            .await
            .unwrap()
            .into_inner()
            .reconciliation
            .unwrap()
    }
}
