//! Serving a service's gRPC API with what every Jigi service adds to it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use jigi_audit::{AuditApi, AuditLog};
use jigi_auth::{Rule, ServiceArea, Verifier};
use jigi_telemetry::grpc::{DispatchLayer, GrpcTraceLayer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic::transport::server::TcpIncoming;
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

/// How long an accepted connection may be idle before TCP keepalive probes
/// start, how often they are sent, and how many may go unanswered before the
/// connection is dropped: a peer that vanished (a tablet out of coverage, a
/// NAT that forgot the flow) is let go after about two minutes.
const TCP_KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const TCP_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
const TCP_KEEPALIVE_RETRIES: u32 = 4;

/// The largest request message of the audit log's API (a sequence number
/// and a page size).
const AUDIT_MAX_REQUEST_BYTES: usize = 64 * 1024;

/// A gRPC server under construction: add the service's own APIs, then [`serve`](GrpcServer::serve).
pub struct GrpcServer {
    routes: RoutesBuilder,
    /// Every service added, with the largest request message it accepts.
    services: Vec<(&'static str, usize)>,
    metrics: Metrics,
    area: ServiceArea,
    rules: HashMap<String, Rule>,
    config: ServeConfig,
    verifier: Option<Verifier>,
    audit: AuditLog,
    tls: Option<tonic::transport::Identity>,
    /// The service's own subscriber, when it shares its process.
    dispatch: Option<tracing::Dispatch>,
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
            services: Vec::new(),
            metrics,
            area,
            rules: HashMap::new(),
            config: config.clone(),
            verifier,
            audit: audit.clone(),
            tls,
            dispatch: None,
        };
        Ok(server.add_service_with_limit(
            AuditApi::new(audit).into_service(),
            jigi_audit::grpc::RULES,
            AUDIT_MAX_REQUEST_BYTES,
        ))
    }

    /// The largest request message a service accepts unless it says
    /// otherwise when it is added: 4 MiB, gRPC's usual default (and the
    /// generated servers' own). Health and reflection have it too.
    pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

    /// Adds one gRPC service (a generated `…Server`) with the access rule of
    /// each of its methods, accepting request messages of up to
    /// [`DEFAULT_MAX_REQUEST_BYTES`](Self::DEFAULT_MAX_REQUEST_BYTES). A
    /// method without a rule is refused to everyone.
    pub fn add_service<S>(self, service: S, rules: &[Rule]) -> GrpcServer
    where
        S: tower::Service<http::Request<Body>, Error = Infallible> + NamedService + Clone + Send + Sync + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.add_service_with_limit(service, rules, Self::DEFAULT_MAX_REQUEST_BYTES)
    }

    /// [`add_service`](Self::add_service), accepting request messages of up
    /// to `max_request_bytes`. A larger message is refused with
    /// `RESOURCE_EXHAUSTED` naming the limit, as soon as its length prefix
    /// arrives.
    ///
    /// A generated server has a limit of its own (its
    /// `max_decoding_message_size`, 4 MiB unless set): a service allowing
    /// more than 4 MiB raises that one too. Whichever is lower applies, and
    /// is answered the same way.
    pub fn add_service_with_limit<S>(mut self, service: S, rules: &[Rule], max_request_bytes: usize) -> GrpcServer
    where
        S: tower::Service<http::Request<Body>, Error = Infallible> + NamedService + Clone + Send + Sync + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.routes.add_service(service);
        self.services.push((S::NAME, max_request_bytes));
        for rule in rules {
            self.rules.insert(format!("/{}/{}", S::NAME, rule.method), *rule);
        }
        self
    }

    /// Serves every call with `dispatch` as its subscriber (a service
    /// sharing its process, see `jigi_telemetry::ServiceTelemetry`).
    pub fn with_dispatch(mut self, dispatch: Option<tracing::Dispatch>) -> GrpcServer {
        self.dispatch = dispatch;
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
    ///
    /// Every accepted connection has TCP_NODELAY (without it, an answer
    /// written in more than one piece waits for the client's delayed ACK:
    /// 40 ms a call) and TCP keepalive.
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> Result<(), ServeError> {
        let names: Vec<&'static str> = self.services.iter().map(|(name, _)| *name).collect();
        let (health, health_service) = tonic_health::server::health_reporter();
        for name in &names {
            health.set_service_status(*name, ServingStatus::Serving).await;
        }
        // Reflection describes what this server serves, and every type
        // those need, error details included (the descriptors of the other
        // services stay registered, for type lookups, but are not listed).
        let mut advertised = names.clone();
        advertised.extend([
            tonic_health::pb::health_server::SERVICE_NAME,
            tonic_reflection::pb::v1::server_reflection_server::SERVICE_NAME,
            tonic_reflection::pb::v1alpha::server_reflection_server::SERVICE_NAME,
        ]);
        let reflection = || {
            let builder = tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(jigi_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(jigi_proto::GOOGLE_RPC_FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET);
            advertised
                .iter()
                .fold(builder, |builder, name| builder.with_service_name(*name))
        };
        let mut routes = self.routes;
        routes
            .add_service(health_service)
            .add_service(reflection().build_v1()?)
            .add_service(reflection().build_v1alpha()?);

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
            services: self.services.into_iter().collect(),
            open_max_request_bytes: Self::DEFAULT_MAX_REQUEST_BYTES,
        });
        // The builder's tcp_nodelay and tcp_keepalive apply only to
        // listeners it binds itself: set them on each accepted socket here.
        let incoming = TcpIncoming::from(listener)
            .with_nodelay(Some(true))
            .with_keepalive(Some(TCP_KEEPALIVE_IDLE))
            .with_keepalive_interval(Some(TCP_KEEPALIVE_INTERVAL))
            .with_keepalive_retries(Some(TCP_KEEPALIVE_RETRIES));
        let mut builder = tonic::transport::Server::builder()
            .timeout(self.config.request_timeout)
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .max_concurrent_streams(Some(256));
        if let Some(identity) = self.tls {
            builder = builder.tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))?;
        }
        builder
            .layer(DispatchLayer::new(self.dispatch))
            .layer(GrpcTraceLayer::for_region(self.area.name()))
            .layer(self.metrics.grpc_layer())
            .layer(access)
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(incoming, stopping)
            .await?;
        Ok(())
    }
}
