//! The payments service's settings (see [`jigi_settings`] for where they come from).

use std::time::Duration;

use jigi_common::Region;
use jigi_server::ServiceConfig;
use jigi_settings::{ConfigError, Settings};

/// Everything the payments service needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// What every service has: region, ports, database, NATS, access.
    pub service: ServiceConfig,
    /// Most registry events applied in one transaction (`JIGI_CONSUMER_BATCH`, default 500).
    pub consumer_batch: usize,
    /// How long NATS waits for the ack of a registry event before
    /// redelivering it (`JIGI_CONSUMER_ACK_WAIT_SECS`, default 30).
    pub consumer_ack_wait: Duration,
    /// The national hub's JetStream domain, where the linkage index
    /// publishes its findings (`JIGI_LINKAGE_DOMAIN`, e.g. `national`);
    /// unset: they are on the same server.
    pub linkage_domain: Option<String>,
}

impl Config {
    /// Reads the settings; unset ones take their defaults.
    pub fn from_env() -> Result<Config, ConfigError> {
        let settings = Settings::from_env()?;
        Ok(Config {
            service: ServiceConfig::from_settings(&settings, crate::SERVICE)?,
            consumer_batch: settings.get("consumer_batch", 500)?,
            consumer_ack_wait: Duration::from_secs(settings.get("consumer_ack_wait_secs", 30)?),
            linkage_domain: settings.optional("linkage_domain")?,
        })
    }

    /// Settings for a payments service on local ports chosen by the OS.
    pub fn local(region: Region, nats_url: &str, database_url: &str) -> Config {
        Config {
            service: ServiceConfig::regional(crate::SERVICE, region, nats_url, database_url),
            consumer_batch: 500,
            consumer_ack_wait: Duration::from_secs(30),
            linkage_domain: None,
        }
    }

    /// The region paid in.
    pub fn region(&self) -> Region {
        self.service.region().expect("the payments service is regional")
    }
}

impl AsRef<ServiceConfig> for Config {
    fn as_ref(&self) -> &ServiceConfig {
        &self.service
    }
}
