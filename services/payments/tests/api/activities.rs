//! AGR grants and HIMO wages paid through cycles of their own kind: the
//! amounts come from the activities service's events (played here by
//! publishing them, as its relay does), checked again (days × daily wage,
//! the cap), frozen, approved with control totals and paid once each, and
//! every payment event names its component.

use jigi_bus::OutgoingEvent;
use jigi_proto::common::{Component, Money, Period};
use jigi_proto::events as ev;
use jigi_proto::payments::*;
use jigi_storage::params;
use tonic::Code;

use crate::helpers::*;

fn wages(household_id: &str, commune: &str, quarter: &str, days: i64, daily: i64, amount: i64) -> OutgoingEvent {
    OutgoingEvent::new(
        REGION,
        household_id,
        &ev::HimoWagesDue {
            site_id: "sanando-piste-1".into(),
            household_id: household_id.into(),
            location: Some(location(commune)),
            period: Some(Period { code: quarter.into() }),
            days,
            daily_wage: Some(Money { fcfa: daily }),
            amount: Some(Money { fcfa: amount }),
        },
    )
}

fn tranche(household_id: &str, commune: &str, quarter: &str, amount: i64) -> OutgoingEvent {
    OutgoingEvent::new(
        REGION,
        household_id,
        &ev::AgrGrantTrancheReleased {
            tranche_id: format!("tranche-{household_id}-{quarter}"),
            household_id: household_id.into(),
            location: Some(location(commune)),
            number: 1,
            amount: Some(Money { fcfa: amount }),
            released_on: "2018-08-01".into(),
            period: Some(Period { code: quarter.into() }),
            activity_type: ev::AgrActivityType::SmallLivestock as i32,
        },
    )
}

impl TestApp {
    /// Waits until the activities consumer has taken `count` events (handled or rejected).
    async fn wait_activities(&self, count: i64) -> (i64, i64) {
        let db = self.running().database.clone();
        let name = jigi_payments::activities_consumer_name(&self.config);
        jigi_testkit::eventually(WAIT, &format!("{count} activities events taken"), || {
            let (db, name) = (db.clone(), name.clone());
            async move {
                let (handled, rejected) = db
                    .read(move |conn| {
                        let handled: i64 = conn.query_scalar(
                            "SELECT COUNT(*) FROM inbox_events WHERE consumer = $1 AND outcome = 'handled'",
                            params![name],
                        )?;
                        let all: i64 =
                            conn.query_scalar("SELECT COUNT(*) FROM inbox_events WHERE consumer = $1", params![name])?;
                        Ok::<_, jigi_storage::StorageError>((handled, all - handled))
                    })
                    .await
                    .ok()?;
                (handled + rejected == count).then_some((handled, rejected))
            }
        })
        .await
    }

