//! How every Jigi service starts, serves and stops, written once:
//!
//! - [`host`]: the service host — database (with the shared tables and the
//!   audit log), NATS, ports, outbox relay, consumers, API and metrics,
//!   shutdown — and the whole `main` of a service binary;
//! - [`command`]: how a command fails ([`CommandError`]), the same in every
//!   service, and the status each failure becomes;
//! - [`grpc`]: binds the gRPC port (port 0 in tests), adds `grpc.health.v1`,
//!   server reflection (v1 and v1alpha, so older grpcurl works; describing
//!   only the services served, and the error details), the tracing and
//!   metrics layers, TCP_NODELAY and keepalive on every connection, and
//!   stops gracefully on a [`CancellationToken`];
//! - [`access`]: every call identified by its token, checked against the
//!   service's rule table, rate-limited if it writes, and audited; calls to
//!   services not served here are `UNIMPLEMENTED`, request messages over
//!   their service's size limit `RESOURCE_EXHAUSTED`;
//! - [`serving`]: the settings of all that (keys, TLS, limits);
//! - [`metrics`]: a Prometheus registry per service, served as text on its
//!   own HTTP port at `/metrics`, with request counts and latencies per RPC;
//! - [`status`]: the errors clients see, with the offending field named;
//! - the process's allocator (jemalloc, below).
//!
//! Settings come from `jigi-settings` (`JIGI_*` variables or a TOML file).
//!
//! [`CancellationToken`]: tokio_util::sync::CancellationToken

pub mod access;
pub mod command;
pub mod grpc;
pub mod host;
pub mod listen;
mod message_limit;
pub mod metrics;
pub mod serving;
pub mod status;
mod write_limit;

pub use command::{CommandError, WireAnswer, parse_id, request_key};
pub use grpc::{GrpcServer, ServeError};
pub use host::{Host, Running, Service, ServiceConfig, StartError};
pub use listen::{ListenError, Listeners};
pub use metrics::Metrics;
pub use serving::ServeConfig;

/// Every binary that links this crate (the service binaries, the local
/// stack, the e2e tests, the benchmarks and their baselines) allocates with
/// jemalloc, declared here, where they all meet, so none measures another
/// allocator than the deployed one. glibc's spent a third of the
/// monitoring's receiving threads in `malloc`/`free` (messages freed on
/// another thread than they were allocated on); the figures are in the
/// README ("The allocator"). To measure glibc again, build without these
/// two lines: `LD_PRELOAD` no longer swaps Rust's allocator.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Resolves on Ctrl-C or SIGTERM (what systemd and Kubernetes send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
