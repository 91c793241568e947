//! A cycle's life and its gates: each refused step says why and changes
//! nothing (no state change, no event).

use jigi_auth::Role;
use jigi_proto::common::{Money, Period};
use jigi_proto::payments::*;
use tonic::Code;

use crate::helpers::*;

/// Three households enrolled, seen by the projection.
async fn app_with_households() -> TestApp {
    let mut app = spawn_app().await;
    app.enrol(&household(1), SANANDO).await;
    app.enrol(&household(2), SANANDO).await;
    app.enrol(&household(3), KONOBOUGOU).await;
    app.wait_eligible(3).await;
    app
}

fn event_types(events: &[jigi_bus::ReceivedEvent]) -> Vec<String> {
    events.iter().map(|e| e.ce_type.clone()).collect()
}

#[tokio::test]
async fn a_cycle_is_opened_frozen_approved_and_applies_the_programme_amount() {
    let mut app = app_with_households().await;
    let cycle = app.open("2019Q1", FundingSource::WorldBankIda).await.unwrap();
    assert_eq!(cycle.status, CycleStatus::Draft as i32);
    assert_eq!(cycle.amount_per_household.unwrap().fcfa, 30_000, "10,000 FCFA a month");
    assert_eq!(cycle.region, "segou");
    app.assign_agents(&cycle.cycle_id).await;

    let frozen = app.freeze(&cycle.cycle_id).await;
    let frozen_cycle = frozen.cycle.unwrap();
    assert_eq!(frozen_cycle.status, CycleStatus::Frozen as i32);
    let totals = frozen_cycle.frozen.unwrap();
    assert_eq!((totals.count, totals.amount.unwrap().fcfa), (3, 90_000));
    let communes: Vec<(String, i64)> = frozen
        .communes
        .iter()
        .map(|c| (c.location.clone().unwrap().commune, c.totals.unwrap().count))
        .collect();
    assert_eq!(communes, [(KONOBOUGOU.to_owned(), 1), (SANANDO.to_owned(), 2)]);

    let approved = app.approve(&frozen_cycle, "approver").await.unwrap();
    assert_eq!(approved.status, CycleStatus::Approved as i32);
    assert_eq!(
        approved.control, frozen_cycle.frozen,
        "control totals fixed at approval"
    );
    assert_eq!(approved.approved_by, "approver");

    let events = app.payment_events().await;
    assert_eq!(
        event_types(&events),
        [
            "jigi.payments.cycle.opened.v1",
            "jigi.payments.cycle.frozen.v1",
            "jigi.payments.cycle.approved.v1"
        ]
    );
    let approved_event: jigi_proto::events::PaymentCycleApproved = events[2].decode().unwrap();
    let reference = approved_event.cycle.unwrap();
    assert_eq!(reference.cycle_id, cycle.cycle_id);
    assert_eq!(reference.period.unwrap().code, "2019Q1");
    assert_eq!(reference.region, "segou");
    assert_eq!(
        reference.funding_source,
        jigi_proto::events::PaymentFundingSource::WorldBankIda as i32
    );
    let control = approved_event.control.unwrap();
    assert_eq!((control.count, control.amount.unwrap().fcfa), (3, 90_000));
    assert_eq!(events[2].about, cycle.cycle_id);
}

