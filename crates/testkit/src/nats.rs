//! A real `nats-server` process for a test.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::eventually;

/// A port that was free a moment ago (the OS picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("the OS gives a free port")
}

/// The `nats-server` binary: `$NATS_SERVER_BIN`, or the one on `PATH`.
fn binary() -> PathBuf {
    std::env::var_os("NATS_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("nats-server"))
}

/// A `nats-server` with JetStream, listening on 127.0.0.1. Killed on drop.
pub struct NatsServer {
    port: u16,
    dir: tempfile::TempDir,
    config: PathBuf,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts a standalone server with JetStream on a free port.
    pub async fn start() -> NatsServer {
        NatsServer::start_with(|port, store| {
            format!("listen: 127.0.0.1:{port}\nserver_name: test_{port}\njetstream {{ store_dir: {store:?} }}\n")
        })
        .await
    }

    /// Starts a server from a configuration file made by `config(port, store_dir)`,
    /// for leaf nodes, domains and accounts.
    pub async fn start_with(config: impl FnOnce(u16, &Path) -> String) -> NatsServer {
        crate::init_tracing();
        let dir = tempfile::tempdir().expect("temp dir for nats-server");
        let port = free_port();
        let store = dir.path().join("jetstream");
        let config_path = dir.path().join("nats.conf");
        std::fs::write(&config_path, config(port, &store)).expect("write nats config");
        let mut server = NatsServer {
            port,
            dir,
            config: config_path,
            child: None,
        };
        server.launch().await;
        server
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's working directory (config, store, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
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
    pub async fn restart(&mut self) {
        self.stop().await;
        self.launch().await;
    }

    /// Whether the process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    async fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("nats.log"))
            .expect("open nats log");
        let child = Command::new(binary())
            .arg("-c")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot start nats-server ({err}); install it (apt-get install nats-server) or set NATS_SERVER_BIN"
                )
            });
        self.child = Some(child);
        let url = self.url();
        let log_path = self.dir.path().join("nats.log");
        eventually(
            Duration::from_secs(20),
            &format!("nats-server on {url} to serve JetStream (log: {})", log_path.display()),
            || {
                let url = url.clone();
                async move {
                    let client = async_nats::ConnectOptions::new()
                        .connection_timeout(Duration::from_millis(500))
                        .connect(url.as_str())
                        .await
                        .ok()?;
                    // A raw request: the account info's shape varies across
                    // server versions, any answer without an error will do.
                    let reply = client.request("$JS.API.INFO", "".into()).await.ok()?;
                    let body = String::from_utf8_lossy(&reply.payload);
                    (!body.contains("\"error\"")).then_some(())
                }
            },
        )
        .await;
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}
