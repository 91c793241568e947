//! Registering, targeting and enrolling the region's households.

use std::collections::HashSet;

use futures::StreamExt;
use jigi_common::{Geography, Region};
use jigi_proto::common::{Component, Sex};
use jigi_proto::registry::{
    EnrolHouseholdRequest, Household, ImportHouseholdsRequest, ImportRowOutcome, ListHouseholdsRequest, MemberStatus,
};
use jigi_registry::sample::HouseholdGenerator;

use super::{Group, KeyTrace, QuarterPlan, QuarterSummary, traced};
use crate::clients::{RegistryClient, service_error};
use crate::progress::Bars;

/// Enrolments in flight at once.
const CONCURRENCY: usize = 8;

/// A person the PNP should feed on the round's day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beneficiary {
    pub member_id: String,
    pub household_id: String,
    pub commune: String,
    pub group: Group,
}

/// A household enrolled in the accompanying measures and, for some, AGR
/// and HIMO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityHousehold {
    pub household_id: String,
    pub commune: String,
    /// Members present (MA sessions are for the whole family).
    pub people: Vec<String>,
    /// Enrolled in AGR.
    pub agr: bool,
    /// Enrolled in HIMO, with its worker: a member aged 18 to 64 today.
    pub worker: Option<String>,
}

/// Who was enrolled.
pub struct Enrolled {
    /// Households enrolled in TM.
    pub tm: Vec<String>,
    /// The people of the households enrolled in the PNP who are in a group today.
    pub beneficiaries: Vec<Beneficiary>,
    /// Households enrolled in MA (every TM household), AGR and HIMO.
    pub activities: Vec<ActivityHousehold>,
}

/// MA for every TM household; AGR for one in three; HIMO for every other
/// household that has a member of working age (the programme's three
/// components beside the transfers, on a share of the same households).
fn activity_household(index: usize, household: &Household, plan: &QuarterPlan) -> ActivityHousehold {
    let present = |m: &&jigi_proto::registry::Member| {
        m.status == MemberStatus::Present as i32 || m.status == MemberStatus::Unspecified as i32
    };
    let working_age = |m: &&jigi_proto::registry::Member| {
        m.birth_date.parse::<chrono::NaiveDate>().is_ok_and(|birth| {
            let age = jigi_common::date::age_in_months(birth, plan.today) / 12;
            (18..=64).contains(&age)
        })
    };
    ActivityHousehold {
        household_id: household.household_id.clone(),
        commune: household
            .location
            .as_ref()
            .map(|l| l.commune.clone())
            .unwrap_or_default(),
        people: household
            .members
            .iter()
            .filter(present)
            .map(|m| m.member_id.clone())
            .collect(),
        agr: index.is_multiple_of(3),
        worker: index
            .is_multiple_of(2)
            .then(|| household.members.iter().filter(present).find(working_age))
            .flatten()
            .map(|m| m.member_id.clone()),
    }
}

