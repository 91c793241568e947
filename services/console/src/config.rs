//! The console's settings (see [`jigi_settings`] for where they come from).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use jigi_bus::BusConfig;
use jigi_common::{Region, RegionList};
use jigi_server::ServeConfig;
use jigi_server::serving::AccessSettings;
use jigi_settings::{ConfigError, Settings};

/// Everything the console needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the web pages are served (`JIGI_HTTP_ADDR`, default 127.0.0.1:8090).
    pub http_addr: SocketAddr,
    /// Prometheus and probes (`JIGI_METRICS_ADDR`, default 127.0.0.1:9109).
    pub metrics_addr: SocketAddr,
    /// The national monitoring's gRPC API (`JIGI_MONITORING_URL`, default
    /// `http://127.0.0.1:50054`). The console calls it with each operator's
    /// own token, so the monitoring applies its own scope checks as well.
    pub monitoring_url: String,
    /// The CA that signs the monitoring's certificate, for an `https` URL
    /// (`JIGI_MONITORING_TLS_CA`).
    pub monitoring_tls_ca: Option<PathBuf>,
    /// The national hub's NATS (`JIGI_NATS_URL`…, see [`BusConfig::from_settings`]):
    /// the national stream's info (the regions' links) and its events (the live feed).
    pub nats: BusConfig,
    /// How operators' tokens are checked: the same keys and settings as the
    /// gRPC API (`JIGI_AUTH_JWKS_FILE`, `JIGI_AUTH_JWKS_URL`, `JIGI_AUTH_ISSUER`…).
    /// `JIGI_AUTH=off` is refused: the console always needs to know who signs in.
    pub access: AccessSettings,
    /// Regions shown (`JIGI_REGIONS`, comma-separated slugs; default all eight).
    pub regions: Vec<Region>,
    /// A region's link is shown cut when the national stream has heard
    /// nothing from its source for this long (`JIGI_LINK_DOWN_SECONDS`,
    /// default 5; the hub hears a live source at least every second).
    pub link_down_after: Duration,
    /// How often the national stream's sources are read (`JIGI_LINKS_REFRESH_MS`, default 1000).
    pub links_refresh: Duration,
    /// Where the console receives spans over OTLP/gRPC itself
    /// (`JIGI_CONSOLE_OTLP_ADDR`, e.g. `127.0.0.1:4317`): for a stack
    /// without a tracing UI, the trace page then shows the spans.
    pub otlp_addr: Option<SocketAddr>,
    /// The tracing UI: a trace ID links to `<url>/trace/<id>` (`JIGI_JAEGER_URL`).
    pub jaeger_url: Option<String>,
    /// The local identity provider's key (`JIGI_CONSOLE_LOCAL_ISSUER_KEY`):
    /// when set, the sign-in page also signs people in by name and role,
    /// issuing their token itself — for the local stack only; deployed,
    /// operators bring a token from the programme's identity provider.
    pub local_issuer_key: Option<PathBuf>,
    /// Cookies marked `Secure` (`JIGI_SECURE_COOKIES`, default false: set
    /// it when the console is served over HTTPS, as deployed).
    pub secure_cookies: bool,
    /// The console's own telemetry when it shares its process (the local stack).
    pub telemetry: Option<jigi_telemetry::ServiceTelemetry>,
}

impl Config {
    /// Reads the settings; unset ones take their defaults.
    pub fn from_env() -> Result<Config, ConfigError> {
        let settings = Settings::from_env()?;
        let local = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        let serve = ServeConfig::from_settings(&settings, std::path::Path::new("jigi-data"))?;
        if matches!(serve.access, AccessSettings::Off) {
            return Err(ConfigError::Invalid {
                key: "auth".into(),
                variable: jigi_settings::variable("auth"),
                value: "off".into(),
                reason: "the console needs to know who signs in: give it the token keys (JIGI_AUTH_JWKS_FILE or JIGI_AUTH_JWKS_URL)".into(),
            });
        }
        let regions: RegionList = settings.get("regions", RegionList::all())?;
        Ok(Config {
            http_addr: settings.get("http_addr", local(crate::SERVICE.grpc_port))?,
            metrics_addr: settings.get("metrics_addr", local(crate::SERVICE.metrics_port))?,
            monitoring_url: settings.get("monitoring_url", "http://127.0.0.1:50054".to_owned())?,
            monitoring_tls_ca: settings.optional("monitoring_tls_ca")?,
            nats: console_bus(BusConfig::from_settings(&settings, "jigi-console-national")?),
            access: serve.access,
            regions: regions.0,
            link_down_after: Duration::from_secs(settings.get("link_down_seconds", 5)?),
            links_refresh: Duration::from_millis(settings.get("links_refresh_ms", 1_000)?),
            otlp_addr: settings.optional("console_otlp_addr")?,
            jaeger_url: settings.optional("jaeger_url")?,
            local_issuer_key: settings.optional("console_local_issuer_key")?,
            secure_cookies: settings.get("secure_cookies", false)?,
            telemetry: None,
        })
    }

    /// A console on loopback ports chosen by the OS, reading the monitoring
    /// at `monitoring_url` and the national stream at `nats_url`, checking
    /// tokens as `access` says.
    pub fn local(regions: &[Region], monitoring_url: &str, nats_url: &str, access: AccessSettings) -> Config {
        Config {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            monitoring_url: monitoring_url.to_owned(),
            monitoring_tls_ca: None,
            nats: console_bus(BusConfig::new(nats_url, "jigi-console-national")),
            access,
            regions: regions.to_vec(),
            link_down_after: Duration::from_secs(5),
            links_refresh: Duration::from_millis(500),
            otlp_addr: None,
            jaeger_url: None,
            local_issuer_key: None,
            secure_cookies: false,
            telemetry: None,
        }
    }
}

/// The hub's user `console` may subscribe to its own inbox prefix only
/// (deploy/nats/accounts.conf), so it never sees other users' replies.
pub const INBOX_PREFIX: &str = "_INBOX_console";

fn console_bus(mut nats: BusConfig) -> BusConfig {
    nats.inbox_prefix = Some(INBOX_PREFIX.to_owned());
    nats
}
