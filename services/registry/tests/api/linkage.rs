//! Match keys: written with the registration, published on the region's
//! restricted linkage stream and never on its public one, computed with
//! every active linkage key.

use jigi_auth::Role;
use jigi_bus::{ReceivedEvent, linkage, subject};
use jigi_common::Region;
use jigi_proto::linkage::{HouseholdKeyed, MatchKind};
use jigi_proto::registry::RegisterHouseholdRequest;
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_registry::domain::linkage::LinkageKey;
use jigi_testkit::{NatsServer, TestAccess, connect_as, eventually, read_stream, stream_len};
use prost::Message as _;
use tokio_util::sync::CancellationToken;

use crate::helpers::{WAIT, household, request_id};

const K1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const K2: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1eff";

#[tokio::test]
async fn match_keys_go_to_the_restricted_stream_with_every_active_key_and_never_to_the_public_one() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let access = TestAccess::new(dir.path());
    let shutdown = CancellationToken::new();
    let mut config = jigi_registry::Config::local(
        Region::Segou,
        &nats.url(),
        &jigi_testkit::sqlite_url(dir.path(), "registry"),
    );
    config.service.serve = access.serve_config();
    config.linkage_keys = vec![LinkageKey::new("k1", K1).unwrap(), LinkageKey::new("k2", K2).unwrap()];
    let running = jigi_registry::start(config, shutdown.clone()).await.unwrap();
    let token = access.token("a.sangare", &[Role::FieldAgent], Region::Segou);
    let mut client = RegistryServiceClient::new(connect_as(running.grpc_addr, &token).await);
    let registered = client
        .register_household(RegisterHouseholdRequest {
            request_id: request_id(),
            household: Some(household(7)),
        })
        .await
        .unwrap()
        .into_inner()
        .household
        .unwrap();

    let bus = jigi_bus::Bus::connect(&jigi_bus::BusConfig::new(nats.url(), "test"))
        .await
        .unwrap();
    let stream = linkage::region_link_stream(Region::Segou);
    eventually(WAIT, "the match keys published", || {
        let (js, stream) = (bus.jetstream.clone(), stream.clone());
        async move { (stream_len(&js, &stream).await == 1).then_some(()) }
    })
    .await;
    let message = &read_stream(&bus.jetstream, &stream).await[0];
    let event = ReceivedEvent::from_jetstream(message).unwrap();
    assert_eq!(event.subject, "jigilink.segou.registry.household.keyed");
    assert_eq!(event.about, registered.household_id);
    let keyed = HouseholdKeyed::decode(event.data.clone()).unwrap();
    assert_eq!(keyed.household_id, registered.household_id);
    assert_eq!(keyed.key_ids, ["k1", "k2"]);
    assert!(keyed.active);
    // The head's ID card and the head's names and birth date, with each
    // key; the children have no card.
    let mut kinds: Vec<(String, i32)> = keyed.keys.iter().map(|k| (k.key_id.clone(), k.kind)).collect();
    kinds.sort();
    let (card, head) = (MatchKind::IdCard as i32, MatchKind::Head as i32);
    assert_eq!(
        kinds,
        [
            ("k1".into(), card),
            ("k1".into(), head),
            ("k2".into(), card),
            ("k2".into(), head)
        ]
    );
    for key in &keyed.keys {
        assert_eq!(key.value.len(), 64);
        assert!(!key.value.contains("ML"), "a key, not a card number");
    }
    // Nothing personal in the restricted message either.
    let bytes = String::from_utf8_lossy(&message.payload).to_string();
    assert!(!bytes.contains("ML0000000007") && !bytes.contains("Traor"), "{bytes}");

    // The region's public stream has the registration only.
    let public = read_stream(&bus.jetstream, &subject::region_stream(Region::Segou)).await;
    assert_eq!(public.len(), 1);
    assert_eq!(public[0].subject.as_str(), "jigi.segou.registry.household.registered");
    shutdown.cancel();
    running.stopped().await;
}
