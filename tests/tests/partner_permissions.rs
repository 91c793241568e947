//! Partners on the hub of `deploy/nats/accounts.conf`, against real servers:
//! each partner fetches from and acks only its own durable consumer (made
//! by an operator with `jigi_bus::partners`), sees only its filter, and is
//! refused everything else: other services' subjects, other consumers,
//! other inboxes, the JetStream API, publishing anything. The JSON mirror
//! runs with the monitoring's own credentials.

use std::collections::BTreeSet;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::PullConsumer};
use futures::StreamExt;
use jigi_bus::{Bus, OutgoingEvent, streams, subject};
use jigi_common::Region;
use jigi_e2e::{Hub, Leaf, deploy_dir, domain_sources, random_passwords};
use jigi_proto::common::Money;
use jigi_proto::events::{BeneficiaryGroup, HouseholdRegistered, PaymentMade, RationDistributed};
use jigi_subscribers::json;
use jigi_subscribers::mirror::{JsonMirror, MirrorSettings};
use jigi_subscribers::partners::{self, PartnerError, PartnerSubscription, Since};
use jigi_testkit::{TempDir, eventually, stream_len};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(30);

/// A plain client whose server errors (permission violations) are collected.
struct Watched {
    client: async_nats::Client,
    errors: mpsc::UnboundedReceiver<String>,
}

