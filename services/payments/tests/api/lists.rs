//! Payment lists: an agent's list as CSV, streamed; entitlements a page at
//! a time; cycles listed.

use futures::StreamExt;
use jigi_proto::payments::*;
use tonic::Code;

use crate::helpers::*;

async fn export(app: &mut TestApp, cycle_id: &str, agent: &str, only_unpaid: bool) -> (String, i64, usize) {
    export_as(&mut app.client, cycle_id, agent, only_unpaid).await
}

async fn export_as(client: &mut Client, cycle_id: &str, agent: &str, only_unpaid: bool) -> (String, i64, usize) {
    let mut stream = client
        .export_payment_list(ExportPaymentListRequest {
            cycle_id: cycle_id.into(),
            agent_code: agent.into(),
            only_unpaid,
        })
        .await
        .unwrap()
        .into_inner();
    let (mut csv, mut rows, mut pieces) = (String::new(), 0, 0);
    while let Some(piece) = stream.next().await {
        let piece = piece.unwrap();
        csv.push_str(&piece.csv);
        rows += piece.rows;
        pieces += 1;
    }
    (csv, rows, pieces)
}

#[tokio::test]
async fn an_agent_gets_the_csv_list_of_its_communes_only() {
    let mut app = spawn_app().await;
    // More households than one piece of the stream holds.
    for n in 1..=5_200 {
        app.enrol(&household(n), SANANDO).await;
    }
    app.enrol(&household(9_001), KONOBOUGOU).await;
    app.wait_eligible(5_201).await;
    let cycle = app.approved_cycle().await;

    let (csv, rows, pieces) = export(&mut app, &cycle.cycle_id, CASH_AGENT, false).await;
    assert_eq!(rows, 5_200);
    assert!(pieces >= 2, "streamed in pieces, not one message");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "cycle_id,period,household_id,region,cercle,commune,village,amount_fcfa,agent_code,channel,status"
    );
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        first,
        [
            cycle.cycle_id.as_str(),
            "2019Q1",
            household(1).as_str(),
            "segou",
            "segou.baroueli",
            SANANDO,
            "segou.baroueli.sanando.sanando",
            "30000",
            CASH_AGENT,
            "cash",
            "pending"
        ]
    );
    assert_eq!(csv.lines().count(), 5_201, "a header and one line per household");
    assert!(
        !csv.contains(&household(9_001)),
        "another agent's commune is not on the list"
    );
    // The agent, naming no agent, gets their own list: the same one.
    let mut cash_agent = app.agent(CASH_AGENT).await;
    let (own, own_rows, _) = export_as(&mut cash_agent, &cycle.cycle_id, "", false).await;
    assert_eq!((own_rows, own == csv), (5_200, true), "the agent's own list");

    // After a payment, the list of what remains to pay shrinks.
    app.record_one(
        CASH_AGENT,
        "pay-1",
        &cycle.cycle_id,
        paid(&household(1), CASH_AGENT, "R-1"),
    )
    .await
    .unwrap();
    let (_, unpaid, _) = export(&mut app, &cycle.cycle_id, CASH_AGENT, true).await;
    assert_eq!(unpaid, 5_199);
    let (mobile, rows, _) = export(&mut app, &cycle.cycle_id, MOBILE_AGENT, false).await;
    assert_eq!(rows, 1);
    assert!(mobile.contains(",mobile_money,pending"));

    let status = app
        .client
        .export_payment_list(ExportPaymentListRequest {
            cycle_id: cycle.cycle_id.clone(),
            agent_code: "UNKNOWN-AGENT".into(),
            only_unpaid: false,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn entitlements_and_cycles_are_listed_a_page_at_a_time() {
    let mut app = spawn_app().await;
    for n in 1..=25 {
        app.enrol(&household(n), if n % 2 == 0 { KONOBOUGOU } else { SANANDO })
            .await;
    }
    app.wait_eligible(25).await;
    let cycle = app.approved_cycle().await;
    app.record(
        CASH_AGENT,
        "day-1",
        &cycle.cycle_id,
        vec![paid(&household(1), CASH_AGENT, "R-1")],
    )
    .await
    .unwrap();
    app.record(
        MOBILE_AGENT,
        "day-1-konobougou",
        &cycle.cycle_id,
        vec![failed(&household(2), MOBILE_AGENT, FailureReason::AccountInvalid)],
    )
    .await
    .unwrap();

    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .client
            .list_entitlements(ListEntitlementsRequest {
                cycle_id: cycle.cycle_id.clone(),
                page_size: 10,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.entitlements.len() <= 10);
        seen.extend(page.entitlements);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 25, "every entitlement once");
    let paid_one = seen.iter().find(|e| e.household_id == household(1)).unwrap();
    assert_eq!(paid_one.status, EntitlementStatus::Paid as i32);
    assert_eq!(paid_one.receipt_reference, "R-1");
    assert_eq!(paid_one.agent_code, CASH_AGENT);
    assert_eq!(paid_one.result_date, today());
    let failed_one = seen.iter().find(|e| e.household_id == household(2)).unwrap();
    assert_eq!(failed_one.failure_reason, FailureReason::AccountInvalid as i32);
    assert_eq!(failed_one.channel, PaymentChannel::MobileMoney as i32);

    let konobougou_failed = app
        .client
        .list_entitlements(ListEntitlementsRequest {
            cycle_id: cycle.cycle_id.clone(),
            agent_code: MOBILE_AGENT.into(),
            status: EntitlementStatus::Failed as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entitlements;
    assert_eq!(konobougou_failed.len(), 1);
    let status = app
        .client
        .list_entitlements(ListEntitlementsRequest {
            cycle_id: cycle.cycle_id.clone(),
            page_token: "garbage!".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["page_token"]);

    app.open("2019Q2", FundingSource::WorldBankIda).await.unwrap();
    let cycles = app
        .client
        .list_payment_cycles(ListPaymentCyclesRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cycles.cycles[0].period.clone().unwrap().code, "2019Q2", "newest first");
    let rest = app
        .client
        .list_payment_cycles(ListPaymentCyclesRequest {
            page_size: 1,
            page_token: cycles.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.cycles[0].cycle_id, cycle.cycle_id);
    let disbursing = app
        .client
        .list_payment_cycles(ListPaymentCyclesRequest {
            status: CycleStatus::Disbursing as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .cycles;
    assert_eq!(disbursing.len(), 1);
}
