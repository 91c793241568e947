//! One household displaced from Mopti and registered again in Sikasso:
//! flagged by the national linkage index, held at Mopti's next freeze,
//! resolved by Mopti's registrar as a move, transferred out of Mopti; its
//! enrolment then continues in Sikasso with Mopti's committee decision, and
//! Sikasso pays the quarter Mopti held back: paid once, no quarter missed.
//! What `jigi demo` shows after the quarter.

use std::time::{Duration, Instant};

use jigi_auth::Role;
use jigi_common::{Geography, Region};
use jigi_proto::common::{Component, Period};
use jigi_proto::linkage::{Duplicate, ListDuplicatesRequest, Resolution, ResolveDuplicateRequest};
use jigi_proto::payments::{
    FreezePaymentCycleRequest, FreezePaymentCycleResponse, FundingSource, ListEntitlementsRequest,
    OpenPaymentCycleRequest,
};
use jigi_proto::registry::{
    EnrolHouseholdRequest, GetStatusHistoryRequest, RegisterHouseholdRequest, TransferHouseholdRequest,
};
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
    /// The reason Mopti's freeze of the first quarter gave for holding it.
    pub held_reason: String,
    /// Households Mopti's freeze of the first quarter listed (without it).
    pub frozen_in_mopti: i64,
    /// How Sikasso's registry recorded the enrolment it continued (its
    /// status history's note: where from, on whose decision).
    pub continued_as: String,
    /// Households Sikasso's freeze of the first quarter listed.
    pub frozen_in_sikasso: i64,
    /// Whether that freeze lists the family (the quarter Mopti held back:
    /// no quarter missed).
    pub paid_in_sikasso: bool,
    /// Whether Mopti's freeze of the second quarter lists it (it must not:
    /// it left Mopti's TM).
    pub listed_in_mopti_after: bool,
}

/// The committee decision Mopti enrolled the family by.
pub const DECISION: &str = "CCL de Sio, PV 14 (famille déplacée)";

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
    let register = async |client: &mut crate::clients::RegistryClient, draft| {
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
        Ok::<_, anyhow::Error>(household)
    };
    let mopti_household = register(
        &mut registry_mopti,
        person(Region::Mopti, "Aïssata", "Guindo", "ML 5120 0419 77"),
    )
    .await?;
    let in_mopti = mopti_household.household_id.clone();
    let mopti_commune = mopti_household.location.unwrap_or_default().commune;
    registry_mopti
        .enrol_household(EnrolHouseholdRequest {
            household_id: in_mopti.clone(),
            component: Component::Tm as i32,
            enrolled_on: today.format("%Y-%m-%d").to_string(),
            committee_override: DECISION.into(),
        })
        .await
        .map_err(|status| service_error("enrol the displaced household", status))?;
    // Registered again in Sikasso, not enrolled there: its enrolment is Mopti's.
    let registered = Instant::now();
    let sikasso_household = register(
        &mut registry_sikasso,
        person(Region::Sikasso, "AISSATA", "GUINDO", "ml51200419-77"),
    )
    .await?;
    let in_sikasso = sikasso_household.household_id.clone();
    let sikasso_commune = sikasso_household.location.unwrap_or_default().commune;

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
        Ok::<_, anyhow::Error>((frozen, payments))
    };
    // The hold reaches Mopti's payments across its leaf link.
    let deadline = Instant::now() + Duration::from_secs(30);
    while stack
        .region(Region::Mopti)
        .payments
        .service
        .payments
        .holds_open()
        .await?
        == 0
    {
        anyhow::ensure!(
            Instant::now() < deadline,
            "Mopti's payments did not learn of the suspicion within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (in_mopti_first, _) = freeze(Region::Mopti, periods[0]).await?;
    let held_reason = in_mopti_first
        .held
        .iter()
        .find(|h| h.household_id == in_mopti)
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
    // The index relays the move to Sikasso, whose registry continues the
    // enrolment; Mopti's payments no longer counts the family.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let continued = eligible_in(stack, Region::Sikasso, &in_sikasso).await?;
        let still_in_mopti = eligible_in(stack, Region::Mopti, &in_mopti).await?;
        let held_in_sikasso = stack
            .region(Region::Sikasso)
            .payments
            .service
            .payments
            .holds_open()
            .await?;
        if continued && !still_in_mopti && held_in_sikasso == 0 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the move did not reach both regions within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let continued_as = registry_sikasso
        .get_status_history(GetStatusHistoryRequest {
            household_id: in_sikasso.clone(),
        })
        .await
        .map_err(|status| service_error("read the family's history in Sikasso", status))?
        .into_inner()
        .changes
        .into_iter()
        .rfind(|c| c.component == Component::Tm as i32)
        .map(|c| c.note)
        .unwrap_or_default();
    let (in_sikasso_first, mut sikasso_payments) = freeze(Region::Sikasso, periods[0]).await?;
    let paid_in_sikasso = listed(&mut sikasso_payments, &in_sikasso_first, &sikasso_commune, &in_sikasso).await?;
    let (in_mopti_second, mut mopti_payments) = freeze(Region::Mopti, periods[1]).await?;
    let listed_in_mopti_after = listed(&mut mopti_payments, &in_mopti_second, &mopti_commune, &in_mopti).await?;
    let count = |f: &FreezePaymentCycleResponse| f.cycle.as_ref().and_then(|c| c.frozen).map(|t| t.count).unwrap_or(0);
    Ok(Displaced {
        in_mopti,
        in_sikasso,
        duplicate,
        flagged_after,
        held_reason,
        frozen_in_mopti: count(&in_mopti_first),
        continued_as,
        frozen_in_sikasso: count(&in_sikasso_first),
        paid_in_sikasso,
        listed_in_mopti_after,
    })
}

/// Whether a frozen cycle lists `household_id` (of `commune`) for payment.
async fn listed(
    payments: &mut crate::clients::PaymentsClient,
    frozen: &FreezePaymentCycleResponse,
    commune: &str,
    household_id: &str,
) -> anyhow::Result<bool> {
    let cycle_id = frozen.cycle.as_ref().map(|c| c.cycle_id.clone()).unwrap_or_default();
    let mut page_token = String::new();
    loop {
        let page = payments
            .list_entitlements(ListEntitlementsRequest {
                cycle_id: cycle_id.clone(),
                commune: commune.to_owned(),
                page_size: 1_000,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .map_err(|status| service_error("list a cycle's entitlements", status))?
            .into_inner();
        if page.entitlements.iter().any(|e| e.household_id == household_id) {
            return Ok(true);
        }
        if page.next_page_token.is_empty() {
            return Ok(false);
        }
        page_token = page.next_page_token;
    }
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
