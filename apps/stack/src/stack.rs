//! A local Jigi, shaped as it is deployed: a national NATS hub (JetStream
//! domain `national`) with the deployment's users and permissions, one NATS
//! leaf node per region (its own JetStream domain), each region's registry,
//! payments and nutrition services on its leaf, and the national monitoring
//! and linkage index on the hub. The regions' registries share the
//! programme's linkage key (`<data>/linkage/keys`, made at first start). The NATS files are the deployment's own; passwords are made
//! for each run; access control is on, the services trusting the stack's
//! own signing key. Everything is stored in one folder.
//!
//! `jigi demo` and `jigi up` run it; the end-to-end tests and benchmarks run
//! it, or its parts ([`RegionNode`] on a [`Hub`] of their own), the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jigi_auth::{Expectations, KeySource, LocalIssuer};
use jigi_common::Region;
use jigi_localnats::Passwords;
use jigi_localnats::topology::{self, Hub, Leaf};
use jigi_server::serving::AccessSettings;
use jigi_server::{Running, ServeConfig};
use jigi_telemetry::ServiceTelemetry;
use tokio_util::sync::CancellationToken;

use crate::quarter::Endpoints;
use crate::staff::Staff;

/// How the stack's services report themselves: each exactly as deployed
/// alone, under its own `service.name` (`jigi-registry`, …) and region,
/// though they share the stack's process.
#[derive(Debug, Clone)]
pub struct Telemetry {
    /// Where every service exports its spans (OTLP/gRPC); `None`: the
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` variable when set, else nowhere.
    pub otlp_endpoint: Option<String>,
    /// The services' log filter when `RUST_LOG` is not set.
    pub log_filter: String,
    /// With nowhere else to send spans, send them to the national console,
    /// whose trace page then shows an action across the services (`jigi
    /// demo`, `jigi up`). Off by default: a service's spans are flushed
    /// when it stops, which blocks for seconds on a single-threaded runtime.
    pub spans_to_console: bool,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            otlp_endpoint: None,
            log_filter: "warn".into(),
            spans_to_console: false,
        }
    }
}

impl Telemetry {
    /// The telemetry of one service of the stack.
    fn of(&self, service: jigi_server::Service, area: jigi_auth::ServiceArea) -> Option<ServiceTelemetry> {
        let config = jigi_telemetry::TelemetryConfig {
            service_name: service.binary(),
            service_version: env!("CARGO_PKG_VERSION").into(),
            region: area.name().into(),
            deployment: "local".into(),
            default_log_filter: self.log_filter.clone(),
            otlp_endpoint: self.otlp_endpoint.clone(),
        };
        match jigi_telemetry::for_service(&config) {
            Ok(telemetry) => Some(telemetry),
            Err(err) => {
                tracing::warn!(service = service.name, error = %err, "the service's telemetry did not start; it uses the process's");
                None
            }
        }
    }
}

/// Starts a service with its own telemetry: its start-up logs and spans
/// are its own too.
async fn started<T, F>(telemetry: Option<ServiceTelemetry>, start: F) -> T
where
    F: std::future::Future<Output = T>,
{
    use tracing::instrument::WithSubscriber;
    match telemetry {
        Some(telemetry) => start.with_subscriber(telemetry.dispatch).await,
        None => start.await,
    }
}

/// How long a leaf node may take to link to the hub.
const LINK_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a part of the stack did not start.
fn failed(what: &str, err: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{what} did not start: {err}")
}

/// A region's node: its leaf node and its four services.
pub struct RegionNode {
    pub region: Region,
    pub leaf: Leaf,
    /// `nats://services:PASSWORD@127.0.0.1:PORT`: what the region's services use.
    pub nats_url: String,
    pub registry: Running<jigi_registry::Registry>,
    pub payments: Running<jigi_payments::Handle>,
    pub nutrition: Running<jigi_nutrition::Handle>,
    pub activities: Running<jigi_activities::Handle>,
    staff: Staff,
}

