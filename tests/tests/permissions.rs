//! The permissions of `deploy/nats/accounts.conf`, enforced by real servers:
//! a region publishes only under `jigi.<its region>.>` and reads only what
//! the national stream's sourcing needs; the hub cannot do more in a
//! region's domain than create the source consumer; monitoring, the
//! console and partners read and write nothing else.

use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use jigi_bus::streams;
use jigi_common::Region;
use jigi_e2e::{Hub, Leaf, Passwords, domain_sources, random_passwords};
use jigi_testkit::TempDir;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(30);

/// A plain client whose server errors (permission violations) are collected.
struct Watched {
    client: async_nats::Client,
    errors: mpsc::UnboundedReceiver<String>,
}

impl Watched {
    async fn connect(port: u16, user: &str, password: &str) -> Watched {
        let (sender, errors) = mpsc::unbounded_channel();
        let client = async_nats::ConnectOptions::with_user_and_password(user.into(), password.into())
            .event_callback(move |event| {
                let sender = sender.clone();
                async move {
                    if let async_nats::Event::ServerError(err) = event {
                        let _ = sender.send(err.to_string());
                    }
                }
            })
            .connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|err| panic!("{user} connects: {err}"));
        Watched { client, errors }
    }

    /// The next error the server sent.
    async fn next_error(&mut self) -> String {
        tokio::time::timeout(WAIT, self.errors.recv())
            .await
            .expect("the server refuses in time")
            .expect("connection alive")
    }
}

/// Publishes probes (`<prefix>.p<n>`) until one arrives on `subscriber`:
/// subscription interest has then crossed the leaf-node link.
async fn probe_until_received(publisher: &async_nats::Client, prefix: &str, subscriber: &mut async_nats::Subscriber) {
    let deadline = Instant::now() + WAIT;
    for n in 0.. {
        publisher.publish(format!("{prefix}.p{n}"), "".into()).await.unwrap();
        publisher.flush().await.unwrap();
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(200), subscriber.next()).await {
            return;
        }
        assert!(Instant::now() < deadline, "no probe on {prefix} arrived in {WAIT:?}");
    }
}

struct Setup {
    hub: Hub,
    sikasso: Leaf,
    passwords: Passwords,
    _dir: TempDir,
}

async fn setup() -> Setup {
    jigi_testkit::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let passwords = random_passwords();
    let hub = Hub::start(&dir.path().join("hub"), &passwords).await;
    let sikasso = Leaf::start(&dir.path().join("sikasso"), Region::Sikasso, hub.leaf_port, &passwords).await;
    Setup {
        hub,
        sikasso,
        passwords,
        _dir: dir,
    }
}

#[tokio::test]
async fn a_regions_credentials_cannot_publish_or_read_another_regions_subjects() {
    let setup = setup().await;
    // Sikasso's own credentials, used directly against the hub.
    let mut sikasso = Watched::connect(setup.hub.server.port(), "sikasso", setup.passwords.of("sikasso")).await;

    // Its own subjects: accepted (no error comes before the next one's).
    sikasso
        .client
        .publish("jigi.sikasso.registry.household.registered", "ok".into())
        .await
        .unwrap();
    sikasso
        .client
        .publish("jigi.mopti.registry.household.registered", "forged".into())
        .await
        .unwrap();
    let refusal = sikasso.next_error().await;
    assert!(
        refusal.contains("Permissions Violation for Publish to \"jigi.mopti.registry.household.registered\""),
        "{refusal}"
    );

    // Reading another region, or the national stream's API: refused.
    let _sub = sikasso.client.subscribe("jigi.mopti.>").await.unwrap();
    let refusal = sikasso.next_error().await;
    assert!(
        refusal.contains("Permissions Violation for Subscription to \"jigi.mopti.>\""),
        "{refusal}"
    );
    sikasso
        .client
        .publish("$JS.API.STREAM.DELETE.JIGI_NATIONAL", "".into())
        .await
        .unwrap();
    let refusal = sikasso.next_error().await;
    assert!(refusal.contains("Permissions Violation for Publish"), "{refusal}");
}