impl Watched {
    async fn connect(hub: &Hub, user: &str) -> Watched {
        let (sender, errors) = mpsc::unbounded_channel();
        let client = async_nats::ConnectOptions::with_user_and_password(user.into(), hub.passwords.of(user).into())
            .custom_inbox_prefix(partners::inbox_prefix(user))
            .event_callback(move |event| {
                let sender = sender.clone();
                async move {
                    if let async_nats::Event::ServerError(err) = event {
                        let _ = sender.send(err.to_string());
                    }
                }
            })
            .connect(format!("127.0.0.1:{}", hub.server.port()))
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

    async fn refused_subscription(&mut self, subject: &str) {
        let _subscription = self.client.subscribe(subject.to_owned()).await.unwrap();
        let refusal = self.next_error().await;
        assert!(
            refusal.contains(&format!("Permissions Violation for Subscription to \"{subject}\"")),
            "subscribing to {subject}: {refusal}"
        );
    }

    async fn refused_publish(&mut self, subject: &str) {
        self.client
            .publish_with_reply(subject.to_owned(), partners::inbox_prefix("x"), "{}".into())
            .await
            .unwrap();
        let refusal = self.next_error().await;
        assert!(
            refusal.contains(&format!("Permissions Violation for Publish to \"{subject}\"")),
            "publishing to {subject}: {refusal}"
        );
    }
}

struct Country {
    hub: Hub,
    national: Bus,
    shutdown: CancellationToken,
    _sikasso: Leaf,
    _dir: TempDir,
}

impl Drop for Country {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn dhis2() -> PartnerSubscription {
    PartnerSubscription {
        name: "partner_dhis2".into(),
        stream: subject::NATIONAL_STREAM.into(),
        filter: "jigi.*.nutrition.>".into(),
        since: Since::Start,
    }
}

fn donor() -> PartnerSubscription {
    PartnerSubscription::everything("partner_donor", json::STREAM)
}

/// The hub and Sikasso's leaf as deployed; Sikasso's stream holds a
/// registration, a payment and two rations; the national stream sources it
/// and the JSON mirror (as user monitoring) copies it; an operator made
/// both partners' consumers.
async fn country() -> Country {
    jigi_testkit::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let passwords = random_passwords();
    let hub = Hub::start(&dir.path().join("hub"), &passwords).await;
    let sikasso = Leaf::start(&dir.path().join("sikasso"), Region::Sikasso, hub.leaf_port, &passwords).await;
    let office = sikasso.connect().await;
    streams::ensure_region_stream(&office.jetstream, Region::Sikasso)
        .await
        .unwrap();
    let ration = |n: i64| RationDistributed {
        distribution_id: format!("d-{n}"),
        household_id: "h-1".into(),
        group: BeneficiaryGroup::Child as i32,
        grams: 3_000,
        ..Default::default()
    };
    let events = [
        OutgoingEvent::new(
            Region::Sikasso,
            "h-1",
            &HouseholdRegistered {
                household_id: "h-1".into(),
                ..Default::default()
            },
        ),
        OutgoingEvent::new(
            Region::Sikasso,
            "h-1",
            &PaymentMade {
                household_id: "h-1".into(),
                amount: Some(Money { fcfa: 30_000 }),
                ..Default::default()
            },
        ),
        OutgoingEvent::new(Region::Sikasso, "d-1", &ration(1)),
        OutgoingEvent::new(Region::Sikasso, "d-2", &ration(2)),
    ];
    for event in &events {
        office
            .jetstream
            .publish_with_headers(event.subject.clone(), event.headers(), event.payload.clone().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    // The monitoring's credentials set up the national stream and run the mirror.
    let monitoring = hub.connect_as("monitoring").await;
    let national_config = streams::national_stream_config(&domain_sources(&[Region::Sikasso]));
    streams::ensure(&monitoring.jetstream, national_config.clone())
        .await
        .unwrap();
    let shutdown = CancellationToken::new();
    let mirror = JsonMirror::new(monitoring.jetstream.clone(), MirrorSettings::new(national_config));
    tokio::spawn(mirror.run(shutdown.clone()));
    let national = hub.connect_as("national").await;
    let js = national.jetstream.clone();
    eventually(WAIT, "four events in JIGI_NATIONAL and JIGI_JSON", || {
        let js = js.clone();
        async move {
            (stream_len(&js, subject::NATIONAL_STREAM).await == 4 && stream_len(&js, json::STREAM).await == 4)
                .then_some(())
        }
    })
    .await;

    // The operator (user national) makes the partners' consumers.
    for subscription in [dhis2(), donor()] {
        let (outcome, _) = partners::ensure_partner_consumer(&national.jetstream, &subscription)
            .await
            .unwrap();
        assert_eq!(outcome, partners::Outcome::Created);
    }
    Country {
        hub,
        national,
        shutdown,
        _sikasso: sikasso,
        _dir: dir,
    }
}

/// A partner's JetStream context, on its own inbox prefix.
async fn partner_jetstream(hub: &Hub, user: &str) -> jetstream::Context {
    let client = async_nats::ConnectOptions::with_user_and_password(user.into(), hub.passwords.of(user).into())
        .custom_inbox_prefix(partners::inbox_prefix(user))
        .connect(format!("127.0.0.1:{}", hub.server.port()))
        .await
        .unwrap();
    jetstream::new(client)
}

/// Fetches everything the partner's consumer has, acking each message;
/// returns the subjects.
async fn fetch_all(js: &jetstream::Context, stream: &str, consumer: &str) -> Vec<String> {
    let consumer: PullConsumer = js
        .get_consumer_from_stream(consumer, stream)
        .await
        .expect("a partner reads its own consumer's info");
    let mut messages = consumer
        .fetch()
        .max_messages(100)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .expect("a partner fetches from its own consumer");
    let mut subjects = Vec::new();
    while let Some(message) = messages.next().await {
        let message = message.expect("a message");
        message.double_ack().await.expect("the partner's ack is confirmed");
        subjects.push(message.subject.to_string());
    }
    subjects
}

#[tokio::test]
async fn a_partner_fetches_and_acks_its_own_consumer_and_sees_only_its_filter() {
    let country = country().await;

    let dhis2_js = partner_jetstream(&country.hub, "partner_dhis2").await;
    let subjects = fetch_all(&dhis2_js, subject::NATIONAL_STREAM, "partner_dhis2").await;
    assert_eq!(
        subjects,
        vec![
            "jigi.sikasso.nutrition.ration.distributed".to_owned(),
            "jigi.sikasso.nutrition.ration.distributed".to_owned()
        ],
        "only the nutrition events"
    );

    let donor_js = partner_jetstream(&country.hub, "partner_donor").await;
    let subjects: BTreeSet<String> = fetch_all(&donor_js, json::STREAM, "partner_donor")
        .await
        .into_iter()
        .collect();
    assert_eq!(
        subjects,
        [
            "jigijson.sikasso.registry.household.registered",
            "jigijson.sikasso.payments.payment.made",
            "jigijson.sikasso.nutrition.ration.distributed",
        ]
        .map(str::to_owned)
        .into(),
    );

    // The server recorded the acks: nothing pending, nothing unacked.
    for (stream, name, acked) in [
        (subject::NATIONAL_STREAM, "partner_dhis2", 2),
        (json::STREAM, "partner_donor", 4),
    ] {
        let info = partners::partner_consumer(&country.national.jetstream, stream, name)
            .await
            .unwrap()
            .expect("the consumer exists");
        assert_eq!((info.num_pending, info.num_ack_pending), (0, 0), "{name}");
        assert_eq!(info.delivered.consumer_sequence, acked, "{name}");
        assert_eq!(info.ack_floor.consumer_sequence, acked, "{name}");
    }

    // Making it again changes nothing; another filter under the same name is refused.
    let (outcome, info) = partners::ensure_partner_consumer(&country.national.jetstream, &dhis2())
        .await
        .unwrap();
    assert_eq!(outcome, partners::Outcome::Unchanged);
    assert_eq!(info.ack_floor.consumer_sequence, 2, "it keeps its position");
    let mut wider = dhis2();
    wider.filter = "jigi.>".into();
    assert!(matches!(
        partners::ensure_partner_consumer(&country.national.jetstream, &wider).await,
        Err(PartnerError::Conflict { .. })
    ));
}

#[tokio::test]
async fn a_partner_is_refused_everything_outside_its_consumer_and_filter() {
    let country = country().await;
    let mut dhis2 = Watched::connect(&country.hub, "partner_dhis2").await;

    // Another service's subjects, the JSON subjects, other users' inboxes.
    dhis2.refused_subscription("jigi.*.registry.>").await;
    dhis2.refused_subscription("jigi.sikasso.payments.payment.made").await;
    dhis2.refused_subscription("jigi.>").await;
    dhis2.refused_subscription("jigijson.>").await;
    dhis2.refused_subscription("_INBOX.>").await;
    dhis2.refused_subscription("_INBOX_partner_donor.>").await;
    dhis2.refused_subscription("$JS.ACK.>").await;
    // Fetching from another consumer: another partner's, the JSON mirror's.
    dhis2
        .refused_publish("$JS.API.CONSUMER.MSG.NEXT.JIGI_JSON.partner_donor")
        .await;
    dhis2
        .refused_publish("$JS.API.CONSUMER.MSG.NEXT.JIGI_NATIONAL.jigi-json-mirror")
        .await;
    dhis2
        .refused_publish("$JS.API.CONSUMER.INFO.JIGI_JSON.partner_donor")
        .await;
    dhis2.refused_publish("$JS.ACK.JIGI_JSON.partner_donor.1.1.1.1.0").await;
    // Widening its own filter, or making itself a consumer.
    dhis2.refused_publish("$JS.API.CONSUMER.CREATE.JIGI_NATIONAL").await;
    dhis2
        .refused_publish("$JS.API.CONSUMER.CREATE.JIGI_NATIONAL.partner_dhis2.jigi.>")
        .await;
    dhis2
        .refused_publish("$JS.API.CONSUMER.DURABLE.CREATE.JIGI_NATIONAL.partner_dhis2")
        .await;
    dhis2
        .refused_publish("$JS.API.CONSUMER.DELETE.JIGI_NATIONAL.partner_dhis2")
        .await;
    // Reading the stream directly, or publishing anything.
    dhis2.refused_publish("$JS.API.STREAM.INFO.JIGI_NATIONAL").await;
    dhis2.refused_publish("$JS.API.STREAM.MSG.GET.JIGI_NATIONAL").await;
    dhis2.refused_publish("jigi.sikasso.nutrition.ration.distributed").await;
    dhis2
        .refused_publish("jigijson.sikasso.nutrition.ration.distributed")
        .await;

    let mut donor = Watched::connect(&country.hub, "partner_donor").await;
    donor.refused_subscription("jigi.>").await;
    donor.refused_subscription("_INBOX_partner_dhis2.>").await;
    donor
        .refused_publish("$JS.API.CONSUMER.MSG.NEXT.JIGI_NATIONAL.partner_dhis2")
        .await;
    donor.refused_publish("jigijson.sikasso.payments.payment.made").await;
    donor.refused_publish("$JS.API.STREAM.PURGE.JIGI_JSON").await;

    // Its own filter and inbox are fine: no error comes before the marker's.
    let _mine = dhis2.client.subscribe("jigi.*.nutrition.>").await.unwrap();
    let _inbox = dhis2.client.subscribe("_INBOX_partner_dhis2.test").await.unwrap();
    dhis2.refused_subscription("jigi.marker").await;

    // And nothing of the above reached the consumers.
    let info = partners::partner_consumer(&country.national.jetstream, json::STREAM, "partner_donor")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((info.num_pending, info.delivered.consumer_sequence), (4, 0));
    let info = partners::partner_consumer(&country.national.jetstream, subject::NATIONAL_STREAM, "partner_dhis2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.config.filter_subject, "jigi.*.nutrition.>");
    assert_eq!((info.num_pending, info.delivered.consumer_sequence), (2, 0));
}

/// `PARTNERS` of `deploy/nats/gen-accounts`: (user, stream, filter).
fn deployed_partners() -> Vec<(String, String, String)> {
    let script = std::fs::read_to_string(deploy_dir().join("nats/gen-accounts")).unwrap();
    let start = script.find("PARTNERS=(").expect("gen-accounts lists PARTNERS");
    script[start..]
        .lines()
        .skip(1)
        .take_while(|line| line.trim() != ")")
        .map(|line| {
            let mut fields = line.trim().trim_matches('"').split_whitespace();
            let mut next = || fields.next().expect("user stream filter").to_owned();
            (next(), next(), next())
        })
        .collect()
}

#[test]
fn accounts_conf_grants_each_partner_exactly_what_its_consumer_needs() {
    let accounts = std::fs::read_to_string(deploy_dir().join("nats/accounts.conf")).unwrap();
    let partners_listed = deployed_partners();
    let names: Vec<&str> = partners_listed.iter().map(|(user, _, _)| user.as_str()).collect();
    assert_eq!(names, ["partner_dhis2", "partner_donor"]);
    for (user, stream, filter) in &partners_listed {
        let subscription = PartnerSubscription {
            name: user.clone(),
            stream: stream.clone(),
            filter: filter.clone(),
            since: Since::Start,
        };
        subscription.validate().unwrap();
        // The user's block: from its `user:` line to the next user's.
        let start = accounts
            .find(&format!("user: {user},"))
            .unwrap_or_else(|| panic!("{user} in accounts.conf"));
        let end = accounts[start + 1..]
            .find("user: ")
            .map_or(accounts.len(), |at| start + 1 + at);
        let granted: BTreeSet<&str> = accounts[start..end].split('"').skip(1).step_by(2).collect();
        let (publish, subscribe) = partners::permissions(&subscription);
        let needed: BTreeSet<&str> = publish.iter().chain(&subscribe).map(String::as_str).collect();
        assert_eq!(
            granted, needed,
            "{user}: exactly what jigi_subscribers::partners::permissions says"
        );
    }
}