#[tokio::test]
async fn approving_ones_own_cycle_is_refused_and_changes_nothing() {
    let mut app = app_with_households().await;
    let cycle = app.open("2019Q1", FundingSource::Dfid).await.unwrap();
    app.assign_agents(&cycle.cycle_id).await;
    let frozen = app.freeze(&cycle.cycle_id).await.cycle.unwrap();

    // The preparer, who is an approver too, asks to approve their own cycle.
    let status = app.approve(&frozen, PREPARER).await.unwrap_err();
    assert_eq!(precondition(&status), "SELF_APPROVAL");
    assert_eq!(app.cycle(&cycle.cycle_id).await.status, CycleStatus::Frozen as i32);
    // Nor may the approver claim totals other than the frozen list's.
    let mut approver = app.person("approver", &[Role::PaymentApprover]).await;
    let status = approver
        .approve_payment_cycle(ApprovePaymentCycleRequest {
            cycle_id: cycle.cycle_id.clone(),
            approved_by: "approver".into(),
            expected_count: 4,
            expected_amount: Some(Money { fcfa: 120_000 }),
        })
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "CONTROL_TOTALS_MISMATCH");
    let after = app.cycle(&cycle.cycle_id).await;
    assert_eq!(after.status, CycleStatus::Frozen as i32);
    assert_eq!(after.control.unwrap().count, 0);
    assert_eq!(
        event_types(&app.payment_events().await),
        ["jigi.payments.cycle.opened.v1", "jigi.payments.cycle.frozen.v1"],
        "no approval event"
    );
}

#[tokio::test]
async fn nothing_is_paid_before_approval() {
    let mut app = app_with_households().await;
    let cycle = app.open("2019Q1", FundingSource::StateBudget).await.unwrap();
    app.assign_agents(&cycle.cycle_id).await;
    let status = app
        .record(
            CASH_AGENT,
            "pay-draft",
            &cycle.cycle_id,
            vec![paid(&household(1), CASH_AGENT, "R-1")],
        )
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "NOT_APPROVED");

    app.freeze(&cycle.cycle_id).await;
    let status = app
        .record_one(
            CASH_AGENT,
            "pay-frozen",
            &cycle.cycle_id,
            paid(&household(1), CASH_AGENT, "R-1"),
        )
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "NOT_APPROVED");
    let status = app
        .client
        .export_payment_list(ExportPaymentListRequest {
            cycle_id: cycle.cycle_id.clone(),
            agent_code: CASH_AGENT.into(),
            only_unpaid: false,
        })
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "NOT_APPROVED", "no payment list before approval");

    let after = app.cycle(&cycle.cycle_id).await;
    assert_eq!(after.paid.unwrap().count, 0);
    let reconciliation = app.reconciliation(&cycle.cycle_id).await;
    assert_eq!(reconciliation.total.unwrap().paid.unwrap().count, 0);
    assert!(
        !event_types(&app.payment_events().await)
            .iter()
            .any(|t| t.starts_with("jigi.payments.payment.")),
        "no payment event"
    );
}

#[tokio::test]
async fn a_cycle_can_be_cancelled_before_disbursement_only() {
    let mut app = app_with_households().await;
    let cycle = app.approved_cycle().await;
    let cancel = |cycle_id: &str| CancelPaymentCycleRequest {
        cycle_id: cycle_id.into(),
        cancelled_by: "coordinator".into(),
        reason: "funds not released".into(),
    };
    // A cycle with a result recorded cannot be cancelled any more.
    app.record(
        CASH_AGENT,
        "first-result",
        &cycle.cycle_id,
        vec![paid(&household(1), CASH_AGENT, "R-1")],
    )
    .await
    .unwrap();
    // The programme's coordinator, an approver, cancels and closes cycles.
    let mut coordinator = app.person("coordinator", &[Role::PaymentApprover]).await;
    let status = coordinator
        .cancel_payment_cycle(cancel(&cycle.cycle_id))
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "DISBURSEMENT_STARTED");
    assert_eq!(app.cycle(&cycle.cycle_id).await.status, CycleStatus::Disbursing as i32);

    // Another funding source's cycle, not disbursing: it can be cancelled.
    let other = app.open("2019Q1", FundingSource::Dfid).await.unwrap();
    let cancelled = coordinator
        .cancel_payment_cycle(cancel(&other.cycle_id))
        .await
        .unwrap()
        .into_inner()
        .cycle
        .unwrap();
    assert_eq!(cancelled.status, CycleStatus::Cancelled as i32);
    assert_eq!(cancelled.cancel_reason, "funds not released");
    let status = app.freeze_err(&other.cycle_id).await;
    assert_eq!(precondition(&status), "CYCLE_STATUS");
    // Cancelled, it no longer holds the quarter for its funding source.
    app.open("2019Q1", FundingSource::Dfid).await.unwrap();
    assert!(event_types(&app.payment_events().await).contains(&"jigi.payments.cycle.cancelled.v1".to_owned()));
}

