//! A command that moves flour, sent again with the same request ID and the
//! same content, returns its first answer and moves nothing more; the same
//! ID with other content is refused.

use jigi_proto::nutrition::*;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn a_repeated_request_returns_its_first_answer_and_moves_nothing_more() {
    let mut app = spawn_app().await;
    let today = today();
    let mothers = [
        app.pnp_household(SANANDO, vec![woman(false, true)], &today).await,
        app.pnp_household(SANANDO, vec![woman(false, true)], &today).await,
    ];
    app.wait_projection_matches_registry().await;
    app.warehouse("sanando-1", SANANDO).await;
    app.warehouse("sanando-2", SANANDO).await;
    let round = app.open_round(2, &[SANANDO]).await;
    let next_year = (chrono::Utc::now().date_naive() + chrono::Days::new(365)).to_string();

    let receipt = ReceiveStockRequest {
        request_id: "bl-0042".into(),
        warehouse_id: "sanando-1".into(),
        lot_number: "LOT-1".into(),
        expires_on: next_year.clone(),
        grams: 4_000,
        received_on: today.clone(),
        waybill: "BL-0042".into(),
    };
    let first = app.nutrition.receive_stock(receipt.clone()).await.unwrap().into_inner();
    let again = app.nutrition.receive_stock(receipt.clone()).await.unwrap().into_inner();
    assert_eq!(first, again, "the first answer, byte for byte");
    assert_eq!(
        app.stock("sanando-1").await.on_hand.unwrap().grams,
        4_000,
        "received once"
    );
    let status = app
        .nutrition
        .receive_stock(ReceiveStockRequest {
            grams: 5_000,
            ..receipt.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert!(status.message().contains("bl-0042"));

    // A refused distribution is not remembered: once the stock is there, the
    // same request goes through.
    let distribution = RecordDistributionRequest {
        request_id: "dist-1".into(),
        round_id: round.round_id.clone(),
        warehouse_id: "sanando-1".into(),
        household_id: mothers[0].household_id.clone(),
        member_id: member(&mothers[0], 0),
        distributed_on: today.clone(),
    };
    let status = app
        .nutrition
        .record_distribution(distribution.clone())
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "INSUFFICIENT_STOCK");
    app.receive("sanando-1", "LOT-1", 10_000, &today, &next_year).await;
    let given = app
        .nutrition
        .record_distribution(distribution.clone())
        .await
        .unwrap()
        .into_inner();
    let repeated = app
        .nutrition
        .record_distribution(distribution.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(given, repeated);
    let status = app
        .nutrition
        .record_distribution(RecordDistributionRequest {
            member_id: member(&mothers[1], 0),
            household_id: mothers[1].household_id.clone(),
            ..distribution.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);

    let transfer = TransferStockRequest {
        request_id: "transfer-1".into(),
        from_warehouse_id: "sanando-1".into(),
        to_warehouse_id: "sanando-2".into(),
        lot_number: "LOT-1".into(),
        grams: 1_000,
        transferred_on: today.clone(),
    };
    let moved = app
        .nutrition
        .transfer_stock(transfer.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        moved,
        app.nutrition
            .transfer_stock(transfer.clone())
            .await
            .unwrap()
            .into_inner()
    );
    let loss = RecordLossRequest {
        request_id: "loss-1".into(),
        warehouse_id: "sanando-2".into(),
        lot_number: "LOT-1".into(),
        grams: 250,
        occurred_on: today.clone(),
        reason: LossReason::Spoiled as i32,
        note: "rats".into(),
    };
    let lost = app.nutrition.record_loss(loss.clone()).await.unwrap().into_inner();
    assert_eq!(
        lost,
        app.nutrition.record_loss(loss.clone()).await.unwrap().into_inner()
    );

    let batch = RecordDistributionBatchRequest {
        request_id: "register-7".into(),
        round_id: round.round_id.clone(),
        warehouse_id: "sanando-1".into(),
        lines: vec![DistributionLine {
            line: 7,
            household_id: mothers[1].household_id.clone(),
            member_id: member(&mothers[1], 0),
            distributed_on: today.clone(),
        }],
    };
    let answer = app
        .nutrition
        .record_distribution_batch(batch.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.recorded, 1);
    assert_eq!(
        answer,
        app.nutrition
            .record_distribution_batch(batch.clone())
            .await
            .unwrap()
            .into_inner(),
        "a repeated batch is the same answer, not a list of ALREADY_RECEIVED"
    );
    let status = app
        .nutrition
        .record_distribution_batch(RecordDistributionBatchRequest {
            warehouse_id: "sanando-2".into(),
            ..batch
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);

    // 4 + 10 kg received, 2 × 4.5 kg given, 250 g lost: once each.
    assert_eq!(
        app.stock("sanando-1").await.on_hand.unwrap().grams,
        14_000 - 9_000 - 1_000
    );
    assert_eq!(app.stock("sanando-2").await.on_hand.unwrap().grams, 750);
    let (distributions, _) = app.ledger().await;
    assert_eq!(distributions, 2);
    // Round opened, 2 receipts, 2 rations, 1 transfer, 1 loss.
    app.nutrition_events(7).await;
    // Counted once each too, repeats and reused IDs not at all: two rations
    // given, one refused (no stock yet); one movement per receipt, ration
    // and loss, two for the transfer.
    let running = app.running();
    assert_eq!(counter(running, "distributions_recorded").await, 2);
    assert_eq!(counter(running, "distributions_refused").await, 1);
    assert_eq!(counter(running, "stock_movements").await, 2 + 2 + 2 + 1);
}
