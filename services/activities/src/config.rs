//! The activities service's settings (see [`jigi_settings`] for where they come from).

use std::path::PathBuf;

use jigi_common::Region;
use jigi_server::ServiceConfig;
use jigi_settings::{ConfigError, Settings};

/// Everything the activities service needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// What every service has: region, ports, database, NATS, access.
    pub service: ServiceConfig,
    /// A geography reference file replacing the built-in one (`JIGI_GEOGRAPHY_FILE`).
    pub geography_file: Option<PathBuf>,
}

impl Config {
    /// Reads the settings; unset ones take their defaults.
    pub fn from_env() -> Result<Config, ConfigError> {
        let settings = Settings::from_env()?;
        Ok(Config {
            service: ServiceConfig::from_settings(&settings, crate::SERVICE)?,
            geography_file: settings.optional("geography_file")?,
        })
    }

    /// Settings for a activities service on local ports chosen by the OS.
    pub fn local(region: Region, nats_url: &str, database_url: &str) -> Config {
        Config {
            service: ServiceConfig::local(
                crate::SERVICE,
                jigi_auth::ServiceArea::Region(region),
                nats_url,
                database_url,
            ),
            geography_file: None,
        }
    }

    /// The region served.
    pub fn region(&self) -> Region {
        self.service.region().expect("the activities service is regional")
    }
}

impl AsRef<ServiceConfig> for Config {
    fn as_ref(&self) -> &ServiceConfig {
        &self.service
    }
}
