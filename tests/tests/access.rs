//! Who may do what, where (issue 9), against the four real services with
//! access control on, over real gRPC:
//!
//! - every RPC of every service has a rule, and each role is admitted to
//!   exactly the RPCs its rule names and refused (`PERMISSION_DENIED`) on
//!   the rest;
//! - a token of another region is refused everywhere in Sikasso; missing,
//!   expired, forged and `alg: none` tokens are `UNAUTHENTICATED`;
//! - refused calls change nothing, even when their request is valid;
//! - the audit log records commands and refusals, verifies, and shows an
//!   entry edited in the database.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use jigi_auth::{Expectations, Grant, KeySource, LocalIssuer, Role, Rule, Scope};
use jigi_common::Region;
use jigi_e2e::raw_grpc::{self, Method, is_refusal};
use jigi_proto::audit::audit_service_client::AuditServiceClient;
use jigi_proto::audit::{ListAuditEntriesRequest, VerifyAuditChainRequest};
use jigi_proto::registry::RegisterHouseholdRequest;
use jigi_server::serving::AccessSettings;
use jigi_server::{Running, ServeConfig};
use jigi_storage::Database;
use jigi_testkit::{NatsServer, connect_channel, sqlite_url};
use prost::Message as _;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::Channel;

const AUDIT: &str = "jigi.audit.v1.AuditService";

struct Stack {
    _nats: NatsServer,
    _dir: tempfile::TempDir,
    shutdown: CancellationToken,
    issuer: LocalIssuer,
    registry: Running<jigi_registry::Registry>,
    payments: Running<jigi_payments::Handle>,
    nutrition: Running<jigi_nutrition::Handle>,
    activities: Running<jigi_activities::Handle>,
    monitoring: Running<jigi_monitoring::Handle>,
}

/// Sikasso's three services and the monitoring, trusting the keys of a
/// local issuer through a JWKS file, as deployed with a file.
async fn start() -> Stack {
    jigi_testkit::init_tracing();
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let issuer = LocalIssuer::generate();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, issuer.key_set().to_json()).unwrap();
    let serve = ServeConfig {
        access: AccessSettings::Tokens {
            keys: KeySource::File(jwks),
            expect: Expectations::default(),
        },
        ..ServeConfig::local()
    };
    let shutdown = CancellationToken::new();
    let url = |name: &str| sqlite_url(dir.path(), name);
    let mut registry = jigi_registry::Config::local(Region::Sikasso, &nats.url(), &url("registry"));
    registry.service.serve = serve.clone();
    let mut payments = jigi_payments::Config::local(Region::Sikasso, &nats.url(), &url("payments"));
    payments.service.serve = serve.clone();
    let mut nutrition =
        jigi_nutrition::Config::regional(jigi_nutrition::SERVICE, Region::Sikasso, &nats.url(), &url("nutrition"));
    nutrition.serve = serve.clone();
    let mut activities = jigi_activities::Config::regional(
        jigi_activities::SERVICE,
        Region::Sikasso,
        &nats.url(),
        &url("activities"),
    );
    activities.serve = serve.clone();
    let mut monitoring =
        jigi_monitoring::Config::local(&[Region::Sikasso, Region::Mopti], &nats.url(), &url("monitoring"));
    monitoring.service.serve = serve;
    Stack {
        registry: jigi_registry::start(registry, shutdown.clone()).await.unwrap(),
        payments: jigi_payments::start(payments, shutdown.clone()).await.unwrap(),
        nutrition: jigi_nutrition::start(nutrition, shutdown.clone()).await.unwrap(),
        activities: jigi_activities::start(activities, shutdown.clone()).await.unwrap(),
        monitoring: jigi_monitoring::start(monitoring, shutdown.clone()).await.unwrap(),
        _nats: nats,
        _dir: dir,
        shutdown,
        issuer,
    }
}

/// A service under test: where it listens, its rules, the scope its callers need.
struct Target {
    service: &'static str,
    rules: &'static [Rule],
    addr: std::net::SocketAddr,
    database: Database,
    scope: Scope,
}

