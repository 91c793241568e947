//! One trace from a regional office to the national indicator: the four
//! services run as their own processes (each with its own OpenTelemetry
//! resource) and export over OTLP/gRPC to a receiver inside the test.

use std::collections::BTreeSet;
use std::time::Duration;

use jigi_auth::Role;
use jigi_common::{Period, Region};
use jigi_proto::common::{Component, Location, Money, Sex};
use jigi_proto::monitoring::GetIndicatorsRequest;
use jigi_proto::monitoring::monitoring_service_client::MonitoringServiceClient;
use jigi_proto::payments::payments_service_client::PaymentsServiceClient;
use jigi_proto::payments::*;
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_proto::registry::*;
use jigi_telemetry::TraceContext;
use jigi_telemetry::grpc::PropagateTrace;
use jigi_testkit::{
    Bearer, NatsServer, OtlpReceiver, ReceivedSpan, ServiceProcess, TestAccess, connect_channel, eventually,
};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tracing::Instrument;

const WAIT: Duration = Duration::from_secs(90);
const COMMUNE: &str = "sikasso.yanfolila.gouanan";
const SERVER: i32 = 2;
const PRODUCER: i32 = 4;
const CONSUMER: i32 = 5;

struct Services {
    access: TestAccess,
    registry: ServiceProcess,
    payments: ServiceProcess,
    nutrition: ServiceProcess,
    monitoring: ServiceProcess,
}

/// A caller's token and the caller's trace, on every call: what a deployed
/// client sends.
#[derive(Clone)]
struct TracedAs(Bearer);

impl Interceptor for TracedAs {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        PropagateTrace.call(self.0.call(request)?)
    }
}

async fn traced_as(addr: std::net::SocketAddr, token: &str) -> InterceptedService<Channel, TracedAs> {
    InterceptedService::new(connect_channel(addr).await, TracedAs(Bearer::new(token)))
}

async fn start_services(nats: &NatsServer, otlp: &OtlpReceiver, dir: &std::path::Path) -> Services {
    let access = TestAccess::new(dir);
    let common = |db: &str| {
        let mut env = vec![
            ("JIGI_NATS_URL", nats.url()),
            ("JIGI_DATABASE_URL", format!("sqlite://{}", dir.join(db).display())),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.endpoint()),
            // Export within a fraction of a second rather than every 5 s.
            ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
            ("JIGI_DEPLOYMENT", "e2e".to_owned()),
            ("JIGI_REGION", "sikasso".to_owned()),
            ("JIGI_REGIONS", "sikasso".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ];
        env.extend(access.process_env());
        env
    };
    let (registry_env, payments_env, nutrition_env, monitoring_env) = (
        common("registry.db"),
        common("payments.db"),
        common("nutrition.db"),
        common("monitoring.db"),
    );
    let (registry, payments, nutrition, monitoring) = tokio::join!(
        ServiceProcess::start("jigi-registry", dir, &registry_env),
        ServiceProcess::start("jigi-payments", dir, &payments_env),
        ServiceProcess::start("jigi-nutrition", dir, &nutrition_env),
        ServiceProcess::start("jigi-monitoring", dir, &monitoring_env),
    );
    Services {
        access,
        registry,
        payments,
        nutrition,
        monitoring,
    }
}

fn months_ago(months: u32) -> String {
    let today = chrono::Utc::now().date_naive();
    today
        .checked_sub_months(chrono::Months::new(months))
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}

fn household() -> HouseholdDraft {
    let member = |given: &str, sex: Sex, born: String, relation: Relation| MemberDraft {
        given_name: given.into(),
        family_name: "Sangaré".into(),
        sex: sex as i32,
        birth_date: born,
        relation: relation as i32,
        ..Default::default()
    };
    let mut head = member("Mariam", Sex::Female, "1979-04-12".into(), Relation::Head);
    head.id_card_number = "ML20198811".into();
    head.phone = "+22376110011".into();
    HouseholdDraft {
        location: Some(Location {
            commune: COMMUNE.into(),
            ..Default::default()
        }),
        members: vec![
            head,
            member("Bakary", Sex::Male, months_ago(18), Relation::Child),
            member("Oumar", Sex::Male, months_ago(9 * 12), Relation::Child),
            member("Aminata", Sex::Female, months_ago(12 * 12), Relation::Child),
        ],
        traits: Some(HouseholdTraits {
            roof: RoofMaterial::Thatch as i32,
            wall: WallMaterial::MudBrick as i32,
            floor: FloorMaterial::Earth as i32,
            ..Default::default()
        }),
    }
}

/// What the test did: IDs to find in the spans.
struct Done {
    household_id: String,
    cycle_id: String,
}

