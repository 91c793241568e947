//! The linkage index's settings (see [`jigi_settings`] for where they come from).

use jigi_common::{Region, RegionList};
use jigi_server::ServiceConfig;
use jigi_settings::{ConfigError, Settings};

/// Everything the linkage index needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// What every service has: ports (default 127.0.0.1:50057 and :9107),
    /// database, the national hub's NATS (user `linkage`), access. National.
    pub service: ServiceConfig,
    /// Regions whose match keys the index reads (`JIGI_REGIONS`, comma-separated
    /// slugs; default all eight).
    pub regions: Vec<Region>,
    /// Whether each region's linkage stream lives in the region's own
    /// JetStream domain, on its leaf node (`JIGI_REGION_DOMAINS=true`), or on
    /// the same server.
    pub region_domains: bool,
    /// Most match-key messages indexed in one transaction (`JIGI_CONSUMER_BATCH`, default 1000).
    pub consumer_batch: usize,
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
            consumer_batch: settings.get("consumer_batch", 1_000)?,
        })
    }

    /// Settings for an index on local ports chosen by the OS, reading the
    /// given regions from the same server.
    pub fn local(regions: &[Region], nats_url: &str, database_url: &str) -> Config {
        Config {
            service: ServiceConfig::local(crate::SERVICE, jigi_auth::ServiceArea::National, nats_url, database_url),
            regions: regions.to_vec(),
            region_domains: false,
            consumer_batch: 1_000,
        }
    }
}

impl AsRef<ServiceConfig> for Config {
    fn as_ref(&self) -> &ServiceConfig {
        &self.service
    }
}
