//! Serving a service's gRPC API with what every Jigi service adds to it.

use std::convert::Infallible;

use jigi_telemetry::grpc::GrpcTraceLayer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;

use crate::Metrics;

/// Why serving stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot build gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// A gRPC server under construction: add the service's own APIs, then [`serve`](GrpcServer::serve).
pub struct GrpcServer {
    routes: RoutesBuilder,
    names: Vec<&'static str>,
    metrics: Metrics,
    region: &'static str,
}

impl GrpcServer {
    /// A server of a service of `region` (a region slug, or `national`),
    /// which its spans carry as `jigi.region`.
    pub fn new(metrics: Metrics, region: &'static str) -> GrpcServer {
        GrpcServer {
            routes: RoutesBuilder::default(),
            names: Vec::new(),
            metrics,
            region,
        }
    }

    /// Adds one gRPC service (a generated `…Server`).
    pub fn add_service<S>(mut self, service: S) -> GrpcServer
    where
        S: tower::Service<http::Request<Body>, Error = Infallible> + NamedService + Clone + Send + Sync + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.routes.add_service(service);
        self.names.push(S::NAME);
        self
    }

    /// Serves on `listener` until `shutdown` is cancelled, then reports
    /// NOT_SERVING, stops accepting calls and lets calls in progress finish.
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> Result<(), ServeError> {
        let (health, health_service) = tonic_health::server::health_reporter();
        for name in &self.names {
            health.set_service_status(*name, ServingStatus::Serving).await;
        }
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(jigi_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let mut routes = self.routes;
        routes
            .add_service(health_service)
            .add_service(reflection().build_v1()?)
            .add_service(reflection().build_v1alpha()?);

        let names = self.names;
        let stopping = async move {
            shutdown.cancelled().await;
            for name in names {
                health.set_service_status(name, ServingStatus::NotServing).await;
            }
            health.set_service_status("", ServingStatus::NotServing).await;
        };
        tonic::transport::Server::builder()
            .layer(GrpcTraceLayer::for_region(self.region))
            .layer(self.metrics.grpc_layer())
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stopping)
            .await?;
        Ok(())
    }
}
