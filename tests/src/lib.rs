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
use jigi_localnats::{Launch, NatsProcess, free_port};

/// The repository's `deploy/` folder.
pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

pub use jigi_localnats::Passwords;

/// Fresh random passwords for every user of `deploy/nats/accounts.conf` and
/// for the regions' services.
pub fn random_passwords() -> Passwords {
    let accounts = std::fs::read_to_string(deploy_dir().join("nats/accounts.conf"))
        .expect("deploy/nats/accounts.conf is readable");
    Passwords::for_accounts(&accounts)
}

pub use jigi_testkit::ServerTls;

/// The national hub (single node, for tests) with the deployment's users.
pub struct Hub {
    pub server: NatsProcess,
    /// Where leaf nodes connect.
    pub leaf_port: u16,
    pub passwords: Passwords,
    /// TLS on its client and leaf-node ports, when started with it.
    pub tls: Option<ServerTls>,
}

impl Hub {
    /// Starts the hub in `dir`.
    pub async fn start(dir: &Path, passwords: &Passwords) -> Hub {
        Hub::start_inner(dir, passwords, None).await
    }

    /// Starts the hub in `dir` with TLS required on its client and
    /// leaf-node ports, as `deploy/nats/hub-tls.conf` sets them.
    pub async fn start_tls(dir: &Path, passwords: &Passwords, tls: &ServerTls) -> Hub {
        Hub::start_inner(dir, passwords, Some(tls.clone())).await
    }

    async fn start_inner(dir: &Path, passwords: &Passwords, tls: Option<ServerTls>) -> Hub {
        std::fs::create_dir_all(dir).expect("hub dir");
        std::fs::copy(deploy_dir().join("nats/accounts.conf"), dir.join("accounts.conf"))
            .expect("deploy/nats/accounts.conf is readable");
        let leaf_port = free_port();
        let launch = Launch {
            port: free_port(),
            env: passwords.hub_env(),
            probe_user: Some(("national".into(), passwords.of("national").into())),
        };
        // The same TLS blocks as hub-tls.conf (which itself needs a cluster).
        let tls_block = |tls: &ServerTls| format!("tls {{ cert_file: {:?}, key_file: {:?} }}", tls.cert, tls.key);
        let (client_tls, leaf_tls) = match &tls {
            Some(tls) => (tls_block(tls), tls_block(tls)),
            None => (String::new(), String::new()),
        };
        // A hub tells its leaf nodes its own leaf-node address, and a leaf
        // that loses its link retries there too (nats-server 2.9 sends it
        // even with no_advertise). On loopback that address is reachable
        // around a test's cut proxy, so the hub advertises a dead one: a
        // leaf then reconnects only through the address it was given, as
        // an office does through its only link.
        let config = |port: u16, store: &Path| {
            format!(
                "server_name: hub_{port}\n\
                 listen: 127.0.0.1:{port}\n\
                 {client_tls}\n\
                 jetstream {{ domain: national, store_dir: {store:?} }}\n\
                 leafnodes {{ listen: 127.0.0.1:{leaf_port}, advertise: \"127.0.0.1:1\"\n {leaf_tls} }}\n\
                 include \"accounts.conf\"\n"
            )
        };
        let server = match &tls {
            Some(tls) => NatsProcess::start_with_tls(dir, launch, &tls.ca, config).await,
            None => NatsProcess::start_with(dir, launch, config).await,
        }
        .unwrap_or_else(|err| panic!("{err}"));
        Hub {
            server,
            leaf_port,
            passwords: passwords.clone(),
            tls,
        }
    }

    /// `nats://user:password@127.0.0.1:<port>` for a user of accounts.conf.
    pub fn url_as(&self, user: &str) -> String {
        format!(
            "nats://{user}:{}@127.0.0.1:{}",
            self.passwords.of(user),
            self.server.port()
        )
    }

    /// A connection as `user`, in the hub's own JetStream domain.
    pub async fn connect_as(&self, user: &str) -> Bus {
        let mut config = BusConfig::new(self.url_as(user), format!("test-{user}"));
        config.tls_ca_file = self.tls.as_ref().map(|tls| tls.ca.clone());
        Bus::connect(&config).await.expect("connects to the hub")
    }
}

/// A region's leaf node, run from `deploy/nats/leaf.conf` as deployed.
pub struct Leaf {
    pub region: Region,
    pub server: NatsProcess,
    pub passwords: Passwords,
    /// TLS on its client port and its link to the hub, when started with it.
    pub tls: Option<ServerTls>,
}

