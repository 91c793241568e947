//! A programme quarter end to end (issue 5): a national hub and the leaf
//! nodes of Sikasso and Mopti, run from the deployment's NATS files; the
//! registry, payments and nutrition services of each region on its leaf;
//! the monitoring on the hub. The `jigi` quarter driver registers, enrols,
//! pays and distributes in both regions; the national indicators then equal
//! what was done, per region and in total, and so do the regional
//! services' own reports.

use std::time::Duration;

use jigi_auth::Role;
use jigi_common::Region;
use jigi_proto::monitoring::{ListRoundIndicatorsRequest, RoundState};
use jigi_stack::LocalStack;
use jigi_stack::clients;
use jigi_stack::national::{self, Figures};
use jigi_stack::progress::Bars;
use jigi_stack::quarter::{self, QuarterPlan, QuarterSummary};
use jigi_testkit::eventually;

const WAIT: Duration = Duration::from_secs(90);
const HOUSEHOLDS: u64 = 60;

#[tokio::test]
async fn a_quarter_in_two_regions_adds_up_in_the_national_indicators() {
    jigi_testkit::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let regions = [Region::Sikasso, Region::Mopti];
    // The local stack as `jigi demo` runs it: the deployment's NATS files,
    // the services of both regions and the monitoring, tokens checked.
    let stack = LocalStack::start(dir.path(), &regions).await.expect("the stack starts");
    let nodes = &stack.regions;

    // The quarter, in both regions at once.
    let plans: Vec<QuarterPlan> = regions.iter().map(|r| QuarterPlan::new(*r, HOUSEHOLDS)).collect();
    let bars = Bars::hidden();
    let runs = nodes.iter().zip(&plans).map(|(node, plan)| {
        let endpoints = node.endpoints();
        let bars = bars.clone();
        async move { quarter::run(&endpoints, plan, &bars).await }
    });
    let summaries: Vec<QuarterSummary> = futures::future::try_join_all(runs).await.expect("the quarter runs");

    // The driver did something worth checking in each region.
    for summary in &summaries {
        let region = &summary.region;
        assert_eq!(summary.households_registered, HOUSEHOLDS as i64, "{region}");
        assert!(
            summary.enrolled_tm > 0 && summary.enrolled_pnp > 0,
            "{region}: {summary:?}"
        );
        assert_eq!(
            summary.entitlements, summary.enrolled_tm,
            "{region}: every TM household is entitled"
        );
        assert_eq!(
            summary.entitled_fcfa,
            30_000 * summary.enrolled_tm,
            "{region}: the programme rule"
        );
        assert_eq!(
            summary.paid + summary.failed + summary.not_collected,
            summary.entitlements,
            "{region}"
        );
        assert!(
            summary.paid > 0 && summary.failed > 0 && summary.not_collected > 0,
            "{region}: {summary:?}"
        );
        assert_eq!(summary.paid_fcfa, 30_000 * summary.paid, "{region}");
        assert_eq!(
            summary.reached.total(),
            summary.beneficiaries,
            "{region}: every eligible person fed"
        );
        assert!(summary.reached.children > 0, "{region}");
        assert_eq!(
            summary.flour_distributed_grams,
            3_000 * summary.reached.children
                + 4_500 * (summary.reached.pregnant_women + summary.reached.lactating_women),
            "{region}: the round's rations"
        );
        assert!(
            summary.flour_received_grams >= summary.flour_distributed_grams,
            "{region}"
        );
        let actions: Vec<&str> = summary.traces.iter().map(|t| t.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "enrol a household in TM",
                "approve the payment cycle",
                "record a payment",
                "distribute a ration"
            ]
        );
        for trace in &summary.traces {
            assert_eq!(trace.trace_id.len(), 32, "{region}: {trace:?}");
            assert!(trace.trace_id.chars().all(|c| c.is_ascii_hexdigit()), "{trace:?}");
        }
    }
    // Each region's own services agree with the driver.
    for (node, summary) in nodes.iter().zip(&summaries) {
        let (households, paid, fed) = jigi_e2e::programme::own_reports(node, &stack.staff, summary).await;
        assert_eq!(households, summary.households_registered, "{} registry", node.region);
        assert_eq!(
            paid,
            (summary.paid, summary.paid_fcfa, summary.failed, summary.not_collected),
            "{} payments' reconciliation",
            node.region
        );
        assert_eq!(
            fed,
            (
                summary.reached.children,
                summary.reached.pregnant_women,
                summary.reached.lactating_women,
                summary.flour_distributed_grams
            ),
            "{} nutrition's round report",
            node.region
        );
    }

    // The PTBA: four quarters of each region's list, each region its own funder.
    let operator = stack.staff.national("n.diallo", &[Role::NationalOperator]);
    let channel = clients::connect(&format!("http://{}", stack.monitoring_addr()), "monitoring", "", "")
        .await
        .unwrap();
    let mut traced = clients::monitoring_client_as(channel, operator);
    let mut client = traced.clone();
    let year = chrono::Datelike::year(&plans[0].today);
    let forecasts = national::forecasts(&summaries);
    assert_eq!(forecasts.len(), 2, "Sikasso and Mopti have different funders");
    national::set_budget(&mut traced, year, &forecasts).await.unwrap();

    // The national indicators equal what was done, per region and in total.
    let expected = national::expected(&summaries);
    let period = plans[0].period().to_string();
    let sources: Vec<(String, i32)> = summaries.iter().map(|s| (s.region.clone(), s.funding_source)).collect();
    let reported: Vec<Figures> = eventually(WAIT, "the national indicators to show the whole quarter", || {
        let mut traced = traced.clone();
        let (period, sources, expected) = (period.clone(), sources.clone(), expected.clone());
        async move {
            let reported = national::reported(&mut traced, &period, year, &sources).await.ok()?;
            reported
                .iter()
                .map(Figures::counts)
                .eq(expected.iter().map(Figures::counts))
                .then_some(reported)
        }
    })
    .await;
    let total = reported.last().unwrap();
    assert_eq!(total.name, "Mali");
    let sum = |f: fn(&QuarterSummary) -> i64| summaries.iter().map(f).sum::<i64>();
    assert_eq!(total.households_registered, 2 * HOUSEHOLDS as i64);
    assert_eq!(total.enrolled_tm, sum(|s| s.enrolled_tm));
    assert_eq!(total.enrolled_pnp, sum(|s| s.enrolled_pnp));
    assert_eq!(total.households_paid, sum(|s| s.paid));
    assert_eq!(total.amount_paid_fcfa, sum(|s| s.paid_fcfa));
    assert_eq!(total.payments_failed, sum(|s| s.failed));
    assert_eq!(total.payments_not_collected, sum(|s| s.not_collected));
    assert_eq!(total.children_reached, sum(|s| s.reached.children));
    assert_eq!(total.pregnant_women_reached, sum(|s| s.reached.pregnant_women));
    assert_eq!(total.lactating_women_reached, sum(|s| s.reached.lactating_women));
    assert_eq!(total.flour_distributed_grams, sum(|s| s.flour_distributed_grams));
    assert_eq!(
        total.budget_achieved_fcfa,
        sum(|s| s.paid_fcfa),
        "budget achieved = TM paid"
    );
    assert_eq!(total.budget_forecast_fcfa, 4 * sum(|s| s.entitled_fcfa));
    let paid = sum(|s| s.paid) as f64;
    let reported_results = (sum(|s| s.paid) + sum(|s| s.failed) + sum(|s| s.not_collected)) as f64;
    assert!((total.success_rate - paid / reported_results).abs() < 1e-9);
    for (row, summary) in reported.iter().zip(&summaries) {
        assert_eq!(row.area, summary.region);
        assert_eq!(row.households_paid, summary.paid, "{}", row.area);
        assert_eq!(
            row.budget_achieved_fcfa, summary.paid_fcfa,
            "{}: its funder's line",
            row.area
        );
        assert_eq!(
            row.flour_distributed_grams, summary.flour_distributed_grams,
            "{}",
            row.area
        );
    }

    // Per-cycle indicators name each region's cycle with its totals.
    let cycles = client
        .list_cycle_indicators(jigi_proto::monitoring::ListCycleIndicatorsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .cycles;
    for summary in &summaries {
        let cycle = cycles
            .iter()
            .find(|c| c.cycle_id == summary.cycle_id)
            .expect("the cycle is known");
        assert_eq!(cycle.region, summary.region);
        assert_eq!(cycle.expected_households, summary.entitlements);
        assert_eq!(cycle.households_paid, summary.paid);
        assert_eq!(cycle.funding_source, summary.funding_source);
    }

    // MA, AGR and HIMO: what the driver recorded and paid is what the
    // national monitoring counts, and the PTBA's AGR and HIMO lines are
    // achieved by the grants and wages paid.
    for summary in &summaries {
        let region = &summary.region;
        assert!(
            summary.enrolled_ma > 0 && summary.ma_sessions > 0 && summary.ma_people > 0,
            "{region}: {summary:?}"
        );
        assert!(summary.agr_plans > 0 && summary.himo_sites > 0, "{region}: {summary:?}");
        assert_eq!(
            summary.agr_released_fcfa,
            75_000 * summary.agr_plans,
            "{region}: first tranches"
        );
        assert_eq!(
            summary.himo_wages_fcfa,
            1_500 * summary.himo_person_days,
            "{region}: days × wage"
        );
        assert!(
            summary.agr_paid_fcfa <= summary.agr_released_fcfa && summary.agr_paid > 0,
            "{region}"
        );
        assert!(
            summary.himo_paid_fcfa <= summary.himo_wages_fcfa && summary.himo_paid > 0,
            "{region}"
        );
    }
    national::set_activity_budget(&mut traced, year, &summaries)
        .await
        .unwrap();
    let components = eventually(WAIT, "the national indicators to show MA, AGR and HIMO", || {
        let mut traced = traced.clone();
        let (period, summaries) = (period.clone(), summaries.clone());
        async move {
            let components = national::components(&mut traced, &period, year).await.ok()?;
            let country = components.rows.last()?.clone();
            let sum = |f: fn(&QuarterSummary) -> i64| summaries.iter().map(f).sum::<i64>();
            (country.ma_sessions == sum(|s| s.ma_sessions)
                && country.agr_grants_paid_fcfa == sum(|s| s.agr_paid_fcfa)
                && country.himo_wages_paid_fcfa == sum(|s| s.himo_paid_fcfa))
            .then_some(components)
        }
    })
    .await;
    let country = components.rows.last().unwrap();
    assert_eq!(
        country.ma_people,
        sum(|s| s.ma_people),
        "distinct people: one session each"
    );
    assert_eq!(country.agr_plans, sum(|s| s.agr_plans));
    assert_eq!(country.agr_grants_released_fcfa, sum(|s| s.agr_released_fcfa));
    assert_eq!(country.himo_sites, sum(|s| s.himo_sites));
    assert_eq!(country.himo_person_days, sum(|s| s.himo_person_days));
    assert_eq!(country.himo_mean_delay_days, 21.0, "every site set up three weeks late");
    let line = |code: &str| {
        components
            .budget
            .iter()
            .find(|(component, _, _)| component == code)
            .map(|(_, forecast, achieved)| (*forecast, *achieved))
            .unwrap()
    };
    assert_eq!(line("AGR"), (150_000 * sum(|s| s.agr_plans), sum(|s| s.agr_paid_fcfa)));
    assert_eq!(
        line("HIMO"),
        (4 * sum(|s| s.himo_wages_fcfa), sum(|s| s.himo_paid_fcfa))
    );
    assert_eq!(line("TM").1, sum(|s| s.paid_fcfa), "TM achieved counts transfers only");

    // PNP rounds: each region closes its round at its own nutrition
    // service; the monitoring shows it closed, with the people and flour
    // the driver fed, and the region's figures at closing agreeing.
    for (node, summary) in nodes.iter().zip(&summaries) {
        let supervisor = stack
            .staff
            .in_region("s.dembele", &[Role::RegionalSupervisor], node.region, None);
        let channel = clients::connect(&format!("http://{}", node.nutrition.grpc_addr), "nutrition", "", "")
            .await
            .unwrap();
        clients::nutrition_client_as(channel, supervisor)
            .close_round(jigi_proto::nutrition::CloseRoundRequest {
                round_id: summary.round_id.clone(),
                closed_on: jigi_common::date::format_date(plans[0].today),
            })
            .await
            .expect("the region closes its round");
    }
    let rounds = eventually(WAIT, "the monitoring to show both rounds closed", || {
        let mut client = client.clone();
        async move {
            let rounds = client
                .list_round_indicators(ListRoundIndicatorsRequest {
                    state: RoundState::Closed as i32,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .rounds;
            (rounds.len() == 2).then_some(rounds)
        }
    })
    .await;
    for summary in &summaries {
        let round = rounds
            .iter()
            .find(|r| r.round_id == summary.round_id)
            .expect("the round is known");
        assert_eq!(round.region, summary.region);
        let served = round.served.unwrap();
        assert_eq!(
            (served.children, served.pregnant_women, served.lactating_women),
            (
                summary.reached.children,
                summary.reached.pregnant_women,
                summary.reached.lactating_women
            ),
            "{}",
            summary.region
        );
        assert_eq!(round.flour_distributed_grams, summary.flour_distributed_grams);
        let planned = round.control.unwrap().planned.unwrap();
        assert_eq!(
            planned.children + planned.pregnant_women + planned.lactating_women,
            summary.beneficiaries,
            "{}: every eligible person planned",
            summary.region
        );
        assert!(round.reconciled, "{round:?}");
    }

    stack.stop().await;
}
