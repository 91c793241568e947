//! A household that moves from Mopti to Sikasso: Mopti's transfer ends its
//! enrolments there ("moved to sikasso"), the index relays the move on the
//! restricted subjects to Sikasso only, and Sikasso continues its
//! enrolment with the same committee decision, paying from the quarter
//! after the last Mopti paid: each quarter paid once across both regions.
//! Real NATS (a hub, two leaf nodes, the deployed permissions), access
//! control on.

use async_nats::jetstream;
use jigi_auth::Role;
use jigi_bus::{Bus, BusConfig, ReceivedEvent, linkage};
use jigi_common::Region;
use jigi_proto::common::{Component, Money};
use jigi_proto::linkage::{Resolution, ResolveDuplicateRequest, TransferOrdered};
use jigi_proto::payments::payments_service_client::PaymentsServiceClient;
use jigi_proto::payments::{
    AgentAssignment, ApprovePaymentCycleRequest, AssignPaymentAgentsRequest, FreezePaymentCycleRequest, PaymentChannel,
    PaymentOutcome, PaymentResult, RecordPaymentResultRequest,
};
use jigi_proto::registry::{
    EnrolHouseholdRequest, EnrolmentStatus, GetHouseholdRequest, GetStatusHistoryRequest, Household, StatusChange,
    TransferHouseholdRequest,
};
use jigi_testkit::{connect_as, eventually};
use prost::Message as _;

use crate::helpers::{Country, RegionNode, WAIT, today};

const DECISION: &str = "CCL Sio, PV 3 du 12 janvier";

async fn enrol_tm(node: &mut RegionNode, household_id: &str) {
    node.client
        .enrol_household(EnrolHouseholdRequest {
            household_id: household_id.into(),
            component: Component::Tm as i32,
            enrolled_on: today(),
            committee_override: DECISION.into(),
        })
        .await
        .expect("enrolment succeeds");
}

async fn wait_eligible(node: &RegionNode, count: i64, what: &str) {
    let payments = node.payments.service.payments.clone();
    eventually(WAIT, what, || {
        let payments = payments.clone();
        async move { (payments.eligible("", 100, "").await.ok()?.total == count).then_some(()) }
    })
    .await;
}

/// Opens and freezes the region's cycle of `period`; returns how many
/// households it lists.
async fn frozen_count(node: &mut RegionNode, period: &str) -> i64 {
    let cycle_id = node.open_cycle(period).await;
    node.pay
        .freeze_payment_cycle(FreezePaymentCycleRequest {
            cycle_id,
            prepared_by: String::new(),
        })
        .await
        .expect("the cycle freezes")
        .into_inner()
        .cycle
        .unwrap()
        .frozen
        .unwrap()
        .count
}