impl RegionNode {
    /// Starts the leaf node of `region` in `dir`, linked to the hub's
    /// leaf-node port `hub_leaf_port` (the hub's own, or a proxy's), and the
    /// region's services on it, each with its database in `dir`.
    pub async fn start(
        dir: &Path,
        region: Region,
        hub_leaf_port: u16,
        shared: &Shared,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<RegionNode> {
        let Shared {
            passwords,
            access: StackAccess { serve, staff },
            telemetry,
        } = shared;
        let leaf = Leaf::start(
            &dir.join(format!("nats-{region}")),
            region.slug(),
            hub_leaf_port,
            passwords,
        )
        .await
        .map_err(|err| failed(&format!("the NATS leaf node of {region}"), err))?;
        leaf.wait_linked(LINK_TIMEOUT)
            .await
            .map_err(|err| failed(&format!("the link of {region}'s leaf node to the hub"), err))?;
        let nats_url = leaf.services_url();
        // As deployed: each service in the region's JetStream domain, with
        // the access control the stack was given and its own telemetry.
        let area = jigi_auth::ServiceArea::Region(region);
        let deployed = |service: &mut jigi_server::ServiceConfig, which: jigi_server::Service| {
            service.nats.jetstream_domain = Some(region.slug().to_owned());
            service.serve = serve.clone();
            service.telemetry = telemetry.of(which, area);
            service.telemetry.clone()
        };

        let mut config = jigi_registry::Config::local(region, &nats_url, &sqlite(dir, &format!("registry-{region}")));
        config.linkage_keys = linkage_keys(dir)?;
        // The linkage index's transfer orders come from the hub's domain.
        config.linkage_domain = Some("national".into());
        let own = deployed(&mut config.service, jigi_registry::SERVICE);
        let registry = started(own, jigi_registry::start(config, shutdown.clone()))
            .await
            .map_err(|err| failed(&format!("the registry of {region}"), err))?;
        let mut config = jigi_payments::Config::local(region, &nats_url, &sqlite(dir, &format!("payments-{region}")));
        // The linkage index's findings come from the hub's domain.
        config.linkage_domain = Some("national".into());
        let own = deployed(&mut config.service, jigi_payments::SERVICE);
        let payments = started(own, jigi_payments::start(config, shutdown.clone()))
            .await
            .map_err(|err| failed(&format!("the payments service of {region}"), err))?;
        // Nutrition and activities have no settings of their own.
        let common = |which: jigi_server::Service| {
            let database = sqlite(dir, &format!("{}-{region}", which.name));
            let mut config = jigi_server::ServiceConfig::regional(which, region, &nats_url, &database);
            let own = deployed(&mut config, which);
            (config, own)
        };
        let (config, own) = common(jigi_nutrition::SERVICE);
        let nutrition = started(own, jigi_nutrition::start(config, shutdown.clone()))
            .await
            .map_err(|err| failed(&format!("the nutrition service of {region}"), err))?;
        let (config, own) = common(jigi_activities::SERVICE);
        let activities = started(own, jigi_activities::start(config, shutdown.clone()))
            .await
            .map_err(|err| failed(&format!("the activities service of {region}"), err))?;
        Ok(RegionNode {
            region,
            leaf,
            nats_url,
            registry,
            payments,
            nutrition,
            activities,
            staff: staff.clone(),
        })
    }

    /// Where the region's services are, and who calls them.
    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            registry: format!("http://{}", self.registry.grpc_addr),
            payments: format!("http://{}", self.payments.grpc_addr),
            nutrition: format!("http://{}", self.nutrition.grpc_addr),
            activities: format!("http://{}", self.activities.grpc_addr),
            staff: self.staff.clone(),
        }
    }

    /// Waits until the region's services have stopped (cancel their token
    /// first), then stops its leaf node.
    pub async fn stopped(self) {
        let RegionNode {
            mut leaf,
            registry,
            payments,
            nutrition,
            activities,
            ..
        } = self;
        registry.stopped().await;
        payments.stopped().await;
        nutrition.stopped().await;
        activities.stopped().await;
        leaf.server.stop().await;
    }
}

