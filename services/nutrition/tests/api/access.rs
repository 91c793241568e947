//! With tokens on, as deployed: each person does their own part of the
//! programme and nothing else, only in their region; a refused call changes
//! nothing. A register of up to 8 MiB is accepted, a larger one refused
//! before it is read.

use jigi_auth::Role;
use jigi_common::Region;
use jigi_proto::nutrition::nutrition_service_client::NutritionServiceClient;
use jigi_proto::nutrition::*;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn each_role_does_its_own_part_only_and_only_in_its_region() {
    let mut app = spawn_app().await;
    let today = today();
    let next_year = (chrono::Utc::now().date_naive() + chrono::Days::new(365)).to_string();
    let family = app.pnp_household(SANANDO, vec![woman(false, true)], &today).await;
    app.wait_projection_matches_registry().await;
    let as_role = |subject: &str, role: Role| app.access.token(subject, &[role], Region::Segou);
    let (supervisor, keeper, agent) = (
        as_role("m.sidibe", Role::RegionalSupervisor),
        as_role("s.keita", Role::NutritionStoreKeeper),
        as_role("f.dembele", Role::FieldAgent),
    );
    let mut supervisor = client_as(app.running(), &supervisor).await;
    let mut keeper = client_as(app.running(), &keeper).await;
    let mut agent = client_as(app.running(), &agent).await;
    // The supervisor sets the warehouse and the round up; nobody else may.
    let warehouse = RegisterWarehouseRequest {
        warehouse_id: "sanando-1".into(),
        name: "Magasin de Sanando".into(),
        commune: SANANDO.into(),
    };
    denied(
        keeper.register_warehouse(warehouse.clone()).await,
        "a store keeper registering a warehouse",
    );
    supervisor.register_warehouse(warehouse).await.unwrap();
    let year = chrono::Datelike::year(&chrono::Utc::now().date_naive());
    let round = OpenRoundRequest {
        year,
        number: 5,
        starts_on: today.clone(),
        ends_on: (chrono::Utc::now().date_naive() + chrono::Days::new(30)).to_string(),
        communes: vec![SANANDO.into()],
        rations: Some(rations()),
    };
    denied(agent.open_round(round.clone()).await, "a field agent opening a round");
    let round_id = supervisor
        .open_round(round)
        .await
        .unwrap()
        .into_inner()
        .round
        .unwrap()
        .round_id;

    // The store keeper keeps the stock; a field agent may not touch it.
    let receipt = |request_id: &str| ReceiveStockRequest {
        request_id: request_id.into(),
        warehouse_id: "sanando-1".into(),
        lot_number: "LOT-1".into(),
        expires_on: next_year.clone(),
        grams: 10_000,
        received_on: today.clone(),
        waybill: "BL-7".into(),
    };
    denied(
        agent.receive_stock(receipt("agent-receipt")).await,
        "a field agent receiving stock",
    );
    denied(
        supervisor.receive_stock(receipt("supervisor-receipt")).await,
        "a supervisor receiving stock",
    );
    keeper.receive_stock(receipt("keeper-receipt")).await.unwrap();

    // The field agent distributes; the register (personal data) is not the
    // store keeper's, and the supervisor does not hand out flour.
    let distribution = |request_id: &str| RecordDistributionRequest {
        request_id: request_id.into(),
        round_id: round_id.clone(),
        warehouse_id: "sanando-1".into(),
        household_id: family.household_id.clone(),
        member_id: member(&family, 0),
        distributed_on: today.clone(),
    };
    denied(
        supervisor.record_distribution(distribution("supervisor-ration")).await,
        "a supervisor recording a distribution",
    );
    denied(
        keeper.record_distribution(distribution("keeper-ration")).await,
        "a store keeper recording a distribution",
    );
    denied(
        keeper
            .list_beneficiaries(ListBeneficiariesRequest {
                area: SANANDO.into(),
                ..Default::default()
            })
            .await,
        "a store keeper listing beneficiaries",
    );
    let given = agent
        .record_distribution(distribution("agent-ration"))
        .await
        .unwrap()
        .into_inner()
        .distribution
        .unwrap();
    assert_eq!(given.grams, 4_500);

    // Every role of another region, and no token at all, are refused.
    let elsewhere = app.access.token("o.coulibaly", OFFICER_ROLES, Region::Sikasso);
    let mut elsewhere = client_as(app.running(), &elsewhere).await;
    denied(
        elsewhere
            .get_stock(GetStockRequest {
                warehouse_id: "sanando-1".into(),
                on: String::new(),
            })
            .await,
        "an officer of Sikasso reading Ségou's stock",
    );
    denied(
        elsewhere.receive_stock(receipt("sikasso-receipt")).await,
        "an officer of Sikasso receiving stock in Ségou",
    );
    let mut anonymous = NutritionServiceClient::new(jigi_testkit::connect_channel(app.running().grpc_addr).await);
    let status = anonymous
        .get_round(GetRoundRequest {
            round_id: round_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    // Only what the allowed calls did happened: one receipt, one ration.
    assert_eq!(app.stock("sanando-1").await.on_hand.unwrap().grams, 10_000 - 4_500);
    let (distributions, lots) = app.ledger().await;
    assert_eq!(distributions, 1);
    assert_eq!(lots, [("sanando-1".into(), "LOT-1".into(), 5_500, 5_500)]);
    // The round opened, the receipt, the ration.
    app.nutrition_events(3).await;
}

#[tokio::test]
async fn a_register_of_up_to_8_mib_is_read_and_a_larger_one_refused() {
    let mut app = spawn_app().await;
    app.warehouse("sanando-1", SANANDO).await;
    let round = app.open_round(2, &[SANANDO]).await;
    let register = |lines: usize| RecordDistributionBatchRequest {
        request_id: format!("register-{lines}"),
        round_id: round.round_id.clone(),
        warehouse_id: "sanando-1".into(),
        lines: vec![
            DistributionLine {
                line: 0,
                household_id: uuid::Uuid::new_v4().to_string(),
                member_id: uuid::Uuid::new_v4().to_string(),
                distributed_on: today(),
            };
            lines
        ],
    };
    // About 6 MiB, more than gRPC's usual 4 MiB: read, and refused for its
    // number of lines, not its size.
    let large = register(60_000);
    let size = prost::Message::encoded_len(&large);
    assert!((4 << 20..8 << 20).contains(&size), "{size} bytes");
    let status = app.nutrition.record_distribution_batch(large).await.unwrap_err();
    assert_eq!(bad_fields(&status), ["lines"]);
    // About 9 MiB: refused as too large, naming the limit.
    let too_large = register(100_000);
    assert!(prost::Message::encoded_len(&too_large) > 8 << 20);
    let status = app.nutrition.record_distribution_batch(too_large).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains(&(8 * 1024 * 1024).to_string()),
        "{}",
        status.message()
    );
    assert_eq!(app.ledger().await.0, 0);
}

/// A call refused for who is calling.
fn denied<T>(result: Result<tonic::Response<T>, tonic::Status>, what: &str) {
    match result {
        Ok(_) => panic!("{what} should be refused"),
        Err(status) => assert_eq!(status.code(), Code::PermissionDenied, "{what}: {status:?}"),
    }
}
