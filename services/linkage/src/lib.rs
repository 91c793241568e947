//! The national linkage index: finds the same person registered in two
//! households — two regions, or a region and the one a household moved to —
//! from keyed pseudonyms ("match keys") the regional registries compute,
//! without any name, ID-card or phone number leaving the region.
//!
//! Layout, the same in every Jigi service:
//!
//! - [`config`]: settings from the environment;
//! - [`domain`]: which keys are valid, which pairs are suspect, how a
//!   duplicate is resolved; no I/O;
//! - [`storage`]: the index (key → households) and the duplicates;
//! - [`app`]: the index fed through the inbox ([`app::index::KeyIndex`]), a
//!   batch per transaction, opening suspicions with their messages in the
//!   outbox in the same transaction; and the resolution command;
//! - [`events`]: `duplicate.suspected` / `duplicate.resolved`, on restricted
//!   subjects (`jigi_bus::linkage`), IDs and regions only;
//! - [`app::transfers`]: moves between regions, relayed to the destination
//!   as transfer orders once its household is known;
//! - [`grpc`]: ListDuplicates, GetDuplicate, ResolveDuplicate;
//! - [`policy`]: who may call each RPC;
//! - [`metrics`]: households indexed, suspicions, indexing lag.
//!
//! [`start`] runs it on the service host at the national hub: the consumer
//! of `JIGI_LINKAGE` (every region's match keys, sourced across the leaf
//! links), the outbox relay to `JIGI_DUPLICATES`, the API and the metrics.

pub mod app;
pub mod config;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod metrics;
pub mod policy;
pub mod storage;

use std::sync::Arc;

use jigi_bus::inbox::ConsumerStats;
use jigi_bus::outbox::{OutboxRelay, RelaySettings};
use jigi_bus::streams::RegionSource;
use jigi_bus::{ConsumerSettings, linkage};
use jigi_server::{Host, Running, Service, StartError};
use tokio_util::sync::CancellationToken;

pub use app::Linkage;
pub use config::Config;

/// The linkage index to the service host: its name and default ports.
pub const SERVICE: Service = Service {
    name: "linkage",
    regional: false,
    grpc_port: 50057,
    metrics_port: 9107,
};

/// The durable consumer's name.
pub const CONSUMER: &str = "linkage";

/// What a running index gives back for in-process use (tests, the local
/// stack, benchmarks).
#[derive(Clone)]
pub struct Handle {
    pub linkage: Linkage,
    /// Counters of the match-key consumer.
    pub consumer: Arc<ConsumerStats>,
    /// Counters of the consumer of payments made.
    pub payments: Arc<ConsumerStats>,
    /// Counters of the consumer of moves between regions.
    pub transfers: Arc<ConsumerStats>,
    /// The index's own counters.
    pub metrics: metrics::LinkageMetrics,
}

/// Starts the index: opens (and migrates) its database, binds its ports,
/// and runs the match-key consumer, the outbox relay, the API and the
/// metrics until `shutdown` is cancelled. NATS need not be reachable yet.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running<Handle>, StartError> {
    let mut host = Host::open(SERVICE, config.service, storage::MIGRATIONS, shutdown.clone()).await?;
    let sources = if config.region_domains {
        RegionSource::leaf_nodes(&config.regions)
    } else {
        config
            .regions
            .iter()
            .map(|region| RegionSource::Local(*region))
            .collect()
    };
    let metrics = metrics::LinkageMetrics::register(host.metrics());
    let mut settings = ConsumerSettings::new(linkage::national_link_stream_config(&sources), CONSUMER);
    settings.batch = config.consumer_batch.max(1);
    let consumer = host.consume(settings, Arc::new(app::index::KeyIndex::new(metrics.clone())));
    // Payments made, from the national stream (public events, IDs only).
    let national = ConsumerSettings::new(jigi_bus::streams::national_stream_config(&sources), "linkage-payments")
        .filter("jigi.*.payments.payment.made");
    let payments = host.consume(national, Arc::new(app::payments::PaymentsSeen::new(metrics.clone())));
    // Moves between regions, from the same restricted stream as the keys.
    let moves = ConsumerSettings::new(linkage::national_link_stream_config(&sources), app::transfers::CONSUMER)
        .filter(format!("{}.*.registry.household.transferred", linkage::LINK_ROOT));
    let transfers = host.consume(moves, Arc::new(app::transfers::TransfersSeen::new(metrics.clone())));
    let relay = OutboxRelay::national(
        host.database().clone(),
        host.bus().jetstream.clone(),
        vec![linkage::duplicates_stream_config()],
        RelaySettings::default(),
    );
    host.spawn(relay.run(shutdown));
    let linkage = Linkage::new(host.database().clone());
    tracing::info!(
        regions = config.regions.len(),
        "linkage index reads the regions' match keys"
    );
    let api = grpc::LinkageApi::new(linkage.clone()).into_service();
    let handle = Handle {
        linkage,
        consumer,
        payments,
        transfers,
        metrics,
    };
    host.serve(handle, |server| server.add_service(api, policy::RULES))
        .await
}
