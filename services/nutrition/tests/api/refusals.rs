//! Every refusal says why and changes nothing: no distribution, no stock
//! movement, no event.

use chrono::Datelike;
use jigi_proto::nutrition::*;
use jigi_proto::registry as pr;
use jigi_testkit::eventually;
use tonic::Code;

use crate::helpers::*;

/// What a refused command must leave untouched.
#[derive(Debug, PartialEq)]
struct Snapshot {
    stocks: Vec<(String, i64)>,
    distributions: i64,
    events: usize,
}

async fn snapshot(app: &mut TestApp, warehouses: &[&str], events: usize) -> Snapshot {
    let mut stocks = Vec::new();
    for warehouse in warehouses {
        stocks.push((
            (*warehouse).to_owned(),
            app.stock(warehouse).await.on_hand.unwrap().grams,
        ));
    }
    let (distributions, _) = app.ledger().await;
    Snapshot {
        stocks,
        distributions,
        events: app.nutrition_events(events).await.len(),
    }
}

async fn distribute(
    app: &mut TestApp,
    request_id: &str,
    round_id: &str,
    warehouse_id: &str,
    household: &pr::Household,
    member_id: &str,
) -> Result<Distribution, tonic::Status> {
    app.nutrition
        .record_distribution(RecordDistributionRequest {
            request_id: request_id.into(),
            round_id: round_id.into(),
            warehouse_id: warehouse_id.into(),
            household_id: household.household_id.clone(),
            member_id: member_id.into(),
            distributed_on: today(),
        })
        .await
        .map(|r| r.into_inner().distribution.unwrap())
}

