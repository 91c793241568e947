//! A Jigi service run as its own process (its real `main`), for tests that
//! need what only a process has: its own OpenTelemetry resource, its own logs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::{eventually, free_port};

/// The path of a workspace binary (`jigi-registry`, …), built first: a test
/// must run the code it was built with, not a binary left from an earlier
/// build (cargo does nothing when it is up to date). Tests run from
/// `target/<profile>/deps/`, so the binaries sit one folder up.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    let binary = dir.join(name);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build.args(["build", "--quiet", "-p", name, "--bin", name]);
    if dir.file_name().is_some_and(|profile| profile == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "cargo build -p {name} failed");
    binary
}

/// Spawns the executable at `path` on the given ports, appending its output to `log`.
fn spawn(path: &Path, grpc_addr: SocketAddr, metrics_addr: SocketAddr, env: &[(&str, String)], log: &Path) -> Child {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open the service log");
    let mut command = Command::new(path);
    command
        .env("JIGI_GRPC_ADDR", grpc_addr.to_string())
        .env("JIGI_METRICS_ADDR", metrics_addr.to_string())
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("clone log"))
        .stderr(file)
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    command
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {}: {err}", path.display()))
}

/// A service process listening on free ports, killed when dropped.
pub struct ServiceProcess {
    pub grpc_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    binary: String,
    /// The executable as built at the start, linked into the process's
    /// directory: a restart runs the same program at once, even if the
    /// workspace was built again meanwhile. (Building again at each
    /// restart ran `cargo build`, which waits while any other build holds
    /// the workspace's lock, and a soak counted that wait as the service's
    /// recovery; a build that changed the binary would have restarted
    /// other code.)
    path: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Child,
}

impl ServiceProcess {
    /// Starts `binary` with `env` (plus `JIGI_GRPC_ADDR`, `JIGI_METRICS_ADDR`
    /// on free ports), logging to `dir/<binary>.log`, and waits until its
    /// gRPC health check answers SERVING.
    pub async fn start(binary: &str, dir: &Path, env: &[(&str, String)]) -> ServiceProcess {
        let grpc_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("address");
        let metrics_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("address");
        let log = dir.join(format!("{binary}.log"));
        let path = dir.join(format!("{binary}-{}", grpc_addr.port()));
        let built = workspace_binary(binary);
        // A hard link keeps this build's file when cargo replaces the
        // binary; a copy where the directory is on another file system.
        std::fs::hard_link(&built, &path)
            .or_else(|_| std::fs::copy(&built, &path).map(drop))
            .unwrap_or_else(|err| panic!("cannot keep {} in {}: {err}", built.display(), dir.display()));
        let mut process = ServiceProcess {
            grpc_addr,
            metrics_addr,
            binary: binary.to_owned(),
            env: env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
            child: spawn(&path, grpc_addr, metrics_addr, env, &log),
            path,
            log,
        };
        process.wait_serving().await;
        process
    }

    /// Kills the process at once (SIGKILL: no shutdown, no flush), as a
    /// crash or an operator's `kill -9` would.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Starts the process again on the same ports with the same settings
    /// (after [`ServiceProcess::kill`]), and waits until it serves.
    pub async fn restart(&mut self) {
        let env: Vec<(&str, String)> = self.env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        self.child = spawn(&self.path, self.grpc_addr, self.metrics_addr, &env, &self.log);
        self.wait_serving().await;
    }

    async fn wait_serving(&mut self) {
        let (grpc_addr, log_path) = (self.grpc_addr, self.log.clone());
        eventually(
            Duration::from_secs(60),
            &format!("{} to serve (log: {})", self.binary, log_path.display()),
            || serves(grpc_addr),
        )
        .await;
    }

    /// The operating system's ID of the running process (none once it has exited).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Everything the process has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the process gracefully (SIGTERM), so it flushes its spans.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await;
    }
}

/// `Some` when the gRPC server at `addr` answers its health check SERVING
/// (for [`eventually`]).
pub async fn serves(addr: SocketAddr) -> Option<()> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .ok()?
        .connect()
        .await
        .ok()?;
    let status = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
        .await
        .ok()?
        .into_inner()
        .status;
    (status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32).then_some(())
}
