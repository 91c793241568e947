//! A local Jigi stack in one process, shaped as it is deployed: a national
//! NATS hub (JetStream domain `national`) with the deployment's users and
//! permissions, one NATS leaf node per region (its own JetStream domain),
//! each region's registry, payments and nutrition services on its leaf, and
//! the national monitoring on the hub. The NATS files are the deployment's
//! own (`deploy/nats/accounts.conf`, `deploy/nats/leaf.conf`, built in),
//! with passwords made for this run. Everything is stored in one folder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::Arc;

use jigi_auth::{Expectations, KeySource, LocalIssuer};
use jigi_common::Region;
use jigi_localnats::{Launch, NatsProcess, Passwords, free_port};
use jigi_server::ServeConfig;
use jigi_server::serving::AccessSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::quarter::Endpoints;
use crate::staff::Staff;

/// The hub's users and permissions, as deployed.
const ACCOUNTS_CONF: &str = include_str!("../../../deploy/nats/accounts.conf");
/// Every region's leaf node, as deployed.
const LEAF_CONF: &str = include_str!("../../../deploy/nats/leaf.conf");

/// A region's node: its leaf node and its three services.
pub struct RegionNode {
    pub region: Region,
    pub leaf: NatsProcess,
    /// `nats://services:PASSWORD@127.0.0.1:PORT`: what the region's services use.
    pub nats_url: String,
    pub registry: jigi_registry::Running,
    pub payments: jigi_payments::Running,
    pub nutrition: jigi_nutrition::Running,
    staff: Staff,
}

impl RegionNode {
    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            registry: format!("http://{}", self.registry.grpc_addr),
            payments: format!("http://{}", self.payments.grpc_addr),
            nutrition: format!("http://{}", self.nutrition.grpc_addr),
            staff: self.staff.clone(),
        }
    }
}

/// A running local stack.
pub struct LocalStack {
    pub data_dir: PathBuf,
    /// Tokens for the people who use it, from the stack's own key
    /// (`<data>/auth/local-key.pem`; `jigi token --key` issues more).
    pub staff: Staff,
    pub hub: NatsProcess,
    pub regions: Vec<RegionNode>,
    pub monitoring: jigi_monitoring::Running,
    passwords: Passwords,
    shutdown: CancellationToken,
}

/// Why the stack did not start.
fn failed(what: &str, err: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{what} did not start: {err}")
}

impl LocalStack {
    /// Starts the hub, a leaf node and the three services per region, and
    /// the monitoring, storing everything under `data_dir`.
    pub async fn start(data_dir: &Path, regions: &[Region]) -> anyhow::Result<LocalStack> {
        std::fs::create_dir_all(data_dir)
            .map_err(|err| anyhow::anyhow!("cannot create the data folder {}: {err}", data_dir.display()))?;
        let passwords = Passwords::for_accounts(ACCOUNTS_CONF);
        // Access control on, as deployed: the services trust the stack's own
        // key, which `jigi token` uses too.
        let issuer = LocalIssuer::load_or_create(&key_file(data_dir))?;
        let jwks = data_dir.join("auth/jwks.json");
        std::fs::write(&jwks, issuer.key_set().to_json())?;
        let serve = ServeConfig {
            access: AccessSettings::Tokens {
                keys: KeySource::File(jwks),
                expect: Expectations::default(),
            },
            ..ServeConfig::local()
        };
        let staff = Staff::with_tokens(Arc::new(issuer));

        let hub_dir = data_dir.join("nats-hub");
        std::fs::create_dir_all(&hub_dir)?;
        std::fs::write(hub_dir.join("accounts.conf"), ACCOUNTS_CONF)?;
        let leaf_port = free_port();
        let launch = Launch {
            port: free_port(),
            env: passwords.hub_env(),
            probe_user: Some(("national".into(), passwords.of("national").to_owned())),
        };
        let hub = NatsProcess::start_with(&hub_dir, launch, |port, store| {
            format!(
                "server_name: jigi_hub\n\
                 listen: 127.0.0.1:{port}\n\
                 jetstream {{ domain: national, store_dir: {store:?} }}\n\
                 leafnodes {{ listen: 127.0.0.1:{leaf_port} }}\n\
                 include \"accounts.conf\"\n"
            )
        })
        .await
        .map_err(|err| failed("the NATS hub", err))?;

        let shutdown = CancellationToken::new();
        let mut nodes = Vec::new();
        for region in regions {
            let node = start_region(data_dir, *region, leaf_port, &passwords, &serve, &staff, &shutdown).await;
            match node {
                Ok(node) => nodes.push(node),
                Err(err) => {
                    shutdown.cancel();
                    return Err(err);
                }
            }
        }

        let hub_url = |user: &str| format!("nats://{user}:{}@127.0.0.1:{}", passwords.of(user), hub.port());
        let mut config =
            jigi_monitoring::Config::local(regions, &hub_url("monitoring"), &sqlite(data_dir, "monitoring"));
        config.region_domains = true;
        config.serve = serve;
        let monitoring = jigi_monitoring::start(config, shutdown.clone())
            .await
            .map_err(|err| failed("the monitoring", err))?;
        Ok(LocalStack {
            data_dir: data_dir.to_path_buf(),
            staff,
            hub,
            regions: nodes,
            monitoring,
            passwords,
            shutdown,
        })
    }