impl Stack {
    fn targets(&self) -> Vec<Target> {
        let sikasso = || Scope::Regions(BTreeSet::from([Region::Sikasso]));
        vec![
            Target {
                service: "jigi.registry.v1.RegistryService",
                rules: jigi_registry::policy::RULES,
                addr: self.registry.grpc_addr,
                database: self.registry.database.clone(),
                scope: sikasso(),
            },
            Target {
                service: "jigi.payments.v1.PaymentsService",
                rules: jigi_payments::policy::RULES,
                addr: self.payments.grpc_addr,
                database: self.payments.database.clone(),
                scope: sikasso(),
            },
            Target {
                service: "jigi.nutrition.v1.NutritionService",
                rules: jigi_nutrition::policy::RULES,
                addr: self.nutrition.grpc_addr,
                database: self.nutrition.database.clone(),
                scope: sikasso(),
            },
            Target {
                service: "jigi.activities.v1.ActivitiesService",
                rules: jigi_activities::policy::RULES,
                addr: self.activities.grpc_addr,
                database: self.activities.database.clone(),
                scope: sikasso(),
            },
            Target {
                service: "jigi.monitoring.v1.MonitoringService",
                rules: jigi_monitoring::policy::RULES,
                addr: self.monitoring.grpc_addr,
                database: self.monitoring.database.clone(),
                scope: Scope::National,
            },
        ]
    }

    fn token(&self, subject: &str, roles: &[Role], scope: Scope) -> String {
        let mut grant = Grant::new(subject, roles, scope);
        grant.agent_code = Some("AGENT-1".into());
        self.issuer.issue(&grant)
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.registry.stopped().await;
        self.payments.stopped().await;
        self.nutrition.stopped().await;
        self.activities.stopped().await;
        self.monitoring.stopped().await;
    }
}

/// What a database holds, but the tables that move without any call.
async fn table_counts(database: &Database) -> BTreeMap<String, i64> {
    jigi_e2e::database_fingerprint(database, &["audit_log", "inbox_consumers"]).await
}

fn rule_of<'a>(rules: &'a [Rule], method: &Method) -> Option<&'a Rule> {
    if method.service == AUDIT {
        return jigi_audit::grpc::RULES.iter().find(|rule| rule.method == method.name);
    }
    rules.iter().find(|rule| rule.method == method.name)
}

#[tokio::test]
async fn every_rpc_has_a_rule_and_each_role_gets_exactly_what_its_rule_says() {
    let stack = start().await;
    let mut checked = 0;
    for target in stack.targets() {
        let channel = connect_channel(target.addr).await;
        let methods: Vec<Method> = raw_grpc::methods(target.service)
            .into_iter()
            .chain(raw_grpc::methods(AUDIT))
            .collect();
        for method in &methods {
            let rule = rule_of(target.rules, method)
                .unwrap_or_else(|| panic!("{} has no access rule in its service's policy.rs", method.path()));
            for role in Role::ALL {
                let token = stack.token(&format!("{role}-user"), &[role], target.scope.clone());
                let status = raw_grpc::call(&channel, method, Bytes::new(), Some(&token)).await;
                if rule.roles.contains(&role) {
                    assert!(
                        !is_refusal(status.code()),
                        "{role} should reach {}: {status:?}",
                        method.path()
                    );
                } else {
                    assert_eq!(
                        status.code(),
                        Code::PermissionDenied,
                        "{role} should be refused {}: {status:?}",
                        method.path()
                    );
                }
                checked += 1;
            }
        }
    }
    println!("access matrix: {checked} role × RPC pairs checked");
    stack.stop().await;
}

