//! The access layer: every call (health and reflection aside) is identified,
//! checked against its service's rule table, rate-limited if it writes, and,
//! if it writes or is refused, recorded in the audit log before its answer
//! leaves. A call to a service this server does not serve is `UNIMPLEMENTED`;
//! a request message over its service's size limit is `RESOURCE_EXHAUSTED`.
//!
//! Handlers find the caller in the request's extensions
//! (`request.extensions().get::<Arc<Identity>>()`, or [`caller`]); it is absent only when access
//! control is off.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::BoxError;
use axum::body::{Bytes, HttpBody};
use jigi_audit::{AuditLog, Caller};
use jigi_auth::{Identity, Kind, Rule, ServiceArea, TokenError, Verifier, authorize};
use jigi_storage::Call;
use tonic::body::Body;
use tonic::{Code, Status};
use tower::{Layer, Service};

use crate::message_limit::{limit_request, too_large_from_tonic};
use crate::status::clip;
use crate::write_limit::WriteLimiter;

/// The metadata key of a call's request ID, echoed in the answer.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Who the audit log names when access control is off.
pub const ANONYMOUS: &str = "anonymous";

/// Everything the layer needs, shared by every connection.
pub struct AccessControl {
    pub(crate) verifier: Option<Verifier>,
    pub(crate) area: ServiceArea,
    pub(crate) audit: AuditLog,
    pub(crate) limiter: Option<WriteLimiter>,
    /// Rules by full method path, `/jigi.payments.v1.PaymentsService/ApprovePaymentCycle`.
    pub(crate) rules: HashMap<String, Rule>,
    /// The services served (health and reflection aside), by full name,
    /// with the largest request message each accepts.
    pub(crate) services: HashMap<&'static str, usize>,
    /// The largest request message of health and reflection.
    pub(crate) open_max_request_bytes: usize,
}

/// Why a call was turned away, and by whom it was made if that is known.
struct Refusal {
    status: Status,
    identity: Option<Arc<Identity>>,
}

impl AccessControl {
    // Boxed: a refusal carries a Status and an Identity, large for a Result.
    fn admit(
        &self,
        headers: &http::HeaderMap,
        rule: Option<&Rule>,
        path: &str,
    ) -> Result<Option<Arc<Identity>>, Box<Refusal>> {
        let identity = match &self.verifier {
            None => None,
            Some(verifier) => Some(verify(verifier, headers).map_err(|err| {
                Box::new(Refusal {
                    status: Status::unauthenticated(err.public_reason()),
                    identity: None,
                })
            })?),
        };
        let Some(rule) = rule else {
            return Err(Box::new(Refusal {
                status: Status::permission_denied(format!("{path} has no access rule: refused to everyone")),
                identity,
            }));
        };
        if let Some(identity) = &identity
            && let Err(denied) = authorize(rule, identity, self.area)
        {
            return Err(Box::new(Refusal {
                status: Status::permission_denied(denied.to_string()),
                identity: Some(Arc::clone(identity)),
            }));
        }
        Ok(identity)
    }

    /// The call as the audit log records it.
    fn call(&self, identity: Option<&Identity>, path: &str, request_id: &str) -> Call {
        Call::new(Caller {
            subject: identity.map_or(ANONYMOUS.to_owned(), |i| i.subject.clone()),
            roles: identity.map(Identity::describe_roles).unwrap_or_default(),
            scope: identity.map(|i| i.scope.describe()).unwrap_or_default(),
            service_area: self.area.name().to_owned(),
            method: path.to_owned(),
            request_id: request_id.to_owned(),
            trace_id: jigi_telemetry::current_trace_id().unwrap_or_default(),
        })
    }

    /// Records a call that no command logged (refused before it reached
    /// the database). Without its entry the call may not be answered as
    /// done: a failure here becomes the call's answer.
    async fn record(&self, call: &Call, outcome: Code) -> Result<(), Status> {
        self.audit.append_call(call, code_name(outcome)).await.map_err(|err| {
            let jigi_audit::AuditError::Storage(err) = err;
            // A full disk or a restarting database: the client is told when
            // to retry, as for any command (nothing was changed either way).
            if err.is_transient() {
                return crate::status::storage(&err);
            }
            tracing::error!(error = %err, "the audit log cannot be written; the call is refused");
            Status::unavailable("the audit log cannot be written right now; nothing was changed; retry shortly")
        })
    }
}

