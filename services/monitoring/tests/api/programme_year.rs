//! A programme year replayed from events: households paid per quarter, flour
//! distributed, the budget forecast and achieved — exact indicators and
//! execution rate.

use chrono::{DateTime, Utc};
use jigi_common::Region;
use jigi_proto::common::{Component, FundingSource, Money, Period};
use jigi_proto::events as ev;
use jigi_proto::monitoring::*;

use crate::helpers::*;

const FINKOLO: &str = "sikasso.sikasso.finkolo";
const SIO: &str = "mopti.mopti.sio";
const QUARTERLY: i64 = 30_000;

fn cycle(id: &str, region: Region, quarter: &str) -> ev::PaymentCycleRef {
    ev::PaymentCycleRef {
        cycle_id: id.into(),
        region: region.slug().into(),
        period: Some(Period { code: quarter.into() }),
        funding_source: ev::PaymentFundingSource::WorldBankIda as i32,
        ..Default::default()
    }
}

fn totals(count: i64) -> Option<ev::PaymentTotals> {
    Some(ev::PaymentTotals {
        count,
        amount: Some(Money {
            fcfa: count * QUARTERLY,
        }),
    })
}

/// How a quarter's cycle went: households paid, failed, not collected.
struct Results(i64, i64, i64);

/// One quarter's cycle in a region; every approved household gets a result.
async fn pay_quarter(app: &mut TestApp, region: Region, commune: &str, quarter: &str, results: Results, on: &str) {
    let Results(paid, failed, uncollected) = results;
    let id = format!("{}-{quarter}", region.slug());
    let approved = paid + failed + uncollected;
    let time: DateTime<Utc> = at(&format!("{on}T08:00:00Z"));
    app.publish(
        region,
        &id,
        &ev::PaymentCycleOpened {
            cycle: Some(cycle(&id, region, quarter)),
            ..Default::default()
        },
        time,
    )
    .await;
    app.publish(
        region,
        &id,
        &ev::PaymentCycleApproved {
            cycle: Some(cycle(&id, region, quarter)),
            control: totals(approved),
            approved_on: on.into(),
        },
        time,
    )
    .await;
    let location = Some(location(commune));
    for n in 0..approved {
        let household = format!("{id}-h{n}");
        let amount = Some(Money { fcfa: QUARTERLY });
        if n < paid {
            let m = ev::PaymentMade {
                cycle: Some(cycle(&id, region, quarter)),
                household_id: household.clone(),
                location: location.clone(),
                amount,
                paid_on: on.into(),
                ..Default::default()
            };
            app.publish(region, &household, &m, time).await;
        } else if n < paid + failed {
            let m = ev::PaymentFailed {
                cycle: Some(cycle(&id, region, quarter)),
                household_id: household.clone(),
                location: location.clone(),
                amount,
                attempted_on: on.into(),
                ..Default::default()
            };
            app.publish(region, &household, &m, time).await;
        } else {
            let m = ev::PaymentNotCollected {
                cycle: Some(cycle(&id, region, quarter)),
                household_id: household.clone(),
                location: location.clone(),
                amount,
                reported_on: on.into(),
                ..Default::default()
            };
            app.publish(region, &household, &m, time).await;
        }
    }
}

async fn ration(app: &mut TestApp, member: &str, group: ev::BeneficiaryGroup, grams: i64, on: &str, stock_left: i64) {
    let m = ev::RationDistributed {
        distribution_id: format!("d-{member}"),
        round_id: "sikasso-2018-r2".into(),
        location: Some(location(FINKOLO)),
        group: group as i32,
        grams,
        distributed_on: on.into(),
        household_id: format!("h-{member}"),
        member_id: member.into(),
        warehouse_id: "w-finkolo".into(),
        stock_on_hand_grams: stock_left,
        ..Default::default()
    };
    app.publish(Region::Sikasso, member, &m, at(&format!("{on}T10:00:00Z")))
        .await;
}

