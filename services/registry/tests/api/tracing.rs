//! Trace context crosses gRPC into the events a call causes.

use jigi_proto::registry::RegisterHouseholdRequest;
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_telemetry::TraceContext;
use jigi_telemetry::grpc::PropagateTrace;
use tonic::metadata::MetadataValue;

use crate::helpers::{household, spawn_app};

#[tokio::test]
async fn a_callers_traceparent_reaches_the_event_it_causes() {
    let mut app = spawn_app().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut request = tonic::Request::new(RegisterHouseholdRequest {
        request_id: crate::helpers::request_id(),
        household: Some(household(1)),
    });
    request.metadata_mut().insert(
        "traceparent",
        MetadataValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    app.client.register_household(request).await.unwrap();
    let events = app.events(1).await;
    assert_eq!(events[0].trace.trace_id().as_deref(), Some(trace_id));
    assert_ne!(
        events[0].trace.traceparent.as_deref(),
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        "the event's parent is the server's span, a child of the caller's"
    );
}

#[tokio::test]
async fn the_client_interceptor_sends_the_current_span_context() {
    let app = spawn_app().await;
    let token = app
        .access
        .token("a.sangare", &[jigi_auth::Role::FieldAgent], app.region);
    let channel = jigi_testkit::connect_channel(app.running.as_ref().unwrap().grpc_addr).await;
    let mut bearer = jigi_testkit::Bearer::new(&token);
    let mut client = RegistryServiceClient::with_interceptor(channel, move |request| {
        use tonic::service::Interceptor;
        bearer.call(PropagateTrace.call(request)?)
    });
    let span = tracing::info_span!(target: "jigi_test", "field agent registers a household");
    let expected = TraceContext::of(&span).trace_id().expect("the test span has a trace");
    let call = client.register_household(RegisterHouseholdRequest {
        request_id: crate::helpers::request_id(),
        household: Some(household(1)),
    });
    tracing::Instrument::instrument(call, span).await.unwrap();
    let events = app.events(1).await;
    assert_eq!(events[0].trace.trace_id(), Some(expected));
}

#[tokio::test]
async fn a_call_without_trace_context_starts_its_own_trace() {
    let mut app = spawn_app().await;
    app.register(household(1)).await;
    app.register(household(2)).await;
    let events = app.events(2).await;
    let first = events[0].trace.trace_id().expect("a trace of its own");
    let second = events[1].trace.trace_id().expect("a trace of its own");
    assert_ne!(first, second, "two unrelated calls are two traces");
}
