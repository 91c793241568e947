//! TLS on the NATS links, against real nats-server processes with real
//! certificates (a throw-away CA made for each test):
//!
//! - a service's connection (`BusConfig::from_settings` + `Bus::connect`)
//!   trusts the CA it is given and publishes and consumes over TLS;
//! - without that CA, with another CA, or with a CA file that is missing, it
//!   fails at once with an error that says so (retrying in the background
//!   would never succeed, and would look like an unreachable server);
//! - a server requiring TLS refuses a plaintext client;
//! - a leaf node run from `deploy/nats/leaf-tls.conf` as deployed links to a
//!   hub that requires TLS on its leaf-node port, and carries a registry's
//!   events from the regional stream into the national stream.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream;
use jigi_bus::{Bus, BusConfig, streams, subject};
use jigi_common::{Geography, Region};
use jigi_e2e::{Hub, Leaf, ServerTls, domain_sources, event_ids, random_passwords};
use jigi_localnats::{Launch, NatsProcess, free_port};
use jigi_proto::registry::RegisterHouseholdRequest;
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_registry::sample::HouseholdGenerator;
use jigi_settings::Settings;
use jigi_testkit::{TempDir, eventually, sqlite_url, stream_len};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);

/// A CA of its own, named `name`, with a server certificate it signed.
fn make_pki(dir: &Path, name: &str) -> ServerTls {
    ServerTls::generate(dir, name)
}

/// A standalone JetStream server whose client port requires TLS.
async fn tls_server(dir: &Path, tls: &ServerTls) -> NatsProcess {
    let (cert, key) = (tls.cert.clone(), tls.key.clone());
    NatsProcess::start_with_tls(
        &dir.join("nats"),
        Launch::on(free_port()),
        &tls.ca,
        move |port, store| {
            format!(
                "listen: 127.0.0.1:{port}\nserver_name: tls_{port}\n\
             tls {{ cert_file: {cert:?}, key_file: {key:?} }}\n\
             jetstream {{ store_dir: {store:?} }}\n"
            )
        },
    )
    .await
    .unwrap_or_else(|err| panic!("{err}"))
}

/// A service's NATS settings as a deployment gives them (a configuration
/// file here: the same keys as the `JIGI_NATS_*` variables, and the
/// environment cannot be changed safely in a multi-threaded test).
fn settings(dir: &Path, lines: &[String]) -> Settings {
    let path = dir.join(format!("service-{}.toml", free_port()));
    std::fs::write(&path, lines.join("\n")).unwrap();
    Settings::from_file(path).unwrap()
}

/// `Bus::connect`, bounded: a TLS refusal must come back at once, not
/// after retries in the background.
async fn connect_within_deadline(config: &BusConfig) -> Result<Bus, async_nats::ConnectError> {
    tokio::time::timeout(Duration::from_secs(15), Bus::connect(config))
        .await
        .expect("Bus::connect answers instead of retrying forever")
}

#[tokio::test]
async fn a_service_with_the_ca_publishes_and_consumes_over_tls() {
    jigi_testkit::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let tls = make_pki(dir.path(), "jigi");
    let server = tls_server(dir.path(), &tls).await;

    let settings = settings(
        dir.path(),
        &[
            format!("nats_url = {:?}", server.url()),
            format!("nats_tls_ca = {:?}", tls.ca.display().to_string()),
        ],
    );
    let config = BusConfig::from_settings(&settings, "jigi-registry-sikasso").expect("settings read");
    assert_eq!(config.tls_ca_file.as_deref(), Some(tls.ca.as_path()));
    let bus = connect_within_deadline(&config)
        .await
        .expect("connects over TLS with the CA");
    bus.client.flush().await.expect("the connection is up");
    assert!(
        bus.client.server_info().tls_required,
        "the server this connection reached requires TLS, so the connection is TLS"
    );

    // JetStream over the TLS connection: a stream, an acknowledged
    // publish, and a consumer reading it back.
    bus.jetstream
        .create_stream(jetstream::stream::Config {
            name: "TLS_CHECK".into(),
            subjects: vec!["tls.check.>".into()],
            ..Default::default()
        })
        .await
        .expect("stream created over TLS");
    bus.jetstream
        .publish("tls.check.one", "hello over TLS".into())
        .await
        .expect("publish sent")
        .await
        .expect("JetStream acknowledged the publish");
    let messages = jigi_testkit::read_stream(&bus.jetstream, "TLS_CHECK").await;
    assert_eq!(messages.len(), 1);
    assert_eq!(&messages[0].payload[..], b"hello over TLS");
}

