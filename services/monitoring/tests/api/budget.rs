//! The PTBA: forecast lines, achievements, execution rates.

use jigi_proto::common::{Component, FundingSource, Money};
use jigi_proto::monitoring::*;
use tonic::Code;

use crate::helpers::spawn_app;

fn line(component: Component, source: FundingSource, fcfa: i64) -> SetBudgetLineRequest {
    SetBudgetLineRequest {
        line: Some(BudgetLine {
            year: 2018,
            component: component as i32,
            funding_source: source as i32,
            forecast: Some(Money { fcfa }),
            ..Default::default()
        }),
    }
}

fn expenditure(id: &str, component: Component, source: FundingSource, fcfa: i64, on: &str) -> RecordExpenditureRequest {
    RecordExpenditureRequest {
        request_id: id.into(),
        year: 2018,
        component: component as i32,
        funding_source: source as i32,
        amount: Some(Money { fcfa }),
        spent_on: on.into(),
        description: "travaux".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn execution_rate_per_line_component_and_overall_is_exact() {
    let mut app = spawn_app().await;
    // The 2018 PTBA: 13.331 billion forecast.
    for request in [
        line(Component::Tm, FundingSource::WorldBankIda, 8_000_000_000),
        line(Component::Agr, FundingSource::Dfid, 2_331_000_000),
        line(Component::Himo, FundingSource::StateBudget, 3_000_000_000),
    ] {
        app.client.set_budget_line(request).await.unwrap();
    }
    // Replacing a line keeps one line.
    app.client
        .set_budget_line(line(Component::Himo, FundingSource::StateBudget, 3_000_000_000))
        .await
        .unwrap();
    for request in [
        expenditure(
            "tm-2018-1",
            Component::Tm,
            FundingSource::WorldBankIda,
            6_512_000_000,
            "2018-12-20",
        ),
        expenditure(
            "agr-2018-1",
            Component::Agr,
            FundingSource::Dfid,
            1_000_000_000,
            "2018-06-30",
        ),
        expenditure(
            "himo-2018-1",
            Component::Himo,
            FundingSource::StateBudget,
            2_000_000_000,
            "2018-09-30",
        ),
    ] {
        app.client.record_expenditure(request.clone()).await.unwrap();
        // The same entry again returns the first answer and counts once.
        app.client.record_expenditure(request).await.unwrap();
    }
    let reused = app
        .client
        .record_expenditure(expenditure(
            "agr-2018-1",
            Component::Agr,
            FundingSource::Dfid,
            5,
            "2018-06-30",
        ))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists);

    let execution = app
        .client
        .get_budget_execution(GetBudgetExecutionRequest {
            year: 2018,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(execution.forecast.unwrap().fcfa, 13_331_000_000);
    assert_eq!(execution.achieved.unwrap().fcfa, 9_512_000_000);
    assert_eq!(execution.execution_rate, 9_512_000_000.0 / 13_331_000_000.0);
    assert_eq!(execution.lines.len(), 3);
    let himo = execution
        .components
        .iter()
        .find(|c| c.component == Component::Himo as i32)
        .unwrap();
    assert_eq!(himo.execution_rate, 2.0 / 3.0);

    let other_year = app
        .client
        .get_budget_execution(GetBudgetExecutionRequest {
            year: 2019,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(other_year.lines.is_empty());
    assert_eq!(other_year.execution_rate, 0.0);
}
