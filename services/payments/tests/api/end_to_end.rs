//! From the registry to reconciliation: households registered and enrolled
//! in the real registry service appear in payments through NATS; a cycle is
//! frozen, approved and paid; its reconciliation adds up; its events carry
//! what monitoring needs and nothing personal.

use std::collections::BTreeMap;

use jigi_auth::Role;
use jigi_proto::common::{Component, Location, Sex};
use jigi_proto::events as ev;
use jigi_proto::payments::*;
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_proto::registry::{
    self as pr, EnrolHouseholdRequest, ExitHouseholdRequest, ExitReason, HouseholdDraft, MemberDraft,
    RegisterHouseholdRequest, Relation, UpdateHouseholdRequest,
};
use jigi_testkit::connect_as;
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

/// A poor household (eligible by the PMT) whose head is unique to `seed`.
fn draft(seed: u32, commune: &str) -> HouseholdDraft {
    let child_born = chrono::Utc::now().date_naive() - chrono::Months::new(30);
    HouseholdDraft {
        location: Some(Location {
            commune: commune.into(),
            ..Default::default()
        }),
        members: vec![
            MemberDraft {
                given_name: format!("Kadiatou{seed}"),
                family_name: "Coulibaly".into(),
                sex: Sex::Female as i32,
                birth_date: "1982-03-04".into(),
                relation: Relation::Head as i32,
                id_card_number: format!("ML{seed:010}"),
                phone: format!("+2237600{seed:04}"),
                ..Default::default()
            },
            MemberDraft {
                given_name: "Issa".into(),
                family_name: "Coulibaly".into(),
                sex: Sex::Male as i32,
                birth_date: child_born.format("%Y-%m-%d").to_string(),
                relation: Relation::Child as i32,
                ..Default::default()
            },
            MemberDraft {
                given_name: "Mariam".into(),
                family_name: "Coulibaly".into(),
                sex: Sex::Female as i32,
                birth_date: "2012-06-01".into(),
                relation: Relation::Child as i32,
                ..Default::default()
            },
        ],
        traits: Some(pr::HouseholdTraits {
            roof: pr::RoofMaterial::Thatch as i32,
            wall: pr::WallMaterial::MudBrick as i32,
            floor: pr::FloorMaterial::Earth as i32,
            assets: Some(pr::Assets {
                radios: 1,
                ..Default::default()
            }),
            livestock: Some(pr::Livestock::default()),
            cultivated_land_ares: 80,
        }),
    }
}