    async fn open_kind(&mut self, kind: CycleKind, quarter: &str) -> Result<PaymentCycle, tonic::Status> {
        self.client
            .open_payment_cycle(OpenPaymentCycleRequest {
                period: Some(Period { code: quarter.into() }),
                funding_source: FundingSource::WorldBankIda as i32,
                kind: kind as i32,
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().cycle.unwrap())
    }
}

#[tokio::test]
async fn a_wage_cycle_pays_the_wage_sheets_of_its_quarter_once_within_the_cap() {
    let mut app = spawn_app().await;
    let (h1, h2, h3) = (household(1), household(2), household(3));
    // h1 is also a TM household: its transfer and its wages are two cycles.
    app.enrol(&h1, SANANDO).await;
    app.publish(&wages(&h1, SANANDO, "2018Q3", 45, 2_000, 90_000)).await;
    app.publish(&wages(&h2, KONOBOUGOU, "2018Q3", 20, 1_500, 30_000)).await;
    // Over the cap (46 days × 2,000 = 92,000) and not days × rate: never paid.
    app.publish(&wages(&h3, SANANDO, "2018Q3", 46, 2_000, 92_000)).await;
    app.publish(&wages(&h3, KONOBOUGOU, "2018Q3", 10, 1_500, 16_000)).await;
    // Another quarter, and a grant tranche: other cycles.
    app.publish(&wages(&h1, SANANDO, "2018Q4", 10, 2_000, 20_000)).await;
    app.publish(&tranche(&h2, KONOBOUGOU, "2018Q3", 75_000)).await;
    assert_eq!(app.wait_activities(6).await, (4, 2), "two wage lines rejected");
    // What a wage cycle of the quarter would list, before it is opened.
    let owed = app
        .client
        .list_eligible_households(ListEligibleHouseholdsRequest {
            kind: CycleKind::HimoWages as i32,
            period: Some(Period { code: "2018Q3".into() }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut listed: Vec<String> = owed.households.iter().map(|h| h.household_id.clone()).collect();
    listed.sort();
    assert_eq!((owed.total, listed), (2, vec![h1.clone(), h2.clone()]));
    let no_period = app
        .client
        .list_eligible_households(ListEligibleHouseholdsRequest {
            kind: CycleKind::AgrGrant as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(no_period.code(), Code::InvalidArgument);
    app.wait_eligible(1).await;

    // A wage cycle takes no amount of its own.
    let with_amount = app
        .client
        .open_payment_cycle(OpenPaymentCycleRequest {
            period: Some(Period { code: "2018Q3".into() }),
            funding_source: FundingSource::WorldBankIda as i32,
            kind: CycleKind::HimoWages as i32,
            amount_per_household: money(30_000),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(with_amount.code(), Code::InvalidArgument);

    let cycle = app.open_kind(CycleKind::HimoWages, "2018Q3").await.unwrap();
    assert_eq!(cycle.kind, CycleKind::HimoWages as i32);
    // A TM cycle of the same quarter and funder is another cycle, not a duplicate.
    let tm = app.open("2018Q3", FundingSource::WorldBankIda).await.unwrap();
    let again = app.open_kind(CycleKind::HimoWages, "2018Q3").await.unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);

    app.assign_agents(&cycle.cycle_id).await;
    let frozen = app.freeze(&cycle.cycle_id).await.cycle.unwrap();
    let totals = frozen.frozen.unwrap();
    assert_eq!((totals.count, totals.amount.unwrap().fcfa), (2, 120_000));
    let approved = app.approve(&frozen, "approver").await.unwrap();
    assert_eq!(approved.control, frozen.frozen);

    // Each household is paid its own wages, once.
    let pay = |household: &str, amount: i64, receipt: &str| PaymentResult {
        amount: money(amount),
        ..paid(
            household,
            if household == h1 { CASH_AGENT } else { MOBILE_AGENT },
            receipt,
        )
    };
    app.record(CASH_AGENT, "w-1", &cycle.cycle_id, vec![pay(&h1, 90_000, "R-1")])
        .await
        .unwrap();
    let wrong = app
        .record(MOBILE_AGENT, "w-2", &cycle.cycle_id, vec![pay(&h2, 90_000, "R-2")])
        .await
        .unwrap();
    assert_eq!(
        (wrong.accepted, wrong.refused),
        (0, 1),
        "not the household's wages: {wrong:?}"
    );
    app.record(MOBILE_AGENT, "w-3", &cycle.cycle_id, vec![pay(&h2, 30_000, "R-3")])
        .await
        .unwrap();
    let paid_cycle = app.cycle(&cycle.cycle_id).await;
    let paid_totals = paid_cycle.paid.unwrap();
    assert_eq!((paid_totals.count, paid_totals.amount.unwrap().fcfa), (2, 120_000));

    // The TM cycle of the quarter still pays h1 its transfer.
    app.assign_agents(&tm.cycle_id).await;
    let tm_frozen = app.freeze(&tm.cycle_id).await.cycle.unwrap();
    assert_eq!(tm_frozen.frozen.unwrap().count, 1);

    // The grant cycle of the quarter holds the tranche.
    let grants = app.open_kind(CycleKind::AgrGrant, "2018Q3").await.unwrap();
    app.assign_agents(&grants.cycle_id).await;
    let grant_totals = app.freeze(&grants.cycle_id).await.cycle.unwrap().frozen.unwrap();
    assert_eq!((grant_totals.count, grant_totals.amount.unwrap().fcfa), (1, 75_000));

    // Every event of the wage cycle names HIMO; the TM cycle's, TM.
    let events = app.payment_events().await;
    let component_of = |cycle_id: &str| -> Vec<i32> {
        events
            .iter()
            .filter(|e| e.ce_type == "jigi.payments.payment.made.v1")
            .map(|e| e.decode::<ev::PaymentMade>().unwrap())
            .filter(|m| m.cycle.as_ref().unwrap().cycle_id == cycle_id)
            .map(|m| m.cycle.unwrap().component)
            .collect()
    };
    assert_eq!(component_of(&cycle.cycle_id), [Component::Himo as i32; 2]);
    let opened: Vec<(String, i32)> = events
        .iter()
        .filter(|e| e.ce_type == "jigi.payments.cycle.opened.v1")
        .map(|e| e.decode::<ev::PaymentCycleOpened>().unwrap().cycle.unwrap())
        .map(|c| (c.cycle_id, c.component))
        .collect();
    assert!(opened.contains(&(tm.cycle_id.clone(), Component::Tm as i32)));
    assert!(opened.contains(&(grants.cycle_id.clone(), Component::Agr as i32)));
}