fn verify(verifier: &Verifier, headers: &http::HeaderMap) -> Result<Arc<Identity>, TokenError> {
    let value = headers.get(http::header::AUTHORIZATION).ok_or(TokenError::Missing)?;
    let value = value
        .to_str()
        .map_err(|_| TokenError::Malformed("the authorization header is not text"))?;
    let (scheme, token) = value.split_once(' ').ok_or(TokenError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::Missing);
    }
    verifier.verify(token.trim())
}

/// The caller's request ID ([`callers_request_id`]), else a fresh one.
fn request_id(callers: Option<&str>) -> String {
    callers.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// The caller's request ID, if it sent a sensible one.
fn callers_request_id(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
}

/// Calls that need no identity: load balancers and tools must see health
/// and the API's shape.
fn is_open(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.")
}

/// The service a method path names: `/jigi.audit.v1.AuditService/VerifyAuditChain`
/// → `jigi.audit.v1.AuditService`.
fn service_of(path: &str) -> &str {
    let path = path.strip_prefix('/').unwrap_or(path);
    path.split_once('/').map_or(path, |(service, _)| service)
}

/// Who the write limit counts: the token's subject, else the peer address.
fn limit_key<B>(identity: Option<&Identity>, request: &http::Request<B>) -> String {
    if let Some(identity) = identity {
        return identity.subject.clone();
    }
    request
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|info| info.remote_addr())
        .map_or_else(|| ANONYMOUS.to_owned(), |addr| addr.ip().to_string())
}

/// The outcome of an answer: a failure's status travels in the headers
/// (gRPC "trailers-only"), so headers without one mean the call succeeded.
fn outcome(response: &http::Response<Body>) -> Code {
    response
        .headers()
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<i32>().ok())
        .map_or(Code::Ok, Code::from_i32)
}

/// The canonical name of a status code, as the audit log writes it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// tonic's refusals of a client's request message, with the code gRPC's
/// status table gives them:
///
/// - a body that does not decode as the method's message is `INTERNAL` in
///   tonic, which tells the client the server failed. It is the client's
///   message that is wrong: `INVALID_ARGUMENT`;
/// - a message over the generated server's own size limit is `OUT_OF_RANGE`
///   in tonic: `RESOURCE_EXHAUSTED`, naming the limit.
fn client_errors_as_client_errors(response: http::Response<Body>) -> http::Response<Body> {
    let replacement = match Status::from_header_map(response.headers()) {
        Some(status)
            if status.code() == Code::Internal && status.message().starts_with("failed to decode Protobuf message") =>
        {
            let detail = status
                .message()
                .trim_start_matches("failed to decode Protobuf message")
                .trim_start_matches(": ");
            Status::invalid_argument(format!("the request is not a valid message for this method ({detail})"))
        }
        Some(status) => match too_large_from_tonic(&status) {
            Some(replacement) => replacement,
            None => return response,
        },
        None => return response,
    };
    let mut replaced = replacement.into_http();
    if let Some(id) = response.headers().get(REQUEST_ID_HEADER) {
        replaced.headers_mut().insert(REQUEST_ID_HEADER, id.clone());
    }
    replaced
}

fn answer(status: Status, request_id: &str) -> http::Response<Body> {
    with_request_id(status.into_http(), request_id)
}