#[tokio::test]
async fn one_live_cycle_per_quarter_and_funding_source_and_one_transfer_per_household() {
    let mut app = app_with_households().await;
    let first = app.approved_cycle().await;
    let status = app.open("2019Q1", FundingSource::WorldBankIda).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(status.message().contains(&first.cycle_id), "{}", status.message());

    // Another funder's cycle for the same quarter leaves out the households
    // the first one lists: a household gets one quarter's transfer.
    app.enrol(&household(4), SANANDO).await;
    app.wait_eligible(4).await;
    let second = app.open("2019Q1", FundingSource::StateBudget).await.unwrap();
    let frozen = app.freeze(&second.cycle_id).await;
    assert_eq!(frozen.cycle.unwrap().frozen.unwrap().count, 1);
    assert_eq!(frozen.already_in_other_cycle, 3);
}

#[tokio::test]
async fn closing_gives_the_final_reconciliation_and_stops_results() {
    let mut app = app_with_households().await;
    let cycle = app.approved_cycle().await;
    let coordinator = app.person("coordinator", &[Role::PaymentApprover]).await;
    let close = || {
        let mut client = coordinator.clone();
        let cycle_id = cycle.cycle_id.clone();
        async move {
            client
                .close_payment_cycle(ClosePaymentCycleRequest {
                    cycle_id,
                    closed_by: "coordinator".into(),
                })
                .await
        }
    };
    let status = close().await.unwrap_err();
    assert_eq!(precondition(&status), "NOTHING_DISBURSED");
    app.record(
        CASH_AGENT,
        "day-1",
        &cycle.cycle_id,
        vec![
            paid(&household(1), CASH_AGENT, "R-1"),
            not_collected(&household(2), CASH_AGENT),
        ],
    )
    .await
    .unwrap();
    let closed = close().await.unwrap().into_inner();
    assert_eq!(closed.cycle.unwrap().status, CycleStatus::Closed as i32);
    let total = closed.reconciliation.unwrap().total.unwrap();
    assert_eq!(total.paid.unwrap().count, 1);
    assert_eq!(total.not_collected.unwrap().count, 1);
    assert_eq!(total.outstanding.unwrap().count, 1);

    let status = app
        .record(
            MOBILE_AGENT,
            "late",
            &cycle.cycle_id,
            vec![paid(&household(3), MOBILE_AGENT, "M-1")],
        )
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "CYCLE_STATUS");
    let events = app.payment_events().await;
    let last: jigi_proto::events::PaymentCycleClosed = events.last().unwrap().decode().unwrap();
    assert_eq!(last.paid.unwrap().count, 1);
    assert_eq!(last.outstanding.unwrap().amount.unwrap().fcfa, 30_000);
}

/// The subject of a preparer's account federated from the ministry's
/// directory: longer than a cycle's actor may be (64 characters).
const FEDERATED: &str = "f:3b9e6a52-6d0e-4b8c-9a7e-2f4c8d1e5a60:aminata.sangare@dnps.gouv.ml";