#[tokio::test]
async fn a_leaf_forwards_only_its_own_regions_subjects_to_the_hub() {
    let setup = setup().await;
    let national = Watched::connect(setup.hub.server.port(), "national", setup.passwords.of("national")).await;
    let mut everything = national.client.subscribe("jigi.>").await.unwrap();
    national.client.flush().await.unwrap();
    let office = Watched::connect(setup.sikasso.server.port(), "services", setup.passwords.of("services")).await;

    // Wait until the hub's interest has reached the leaf.
    probe_until_received(&office.client, "jigi.sikasso.test.probe", &mut everything).await;
    while everything.next().now_or_never().flatten().is_some() {}

    // A forged event for Mopti, then a marker of Sikasso's, from the same
    // connection: the marker arrives, the forgery never does.
    office
        .client
        .publish("jigi.mopti.registry.household.registered", "forged".into())
        .await
        .unwrap();
    office
        .client
        .publish("jigi.sikasso.test.marker", "marker".into())
        .await
        .unwrap();
    office.client.flush().await.unwrap();
    loop {
        let message = tokio::time::timeout(WAIT, everything.next())
            .await
            .expect("the marker arrives")
            .unwrap();
        assert!(
            !message.subject.starts_with("jigi.mopti."),
            "sikasso's leaf forwarded {}",
            message.subject
        );
        if message.subject.as_str() == "jigi.sikasso.test.marker" {
            break;
        }
    }
}

#[tokio::test]
async fn the_hub_reaches_a_region_only_to_source_its_stream() {
    let setup = setup().await;
    let region_bus = setup.sikasso.connect().await;
    streams::ensure_region_stream(&region_bus.jetstream, Region::Sikasso)
        .await
        .unwrap();
    let national = Watched::connect(setup.hub.server.port(), "national", setup.passwords.of("national")).await;
    let office = Watched::connect(setup.sikasso.server.port(), "services", setup.passwords.of("services")).await;
    let mut flow_control = office.client.subscribe("$JS.FC.JIGI_SIKASSO.>").await.unwrap();
    let mut region_subjects = office.client.subscribe("jigi.>").await.unwrap();
    office.client.flush().await.unwrap();

    // What the sourcing needs reaches the leaf: flow control…
    probe_until_received(&national.client, "$JS.FC.JIGI_SIKASSO.probe", &mut flow_control).await;
    // …while the hub's events for any region never do.
    national
        .client
        .publish("jigi.sikasso.registry.household.registered", "from the hub".into())
        .await
        .unwrap();
    national
        .client
        .publish("jigi.mopti.registry.household.registered", "from the hub".into())
        .await
        .unwrap();
    national
        .client
        .publish("$JS.FC.JIGI_SIKASSO.marker", "".into())
        .await
        .unwrap();
    national.client.flush().await.unwrap();
    loop {
        let message = tokio::time::timeout(WAIT, flow_control.next())
            .await
            .expect("the marker arrives")
            .unwrap();
        if message.subject.as_str() == "$JS.FC.JIGI_SIKASSO.marker" {
            break;
        }
    }
    assert!(
        region_subjects.next().now_or_never().is_none(),
        "the hub sent region subjects to sikasso's leaf"
    );

    // The hub's JetStream API into Sikasso's domain: creating a consumer
    // (what sourcing does) is answered; deleting the stream never arrives.
    let mut replies = national.client.subscribe("$JSC.R.e2e-test.*").await.unwrap();
    national.client.flush().await.unwrap();
    national
        .client
        .publish_with_reply(
            "$JS.sikasso.API.STREAM.DELETE.JIGI_SIKASSO",
            "$JSC.R.e2e-test.delete",
            "".into(),
        )
        .await
        .unwrap();
    national
        .client
        .publish_with_reply(
            "$JS.sikasso.API.CONSUMER.CREATE.JIGI_SIKASSO",
            "$JSC.R.e2e-test.create",
            r#"{"stream_name":"JIGI_SIKASSO","config":{"ack_policy":"none","inactive_threshold":5000000000}}"#.into(),
        )
        .await
        .unwrap();
    national.client.flush().await.unwrap();
    // The delete never reaches the leaf: at most the hub itself answers
    // that nobody can take it (status 503, no responders).
    let reply = loop {
        let reply = tokio::time::timeout(WAIT, replies.next())
            .await
            .expect("the consumer-create reply from sikasso")
            .unwrap();
        if reply.subject.as_str() == "$JSC.R.e2e-test.create" {
            break reply;
        }
        assert_eq!(
            reply.status,
            Some(async_nats::StatusCode::NO_RESPONDERS),
            "the delete reached sikasso: {:?} {}",
            reply.status,
            String::from_utf8_lossy(&reply.payload)
        );
    };
    let body = String::from_utf8_lossy(&reply.payload).to_string();
    assert!(
        body.contains("consumer_create_response") && !body.contains("\"error\""),
        "{body}"
    );
    region_bus
        .jetstream
        .get_stream("JIGI_SIKASSO")
        .await
        .expect("sikasso's stream still exists");
}