    /// The node of `region`.
    pub fn region(&self, region: Region) -> &RegionNode {
        self.regions
            .iter()
            .find(|node| node.region == region)
            .expect("the stack runs this region")
    }

    /// `nats://user:PASSWORD@…` of the hub, for a user of accounts.conf
    /// (`national` sees every event of every region).
    pub fn hub_url(&self, user: &str) -> String {
        format!(
            "nats://{user}:{}@127.0.0.1:{}",
            self.passwords.of(user),
            self.hub.port()
        )
    }

    pub fn monitoring_addr(&self) -> SocketAddr {
        self.monitoring.grpc_addr
    }

    /// Stops the services (letting them finish what they do), then NATS.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let LocalStack {
            mut hub,
            regions,
            monitoring,
            ..
        } = self;
        monitoring.stopped().await;
        for mut node in regions {
            node.registry.stopped().await;
            node.payments.stopped().await;
            node.nutrition.stopped().await;
            node.leaf.stop().await;
        }
        hub.stop().await;
    }
}

fn sqlite(dir: &Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(format!("{name}.db")).display())
}

async fn start_region(
    data_dir: &Path,
    region: Region,
    hub_leaf_port: u16,
    passwords: &Passwords,
    serve: &ServeConfig,
    staff: &Staff,
    shutdown: &CancellationToken,
) -> anyhow::Result<RegionNode> {
    let dir = data_dir.join(format!("nats-{region}"));
    let port = free_port();
    let http_port = free_port();
    let env = vec![
        ("JIGI_REGION".to_owned(), region.slug().to_owned()),
        ("JIGI_NATS_SERVER_NAME".to_owned(), format!("{region}_leaf")),
        ("JIGI_NATS_LISTEN".to_owned(), format!("127.0.0.1:{port}")),
        ("JIGI_NATS_HTTP".to_owned(), format!("127.0.0.1:{http_port}")),
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
    let launch = Launch {
        port,
        env,
        probe_user: Some(("services".into(), passwords.of("services").to_owned())),
    };
    let leaf = NatsProcess::start_with(&dir, launch, |_, _| LEAF_CONF.to_owned())
        .await
        .map_err(|err| failed(&format!("the NATS leaf node of {region}"), err))?;
    wait_linked(http_port)
        .await
        .map_err(|err| failed(&format!("the link of {region}'s leaf node to the hub"), err))?;
    let nats_url = format!("nats://services:{}@127.0.0.1:{port}", passwords.of("services"));
    let domain = Some(region.slug().to_owned());

    let mut config = jigi_registry::Config::local(region, &nats_url, &sqlite(data_dir, &format!("registry-{region}")));
    config.nats.jetstream_domain = domain.clone();
    config.serve = serve.clone();
    let registry = jigi_registry::start(config, shutdown.clone())
        .await
        .map_err(|err| failed(&format!("the registry of {region}"), err))?;
    let mut config = jigi_payments::Config::local(region, &nats_url, &sqlite(data_dir, &format!("payments-{region}")));
    config.nats.jetstream_domain = domain.clone();
    config.serve = serve.clone();
    let payments = jigi_payments::start(config, shutdown.clone())
        .await
        .map_err(|err| failed(&format!("the payments service of {region}"), err))?;
    let mut config =
        jigi_nutrition::Config::local(region, &nats_url, &sqlite(data_dir, &format!("nutrition-{region}")));
    config.nats.jetstream_domain = domain;
    config.serve = serve.clone();
    let nutrition = jigi_nutrition::start(config, shutdown.clone())
        .await
        .map_err(|err| failed(&format!("the nutrition service of {region}"), err))?;
    Ok(RegionNode {
        region,
        leaf,
        nats_url,
        registry,
        payments,
        nutrition,
        staff: staff.clone(),
    })
}

/// The stack's signing key: `jigi token --key <this>` issues tokens its
/// services accept.
pub fn key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("auth/local-key.pem")
}

/// Waits until a leaf node reports its link to the hub (its `/leafz`
/// monitoring page lists one leaf connection), so the national stream can
/// source the region at once.
async fn wait_linked(http_port: u16) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(page) = http_get(http_port, "/leafz").await
            && page.contains("\"leafnodes\": 1")
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("no link after 20 s; see the leaf node's nats.log in the data folder");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    Ok(text)
}