#[tokio::test]
async fn other_regions_and_bad_tokens_are_refused_and_change_nothing() {
    let stack = start().await;
    let mopti = Scope::Regions(BTreeSet::from([Region::Mopti]));
    let every_role_in_mopti = stack.token("mopti-all", &Role::ALL, mopti.clone());
    let expired = stack.issuer.issue(&Grant {
        lifetime: Duration::ZERO,
        ..Grant::new("late", &Role::ALL, Scope::National)
    });
    // `issue` makes exp = now; a minute of leeway is allowed, so go further back.
    let expired = resign_with_claims(&stack.issuer, &expired, |claims| {
        claims["exp"] = serde_json::json!(claims["iat"].as_u64().unwrap() - 3600);
    });
    let forged = LocalIssuer::generate().issue(&Grant::new("forger", &Role::ALL, Scope::National));
    let alg_none = unsigned(&stack.token("none", &Role::ALL, Scope::National));

    let targets = stack.targets();
    let mut before = Vec::new();
    for target in &targets {
        before.push(table_counts(&target.database).await);
    }
    for target in &targets {
        let channel = connect_channel(target.addr).await;
        for method in raw_grpc::methods(target.service) {
            for (what, token, expected) in [
                ("no token", None, Code::Unauthenticated),
                ("an expired token", Some(expired.as_str()), Code::Unauthenticated),
                ("a forged token", Some(forged.as_str()), Code::Unauthenticated),
                ("an alg:none token", Some(alg_none.as_str()), Code::Unauthenticated),
            ] {
                let status = raw_grpc::call(&channel, &method, Bytes::new(), token).await;
                assert_eq!(status.code(), expected, "{what} on {}: {status:?}", method.path());
            }
            if target.scope != Scope::National {
                let status = raw_grpc::call(&channel, &method, Bytes::new(), Some(&every_role_in_mopti)).await;
                assert_eq!(
                    status.code(),
                    Code::PermissionDenied,
                    "Mopti on {}: {status:?}",
                    method.path()
                );
            }
        }
    }

    // A valid registration, refused to each of these callers.
    let household = jigi_registry::sample::HouseholdGenerator::new(
        &jigi_common::Geography::built_in(),
        Region::Sikasso,
        &[],
        chrono::Utc::now().date_naive(),
        7,
    )
    .household(1);
    let register = RegisterHouseholdRequest {
        request_id: "r-1".into(),
        household: Some(household),
    }
    .encode_to_vec();
    let register_method = raw_grpc::methods("jigi.registry.v1.RegistryService")
        .into_iter()
        .find(|m| m.name == "RegisterHousehold")
        .unwrap();
    let registry = connect_channel(stack.registry.grpc_addr).await;
    let payment_agent = stack.token("agent", &[Role::PaymentAgent], targets[0].scope.clone());
    for token in [
        None,
        Some(&expired),
        Some(&forged),
        Some(&alg_none),
        Some(&every_role_in_mopti),
        Some(&payment_agent),
    ] {
        let status = raw_grpc::call(
            &registry,
            &register_method,
            Bytes::from(register.clone()),
            token.map(String::as_str),
        )
        .await;
        assert!(is_refusal(status.code()), "{status:?}");
    }
    for (target, before) in targets.iter().zip(&before) {
        assert_eq!(
            &table_counts(&target.database).await,
            before,
            "{} changed",
            target.service
        );
    }

    // The same request from a Sikasso field agent goes through: it was valid.
    let field_agent = stack.token("awa", &[Role::FieldAgent], targets[0].scope.clone());
    let status = raw_grpc::call(&registry, &register_method, Bytes::from(register), Some(&field_agent)).await;
    assert_eq!(status.code(), Code::Ok, "{status:?}");
    let after = table_counts(&targets[0].database).await;
    assert_eq!(after["households"], before[0]["households"] + 1);
    stack.stop().await;
}