/// Access control as deployed, from the stack's own signing key: what the
/// services trust, and the people who call them.
#[derive(Clone)]
pub struct StackAccess {
    /// What each service checks tokens against.
    pub serve: ServeConfig,
    /// A token per person.
    pub staff: Staff,
}

impl StackAccess {
    /// The key in `data_dir/auth/` (created if missing) and its key set.
    pub fn create(data_dir: &Path) -> anyhow::Result<StackAccess> {
        let issuer = LocalIssuer::load_or_create(&key_file(data_dir))?;
        let jwks = data_dir.join("auth/jwks.json");
        std::fs::write(&jwks, issuer.key_set().to_json())?;
        Ok(StackAccess {
            serve: ServeConfig {
                access: AccessSettings::Tokens {
                    keys: KeySource::File(jwks),
                    expect: Expectations::default(),
                },
                ..ServeConfig::local()
            },
            staff: Staff::with_tokens(Arc::new(issuer)),
        })
    }
}

/// What every region node of a stack shares: the NATS passwords, access
/// control, and how the services report themselves.
#[derive(Clone)]
pub struct Shared {
    pub passwords: Passwords,
    pub access: StackAccess,
    pub telemetry: Telemetry,
}

/// A running local stack.
pub struct LocalStack {
    pub data_dir: PathBuf,
    /// Tokens for the people who use it, from the stack's own key
    /// (`<data>/auth/local-key.pem`; `jigi token --key` issues more).
    pub staff: Staff,
    pub hub: Hub,
    pub regions: Vec<RegionNode>,
    pub monitoring: Running<jigi_monitoring::Handle>,
    /// The national linkage index (duplicates across regions).
    pub linkage: Running<jigi_linkage::Handle>,
    /// The national operations console (its sign-in page also signs people
    /// in by name with the stack's own key).
    pub console: jigi_console::Running,
    shutdown: CancellationToken,
    console_shutdown: CancellationToken,
}

impl LocalStack {
    /// Starts the hub, a leaf node and the three services per region, and
    /// the monitoring, storing everything under `data_dir`.
    pub async fn start(data_dir: &Path, regions: &[Region]) -> anyhow::Result<LocalStack> {
        LocalStack::start_with(data_dir, regions, &Telemetry::default()).await
    }

