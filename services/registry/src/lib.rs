//! The unified social registry (RSU) of one region.
//!
//! Layout, the same in every Jigi service:
//!
//! - [`config`]: settings from the environment;
//! - [`domain`]: the rules (validation, duplicates, PMT, enrolment), no I/O;
//! - [`storage`]: tables and queries;
//! - [`app`]: commands and queries, each command one transaction on the
//!   write path that also writes its event to the outbox;
//! - [`events`]: the public events, built without personal data;
//! - [`grpc`]: the API, mapping outcomes to gRPC statuses;
//! - [`policy`]: who may call each RPC;
//! - [`sample`]: believable generated households for demos and benchmarks.
//!
//! [`start`] runs the whole service on the service host (API, metrics,
//! outbox relay) until a shutdown token is cancelled; `main.rs` is the
//! host's `main`. Tests and the local stack call [`start`] directly, on
//! port 0, to run any number of registries in one process.

pub mod app;
pub mod config;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod policy;
pub mod sample;
pub mod storage;

use std::sync::Arc;

use jigi_server::{Host, Running, Service, StartError};
use tokio_util::sync::CancellationToken;

pub use app::Registry;
pub use config::Config;
use domain::pmt::PmtConfig;

/// The registry to the service host: its name and default ports.
pub const SERVICE: Service = Service {
    name: "registry",
    regional: true,
    grpc_port: 50051,
    metrics_port: 9101,
};

/// The inbox name of a region's consumer of transfer orders.
pub fn transfers_consumer(region: jigi_common::Region) -> String {
    format!("registry-transfers-{region}")
}

/// Starts the registry: opens (and migrates) its database, binds its ports,
/// and runs its API, metrics and outbox relay until `shutdown` is cancelled.
/// NATS need not be reachable: events wait in the outbox until it is.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running<Registry>, StartError> {
    let geography = config.service.geography()?;
    let pmt = match &config.pmt_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|err| StartError::setup(format!("PMT file {}", path.display()), err))?;
            PmtConfig::parse(&text).map_err(|err| StartError::setup(format!("PMT file {}", path.display()), err))?
        }
        None => PmtConfig::built_in(),
    };
    let region = config.service.region().expect("the registry is regional");
    let linkage_keys = config.linkage_keys;
    let linkage_domain = config.linkage_domain;
    let migrations = [storage::MIGRATIONS, storage::transfers::MIGRATIONS].concat();
    let mut host = Host::open(SERVICE, config.service, &migrations, shutdown).await?;
    // Match keys go to the region's restricted linkage stream, not to its
    // public one (jigi_bus::linkage).
    host.relay_outbox_to(vec![jigi_bus::linkage::region_link_stream_config(region)]);
    if linkage_keys.is_empty() {
        tracing::warn!("no linkage key (JIGI_LINKAGE_KEYS_FILE): this region takes no part in national linkage");
    }
    let registry = Registry::new(host.database().clone(), Arc::new(geography), Arc::new(pmt), region)
        .with_linkage_keys(linkage_keys)
        .with_cached_households(config.cached_households);
    // After a rotation (a new set of active keys), every household is
    // re-keyed in the background while the registry serves.
    host.spawn(registry.clone().rekey_in_background(host.shutdown().clone()));
    // The linkage index's transfer orders about the region: households that
    // moved here, whose enrolments continue (from the region's copy of the
    // index's findings, which its payments service reads too). Unfiltered:
    // the handler passes over the suspected duplicates (few), and a filter
    // on a stream that only sources is refused by nats-server 2.9 while the
    // index's stream does not exist yet (a region running before the index).
    let orders = jigi_bus::ConsumerSettings::new(
        jigi_bus::linkage::region_findings_stream_config(region, linkage_domain.as_deref()),
        transfers_consumer(region),
    );
    host.consume(orders, Arc::new(app::transfers::TransferOrders::new(registry.clone())));
    host.expose_cache(registry.household_cache());
    let api = grpc::RegistryApi::new(registry.clone()).into_service();
    host.serve(registry, |server| server.add_service(api, policy::RULES))
        .await
}
