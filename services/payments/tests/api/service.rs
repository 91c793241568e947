//! What every Jigi service serves: health, reflection, metrics.

use futures::StreamExt;
use jigi_testkit::connect_channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::helpers::*;

#[tokio::test]
async fn serves_health_reflection_and_metrics() {
    let mut app = spawn_app().await;
    let channel = connect_channel(app.running().grpc_addr).await;

    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: "jigi.payments.v1.PaymentsService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(health.status, ServingStatus::Serving as i32);

    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(Ok(response)) = responses.next().await else {
        panic!("a reflection answer")
    };
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("a list of services")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"jigi.payments.v1.PaymentsService".to_owned()),
        "{names:?}"
    );

    // A result recorded and one refused show in the service's counters.
    app.enrol(&household(1), SANANDO).await;
    app.wait_eligible(1).await;
    let cycle = app.approved_cycle().await;
    app.record(
        CASH_AGENT,
        "metrics",
        &cycle.cycle_id,
        vec![
            paid(&household(1), CASH_AGENT, "R-1"),
            paid(&household(2), CASH_AGENT, "R-2"),
        ],
    )
    .await
    .unwrap();
    let metrics = http_get(app.running().metrics_addr, "/metrics").await;
    for expected in [
        "jigi_payments_payment_results_total{outcome=\"paid\"} 1",
        "jigi_payments_payment_results_total{outcome=\"refused\"} 1",
        "jigi_payments_payment_cycle_steps_total{step=\"approved\"} 1",
        "jigi_payments_grpc_requests_total{method=\"jigi.payments.v1.PaymentsService/RecordPaymentResults\",code=\"0\"} 1",
    ] {
        assert!(metrics.contains(expected), "metrics lack {expected}:\n{metrics}");
    }
}

/// A plain HTTP/1.0 GET, enough for `/metrics`.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}