pub async fn register_and_enrol(
    mut client: RegistryClient,
    plan: &QuarterPlan,
    bars: &Bars,
    summary: &mut QuarterSummary,
) -> anyhow::Result<Enrolled> {
    let region = plan.region;
    let prefix = region.slug();
    let communes: Vec<&str> = plan.communes.iter().map(String::as_str).collect();
    let generator = HouseholdGenerator::new(&Geography::built_in(), region, &communes, plan.today, plan.seed);

    // 1. Import, streamed, as a field data import is.
    let bar = bars.bar(prefix, "importing households", plan.households, "households");
    // Generated heads and ID cards are a function of the index: each region
    // draws from its own range, or the national linkage index would find
    // every household of one region registered again in the other.
    let first = Region::ALL.iter().position(|r| *r == region).unwrap_or(0) as u64 * 1_000_000;
    let rows: Vec<ImportHouseholdsRequest> = (0..plan.households)
        .map(|index| ImportHouseholdsRequest {
            row: index as i64 + 1,
            household: Some(generator.household(first + index)),
        })
        .collect();
    let counter = bar.clone();
    let stream = tokio_stream::StreamExt::map(tokio_stream::iter(rows), move |row| {
        counter.inc(1);
        row
    });
    let imported = client
        .import_households(stream)
        .await
        .map_err(|status| service_error(&format!("importing households into {region}"), status))?
        .into_inner();
    bar.finish_with_message("households imported");
    summary.households_registered = imported.registered;
    let registered: HashSet<String> = imported
        .results
        .iter()
        .filter(|r| r.outcome == ImportRowOutcome::Registered as i32)
        .map(|r| r.household_id.clone())
        .collect();

    // 2. Targeting: the PMT's eligible households among those just registered.
    let eligible: Vec<Household> = list_eligible(&mut client, plan)
        .await?
        .into_iter()
        .filter(|h| registered.contains(&h.household_id))
        .collect();
    summary.pmt_eligible = eligible.len() as i64;
    let mut beneficiaries = Vec::new();
    let mut pnp = Vec::new();
    for household in &eligible {
        let people = targets(household, plan);
        if !people.is_empty() {
            pnp.push(household.household_id.clone());
            beneficiaries.extend(people);
        }
    }
    let tm: Vec<String> = eligible.iter().map(|h| h.household_id.clone()).collect();
    let activities: Vec<ActivityHousehold> = eligible
        .iter()
        .enumerate()
        .map(|(index, household)| activity_household(index, household, plan))
        .collect();

    // 3. Enrolment: TM for every eligible household, PNP for those with a target.
    let requests: Vec<EnrolHouseholdRequest> = tm
        .iter()
        .map(|id| enrolment(id, Component::Tm, plan))
        .chain(pnp.iter().map(|id| enrolment(id, Component::Pnp, plan)))
        .chain(activities.iter().flat_map(|h| {
            let mut components = vec![Component::Ma];
            if h.agr {
                components.push(Component::Agr);
            }
            if h.worker.is_some() {
                components.push(Component::Himo);
            }
            components
                .into_iter()
                .map(|component| enrolment(&h.household_id, component, plan))
        }))
        .collect();
    let bar = bars.bar(
        prefix,
        "enrolling (TM, PNP, MA, AGR, HIMO)",
        requests.len() as u64,
        "enrolments",
    );
    let mut requests = requests.into_iter();
    if let Some(first) = requests.next() {
        let mut first_client = client.clone();
        let (result, trace_id) = traced("enrol a household", region, async move {
            first_client.enrol_household(first).await
        })
        .await;
        result.map_err(|status| service_error(&format!("enrolling a household of {region}"), status))?;
        summary.traces.push(KeyTrace {
            action: "enrol a household in TM".into(),
            trace_id,
        });
        bar.inc(1);
    }
    let mut calls = futures::stream::iter(requests.map(|request| {
        let mut client = client.clone();
        async move { client.enrol_household(request).await }
    }))
    .buffer_unordered(CONCURRENCY);
    while let Some(result) = calls.next().await {
        result.map_err(|status| service_error(&format!("enrolling a household of {region}"), status))?;
        bar.inc(1);
    }
    bar.finish_with_message("households enrolled");
    summary.enrolled_tm = tm.len() as i64;
    summary.enrolled_pnp = pnp.len() as i64;
    summary.enrolled_ma = activities.len() as i64;
    summary.enrolled_agr = activities.iter().filter(|h| h.agr).count() as i64;
    summary.enrolled_himo = activities.iter().filter(|h| h.worker.is_some()).count() as i64;
    Ok(Enrolled {
        tm,
        beneficiaries,
        activities,
    })
}

fn enrolment(household_id: &str, component: Component, plan: &QuarterPlan) -> EnrolHouseholdRequest {
    EnrolHouseholdRequest {
        household_id: household_id.to_owned(),
        component: component as i32,
        enrolled_on: plan.date(),
        committee_override: String::new(),
    }
}

/// Every household of the plan's communes that the PMT finds eligible.
async fn list_eligible(client: &mut RegistryClient, plan: &QuarterPlan) -> anyhow::Result<Vec<Household>> {
    let mut all = Vec::new();
    for commune in &plan.communes {
        let mut page_token = String::new();
        loop {
            let page = client
                .list_households(ListHouseholdsRequest {
                    area: commune.clone(),
                    eligible_only: true,
                    page_size: 1_000,
                    page_token: page_token.clone(),
                    ..Default::default()
                })
                .await
                .map_err(|status| service_error("listing eligible households", status))?
                .into_inner();
            all.extend(page.households);
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
    }
    Ok(all)
}

/// The members of `household` the PNP feeds on the plan's day, by the
/// nutrition service's own rule (6–59 months; pregnant; lactating).
fn targets(household: &Household, plan: &QuarterPlan) -> Vec<Beneficiary> {
    let commune = household
        .location
        .as_ref()
        .map(|l| l.commune.clone())
        .unwrap_or_default();
    household
        .members
        .iter()
        .filter(|m| m.status == MemberStatus::Present as i32 || m.status == MemberStatus::Unspecified as i32)
        .filter_map(|m| {
            let birth_date = m.birth_date.parse().ok()?;
            let female = Sex::try_from(m.sex) == Ok(Sex::Female);
            let group = Group::on(birth_date, female, m.pregnant, m.lactating, plan.today)?;
            Some(Beneficiary {
                member_id: m.member_id.clone(),
                household_id: household.household_id.clone(),
                commune: commune.clone(),
                group,
            })
        })
        .collect()
}