fn with_request_id(mut response: http::Response<Body>, request_id: &str) -> http::Response<Body> {
    if let Ok(value) = http::HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// The tower layer applying an [`AccessControl`].
#[derive(Clone)]
pub struct AccessLayer {
    control: Arc<AccessControl>,
}

impl AccessLayer {
    pub fn new(control: AccessControl) -> AccessLayer {
        AccessLayer {
            control: Arc::new(control),
        }
    }
}

impl<S> Layer<S> for AccessLayer {
    type Service = Access<S>;

    fn layer(&self, inner: S) -> Access<S> {
        Access {
            inner,
            control: self.control.clone(),
        }
    }
}

/// The service made by [`AccessLayer`].
#[derive(Clone)]
pub struct Access<S> {
    inner: S,
    control: Arc<AccessControl>,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'static>>;

impl<S, B> Service<http::Request<B>> for Access<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<http::Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let path = request.uri().path().to_owned();
        if is_open(&path) {
            let limit = self.control.open_max_request_bytes;
            let request = request.map(|body| limit_request(body, limit));
            return Box::pin(async move { Ok(client_errors_as_client_errors(inner.call(request).await?)) });
        }
        let Some(&limit) = self.control.services.get(service_of(&path)) else {
            // Not a service of this server: what tonic answers for a path
            // it has no route for, said before anything else is checked.
            let request_id = request_id(callers_request_id(request.headers()));
            let status = Status::unimplemented(format!(
                "{} is not served here; server reflection lists what is",
                clip(service_of(&path), 200)
            ));
            return Box::pin(async move { Ok(answer(status, &request_id)) });
        };
        let mut request = request.map(|body| limit_request(body, limit));
        let control = self.control.clone();
        Box::pin(async move {
            // A command's or a refusal's ID is recorded (`recorded_id`); a
            // read's is recorded nowhere: the caller's own is echoed, none is
            // made up (a fresh one was drawn, formatted and
            // Huffman-coded both ways on every read, for nothing).
            let callers_id = callers_request_id(request.headers()).map(str::to_owned);
            let recorded_id = || request_id(callers_id.as_deref());
            let rule = control.rules.get(&path).copied();
            let identity = match control.admit(request.headers(), rule.as_ref(), &path) {
                Ok(identity) => identity,
                Err(refusal) => {
                    let request_id = recorded_id();
                    // Refusals of known callers are audited: an auditor wants
                    // to see who tried what. Unknown callers are only logged,
                    // or anyone could fill the log.
                    if refusal.identity.is_some() {
                        let call = control.call(refusal.identity.as_deref(), &path, &request_id);
                        if let Err(status) = control.record(&call, refusal.status.code()).await {
                            return Ok(answer(status, &request_id));
                        }
                    } else {
                        tracing::info!(
                            method = path,
                            reason = refusal.status.message(),
                            "unauthenticated call refused"
                        );
                    }
                    return Ok(answer(refusal.status, &request_id));
                }
            };
            let rule = rule.expect("admitted calls have a rule");
            if let Some(identity) = &identity {
                request.extensions_mut().insert(Arc::clone(identity));
            }
            if rule.kind != Kind::Command {
                let response = client_errors_as_client_errors(inner.call(request).await?);
                return Ok(match &callers_id {
                    Some(id) => with_request_id(response, id),
                    None => response,
                });
            }
            let request_id = recorded_id();
            if let Some(limiter) = &control.limiter
                && let Err(wait) = limiter.take(&limit_key(identity.as_deref(), &request), Instant::now())
            {
                // The wait also goes as a `google.rpc.RetryInfo`, so a
                // client retries after it without reading the message.
                let wait = wait.max(std::time::Duration::from_millis(1));
                let status = <Status as tonic_types::StatusExt>::with_error_details(
                    tonic::Code::ResourceExhausted,
                    format!("too many writes from this caller; retry in {} ms", wait.as_millis()),
                    tonic_types::ErrorDetails::with_retry_info(Some(wait)),
                );
                return Ok(answer(status, &request_id));
            }
            // A command's entry is written by the write path, in the
            // transaction of the command serving the call; a call refused
            // before any write gets its entry here.
            let call = control.call(identity.as_deref(), &path, &request_id);
            let response = client_errors_as_client_errors(call.clone().scope(inner.call(request)).await?);
            if !call.is_logged()
                && let Err(status) = control.record(&call, outcome(&response)).await
            {
                return Ok(answer(status, &request_id));
            }
            Ok(with_request_id(response, &request_id))
        })
    }
}

/// The verified caller of a request; `None` when access control is off.
pub fn caller<T>(request: &tonic::Request<T>) -> Option<&Identity> {
    request.extensions().get::<Arc<Identity>>().map(Arc::as_ref)
}

/// For reads that name an area (`sikasso`, `sikasso.yanfolila…`, or empty
/// for the whole country): whether the caller's scope covers it. An area
/// that names no known region is left to the handler to reject as invalid.
pub fn check_area(identity: Option<&Identity>, area: &str, field: &str) -> Result<(), Status> {
    let Some(identity) = identity else {
        return Ok(());
    };
    if identity.scope.is_national() {
        return Ok(());
    }
    if area.is_empty() {
        return Err(Status::permission_denied(format!(
            "{field} is empty (the whole country) but the caller may act in {} only: name an area of it",
            identity.scope.describe()
        )));
    }
    let region = area.split('.').next().unwrap_or_default();
    match region.parse::<jigi_common::Region>() {
        Ok(region) if !identity.scope.covers(region) => Err(Status::permission_denied(format!(
            "{field} {area:?} is outside the caller's scope ({})",
            identity.scope.describe()
        ))),
        _ => Ok(()),
    }
}