#[tokio::test]
async fn a_regional_supervisor_reads_their_regions_indicators_only() {
    let stack = start().await;
    let channel = connect_channel(stack.monitoring.grpc_addr).await;
    let mut client = jigi_proto::monitoring::monitoring_service_client::MonitoringServiceClient::new(channel);
    let supervisor = stack.token(
        "sidi",
        &[Role::RegionalSupervisor],
        Scope::Regions(BTreeSet::from([Region::Mopti])),
    );
    let indicators = |area: &str| {
        raw_grpc::bearer(
            tonic::Request::new(jigi_proto::monitoring::GetIndicatorsRequest {
                area: area.into(),
                period: Some(jigi_proto::common::Period { code: "2018".into() }),
                ..Default::default()
            }),
            Some(&supervisor),
        )
    };
    let own = client.get_indicators(indicators("mopti")).await;
    assert!(own.is_ok(), "{own:?}");
    for area in ["sikasso", "sikasso.yanfolila", ""] {
        let status = client.get_indicators(indicators(area)).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{area:?}: {status:?}");
    }
    let operator = stack.token("kadia", &[Role::NationalOperator], Scope::National);
    let whole_country = jigi_proto::monitoring::GetIndicatorsRequest {
        period: Some(jigi_proto::common::Period { code: "2018".into() }),
        ..Default::default()
    };
    let national = raw_grpc::bearer(tonic::Request::new(whole_country), Some(&operator));
    assert!(client.get_indicators(national).await.is_ok());
    // Budget entries are national: a regional token cannot make them.
    let regional_operator = stack.token(
        "issa",
        &[Role::NationalOperator],
        Scope::Regions(BTreeSet::from([Region::Mopti])),
    );
    let line = raw_grpc::bearer(tonic::Request::new(Default::default()), Some(&regional_operator));
    assert_eq!(
        client.set_budget_line(line).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    stack.stop().await;
}

#[tokio::test]
async fn commands_and_refusals_are_audited_and_an_edited_entry_is_found() {
    let stack = start().await;
    let sikasso = Scope::Regions(BTreeSet::from([Region::Sikasso]));
    let channel: Channel = connect_channel(stack.registry.grpc_addr).await;
    let methods = raw_grpc::methods("jigi.registry.v1.RegistryService");
    let method = |name: &str| methods.iter().find(|m| m.name == name).unwrap().clone();
    let keeper = stack.token("moussa", &[Role::NutritionStoreKeeper], sikasso.clone());
    let supervisor = stack.token("awa", &[Role::RegionalSupervisor], sikasso.clone());
    // A refusal, a failed command, and a read (not audited).
    raw_grpc::call(&channel, &method("EnrolHousehold"), Bytes::new(), Some(&keeper)).await;
    raw_grpc::call(&channel, &method("EnrolHousehold"), Bytes::new(), Some(&supervisor)).await;
    raw_grpc::call(&channel, &method("ListAreas"), Bytes::new(), Some(&supervisor)).await;

    let auditor = stack.token("kadi", &[Role::Auditor], sikasso.clone());
    let mut audit = AuditServiceClient::new(channel.clone());
    let entries = audit
        .list_audit_entries(raw_grpc::bearer(
            tonic::Request::new(ListAuditEntriesRequest::default()),
            Some(&auditor),
        ))
        .await
        .unwrap()
        .into_inner()
        .entries;
    let seen: Vec<(String, String, String)> = entries
        .iter()
        .map(|e| (e.subject.clone(), e.roles.clone(), e.outcome.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "moussa".into(),
                "nutrition_store_keeper".into(),
                "PERMISSION_DENIED".into()
            ),
            ("awa".into(), "regional_supervisor".into(), "INVALID_ARGUMENT".into()),
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| e.method.ends_with("/EnrolHousehold") && e.service_area == "sikasso")
    );
    assert!(entries.iter().all(|e| !e.request_id.is_empty()));
    // Only auditors read the log (and the refusal is itself recorded).
    let status = audit
        .list_audit_entries(raw_grpc::bearer(
            tonic::Request::new(ListAuditEntriesRequest::default()),
            Some(&supervisor),
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    let verify = |audit: &mut AuditServiceClient<Channel>| {
        let request = raw_grpc::bearer(tonic::Request::new(VerifyAuditChainRequest {}), Some(&auditor));
        let mut audit = audit.clone();
        async move { audit.verify_audit_chain(request).await.unwrap().into_inner() }
    };
    let verdict = verify(&mut audit).await;
    assert!(verdict.intact && verdict.entries_checked == 3, "{verdict:?}");

    // Someone with the database owner's rights rewrites who was refused.
    stack
        .registry
        .database
        .write(|conn| {
            conn.execute_batch(
                "DROP TRIGGER audit_log_no_update; \
                 UPDATE audit_log SET subject = 'nobody' WHERE sequence = 1;",
            )
        })
        .await
        .unwrap();
    let verdict = verify(&mut audit).await;
    assert!(!verdict.intact);
    assert_eq!(verdict.first_broken_sequence, 1, "{verdict:?}");
    stack.stop().await;
}

/// The same token with its claims changed and signed again by `issuer`.
fn resign_with_claims(issuer: &LocalIssuer, token: &str, change: impl FnOnce(&mut serde_json::Value)) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let header: serde_json::Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    let mut claims: serde_json::Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    change(&mut claims);
    issuer.sign(&header, &claims)
}

/// The token's claims under an `alg: none` header, without a signature.
fn unsigned(token: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims = token.split('.').nth(1).unwrap();
    format!("{}.{claims}.", b64.encode(r#"{"alg":"none","typ":"JWT"}"#))
}

#[tokio::test]
async fn a_caller_writing_too_fast_is_told_to_slow_down_and_reads_still_pass() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = jigi_registry::Config::local(Region::Sikasso, &nats.url(), &sqlite_url(dir.path(), "registry"));
    config.service.serve.write_limit = Some(jigi_server::serving::WriteLimit {
        per_second: 0.01,
        burst: 2.0,
    });
    let shutdown = CancellationToken::new();
    let registry = jigi_registry::start(config, shutdown.clone()).await.unwrap();
    let channel = connect_channel(registry.grpc_addr).await;
    let methods = raw_grpc::methods("jigi.registry.v1.RegistryService");
    let register = methods.iter().find(|m| m.name == "RegisterHousehold").unwrap();
    let areas = methods.iter().find(|m| m.name == "ListAreas").unwrap();
    for _ in 0..2 {
        let status = raw_grpc::call(&channel, register, Bytes::new(), None).await;
        assert_eq!(status.code(), Code::InvalidArgument, "within the burst: {status:?}");
    }
    let status = raw_grpc::call(&channel, register, Bytes::new(), None).await;
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("retry in"), "{}", status.message());
    // When to retry, for a client to read without parsing the message: at
    // 0.01 writes a second, the next is 100 s away at most.
    let retry = jigi_stack::clients::retry_info(&status).expect("a RetryInfo with a delay");
    assert!(retry > Duration::ZERO && retry <= Duration::from_secs(100), "{retry:?}");
    let status = raw_grpc::call(&channel, areas, Bytes::new(), None).await;
    assert_eq!(status.code(), Code::Ok, "reads are not limited: {status:?}");
    shutdown.cancel();
    registry.stopped().await;
}
