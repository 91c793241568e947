//! One household displaced from Mopti and registered again in Sikasso:
//! flagged by the national linkage index, held at Sikasso's next freeze,
//! resolved by Mopti's registrar as a move, transferred out of Mopti, and
//! then paid once, in Sikasso. What `jigi demo` shows after the quarter.

use std::time::{Duration, Instant};

use jigi_auth::Role;
use jigi_common::{Geography, Region};
use jigi_proto::common::{Component, Period};
use jigi_proto::linkage::{Duplicate, ListDuplicatesRequest, Resolution, ResolveDuplicateRequest};
use jigi_proto::payments::{FreezePaymentCycleRequest, FundingSource, OpenPaymentCycleRequest};
use jigi_proto::registry::{EnrolHouseholdRequest, RegisterHouseholdRequest, TransferHouseholdRequest};
use jigi_registry::sample::HouseholdGenerator;

use crate::LocalStack;
use crate::clients::{connect, linkage_client_as, payments_client_as, registry_client_as, service_error};

/// What happened to the displaced household.
#[derive(Debug, Clone)]
pub struct Displaced {
    pub in_mopti: String,
    pub in_sikasso: String,
    pub duplicate: Duplicate,
    /// From the Sikasso registration to the suspicion, as the index's client saw it.
    pub flagged_after: Duration,
    /// The reason Sikasso's freeze gave for holding it.
    pub held_reason: String,
    /// Households Sikasso's freeze listed before and after the resolution.
    pub frozen_before: i64,
    pub frozen_after: i64,
    /// Whether Sikasso's next freeze lists it, held no more (Mopti no
    /// longer may pay it: the scenario waits for that).
    pub paid_in_sikasso_after: bool,
}

