//! Runs a real `nats-server` process from a configuration file in a folder
//! of its own: for `jigi demo` / `jigi up` and for tests, which need to stop,
//! restart and kill servers.
//!
//! The binary is `$NATS_SERVER_BIN`, or `nats-server` on `PATH`.

mod passwords;
pub mod topology;

pub use passwords::Passwords;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// A port that was free a moment ago (the OS picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("the OS gives a free port")
}

/// The `nats-server` binary to run.
pub fn binary() -> PathBuf {
    std::env::var_os("NATS_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("nats-server"))
}

/// Why a server did not start.
#[derive(Debug)]
pub enum StartError {
    Io(std::io::Error),
    /// The binary is missing.
    NotInstalled(std::io::Error),
    /// It started but did not serve JetStream in time; see its log.
    NotReady {
        url: String,
        log: PathBuf,
        /// The end of the log, which says why (it may be deleted with a test's folder).
        tail: String,
    },
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Io(err) => write!(f, "cannot prepare nats-server: {err}"),
            StartError::NotInstalled(err) => write!(
                f,
                "cannot run nats-server ({err}); install it (apt-get install nats-server) or set NATS_SERVER_BIN"
            ),
            StartError::NotReady { url, log, tail } => {
                write!(
                    f,
                    "nats-server on {url} did not serve JetStream in time; see {}, ending:\n{tail}",
                    log.display()
                )
            }
        }
    }
}

impl std::error::Error for StartError {}

/// A `nats-server` listening on 127.0.0.1. Killed when dropped.
pub struct NatsProcess {
    port: u16,
    dir: PathBuf,
    config: PathBuf,
    /// Environment variables given to the server: its configuration can
    /// refer to them (`$NAME`), as the deployment's files do.
    env: Vec<(String, String)>,
    /// User and password the readiness probe connects with.
    probe_user: Option<(String, String)>,
    /// The CA the readiness probe trusts, when clients must use TLS.
    probe_tls_ca: Option<PathBuf>,
    child: Option<Child>,
}

/// How to launch a server: see [`NatsProcess::start_with`].
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// The client port (from [`free_port`]).
    pub port: u16,
    /// Environment variables the configuration refers to (`$NAME`).
    pub env: Vec<(String, String)>,
    /// User and password for the readiness probe, when clients must log in.
    pub probe_user: Option<(String, String)>,
}

impl Launch {
    /// On `port`, without environment or probe user.
    pub fn on(port: u16) -> Launch {
        Launch {
            port,
            ..Launch::default()
        }
    }
}

impl NatsProcess {
    /// Writes `config(port, store_dir)` to `dir/nats.conf` and starts the
    /// server on a free port, waiting until it serves JetStream.
    pub async fn start(dir: &Path, config: impl FnOnce(u16, &Path) -> String) -> Result<NatsProcess, StartError> {
        NatsProcess::start_with(dir, Launch::on(free_port()), config).await
    }

    /// Like [`NatsProcess::start`], with the port, environment and probe
    /// user of `launch`: for servers whose configuration refers to other
    /// servers' ports or to environment variables (the deployment's own
    /// files, run as they are), and that require authentication.
    pub async fn start_with(
        dir: &Path,
        launch: Launch,
        config: impl FnOnce(u16, &Path) -> String,
    ) -> Result<NatsProcess, StartError> {
        NatsProcess::start_inner(dir, launch, None, config).await
    }

    /// Like [`NatsProcess::start_with`], for a server whose client port
    /// requires TLS: the readiness probe connects with TLS, trusting the CA
    /// in `ca_file` (PEM).
    pub async fn start_with_tls(
        dir: &Path,
        launch: Launch,
        ca_file: &Path,
        config: impl FnOnce(u16, &Path) -> String,
    ) -> Result<NatsProcess, StartError> {
        NatsProcess::start_inner(dir, launch, Some(ca_file.to_path_buf()), config).await
    }

    async fn start_inner(
        dir: &Path,
        launch: Launch,
        probe_tls_ca: Option<PathBuf>,
        config: impl FnOnce(u16, &Path) -> String,
    ) -> Result<NatsProcess, StartError> {
        std::fs::create_dir_all(dir).map_err(StartError::Io)?;
        let Launch { port, env, probe_user } = launch;
        let store = dir.join("jetstream");
        let config_path = dir.join("nats.conf");
        std::fs::write(&config_path, config(port, &store)).map_err(StartError::Io)?;
        let mut server = NatsProcess {
            port,
            dir: dir.to_path_buf(),
            config: config_path,
            env,
            probe_user,
            probe_tls_ca,
            child: None,
        };
        server.launch().await?;
        Ok(server)
    }

    /// A standalone server with JetStream, its store in `dir`.
    pub async fn standalone(dir: &Path) -> Result<NatsProcess, StartError> {
        NatsProcess::start(dir, |port, store| {
            format!("listen: 127.0.0.1:{port}\nserver_name: jigi_{port}\njetstream {{ store_dir: {store:?} }}\n")
        })
        .await
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's folder (config, store, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops the server gracefully (SIGTERM) and waits for it to exit.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
            }
            let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
            let _ = child.kill().await;
        }
    }

    /// Kills the server (SIGKILL), as a crash or a power cut would.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts the server again on the same port with the same store.
    pub async fn restart(&mut self) -> Result<(), StartError> {
        self.stop().await;
        self.launch().await
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    async fn launch(&mut self) -> Result<(), StartError> {
        let log_path = self.dir.join("nats.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(StartError::Io)?;
        let child = Command::new(binary())
            .arg("-c")
            .arg(&self.config)
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(StartError::Io)?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(StartError::NotInstalled)?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if serves_jetstream(&self.url(), self.probe_user.as_ref(), self.probe_tls_ca.as_deref()).await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        Err(StartError::NotReady {
            url: self.url(),
            log: log_path,
            tail,
        })
    }
}

/// Whether JetStream answers at `url`. A raw request, because the shape of
/// the account info varies across server versions.
async fn serves_jetstream(url: &str, user: Option<&(String, String)>, tls_ca: Option<&Path>) -> bool {
    let mut options = async_nats::ConnectOptions::new();
    if let Some((user, password)) = user {
        options = options.user_and_password(user.clone(), password.clone());
    }
    if let Some(ca) = tls_ca {
        options = options.add_root_certificates(ca.to_path_buf()).require_tls(true);
    }
    let Ok(client) = options
        .connection_timeout(Duration::from_millis(500))
        .connect(url)
        .await
    else {
        return false;
    };
    match client.request("$JS.API.INFO", "".into()).await {
        Ok(reply) => !String::from_utf8_lossy(&reply.payload).contains("\"error\""),
        Err(_) => false,
    }
}

impl Drop for NatsProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}