/// An office registers and enrols a household, the payments team pays it,
/// and the national view counts it — all within the span `root`.
async fn enrol_and_pay(services: &Services) -> Done {
    let access = &services.access;
    let office = access.token(
        "awa.agent",
        &[Role::FieldAgent, Role::RegionalSupervisor],
        Region::Sikasso,
    );
    let preparer = access.token("aminata.preparer", &[Role::PaymentPreparer], Region::Sikasso);
    let approver = access.token("boubacar.approver", &[Role::PaymentApprover], Region::Sikasso);
    let agent = access.agent_token("agent-001", Region::Sikasso, "AGENT-001");
    let operator = access.national_token("kadia.operator", &[Role::NationalOperator]);
    let mut registry = RegistryServiceClient::new(traced_as(services.registry.grpc_addr, &office).await);
    let mut payments = PaymentsServiceClient::new(traced_as(services.payments.grpc_addr, &preparer).await);
    let mut approving = PaymentsServiceClient::new(traced_as(services.payments.grpc_addr, &approver).await);
    let mut paying = PaymentsServiceClient::new(traced_as(services.payments.grpc_addr, &agent).await);
    let monitoring = MonitoringServiceClient::new(traced_as(services.monitoring.grpc_addr, &operator).await);
    let today = chrono::Utc::now().date_naive();

    let household_id = registry
        .register_household(RegisterHouseholdRequest {
            request_id: "trace-test-registration-1".into(),
            household: Some(household()),
        })
        .await
        .unwrap()
        .into_inner()
        .household
        .unwrap()
        .household_id;
    registry
        .enrol_household(EnrolHouseholdRequest {
            household_id: household_id.clone(),
            component: Component::Tm as i32,
            enrolled_on: today.format("%Y-%m-%d").to_string(),
            committee_override: String::new(),
        })
        .await
        .unwrap();
    eventually(WAIT, "payments to know the enrolled household", || {
        let mut payments = payments.clone();
        async move {
            let page = payments
                .list_eligible_households(ListEligibleHouseholdsRequest {
                    commune: COMMUNE.into(),
                    page_size: 10,
                    page_token: String::new(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            (!page.households.is_empty()).then_some(())
        }
    })
    .await;

    let quarter = Period::quarter_of(today).to_string();
    let cycle_id = payments
        .open_payment_cycle(OpenPaymentCycleRequest {
            period: Some(jigi_proto::common::Period { code: quarter.clone() }),
            funding_source: FundingSource::WorldBankIda as i32,
            amount_per_household: Some(Money { fcfa: 30_000 }),
            communes: vec![COMMUNE.into()],
            prepared_by: "aminata.preparer".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .cycle
        .unwrap()
        .cycle_id;
    payments
        .assign_payment_agents(AssignPaymentAgentsRequest {
            cycle_id: cycle_id.clone(),
            assignments: vec![AgentAssignment {
                commune: COMMUNE.into(),
                agent_code: "AGENT-001".into(),
                channel: PaymentChannel::Cash as i32,
            }],
            assigned_by: "aminata.preparer".into(),
        })
        .await
        .unwrap();
    let frozen = payments
        .freeze_payment_cycle(FreezePaymentCycleRequest {
            cycle_id: cycle_id.clone(),
            prepared_by: "aminata.preparer".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .cycle
        .unwrap();
    let totals = frozen.frozen.unwrap_or_default();
    approving
        .approve_payment_cycle(ApprovePaymentCycleRequest {
            cycle_id: cycle_id.clone(),
            approved_by: "boubacar.approver".into(),
            expected_count: totals.count,
            expected_amount: totals.amount,
        })
        .await
        .unwrap();
    paying
        .record_payment_result(RecordPaymentResultRequest {
            request_id: "trace-test-payment-1".into(),
            cycle_id: cycle_id.clone(),
            result: Some(PaymentResult {
                household_id: household_id.clone(),
                outcome: PaymentOutcome::Paid as i32,
                agent_code: "AGENT-001".into(),
                date: today.format("%Y-%m-%d").to_string(),
                amount: Some(Money { fcfa: 30_000 }),
                receipt_reference: "REC-0001".into(),
                failure_reason: 0,
            }),
        })
        .await
        .unwrap();
    eventually(WAIT, "the national indicator to count the payment", || {
        let mut monitoring = monitoring.clone();
        let quarter = quarter.clone();
        async move {
            let rows = monitoring
                .get_indicators(GetIndicatorsRequest {
                    area: String::new(),
                    period: Some(jigi_proto::common::Period { code: quarter }),
                    breakdown: 0,
                })
                .await
                .ok()?
                .into_inner()
                .rows;
            (rows.first()?.indicators.as_ref()?.households_paid == 1).then_some(())
        }
    })
    .await;
    Done { household_id, cycle_id }
}

fn find<'a>(spans: &'a [ReceivedSpan], what: &str, test: impl Fn(&ReceivedSpan) -> bool) -> &'a ReceivedSpan {
    spans.iter().find(|s| test(s)).unwrap_or_else(|| {
        panic!(
            "no span for {what} among {:#?}",
            spans.iter().map(|s| (&s.name, s.service())).collect::<Vec<_>>()
        )
    })
}

#[tokio::test]
async fn one_enrolment_and_its_payment_make_one_trace_across_the_four_services() {
    jigi_testkit::init_tracing();
    let nats = NatsServer::start().await;
    let otlp = OtlpReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let services = start_services(&nats, &otlp, dir.path()).await;

    let root = tracing::info_span!(target: "jigi_test", "regional office session");
    let root_context = TraceContext::of(&root);
    let trace_id = root_context.trace_id().expect("the test's span has a trace");
    let root_span_id = root_context.traceparent.as_deref().unwrap()[36..52].to_owned();
    let done = enrol_and_pay(&services).instrument(root).await;

    let registry_log = services.registry.log();
    for process in [
        services.registry,
        services.payments,
        services.nutrition,
        services.monitoring,
    ] {
        process.stop().await; // flushes the spans still batched
    }
    let wanted: BTreeSet<&str> = ["jigi-registry", "jigi-payments", "jigi-nutrition", "jigi-monitoring"].into();
    let spans = eventually(WAIT, "spans of the four services in the trace", || {
        let spans: Vec<ReceivedSpan> = otlp.spans().into_iter().filter(|s| s.trace_id == trace_id).collect();
        let services: BTreeSet<&str> = spans.iter().map(|s| s.service()).collect();
        let all = wanted.iter().all(|w| services.contains(w));
        async move { all.then_some(spans) }
    })
    .await;

    // The office's call: a server span, child of the caller's.
    let enrol = find(&spans, "the enrolment call", |s| {
        s.kind == SERVER && s.attribute("rpc.method") == Some("EnrolHousehold")
    });
    assert_eq!(enrol.service(), "jigi-registry");
    assert_eq!(
        enrol.parent_span_id, root_span_id,
        "child of the caller's span, across gRPC"
    );
    assert_eq!(enrol.attribute("rpc.system"), Some("grpc"));
    assert_eq!(enrol.attribute("rpc.service"), Some("jigi.registry.v1.RegistryService"));
    assert_eq!(enrol.attribute("rpc.grpc.status_code"), Some("0"));
    assert_eq!(enrol.attribute("jigi.household_id"), Some(done.household_id.as_str()));
    assert_eq!(enrol.attribute("jigi.region"), Some("sikasso"));
    assert_eq!(enrol.name, "jigi.registry.v1.RegistryService/EnrolHousehold");

    // Its event: published in the request's context, not the relay's.
    let publish = find(&spans, "the enrolment event's publish", |s| {
        s.kind == PRODUCER
            && s.attribute("messaging.destination.name") == Some("jigi.sikasso.registry.household.enrolled")
    });
    assert_eq!(publish.parent_span_id, enrol.span_id);
    assert_eq!(publish.attribute("messaging.system"), Some("nats"));
    assert_eq!(publish.attribute("messaging.operation.type"), Some("publish"));
    let event_id = publish.attribute("messaging.message.id").expect("the event's ID");

    // Every consumer of that event processes it as a child of the call.
    for service in ["jigi-payments", "jigi-nutrition", "jigi-monitoring"] {
        let process = find(&spans, &format!("{service} processing the enrolment"), |s| {
            s.kind == CONSUMER && s.service() == service && s.attribute("messaging.message.id") == Some(event_id)
        });
        assert_eq!(
            process.parent_span_id, enrol.span_id,
            "{service}: child of the producer's context"
        );
        assert_eq!(process.attribute("messaging.operation.type"), Some("process"));
        assert_eq!(process.attribute("messaging.system"), Some("nats"));
        assert_eq!(process.attribute("jigi.household_id"), Some(done.household_id.as_str()));
        assert_eq!(process.name, "jigi.sikasso.registry.household.enrolled process");
    }

    // The payment: a call to payments, and its event reaching the national indicator.
    let pay = find(&spans, "the payment call", |s| {
        s.kind == SERVER && s.attribute("rpc.method") == Some("RecordPaymentResult")
    });
    assert_eq!(pay.service(), "jigi-payments");
    assert_eq!(pay.parent_span_id, root_span_id);
    assert_eq!(pay.attribute("jigi.cycle_id"), Some(done.cycle_id.as_str()));
    // Payments are searched by household, as the README says.
    assert_eq!(pay.attribute("jigi.household_id"), Some(done.household_id.as_str()));
    let counted = find(&spans, "monitoring counting the payment", |s| {
        s.service() == "jigi-monitoring"
            && s.kind == CONSUMER
            && s.attribute("messaging.destination.name") == Some("jigi.sikasso.payments.payment.made")
    });
    assert_eq!(
        counted.parent_span_id, pay.span_id,
        "the indicator's update is a child of the payment call"
    );
    assert_eq!(counted.attribute("jigi.household_id"), Some(done.household_id.as_str()));

    // Resources name each service, its version, region and deployment.
    for span in &spans {
        assert_eq!(
            span.resource.get("service.version").map(String::as_str),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(
            span.resource.get("deployment.environment.name").map(String::as_str),
            Some("e2e")
        );
        let region = if span.service() == "jigi-monitoring" {
            "national"
        } else {
            "sikasso"
        };
        assert_eq!(span.resource.get("jigi.region").map(String::as_str), Some(region));
    }
    // No personal identifier in any span.
    for span in &spans {
        for value in span.attributes.values() {
            for personal in ["Mariam", "Sangaré", "ML20198811", "+22376110011"] {
                assert!(!value.contains(personal), "{} leaks {personal}", span.name);
            }
        }
    }
    // And the registry's log lines lead to the trace.
    assert!(
        registry_log.contains(&format!("trace_id={trace_id}")),
        "a log line carries the trace ID:\n{registry_log}"
    );
    // Written to a file, not a terminal: no colour codes around the spans' fields.
    assert!(
        !registry_log.contains('\u{1b}'),
        "the log has terminal escape codes:\n{registry_log}"
    );
}

#[tokio::test]
async fn a_message_without_trace_headers_starts_a_new_trace() {
    jigi_testkit::init_tracing();
    let nats = NatsServer::start().await;
    let otlp = OtlpReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let access = TestAccess::new(dir.path());
    let monitoring = ServiceProcess::start(
        "jigi-monitoring",
        dir.path(),
        &[
            ("JIGI_NATS_URL", nats.url()),
            (
                "JIGI_DATABASE_URL",
                format!("sqlite://{}", dir.path().join("m.db").display()),
            ),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.endpoint()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
            ("JIGI_REGIONS", "sikasso".to_owned()),
            ("JIGI_AUTH_JWKS_FILE", access.process_env()[0].1.clone()),
        ],
    )
    .await;
    let bus = jigi_bus::Bus::connect(&jigi_bus::BusConfig::new(nats.url(), "other-system"))
        .await
        .unwrap();
    jigi_bus::streams::ensure_region_stream(&bus.jetstream, Region::Sikasso)
        .await
        .unwrap();
    // Another system publishes a well-formed event with no trace headers.
    let message = jigi_proto::events::HouseholdRegistered {
        household_id: "h-from-elsewhere".into(),
        location: Some(Location {
            region: "sikasso".into(),
            cercle: "sikasso.yanfolila".into(),
            commune: COMMUNE.into(),
            village: String::new(),
        }),
        registered_on: "2018-10-01".into(),
        ..Default::default()
    };
    let event = jigi_bus::OutgoingEvent::new(Region::Sikasso, "h-from-elsewhere", &message);
    let mut untraced = event.clone();
    untraced.trace = TraceContext::default();
    let headers = untraced.headers();
    assert!(headers.get("traceparent").is_none());
    bus.jetstream
        .publish_with_headers(event.subject.clone(), headers, event.payload.clone().into())
        .await
        .unwrap()
        .await
        .unwrap();
    let operator = access.national_token("kadia.operator", &[Role::NationalOperator]);
    let client = MonitoringServiceClient::new(jigi_testkit::connect_as(monitoring.grpc_addr, &operator).await);
    eventually(WAIT, "the event to be counted", || {
        let mut client = client.clone();
        async move {
            let rows = client
                .get_indicators(GetIndicatorsRequest {
                    area: String::new(),
                    period: Some(jigi_proto::common::Period { code: "2018".into() }),
                    breakdown: 0,
                })
                .await
                .ok()?
                .into_inner()
                .rows;
            (rows.first()?.indicators.as_ref()?.households_registered == 1).then_some(())
        }
    })
    .await;
    monitoring.stop().await;
    let process = eventually(WAIT, "the processing span", || {
        let span = otlp
            .spans()
            .into_iter()
            .find(|s| s.kind == CONSUMER && s.attribute("messaging.message.id") == Some(event.id.as_str()));
        async move { span }
    })
    .await;
    assert!(process.parent_span_id.is_empty(), "a root span: no parent was invented");
    assert_eq!(process.trace_id.len(), 32);
    assert_ne!(process.trace_id, "0".repeat(32));
    let same_trace = otlp
        .spans()
        .into_iter()
        .filter(|s| s.trace_id == process.trace_id)
        .count();
    assert_eq!(same_trace, 1, "it joined no other trace");
}
