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

/// A service process listening on free ports, killed when dropped.
pub struct ServiceProcess {
    pub grpc_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
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
        let file = std::fs::File::create(&log).expect("create service log");
        let mut command = Command::new(workspace_binary(binary));
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
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {binary}: {err}"));
        let process = ServiceProcess {
            grpc_addr,
            metrics_addr,
            log,
            child,
        };
        let log_path = process.log.clone();
        eventually(
            Duration::from_secs(60),
            &format!("{binary} to serve (log: {})", log_path.display()),
            || async move {
                let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc_addr}"))
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
            },
        )
        .await;
        process
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