#[tokio::test]
async fn a_programme_year_replayed_from_events_gives_exact_indicators() {
    let mut app = spawn_app().await;
    // Cash transfers: Sikasso pays every quarter, Mopti in Q1 and Q4.
    pay_quarter(
        &mut app,
        Region::Sikasso,
        FINKOLO,
        "2018Q1",
        Results(90, 7, 3),
        "2018-02-15",
    )
    .await;
    pay_quarter(
        &mut app,
        Region::Sikasso,
        FINKOLO,
        "2018Q2",
        Results(95, 5, 0),
        "2018-05-15",
    )
    .await;
    pay_quarter(
        &mut app,
        Region::Sikasso,
        FINKOLO,
        "2018Q3",
        Results(80, 10, 10),
        "2018-08-15",
    )
    .await;
    pay_quarter(
        &mut app,
        Region::Sikasso,
        FINKOLO,
        "2018Q4",
        Results(60, 0, 0),
        "2018-11-15",
    )
    .await;
    pay_quarter(&mut app, Region::Mopti, SIO, "2018Q1", Results(40, 0, 10), "2018-03-01").await;
    pay_quarter(&mut app, Region::Mopti, SIO, "2018Q4", Results(30, 0, 0), "2018-12-01").await;
    // Flour: 100 kg received, then rations in Q3 and Q4.
    let received = ev::StockReceived {
        warehouse_id: "w-finkolo".into(),
        location: Some(location(FINKOLO)),
        grams: 100_000_000,
        stock_on_hand_grams: 100_000_000,
        received_on: "2018-07-01".into(),
        ..Default::default()
    };
    app.publish(Region::Sikasso, "w-finkolo", &received, at("2018-07-01T08:00:00Z"))
        .await;
    let mut stock = 100_000_000;
    for (n, (group, grams, on)) in [
        (ev::BeneficiaryGroup::Child, 6_000, "2018-08-01"),
        (ev::BeneficiaryGroup::Child, 6_000, "2018-08-01"),
        (ev::BeneficiaryGroup::PregnantWoman, 9_000, "2018-08-02"),
        (ev::BeneficiaryGroup::LactatingWoman, 9_000, "2018-11-02"),
        (ev::BeneficiaryGroup::Child, 6_000, "2018-11-03"),
    ]
    .into_iter()
    .enumerate()
    {
        stock -= grams;
        ration(&mut app, &format!("p{n}"), group, grams, on, stock).await;
    }
    app.settled().await;

    // Households paid per quarter, national.
    // Outstanding: what the quarter's cycles approved and did not pay
    // (failed and not collected).
    for (quarter, paid, unpaid) in [
        ("2018Q1", 130, 20),
        ("2018Q2", 95, 5),
        ("2018Q3", 80, 20),
        ("2018Q4", 90, 0),
    ] {
        let national = app.totals("", quarter).await;
        assert_eq!(national.households_paid, paid, "{quarter}");
        assert_eq!(national.amount_paid.unwrap().fcfa, paid * QUARTERLY, "{quarter}");
        assert_eq!(
            national.amount_outstanding.unwrap().fcfa,
            unpaid * QUARTERLY,
            "{quarter}"
        );
    }
    let q1 = app.totals("", "2018Q1").await;
    assert_eq!((q1.payments_failed, q1.payments_not_collected), (7, 13));
    assert_eq!(q1.payment_success_rate, 130.0 / 150.0);
    let year = app.totals("", "2018").await;
    assert_eq!(year.households_paid, 395);
    assert_eq!(year.amount_paid.unwrap().fcfa, 395 * QUARTERLY);
    let mopti = app.totals("mopti", "2018").await;
    assert_eq!((mopti.households_paid, mopti.payments_not_collected), (70, 10));

    // Nutrition per quarter.
    let q3 = app.totals("sikasso", "2018Q3").await;
    assert_eq!(
        (
            q3.pnp_children_reached,
            q3.pnp_pregnant_women_reached,
            q3.pnp_lactating_women_reached
        ),
        (2, 1, 0)
    );
    assert_eq!(q3.flour_distributed_grams, 21_000);
    assert_eq!(q3.stock_on_hand_grams, 100_000_000 - 21_000);
    assert_eq!(q3.pilot_communes_covered, 1);
    let q4 = app.totals("sikasso", "2018Q4").await;
    assert_eq!((q4.pnp_children_reached, q4.pnp_lactating_women_reached), (1, 1));
    assert_eq!(q4.flour_distributed_tonnes, 0.015);
    assert_eq!(q4.stock_on_hand_grams, 100_000_000 - 36_000);

    // Per-cycle indicators.
    let cycles = app
        .client
        .list_cycle_indicators(ListCycleIndicatorsRequest {
            region: "sikasso".into(),
            period: Some(Period { code: "2018".into() }),
        })
        .await
        .unwrap()
        .into_inner()
        .cycles;
    assert_eq!(cycles.len(), 4);
    let q3_cycle = cycles.iter().find(|c| c.period == "2018Q3").unwrap();
    assert_eq!(
        (
            q3_cycle.expected_households,
            q3_cycle.households_paid,
            q3_cycle.payments_failed
        ),
        (100, 80, 10)
    );
    assert_eq!(q3_cycle.amount_outstanding.as_ref().unwrap().fcfa, 20 * QUARTERLY);
    assert_eq!(q3_cycle.status, "approved");

    // The budget: TM forecast from the World Bank, achieved from the payments.
    app.client
        .set_budget_line(SetBudgetLineRequest {
            line: Some(BudgetLine {
                year: 2018,
                component: Component::Tm as i32,
                funding_source: FundingSource::WorldBankIda as i32,
                forecast: Some(Money { fcfa: 16_000_000 }),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let execution = app
        .client
        .get_budget_execution(GetBudgetExecutionRequest {
            year: 2018,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(execution.achieved.unwrap().fcfa, 395 * QUARTERLY);
    assert_eq!(execution.execution_rate, (395 * QUARTERLY) as f64 / 16_000_000.0);
}
