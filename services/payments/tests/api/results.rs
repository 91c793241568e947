//! Disbursement results: never paid twice, never above the control totals,
//! every item of a batch reported, and request IDs that replay the first
//! answer and refuse other content.

use jigi_proto::common::Money;
use jigi_proto::events as ev;
use jigi_proto::payments::*;
use tonic::Code;

use crate::helpers::*;

/// Households 1–3 in Sanando and 4 in Konobougou, on an approved cycle.
async fn approved() -> (TestApp, PaymentCycle) {
    let mut app = spawn_app().await;
    for n in 1..=3 {
        app.enrol(&household(n), SANANDO).await;
    }
    app.enrol(&household(4), KONOBOUGOU).await;
    app.wait_eligible(4).await;
    let cycle = app.approved_cycle().await;
    (app, cycle)
}

fn refusals(response: &RecordPaymentResultsResponse) -> Vec<(bool, ResultRefusal)> {
    response
        .outcomes
        .iter()
        .map(|o| (o.accepted, ResultRefusal::try_from(o.refusal).unwrap()))
        .collect()
}

#[tokio::test]
async fn a_household_is_never_paid_twice_in_a_cycle() {
    let (mut app, cycle) = approved().await;
    let first = app
        .record_one(
            CASH_AGENT,
            "pay-1",
            &cycle.cycle_id,
            paid(&household(1), CASH_AGENT, "R-1"),
        )
        .await
        .unwrap();
    assert!(first.outcome.unwrap().accepted);
    assert_eq!(first.paid.unwrap().count, 1);

    // Again, under another request ID and receipt: ALREADY_EXISTS.
    let status = app
        .record_one(
            CASH_AGENT,
            "pay-1-again",
            &cycle.cycle_id,
            paid(&household(1), CASH_AGENT, "R-2"),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    // In a batch, with the household twice in it too.
    let response = app
        .record(
            CASH_AGENT,
            "batch-twice",
            &cycle.cycle_id,
            vec![
                paid(&household(1), CASH_AGENT, "R-3"),
                paid(&household(2), CASH_AGENT, "R-4"),
                paid(&household(2), CASH_AGENT, "R-5"),
                failed(&household(1), CASH_AGENT, FailureReason::AgentOutOfCash),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        refusals(&response),
        [
            (false, ResultRefusal::AlreadyPaid),
            (true, ResultRefusal::Unspecified),
            (false, ResultRefusal::RepeatedInRequest),
            (false, ResultRefusal::AlreadyPaid),
        ]
    );
    assert_eq!((response.accepted, response.refused), (1, 3));
    let after = app.cycle(&cycle.cycle_id).await.paid.unwrap();
    assert_eq!((after.count, after.amount.unwrap().fcfa), (2, 60_000));
    let made = app
        .payment_events()
        .await
        .iter()
        .filter(|e| e.ce_type == "jigi.payments.payment.made.v1")
        .map(|e| e.about.clone())
        .collect::<Vec<_>>();
    assert_eq!(made, [household(1), household(2)], "one payment event per household");
}

#[tokio::test]
async fn a_batch_reports_every_item_and_stores_the_accepted_ones() {
    let (mut app, cycle) = approved().await;
    let mut wrong_amount = paid(&household(3), CASH_AGENT, "R-3");
    wrong_amount.amount = Some(Money { fcfa: 40_000 });
    let mut future = paid(&household(4), CASH_AGENT, "M-9");
    future.date = "2999-01-01".into();
    // Each agent reports their own results: the cash agent of Sanando…
    let response = app
        .record(
            CASH_AGENT,
            "mixed",
            &cycle.cycle_id,
            vec![
                paid(&household(1), CASH_AGENT, "R-1"),
                wrong_amount,
                paid(&household(4), CASH_AGENT, "R-4"),
                paid(&household(99), CASH_AGENT, "R-99"),
                future,
                failed(&household(2), CASH_AGENT, FailureReason::IdentityNotVerified),
                paid(&household(3), CASH_AGENT, "R-1"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        refusals(&response),
        [
            (true, ResultRefusal::Unspecified),
            (false, ResultRefusal::AmountMismatch),
            (false, ResultRefusal::WrongAgent),
            (false, ResultRefusal::NotEntitled),
            (false, ResultRefusal::Invalid),
            (true, ResultRefusal::Unspecified),
            (false, ResultRefusal::ReceiptReused),
        ]
    );
    assert_eq!(response.outcomes[4].field, "results[4].date");
    // …and the mobile money agent of Konobougou.
    let mobile = app
        .record(
            MOBILE_AGENT,
            "mixed-konobougou",
            &cycle.cycle_id,
            vec![not_collected(&household(4), MOBILE_AGENT)],
        )
        .await
        .unwrap();
    assert_eq!(refusals(&mobile), [(true, ResultRefusal::Unspecified)]);
    assert!(
        response
            .outcomes
            .iter()
            .chain(&mobile.outcomes)
            .all(|o| !o.household_id.is_empty()),
        "each outcome names its household"
    );
    assert_eq!((response.accepted, response.refused), (2, 5));
    assert_eq!(
        (response.accepted + mobile.accepted, response.refused + mobile.refused),
        (3, 5)
    );

    let r = app.reconciliation(&cycle.cycle_id).await;
    let total = r.total.unwrap();
    assert_eq!(total.expected.unwrap().count, 4);
    assert_eq!(total.paid.unwrap().count, 1);
    assert_eq!(total.failed.unwrap().count, 1);
    assert_eq!(total.not_collected.unwrap().count, 1);
    assert_eq!(
        total.outstanding.unwrap().count,
        1,
        "household 3: its refused result changed nothing"
    );

    let events = app.payment_events().await;
    let failed: ev::PaymentFailed = events
        .iter()
        .find(|e| e.ce_type == "jigi.payments.payment.failed.v1")
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(failed.reason, ev::PaymentFailureReason::IdentityNotVerified as i32);
    assert_eq!(failed.amount.unwrap().fcfa, 30_000);
    let uncollected: ev::PaymentNotCollected = events
        .iter()
        .find(|e| e.ce_type == "jigi.payments.payment.not_collected.v1")
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(uncollected.channel, ev::PaymentChannelKind::MobileMoney as i32);
    assert_eq!(uncollected.location.unwrap().commune, KONOBOUGOU);

    // A failed or uncollected transfer can be paid on a later visit.
    let later = app
        .record(
            CASH_AGENT,
            "second-visit",
            &cycle.cycle_id,
            vec![
                paid(&household(2), CASH_AGENT, "R-2"),
                paid(&household(3), CASH_AGENT, "R-1"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        refusals(&later)[1],
        (false, ResultRefusal::ReceiptReused),
        "a receipt of an earlier request"
    );
    let later_mobile = app
        .record(
            MOBILE_AGENT,
            "second-visit-konobougou",
            &cycle.cycle_id,
            vec![paid(&household(4), MOBILE_AGENT, "M-4")],
        )
        .await
        .unwrap();
    assert_eq!(later.accepted + later_mobile.accepted, 2);
    assert_eq!(later_mobile.paid.unwrap().count, 3);
}

#[tokio::test]
async fn a_request_id_replays_its_first_answer_and_refuses_other_content() {
    let (mut app, cycle) = approved().await;
    let batch = vec![
        paid(&household(1), CASH_AGENT, "R-1"),
        paid(&household(1), CASH_AGENT, "R-1b"),
    ];
    let first = app
        .record(CASH_AGENT, "agent-7/2019-02-01", &cycle.cycle_id, batch.clone())
        .await
        .unwrap();
    let again = app
        .record(CASH_AGENT, "agent-7/2019-02-01", &cycle.cycle_id, batch)
        .await
        .unwrap();
    assert_eq!(first, again, "the same ID and content get the first answer");
    assert_eq!(
        refusals(&again)[1],
        (false, ResultRefusal::RepeatedInRequest),
        "not 'already paid': it is the first answer"
    );

    let status = app
        .record(
            CASH_AGENT,
            "agent-7/2019-02-01",
            &cycle.cycle_id,
            vec![paid(&household(2), CASH_AGENT, "R-2")],
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    // The ID is shared with the single-result RPC.
    let status = app
        .record_one(
            CASH_AGENT,
            "agent-7/2019-02-01",
            &cycle.cycle_id,
            paid(&household(2), CASH_AGENT, "R-2"),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);

    let single = app
        .record_one(
            CASH_AGENT,
            "one-3",
            &cycle.cycle_id,
            paid(&household(3), CASH_AGENT, "R-3"),
        )
        .await
        .unwrap();
    let replay = app
        .record_one(
            CASH_AGENT,
            "one-3",
            &cycle.cycle_id,
            paid(&household(3), CASH_AGENT, "R-3"),
        )
        .await
        .unwrap();
    assert_eq!(single, replay);

    let after = app.cycle(&cycle.cycle_id).await.paid.unwrap();
    assert_eq!(after.count, 2, "households 1 and 3 only: household 2 was never paid");
    let made = app
        .payment_events()
        .await
        .iter()
        .filter(|e| e.ce_type == "jigi.payments.payment.made.v1")
        .count();
    assert_eq!(made, 2, "no event for a replay");
}

#[tokio::test]
async fn paid_totals_never_exceed_the_control_totals() {
    let (mut app, cycle) = approved().await;
    let control = cycle.control.unwrap();
    assert_eq!((control.count, control.amount.unwrap().fcfa), (4, 120_000));
    // More than the entitlement, a household not on the list, an amount
    // that would make the cycle's total exceed its control amount: refused.
    let mut too_much = paid(&household(1), CASH_AGENT, "R-1");
    too_much.amount = Some(Money { fcfa: 120_000 });
    let status = app
        .record_one(CASH_AGENT, "too-much", &cycle.cycle_id, too_much)
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "AMOUNT_MISMATCH");
    let status = app
        .record_one(
            CASH_AGENT,
            "stranger",
            &cycle.cycle_id,
            paid(&household(50), CASH_AGENT, "R-50"),
        )
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "NOT_ENTITLED");

    let sanando = vec![
        paid(&household(1), CASH_AGENT, "R-1"),
        paid(&household(2), CASH_AGENT, "R-2"),
        paid(&household(3), CASH_AGENT, "R-3"),
    ];
    let konobougou = vec![paid(&household(4), MOBILE_AGENT, "M-4")];
    let accepted = app
        .record(CASH_AGENT, "all", &cycle.cycle_id, sanando)
        .await
        .unwrap()
        .accepted
        + app
            .record(MOBILE_AGENT, "all-konobougou", &cycle.cycle_id, konobougou)
            .await
            .unwrap()
            .accepted;
    assert_eq!(accepted, 4);
    let paid_totals = app.cycle(&cycle.cycle_id).await.paid.unwrap();
    assert_eq!(paid_totals, control, "paid exactly the control totals");
    let r = app.reconciliation(&cycle.cycle_id).await;
    for line in r.by_commune.iter().chain(&r.by_agent).chain(r.total.iter()) {
        let expected = line.expected.unwrap();
        let parts = [&line.paid, &line.failed, &line.not_collected, &line.outstanding].map(|t| (*t).unwrap());
        let count: i64 = parts.iter().map(|t| t.count).sum();
        let amount: i64 = parts.iter().map(|t| t.amount.unwrap().fcfa).sum();
        assert_eq!((count, amount), (expected.count, expected.amount.unwrap().fcfa));
    }
}

#[tokio::test]
async fn results_need_a_request_id_and_valid_fields() {
    let (mut app, cycle) = approved().await;
    let status = app
        .record(
            CASH_AGENT,
            "",
            &cycle.cycle_id,
            vec![paid(&household(1), CASH_AGENT, "R-1")],
        )
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["request_id"]);
    let status = app
        .record(CASH_AGENT, "empty", &cycle.cycle_id, vec![])
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["results"]);
    let mut bad = failed(&household(1), "", FailureReason::Unspecified);
    bad.date = "01/02/2019".into();
    let status = app
        .record_one(CASH_AGENT, "bad", &cycle.cycle_id, bad)
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&status),
        ["result.agent_code", "result.date", "result.failure_reason"]
    );
    assert_eq!(app.cycle(&cycle.cycle_id).await.status, CycleStatus::Approved as i32);
}