/// Runs the scenario on a stack running Mopti and Sikasso; `periods` are
/// two quarters no cycle of the stack uses yet.
pub async fn run(stack: &LocalStack, periods: [&str; 2]) -> anyhow::Result<Displaced> {
    let today = chrono::Utc::now().date_naive();
    let staff = &stack.staff;
    let registrar = |region| staff.in_region("registrar", &[Role::FieldAgent, Role::RegionalSupervisor], region, None);
    let preparer = |region| staff.in_region("preparer", &[Role::PaymentPreparer], region, None);
    let endpoint = |region: Region| stack.region(region).endpoints();
    let mut registry_mopti = registry_client_as(
        connect(&endpoint(Region::Mopti).registry, "registry", "", "").await?,
        registrar(Region::Mopti),
    );
    let mut registry_sikasso = registry_client_as(
        connect(&endpoint(Region::Sikasso).registry, "registry", "", "").await?,
        registrar(Region::Sikasso),
    );
    let linkage_channel = connect(&format!("http://{}", stack.linkage_addr()), "linkage index", "", "").await?;
    let mut operator = linkage_client_as(
        linkage_channel.clone(),
        staff.national("national.operator", &[Role::NationalOperator]),
    );
    let mut mopti_registrar = linkage_client_as(linkage_channel, registrar(Region::Mopti));

    // The family, as Mopti registered it, then as Sikasso did (other spelling, same card).
    let person = |region: Region, given: &str, family: &str, card: &str| {
        let mut draft = HouseholdGenerator::new(&Geography::built_in(), region, &[], today, 99).household(9_000_000);
        let head = &mut draft.members[0];
        head.given_name = given.into();
        head.family_name = family.into();
        head.birth_date = "1982-05-09".into();
        head.birth_date_estimated = false;
        head.id_card_number = card.into();
        draft
    };
    let register_and_enrol = async |client: &mut crate::clients::RegistryClient, draft| {
        let household = client
            .register_household(RegisterHouseholdRequest {
                request_id: uuid::Uuid::new_v4().to_string(),
                household: Some(draft),
            })
            .await
            .map_err(|status| service_error("register the displaced household", status))?
            .into_inner()
            .household
            .unwrap_or_default();
        client
            .enrol_household(EnrolHouseholdRequest {
                household_id: household.household_id.clone(),
                component: Component::Tm as i32,
                enrolled_on: today.format("%Y-%m-%d").to_string(),
                committee_override: "CCL, displaced family".into(),
            })
            .await
            .map_err(|status| service_error("enrol the displaced household", status))?;
        Ok::<_, anyhow::Error>(household.household_id)
    };
    let in_mopti = register_and_enrol(
        &mut registry_mopti,
        person(Region::Mopti, "Aïssata", "Guindo", "ML 5120 0419 77"),
    )
    .await?;
    let registered = Instant::now();
    let in_sikasso = register_and_enrol(
        &mut registry_sikasso,
        person(Region::Sikasso, "AISSATA", "GUINDO", "ml51200419-77"),
    )
    .await?;

    let deadline = Instant::now() + Duration::from_secs(30);
    let duplicate = loop {
        let found = operator
            .list_duplicates(ListDuplicatesRequest {
                open_only: true,
                page_size: 500,
                ..Default::default()
            })
            .await
            .map_err(|status| service_error("list duplicates", status))?
            .into_inner()
            .duplicates
            .into_iter()
            .find(|d| {
                let ids = [&d.first, &d.second].map(|s| s.as_ref().map(|s| s.household_id.clone()));
                ids.contains(&Some(in_mopti.clone())) && ids.contains(&Some(in_sikasso.clone()))
            });
        if let Some(duplicate) = found {
            break duplicate;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the linkage index did not flag the displaced household within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let flagged_after = registered.elapsed();

    let freeze = async |region: Region, period: &str| {
        let mut payments = payments_client_as(
            connect(&endpoint(region).payments, "payments", "", "").await?,
            preparer(region),
        );
        let payments_ref = &mut payments;
        let cycle = payments_ref
            .open_payment_cycle(OpenPaymentCycleRequest {
                period: Some(Period { code: period.into() }),
                funding_source: FundingSource::StateBudget as i32,
                amount_per_household: None,
                communes: vec![],
                prepared_by: String::new(),
                ..Default::default()
            })
            .await
            .map_err(|status| service_error("open a cycle", status))?
            .into_inner()
            .cycle
            .unwrap_or_default();
        let frozen = payments_ref
            .freeze_payment_cycle(FreezePaymentCycleRequest {
                cycle_id: cycle.cycle_id,
                prepared_by: String::new(),
            })
            .await
            .map_err(|status| service_error("freeze a cycle", status))?
            .into_inner();
        Ok::<_, anyhow::Error>(frozen)
    };
    // The hold reaches Sikasso's payments across its leaf link.
    let deadline = Instant::now() + Duration::from_secs(30);
    while stack
        .region(Region::Sikasso)
        .payments
        .service
        .payments
        .holds_open()
        .await?
        == 0
    {
        anyhow::ensure!(
            Instant::now() < deadline,
            "Sikasso's payments did not learn of the suspicion within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = freeze(Region::Sikasso, periods[0]).await?;
    let held_reason = before
        .held
        .iter()
        .find(|h| h.household_id == in_sikasso)
        .map(|h| h.reason.clone())
        .unwrap_or_default();

    mopti_registrar
        .resolve_duplicate(ResolveDuplicateRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            duplicate_id: duplicate.duplicate_id.clone(),
            resolution: Resolution::Moved as i32,
            kept_household_id: in_sikasso.clone(),
        })
        .await
        .map_err(|status| service_error("resolve the duplicate", status))?;
    registry_mopti
        .transfer_household(TransferHouseholdRequest {
            household_id: in_mopti.clone(),
            destination_region: Region::Sikasso.slug().into(),
            destination_household_id: in_sikasso.clone(),
            transferred_on: String::new(),
        })
        .await
        .map_err(|status| service_error("transfer the household", status))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sikasso = stack
            .region(Region::Sikasso)
            .payments
            .service
            .payments
            .holds_open()
            .await?;
        let still_in_mopti = eligible_in(stack, Region::Mopti, &in_mopti).await?;
        if sikasso == 0 && !still_in_mopti {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the resolution did not reach both regions within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = freeze(Region::Sikasso, periods[1]).await?;
    let count = |f: &jigi_proto::payments::FreezePaymentCycleResponse| {
        f.cycle.as_ref().and_then(|c| c.frozen).map(|t| t.count).unwrap_or(0)
    };
    Ok(Displaced {
        in_mopti,
        in_sikasso,
        duplicate,
        flagged_after,
        held_reason,
        frozen_before: count(&before),
        frozen_after: count(&after),
        paid_in_sikasso_after: after.held.is_empty() && count(&after) == count(&before) + 1,
    })
}

/// Whether `household_id` may be paid in `region` (enrolled in TM there).
async fn eligible_in(stack: &LocalStack, region: Region, household_id: &str) -> anyhow::Result<bool> {
    let payments = &stack.region(region).payments.service.payments;
    let mut token = String::new();
    loop {
        let page = payments
            .eligible("", 1_000, &token)
            .await
            .map_err(|err| anyhow::anyhow!("{err}"))?;
        if page.households.iter().any(|h| h.household_id == household_id) {
            return Ok(true);
        }
        if page.next_page_token.is_empty() {
            return Ok(false);
        }
        token = page.next_page_token;
    }
}
