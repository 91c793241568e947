//! End-to-end tests across regions, on loopback, with real `nats-server`
//! processes started from the deployment's own files:
//!
//! - the hub runs `deploy/nats/accounts.conf` (every user and permission of
//!   the real deployment) with a single-node JetStream in domain `national`
//!   and a leaf-node listener;
//! - each region runs `deploy/nats/leaf.conf` exactly as deployed, with the
//!   environment a Kubernetes pod or a systemd unit would give it.
//!
//! So what the tests prove (sourcing across domains, a cut link, the
//! permissions) is proved of the files that are deployed.

pub mod hostile;
pub mod programme;
pub mod raw_grpc;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use async_nats::jetstream;
use jigi_bus::streams::RegionSource;
use jigi_bus::{Bus, BusConfig};
use jigi_common::Region;

/// The repository's `deploy/` folder.
pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

pub use jigi_localnats::Passwords;
use jigi_localnats::topology::{self, TlsFiles};

/// Fresh random passwords for every user of `deploy/nats/accounts.conf` and
/// for the regions' services.
pub fn random_passwords() -> Passwords {
    topology::passwords()
}

pub use jigi_testkit::ServerTls;

fn tls_files(tls: &ServerTls) -> TlsFiles {
    TlsFiles {
        ca: tls.ca.clone(),
        cert: tls.cert.clone(),
        key: tls.key.clone(),
    }
}

/// The national hub (single node, for tests) with the deployment's users:
/// `jigi_localnats::topology::Hub`, with the tests' conveniences.
pub struct Hub(topology::Hub);

impl std::ops::Deref for Hub {
    type Target = topology::Hub;
    fn deref(&self) -> &topology::Hub {
        &self.0
    }
}

impl std::ops::DerefMut for Hub {
    fn deref_mut(&mut self) -> &mut topology::Hub {
        &mut self.0
    }
}

impl Hub {
    /// Starts the hub in `dir`.
    pub async fn start(dir: &Path, passwords: &Passwords) -> Hub {
        Hub(topology::Hub::start(dir, passwords)
            .await
            .unwrap_or_else(|err| panic!("{err}")))
    }

    /// Starts the hub in `dir` with TLS required on its client and
    /// leaf-node ports, as `deploy/nats/hub-tls.conf` sets them.
    pub async fn start_tls(dir: &Path, passwords: &Passwords, tls: &ServerTls) -> Hub {
        Hub(topology::Hub::start_tls(dir, passwords, &tls_files(tls))
            .await
            .unwrap_or_else(|err| panic!("{err}")))
    }

    /// A connection as `user`, in the hub's own JetStream domain, reading
    /// its replies on its own inbox prefix `_INBOX_<user>` as the hub's users
    /// must (only `national` may read `_INBOX.>`).
    pub async fn connect_as(&self, user: &str) -> Bus {
        let mut config = BusConfig::new(self.url_as(user), format!("test-{user}"));
        config.inbox_prefix = Some(format!("_INBOX_{user}"));
        config.tls_ca_file = self.tls.as_ref().map(|tls| tls.ca.clone());
        Bus::connect(&config).await.expect("connects to the hub")
    }
}

/// A region's leaf node, run from `deploy/nats/leaf.conf` as deployed.
pub struct Leaf {
    pub region: Region,
    node: topology::Leaf,
}

impl std::ops::Deref for Leaf {
    type Target = topology::Leaf;
    fn deref(&self) -> &topology::Leaf {
        &self.node
    }
}

impl std::ops::DerefMut for Leaf {
    fn deref_mut(&mut self) -> &mut topology::Leaf {
        &mut self.node
    }
}

impl Leaf {
    /// Starts the leaf node of `region` in `dir`, linked to `hub_leaf_port`.
    pub async fn start(dir: &Path, region: Region, hub_leaf_port: u16, passwords: &Passwords) -> Leaf {
        let node = topology::Leaf::start(dir, region.slug(), hub_leaf_port, passwords)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        Leaf { region, node }
    }

    /// Starts the leaf node of `region` from `deploy/nats/leaf-tls.conf`.
    pub async fn start_tls(
        dir: &Path,
        region: Region,
        hub_leaf_port: u16,
        passwords: &Passwords,
        tls: &ServerTls,
    ) -> Leaf {
        let node = topology::Leaf::start_tls(dir, region.slug(), hub_leaf_port, passwords, &tls_files(tls))
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        Leaf { region, node }
    }

    /// A connection as the region's services, in the region's domain.
    pub async fn connect(&self) -> Bus {
        connect_leaf(&self.node, self.region).await
    }
}

/// A connection to a leaf node as the region's services, in its domain.
pub async fn connect_leaf(leaf: &topology::Leaf, region: Region) -> Bus {
    let mut config = BusConfig::new(leaf.services_url(), format!("test-{region}"));
    config.jetstream_domain = Some(region.slug().to_owned());
    config.tls_ca_file = leaf.tls.as_ref().map(|tls| tls.ca.clone());
    Bus::connect(&config).await.expect("connects to the leaf node")
}

/// The national stream's sources for leaf-node regions.
pub fn domain_sources(regions: &[Region]) -> Vec<RegionSource> {
    RegionSource::leaf_nodes(regions)
}

/// The `ce-id` of every message of `stream`, in order.
pub async fn event_ids(js: &jetstream::Context, stream: &str) -> Vec<String> {
    jigi_testkit::read_stream(js, stream)
        .await
        .iter()
        .map(|message| {
            message
                .headers
                .as_ref()
                .and_then(|headers| headers.get("ce-id"))
                .map(|id| id.as_str().to_owned())
                .expect("every event has a ce-id")
        })
        .collect()
}

/// What a service's SQLite database holds, to show a refused or failed call
/// wrote nothing: each table's row count (but the tables in `left_out`,
/// which move on their own: the audit log records failures, the relay
/// empties the outbox, consumers register themselves), and how far each
/// AUTOINCREMENT went, so a row written then relayed still shows.
pub async fn database_fingerprint(database: &jigi_storage::Database, left_out: &[&str]) -> BTreeMap<String, i64> {
    use jigi_storage::{StorageError, params};
    let left_out: Vec<String> = left_out.iter().map(|t| (*t).to_owned()).collect();
    database
        .read(move |conn| {
            let tables: Vec<String> = conn
                .query("SELECT name FROM sqlite_master WHERE type = 'table'", params![])?
                .iter()
                .map(|row| row.get(0))
                .collect::<Result<_, StorageError>>()?;
            let mut print = BTreeMap::new();
            for table in tables {
                if table == "sqlite_sequence" || table == "jigi_schema_migrations" || left_out.contains(&table) {
                    continue;
                }
                let count: i64 = conn.query_scalar(&format!("SELECT COUNT(*) FROM \"{table}\""), params![])?;
                print.insert(table, count);
            }
            for row in conn.query("SELECT name, seq FROM sqlite_sequence", params![])? {
                let name: String = row.get(0)?;
                print.insert(format!("sequence of {name}"), row.get(1)?);
            }
            Ok::<_, StorageError>(print)
        })
        .await
        .expect("the database can be fingerprinted")
}
