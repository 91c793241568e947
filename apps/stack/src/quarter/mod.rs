//! A programme quarter in one region, driven through the services' gRPC
//! APIs as the field and the regional office would drive it:
//!
//! 1. [`registry`]: import believable households into a few communes,
//!    target them by PMT, enrol the eligible in the cash transfers (TM) and,
//!    when they have a child of 6–59 months or a pregnant or lactating woman,
//!    in the nutrition package (PNP);
//! 2. [`payments`]: open the quarter's payment cycle, assign a cash and a
//!    mobile money agent, freeze, approve (another person, restating the
//!    control totals), record the agents' results (about 90 % paid, 7 %
//!    failed, 3 % not collected, deterministically);
//! 3. [`nutrition`]: a warehouse per pilot commune, flour received, a round
//!    opened, a ration to every eligible person.
//!
//! 4. [`activities`]: MA sessions, AGR plans and first tranches, a HIMO
//!    site per commune with a day of work and its wage sheet; then the AGR
//!    grants and HIMO wages paid in cycles of their own kind.
//!
//! Payments, nutrition and the activities run side by side once the
//! households are enrolled.
//! The driver returns a [`QuarterSummary`] of what it did, which the demo
//! prints beside the national indicators and the end-to-end test compares
//! with them. It expects a region whose services hold nothing yet (a fresh
//! local stack): it counts only what it did itself.

mod activities;
mod nutrition;

pub use activities::GRANT as AGR_GRANT;
mod payments;
mod registry;

use std::time::Duration;

use chrono::NaiveDate;
use jigi_common::{Geography, Period, Region};
use jigi_proto::payments::{CycleKind, FundingSource};
use serde::{Deserialize, Serialize};

use jigi_auth::Role;

use crate::clients::{self, ActivitiesClient, NutritionClient, RegistryClient};
use crate::progress::Bars;
use crate::staff::Staff;

/// How long the driver waits for a service to have learnt from the
/// registry's events what it needs (eligible households, beneficiaries).
pub const CATCH_UP: Duration = Duration::from_secs(120);

/// The gRPC addresses of one region's services (`http://host:port`).
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub registry: String,
    pub payments: String,
    pub nutrition: String,
    /// The activities service (MA, AGR, HIMO).
    pub activities: String,
    /// Who calls: tokens per person when the services check them.
    pub staff: Staff,
}

/// What to do in a region.
#[derive(Debug, Clone)]
pub struct QuarterPlan {
    pub region: Region,
    /// Households to import.
    pub households: u64,
    /// The communes they live in (all pilot communes of the PNP round).
    pub communes: Vec<String>,
    /// The day everything happens (enrolment, payments, distributions).
    pub today: NaiveDate,
    /// Who funds the region's cash transfers.
    pub funding_source: FundingSource,
    /// Seed of the household generator: the same seed, the same households.
    pub seed: u64,
}

impl QuarterPlan {
    /// `households` households in three rural communes of `region`, today,
    /// funded by the region's usual partner.
    pub fn new(region: Region, households: u64) -> QuarterPlan {
        QuarterPlan {
            region,
            households,
            communes: pilot_communes(region),
            today: chrono::Utc::now().date_naive(),
            funding_source: funding_source_of(region),
            seed: 2018,
        }
    }

    /// The quarter of `today`.
    pub fn period(&self) -> Period {
        Period::quarter_of(self.today)
    }

    fn date(&self) -> String {
        self.today.format("%Y-%m-%d").to_string()
    }
}

/// Three rural communes per region (where the programme's pilots were).
pub fn pilot_communes(region: Region) -> Vec<String> {
    let chosen: &[&str] = match region {
        Region::Sikasso => &[
            "sikasso.yanfolila.gouanan",
            "sikasso.kolondieba.fakola",
            "sikasso.koutiala.zangasso",
        ],
        Region::Mopti => &[
            "mopti.bankass.diallassagou",
            "mopti.douentza.haire",
            "mopti.koro.dinangourou",
        ],
        _ => &[],
    };
    if !chosen.is_empty() {
        return chosen.iter().map(|c| (*c).to_owned()).collect();
    }
    Geography::built_in()
        .communes(region.slug())
        .take(3)
        .map(|c| c.code.clone())
        .collect()
}

/// Who funds a region's transfers in the demo: the World Bank in Sikasso,
/// DFID in Mopti, the State budget elsewhere (so the PTBA's lines differ).
pub fn funding_source_of(region: Region) -> FundingSource {
    match region {
        Region::Sikasso => FundingSource::WorldBankIda,
        Region::Mopti => FundingSource::Dfid,
        _ => FundingSource::StateBudget,
    }
}

