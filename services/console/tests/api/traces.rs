//! Traces without a tracing UI: an action's event carries its trace
//! context; the services' spans reach the console over OTLP/gRPC (here a
//! real OTLP export, as the services' exporters send it); the trace page
//! finds the action by what it is about and shows its spans across the
//! services, parents before children.

use std::sync::atomic::Ordering;

use jigi_bus::OutgoingEvent;
use jigi_common::Region;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use crate::helpers::*;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn resource_spans(service: &str, region: &str, spans: Vec<Span>) -> ResourceSpans {
    let text = |key: &str, value: &str| KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.into())),
        }),
        ..Default::default()
    };
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![text("service.name", service), text("jigi.region", region)],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn span(id: &str, parent: &str, name: &str, start_ms: u64, duration_ms: u64) -> Span {
    let base = 1_800_000_000_000_000_000u64;
    Span {
        trace_id: bytes(TRACE),
        span_id: bytes(id),
        parent_span_id: if parent.is_empty() { Vec::new() } else { bytes(parent) },
        name: name.into(),
        start_time_unix_nano: base + start_ms * 1_000_000,
        end_time_unix_nano: base + (start_ms + duration_ms) * 1_000_000,
        ..Default::default()
    }
}

#[tokio::test]
async fn an_actions_trace_shows_its_spans_across_the_services() {
    let app = spawn_app().await;
    let live = app.console.live.clone();
    eventually(WAIT, "the live feed to follow the national stream", || async {
        (live.subscriptions.load(Ordering::Relaxed) > 0).then_some(())
    })
    .await;

    // The enrolment's event, caused by a call of trace TRACE.
    let mut event = OutgoingEvent::new(
        Region::Sikasso,
        "menage-42",
        &enrolled_event("menage-42", "sikasso.sikasso.finkolo", "2018-11-15"),
    );
    event.trace.traceparent = Some(format!("00-{TRACE}-00f067aa0ba902b7-01"));
    let mut headers = event.headers();
    headers.insert("Nats-Msg-Id", event.id.as_str());
    app.bus
        .jetstream
        .publish_with_headers(event.subject.clone(), headers, event.payload.clone().into())
        .await
        .unwrap()
        .await
        .unwrap();

    // The services' spans of that trace, exported over OTLP/gRPC.
    let otlp = app.console.otlp_addr.expect("the console receives spans");
    let mut client = TraceServiceClient::connect(format!("http://{otlp}")).await.unwrap();
    client
        .export(ExportTraceServiceRequest {
            resource_spans: vec![
                resource_spans(
                    "jigi-registry",
                    "sikasso",
                    vec![span(
                        "00f067aa0ba902b7",
                        "",
                        "jigi.registry.v1.RegistryService/EnrollHousehold",
                        0,
                        12,
                    )],
                ),
                resource_spans(
                    "jigi-monitoring",
                    "national",
                    vec![span(
                        "1111111111111111",
                        "00f067aa0ba902b7",
                        "monitoring process",
                        40,
                        3,
                    )],
                ),
            ],
        })
        .await
        .unwrap();

    let page = eventually(WAIT, "the action on the trace page", || async {
        let page = app.get("/traces?id=menage-42", &app.national_token()).await;
        page.body.contains("id=\"spans\"").then_some(page)
    })
    .await;
    let html = &page.body;
    assert!(
        html.contains(&format!("trace={TRACE}")),
        "the trace ID links to its spans"
    );
    let root = html.find("jigi.registry.v1.RegistryService/EnrollHousehold").unwrap();
    let child = html.find("monitoring process").unwrap();
    assert!(root < child, "parent first");
    assert!(html.contains("jigi-registry") && html.contains("jigi-monitoring"));
    // The child starts 40 ms after the root and lasts 3 ms.
    assert!(html.contains("<td>40.0</td><td>3.0</td>"), "{html}");

    // A supervisor of another region does not see Sikasso's action or its spans.
    let other = app
        .get(
            &format!("/traces?id=menage-42&trace={TRACE}"),
            &app.supervisor_token(Region::Mopti),
        )
        .await;
    assert!(other.body.contains("id=\"no-trace\"") && !other.body.contains("id=\"spans\""));
}
