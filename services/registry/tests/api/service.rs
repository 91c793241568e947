//! What every service offers besides its API: health, reflection, metrics,
//! graceful shutdown.

use jigi_proto::registry::{GetHouseholdRequest, RegisterHouseholdRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::StreamExt;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;

use crate::helpers::{household, spawn_app};

const SERVICE: &str = "jigi.registry.v1.RegistryService";

#[tokio::test]
async fn health_reports_serving_and_reflection_lists_the_api() {
    let app = spawn_app().await;
    let channel = jigi_testkit::connect_channel(app.running.as_ref().unwrap().grpc_addr).await;
    let mut health = HealthClient::new(channel.clone());
    for service in ["", SERVICE] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "health of {service:?}");
    }

    // v1alpha, the only version grpcurl 1.8.6 speaks.
    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("expected a service list, got {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.contains(&SERVICE.to_owned()), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health".to_owned()), "{names:?}");
}

#[tokio::test]
async fn metrics_count_calls_by_method_and_code() {
    let mut app = spawn_app().await;
    app.register(household(1)).await;
    let _ = app
        .client
        .get_household(GetHouseholdRequest {
            household_id: "nope".into(),
        })
        .await;
    let mut socket = tokio::net::TcpStream::connect(app.running.as_ref().unwrap().metrics_addr)
        .await
        .unwrap();
    socket
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    socket.read_to_string(&mut body).await.unwrap();
    assert!(
        body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"),
        "{body}"
    );
    assert!(
        body.contains(r#"jigi_registry_grpc_requests_total{method="jigi.registry.v1.RegistryService/RegisterHousehold",code="0"} 1"#),
        "{body}"
    );
    assert!(
        body.contains(
            r#"jigi_registry_grpc_requests_total{method="jigi.registry.v1.RegistryService/GetHousehold",code="3"} 1"#
        ),
        "{body}"
    );
}

#[tokio::test]
async fn shutdown_stops_serving_and_lets_everything_finish() {
    let mut app = spawn_app().await;
    app.register(household(1)).await;
    app.shutdown.cancel();
    let running = app.running.take().unwrap();
    let grpc_addr = running.grpc_addr;
    tokio::time::timeout(crate::helpers::WAIT, running.stopped())
        .await
        .expect("every part stops promptly");
    let refused = app
        .client
        .register_household(RegisterHouseholdRequest {
            request_id: crate::helpers::request_id(),
            household: Some(household(2)),
        })
        .await;
    assert!(refused.is_err(), "no calls are served after shutdown");
    assert!(
        tokio::net::TcpStream::connect(grpc_addr).await.is_err(),
        "the port is closed"
    );
}
