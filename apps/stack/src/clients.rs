//! Clients of the services that carry the caller's trace context and
//! bearer token with every call, and the one-line error a person reads
//! when a call fails.

use jigi_proto::activities::activities_service_client::ActivitiesServiceClient;
use jigi_proto::linkage::linkage_service_client::LinkageServiceClient;
use jigi_proto::monitoring::monitoring_service_client::MonitoringServiceClient;
use jigi_proto::nutrition::nutrition_service_client::NutritionServiceClient;
use jigi_proto::payments::payments_service_client::PaymentsServiceClient;
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_telemetry::grpc::PropagateTrace;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// What every call carries: the current span's `traceparent`, and the
/// caller's bearer token when there is one.
#[derive(Clone, Default)]
pub struct Caller {
    authorization: Option<AsciiMetadataValue>,
}

impl Caller {
    /// A caller presenting `token`.
    pub fn with_token(token: &str) -> anyhow::Result<Caller> {
        let value = MetadataValue::try_from(format!("Bearer {}", token.trim()))
            .map_err(|_| anyhow::anyhow!("the token is not plain text; paste it as `jigi token` printed it"))?;
        Ok(Caller {
            authorization: Some(value),
        })
    }

    /// The caller of `JIGI_TOKEN` (none when it is unset: the services then
    /// answer UNAUTHENTICATED unless they run without access control).
    pub fn from_env() -> Caller {
        std::env::var("JIGI_TOKEN")
            .ok()
            .filter(|token| !token.trim().is_empty())
            .and_then(|token| Caller::with_token(&token).ok())
            .unwrap_or_default()
    }
}

impl Interceptor for Caller {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let mut request = PropagateTrace.call(request)?;
        if let Some(value) = &self.authorization {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A channel whose calls carry the trace context and the caller's token.
pub type Traced = InterceptedService<Channel, Caller>;
pub type RegistryClient = RegistryServiceClient<Traced>;
pub type PaymentsClient = PaymentsServiceClient<Traced>;
pub type NutritionClient = NutritionServiceClient<Traced>;
pub type MonitoringClient = MonitoringServiceClient<Traced>;
pub type LinkageClient = LinkageServiceClient<Traced>;
pub type ActivitiesClient = ActivitiesServiceClient<Traced>;

/// Bulk calls (imports, payment lists, registers) need more than tonic's 4 MiB default.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Connects to `address` (`http://host:port`, or `host:port`), naming the
/// service, its flag and its variable in the error a person reads.
pub async fn connect(address: &str, service: &str, flag: &str, variable: &str) -> anyhow::Result<Channel> {
    let address = if address.contains("://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    };
    tonic::transport::Endpoint::from_shared(address.clone())
        .map_err(|_| anyhow::anyhow!("{address:?} is not a valid address for the {service}; use http://host:port"))?
        // A unary call would otherwise wait for the server's delayed ACK.
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|err| {
            anyhow::anyhow!(
                "cannot reach the {service} at {address}: {err} (is it running? set {flag} or {variable}; `jigi up` prints the addresses)"
            )
        })
}

fn traced(channel: Channel, caller: Caller) -> Traced {
    InterceptedService::new(channel, caller)
}

/// A registry client calling as `JIGI_TOKEN`'s holder.
pub fn registry_client(channel: Channel) -> RegistryClient {
    registry_client_as(channel, Caller::from_env())
}

pub fn registry_client_as(channel: Channel, caller: Caller) -> RegistryClient {
    RegistryServiceClient::new(traced(channel, caller))
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
}

/// A payments client calling as `JIGI_TOKEN`'s holder.
pub fn payments_client(channel: Channel) -> PaymentsClient {
    payments_client_as(channel, Caller::from_env())
}

pub fn payments_client_as(channel: Channel, caller: Caller) -> PaymentsClient {
    PaymentsServiceClient::new(traced(channel, caller))
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
}

/// A nutrition client calling as `JIGI_TOKEN`'s holder.
pub fn nutrition_client(channel: Channel) -> NutritionClient {
    nutrition_client_as(channel, Caller::from_env())
}

pub fn nutrition_client_as(channel: Channel, caller: Caller) -> NutritionClient {
    NutritionServiceClient::new(traced(channel, caller))
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
}

/// An activities (MA, AGR, HIMO) client calling as `JIGI_TOKEN`'s holder.
pub fn activities_client(channel: Channel) -> ActivitiesClient {
    activities_client_as(channel, Caller::from_env())
}

pub fn activities_client_as(channel: Channel, caller: Caller) -> ActivitiesClient {
    ActivitiesServiceClient::new(traced(channel, caller))
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
}

/// A monitoring client calling as `JIGI_TOKEN`'s holder.
pub fn monitoring_client(channel: Channel) -> MonitoringClient {
    monitoring_client_as(channel, Caller::from_env())
}

pub fn monitoring_client_as(channel: Channel, caller: Caller) -> MonitoringClient {
    MonitoringServiceClient::new(traced(channel, caller))
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
}

/// A client of the national linkage index calling as `JIGI_TOKEN`'s holder.
pub fn linkage_client(channel: Channel) -> LinkageClient {
    linkage_client_as(channel, Caller::from_env())
}

pub fn linkage_client_as(channel: Channel, caller: Caller) -> LinkageClient {
    LinkageServiceClient::new(traced(channel, caller))
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
}

/// A service's refusal as one line: what failed, the service's reason, what to do.
pub fn service_error(what: &str, status: tonic::Status) -> anyhow::Error {
    let hint = match status.code() {
        tonic::Code::Unavailable => " (is the service running, and is the address right?)",
        tonic::Code::InvalidArgument => " (fix the request and try again)",
        tonic::Code::NotFound => " (check the ID)",
        tonic::Code::FailedPrecondition => " (the state does not allow it yet; see the reason)",
        tonic::Code::AlreadyExists => " (it was done already; look it up instead)",
        _ => "",
    };
    let message = status.message().replace('\n', " ");
    anyhow::anyhow!("{what} failed: {message} ({:?}){hint}", status.code())
}

/// Longest wait between two attempts of a retried call.
const MAX_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a retried call keeps trying before it gives up.
const RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// When the service asked to be called again (`google.rpc.RetryInfo`), if
/// it did.
pub fn retry_info(status: &tonic::Status) -> Option<std::time::Duration> {
    tonic_types::StatusExt::get_error_details(status)
        .retry_info()
        .and_then(|info| info.retry_delay)
}

/// Whether a failed call may have failed only because the service was
/// unreachable or restarting, or asked to be called again later (a caller
/// writing too fast), and not because it refused the request.
pub fn is_retryable(status: &tonic::Status) -> bool {
    match status.code() {
        tonic::Code::Unavailable => true,
        tonic::Code::ResourceExhausted => retry_info(status).is_some(),
        // A service's own answer is decoded from the wire and has no local
        // cause; a connection dropped in the middle of a call ("stream
        // removed", "connection reset") is UNKNOWN made here, with the
        // transport's error as its source.
        tonic::Code::Unknown => std::error::Error::source(status).is_some(),
        // A connection closed while the call waited for its answer (the
        // service killed in the middle of it) is CANCELLED made here,
        // again with the transport's error as its source. So is a call
        // that ran out of the time its caller gave it: that one stays over.
        tonic::Code::Cancelled => std::error::Error::source(status).is_some_and(|source| !timed_out(source)),
        _ => false,
    }
}

/// Whether a locally made error comes from the caller's own deadline.
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(error), |error| error.source()).any(|error| error.is::<tonic::TimeoutExpired>())
}