#[tokio::test]
async fn a_child_who_turns_60_months_before_the_round_is_not_eligible() {
    let mut app = spawn_app().await;
    let two_months_ago = born(2, 0);
    // 58 months old when the household was enrolled, 60 months and 10 days today.
    let family = app
        .pnp_household(
            SANANDO,
            vec![woman(false, false), child("Aminata", 60, 10), child("Bakary", 20, 0)],
            &two_months_ago,
        )
        .await;
    app.wait_projection_matches_registry().await;
    let (older, younger) = (member(&family, 1), member(&family, 2));

    let then = app
        .nutrition
        .check_eligibility(CheckEligibilityRequest {
            member_id: older.clone(),
            on: two_months_ago.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(then.eligible, "fed at enrolment: {then:?}");
    assert_eq!(then.group, BeneficiaryGroup::Child as i32);

    app.warehouse("sanando-1", SANANDO).await;
    let next_year = (chrono::Utc::now().date_naive() + chrono::Days::new(365)).to_string();
    app.receive("sanando-1", "LOT-1", 30_000, &today(), &next_year).await;
    let round = app.open_round(3, &[SANANDO]).await;
    let before = snapshot(&mut app, &["sanando-1"], 2).await;

    let refused = distribute(&mut app, "r-older", &round.round_id, "sanando-1", &family, &older)
        .await
        .unwrap_err();
    assert_eq!(precondition(&refused), "AGED_OUT");
    // Computed here, not by the service's code: the child reached 60 months
    // on its birth day of the month, 60 months on, or on the 1st of the
    // month after when that month is too short to have that day.
    let birth = chrono::NaiveDate::parse_from_str(&born(60, 10), "%Y-%m-%d").unwrap();
    let month_60 = birth
        .with_day(1)
        .unwrap()
        .checked_add_months(chrono::Months::new(60))
        .unwrap();
    let expected_day = month_60
        .with_day(birth.day())
        .unwrap_or_else(|| month_60.checked_add_months(chrono::Months::new(1)).unwrap());
    assert!(expected_day < chrono::Utc::now().date_naive(), "reached before today");
    assert!(
        refused.message().contains(&expected_day.to_string()),
        "says when the child reached 60 months: {}",
        refused.message()
    );
    assert_eq!(snapshot(&mut app, &["sanando-1"], 2).await, before, "nothing changed");

    let given = distribute(&mut app, "r-younger", &round.round_id, "sanando-1", &family, &younger)
        .await
        .expect("the younger child is fed");
    assert_eq!(given.grams, 3_000);
    let report = app.report(&round.round_id).await;
    let planned = report.communes[0].planned.unwrap();
    assert_eq!(
        (planned.children, planned.total),
        (1, 1),
        "the older child is not planned either"
    );
}

#[tokio::test]
async fn unknown_people_doubles_overdraws_and_expired_lots_are_refused_changing_nothing() {
    let mut app = spawn_app().await;
    let today = today();
    let mut mothers = Vec::new();
    for _ in 0..3 {
        mothers.push(app.pnp_household(SANANDO, vec![woman(false, true)], &today).await);
    }
    let outside = app.pnp_household(OTHER_COMMUNE, vec![woman(false, true)], &today).await;
    app.wait_projection_matches_registry().await;

    app.warehouse("sanando-1", SANANDO).await;
    app.warehouse("sanando-2", SANANDO).await;
    let next_year = (chrono::Utc::now().date_naive() + chrono::Days::new(365)).to_string();
    let yesterday = born(0, 1);
    app.receive("sanando-1", "LOT-1", 5_000, &today, &next_year).await;
    // Received two months ago, expired yesterday.
    app.receive("sanando-2", "LOT-OLD", 100_000, &born(2, 0), &yesterday)
        .await;
    let round = app.open_round(2, &[SANANDO]).await;
    let round_id = round.round_id.clone();
    let warehouses = ["sanando-1", "sanando-2"];
    let start = snapshot(&mut app, &warehouses, 3).await;
    assert_eq!(
        start.stocks,
        [("sanando-1".into(), 5_000), ("sanando-2".into(), 100_000)]
    );

    // Someone the registry never told of.
    let stranger = uuid::Uuid::new_v4().to_string();
    let status = distribute(&mut app, "r-1", &round_id, "sanando-1", &mothers[0], &stranger)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    // A member of another household than the one given.
    let status = distribute(
        &mut app,
        "r-2",
        &round_id,
        "sanando-1",
        &mothers[1],
        &member(&mothers[0], 0),
    )
    .await
    .unwrap_err();
    assert_eq!(precondition(&status), "HOUSEHOLD_MISMATCH");
    // A household outside the round's pilot communes.
    let status = distribute(&mut app, "r-3", &round_id, "sanando-1", &outside, &member(&outside, 0))
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "NOT_IN_PILOT_COMMUNE");
    assert_eq!(snapshot(&mut app, &warehouses, 3).await, start);

    // The first ration is given; the second to the same person is refused.
    distribute(
        &mut app,
        "r-4",
        &round_id,
        "sanando-1",
        &mothers[0],
        &member(&mothers[0], 0),
    )
    .await
    .expect("first ration");
    let after_first = snapshot(&mut app, &warehouses, 4).await;
    assert_eq!(after_first.stocks[0].1, 500);
    let status = distribute(
        &mut app,
        "r-5",
        &round_id,
        "sanando-1",
        &mothers[0],
        &member(&mothers[0], 0),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert!(status.message().contains("already received"), "{}", status.message());

    // 500 g left: not enough for a 4.5 kg ration.
    let status = distribute(
        &mut app,
        "r-6",
        &round_id,
        "sanando-1",
        &mothers[1],
        &member(&mothers[1], 0),
    )
    .await
    .unwrap_err();
    assert_eq!(precondition(&status), "INSUFFICIENT_STOCK");
    // 100 kg in the other warehouse, all expired.
    let status = distribute(
        &mut app,
        "r-7",
        &round_id,
        "sanando-2",
        &mothers[1],
        &member(&mothers[1], 0),
    )
    .await
    .unwrap_err();
    assert_eq!(precondition(&status), "ONLY_EXPIRED_STOCK");
    // Neither a loss nor a transfer may take more than a lot holds, and
    // expired flour is not moved to another warehouse.
    let status = app
        .nutrition
        .record_loss(RecordLossRequest {
            request_id: "loss-1".into(),
            warehouse_id: "sanando-1".into(),
            lot_number: "LOT-1".into(),
            grams: 501,
            occurred_on: today.clone(),
            reason: LossReason::Damaged as i32,
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "INSUFFICIENT_STOCK");
    let status = app
        .nutrition
        .transfer_stock(TransferStockRequest {
            request_id: "transfer-1".into(),
            from_warehouse_id: "sanando-2".into(),
            to_warehouse_id: "sanando-1".into(),
            lot_number: "LOT-OLD".into(),
            grams: 10_000,
            transferred_on: today.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "ONLY_EXPIRED_STOCK");
    assert_eq!(snapshot(&mut app, &warehouses, 4).await, after_first, "nothing changed");

    // The expired flour leaves the stock as a loss.
    let loss = app
        .nutrition
        .record_loss(RecordLossRequest {
            request_id: "loss-2".into(),
            warehouse_id: "sanando-2".into(),
            lot_number: "LOT-OLD".into(),
            grams: 100_000,
            occurred_on: today.clone(),
            reason: LossReason::Expired as i32,
            note: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(loss.stock.unwrap().on_hand.unwrap().grams, 0);
    let end = snapshot(&mut app, &warehouses, 5).await;
    assert_eq!(end.stocks, [("sanando-1".into(), 500), ("sanando-2".into(), 0)]);
    assert_eq!(end.distributions, 1);
}

#[tokio::test]
async fn a_batch_reports_line_by_line_and_stores_only_what_it_accepts() {
    let mut app = spawn_app().await;
    let today = today();
    let mut mothers = Vec::new();
    for _ in 0..3 {
        mothers.push(app.pnp_household(SANANDO, vec![woman(false, true)], &today).await);
    }
    let baby = app
        .pnp_household(
            SANANDO,
            vec![woman(false, false), child("Oumou", 3, 0), child("Issa", 30, 0)],
            &today,
        )
        .await;
    app.wait_projection_matches_registry().await;
    app.warehouse("sanando-1", SANANDO).await;
    let next_year = (chrono::Utc::now().date_naive() + chrono::Days::new(365)).to_string();
    app.receive("sanando-1", "LOT-1", 9_000, &today, &next_year).await;
    let round = app.open_round(4, &[SANANDO]).await;

    let line = |household: &jigi_proto::registry::Household, member_id: String, on: &str| DistributionLine {
        line: 0,
        household_id: household.household_id.clone(),
        member_id,
        distributed_on: on.to_owned(),
    };
    let lines = vec![
        line(&mothers[0], member(&mothers[0], 0), &today),
        line(&mothers[0], member(&mothers[0], 0), &today),
        line(&mothers[1], uuid::Uuid::new_v4().to_string(), &today),
        line(&mothers[1], member(&mothers[1], 0), "2018-13-01"),
        line(&mothers[1], member(&mothers[1], 0), &today),
        line(&mothers[2], member(&mothers[2], 0), &today),
        line(&baby, member(&baby, 1), &today),
        line(&baby, member(&baby, 2), &today),
    ];
    let answer = app
        .nutrition
        .record_distribution_batch(RecordDistributionBatchRequest {
            request_id: "register-1".into(),
            round_id: round.round_id.clone(),
            warehouse_id: "sanando-1".into(),
            lines,
        })
        .await
        .unwrap()
        .into_inner();
    let outcomes: Vec<(i64, i32)> = answer
        .results
        .iter()
        .map(|r| (r.line, r.refusal.as_ref().map_or(0, |refusal| refusal.reason)))
        .collect();
    assert_eq!(
        outcomes,
        [
            (1, 0),
            (2, RefusalReason::AlreadyReceived as i32),
            (3, RefusalReason::UnknownPerson as i32),
            (4, RefusalReason::Invalid as i32),
            (5, 0),
            (6, RefusalReason::InsufficientStock as i32),
            (7, RefusalReason::TooYoung as i32),
            // Lines are served in order: lines 1 and 5 took all 9 kg.
            (8, RefusalReason::InsufficientStock as i32),
        ]
    );
    assert_eq!(
        answer.results[3].refusal.as_ref().unwrap().field,
        "lines[3].distributed_on"
    );
    assert_eq!((answer.recorded, answer.refused), (2, 6));
    assert_eq!(answer.distributed.unwrap().grams, 9_000);
    assert_eq!(app.stock("sanando-1").await.on_hand.unwrap().grams, 0);
    assert_eq!(app.ledger().await.0, 2);
    // Receipt, round opened, two rations.
    app.nutrition_events(4).await;
    let running = app.running();
    assert_eq!(counter(running, "distributions_recorded").await, 2);
    assert_eq!(counter(running, "distributions_refused").await, 6);
    assert_eq!(counter(running, "stock_movements").await, 1 + 2);
}

#[tokio::test]
async fn eligibility_follows_the_registry_and_a_closed_round_refuses() {
    let mut app = spawn_app().await;
    let today = today();
    let family = app
        .pnp_household(SANANDO, vec![man(), woman(false, true), child("Bintou", 20, 0)], &today)
        .await;
    app.wait_projection_matches_registry().await;
    let (mother, toddler) = (member(&family, 1), member(&family, 2));
    assert_eq!(reason(&mut app, &mother).await, None);

    let update = |member_id: &str| pr::UpdateMemberRequest {
        household_id: family.household_id.clone(),
        member_id: member_id.to_owned(),
        ..Default::default()
    };
    app.registry
        .update_member(pr::UpdateMemberRequest {
            lactating: Some(false),
            ..update(&mother)
        })
        .await
        .unwrap();
    wait_reason(&mut app, &mother, Some(RefusalReason::NotATarget)).await;
    app.registry
        .update_member(pr::UpdateMemberRequest {
            status: pr::MemberStatus::Left as i32,
            ..update(&toddler)
        })
        .await
        .unwrap();
    wait_reason(&mut app, &toddler, Some(RefusalReason::NotPresent)).await;
    app.registry
        .update_member(pr::UpdateMemberRequest {
            pregnant: Some(true),
            ..update(&mother)
        })
        .await
        .unwrap();
    wait_reason(&mut app, &mother, None).await;
    app.registry
        .exit_household(pr::ExitHouseholdRequest {
            household_id: family.household_id.clone(),
            component: jigi_proto::common::Component::Pnp as i32,
            exited_on: today.clone(),
            reason: pr::ExitReason::Graduated as i32,
            note: String::new(),
        })
        .await
        .unwrap();
    wait_reason(&mut app, &mother, Some(RefusalReason::NotEnrolled)).await;
    app.wait_projection_matches_registry().await;

    // A closed round takes nothing more.
    app.enrol_pnp(&family.household_id, &today).await;
    wait_reason(&mut app, &mother, None).await;
    app.warehouse("sanando-1", SANANDO).await;
    let next_year = (chrono::Utc::now().date_naive() + chrono::Days::new(365)).to_string();
    app.receive("sanando-1", "LOT-1", 9_000, &today, &next_year).await;
    let round = app.open_round(1, &[SANANDO]).await;
    app.nutrition
        .close_round(CloseRoundRequest {
            round_id: round.round_id.clone(),
            closed_on: today.clone(),
        })
        .await
        .unwrap();
    let status = distribute(&mut app, "r-1", &round.round_id, "sanando-1", &family, &mother)
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "ROUND_CLOSED");
    assert_eq!(app.stock("sanando-1").await.on_hand.unwrap().grams, 9_000);
}

async fn reason(app: &mut TestApp, member_id: &str) -> Option<RefusalReason> {
    let answer = app
        .nutrition
        .check_eligibility(CheckEligibilityRequest {
            member_id: member_id.into(),
            on: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    answer.refusal.map(|r| RefusalReason::try_from(r.reason).unwrap())
}

async fn wait_reason(app: &mut TestApp, member_id: &str, expected: Option<RefusalReason>) {
    let client = app.nutrition.clone();
    eventually(WAIT, &format!("{member_id} to become {expected:?}"), || {
        let mut client = client.clone();
        let member_id = member_id.to_owned();
        async move {
            let answer = client
                .check_eligibility(CheckEligibilityRequest {
                    member_id,
                    on: String::new(),
                })
                .await
                .ok()?
                .into_inner();
            let got = answer.refusal.map(|r| RefusalReason::try_from(r.reason).unwrap());
            (got == expected).then_some(())
        }
    })
    .await;
    assert_eq!(reason(app, member_id).await, expected);
}
