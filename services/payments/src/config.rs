//! The payments service's settings (see [`jigi_settings`] for where they come from).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use jigi_bus::BusConfig;
use jigi_common::Region;
use jigi_server::ServeConfig;
use jigi_settings::{ConfigError, Settings};

/// Everything the payments service needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The region it pays in (`JIGI_REGION`).
    pub region: Region,
    /// gRPC listen address (`JIGI_GRPC_ADDR`, default 127.0.0.1:50052; port 0 picks one).
    pub grpc_addr: SocketAddr,
    /// Prometheus listen address (`JIGI_METRICS_ADDR`, default 127.0.0.1:9102).
    pub metrics_addr: SocketAddr,
    /// Database (`JIGI_DATABASE_URL`, default `sqlite://jigi-data/payments-<region>.db`).
    pub database_url: String,
    /// NATS (`JIGI_NATS_URL`, `JIGI_NATS_DOMAIN`, `JIGI_NATS_CREDENTIALS`;
    /// TLS: `JIGI_NATS_TLS_CA`, `JIGI_NATS_TLS_CERT`, `JIGI_NATS_TLS_KEY`,
    /// `JIGI_NATS_TLS_REQUIRED`; see [`BusConfig::from_settings`]).
    pub nats: BusConfig,
    /// Tokens, TLS and limits of the API (see [`jigi_server::serving`]).
    pub serve: ServeConfig,
    /// A geography reference file replacing the built-in one (`JIGI_GEOGRAPHY_FILE`).
    pub geography_file: Option<PathBuf>,
    /// Most registry events applied in one transaction (`JIGI_CONSUMER_BATCH`, default 500).
    pub consumer_batch: usize,
    /// How long NATS waits for the ack of a registry event before
    /// redelivering it (`JIGI_CONSUMER_ACK_WAIT_SECS`, default 30).
    pub consumer_ack_wait: Duration,
}

impl Config {
    /// Reads the settings; unset ones take their defaults.
    pub fn from_env() -> Result<Config, ConfigError> {
        let settings = Settings::from_env()?;
        let region: Region = settings.get("region", Region::Sikasso)?;
        let nats = BusConfig::from_settings(&settings, format!("jigi-payments-{region}"))?;
        Ok(Config {
            region,
            grpc_addr: settings.get("grpc_addr", "127.0.0.1:50052".parse().expect("valid address"))?,
            metrics_addr: settings.get("metrics_addr", "127.0.0.1:9102".parse().expect("valid address"))?,
            database_url: settings.get("database_url", format!("sqlite://jigi-data/payments-{region}.db"))?,
            nats,
            serve: ServeConfig::from_settings(&settings, std::path::Path::new("jigi-data"))?,
            geography_file: settings.optional("geography_file")?,
            consumer_batch: settings.get("consumer_batch", 500)?,
            consumer_ack_wait: Duration::from_secs(settings.get("consumer_ack_wait_secs", 30)?),
        })
    }

    /// Settings for a payments service on local ports chosen by the OS.
    pub fn local(region: Region, nats_url: &str, database_url: &str) -> Config {
        Config {
            region,
            grpc_addr: "127.0.0.1:0".parse().expect("valid address"),
            metrics_addr: "127.0.0.1:0".parse().expect("valid address"),
            database_url: database_url.to_owned(),
            nats: BusConfig::new(nats_url, format!("jigi-payments-{region}")),
            serve: ServeConfig::local(),
            geography_file: None,
            consumer_batch: 500,
            consumer_ack_wait: Duration::from_secs(30),
        }
    }
}