/// Who the PNP feeds, as the programme defines it: children of 6 to 59
/// months, pregnant and lactating women. The driver works it out itself,
/// from the contract's definition, rather than asking the nutrition
/// service's code: the figures the service reports are checked against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Group {
    Child,
    PregnantWoman,
    LactatingWoman,
}

impl Group {
    /// The contract's name of the group.
    pub fn to_proto(self) -> jigi_proto::nutrition::BeneficiaryGroup {
        match self {
            Group::Child => jigi_proto::nutrition::BeneficiaryGroup::Child,
            Group::PregnantWoman => jigi_proto::nutrition::BeneficiaryGroup::PregnantWoman,
            Group::LactatingWoman => jigi_proto::nutrition::BeneficiaryGroup::LactatingWoman,
        }
    }

    /// The group of a person on `on`, if any: a child from the day it turns
    /// 6 months until the day before it turns 60 months; else a pregnant,
    /// else a lactating woman.
    pub fn on(birth_date: NaiveDate, female: bool, pregnant: bool, lactating: bool, on: NaiveDate) -> Option<Group> {
        let aged = |months| birth_date.checked_add_months(chrono::Months::new(months));
        if aged(6).is_some_and(|from| from <= on) && aged(60).is_some_and(|until| on < until) {
            Some(Group::Child)
        } else if female && pregnant {
            Some(Group::PregnantWoman)
        } else if female && lactating {
            Some(Group::LactatingWoman)
        } else {
            None
        }
    }
}

/// People reached by group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Groups {
    pub children: i64,
    pub pregnant_women: i64,
    pub lactating_women: i64,
}

impl Groups {
    pub fn total(&self) -> i64 {
        self.children + self.pregnant_women + self.lactating_women
    }
}

/// The trace ID of a key action, to look it up in the trace backend.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyTrace {
    pub action: String,
    pub trace_id: String,
}

/// What the driver did in a region.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuarterSummary {
    pub region: String,
    /// The quarter, e.g. `2018Q4`.
    pub period: String,
    pub communes: Vec<String>,
    pub households_registered: i64,
    /// Households the PMT found eligible.
    pub pmt_eligible: i64,
    pub enrolled_tm: i64,
    pub enrolled_pnp: i64,
    #[serde(default)]
    pub enrolled_ma: i64,
    #[serde(default)]
    pub enrolled_agr: i64,
    #[serde(default)]
    pub enrolled_himo: i64,
    pub cycle_id: String,
    /// `jigi.common.v1.FundingSource` value of the cycle (the budget line it executes).
    pub funding_source: i32,
    /// Its name, e.g. `WORLD_BANK_IDA`.
    pub funding_source_name: String,
    pub entitlements: i64,
    pub entitled_fcfa: i64,
    pub paid: i64,
    pub paid_fcfa: i64,
    pub failed: i64,
    pub not_collected: i64,
    pub round_id: String,
    pub warehouses: i64,
    pub flour_received_grams: i64,
    /// People eligible in the pilot communes on the round's day.
    pub beneficiaries: i64,
    pub reached: Groups,
    pub flour_distributed_grams: i64,
    /// MA sessions held and people present.
    #[serde(default)]
    pub ma_sessions: i64,
    #[serde(default)]
    pub ma_people: i64,
    /// AGR plans approved and first tranches released (FCFA).
    #[serde(default)]
    pub agr_plans: i64,
    #[serde(default)]
    pub agr_released_fcfa: i64,
    /// AGR grants paid by the AGR_GRANT cycle (households, FCFA).
    #[serde(default)]
    pub agr_paid: i64,
    #[serde(default)]
    pub agr_paid_fcfa: i64,
    /// HIMO sites set up, person-days recorded, wages due (FCFA).
    #[serde(default)]
    pub himo_sites: i64,
    #[serde(default)]
    pub himo_person_days: i64,
    #[serde(default)]
    pub himo_wages_fcfa: i64,
    /// HIMO wages paid by the HIMO_WAGES cycle (households, FCFA).
    #[serde(default)]
    pub himo_paid: i64,
    #[serde(default)]
    pub himo_paid_fcfa: i64,
    pub traces: Vec<KeyTrace>,
}

/// The region's clients, one per person of the office.
struct Clients {
    /// Field agents and their supervisor (registration and enrolment).
    registry: RegistryClient,
    payments: payments::PaymentOffice,
    /// The PNP team: supervisor, store keeper and field agents.
    nutrition: NutritionClient,
    /// The activities officers: NGO facilitators, AGR officers, site foremen
    /// and their supervisor.
    activities: ActivitiesClient,
}