/// Runs an idempotent call until it is answered: while the service is
/// unreachable or restarting, the same request (with the same request ID)
/// is sent again with a growing pause (or after the pause the service asked
/// for), each retry said in one line on stderr. The service answers a
/// repeat as the first, so the work is done once. A refusal is returned at
/// once.
pub async fn with_retries<T, F, Fut>(what: &str, mut call: F) -> Result<T, tonic::Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    let started = std::time::Instant::now();
    let mut delay = std::time::Duration::from_millis(200);
    loop {
        match call().await {
            Err(status) if is_retryable(&status) && started.elapsed() < RETRY_FOR => {
                let pause = retry_info(&status).unwrap_or(delay).min(RETRY_FOR);
                eprintln!(
                    "jigi: {what}: the service did not answer ({:?}: {}); sending the same request again in {} ms",
                    status.code(),
                    status.message().replace('\n', " "),
                    pause.as_millis()
                );
                tokio::time::sleep(pause).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
            outcome => return outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_retryable;

    #[test]
    fn a_dropped_connection_is_retried_and_a_service_answer_is_not() {
        let dropped = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset by peer");
        let made_here = tonic::Status::from_error(Box::new(dropped));
        assert_eq!(made_here.code(), tonic::Code::Unknown);
        assert!(is_retryable(&made_here));
        // The same words, but answered by a service: a refusal, not a crash.
        assert!(!is_retryable(&tonic::Status::unknown(
            "transport error: connection reset"
        )));
        assert!(is_retryable(&tonic::Status::unavailable("restarting")));
        // The connection closed under a call waiting for its answer; and a
        // service's own CANCELLED, which is not retried.
        let mut closed = tonic::Status::cancelled("operation was canceled");
        closed.set_source(std::sync::Arc::new(std::io::Error::other("connection closed")));
        assert!(is_retryable(&closed));
        assert!(!is_retryable(&tonic::Status::cancelled("the caller went away")));
        // Out of the time the caller gave it (tonic makes it CANCELLED too).
        let late = tonic::Status::from_error(Box::new(tonic::TimeoutExpired(())));
        assert_eq!(late.code(), tonic::Code::Cancelled);
        assert!(!is_retryable(&late));
        assert!(!is_retryable(&tonic::Status::invalid_argument("household_id")));
        // Asked to slow down, with when to come back: retried. Too large a
        // message, with no such advice: a refusal.
        let slow_down = <tonic::Status as tonic_types::StatusExt>::with_error_details(
            tonic::Code::ResourceExhausted,
            "too many writes",
            tonic_types::ErrorDetails::with_retry_info(Some(std::time::Duration::from_millis(40))),
        );
        assert!(is_retryable(&slow_down));
        assert_eq!(
            super::retry_info(&slow_down),
            Some(std::time::Duration::from_millis(40))
        );
        assert!(!is_retryable(&tonic::Status::resource_exhausted("message over 1 MiB")));
    }
}
