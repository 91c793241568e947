//! The activities service's settings: only those every service has
//! ([`ServiceConfig`]: region, ports, database, NATS, access, geography
//! reference), read with [`ServiceConfig::from_env`]; see [`jigi_settings`]
//! for where they come from.

use jigi_server::ServiceConfig;

/// Everything the activities service needs to start.
pub type Config = ServiceConfig;