#[tokio::test]
async fn registry_to_reconciliation_with_a_list_frozen_against_later_changes() {
    let mut app = spawn_app().await;
    let registry_shutdown = CancellationToken::new();
    let mut config = jigi_registry::Config::local(
        REGION,
        &app.nats.url(),
        &jigi_testkit::database_url(app.dir.path(), "registry").await,
    );
    config.service.serve = app.access.serve_config();
    let registry = jigi_registry::start(config, registry_shutdown.clone())
        .await
        .expect("registry starts");
    // The region's social registry supervisor registers and enrols.
    let supervisor = app
        .access
        .token("k.diarra", &[Role::FieldAgent, Role::RegionalSupervisor], REGION);
    let mut rsu = RegistryServiceClient::new(connect_as(registry.grpc_addr, &supervisor).await);

    // Six households: four in Sanando, two in Konobougou; five enrolled in TM.
    let mut ids = Vec::new();
    for (seed, commune) in [
        (1, SANANDO),
        (2, SANANDO),
        (3, SANANDO),
        (4, KONOBOUGOU),
        (5, KONOBOUGOU),
        (6, SANANDO),
    ] {
        let household = rsu
            .register_household(RegisterHouseholdRequest {
                request_id: uuid::Uuid::new_v4().to_string(),
                household: Some(draft(seed, commune)),
            })
            .await
            .expect("registered")
            .into_inner()
            .household
            .unwrap();
        ids.push(household.household_id);
    }
    let enrol = |rsu: &mut RegistryServiceClient<_>, id: &str, component: Component| {
        let request = EnrolHouseholdRequest {
            household_id: id.to_owned(),
            component: component as i32,
            enrolled_on: today(),
            committee_override: String::new(),
        };
        let mut rsu = rsu.clone();
        async move { rsu.enrol_household(request).await.expect("enrolled") }
    };
    for id in &ids[..5] {
        enrol(&mut rsu, id, Component::Tm).await;
    }
    enrol(&mut rsu, &ids[0], Component::Pnp).await; // not TM: no effect on payments

    app.wait_eligible(5).await;
    let eligible: BTreeMap<String, String> = app.eligible().await.into_iter().collect();
    let expected: BTreeMap<String, String> = ids[..5]
        .iter()
        .zip([SANANDO, SANANDO, SANANDO, KONOBOUGOU, KONOBOUGOU])
        .map(|(id, commune)| (id.clone(), commune.to_owned()))
        .collect();
    assert_eq!(eligible, expected, "the registry's TM households, in their communes");

    // A cycle frozen on those five.
    let cycle = app.open("2019Q1", FundingSource::WorldBankIda).await.unwrap();
    app.assign_agents(&cycle.cycle_id).await;
    let frozen = app.freeze(&cycle.cycle_id).await.cycle.unwrap();
    assert_eq!(frozen.frozen.unwrap().count, 5);

    // After the freeze, the registry enrols the sixth, exits the second,
    // and moves the third to Konobougou.
    enrol(&mut rsu, &ids[5], Component::Tm).await;
    rsu.exit_household(ExitHouseholdRequest {
        household_id: ids[1].clone(),
        component: Component::Tm as i32,
        exited_on: today(),
        reason: ExitReason::Graduated as i32,
        note: String::new(),
    })
    .await
    .unwrap();
    rsu.update_household(UpdateHouseholdRequest {
        household_id: ids[2].clone(),
        location: Some(Location {
            commune: KONOBOUGOU.into(),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let client = app.client.clone();
    let (sixth, third) = (ids[5].clone(), ids[2].clone());
    jigi_testkit::eventually(WAIT, "the registry's changes in the projection", || {
        let mut client = client.clone();
        let (sixth, third) = (sixth.clone(), third.clone());
        async move {
            let page = client
                .list_eligible_households(ListEligibleHouseholdsRequest {
                    commune: KONOBOUGOU.into(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            let all = client
                .list_eligible_households(ListEligibleHouseholdsRequest::default())
                .await
                .ok()?
                .into_inner();
            let moved = page.households.iter().any(|h| h.household_id == third);
            let added = all.households.iter().any(|h| h.household_id == sixth);
            (moved && added && all.total == 5).then_some(())
        }
    })
    .await;

    // The frozen list is what gets approved and paid.
    let approved = app.approve(&frozen, "approver").await.unwrap();
    let control = approved.control.unwrap();
    assert_eq!((control.count, control.amount.unwrap().fcfa), (5, 150_000));
    // Each agent reports their field day.
    let sanando = app
        .record(
            CASH_AGENT,
            "field-day-1",
            &cycle.cycle_id,
            vec![
                paid(&ids[0], CASH_AGENT, "SAN-0001"),
                paid(&ids[1], CASH_AGENT, "SAN-0002"), // exited after the freeze: still paid
                paid(&ids[2], CASH_AGENT, "SAN-0003"), // moved after the freeze: paid where listed
                paid(&ids[5], CASH_AGENT, "SAN-0006"), // enrolled after the freeze
            ],
        )
        .await
        .unwrap();
    let konobougou = app
        .record(
            MOBILE_AGENT,
            "field-day-1-konobougou",
            &cycle.cycle_id,
            vec![
                failed(&ids[3], MOBILE_AGENT, FailureReason::AccountInvalid),
                not_collected(&ids[4], MOBILE_AGENT),
            ],
        )
        .await
        .unwrap();
    let refusals: Vec<i32> = sanando.outcomes.iter().map(|o| o.refusal).collect();
    assert_eq!(refusals, [0, 0, 0, ResultRefusal::NotEntitled as i32]);
    let refusals: Vec<i32> = konobougou.outcomes.iter().map(|o| o.refusal).collect();
    assert_eq!(refusals, [0, 0]);

    let r = app.reconciliation(&cycle.cycle_id).await;
    let total = r.total.clone().unwrap();
    let figures = |t: Option<Totals>| {
        let t = t.unwrap();
        (t.count, t.amount.unwrap().fcfa)
    };
    assert_eq!(figures(total.expected), (5, 150_000));
    assert_eq!(figures(total.paid), (3, 90_000));
    assert_eq!(figures(total.failed), (1, 30_000));
    assert_eq!(figures(total.not_collected), (1, 30_000));
    assert_eq!(figures(total.outstanding), (0, 0));
    let by_agent: Vec<(String, (i64, i64))> = r
        .by_agent
        .iter()
        .map(|l| (l.agent_code.clone(), figures(l.paid)))
        .collect();
    assert_eq!(
        by_agent,
        [(CASH_AGENT.to_owned(), (3, 90_000)), (MOBILE_AGENT.to_owned(), (0, 0))]
    );
    let communes: Vec<String> = r
        .by_commune
        .iter()
        .map(|l| l.location.clone().unwrap().commune)
        .collect();
    assert_eq!(communes, [KONOBOUGOU, SANANDO]);

    let closed = app
        .person("coordinator", &[Role::PaymentApprover])
        .await
        .close_payment_cycle(ClosePaymentCycleRequest {
            cycle_id: cycle.cycle_id.clone(),
            closed_by: "coordinator".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.cycle.unwrap().status, CycleStatus::Closed as i32);

    // The events, as monitoring will read them.
    let events = app.payment_events().await;
    let types: Vec<&str> = events.iter().map(|e| e.ce_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "jigi.payments.cycle.opened.v1",
            "jigi.payments.cycle.frozen.v1",
            "jigi.payments.cycle.approved.v1",
            "jigi.payments.payment.made.v1",
            "jigi.payments.payment.made.v1",
            "jigi.payments.payment.made.v1",
            "jigi.payments.payment.failed.v1",
            "jigi.payments.payment.not_collected.v1",
            "jigi.payments.cycle.closed.v1",
        ]
    );
    let made: ev::PaymentMade = events[3].decode().unwrap();
    assert_eq!(events[3].subject, "jigi.segou.payments.payment.made");
    assert_eq!(events[3].about, ids[0]);
    let reference = made.cycle.unwrap();
    assert_eq!(reference.cycle_id, cycle.cycle_id);
    assert_eq!(reference.region, "segou");
    assert_eq!(reference.period.unwrap().code, "2019Q1");
    assert_eq!(reference.funding_source, ev::PaymentFundingSource::WorldBankIda as i32);
    assert_eq!(made.household_id, ids[0]);
    let location = made.location.unwrap();
    assert_eq!(
        (location.commune.as_str(), location.cercle.as_str()),
        (SANANDO, "segou.baroueli")
    );
    assert_eq!(made.amount.unwrap().fcfa, 30_000);
    assert_eq!(made.paid_on, today());
    assert_eq!(made.agent_code, CASH_AGENT);
    assert_eq!(made.channel, ev::PaymentChannelKind::Cash as i32);
    let moved_but_paid: ev::PaymentMade = events[5].decode().unwrap();
    assert_eq!(
        moved_but_paid.location.unwrap().commune,
        SANANDO,
        "the place on the frozen list"
    );
    let frozen_event: ev::PaymentCycleFrozen = events[1].decode().unwrap();
    assert_eq!(frozen_event.totals.unwrap().count, 5);
    assert_eq!(frozen_event.communes.len(), 2);
    let closed_event: ev::PaymentCycleClosed = events[8].decode().unwrap();
    assert_eq!(closed_event.paid.unwrap().amount.unwrap().fcfa, 90_000);

    // No names, ID-card or phone numbers, no staff user IDs.
    for event in &events {
        let payload = String::from_utf8_lossy(&event.data);
        for personal in [
            "Kadiatou",
            "Coulibaly",
            "ML0000000001",
            "+22376000001",
            "preparer",
            "approver",
            "coordinator",
            "k.diarra",
        ] {
            assert!(!payload.contains(personal), "{} leaks {personal}", event.ce_type);
        }
    }

    registry_shutdown.cancel();
    registry.stopped().await;
}
