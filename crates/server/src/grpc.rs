//! Serving a service's gRPC API with what every Jigi service adds to it.

use std::collections::HashMap;
use std::convert::Infallible;

use jigi_audit::{AuditApi, AuditLog};
use jigi_auth::{Rule, ServiceArea, Verifier};
use jigi_telemetry::grpc::GrpcTraceLayer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;

use crate::Metrics;
use crate::access::{AccessControl, AccessLayer};
use crate::listen::Listeners;
use crate::serving::{AccessSettings, ServeConfig};
use crate::write_limit::WriteLimiter;

/// Why serving stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot build gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("cannot open the audit log: {0}")]
    Audit(#[from] jigi_audit::AuditError),
    #[error("cannot load the token keys: {0}")]
    Keys(#[from] jigi_auth::verifier::KeyLoadError),
    #[error("cannot read the TLS {what} {path}: {source}")]
    Tls {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
}

/// A gRPC server under construction: add the service's own APIs, then [`serve`](GrpcServer::serve).
pub struct GrpcServer {
    routes: RoutesBuilder,
    names: Vec<&'static str>,
    metrics: Metrics,
    area: ServiceArea,
    rules: HashMap<String, Rule>,
    config: ServeConfig,
    verifier: Option<Verifier>,
    audit: AuditLog,
    tls: Option<tonic::transport::Identity>,
}

impl GrpcServer {
    /// A server of a service of `area`, protected as `config` says,
    /// auditing into `audit`. Its spans carry the area as `jigi.region`.
    pub async fn new(
        metrics: Metrics,
        area: ServiceArea,
        config: &ServeConfig,
        audit: AuditLog,
        shutdown: &CancellationToken,
    ) -> Result<GrpcServer, ServeError> {
        let verifier = match &config.access {
            AccessSettings::Off => None,
            AccessSettings::Tokens { keys, expect } => {
                Some(Verifier::start(keys.clone(), expect.clone(), shutdown.clone()).await?)
            }
        };
        let tls = match &config.tls {
            None => None,
            Some(files) => {
                let read = |what: &'static str, path: &std::path::Path| {
                    std::fs::read(path).map_err(|source| ServeError::Tls {
                        what,
                        path: path.display().to_string(),
                        source,
                    })
                };
                Some(tonic::transport::Identity::from_pem(
                    read("certificate", &files.cert)?,
                    read("key", &files.key)?,
                ))
            }
        };
        let server = GrpcServer {
            routes: RoutesBuilder::default(),
            names: Vec::new(),
            metrics,
            area,
            rules: HashMap::new(),
            config: config.clone(),
            verifier,
            audit: audit.clone(),
            tls,
        };
        Ok(server.add_service(AuditApi::new(audit).into_service(), jigi_audit::grpc::RULES))
    }

    /// Adds one gRPC service (a generated `…Server`) with the access rule of
    /// each of its methods. A method without a rule is refused to everyone.
    pub fn add_service<S>(mut self, service: S, rules: &[Rule]) -> GrpcServer
    where
        S: tower::Service<http::Request<Body>, Error = Infallible> + NamedService + Clone + Send + Sync + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.routes.add_service(service);
        self.names.push(S::NAME);
        for rule in rules {
            self.rules.insert(format!("/{}/{}", S::NAME, rule.method), *rule);
        }
        self
    }

    /// Serves the API and the metrics on their listeners, in the
    /// background, until `shutdown`. Without its API a service is useless,
    /// so an API that fails cancels `shutdown` for the rest of it too.
    pub fn spawn(self, listeners: Listeners, shutdown: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
        let Listeners { grpc, metrics, .. } = listeners;
        let registry = self.metrics.clone();
        let metrics_shutdown = shutdown.clone();
        vec![
            tokio::spawn(async move {
                if let Err(err) = registry.serve(metrics, metrics_shutdown).await {
                    tracing::error!(error = %err, "metrics server stopped");
                }
            }),
            tokio::spawn(async move {
                if let Err(err) = self.serve(grpc, shutdown.clone()).await {
                    tracing::error!(error = %err, "gRPC server stopped");
                    shutdown.cancel();
                }
            }),
        ]
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
        let access = AccessLayer::new(AccessControl {
            verifier: self.verifier,
            area: self.area,
            audit: self.audit,
            limiter: self.config.write_limit.map(WriteLimiter::new),
            rules: self.rules,
        });
        let mut builder = tonic::transport::Server::builder()
            .timeout(self.config.request_timeout)
            .tcp_keepalive(Some(std::time::Duration::from_secs(60)))
            .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
            .max_concurrent_streams(Some(256));
        if let Some(identity) = self.tls {
            builder = builder.tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))?;
        }
        builder
            .layer(GrpcTraceLayer::for_region(self.area.name()))
            .layer(self.metrics.grpc_layer())
            .layer(access)
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stopping)
            .await?;
        Ok(())
    }
}
