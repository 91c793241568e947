//! The registry's settings (see [`jigi_settings`] for where they come from).

use std::path::PathBuf;

use jigi_common::Region;
use jigi_server::ServiceConfig;
use jigi_settings::{ConfigError, Settings};

use crate::domain::linkage::{self, LinkageKey};

/// Everything the registry needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// What every service has: region, ports, database, NATS, access.
    pub service: ServiceConfig,
    /// A PMT configuration file replacing the built-in one (`JIGI_PMT_FILE`).
    pub pmt_file: Option<PathBuf>,
    /// The programme's linkage keys, from the file named by
    /// `JIGI_LINKAGE_KEYS_FILE` (`<key_id> <hex secret>` a line; two lines
    /// during a rotation). None: no match keys, no national linkage.
    pub linkage_keys: Vec<LinkageKey>,
    /// The JetStream domain where the national linkage index publishes its
    /// transfer orders (`JIGI_LINKAGE_DOMAIN`, e.g. `national`); none when
    /// the index runs on the same server.
    pub linkage_domain: Option<String>,
    /// Households kept in memory for `GetHousehold`
    /// (`JIGI_CACHED_HOUSEHOLDS`; 0: none).
    pub cached_households: usize,
}

impl Config {
    /// Reads the settings; unset ones take their defaults.
    pub fn from_env() -> Result<Config, ConfigError> {
        let settings = Settings::from_env()?;
        let linkage_keys = match settings.optional::<PathBuf>("linkage_keys_file")? {
            Some(path) => {
                // The secrets are never in the error: only the file's name.
                let invalid = |reason: String| ConfigError::Invalid {
                    key: "linkage_keys_file".into(),
                    variable: jigi_settings::variable("linkage_keys_file"),
                    value: path.display().to_string(),
                    reason,
                };
                let text = std::fs::read_to_string(&path).map_err(|err| invalid(format!("cannot read it: {err}")))?;
                linkage::parse_key_file(&text).map_err(|err| invalid(err.to_string()))?
            }
            None => Vec::new(),
        };
        Ok(Config {
            service: ServiceConfig::from_settings(&settings, crate::SERVICE)?,
            pmt_file: settings.optional("pmt_file")?,
            linkage_keys,
            linkage_domain: settings.optional("linkage_domain")?,
            cached_households: settings.get("cached_households", crate::app::CACHED_HOUSEHOLDS)?,
        })
    }

    /// Settings for a registry on local ports chosen by the OS.
    pub fn local(region: Region, nats_url: &str, database_url: &str) -> Config {
        Config {
            service: ServiceConfig::regional(crate::SERVICE, region, nats_url, database_url),
            pmt_file: None,
            linkage_keys: Vec::new(),
            linkage_domain: None,
            cached_households: crate::app::CACHED_HOUSEHOLDS,
        }
    }
}

impl AsRef<ServiceConfig> for Config {
    fn as_ref(&self) -> &ServiceConfig {
        &self.service
    }
}