#[tokio::test]
async fn without_the_right_ca_the_connection_fails_at_once_and_says_why() {
    jigi_testkit::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let tls = make_pki(dir.path(), "jigi");
    let other = make_pki(dir.path(), "other");
    let server = tls_server(dir.path(), &tls).await;

    // No CA: the system's roots do not know Jigi's CA.
    let config = BusConfig::new(server.url(), "no-ca");
    let err = connect_within_deadline(&config)
        .await
        .expect_err("refused without the CA");
    let message = err.to_string();
    assert_eq!(err.kind(), async_nats::ConnectErrorKind::Tls, "{message}");
    assert!(
        message.contains("UnknownIssuer") && message.contains("give Jigi's CA (JIGI_NATS_TLS_CA)"),
        "the error names the untrusted certificate and the setting to fix: {message}"
    );

    // Another CA: the server's certificate is not one it signed.
    let mut config = BusConfig::new(server.url(), "wrong-ca");
    config.tls_ca_file = Some(other.ca.clone());
    let err = connect_within_deadline(&config)
        .await
        .expect_err("refused with another CA");
    let message = err.to_string();
    assert_eq!(err.kind(), async_nats::ConnectErrorKind::Tls, "{message}");
    assert!(
        message.contains("UnknownIssuer") && message.contains(&other.ca.display().to_string()),
        "the error names the untrusted certificate and the CA file used: {message}"
    );

    // A CA file that is not there.
    let missing: PathBuf = dir.path().join("no-such-ca.crt");
    let mut config = BusConfig::new(server.url(), "missing-ca");
    config.tls_ca_file = Some(missing.clone());
    let err = connect_within_deadline(&config)
        .await
        .expect_err("refused with a missing CA file");
    let message = err.to_string();
    assert!(
        message.contains(&missing.display().to_string()) && message.contains("CA"),
        "the error names the missing CA file: {message}"
    );

    // The CA, but a server without TLS: refused rather than sending the
    // password in clear (TLS is required once a CA is set).
    let plain = NatsProcess::standalone(&dir.path().join("plain")).await.unwrap();
    let mut config = BusConfig::new(plain.url(), "downgrade");
    config.tls_ca_file = Some(tls.ca.clone());
    let err = connect_within_deadline(&config)
        .await
        .expect_err("a server without TLS is refused when a CA is set");
    assert_eq!(err.kind(), async_nats::ConnectErrorKind::Tls, "{err}");
    assert!(err.to_string().contains("did not answer in TLS"), "{err}");

    // A certificate without its key is refused when the settings are read.
    let settings = settings(
        dir.path(),
        &[
            format!("nats_url = {:?}", server.url()),
            format!("nats_tls_cert = {:?}", tls.cert.display().to_string()),
        ],
    );
    let err = BusConfig::from_settings(&settings, "half").expect_err("a certificate needs its key");
    assert!(err.to_string().contains("JIGI_NATS_TLS_KEY"), "{err}");
}

#[tokio::test]
async fn a_plaintext_client_is_refused_when_tls_is_required() {
    jigi_testkit::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let tls = make_pki(dir.path(), "jigi");
    let server = tls_server(dir.path(), &tls).await;

    // A client speaking the NATS protocol in clear, as an old or
    // misconfigured one would.
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", server.port()))
        .await
        .expect("the port accepts TCP");
    let mut info = vec![0u8; 4096];
    let read = socket.read(&mut info).await.unwrap();
    let info = String::from_utf8_lossy(&info[..read]).into_owned();
    assert!(
        info.starts_with("INFO ") && info.contains("\"tls_required\":true"),
        "the server announces that TLS is required: {info}"
    );
    socket
        .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\nPUB tls.check.x 5\r\nhello\r\nPING\r\n")
        .await
        .unwrap();
    // Everything until the server closes the connection: never a PONG.
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), socket.read_to_end(&mut answer))
        .await
        .expect("the server closes a plaintext connection")
        .ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        !answer.contains("PONG"),
        "a plaintext client got an answer from a TLS-only server: {answer}"
    );

    // async-nats told to use TLS while its server has none is refused too
    // (the other half of "required").
    let plain = NatsProcess::standalone(&dir.path().join("plain")).await.unwrap();
    let mut config = BusConfig::new(plain.url(), "requires-tls");
    config.tls_required = true;
    let err = connect_within_deadline(&config)
        .await
        .expect_err("TLS required but not offered");
    assert_eq!(err.kind(), async_nats::ConnectErrorKind::Tls, "{err}");
}