/// A quarter's TM cycle in `region` listing `household` alone: opened,
/// assigned, frozen and approved. Returns the cycle ID.
async fn approved_cycle(country: &mut Country, region: Region, period: &str, household: &Household) -> String {
    let access = country.access.clone();
    let node = country.region(region);
    let cycle_id = node.open_cycle(period).await;
    node.pay
        .assign_payment_agents(AssignPaymentAgentsRequest {
            cycle_id: cycle_id.clone(),
            assignments: vec![AgentAssignment {
                commune: household.location.clone().unwrap().commune,
                agent_code: agent(region),
                channel: PaymentChannel::Cash as i32,
            }],
            assigned_by: String::new(),
        })
        .await
        .unwrap();
    let totals = node
        .pay
        .freeze_payment_cycle(FreezePaymentCycleRequest {
            cycle_id: cycle_id.clone(),
            prepared_by: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .cycle
        .unwrap()
        .frozen
        .unwrap();
    assert_eq!(totals.count, 1, "the cycle of {period} lists the household");
    let approver = access.token("m.keita", &[Role::PaymentApprover], region);
    PaymentsServiceClient::new(connect_as(node.payments.grpc_addr, &approver).await)
        .approve_payment_cycle(ApprovePaymentCycleRequest {
            cycle_id: cycle_id.clone(),
            approved_by: String::new(),
            expected_count: totals.count,
            expected_amount: totals.amount,
        })
        .await
        .unwrap();
    cycle_id
}

fn agent(region: Region) -> String {
    format!("AGENT-{}", region.slug().to_ascii_uppercase())
}

/// The agent records the household paid in an approved cycle.
async fn record_paid(country: &mut Country, region: Region, cycle_id: &str, household_id: &str) {
    let access = country.access.clone();
    let node = country.region(region);
    let agent = agent(region);
    let token = access.agent_token(&agent.to_ascii_lowercase(), region, &agent);
    PaymentsServiceClient::new(connect_as(node.payments.grpc_addr, &token).await)
        .record_payment_result(RecordPaymentResultRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            cycle_id: cycle_id.into(),
            result: Some(PaymentResult {
                household_id: household_id.into(),
                outcome: PaymentOutcome::Paid as i32,
                agent_code: agent.clone(),
                date: today(),
                amount: Some(Money { fcfa: 30_000 }),
                receipt_reference: format!("R-{cycle_id}"),
                failure_reason: 0,
            }),
        })
        .await
        .expect("the payment is recorded");
}

/// Pays a quarter in `region` to `household`, through the whole cycle.
async fn pay_quarter(country: &mut Country, region: Region, period: &str, household: &Household) {
    let cycle_id = approved_cycle(country, region, period, household).await;
    record_paid(country, region, &cycle_id, &household.household_id).await;
}

/// Waits until the index has seen `count` payments (from the national stream).
async fn wait_payments_seen(country: &Country, count: u64) {
    let stats = country.linkage.service.payments.clone();
    eventually(WAIT, &format!("the index saw {count} payments"), || {
        let stats = stats.clone();
        async move { (stats.handled() >= count).then_some(()) }
    })
    .await;
}

async fn transfer(country: &mut Country, household_id: &str, destination_household_id: &str) {
    let household = country
        .region(Region::Mopti)
        .client
        .transfer_household(TransferHouseholdRequest {
            household_id: household_id.into(),
            destination_region: "sikasso".into(),
            destination_household_id: destination_household_id.into(),
            transferred_on: String::new(),
        })
        .await
        .expect("the origin transfers it")
        .into_inner()
        .household
        .unwrap();
    assert!(
        household
            .enrolments
            .iter()
            .all(|e| e.status == EnrolmentStatus::Exited as i32),
        "every enrolment ended in the origin"
    );
}

async fn household(node: &mut RegionNode, household_id: &str) -> Household {
    node.client
        .get_household(GetHouseholdRequest {
            household_id: household_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .household
        .unwrap()
}

async fn history(node: &mut RegionNode, household_id: &str) -> Vec<StatusChange> {
    node.client
        .get_status_history(GetStatusHistoryRequest {
            household_id: household_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .changes
}

/// Waits until Sikasso's payments knows the first quarter it may pay `household_id`.
async fn wait_first_payable(country: &mut Country, household_id: &str, period: &str) {
    let payments = country.region(Region::Sikasso).payments.service.payments.clone();
    eventually(WAIT, &format!("Sikasso pays {household_id} from {period}"), || {
        let payments = payments.clone();
        async move { (payments.first_payable(household_id).await.ok()?.as_deref() == Some(period)).then_some(()) }
    })
    .await;
}

/// The JetStream of a region's leaf node, as its services reach it.
async fn leaf_jetstream(node: &RegionNode) -> jetstream::Context {
    let mut config = BusConfig::new(node.leaf.services_url(), "test-leaf");
    config.jetstream_domain = Some(node.region.slug().to_owned());
    Bus::connect(&config).await.expect("connects to the leaf").jetstream
}

/// Waits until Sikasso's registry has applied every transfer order its
/// leaf's copy of the index's findings holds.
async fn wait_orders_applied(country: &mut Country) {
    let node = country.region(Region::Sikasso);
    let js = leaf_jetstream(node).await;
    let database = node.registry.as_ref().unwrap().database.clone();
    let consumer = jigi_registry::transfers_consumer(Region::Sikasso);
    let subject = linkage::TRANSFER_ORDERED.subject(Region::Sikasso);
    eventually(WAIT, "Sikasso's registry applied every transfer order", || {
        let (js, database, consumer, subject) = (js.clone(), database.clone(), consumer.clone(), subject.clone());
        async move {
            let stream = js
                .get_stream(linkage::region_findings_stream(Region::Sikasso))
                .await
                .ok()?;
            let last = stream.get_last_raw_message_by_subject(&subject).await.ok()?.sequence;
            let applied = jigi_bus::inbox::applied_sequence(&database, &consumer).await.ok()?;
            (applied >= last).then_some(())
        }
    })
    .await;
}

/// An order as the hub's stream holds it.
struct StoredOrder {
    headers: async_nats::HeaderMap,
    payload: bytes::Bytes,
    order: TransferOrdered,
}

/// The orders the hub holds for Sikasso, oldest first.
async fn orders_at_hub(country: &Country) -> Vec<StoredOrder> {
    let national = country.hub_as("national").await;
    let mut stream = national.jetstream.get_stream(linkage::DUPLICATES_STREAM).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut found = Vec::new();
    for sequence in 1..=last {
        let Ok(raw) = stream.get_raw_message(sequence).await else {
            continue;
        };
        if raw.subject.as_str() != linkage::TRANSFER_ORDERED.subject(Region::Sikasso) {
            continue;
        }
        let event = ReceivedEvent::parse(
            raw.subject.as_str(),
            Some(&raw.headers),
            raw.payload.clone(),
            Some(sequence),
        )
        .unwrap();
        assert_eq!(event.ce_type, "jigi.linkage.transfer.ordered.v1");
        found.push(StoredOrder {
            headers: raw.headers.clone(),
            payload: raw.payload.clone(),
            order: TransferOrdered::decode(event.data.clone()).unwrap(),
        });
    }
    found
}

fn tm_entries(changes: &[StatusChange]) -> usize {
    changes
        .iter()
        .filter(|c| c.component == Component::Tm as i32 && c.status == EnrolmentStatus::Enrolled as i32)
        .count()
}

#[tokio::test]
async fn a_move_continues_in_the_destination_and_each_quarter_is_paid_once() {
    let mut country = Country::start(&[Region::Sikasso, Region::Mopti], &["k1"]).await;
    // Enrolled in TM in Mopti by the committee, and paid 2026Q3 there.
    let draft = country
        .region(Region::Mopti)
        .draft_with_head("Aminata", "Tembély", "1984-02-11", "ML1618033988");
    let in_mopti = country.region(Region::Mopti).register(draft).await;
    enrol_tm(country.region(Region::Mopti), &in_mopti.household_id).await;
    wait_eligible(country.region(Region::Mopti), 1, "Mopti's household enrolled").await;
    pay_quarter(&mut country, Region::Mopti, "2026Q3", &in_mopti).await;
    wait_payments_seen(&country, 1).await;

    // Displaced, registered again in Sikasso (not enrolled there): flagged.
    let draft = country
        .region(Region::Sikasso)
        .draft_with_head("AMINATA", "TEMBELY", "1984-02-11", "ml 1618 0339 88");
    let in_sikasso = country.region(Region::Sikasso).register(draft).await;
    let duplicate = country.wait_duplicates(1).await.remove(0);

    // Mopti transfers it out before anyone named the household in Sikasso:
    // the index keeps the move, and sends nothing yet.
    transfer(&mut country, &in_mopti.household_id, "").await;
    let moves = country.linkage.service.transfers.clone();
    eventually(WAIT, "the index recorded the move", || {
        let moves = moves.clone();
        async move { (moves.handled() >= 1).then_some(()) }
    })
    .await;
    jigi_testkit::eventually(WAIT, "the index's outbox is empty", || async {
        (jigi_bus::outbox::pending(&country.linkage.database).await.ok()? == 0).then_some(())
    })
    .await;
    assert!(
        orders_at_hub(&country).await.is_empty(),
        "no order before the destination is named"
    );

    // Mopti's registrar names it: the same family, moved to Sikasso.
    country
        .registrar(Region::Mopti)
        .await
        .resolve_duplicate(ResolveDuplicateRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            duplicate_id: duplicate.duplicate_id.clone(),
            resolution: Resolution::Moved as i32,
            kept_household_id: in_sikasso.household_id.clone(),
        })
        .await
        .expect("the registrar resolves it");

    // Sikasso continues the enrolment, with the committee's decision, and
    // pays from the quarter after 2026Q3.
    wait_first_payable(&mut country, &in_sikasso.household_id, "2026Q4").await;
    wait_orders_applied(&mut country).await;
    wait_eligible(country.region(Region::Sikasso), 1, "Sikasso's household enrolled in TM").await;
    let sikasso = country.region(Region::Sikasso);
    let continued = household(sikasso, &in_sikasso.household_id).await;
    let tm = continued
        .enrolments
        .iter()
        .find(|e| e.component == Component::Tm as i32)
        .expect("enrolled in TM in Sikasso");
    assert_eq!(tm.status, EnrolmentStatus::Enrolled as i32);
    assert_eq!(tm.enrolled_on, today(), "from the day of the move");
    let changes = history(sikasso, &in_sikasso.household_id).await;
    assert_eq!(tm_entries(&changes), 1);
    let note = &changes.last().unwrap().note;
    assert!(note.contains("transferred from mopti"), "{note}");
    assert!(note.contains(&in_mopti.household_id), "{note}");
    assert!(note.contains(DECISION), "the same committee decision: {note}");

    // Each quarter once: Mopti paid 2026Q3, Sikasso pays 2026Q4.
    let sikasso = country.region(Region::Sikasso);
    assert_eq!(frozen_count(sikasso, "2026Q3").await, 0, "Mopti paid 2026Q3");
    assert_eq!(frozen_count(sikasso, "2026Q4").await, 1, "Sikasso pays 2026Q4");
    wait_eligible(country.region(Region::Mopti), 0, "Mopti's household exited").await;
    assert_eq!(frozen_count(country.region(Region::Mopti), "2026Q4").await, 0);

    // The order delivered again (a copy with a new message ID, as a replay
    // of the stream would bring): nothing is enrolled twice.
    let orders = orders_at_hub(&country).await;
    assert_eq!(orders.len(), 1, "one order");
    let order = &orders[0].order;
    assert_eq!(order.household_id, in_sikasso.household_id);
    assert_eq!(order.origin_household_id, in_mopti.household_id);
    assert_eq!(order.enrolments.len(), 1);
    assert_eq!(order.enrolments[0].committee_decision, DECISION);
    assert_eq!(order.enrolments[0].last_period_paid, "2026Q3");
    let mut headers = orders[0].headers.clone();
    let new_id = uuid::Uuid::now_v7().to_string();
    headers.insert("ce-id", new_id.as_str());
    headers.insert("Nats-Msg-Id", new_id.as_str());
    country
        .hub_as("linkage")
        .await
        .jetstream
        .publish_with_headers(
            linkage::TRANSFER_ORDERED.subject(Region::Sikasso),
            headers,
            orders[0].payload.clone(),
        )
        .await
        .unwrap()
        .await
        .expect("the copy is stored");
    wait_orders_applied(&mut country).await;
    let sikasso = country.region(Region::Sikasso);
    assert_eq!(tm_entries(&history(sikasso, &in_sikasso.household_id).await), 1);
    // Audited once, naming the order, in an unbroken chain.
    let database = sikasso.registry.as_ref().unwrap().database.clone();
    let audited: i64 = database
        .read(|conn| {
            conn.query_scalar(
                "SELECT COUNT(*) FROM audit_log WHERE method = 'jigi.linkage.transfer.ordered.v1' \
                 AND subject = 'linkage' AND outcome = 'OK'",
                &[],
            )
        })
        .await
        .unwrap();
    assert_eq!(audited, 1);
    assert!(jigi_audit::verify(&database).await.unwrap().broken.is_none());
    assert_eq!(
        sikasso
            .payments
            .service
            .payments
            .first_payable(&in_sikasso.household_id)
            .await
            .unwrap()
            .as_deref(),
        Some("2026Q4")
    );
}

#[tokio::test]
async fn a_quarter_the_origin_paid_before_the_move_starts_the_destination_after_it() {
    let mut country = Country::start(&[Region::Sikasso, Region::Mopti], &["k1"]).await;
    let draft = country.region(Region::Mopti).draft();
    let in_mopti = country.region(Region::Mopti).register(draft).await;
    enrol_tm(country.region(Region::Mopti), &in_mopti.household_id).await;
    wait_eligible(country.region(Region::Mopti), 1, "Mopti's household enrolled").await;
    pay_quarter(&mut country, Region::Mopti, "2026Q3", &in_mopti).await;
    pay_quarter(&mut country, Region::Mopti, "2026Q4", &in_mopti).await;
    wait_payments_seen(&country, 2).await;
    // Registered in Sikasso by a registrar who knows where it came from.
    let draft = country.region(Region::Sikasso).draft();
    let in_sikasso = country.region(Region::Sikasso).register(draft).await;
    transfer(&mut country, &in_mopti.household_id, &in_sikasso.household_id).await;

    wait_first_payable(&mut country, &in_sikasso.household_id, "2027Q1").await;
    wait_eligible(country.region(Region::Sikasso), 1, "Sikasso's household enrolled in TM").await;
    let sikasso = country.region(Region::Sikasso);
    assert_eq!(frozen_count(sikasso, "2026Q4").await, 0, "Mopti paid 2026Q4");
    assert_eq!(frozen_count(sikasso, "2027Q1").await, 1, "Sikasso pays from 2027Q1");
}

#[tokio::test]
async fn a_quarter_the_origin_pays_after_the_move_moves_the_destination_on() {
    let mut country = Country::start(&[Region::Sikasso, Region::Mopti], &["k1"]).await;
    let draft = country.region(Region::Mopti).draft();
    let in_mopti = country.region(Region::Mopti).register(draft).await;
    enrol_tm(country.region(Region::Mopti), &in_mopti.household_id).await;
    wait_eligible(country.region(Region::Mopti), 1, "Mopti's household enrolled").await;
    pay_quarter(&mut country, Region::Mopti, "2026Q3", &in_mopti).await;
    // Mopti's 2026Q4 list was frozen and approved before the move...
    let q4 = approved_cycle(&mut country, Region::Mopti, "2026Q4", &in_mopti).await;
    wait_payments_seen(&country, 1).await;
    let draft = country.region(Region::Sikasso).draft();
    let in_sikasso = country.region(Region::Sikasso).register(draft).await;
    transfer(&mut country, &in_mopti.household_id, &in_sikasso.household_id).await;
    wait_first_payable(&mut country, &in_sikasso.household_id, "2026Q4").await;
    wait_orders_applied(&mut country).await;

    // ...and its agent paid it after: the index orders again, Sikasso starts
    // a quarter later, and the enrolment is not made twice.
    record_paid(&mut country, Region::Mopti, &q4, &in_mopti.household_id).await;
    wait_first_payable(&mut country, &in_sikasso.household_id, "2027Q1").await;
    wait_orders_applied(&mut country).await;
    assert_eq!(
        orders_at_hub(&country).await.len(),
        2,
        "the order, then again with 2026Q4"
    );
    let sikasso = country.region(Region::Sikasso);
    assert_eq!(tm_entries(&history(sikasso, &in_sikasso.household_id).await), 1);
    assert_eq!(frozen_count(sikasso, "2026Q4").await, 0, "Mopti paid 2026Q4");
    assert_eq!(frozen_count(sikasso, "2027Q1").await, 1);
}

#[tokio::test]
async fn another_region_cannot_read_an_order() {
    let mut country = Country::start(&[Region::Sikasso, Region::Mopti], &["k1"]).await;
    let draft = country.region(Region::Mopti).draft();
    let in_mopti = country.region(Region::Mopti).register(draft).await;
    enrol_tm(country.region(Region::Mopti), &in_mopti.household_id).await;
    let draft = country.region(Region::Sikasso).draft();
    let in_sikasso = country.region(Region::Sikasso).register(draft).await;
    transfer(&mut country, &in_mopti.household_id, &in_sikasso.household_id).await;
    wait_orders_applied(&mut country).await;
    assert_eq!(orders_at_hub(&country).await.len(), 1);

    // Not in the origin's copy of the findings (nor in any other region's).
    let js = leaf_jetstream(country.region(Region::Mopti)).await;
    let stream = js
        .get_stream(linkage::region_findings_stream(Region::Mopti))
        .await
        .unwrap();
    assert!(
        stream
            .get_last_raw_message_by_subject(&linkage::TRANSFER_ORDERED.subject(Region::Sikasso))
            .await
            .is_err(),
        "Mopti's leaf holds no order to Sikasso"
    );
    // Mopti's credentials at the hub cannot subscribe to Sikasso's orders.
    let (errors, mut refusals) = tokio::sync::mpsc::unbounded_channel();
    // async-nats ignores a URL's user and password: pass them as options.
    let url = country.hub.url_as("mopti");
    let (credentials, address) = url.trim_start_matches("nats://").rsplit_once('@').unwrap();
    let (user, password) = credentials.split_once(':').unwrap();
    let client = async_nats::ConnectOptions::with_user_and_password(user.into(), password.into())
        .event_callback(move |event| {
            let errors = errors.clone();
            async move {
                if let async_nats::Event::ServerError(err) = event {
                    let _ = errors.send(err.to_string());
                }
            }
        })
        .connect(address)
        .await
        .expect("Mopti's credentials connect to the hub");
    let _subscription = client
        .subscribe(linkage::TRANSFER_ORDERED.subject(Region::Sikasso))
        .await
        .unwrap();
    let refusal = tokio::time::timeout(WAIT, refusals.recv())
        .await
        .expect("the hub refuses in time")
        .expect("connection alive");
    assert!(
        refusal.contains("Permissions Violation for Subscription to \"jigidup.sikasso.linkage.transfer.ordered\""),
        "{refusal}"
    );
}

#[tokio::test]
async fn a_move_resolved_before_the_transfer_continues_every_component_at_once() {
    let mut country = Country::start(&[Region::Sikasso, Region::Mopti], &["k1"]).await;
    let draft = country
        .region(Region::Mopti)
        .draft_with_head("Hawa", "Kansaye", "1979-10-30", "ML2236067977");
    let in_mopti = country.region(Region::Mopti).register(draft).await;
    enrol_tm(country.region(Region::Mopti), &in_mopti.household_id).await;
    country
        .region(Region::Mopti)
        .client
        .enrol_household(EnrolHouseholdRequest {
            household_id: in_mopti.household_id.clone(),
            component: Component::Ma as i32,
            enrolled_on: today(),
            committee_override: "CCL Sio, PV 4".into(),
        })
        .await
        .expect("enrolled in MA");
    let draft = country
        .region(Region::Sikasso)
        .draft_with_head("HAWA", "KANSAYE", "1979-10-30", "ML-2236-0679-77");
    let in_sikasso = country.region(Region::Sikasso).register(draft).await;
    let duplicate = country.wait_duplicates(1).await.remove(0);
    country
        .registrar(Region::Sikasso)
        .await
        .resolve_duplicate(ResolveDuplicateRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            duplicate_id: duplicate.duplicate_id.clone(),
            resolution: Resolution::Moved as i32,
            kept_household_id: in_sikasso.household_id.clone(),
        })
        .await
        .expect("the registrar resolves it");
    // Mopti does not name the household in Sikasso: the resolution does.
    transfer(&mut country, &in_mopti.household_id, "").await;

    let sikasso = country.region(Region::Sikasso);
    let client = sikasso.client.clone();
    let id = in_sikasso.household_id.clone();
    let enrolled = eventually(WAIT, "Sikasso continues both enrolments", || {
        let (mut client, id) = (client.clone(), id.clone());
        async move {
            let household = client
                .get_household(GetHouseholdRequest { household_id: id })
                .await
                .ok()?
                .into_inner()
                .household?;
            let mut components: Vec<i32> = household
                .enrolments
                .iter()
                .filter(|e| e.status == EnrolmentStatus::Enrolled as i32)
                .map(|e| e.component)
                .collect();
            components.sort();
            (components.len() == 2).then_some(components)
        }
    })
    .await;
    assert_eq!(enrolled, [Component::Tm as i32, Component::Ma as i32]);
    let notes: Vec<String> = history(sikasso, &id).await.into_iter().map(|c| c.note).collect();
    assert!(
        notes
            .iter()
            .any(|n| n.ends_with(&format!("committee decision: {DECISION}"))),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.ends_with("committee decision: CCL Sio, PV 4")),
        "{notes:?}"
    );
}