    /// [`LocalStack::start`], with the services' telemetry as given.
    pub async fn start_with(data_dir: &Path, regions: &[Region], telemetry: &Telemetry) -> anyhow::Result<LocalStack> {
        std::fs::create_dir_all(data_dir)
            .map_err(|err| anyhow::anyhow!("cannot create the data folder {}: {err}", data_dir.display()))?;
        let passwords = topology::passwords();
        // Access control on, as deployed: the services trust the stack's own
        // key, which `jigi token` uses too.
        let access = StackAccess::create(data_dir)?;
        // Asked to, and with nowhere else to send spans, the services send
        // them to the console, whose trace page then shows an action across them.
        let mut telemetry = telemetry.clone();
        let console_otlp = if telemetry.spans_to_console
            && telemetry.otlp_endpoint.is_none()
            && std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_none()
        {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], jigi_localnats::free_port()));
            telemetry.otlp_endpoint = Some(format!("http://{addr}"));
            Some(addr)
        } else {
            None
        };
        let telemetry = &telemetry;
        let shared = Shared {
            passwords: passwords.clone(),
            access: access.clone(),
            telemetry: telemetry.clone(),
        };
        let StackAccess { serve, staff } = access;

        let hub = Hub::start(&data_dir.join("nats-hub"), &passwords)
            .await
            .map_err(|err| failed("the NATS hub", err))?;
        let shutdown = CancellationToken::new();
        let mut nodes = Vec::new();
        for region in regions {
            let node = RegionNode::start(data_dir, *region, hub.leaf_port, &shared, &shutdown).await;
            match node {
                Ok(node) => nodes.push(node),
                Err(err) => {
                    shutdown.cancel();
                    return Err(err);
                }
            }
        }

        let mut config =
            jigi_monitoring::Config::local(regions, &hub.url_as("monitoring"), &sqlite(data_dir, "monitoring"));
        config.region_domains = true;
        let serve_linkage = serve.clone();
        config.service.serve = serve.clone();
        config.service.telemetry = telemetry.of(jigi_monitoring::SERVICE, jigi_auth::ServiceArea::National);
        let own = config.service.telemetry.clone();
        let monitoring = started(own, jigi_monitoring::start(config, shutdown.clone()))
            .await
            .map_err(|err| failed("the monitoring", err))?;
        let mut config = jigi_linkage::Config::local(regions, &hub.url_as("linkage"), &sqlite(data_dir, "linkage"));
        config.region_domains = true;
        config.service.serve = serve_linkage;
        config.service.telemetry = telemetry.of(jigi_linkage::SERVICE, jigi_auth::ServiceArea::National);
        let own = config.service.telemetry.clone();
        let linkage = started(own, jigi_linkage::start(config, shutdown.clone()))
            .await
            .map_err(|err| failed("the linkage index", err))?;

        // The console reads the monitoring, and the national stream as the
        // hub's `console` user (read-only, as deployed), and checks
        // operators' tokens as the services do.
        let mut config = jigi_console::Config::local(
            regions,
            &format!("http://{}", monitoring.grpc_addr),
            &hub.url_as("console"),
            serve.access,
        );
        config.local_issuer_key = Some(key_file(data_dir));
        config.otlp_addr = console_otlp;
        config.telemetry = telemetry.of(jigi_console::SERVICE, jigi_auth::ServiceArea::National);
        let own = config.telemetry.clone();
        // Stopped after the services, so it still receives the spans they
        // flush as they stop.
        let console_shutdown = CancellationToken::new();
        let console = started(own, jigi_console::start(config, console_shutdown.clone()))
            .await
            .map_err(|err| failed("the console", err))?;
        Ok(LocalStack {
            data_dir: data_dir.to_path_buf(),
            staff,
            hub,
            regions: nodes,
            monitoring,
            linkage,
            console,
            shutdown,
            console_shutdown,
        })
    }

    /// The node of `region`.
    pub fn region(&self, region: Region) -> &RegionNode {
        self.regions
            .iter()
            .find(|node| node.region == region)
            .expect("the stack runs this region")
    }

    /// `nats://user:PASSWORD@…` of the hub, for a user of accounts.conf
    /// (`national` sees every event of every region).
    pub fn hub_url(&self, user: &str) -> String {
        self.hub.url_as(user)
    }

    /// Where the national linkage index's API listens.
    pub fn linkage_addr(&self) -> std::net::SocketAddr {
        self.linkage.grpc_addr
    }

    /// Where the national monitoring's API listens.
    pub fn monitoring_addr(&self) -> std::net::SocketAddr {
        self.monitoring.grpc_addr
    }

    /// Where the national operations console is served.
    pub fn console_url(&self) -> String {
        self.console.url()
    }

    /// Stops the services (letting them finish what they do), then NATS.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let LocalStack {
            mut hub,
            regions,
            monitoring,
            linkage,
            console,
            console_shutdown,
            ..
        } = self;
        monitoring.stopped().await;
        linkage.stopped().await;
        for node in regions {
            node.stopped().await;
        }
        console_shutdown.cancel();
        console.stopped().await;
        hub.server.stop().await;
    }
}

fn sqlite(dir: &Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(format!("{name}.db")).display())
}

/// The stack's signing key: `jigi token --key <this>` issues tokens its
/// services accept.
pub fn key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("auth/local-key.pem")
}

/// The programme's linkage key the stack's registries share:
/// `<data>/linkage/keys` (`<key_id> <hex secret>`), made at first start
/// and readable by its owner only.
pub fn linkage_keys(data_dir: &Path) -> anyhow::Result<Vec<jigi_registry::domain::linkage::LinkageKey>> {
    let path = data_dir.join("linkage/keys");
    if !path.exists() {
        std::fs::create_dir_all(data_dir.join("linkage"))?;
        let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        std::fs::write(&path, format!("# the local stack's linkage key\nlocal-1 {secret}\n"))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    let text = std::fs::read_to_string(&path)?;
    Ok(jigi_registry::domain::linkage::parse_key_file(&text)?)
}
