//! From the registry to the beneficiary: members registered in the registry
//! become eligible here, flour is received, a round is distributed, and the
//! report, the stock and the events all add up.

use std::collections::{BTreeMap, BTreeSet};

use jigi_proto::events as ev;
use jigi_proto::nutrition::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

#[tokio::test]
async fn registered_members_become_eligible_and_a_distributed_round_adds_up() {
    let mut app = spawn_app().await;
    let today = today();
    // Three PNP households in Sanando: a lactating mother, a child of 18
    // months (fed) and one of 7 years (not).
    let mut families = Vec::new();
    for _ in 0..3 {
        let household = app
            .pnp_household(
                SANANDO,
                vec![woman(false, true), child("Moussa", 18, 0), child("Fanta", 84, 0)],
                &today,
            )
            .await;
        families.push(household);
    }
    // A pregnant woman with her husband.
    let expecting = app
        .pnp_household(SANANDO, vec![woman(true, false), man()], &today)
        .await;
    // Enrolled, but outside the pilot commune; and registered but not enrolled.
    let elsewhere = app
        .pnp_household(OTHER_COMMUNE, vec![woman(false, true), child("Ali", 10, 0)], &today)
        .await;
    let not_enrolled = app
        .register(SANANDO, vec![woman(false, true), child("Sira", 12, 0)])
        .await;

    app.wait_projection_matches_registry().await;

    let mut expected: BTreeMap<String, BeneficiaryGroup> = BTreeMap::new();
    for family in &families {
        expected.insert(member(family, 0), BeneficiaryGroup::LactatingWoman);
        expected.insert(member(family, 1), BeneficiaryGroup::Child);
    }
    expected.insert(member(&expecting, 0), BeneficiaryGroup::PregnantWoman);
    let listed = beneficiaries(&mut app, SANANDO).await;
    assert_eq!(listed, expected, "eligible in Sanando today");
    let region_wide = beneficiaries(&mut app, "").await;
    assert_eq!(region_wide.len(), 9, "and two more in the other commune");
    assert!(region_wide.contains_key(&member(&elsewhere, 1)));
    assert!(
        !region_wide.contains_key(&member(&not_enrolled, 1)),
        "not enrolled, not listed"
    );

    let seven = check(&mut app, &member(&families[0], 2)).await;
    assert!(!seven.eligible);
    assert_eq!(seven.refusal.unwrap().reason, RefusalReason::AgedOut as i32);
    assert_eq!(seven.household_id, families[0].household_id);
    let not_enrolled_child = check(&mut app, &member(&not_enrolled, 1)).await;
    assert_eq!(
        not_enrolled_child.refusal.unwrap().reason,
        RefusalReason::NotEnrolled as i32
    );

    // Flour arrives in two lots; the earlier expiry is distributed first.
    app.warehouse("sanando-1", SANANDO).await;
    let soon = born(0, 0);
    let in_two_months = (chrono::Utc::now().date_naive() + chrono::Days::new(60)).to_string();
    let next_year = (chrono::Utc::now().date_naive() + chrono::Days::new(365)).to_string();
    app.receive("sanando-1", "LOT-B", 50_000, &soon, &next_year).await;
    app.receive("sanando-1", "LOT-A", 20_000, &soon, &in_two_months).await;
    let round = app.open_round(2, &[SANANDO]).await;
    assert_eq!(round.round_id, format!("segou-{}-r2", &today[..4]));

    let lines = expected
        .keys()
        .enumerate()
        .map(|(index, member_id)| {
            let household_id = households_of(&families, &expecting, member_id);
            DistributionLine {
                line: index as i64 + 1,
                household_id,
                member_id: member_id.clone(),
                distributed_on: today.clone(),
            }
        })
        .collect();
    let batch = app
        .nutrition
        .record_distribution_batch(RecordDistributionBatchRequest {
            request_id: "register-sanando-r2-p1".into(),
            round_id: round.round_id.clone(),
            warehouse_id: "sanando-1".into(),
            lines,
        })
        .await
        .expect("batch recorded")
        .into_inner();
    assert_eq!((batch.recorded, batch.refused), (7, 0), "{:?}", batch.results);
    let expected_grams = 3 * 3_000 + 3 * 4_500 + 4_500;
    assert_eq!(batch.distributed.unwrap().grams, expected_grams);
    let mut drawn: BTreeMap<String, i64> = BTreeMap::new();
    for result in &batch.results {
        let distribution = result.distribution.as_ref().unwrap();
        assert_eq!(
            distribution.group, expected[&distribution.member_id] as i32,
            "group of {}",
            distribution.member_id
        );
        for lot in &distribution.lots {
            *drawn.entry(lot.lot_number.clone()).or_default() += lot.grams;
        }
    }
    assert_eq!(
        drawn,
        BTreeMap::from([("LOT-A".to_owned(), 20_000), ("LOT-B".to_owned(), 7_000)]),
        "earliest expiry first"
    );

    let stock = app.stock("sanando-1").await;
    assert_eq!(stock.on_hand.unwrap().grams, 70_000 - expected_grams);
    assert_eq!(stock.lots.len(), 1, "LOT-A is empty");
    assert_eq!(stock.lots[0].lot_number, "LOT-B");
    let (distributions, lots) = app.ledger().await;
    assert_eq!(distributions, 7);
    assert_eq!(lots.iter().map(|l| l.2).sum::<i64>(), 70_000 - expected_grams);

    let report = app.report(&round.round_id).await;
    assert_eq!(report.communes.len(), 1);
    let sanando = &report.communes[0];
    assert_eq!(sanando.location.as_ref().unwrap().commune, SANANDO);
    let counts = |c: &GroupCounts| (c.children, c.pregnant_women, c.lactating_women, c.total);
    assert_eq!(counts(sanando.planned.as_ref().unwrap()), (3, 1, 3, 7));
    assert_eq!(counts(sanando.reached.as_ref().unwrap()), (3, 1, 3, 7));
    let distributed = sanando.distributed.unwrap();
    assert_eq!(distributed.grams, 27_000);
    assert_eq!(distributed.kilograms, 27.0);
    assert_eq!(distributed.tonnes, 0.027);
    assert_eq!(sanando.stock_left.unwrap().grams, 43_000);
    assert_eq!(report.total.as_ref().unwrap().distributed, sanando.distributed);

    let closed = app
        .nutrition
        .close_round(CloseRoundRequest {
            round_id: round.round_id.clone(),
            closed_on: today.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.round.unwrap().status, RoundStatus::Closed as i32);
    assert_eq!(closed.report.unwrap().communes, report.communes);

    // 2 receipts, the round opened, 7 rations, the round closed.
    let events = app.nutrition_events(11).await;
    let types: Vec<&str> = events.iter().map(|e| e.ce_type.as_str()).collect();
    let count = |t: &str| types.iter().filter(|x| **x == t).count();
    assert_eq!(count("jigi.nutrition.stock.received.v1"), 2);
    assert_eq!(count("jigi.nutrition.round.opened.v1"), 1);
    assert_eq!(count("jigi.nutrition.ration.distributed.v1"), 7);
    assert_eq!(count("jigi.nutrition.round.closed.v1"), 1);
    let quarter = jigi_common::Period::quarter_of(chrono::Utc::now().date_naive()).to_string();
    let mut reached = BTreeSet::new();
    let mut grams = 0;
    let mut stock_after = Vec::new();
    for event in events.iter().filter(|e| e.is::<ev::RationDistributed>()) {
        assert_eq!(event.subject, "jigi.segou.nutrition.ration.distributed");
        let ration: ev::RationDistributed = event.decode().unwrap();
        assert_eq!(event.about, ration.distribution_id);
        assert_eq!(ration.round_id, round.round_id);
        assert_eq!(ration.round_number, 2);
        assert_eq!(ration.period.unwrap().code, quarter);
        let location = ration.location.unwrap();
        assert_eq!(
            (
                location.region.as_str(),
                location.cercle.as_str(),
                location.commune.as_str()
            ),
            ("segou", "segou.baroueli", SANANDO)
        );
        assert_eq!(ration.group, expected[&ration.member_id] as i32);
        assert!(!ration.household_id.is_empty());
        grams += ration.grams;
        stock_after.push(ration.stock_on_hand_grams);
        reached.insert(ration.member_id);
    }
    assert_eq!(grams, expected_grams);
    assert_eq!(reached, expected.keys().cloned().collect());
    assert!(
        stock_after.windows(2).all(|w| w[0] > w[1]),
        "in recording order, each ration leaves less: {stock_after:?}"
    );
    assert_eq!(
        stock_after.last(),
        Some(&(70_000 - expected_grams)),
        "the last one gives the stock on hand"
    );
    let closing: ev::RoundClosed = events
        .iter()
        .find(|e| e.is::<ev::RoundClosed>())
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(closing.communes[0].distributed_grams, expected_grams);
    assert_eq!(closing.communes[0].reached.unwrap().children, 3);
    assert_eq!(closing.communes[0].stock_on_hand_grams, 43_000);
    for event in &events {
        let payload = String::from_utf8_lossy(&event.data);
        for personal in ["Awa", "Traoré", "Moussa", "Fanta", "+22376123456"] {
            assert!(!payload.contains(personal), "{} leaks {personal}", event.ce_type);
        }
    }
}

#[tokio::test]
async fn serves_health_reflection_and_metrics() {
    let app = spawn_app().await;
    let channel = jigi_testkit::connect_channel(app.running().grpc_addr).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "jigi.nutrition.v1.NutritionService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let mut stream = tokio::net::TcpStream::connect(app.running().metrics_addr)
        .await
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    assert!(text.contains("jigi_nutrition_distributions_recorded"), "{text}");
}

async fn beneficiaries(app: &mut TestApp, area: &str) -> BTreeMap<String, BeneficiaryGroup> {
    let mut all = BTreeMap::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .nutrition
            .list_beneficiaries(ListBeneficiariesRequest {
                area: area.into(),
                on: String::new(),
                page_size: 2,
                page_token: page_token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.beneficiaries.len() <= 2);
        for b in page.beneficiaries {
            all.insert(b.member_id, BeneficiaryGroup::try_from(b.group).unwrap());
        }
        if page.next_page_token.is_empty() {
            return all;
        }
        page_token = page.next_page_token;
    }
}

async fn check(app: &mut TestApp, member_id: &str) -> CheckEligibilityResponse {
    app.nutrition
        .check_eligibility(CheckEligibilityRequest {
            member_id: member_id.into(),
            on: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
}

fn households_of(
    families: &[jigi_proto::registry::Household],
    expecting: &jigi_proto::registry::Household,
    member_id: &str,
) -> String {
    families
        .iter()
        .chain(std::iter::once(expecting))
        .find(|h| h.members.iter().any(|m| m.member_id == member_id))
        .map(|h| h.household_id.clone())
        .expect("a member of a test household")
}
