//! The local stack (`jigi up`, `jigi demo`) runs every service of a country
//! in one process; its traces must still read as the deployment's do. Each
//! embedded service exports under its own `service.name` and region — the
//! registry as `jigi-registry` of Sikasso, the monitoring as
//! `jigi-monitoring` of the nation — never as the process (`jigi`, `local`),
//! checked with a real OTLP receiver.

use std::collections::BTreeSet;
use std::time::Duration;

use jigi_auth::Role;
use jigi_common::Region;
use jigi_proto::common::Component;
use jigi_proto::registry::{EnrolHouseholdRequest, RegisterHouseholdRequest};
use jigi_registry::sample::HouseholdGenerator;
use jigi_stack::{LocalStack, Telemetry, clients};
use jigi_testkit::{OtlpReceiver, ReceivedSpan, eventually};

const WAIT: Duration = Duration::from_secs(60);
/// OpenTelemetry's span kinds, as OTLP numbers them.
const SERVER: i32 = 2;
const CONSUMER: i32 = 5;

#[tokio::test]
async fn each_service_of_the_local_stack_exports_under_its_own_name_and_region() {
    jigi_testkit::init_tracing();
    let otlp = OtlpReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let telemetry = Telemetry {
        otlp_endpoint: Some(otlp.endpoint()),
        ..Telemetry::default()
    };
    let stack = LocalStack::start_with(dir.path(), &[Region::Sikasso], &telemetry)
        .await
        .expect("the stack starts");

    // A registrar registers and enrols a household in the cash transfers:
    // the registry serves the calls, payments and the monitoring consume
    // the enrolment.
    let node = stack.region(Region::Sikasso);
    let registrar = stack.staff.in_region(
        "k.keita",
        &[Role::FieldAgent, Role::RegionalSupervisor],
        Region::Sikasso,
        None,
    );
    let channel = clients::connect(&node.endpoints().registry, "registry", "", "")
        .await
        .unwrap();
    let mut registry = clients::registry_client_as(channel, registrar);
    let draft = HouseholdGenerator::new(
        &jigi_common::Geography::built_in(),
        Region::Sikasso,
        &[],
        chrono::Utc::now().date_naive(),
        1,
    )
    .household(0);
    let household_id = registry
        .register_household(RegisterHouseholdRequest {
            request_id: "local-stack-traces-1".into(),
            household: Some(draft),
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
            enrolled_on: chrono::Utc::now().date_naive().to_string(),
            committee_override: "CCL test".into(),
        })
        .await
        .unwrap();

    let spans: Vec<ReceivedSpan> = eventually(
        WAIT,
        "the enrolment's spans from the registry, payments and the monitoring",
        || {
            let spans = otlp.spans();
            let about: Vec<ReceivedSpan> = spans
                .into_iter()
                .filter(|s| s.attribute("jigi.household_id") == Some(household_id.as_str()))
                .collect();
            let services: BTreeSet<String> = about.iter().map(|s| s.service().to_owned()).collect();
            let complete = ["jigi-registry", "jigi-payments", "jigi-monitoring"]
                .iter()
                .all(|service| services.contains(*service));
            async move { complete.then_some(about) }
        },
    )
    .await;

    let enrol = spans
        .iter()
        .find(|s| s.kind == SERVER && s.attribute("rpc.method") == Some("EnrolHousehold"))
        .expect("the enrolment call's server span");
    assert_eq!(enrol.service(), "jigi-registry");
    assert_eq!(enrol.resource.get("jigi.region").map(String::as_str), Some("sikasso"));
    let payments = spans
        .iter()
        .find(|s| s.kind == CONSUMER && s.service() == "jigi-payments")
        .expect("payments processing the enrolment");
    assert_eq!(
        payments.resource.get("jigi.region").map(String::as_str),
        Some("sikasso")
    );
    let monitoring = spans
        .iter()
        .find(|s| s.kind == CONSUMER && s.service() == "jigi-monitoring")
        .expect("the monitoring processing the enrolment");
    assert_eq!(
        monitoring.resource.get("jigi.region").map(String::as_str),
        Some("national")
    );
    // Nothing the services did is exported under the process's name.
    let all = otlp.spans();
    let strays: Vec<(&str, &str)> = all
        .iter()
        .filter(|s| s.service() == "jigi" || s.resource.get("jigi.region").map(String::as_str) == Some("local"))
        .map(|s| (s.name.as_str(), s.service()))
        .collect();
    assert!(strays.is_empty(), "spans under the process's name: {strays:?}");
    stack.stop().await;
}
