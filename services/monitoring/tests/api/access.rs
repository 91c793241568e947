//! Who may read what: a regional supervisor reads their region only, the
//! budget is the national team's, and a call without a token is refused.

use jigi_auth::Role;
use jigi_common::Region;
use jigi_proto::common::{Component, FundingSource, Money, Period};
use jigi_proto::monitoring::monitoring_service_client::MonitoringServiceClient;
use jigi_proto::monitoring::*;
use tonic::Code;

use crate::helpers::*;

fn indicators(area: &str) -> GetIndicatorsRequest {
    GetIndicatorsRequest {
        area: area.into(),
        period: Some(Period { code: "2018".into() }),
        breakdown: 0,
    }
}

fn budget_line() -> SetBudgetLineRequest {
    SetBudgetLineRequest {
        line: Some(BudgetLine {
            year: 2018,
            component: Component::Tm as i32,
            funding_source: FundingSource::WorldBankIda as i32,
            forecast: Some(Money { fcfa: 1_000 }),
            ..Default::default()
        }),
    }
}

#[tokio::test]
async fn a_regional_supervisor_reads_their_region_only() {
    let mut app = spawn_app().await;
    app.publish(
        Region::Sikasso,
        "s0",
        &registered("s0", "sikasso.sikasso.finkolo", "2018-07-02"),
        at("2018-07-02T08:00:00Z"),
    )
    .await;
    app.publish(
        Region::Mopti,
        "m0",
        &registered("m0", "mopti.mopti.sio", "2018-07-02"),
        at("2018-07-02T08:00:00Z"),
    )
    .await;
    app.settled().await;
    let token = app
        .access
        .token("b.coulibaly", &[Role::RegionalSupervisor], Region::Sikasso);
    let mut supervisor = app.client_as(&token).await;

    let rows = supervisor
        .get_indicators(indicators("sikasso"))
        .await
        .unwrap()
        .into_inner()
        .rows;
    assert_eq!(rows[0].indicators.as_ref().unwrap().households_registered, 1);
    for area in ["", "mopti", "mopti.mopti.sio"] {
        let refused = supervisor.get_indicators(indicators(area)).await.unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{area:?}: {refused:?}");
    }
    let refused = supervisor
        .export_csv(ExportCsvRequest {
            area: "mopti".into(),
            period: Some(Period { code: "2018".into() }),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    let regions: Vec<String> = supervisor
        .get_freshness(GetFreshnessRequest {})
        .await
        .unwrap()
        .into_inner()
        .regions
        .into_iter()
        .map(|r| r.region)
        .collect();
    assert_eq!(regions, ["sikasso"]);
    let national: Vec<String> = app
        .client
        .get_freshness(GetFreshnessRequest {})
        .await
        .unwrap()
        .into_inner()
        .regions
        .into_iter()
        .map(|r| r.region)
        .collect();
    assert_eq!(national, ["sikasso", "mopti"]);

    let refused = supervisor.set_budget_line(budget_line()).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn the_budget_is_entered_by_the_national_team_and_read_by_auditors() {
    let mut app = spawn_app().await;
    let auditor = app.access.national_token("a.keita", &[Role::Auditor]);
    let mut auditor = app.client_as(&auditor).await;
    let refused = auditor.set_budget_line(budget_line()).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    app.client.set_budget_line(budget_line()).await.unwrap();
    let execution = auditor
        .get_budget_execution(GetBudgetExecutionRequest {
            year: 2018,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(execution.forecast.unwrap().fcfa, 1_000);

    let anonymous = jigi_testkit::connect_channel(app.running.as_ref().unwrap().grpc_addr).await;
    let refused = MonitoringServiceClient::new(anonymous)
        .get_freshness(GetFreshnessRequest {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
}