impl Clients {
    async fn connect(endpoints: &Endpoints, plan: &QuarterPlan) -> anyhow::Result<Clients> {
        let region = plan.region;
        let staff = &endpoints.staff;
        let registry = clients::connect(&endpoints.registry, "registry", "--registry", "JIGI_REGISTRY_ADDR").await?;
        let payments = clients::connect(
            &endpoints.payments,
            "payments service",
            "--payments",
            "JIGI_PAYMENTS_ADDR",
        )
        .await?;
        let nutrition = clients::connect(
            &endpoints.nutrition,
            "nutrition service",
            "--nutrition",
            "JIGI_NUTRITION_ADDR",
        )
        .await?;
        let activities = clients::connect(
            &endpoints.activities,
            "activities service",
            "--activities",
            "JIGI_ACTIVITIES_ADDR",
        )
        .await?;
        let activities_team = staff.in_region(
            &format!("activities.{region}"),
            &[Role::FieldAgent, Role::RegionalSupervisor],
            region,
            None,
        );
        let registrars = staff.in_region(
            &format!("registrars.{region}"),
            &[Role::FieldAgent, Role::RegionalSupervisor],
            region,
            None,
        );
        let pnp_team = staff.in_region(
            &format!("pnp.{region}"),
            &[Role::RegionalSupervisor, Role::NutritionStoreKeeper, Role::FieldAgent],
            region,
            None,
        );
        Ok(Clients {
            registry: clients::registry_client_as(registry, registrars),
            payments: payments::PaymentOffice::connect(payments, staff, plan),
            nutrition: clients::nutrition_client_as(nutrition, pnp_team),
            activities: clients::activities_client_as(activities, activities_team),
        })
    }
}

/// Runs the quarter in one region.
pub async fn run(endpoints: &Endpoints, plan: &QuarterPlan, bars: &Bars) -> anyhow::Result<QuarterSummary> {
    let clients = Clients::connect(endpoints, plan).await?;
    let mut summary = QuarterSummary {
        region: plan.region.slug().to_owned(),
        period: plan.period().to_string(),
        communes: plan.communes.clone(),
        ..Default::default()
    };
    let enrolled = registry::register_and_enrol(clients.registry.clone(), plan, bars, &mut summary).await?;
    let office = clients.payments.clone();
    let activities_and_their_payments = async {
        let done = activities::run(clients.activities.clone(), plan, bars, &enrolled.activities).await?;
        let (grants, wages) = tokio::try_join!(
            payments::pay(office.clone(), plan, bars, CycleKind::AgrGrant, &done.agr_households),
            payments::pay(office.clone(), plan, bars, CycleKind::HimoWages, &done.himo_households),
        )?;
        Ok::<_, anyhow::Error>((done, grants.totals(), wages.totals()))
    };
    let (paid, fed, (acted, grants, wages)) = tokio::try_join!(
        payments::pay(clients.payments.clone(), plan, bars, CycleKind::Tm, &enrolled.tm),
        nutrition::distribute(clients.nutrition.clone(), plan, bars, &enrolled.beneficiaries),
        activities_and_their_payments,
    )?;
    paid.into_summary(&mut summary);
    fed.into_summary(&mut summary);
    summary.ma_sessions = acted.ma_sessions;
    summary.ma_people = acted.ma_people;
    summary.agr_plans = acted.agr_plans;
    summary.agr_released_fcfa = acted.agr_released_fcfa;
    summary.himo_sites = acted.himo_sites;
    summary.himo_person_days = acted.himo_person_days;
    summary.himo_wages_fcfa = acted.himo_wages_fcfa;
    (summary.agr_paid, summary.agr_paid_fcfa) = (grants.paid, grants.paid_fcfa);
    (summary.himo_paid, summary.himo_paid_fcfa) = (wages.paid, wages.paid_fcfa);
    Ok(summary)
}

/// Runs `call` inside a span of its own and returns its result with the
/// span's trace ID: the trace that carries the call to the service.
async fn traced<T, F>(name: &'static str, region: Region, call: F) -> (T, String)
where
    F: std::future::Future<Output = T>,
{
    use tracing::Instrument;
    let span = tracing::info_span!(target: "jigi_cli", "jigi.cli", otel.name = name, jigi.region = %region);
    let trace_id = span
        .in_scope(jigi_telemetry::current_trace_id)
        .unwrap_or_else(|| "none".to_owned());
    (call.instrument(span).await, trace_id)
}

/// Waits for `check` to return `Some`, polling until `deadline`; `what`
/// names what did not happen in the error.
async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + CATCH_UP;
    let mut pause = Duration::from_millis(10);
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("{what} did not happen within {} s", CATCH_UP.as_secs());
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}
