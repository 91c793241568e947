//! Bad queries and bad budget entries are refused, naming the field, and
//! change nothing.

use jigi_proto::common::{Component, FundingSource, Money, Period};
use jigi_proto::monitoring::*;
use jigi_testkit::bad_fields as fields;

use crate::helpers::spawn_app;

fn query(area: &str, period: Option<&str>) -> GetIndicatorsRequest {
    GetIndicatorsRequest {
        area: area.into(),
        period: period.map(|code| Period { code: code.into() }),
        breakdown: 0,
    }
}

#[tokio::test]
async fn bad_queries_are_refused_clearly() {
    let mut app = spawn_app().await;
    for (request, field) in [
        (query("kidal", Some("2018Q4")), "area"),
        (query("sikasso", Some("2018Q5")), "period.code"),
        (query("sikasso", Some("Q4-2018")), "period.code"),
        (query("sikasso", None), "period"),
        (query("segou.baroueli.sanando.dioforongo", Some("2018")), "area"),
    ] {
        let status = app.client.get_indicators(request).await.unwrap_err();
        assert_eq!(fields(&status), [field]);
    }
    let coarser = app
        .client
        .get_indicators(GetIndicatorsRequest {
            breakdown: Breakdown::Region as i32,
            ..query("sikasso.yanfolila", Some("2018"))
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&coarser), ["breakdown"]);
}

#[tokio::test]
async fn bad_budget_entries_are_refused_and_change_nothing() {
    let mut app = spawn_app().await;
    let negative = app
        .client
        .set_budget_line(SetBudgetLineRequest {
            line: Some(BudgetLine {
                year: 2018,
                component: Component::Tm as i32,
                funding_source: FundingSource::Dfid as i32,
                forecast: Some(Money { fcfa: -1_000 }),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&negative), ["line.forecast"]);
    let unknown = app
        .client
        .set_budget_line(SetBudgetLineRequest {
            line: Some(BudgetLine {
                year: 2018,
                component: 42,
                funding_source: 0,
                forecast: Some(Money { fcfa: 1 }),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&unknown), ["line.component", "line.funding_source"]);
    let zero_spending = app
        .client
        .record_expenditure(RecordExpenditureRequest {
            request_id: "x-1".into(),
            year: 2018,
            component: Component::Agr as i32,
            funding_source: FundingSource::Dfid as i32,
            amount: Some(Money { fcfa: 0 }),
            spent_on: "2017-12-31".into(),
            description: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&zero_spending), ["amount", "spent_on"]);
    // The request ID is required, and named with the entry's other problems.
    let no_request_id = app
        .client
        .record_expenditure(RecordExpenditureRequest {
            request_id: String::new(),
            year: 2018,
            component: Component::Agr as i32,
            funding_source: FundingSource::Dfid as i32,
            amount: Some(Money { fcfa: -5 }),
            spent_on: "2018-05-01".into(),
            description: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&no_request_id), ["request_id", "amount"]);
    let execution = app
        .client
        .get_budget_execution(GetBudgetExecutionRequest {
            year: 2018,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(execution.lines.is_empty(), "nothing was stored");
    let expenditures: i64 = app
        .database()
        .read(|conn| conn.query_scalar("SELECT COUNT(*) FROM expenditures", jigi_storage::params![]))
        .await
        .unwrap();
    assert_eq!(expenditures, 0, "no expenditure was stored");
}
