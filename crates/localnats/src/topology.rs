//! A country's NATS on loopback, run from the deployment's own files:
//!
//! - the national [`Hub`] runs `deploy/nats/accounts.conf` (every user and
//!   permission of the real deployment) with a single-node JetStream in
//!   domain `national` and a leaf-node listener;
//! - each region's [`Leaf`] node runs `deploy/nats/leaf.conf` (or
//!   `leaf-tls.conf`) exactly as deployed, with the environment a
//!   Kubernetes pod or a systemd unit gives it.
//!
//! The files are built in, so a `jigi` binary runs them from anywhere; what
//! the local stack, the demo and the tests prove is proved of the files that
//! are deployed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Launch, NatsProcess, Passwords, StartError, free_port};

/// The hub's users and permissions, as deployed.
pub const ACCOUNTS_CONF: &str = include_str!("../../../deploy/nats/accounts.conf");
/// Every region's leaf node, as deployed.
pub const LEAF_CONF: &str = include_str!("../../../deploy/nats/leaf.conf");
/// A leaf node with TLS on its clients and its link, as deployed.
pub const LEAF_TLS_CONF: &str = include_str!("../../../deploy/nats/leaf-tls.conf");

/// Fresh random passwords for every user of the deployed `accounts.conf`
/// and for the regions' services.
pub fn passwords() -> Passwords {
    Passwords::for_accounts(ACCOUNTS_CONF)
}

/// A server's TLS files (PEM): its certificate and key, and the CA that
/// signs every NATS server's certificate.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The national hub (a single node here; `hub.conf` runs three).
pub struct Hub {
    pub server: NatsProcess,
    /// Where leaf nodes connect.
    pub leaf_port: u16,
    pub passwords: Passwords,
    /// TLS on its client and leaf-node ports, when started with it.
    pub tls: Option<TlsFiles>,
}

impl Hub {
    /// Starts the hub in `dir`.
    pub async fn start(dir: &Path, passwords: &Passwords) -> Result<Hub, StartError> {
        Hub::start_inner(dir, passwords, None).await
    }

    /// Starts the hub in `dir` with TLS required on its client and
    /// leaf-node ports, as `deploy/nats/hub-tls.conf` sets them.
    pub async fn start_tls(dir: &Path, passwords: &Passwords, tls: &TlsFiles) -> Result<Hub, StartError> {
        Hub::start_inner(dir, passwords, Some(tls.clone())).await
    }

    async fn start_inner(dir: &Path, passwords: &Passwords, tls: Option<TlsFiles>) -> Result<Hub, StartError> {
        std::fs::create_dir_all(dir).map_err(StartError::Io)?;
        std::fs::write(dir.join("accounts.conf"), ACCOUNTS_CONF).map_err(StartError::Io)?;
        let leaf_port = free_port();
        let launch = Launch {
            port: free_port(),
            env: passwords.hub_env(),
            probe_user: Some(("national".into(), passwords.of("national").into())),
        };
        // The same TLS blocks as hub-tls.conf (which itself needs a cluster).
        let tls_block = |tls: &TlsFiles| format!("tls {{ cert_file: {:?}, key_file: {:?} }}", tls.cert, tls.key);
        let (client_tls, leaf_tls) = match &tls {
            Some(tls) => (tls_block(tls), tls_block(tls)),
            None => (String::new(), String::new()),
        };
        // A hub tells its leaf nodes its own leaf-node address, and a leaf
        // that loses its link retries there too (nats-server 2.9 sends it
        // even with no_advertise). On loopback that address is reachable
        // around a cut proxy, so the hub advertises a dead one: a leaf then
        // reconnects only through the address it was given, as an office
        // does through its only link.
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
            Some(tls) => NatsProcess::start_with_tls(dir, launch, &tls.ca, config).await?,
            None => NatsProcess::start_with(dir, launch, config).await?,
        };
        Ok(Hub {
            server,
            leaf_port,
            passwords: passwords.clone(),
            tls,
        })
    }

    /// `nats://user:password@127.0.0.1:<port>` for a user of accounts.conf
    /// (`national` sees every event of every region).
    pub fn url_as(&self, user: &str) -> String {
        format!(
            "nats://{user}:{}@127.0.0.1:{}",
            self.passwords.of(user),
            self.server.port()
        )
    }
}

