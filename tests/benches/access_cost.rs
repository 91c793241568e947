//! What access control costs a call: the registry answering unary calls
//! from 16 concurrent clients, in one run,
//!
//! - `open`: no tokens (`JIGI_AUTH=off`): every command still audited;
//! - `tokens`: every call carries an Ed25519 token the service verifies.
//!
//! Each with a query (`ListAreas`: token check only) and a command
//! (`RegisterHousehold`: token check, audit entry, the registration itself).
//! Each mode runs twice (in order, then reversed) and the better run is
//! reported, so a burst of load on a shared machine does not decide it.
//!
//! ```text
//! cargo bench -p jigi-e2e --bench access_cost
//! BENCH_CALLS=20000 cargo bench -p jigi-e2e --bench access_cost
//! ```

use std::time::Instant;

use jigi_auth::{Expectations, Grant, KeySource, LocalIssuer, Role, Scope};
use jigi_common::{Geography, Region};
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_proto::registry::{ListAreasRequest, RegisterHouseholdRequest};
use jigi_registry::sample::HouseholdGenerator;
use jigi_server::serving::AccessSettings;
use jigi_testkit::{NatsServer, connect_channel, sqlite_url};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

const CONCURRENCY: usize = 16;

fn main() {
    let calls: usize = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4_000);
    tokio::runtime::Runtime::new().expect("runtime").block_on(run(calls));
}

async fn run(calls: usize) {
    let nats = NatsServer::start().await;
    println!("access_cost: {calls} calls per measure, {CONCURRENCY} concurrent clients");
    let mut best: Vec<(&str, f64, f64)> = Vec::new();
    for (round, mode) in ["open", "tokens", "tokens", "open"].into_iter().enumerate() {
        let (queries, commands) = measure(&nats, mode, calls, round).await;
        match best.iter_mut().find(|(m, _, _)| *m == mode) {
            Some(entry) => {
                entry.1 = entry.1.max(queries);
                entry.2 = entry.2.max(commands);
            }
            None => best.push((mode, queries, commands)),
        }
    }
    let open = best.iter().find(|(m, _, _)| *m == "open").copied().unwrap();
    for (mode, queries, commands) in &best {
        println!(
            "  {mode:<7} ListAreas {queries:>8.0} calls/s ({:.2} of open)   RegisterHousehold {commands:>7.0} calls/s ({:.2} of open)",
            queries / open.1,
            commands / open.2
        );
    }
}

/// Calls per second for a query and for a command, against a fresh registry.
async fn measure(nats: &NatsServer, mode: &str, calls: usize, round: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let issuer = LocalIssuer::generate();
    let mut config = jigi_registry::Config::local(Region::Sikasso, &nats.url(), &sqlite_url(dir.path(), "registry"));
    let token = (mode == "tokens").then(|| {
        config.service.serve.access = AccessSettings::Tokens {
            keys: KeySource::Fixed(issuer.key_set()),
            expect: Expectations::default(),
        };
        let scope = Scope::Regions([Region::Sikasso].into());
        issuer.issue(&Grant::new("bench", &[Role::FieldAgent], scope))
    });
    let shutdown = CancellationToken::new();
    let registry = jigi_registry::start(config, shutdown.clone()).await.unwrap();
    let channel = connect_channel(registry.grpc_addr).await;

    let started = Instant::now();
    spread(calls, |_| {
        let (channel, token) = (channel.clone(), token.clone());
        async move {
            let request = signed(ListAreasRequest::default(), token.as_deref());
            client(channel).list_areas(request).await.expect("ListAreas answers");
        }
    })
    .await;
    let queries = calls as f64 / started.elapsed().as_secs_f64();

    let households = HouseholdGenerator::new(
        &Geography::built_in(),
        Region::Sikasso,
        &[],
        chrono::Utc::now().date_naive(),
        round as u64,
    );
    let started = Instant::now();
    spread(calls, |index| {
        let (channel, token) = (channel.clone(), token.clone());
        let request = RegisterHouseholdRequest {
            request_id: format!("bench-{round}-{index}"),
            household: Some(households.household(index as u64)),
        };
        async move {
            let request = signed(request, token.as_deref());
            client(channel).register_household(request).await.expect("registers");
        }
    })
    .await;
    let commands = calls as f64 / started.elapsed().as_secs_f64();
    shutdown.cancel();
    registry.stopped().await;
    (queries, commands)
}

fn client(channel: Channel) -> RegistryServiceClient<Channel> {
    RegistryServiceClient::new(channel)
}

fn signed<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    jigi_e2e::raw_grpc::bearer(tonic::Request::new(message), token)
}

/// Runs `call(0..calls)` with `CONCURRENCY` calls in flight.
async fn spread<F, Fut>(calls: usize, call: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut running = tokio::task::JoinSet::new();
    for index in 0..calls {
        if running.len() >= CONCURRENCY {
            running.join_next().await.unwrap().unwrap();
        }
        running.spawn(call(index));
    }
    while let Some(done) = running.join_next().await {
        done.unwrap();
    }
}
