//! Stopping the nutrition service and NATS mid-way loses nothing and
//! doubles nothing: the projection ends equal to the registry, the stock to
//! its arithmetic; a fresh database rebuilds the same projection from the
//! stream.

use jigi_proto::nutrition::*;
use jigi_proto::registry as pr;
use jigi_testkit::eventually;

use crate::helpers::*;

fn line(household: &pr::Household, index: usize) -> DistributionLine {
    DistributionLine {
        line: 0,
        household_id: household.household_id.clone(),
        member_id: member(household, index),
        distributed_on: today(),
    }
}

/// Mother (lactating) and child of each household.
fn lines(households: &[pr::Household]) -> Vec<DistributionLine> {
    households.iter().flat_map(|h| [line(h, 0), line(h, 1)]).collect()
}

#[tokio::test]
async fn restarting_the_service_and_nats_mid_way_ends_with_the_same_projection_and_stock() {
    let mut app = spawn_app().await;
    let today = today();
    let next_year = (chrono::Utc::now().date_naive() + chrono::Days::new(365)).to_string();
    app.warehouse("sanando-1", SANANDO).await;
    app.receive("sanando-1", "LOT-1", 200_000, &today, &next_year).await;
    let round = app.open_round(2, &[SANANDO]).await;
    let family = || vec![woman(false, true), child("Kadia", 12, 0)];

    // 1. Ten households, known to nutrition; five of them served.
    let mut households = Vec::new();
    for _ in 0..10 {
        households.push(app.pnp_household(SANANDO, family(), &today).await);
    }
    app.wait_projection_matches_registry().await;
    let first_batch = RecordDistributionBatchRequest {
        request_id: "register-r2-part-1".into(),
        round_id: round.round_id.clone(),
        warehouse_id: "sanando-1".into(),
        lines: lines(&households[..5]),
    };
    let first_answer = app
        .nutrition
        .record_distribution_batch(first_batch.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first_answer.recorded, 10);
    let after_first = 200_000 - 5 * (4_500 + 3_000);

    // 2. Nutrition stops; the registry goes on without it.
    app.stop_nutrition().await;
    for _ in 0..10 {
        households.push(app.pnp_household(SANANDO, family(), &today).await);
    }
    app.registry
        .update_member(pr::UpdateMemberRequest {
            household_id: households[0].household_id.clone(),
            member_id: member(&households[0], 0),
            lactating: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    app.registry
        .exit_household(pr::ExitHouseholdRequest {
            household_id: households[1].household_id.clone(),
            component: jigi_proto::common::Component::Pnp as i32,
            exited_on: today.clone(),
            reason: pr::ExitReason::Moved as i32,
            note: String::new(),
        })
        .await
        .unwrap();

    // 3. NATS stops too: the registry keeps its events in its outbox.
    app.nats.stop().await;
    for _ in 0..5 {
        households.push(app.pnp_household(SANANDO, family(), &today).await);
    }
    app.nats.restart().await;

    // 4. Nutrition restarts, is stopped again as soon as it has started
    //    catching up, and restarts once more.
    let (running, shutdown) = start_nutrition(&app.nats, &app.dir, &app.access, "nutrition").await;
    let stats = running.service.consumer.clone();
    eventually(WAIT, "nutrition to start catching up", || {
        let stats = stats.clone();
        async move { (stats.handled() > 0).then_some(()) }
    })
    .await;
    shutdown.cancel();
    running.stopped().await;
    app.restart_nutrition().await;
    app.wait_projection_matches_registry().await;

    // The batch sent before the restarts, sent again: its first answer.
    let repeated = app
        .nutrition
        .record_distribution_batch(first_batch)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(repeated, first_answer);
    assert_eq!(app.stock("sanando-1").await.on_hand.unwrap().grams, after_first);

    // 5. NATS stops while both services work: the rest of the round is
    //    recorded, two more households are registered.
    app.nats.stop().await;
    let mut rest = lines(&households[5..25]);
    rest.push(line(&households[0], 1));
    rest.push(line(&households[2], 0));
    let second = app
        .nutrition
        .record_distribution_batch(RecordDistributionBatchRequest {
            request_id: "register-r2-part-2".into(),
            round_id: round.round_id.clone(),
            warehouse_id: "sanando-1".into(),
            lines: rest,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((second.recorded, second.refused), (40, 2), "two were served in part 1");
    for _ in 0..2 {
        households.push(app.pnp_household(SANANDO, family(), &today).await);
    }
    app.nats.restart().await;

    let truth = app.wait_projection_matches_registry().await;
    assert_eq!(truth.len(), 27 * 2);
    let stock_left = after_first - 20 * (4_500 + 3_000);
    assert_eq!(app.stock("sanando-1").await.on_hand.unwrap().grams, stock_left);
    let (distributions, _) = app.ledger().await;
    assert_eq!(distributions, 50);
    // One receipt, the round opened, fifty rations: each exactly once.
    let events = app.nutrition_events(52).await;
    let ids: std::collections::HashSet<_> = events.iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids.len(), 52);

    let report = app.report(&round.round_id).await;
    let sanando = &report.communes[0];
    let reached = sanando.reached.unwrap();
    assert_eq!((reached.children, reached.lactating_women), (25, 25));
    // Planned on the round's first day (today): household 1 left the PNP
    // today, household 0's mother no longer lactates.
    let planned = sanando.planned.unwrap();
    assert_eq!((planned.children, planned.lactating_women), (26, 25));
    assert_eq!(sanando.distributed.unwrap().grams, 25 * (4_500 + 3_000));
    assert_eq!(sanando.stock_left.unwrap().grams, stock_left);
}

#[tokio::test]
async fn a_fresh_database_rebuilds_the_same_projection_from_the_stream() {
    let mut app = spawn_app().await;
    let today = today();
    let mut households = Vec::new();
    for index in 0..6 {
        let commune = if index % 3 == 0 { OTHER_COMMUNE } else { SANANDO };
        households.push(
            app.pnp_household(
                commune,
                vec![woman(index % 2 == 0, true), child("Sali", 9, 0), man()],
                &today,
            )
            .await,
        );
    }
    let not_enrolled = app.register(SANANDO, vec![man(), child("Dado", 30, 0)]).await;
    // Changes of every kind the projection follows.
    app.registry
        .add_member(pr::AddMemberRequest {
            household_id: households[1].household_id.clone(),
            member: Some(child("Nana", 7, 0)),
        })
        .await
        .unwrap();
    app.registry
        .update_member(pr::UpdateMemberRequest {
            household_id: households[2].household_id.clone(),
            member_id: member(&households[2], 1),
            status: pr::MemberStatus::Left as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    app.registry
        .update_household(pr::UpdateHouseholdRequest {
            household_id: households[3].household_id.clone(),
            location: Some(jigi_proto::common::Location {
                commune: SANANDO.into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    app.registry
        .exit_household(pr::ExitHouseholdRequest {
            household_id: households[4].household_id.clone(),
            component: jigi_proto::common::Component::Pnp as i32,
            exited_on: today.clone(),
            reason: pr::ExitReason::Graduated as i32,
            note: String::new(),
        })
        .await
        .unwrap();
    app.enrol_pnp(&not_enrolled.household_id, &today).await;
    let truth = app.wait_projection_matches_registry().await;

    let (rebuilt, _stop) = start_nutrition(&app.nats, &app.dir, &app.access, "rebuilt").await;
    eventually(WAIT, "a fresh database to rebuild the projection", || {
        let (database, truth) = (rebuilt.database.clone(), truth.clone());
        async move { (projection(&database).await == truth).then_some(()) }
    })
    .await;
    assert_eq!(
        projection(&rebuilt.database).await,
        projection(&app.running().database).await
    );
    let mut original = app.nutrition.clone();
    let mut fresh = client(&rebuilt, &app.access).await;
    let list = ListBeneficiariesRequest {
        area: "segou".into(),
        on: today.clone(),
        page_size: 1_000,
        page_token: String::new(),
    };
    let before = original.list_beneficiaries(list.clone()).await.unwrap().into_inner();
    let after = fresh.list_beneficiaries(list).await.unwrap().into_inner();
    assert_eq!(before, after);
    assert!(!before.beneficiaries.is_empty());
}
