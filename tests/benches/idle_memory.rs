//! Idle memory: each service as its own process, started on a real NATS
//! server with access control on, serving and idle — the state a regional
//! office's machine is in most of the day. Issue 13's goal: ≤ 30 MB each.
//!
//! Beside them, in the same run, a bare process doing the same idle work
//! well: the same binary profile running a tonic server (gRPC health) and an
//! async-nats connection with a JetStream context, nothing else. The ratio
//! says what Jigi's own machinery (database pools, consumers, outbox relay,
//! metrics, token cache) costs on top.
//!
//! RSS is sampled every 100 ms over a window (`IDLE_WINDOW_SECS`, default
//! 5 s) once every process serves; the largest sample is reported.
//!
//! ```text
//! cargo bench -p jigi-e2e --bench idle_memory
//! ```

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use jigi_testkit::{NatsServer, ServiceProcess, TestAccess, eventually, free_port, serves};

const SERVICES: [&str; 5] = [
    "jigi-registry",
    "jigi-payments",
    "jigi-nutrition",
    "jigi-activities",
    "jigi-monitoring",
];
const GOAL_MIB: f64 = 30.0;
const BARE: &str = "IDLE_MEMORY_BARE_NATS";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Ok(nats_url) = std::env::var(BARE) {
        let addr: SocketAddr = std::env::var("IDLE_MEMORY_BARE_ADDR").unwrap().parse().unwrap();
        runtime.block_on(bare(nats_url, addr));
        return;
    }
    runtime.block_on(measure());
}

/// The bare baseline: serve gRPC health and hold a JetStream connection.
async fn bare(nats_url: String, addr: SocketAddr) {
    let client = async_nats::connect(nats_url).await.expect("connect to NATS");
    let _jetstream = async_nats::jetstream::new(client);
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(health)
        .serve(addr)
        .await
        .expect("serve");
}

/// The resident set of `pid` in MiB, from `/proc`.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process runs");
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status");
    kib / 1024.0
}

/// The largest RSS of each pid over the idle window.
async fn idle_peaks(pids: &[u32]) -> Vec<f64> {
    let window: u64 = std::env::var("IDLE_WINDOW_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut peaks = vec![0.0_f64; pids.len()];
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    for _ in 0..window * 10 {
        tick.tick().await;
        for (peak, pid) in peaks.iter_mut().zip(pids) {
            *peak = peak.max(rss_mib(*pid));
        }
    }
    peaks
}

async fn start_services(nats: &NatsServer, dir: &Path) -> Vec<ServiceProcess> {
    let access = TestAccess::new(dir);
    let mut started = Vec::new();
    for binary in SERVICES {
        let mut env = vec![
            ("JIGI_NATS_URL", nats.url()),
            (
                "JIGI_DATABASE_URL",
                format!("sqlite://{}", dir.join(format!("{binary}.db")).display()),
            ),
            ("JIGI_DEPLOYMENT", "idle".to_owned()),
            ("JIGI_REGION", "sikasso".to_owned()),
            ("JIGI_REGIONS", "sikasso".to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ];
        env.extend(access.process_env());
        // One at a time: each creates the streams and consumers it needs.
        started.push(ServiceProcess::start(binary, dir, &env).await);
    }
    started
}

async fn measure() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start().await;
    let services = start_services(&nats, dir.path()).await;

    let bare_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut bare = tokio::process::Command::new(std::env::current_exe().unwrap())
        .env(BARE, nats.url())
        .env("IDLE_MEMORY_BARE_ADDR", bare_addr.to_string())
        .kill_on_drop(true)
        .spawn()
        .expect("start the bare baseline");
    eventually(Duration::from_secs(30), "the bare baseline to serve", || {
        serves(bare_addr)
    })
    .await;

    let mut pids: Vec<u32> = services.iter().map(|s| s.pid().expect("service runs")).collect();
    pids.push(bare.id().expect("bare runs"));
    let peaks = idle_peaks(&pids).await;
    let bare_mib = *peaks.last().unwrap();

    println!("idle RSS, each service its own process, serving, idle (goal ≤ {GOAL_MIB} MiB):");
    println!("  {:<18} {:>8.1} MiB", "bare tonic + NATS", bare_mib);
    for (binary, mib) in SERVICES.iter().zip(&peaks) {
        let verdict = if *mib <= GOAL_MIB { "✔" } else { "✘" };
        println!(
            "  {binary:<18} {mib:>8.1} MiB  {:>4.1}× bare  {verdict}",
            mib / bare_mib
        );
    }
    let _ = bare.kill().await;
    for service in services {
        service.stop().await;
    }
}