#[tokio::test]
async fn monitoring_reads_everything_and_writes_nothing_else() {
    let setup = setup().await;
    let monitoring_bus = setup.hub.connect_as("monitoring").await;
    streams::ensure_national_stream(&monitoring_bus.jetstream, &domain_sources(&Region::ALL))
        .await
        .expect("monitoring sets up the national stream for every region");
    assert_eq!(
        jigi_testkit::stream_len(&monitoring_bus.jetstream, "JIGI_NATIONAL").await,
        0
    );

    let mut monitoring =
        Watched::connect(setup.hub.server.port(), "monitoring", setup.passwords.of("monitoring")).await;
    let _all = monitoring.client.subscribe("jigi.>").await.unwrap();
    monitoring
        .client
        .publish("jigi.sikasso.registry.household.registered", "forged".into())
        .await
        .unwrap();
    let refusal = monitoring.next_error().await;
    assert!(refusal.contains("Permissions Violation for Publish"), "{refusal}");
    monitoring
        .client
        .publish("$JS.API.STREAM.DELETE.JIGI_NATIONAL", "".into())
        .await
        .unwrap();
    let refusal = monitoring.next_error().await;
    assert!(
        refusal.contains("Permissions Violation for Publish to \"$JS.API.STREAM.DELETE.JIGI_NATIONAL\""),
        "{refusal}"
    );

    // Replies travel on _INBOX.> for every user that keeps the default
    // prefix; the national services read only their own.
    for user in ["monitoring", "linkage"] {
        let mut service = Watched::connect(setup.hub.server.port(), user, setup.passwords.of(user)).await;
        let _own = service.client.subscribe(format!("_INBOX_{user}.>")).await.unwrap();
        let _others = service.client.subscribe("_INBOX.>").await.unwrap();
        let refusal = service.next_error().await;
        assert!(
            refusal.contains("Permissions Violation for Subscription to \"_INBOX.>\""),
            "{user}: {refusal}"
        );
    }

    let mut partner = Watched::connect(
        setup.hub.server.port(),
        "partner_dhis2",
        setup.passwords.of("partner_dhis2"),
    )
    .await;
    let _nutrition = partner.client.subscribe("jigi.*.nutrition.>").await.unwrap();
    let _registry = partner.client.subscribe("jigi.*.registry.>").await.unwrap();
    let refusal = partner.next_error().await;
    assert!(
        refusal.contains("Permissions Violation for Subscription to \"jigi.*.registry.>\""),
        "{refusal}"
    );
}

