//! Bad input is `INVALID_ARGUMENT` naming every offending field; unknown
//! rounds and warehouses are `NOT_FOUND`; nothing is written.

use jigi_proto::nutrition::*;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn bad_requests_name_their_fields_and_change_nothing() {
    let mut app = spawn_app().await;
    let status = app
        .nutrition
        .open_round(OpenRoundRequest {
            year: 2018,
            number: 0,
            starts_on: "2018-02-30".into(),
            ends_on: "2018-09-30".into(),
            communes: vec!["sikasso.yanfolila.gouanan".into()],
            rations: None,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["number", "starts_on", "communes[0]", "rations"]);
    let rounds = app
        .nutrition
        .list_rounds(ListRoundsRequest { year: 0 })
        .await
        .unwrap()
        .into_inner()
        .rounds;
    assert!(rounds.is_empty());

    let status = app
        .nutrition
        .register_warehouse(RegisterWarehouseRequest {
            warehouse_id: "Sanando 1".into(),
            name: String::new(),
            commune: "sikasso.yanfolila.gouanan".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["warehouse_id", "commune"]);

    app.warehouse("sanando-1", SANANDO).await;
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(1)).to_string();
    let status = app
        .nutrition
        .receive_stock(ReceiveStockRequest {
            request_id: String::new(),
            warehouse_id: "sanando-1".into(),
            lot_number: " ".into(),
            expires_on: "2019-01-01".into(),
            grams: -5,
            received_on: tomorrow,
            waybill: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["request_id"], "the request ID is checked first");
    let status = app
        .nutrition
        .receive_stock(ReceiveStockRequest {
            request_id: "r-1".into(),
            warehouse_id: "sanando-1".into(),
            lot_number: " ".into(),
            expires_on: "2019-01-01".into(),
            grams: -5,
            received_on: "2019-02-01".into(),
            waybill: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["lot_number", "grams", "expires_on"]);
    let status = app
        .nutrition
        .receive_stock(ReceiveStockRequest {
            request_id: "r-2".into(),
            warehouse_id: "nowhere-1".into(),
            lot_number: "LOT-1".into(),
            expires_on: "2030-01-01".into(),
            grams: 5,
            received_on: today(),
            waybill: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    let status = app
        .nutrition
        .record_distribution(RecordDistributionRequest {
            request_id: "d-1".into(),
            round_id: "segou-2018-r9".into(),
            warehouse_id: "sanando-1".into(),
            household_id: "h".into(),
            member_id: uuid::Uuid::new_v4().to_string(),
            distributed_on: "yesterday".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["household_id", "distributed_on"]);
    let status = app
        .nutrition
        .record_distribution(RecordDistributionRequest {
            request_id: "d-2".into(),
            round_id: "segou-2018-r9".into(),
            warehouse_id: "sanando-1".into(),
            household_id: uuid::Uuid::new_v4().to_string(),
            member_id: uuid::Uuid::new_v4().to_string(),
            distributed_on: today(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "an unknown round: {status:?}");

    let round = app.open_round(2, &[SANANDO]).await;
    let batch = |lines: usize| RecordDistributionBatchRequest {
        request_id: format!("b-{lines}"),
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
    let status = app.nutrition.record_distribution_batch(batch(0)).await.unwrap_err();
    assert_eq!(bad_fields(&status), ["lines"]);
    let status = app
        .nutrition
        .record_distribution_batch(batch(10_001))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["lines"]);
    let status = app
        .nutrition
        .list_beneficiaries(ListBeneficiariesRequest {
            area: "mopti".into(),
            on: String::new(),
            page_size: 5_000,
            page_token: "not-a-token".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["area", "page_size"]);

    // Only the round opened was published.
    let events = app.nutrition_events(1).await;
    assert_eq!(events[0].ce_type, "jigi.nutrition.round.opened.v1");
    assert_eq!(app.ledger().await.0, 0);
}
