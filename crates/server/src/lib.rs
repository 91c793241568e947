//! How every Jigi service serves, written once:
//!
//! - [`grpc`]: binds the gRPC port (port 0 in tests), adds `grpc.health.v1`,
//!   server reflection (v1 and v1alpha, so older grpcurl works), the tracing
//!   and metrics layers, and stops gracefully on a [`CancellationToken`];
//! - [`metrics`]: a Prometheus registry per service, served as text on its
//!   own HTTP port at `/metrics`, with request counts and latencies per RPC;
//! - [`status`]: the errors clients see, with the offending field named.
//!
//! [`CancellationToken`]: tokio_util::sync::CancellationToken

pub mod grpc;
pub mod metrics;
pub mod status;

pub use grpc::{GrpcServer, ServeError};
pub use metrics::Metrics;
