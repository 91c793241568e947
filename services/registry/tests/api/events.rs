//! Every change publishes exactly one CloudEvent, which any NATS subscriber
//! can read, and which carries no personal data.

use futures::StreamExt;
use jigi_bus::ReceivedEvent;
use jigi_proto::common::Component;
use jigi_proto::events as ev;
use jigi_proto::registry::*;

use crate::helpers::{household, spawn_app, today};

#[tokio::test]
async fn each_change_publishes_exactly_one_event_a_plain_subscriber_receives() {
    let mut app = spawn_app().await;
    // Another system, subscribed with plain core NATS before anything happens.
    let mut subscriber = app.bus.client.subscribe("jigi.segou.registry.>").await.unwrap();
    app.bus.client.flush().await.unwrap();

    let registered = app.register(household(1)).await;
    let id = registered.household_id.clone();
    app.client
        .update_household(UpdateHouseholdRequest {
            household_id: id.clone(),
            traits: Some(HouseholdTraits {
                cultivated_land_ares: 300,
                ..registered.traits.unwrap()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let added = app
        .client
        .add_member(AddMemberRequest {
            household_id: id.clone(),
            member: Some(MemberDraft {
                given_name: "Kadiatou".into(),
                family_name: "Diarra".into(),
                sex: jigi_proto::common::Sex::Female as i32,
                birth_date: "1998-07-09".into(),
                relation: Relation::Spouse as i32,
                id_card_number: "ML9876543210".into(),
                phone: "+22365000000".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    app.client
        .update_member(UpdateMemberRequest {
            household_id: id.clone(),
            member_id: added.member_id.clone(),
            lactating: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    app.client
        .enrol_household(EnrolHouseholdRequest {
            household_id: id.clone(),
            component: Component::Tm as i32,
            enrolled_on: today(),
            committee_override: String::new(),
        })
        .await
        .unwrap();
    app.client
        .exit_household(ExitHouseholdRequest {
            household_id: id.clone(),
            component: Component::Tm as i32,
            exited_on: today(),
            reason: ExitReason::Moved as i32,
            note: String::new(),
        })
        .await
        .unwrap();

    let expected = [
        (
            "jigi.segou.registry.household.registered",
            "jigi.registry.household.registered.v1",
        ),
        (
            "jigi.segou.registry.household.updated",
            "jigi.registry.household.updated.v1",
        ),
        ("jigi.segou.registry.member.added", "jigi.registry.member.added.v1"),
        ("jigi.segou.registry.member.updated", "jigi.registry.member.updated.v1"),
        (
            "jigi.segou.registry.household.enrolled",
            "jigi.registry.household.enrolled.v1",
        ),
        (
            "jigi.segou.registry.household.exited",
            "jigi.registry.household.exited.v1",
        ),
    ];
    let events = app.events(expected.len() as u64).await;
    for (event, (subject, ce_type)) in events.iter().zip(expected) {
        assert_eq!(event.subject, subject);
        assert_eq!(event.ce_type, ce_type);
        assert_eq!(event.source, "/jigi/segou/registry");
        assert_eq!(event.about, id, "ce-subject is the household");
        assert!(
            event.trace.trace_id().is_some(),
            "{subject} carries a valid traceparent"
        );
    }
    let decoded: ev::HouseholdRegistered = events[0].decode().unwrap();
    assert_eq!(decoded.household_id, id);
    assert_eq!(decoded.members.len(), 4);
    assert!(decoded.pmt.unwrap().eligible);
    let enrolled: ev::HouseholdEnrolled = events[4].decode().unwrap();
    assert_eq!(enrolled.component, Component::Tm as i32);
    assert_eq!(enrolled.location.unwrap().commune, "segou.baroueli.sanando");
    let member: ev::MemberUpdated = events[3].decode().unwrap();
    assert!(member.member.unwrap().lactating);

    // The plain subscriber got the same six messages with the envelope in headers.
    for (position, (subject, _)) in expected.iter().enumerate() {
        let message = tokio::time::timeout(crate::helpers::WAIT, subscriber.next())
            .await
            .expect("the subscriber receives every event")
            .unwrap();
        assert_eq!(message.subject.as_str(), *subject);
        let headers = message.headers.as_ref().expect("binary-mode CloudEvent headers");
        for name in [
            "ce-specversion",
            "ce-id",
            "ce-source",
            "ce-type",
            "ce-time",
            "ce-subject",
            "content-type",
            "traceparent",
        ] {
            assert!(headers.get(name).is_some(), "{subject} lacks header {name}");
        }
        assert_eq!(headers.get("ce-specversion").unwrap().as_str(), "1.0");
        assert_eq!(
            headers.get("Nats-Msg-Id").unwrap().as_str(),
            headers.get("ce-id").unwrap().as_str()
        );
        let received =
            ReceivedEvent::parse(message.subject.as_str(), Some(headers), message.payload.clone(), None).unwrap();
        assert_eq!(received.id, events[position].id);

        // No names, ID-card numbers or phone numbers in any payload.
        let payload = String::from_utf8_lossy(&message.payload);
        for personal in [
            "Awa1",
            "Traoré",
            "Kadiatou",
            "Diarra",
            "ML0000000001",
            "ML9876543210",
            "+22376123456",
            "+22365000000",
        ] {
            assert!(!payload.contains(personal), "{subject} leaks {personal}");
        }
    }
}

#[tokio::test]
async fn refused_commands_publish_nothing() {
    let mut app = spawn_app().await;
    let registered = app.register(household(1)).await;
    let _ = app
        .client
        .enrol_household(EnrolHouseholdRequest {
            household_id: registered.household_id.clone(),
            component: Component::Agr as i32,
            enrolled_on: "2100-01-01".into(),
            committee_override: String::new(),
        })
        .await
        .unwrap_err();
    let _ = app
        .client
        .register_household(RegisterHouseholdRequest {
            request_id: crate::helpers::request_id(),
            household: Some(household(1)),
        })
        .await
        .unwrap_err();
    assert_eq!(app.events(1).await.len(), 1, "only the registration");
}