/// The regional leaf node from `deploy/nats/leaf-tls.conf` as deployed,
/// linked over TLS to a hub that requires TLS on its client and leaf-node
/// ports; a registry on the leaf (configured like a pod: CA from its
/// settings) registers households; the national stream on the hub gets
/// every one of their events.
#[tokio::test]
async fn a_leaf_node_over_tls_carries_a_regions_events_to_the_hub() {
    jigi_testkit::init_tracing();
    let dir: TempDir = tempfile::tempdir().unwrap();
    let passwords = random_passwords();
    // One CA signs both servers, as jigi-nats-ca does in the deployment.
    let tls = make_pki(&dir.path().join("pki"), "jigi");
    let hub = Hub::start_tls(&dir.path().join("hub"), &passwords, &tls).await;
    let region = Region::Sikasso;
    let leaf = Leaf::start_tls(&dir.path().join("sikasso"), region, hub.leaf_port, &passwords, &tls).await;

    // The registry reads its NATS settings like a deployed one.
    let settings = settings(
        dir.path(),
        &[
            format!("nats_url = {:?}", leaf.services_url()),
            format!("nats_domain = {:?}", region.slug()),
            format!("nats_tls_ca = {:?}", tls.ca.display().to_string()),
            "nats_tls_required = true".to_owned(),
        ],
    );
    let mut config = jigi_registry::Config::local(
        region,
        &leaf.services_url(),
        &sqlite_url(dir.path(), "registry-sikasso"),
    );
    config.service.nats = BusConfig::from_settings(&settings, "jigi-registry-sikasso").expect("settings read");
    assert!(config.service.nats.tls_required);
    let access = jigi_testkit::TestAccess::new(dir.path());
    config.service.serve = access.serve_config();
    let shutdown = CancellationToken::new();
    let _cancel = shutdown.clone().drop_guard();
    let running = jigi_registry::start(config, shutdown.clone())
        .await
        .expect("the registry starts on the TLS leaf node");
    let token = access.token("k.keita", &[jigi_auth::Role::FieldAgent], Region::Sikasso);
    let mut registry = RegistryServiceClient::new(jigi_testkit::connect_as(running.grpc_addr, &token).await);

    let monitoring = hub.connect_as("monitoring").await;
    streams::ensure_national_stream(&monitoring.jetstream, &domain_sources(&[region]))
        .await
        .expect("the national stream sources Sikasso over the TLS link");

    let generator = HouseholdGenerator::new(&Geography::built_in(), region, &[], chrono::Utc::now().date_naive(), 3);
    for n in 0..5 {
        registry
            .register_household(RegisterHouseholdRequest {
                request_id: format!("tls-{n}"),
                household: Some(generator.household(n)),
            })
            .await
            .expect("the registry registers");
    }

    let database = running.database.clone();
    eventually(WAIT, "the registry's outbox empties into the leaf's stream", || {
        let database = database.clone();
        async move { (jigi_bus::outbox::pending(&database).await.ok()? == 0).then_some(()) }
    })
    .await;
    let regional = leaf.connect().await;
    let expected = event_ids(&regional.jetstream, &subject::region_stream(region)).await;
    assert_eq!(expected.len(), 5, "one registration event per household");

    let national = &monitoring.jetstream;
    eventually(WAIT, "Sikasso's 5 events in the national stream", || async move {
        (stream_len(national, subject::NATIONAL_STREAM).await >= 5).then_some(())
    })
    .await;
    let mut got = event_ids(national, subject::NATIONAL_STREAM).await;
    let mut expected = expected;
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "the hub holds exactly the region's events, once each");
}