#[tokio::test]
async fn the_console_reads_the_national_stream_and_writes_nothing() {
    use async_nats::jetstream::consumer::{DeliverPolicy, pull};

    let setup = setup().await;
    // The national stream sourcing Sikasso's, and the monitoring's durable
    // consumer on it, as the monitoring sets them up.
    let region_bus = setup.sikasso.connect().await;
    streams::ensure_region_stream(&region_bus.jetstream, Region::Sikasso)
        .await
        .unwrap();
    let monitoring_bus = setup.hub.connect_as("monitoring").await;
    streams::ensure_national_stream(&monitoring_bus.jetstream, &domain_sources(&[Region::Sikasso]))
        .await
        .unwrap();
    monitoring_bus
        .jetstream
        .get_stream("JIGI_NATIONAL")
        .await
        .unwrap()
        .create_consumer(pull::Config {
            durable_name: Some("monitoring".into()),
            ..Default::default()
        })
        .await
        .expect("the monitoring creates its consumer");

    // The console, connected as it is configured (its own inbox prefix),
    // reads the stream's info and consumers and follows it live.
    let config = jigi_console::Config::local(
        &[Region::Sikasso],
        "http://127.0.0.1:9",
        &setup.hub.url_as("console"),
        jigi_server::serving::AccessSettings::Off,
    );
    let console = jigi_bus::Bus::connect(&config.nats).await.unwrap();
    let mut stream = console
        .jetstream
        .get_stream("JIGI_NATIONAL")
        .await
        .expect("the console reads the national stream's info");
    assert_eq!(stream.info().await.unwrap().sources.len(), 1, "Sikasso's source");
    let consumers: Vec<String> = stream
        .consumers()
        .map(|info| info.expect("the console lists the consumers").name)
        .collect()
        .await;
    assert_eq!(consumers, ["monitoring"]);
    let live = stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy: DeliverPolicy::New,
            ..Default::default()
        })
        .await
        .expect("the console creates its live consumer");
    let mut messages = live.messages().await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", "console-probe-1");
    region_bus
        .jetstream
        .publish_with_headers("jigi.sikasso.registry.household.registered", headers, "probe".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let message = tokio::time::timeout(WAIT, messages.next())
        .await
        .expect("the event reaches the console's live consumer")
        .unwrap()
        .unwrap();
    assert_eq!(message.subject.as_str(), "jigi.sikasso.registry.household.registered");

    // Nothing else: no event, no other consumer's messages, no change to
    // the stream or its consumers, no one else's replies.
    let mut watched = Watched::connect(setup.hub.server.port(), "console", setup.passwords.of("console")).await;
    for subject in [
        "jigi.sikasso.registry.household.registered",
        "$JS.API.CONSUMER.MSG.NEXT.JIGI_NATIONAL.monitoring",
        "$JS.API.CONSUMER.DELETE.JIGI_NATIONAL.monitoring",
        "$JS.API.CONSUMER.DURABLE.CREATE.JIGI_NATIONAL.console",
        "$JS.API.STREAM.DELETE.JIGI_NATIONAL",
        "$JS.API.STREAM.PURGE.JIGI_NATIONAL",
        "$JS.API.STREAM.INFO.JIGI_LINKAGE",
        "$JS.ACK.JIGI_NATIONAL.monitoring.1.1.1.1.1",
    ] {
        watched.client.publish(subject, "".into()).await.unwrap();
        let refusal = watched.next_error().await;
        assert!(
            refusal.contains(&format!("Permissions Violation for Publish to \"{subject}\"")),
            "{subject}: {refusal}"
        );
    }
    for subject in ["_INBOX.>", "jigi.>", "jigilink.>"] {
        let _refused = watched.client.subscribe(subject).await.unwrap();
        let refusal = watched.next_error().await;
        assert!(
            refusal.contains(&format!("Permissions Violation for Subscription to \"{subject}\"")),
            "{subject}: {refusal}"
        );
    }
}