impl Leaf {
    /// Starts the leaf node of `region` in `dir`, linked to `hub_leaf_port`.
    pub async fn start(dir: &Path, region: Region, hub_leaf_port: u16, passwords: &Passwords) -> Leaf {
        Leaf::start_inner(dir, region, hub_leaf_port, passwords, None).await
    }

    /// Starts the leaf node of `region` from `deploy/nats/leaf-tls.conf` as
    /// deployed: TLS on its client port with `tls`'s certificate, and on the
    /// link to the hub (whose certificate must be signed by `tls.ca`).
    pub async fn start_tls(
        dir: &Path,
        region: Region,
        hub_leaf_port: u16,
        passwords: &Passwords,
        tls: &ServerTls,
    ) -> Leaf {
        Leaf::start_inner(dir, region, hub_leaf_port, passwords, Some(tls.clone())).await
    }

    async fn start_inner(
        dir: &Path,
        region: Region,
        hub_leaf_port: u16,
        passwords: &Passwords,
        tls: Option<ServerTls>,
    ) -> Leaf {
        let read = |name: &str| {
            std::fs::read_to_string(deploy_dir().join("nats").join(name))
                .unwrap_or_else(|err| panic!("deploy/nats/{name} is readable: {err}"))
        };
        let config = match &tls {
            Some(_) => {
                // leaf-tls.conf includes leaf.conf from its own folder.
                std::fs::create_dir_all(dir).expect("leaf dir");
                std::fs::write(dir.join("leaf.conf"), read("leaf.conf")).expect("leaf.conf copied");
                read("leaf-tls.conf")
            }
            None => read("leaf.conf"),
        };
        let port = free_port();
        let mut env = vec![
            ("JIGI_REGION".to_owned(), region.slug().to_owned()),
            ("JIGI_NATS_SERVER_NAME".to_owned(), format!("{region}-leaf-{port}")),
            ("JIGI_NATS_LISTEN".to_owned(), format!("127.0.0.1:{port}")),
            ("JIGI_NATS_HTTP".to_owned(), format!("127.0.0.1:{}", free_port())),
            (
                "JIGI_NATS_STORE_DIR".to_owned(),
                dir.join("jetstream").display().to_string(),
            ),
            (
                "JIGI_NATS_HUB_URL".to_owned(),
                format!(
                    "nats-leaf://{region}:{}@127.0.0.1:{hub_leaf_port}",
                    passwords.of(region.slug())
                ),
            ),
            passwords.services_env(),
        ];
        if let Some(tls) = &tls {
            // What the Kubernetes StatefulSet and install-region set.
            for (name, path) in [
                ("JIGI_NATS_TLS_CA", &tls.ca),
                ("JIGI_NATS_SERVER_CERT", &tls.cert),
                ("JIGI_NATS_SERVER_KEY", &tls.key),
            ] {
                env.push((name.to_owned(), path.display().to_string()));
            }
        }
        let launch = Launch {
            port,
            env,
            probe_user: Some(("services".into(), passwords.of("services").into())),
        };
        let server = match &tls {
            Some(tls) => NatsProcess::start_with_tls(dir, launch, &tls.ca, |_, _| config).await,
            None => NatsProcess::start_with(dir, launch, |_, _| config).await,
        }
        .unwrap_or_else(|err| panic!("{err}"));
        Leaf {
            region,
            server,
            passwords: passwords.clone(),
            tls,
        }
    }

    /// The URL the region's services use: `nats://services:PASSWORD@…`.
    pub fn services_url(&self) -> String {
        format!(
            "nats://services:{}@127.0.0.1:{}",
            self.passwords.of("services"),
            self.server.port()
        )
    }

    /// A connection as the region's services, in the region's domain.
    pub async fn connect(&self) -> Bus {
        let mut config = BusConfig::new(self.services_url(), format!("test-{}", self.region));
        config.jetstream_domain = Some(self.region.slug().to_owned());
        config.tls_ca_file = self.tls.as_ref().map(|tls| tls.ca.clone());
        Bus::connect(&config).await.expect("connects to the leaf node")
    }
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
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(database.pool())
        .await
        .expect("the tables can be listed");
    let mut print = BTreeMap::new();
    for table in tables {
        if table == "sqlite_sequence" || table == "jigi_schema_migrations" || left_out.contains(&table.as_str()) {
            continue;
        }
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM \"{table}\"")))
            .fetch_one(database.pool())
            .await
            .expect("a table can be counted");
        print.insert(table, count);
    }
    let sequences: Vec<(String, i64)> = sqlx::query_as("SELECT name, seq FROM sqlite_sequence")
        .fetch_all(database.pool())
        .await
        .unwrap_or_default();
    for (name, seq) in sequences {
        print.insert(format!("sequence of {name}"), seq);
    }
    print
}
