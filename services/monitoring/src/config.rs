//! The monitoring's settings (see [`jigi_settings`] for where they come from).

use std::path::PathBuf;
use std::time::Duration;

use jigi_common::{Region, RegionList};
use jigi_server::ServiceConfig;
use jigi_settings::{ConfigError, Settings};

/// Everything the monitoring needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// What every service has: ports (default 127.0.0.1:50054 and :9104),
    /// database (default `sqlite://jigi-data/monitoring.db`), the national
    /// hub's NATS, access. The monitoring is national.
    pub service: ServiceConfig,
    /// Regions whose streams the national stream sources (`JIGI_REGIONS`,
    /// comma-separated slugs; default all eight).
    pub regions: Vec<Region>,
    /// Whether each region's stream lives in the region's own JetStream
    /// domain, on its leaf node (`JIGI_REGION_DOMAINS=true`), or on the same
    /// server (one machine).
    pub region_domains: bool,
    /// Copies of the national stream on a clustered hub (`JIGI_NATIONAL_REPLICAS`, default 1).
    pub national_replicas: usize,
    /// A DHIS2 mapping file replacing the built-in one (`JIGI_DHIS2_MAPPING_FILE`).
    pub dhis2_mapping_file: Option<PathBuf>,
    /// A region is silent after this long without an event (`JIGI_SILENCE_SECONDS`, default 3600).
    pub silence_threshold: Duration,
    /// How often the indicator gauges are recomputed (`JIGI_METRICS_REFRESH_SECONDS`, default 15).
    pub metrics_refresh: Duration,
    /// Whether to republish every national event as JSON to `JIGI_JSON`
    /// for partners without protobuf (`JIGI_JSON_MIRROR`, default true).
    pub json_mirror: bool,
}

impl Config {
    /// Reads the settings; unset ones take their defaults.
    pub fn from_env() -> Result<Config, ConfigError> {
        let settings = Settings::from_env()?;
        let regions: RegionList = settings.get("regions", RegionList::all())?;
        Ok(Config {
            service: ServiceConfig::from_settings(&settings, crate::SERVICE)?,
            regions: regions.0,
            region_domains: settings.get("region_domains", false)?,
            national_replicas: settings.get("national_replicas", 1)?,
            dhis2_mapping_file: settings.optional("dhis2_mapping_file")?,
            silence_threshold: Duration::from_secs(settings.get("silence_seconds", 3_600)?),
            metrics_refresh: Duration::from_secs(settings.get("metrics_refresh_seconds", 15)?),
            json_mirror: settings.get("json_mirror", true)?,
        })
    }

    /// Settings for a monitoring on local ports chosen by the OS, reading
    /// the given regions from the same server.
    pub fn local(regions: &[Region], nats_url: &str, database_url: &str) -> Config {
        Config {
            service: ServiceConfig::local(crate::SERVICE, jigi_auth::ServiceArea::National, nats_url, database_url),
            regions: regions.to_vec(),
            region_domains: false,
            national_replicas: 1,
            dhis2_mapping_file: None,
            silence_threshold: Duration::from_secs(3_600),
            metrics_refresh: Duration::from_secs(15),
            json_mirror: true,
        }
    }
}

impl AsRef<ServiceConfig> for Config {
    fn as_ref(&self) -> &ServiceConfig {
        &self.service
    }
}