/// A region's leaf node, run from `deploy/nats/leaf.conf` as deployed.
pub struct Leaf {
    pub region: String,
    pub server: NatsProcess,
    pub passwords: Passwords,
    /// Its monitoring port (`/leafz` says whether the link to the hub is up).
    pub http_port: u16,
    /// TLS on its client port and its link to the hub, when started with it.
    pub tls: Option<TlsFiles>,
}

impl Leaf {
    /// Starts the leaf node of `region` (a slug) in `dir`, linked to the
    /// hub's leaf-node port `hub_leaf_port` (the hub's own, or a proxy's).
    pub async fn start(
        dir: &Path,
        region: &str,
        hub_leaf_port: u16,
        passwords: &Passwords,
    ) -> Result<Leaf, StartError> {
        Leaf::start_inner(dir, region, hub_leaf_port, passwords, None).await
    }

    /// Starts the leaf node of `region` from `deploy/nats/leaf-tls.conf` as
    /// deployed: TLS on its client port with `tls`'s certificate, and on the
    /// link to the hub (whose certificate must be signed by `tls.ca`).
    pub async fn start_tls(
        dir: &Path,
        region: &str,
        hub_leaf_port: u16,
        passwords: &Passwords,
        tls: &TlsFiles,
    ) -> Result<Leaf, StartError> {
        Leaf::start_inner(dir, region, hub_leaf_port, passwords, Some(tls.clone())).await
    }

    async fn start_inner(
        dir: &Path,
        region: &str,
        hub_leaf_port: u16,
        passwords: &Passwords,
        tls: Option<TlsFiles>,
    ) -> Result<Leaf, StartError> {
        let config = match &tls {
            Some(_) => {
                // leaf-tls.conf includes leaf.conf from its own folder.
                std::fs::create_dir_all(dir).map_err(StartError::Io)?;
                std::fs::write(dir.join("leaf.conf"), LEAF_CONF).map_err(StartError::Io)?;
                LEAF_TLS_CONF
            }
            None => LEAF_CONF,
        };
        let port = free_port();
        let http_port = free_port();
        let mut env = vec![
            ("JIGI_REGION".to_owned(), region.to_owned()),
            ("JIGI_NATS_SERVER_NAME".to_owned(), format!("{region}_leaf_{port}")),
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
                    passwords.of(region)
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
            Some(tls) => NatsProcess::start_with_tls(dir, launch, &tls.ca, |_, _| config.to_owned()).await?,
            None => NatsProcess::start_with(dir, launch, |_, _| config.to_owned()).await?,
        };
        Ok(Leaf {
            region: region.to_owned(),
            server,
            passwords: passwords.clone(),
            http_port,
            tls,
        })
    }

    /// The URL the region's services use: `nats://services:PASSWORD@…`.
    pub fn services_url(&self) -> String {
        format!(
            "nats://services:{}@127.0.0.1:{}",
            self.passwords.of("services"),
            self.server.port()
        )
    }

    /// Whether the leaf's link to the hub is up (its `/leafz` page lists
    /// one leaf connection).
    pub async fn is_linked(&self) -> bool {
        http_get(self.http_port, "/leafz")
            .await
            .is_ok_and(|page| page.contains("\"leafnodes\": 1"))
    }

    /// Waits until the link to the hub is up, so the national stream can
    /// source the region at once.
    pub async fn wait_linked(&self, timeout: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.is_linked().await {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "the leaf node of {} has no link to the hub after {timeout:?}; see {}",
                    self.region,
                    self.server.dir().join("nats.log").display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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
