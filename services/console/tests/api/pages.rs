//! Each page shows the figures the monitoring reports: a quarter paid in
//! two regions, whose figures are known here by construction (10 and 4
//! households registered and enrolled in TM, 7 of 10 and 4 of 4 paid at
//! 30,000 FCFA), read on the pages and beside the monitoring's own answer.

use jigi_common::Region;
use jigi_proto::common::{Component, FundingSource, Money, Period};
use jigi_proto::monitoring::{
    Breakdown, BudgetLine, GetIndicatorsRequest, ListRoundIndicatorsRequest, SetBudgetLineRequest,
};

use crate::helpers::*;

async fn a_paid_quarter() -> TestApp {
    let app = spawn_app().await;
    app.pay_quarter(Region::Sikasso, "2018Q4", "2018-11-15", 10, 7, 3).await;
    app.pay_quarter(Region::Mopti, "2018Q4", "2018-11-20", 4, 4, 0).await;
    app.settled().await;
    app
}

#[tokio::test]
async fn mali_at_a_glance_shows_the_country_each_region_the_map_and_the_series() {
    let app = a_paid_quarter().await;
    let page = app.get("/?period=2018Q4", &app.national_token()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let html = &page.body;
    assert!(html.contains("<html lang=\"en\">"));

    // The country's headline figures.
    assert_eq!(value_after(html, "id=\"kpis-mali\"", "households_registered"), "14");
    assert_eq!(value_after(html, "id=\"kpis-mali\"", "enrolled_tm"), "14");
    assert_eq!(value_after(html, "id=\"kpis-mali\"", "households_paid"), "11");
    assert_eq!(value_after(html, "id=\"kpis-mali\"", "amount_paid"), "330,000");
    assert_eq!(value_after(html, "id=\"kpis-mali\"", "success_rate"), "78.6%");

    // Per region, in the table.
    assert_eq!(value_after(html, "data-area=\"sikasso\"", "households_paid"), "7");
    assert_eq!(value_after(html, "data-area=\"sikasso\"", "amount_paid"), "210,000");
    assert_eq!(value_after(html, "data-area=\"mopti\"", "households_paid"), "4");
    assert_eq!(value_after(html, "data-area=\"mali\"", "households_paid"), "11");

    // The same as the monitoring's own answer.
    let mut client = app.monitoring_client().await;
    let rows = client
        .get_indicators(GetIndicatorsRequest {
            area: "sikasso".into(),
            period: Some(Period { code: "2018Q4".into() }),
            breakdown: Breakdown::Unspecified as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .rows;
    let reported = rows[0].indicators.clone().unwrap();
    assert_eq!(
        value_after(html, "data-area=\"sikasso\"", "households_paid"),
        reported.households_paid.to_string()
    );

    // The map: a tile per region, the one paid most the darkest.
    assert!(html.contains("id=\"tile-map\""));
    assert!(html.contains("aria-label=\"Sikasso : 7\""), "{html}");
    assert!(html.contains("aria-label=\"Mopti : 4\""));
    // The series: eight quarters ending with the one shown.
    assert_eq!(value_after(html, "data-period=\"2018Q4\"", "households_paid"), "11");
    assert_eq!(value_after(html, "data-period=\"2018Q3\"", "households_paid"), "0");
    assert!(html.contains("data-period=\"2017Q1\""));
    assert!(!html.contains("data-period=\"2016Q4\""));
}

#[tokio::test]
async fn pages_are_french_unless_english_is_chosen() {
    let app = a_paid_quarter().await;
    let answer = app
        .http
        .get(app.url("/?period=2018Q4"))
        .header("cookie", format!("jigi_session={}", app.national_token()))
        .send()
        .await
        .unwrap();
    let html = answer.text().await.unwrap();
    assert!(html.contains("<html lang=\"fr\">"));
    assert!(html.contains("Ménages payés"));
    // French groups thousands with a narrow no-break space.
    assert_eq!(value_after(&html, "id=\"kpis-mali\"", "amount_paid"), "330\u{202f}000");
    assert_eq!(value_after(&html, "id=\"kpis-mali\"", "success_rate"), "78,6\u{202f}%");

    // Choosing English sets a cookie and comes back to the page.
    let switch = app.get("/lang?to=en&next=/budget", "").await;
    assert_eq!(switch.status, 303);
    assert_eq!(switch.location.as_deref(), Some("/budget"));
    assert!(switch.set_cookie.unwrap().starts_with("jigi_lang=en"));
    // …and never to another site.
    let away = app.get("/lang?to=en&next=//evil.example/", "").await;
    assert_eq!(away.location.as_deref(), Some("/"));
}

#[tokio::test]
async fn a_region_page_shows_the_region() {
    let app = a_paid_quarter().await;
    let page = app.get("/region/sikasso?period=2018Q4", &app.national_token()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(value_after(&page.body, "id=\"kpis-sikasso\"", "households_paid"), "7");
    assert_eq!(value_after(&page.body, "id=\"kpis-sikasso\"", "amount_paid"), "210,000");
    assert_eq!(value_after(&page.body, "id=\"kpis-sikasso\"", "success_rate"), "70.0%");
    assert_eq!(
        value_after(&page.body, "data-period=\"2018Q4\"", "households_paid"),
        "7"
    );
    // An unknown region or period is a bad request, not an empty page.
    assert_eq!(app.get("/region/atlantis", &app.national_token()).await.status, 400);
    assert_eq!(app.get("/?period=2018Q5", &app.national_token()).await.status, 400);
}

#[tokio::test]
async fn the_budget_page_and_its_csv_show_forecast_achieved_and_execution() {
    let app = a_paid_quarter().await;
    let mut client = app.monitoring_client().await;
    client
        .set_budget_line(SetBudgetLineRequest {
            line: Some(BudgetLine {
                year: 2018,
                component: Component::Tm as i32,
                funding_source: FundingSource::WorldBankIda as i32,
                forecast: Some(Money { fcfa: 1_320_000 }),
                region: String::new(),
            }),
        })
        .await
        .unwrap();
    let page = app.get("/budget?year=2018", &app.national_token()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(text_of_id(&page.body, "budget-forecast"), "1,320,000");
    assert_eq!(text_of_id(&page.body, "budget-achieved"), "330,000");
    assert_eq!(text_of_id(&page.body, "budget-rate"), "25.0%");
    assert!(page.body.contains("id=\"budget-chart\""));

    let csv = app.get("/budget.csv?year=2018", &app.national_token()).await;
    assert_eq!(csv.status, 200);
    assert_eq!(
        csv.body,
        "year,component,funder,forecast_fcfa,achieved_fcfa,execution_rate\n\
         2018,TM,Banque mondiale (IDA),1320000,330000,0.2500\n\
         2018,TM,,1320000,330000,0.2500\n\
         2018,total,,1320000,330000,0.2500\n"
    );
}

#[tokio::test]
async fn the_cycles_page_shows_each_cycle_with_its_control_totals() {
    let app = a_paid_quarter().await;
    let page = app.get("/cycles", &app.national_token()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        value_after(&page.body, "data-cycle=\"sikasso-2018Q4\"", "households_paid"),
        "7"
    );
    assert_eq!(
        value_after(&page.body, "data-cycle=\"sikasso-2018Q4\"", "paid_fcfa"),
        "210,000"
    );
    assert_eq!(
        value_after(&page.body, "data-cycle=\"mopti-2018Q4\"", "households_paid"),
        "4"
    );
    assert_eq!(
        value_after(&page.body, "data-cycle=\"mopti-2018Q4\"", "paid_fcfa"),
        "120,000"
    );
}

#[tokio::test]
async fn the_rounds_page_shows_each_round_by_state_with_its_reconciliation() {
    let app = spawn_app().await;
    app.feed_round(Region::Sikasso, "sikasso-2018-r4", "2018-11-05", 5, 3, true)
        .await;
    app.feed_round(Region::Mopti, "mopti-2018-r4", "2018-11-12", 4, 0, false)
        .await;
    app.settled().await;
    let page = app.get("/rounds", &app.national_token()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let html = &page.body;
    assert!(html.contains("href=\"/rounds\""), "in the navigation");
    let closed = "data-round=\"sikasso-2018-r4\"";
    let open = "data-round=\"mopti-2018-r4\"";
    // 5 children and 3 women, two per household: 4 households; 5 × 6 kg + 3 × 9 kg.
    assert_eq!(value_after(html, closed, "households_served"), "4");
    assert_eq!(value_after(html, closed, "children_served"), "5");
    assert_eq!(value_after(html, closed, "children_planned"), "8");
    assert_eq!(value_after(html, closed, "lactating_served"), "3");
    assert_eq!(value_after(html, closed, "flour_t"), "0.057");
    let reconciled = value_after(html, closed, "reconciled");
    assert!(reconciled.contains("yes"), "{reconciled:?}");
    assert_eq!(value_after(html, open, "children_served"), "4");
    assert_eq!(value_after(html, open, "flour_t"), "0.024");
    assert_eq!(value_after(html, open, "reconciled"), "—");
    // Open rounds come first, each state with its totals.
    assert!(html.find(open).unwrap() < html.find(closed).unwrap());
    assert_eq!(value_after(html, "data-total=\"closed\"", "households_served"), "4");
    assert_eq!(value_after(html, "data-total=\"open\"", "rations"), "4");

    // The same as the monitoring's own answer.
    let mut client = app.monitoring_client().await;
    let rounds = client
        .list_round_indicators(ListRoundIndicatorsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .rounds;
    let reported = rounds.iter().find(|r| r.round_id == "sikasso-2018-r4").unwrap();
    assert_eq!(value_after(html, closed, "rations"), reported.rations.to_string());
    assert!(reported.reconciled);
}

#[tokio::test]
async fn the_links_page_shows_each_region_linked_and_the_metrics_say_so() {
    let app = a_paid_quarter().await;
    let token = app.national_token();
    for region in ["sikasso", "mopti"] {
        eventually(WAIT, "the region's link shown up", || async {
            let page = app.get("/links/table", &token).await;
            page.body
                .contains(&format!("data-region=\"{region}\" data-status=\"up\""))
                .then_some(())
        })
        .await;
    }
    let page = app.get("/links", &token).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"links-table\""));
    // The monitoring has applied everything: nothing waits for it (once the
    // console has read the stream after that).
    eventually(
        WAIT,
        "the links page to show nothing waiting for the monitoring",
        || async {
            let page = app.get("/links/table", &token).await;
            page.body
                .contains("id=\"monitoring-waiting\">Events waiting for the national monitoring : <strong>0</strong>")
                .then_some(())
        },
    )
    .await;
    let metrics = jigi_testkit::http_get(app.console.metrics_addr, "/metrics")
        .await
        .unwrap()
        .body;
    assert_eq!(
        jigi_testkit::metric_value(&metrics, "jigi_console_region_link_up{region=\"sikasso\"}"),
        Some(1.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_console_reads_a_monitoring_served_over_tls_as_deployed() {
    let app = spawn_app_with(true).await;
    app.pay_quarter(Region::Mopti, "2018Q4", "2018-11-20", 4, 4, 0).await;
    app.settled().await;
    let page = app
        .get("/region/mopti?period=2018Q4", &app.supervisor_token(Region::Mopti))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(value_after(&page.body, "id=\"kpis-mopti\"", "households_paid"), "4");
}

#[tokio::test]
async fn an_https_monitoring_without_its_ca_is_refused_at_start() {
    let nats = jigi_testkit::NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let access = jigi_testkit::TestAccess::new(dir.path());
    let config = jigi_console::Config::local(
        &REGIONS,
        "https://monitoring.national:50054",
        &nats.url(),
        access.serve_config().access,
    );
    let err = jigi_console::start(config, tokio_util::sync::CancellationToken::new())
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("JIGI_MONITORING_TLS_CA"), "{err}");
}

#[tokio::test]
async fn pages_are_gzipped_for_browsers_that_ask_and_the_live_feed_never_is() {
    let app = spawn_app().await;
    let cookie = format!("jigi_session={}", app.national_token());
    for path in ["/links", "/assets/console.css"] {
        let answer = app
            .http
            .get(app.url(path))
            .header("cookie", &cookie)
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()["content-encoding"], "gzip", "{path}");
    }
    let live = app
        .http
        .get(app.url("/live/events"))
        .header("cookie", &cookie)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    assert!(live.headers().get("content-encoding").is_none());
}