#[tokio::test]
async fn bad_input_is_refused_field_by_field() {
    let mut app = spawn_app().await;
    // The user acting is the caller: a request that leaves `prepared_by`
    // empty acts in the token's name. A subject a cycle cannot record as
    // its actor (a federated account's, over 64 characters) is refused
    // naming the field, with every other bad field of the request.
    let mut federated = app.person(FEDERATED, &[Role::PaymentPreparer]).await;
    let bad_open = OpenPaymentCycleRequest {
        period: Some(Period { code: "2019".into() }),
        funding_source: 0,
        amount_per_household: Some(Money { fcfa: -1 }),
        communes: vec!["sikasso.yanfolila.gouanan".into()],
        prepared_by: "".into(),
        ..Default::default()
    };
    let status = federated.open_payment_cycle(bad_open.clone()).await.unwrap_err();
    assert_eq!(
        bad_fields(&status),
        [
            "period.code",
            "funding_source",
            "amount_per_household.fcfa",
            "communes[0]",
            "prepared_by"
        ]
    );
    // Naming someone else is refused before any field is looked at.
    let status = app
        .client
        .open_payment_cycle(OpenPaymentCycleRequest {
            prepared_by: "approver".into(),
            ..bad_open
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("prepared_by"), "{}", status.message());
    let status = app
        .client
        .get_payment_cycle(GetPaymentCycleRequest {
            cycle_id: "not-a-cycle".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["cycle_id"]);
    let status = app
        .client
        .get_payment_cycle(GetPaymentCycleRequest {
            cycle_id: household(99),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    let cycle = app.open("2019Q2", FundingSource::Dfid).await.unwrap();
    let status = app
        .client
        .assign_payment_agents(AssignPaymentAgentsRequest {
            cycle_id: cycle.cycle_id.clone(),
            assignments: vec![
                AgentAssignment {
                    commune: SANANDO.into(),
                    agent_code: "Awa Traoré".into(),
                    channel: PaymentChannel::Cash as i32,
                },
                AgentAssignment {
                    commune: "segou.baroueli".into(),
                    agent_code: "AG-1".into(),
                    channel: 0,
                },
            ],
            assigned_by: PREPARER.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&status),
        [
            "assignments[0].agent_code",
            "assignments[1].commune",
            "assignments[1].channel"
        ]
    );
    let status = federated
        .freeze_payment_cycle(FreezePaymentCycleRequest {
            cycle_id: cycle.cycle_id.clone(),
            prepared_by: "".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["prepared_by"]);
    // A blank name is not the caller's: refused, not taken as "me".
    let status = app
        .client
        .freeze_payment_cycle(FreezePaymentCycleRequest {
            cycle_id: cycle.cycle_id.clone(),
            prepared_by: " ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let after = app.cycle(&cycle.cycle_id).await;
    assert_eq!(after.status, CycleStatus::Draft as i32);
    assert!(after.agents.is_empty(), "a refused assignment assigns nothing");
}

#[tokio::test]
async fn approval_needs_an_agent_for_every_commune_of_the_list() {
    let mut app = app_with_households().await;
    let cycle = app.open("2019Q1", FundingSource::Dfid).await.unwrap();
    app.client
        .assign_payment_agents(AssignPaymentAgentsRequest {
            cycle_id: cycle.cycle_id.clone(),
            assignments: vec![AgentAssignment {
                commune: SANANDO.into(),
                agent_code: CASH_AGENT.into(),
                channel: PaymentChannel::Cash as i32,
            }],
            assigned_by: PREPARER.into(),
        })
        .await
        .unwrap();
    let frozen = app.freeze(&cycle.cycle_id).await.cycle.unwrap();
    let status = app.approve(&frozen, "approver").await.unwrap_err();
    assert_eq!(precondition(&status), "AGENTS_MISSING");
    assert!(status.message().contains(KONOBOUGOU));
    // Assigning the missing commune while frozen makes approval possible.
    app.assign_agents(&cycle.cycle_id).await;
    app.approve(&frozen, "approver").await.unwrap();
    // After approval, agents are fixed.
    let status = app
        .client
        .assign_payment_agents(AssignPaymentAgentsRequest {
            cycle_id: cycle.cycle_id.clone(),
            assignments: vec![AgentAssignment {
                commune: SANANDO.into(),
                agent_code: "OTHER".into(),
                channel: PaymentChannel::Cash as i32,
            }],
            assigned_by: PREPARER.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "CYCLE_STATUS");
}

impl TestApp {
    async fn freeze_err(&mut self, cycle_id: &str) -> tonic::Status {
        self.client
            .freeze_payment_cycle(FreezePaymentCycleRequest {
                cycle_id: cycle_id.into(),
                prepared_by: PREPARER.into(),
            })
            .await
            .unwrap_err()
    }
}
