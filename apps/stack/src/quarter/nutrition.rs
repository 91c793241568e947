//! The quarter's PNP round: warehouses, flour received, a ration to every
//! eligible person of the pilot communes.

use std::collections::{BTreeMap, HashMap};

use chrono::Datelike;
use jigi_common::Geography;
use jigi_proto::nutrition::{
    DistributionLine, DistributionOutcome, ListBeneficiariesRequest, OpenRoundRequest, Rations, ReceiveStockRequest,
    RecordDistributionBatchRequest, RecordDistributionRequest, RegisterWarehouseRequest,
};

use super::registry::Beneficiary;
use super::{Group, Groups, KeyTrace, QuarterPlan, QuarterSummary, traced, wait_for};
use crate::clients::{NutritionClient, service_error};
use crate::progress::Bars;

/// Lines per `RecordDistributionBatch` call.
const BATCH: usize = 500;
/// Flour comes in bags of 25 kg.
const BAG_GRAMS: i64 = 25_000;

/// The round's rations, in grams.
pub const RATIONS: Rations = Rations {
    child_grams: 3_000,
    pregnant_woman_grams: 4_500,
    lactating_woman_grams: 4_500,
};

fn ration(group: Group) -> i64 {
    match group {
        Group::Child => RATIONS.child_grams,
        Group::PregnantWoman => RATIONS.pregnant_woman_grams,
        Group::LactatingWoman => RATIONS.lactating_woman_grams,
    }
}

/// What the round did.
#[derive(Debug, Default)]
pub struct Fed {
    round_id: String,
    warehouses: i64,
    flour_received_grams: i64,
    beneficiaries: i64,
    reached: Groups,
    flour_distributed_grams: i64,
    traces: Vec<KeyTrace>,
}

impl Fed {
    pub fn into_summary(self, summary: &mut QuarterSummary) {
        summary.round_id = self.round_id;
        summary.warehouses = self.warehouses;
        summary.flour_received_grams = self.flour_received_grams;
        summary.beneficiaries = self.beneficiaries;
        summary.reached = self.reached;
        summary.flour_distributed_grams = self.flour_distributed_grams;
        summary.traces.extend(self.traces);
    }
}

/// The warehouse of a commune: `gouanan-1` for `sikasso.yanfolila.gouanan`.
pub fn warehouse_of(commune: &str) -> String {
    format!("{}-1", commune.rsplit('.').next().unwrap_or(commune))
}

pub async fn distribute(
    mut client: NutritionClient,
    plan: &QuarterPlan,
    bars: &Bars,
    beneficiaries: &[Beneficiary],
) -> anyhow::Result<Fed> {
    let region = plan.region;
    let date = plan.date();
    let geography = Geography::built_in();
    let mut fed = Fed {
        beneficiaries: beneficiaries.len() as i64,
        ..Default::default()
    };
    let mut by_commune: BTreeMap<&str, Vec<&Beneficiary>> = BTreeMap::new();
    for commune in &plan.communes {
        by_commune.insert(commune, Vec::new());
    }
    for beneficiary in beneficiaries {
        by_commune
            .entry(beneficiary.commune.as_str())
            .or_default()
            .push(beneficiary);
    }

    // The nutrition service learns who is eligible from the registry's events.
    for (commune, expected) in &by_commune {
        wait_for(
            &format!("the nutrition service of {region} learning of every beneficiary in {commune}"),
            || {
                let mut client = client.clone();
                let (commune, date) = (commune.to_string(), date.clone());
                async move {
                    let mut listed = HashMap::new();
                    let mut page_token = String::new();
                    loop {
                        let page = client
                            .list_beneficiaries(ListBeneficiariesRequest {
                                area: commune.clone(),
                                on: date.clone(),
                                page_size: 1_000,
                                page_token,
                            })
                            .await
                            .map_err(|status| service_error("listing beneficiaries", status))?
                            .into_inner();
                        for b in page.beneficiaries {
                            listed.insert(b.member_id, b.group);
                        }
                        if page.next_page_token.is_empty() {
                            break;
                        }
                        page_token = page.next_page_token;
                    }
                    let all_known = expected
                        .iter()
                        .all(|b| listed.get(&b.member_id) == Some(&(b.group.to_proto() as i32)));
                    Ok(all_known.then_some(()))
                }
            },
        )
        .await?;
    }

    // A warehouse per pilot commune, and flour for everyone in it (whole bags).
    let year = plan.today.year();
    for (commune, people) in &by_commune {
        let warehouse_id = warehouse_of(commune);
        let name = geography.get(commune).map(|a| a.name.clone()).unwrap_or_default();
        client
            .register_warehouse(RegisterWarehouseRequest {
                warehouse_id: warehouse_id.clone(),
                name: format!("Magasin de {name}"),
                commune: commune.to_string(),
            })
            .await
            .map_err(|status| service_error(&format!("registering the warehouse of {commune}"), status))?;
        fed.warehouses += 1;
        let needed: i64 = people.iter().map(|b| ration(b.group)).sum();
        let grams = (needed / BAG_GRAMS + 1) * BAG_GRAMS;
        client
            .receive_stock(ReceiveStockRequest {
                request_id: format!("receipt-{warehouse_id}-{}", plan.period()),
                warehouse_id: warehouse_id.clone(),
                lot_number: format!("LOT-{year}-{}", region.slug().to_ascii_uppercase()),
                expires_on: (plan.today + chrono::Days::new(180)).format("%Y-%m-%d").to_string(),
                grams,
                received_on: date.clone(),
                waybill: format!("BL-{}-{warehouse_id}", plan.period()),
            })
            .await
            .map_err(|status| service_error(&format!("receiving flour into {warehouse_id}"), status))?;
        fed.flour_received_grams += grams;
    }

    let round = client
        .open_round(OpenRoundRequest {
            year,
            number: plan.today.month0() as i32 / 3 + 1,
            starts_on: date.clone(),
            ends_on: (plan.today + chrono::Days::new(30)).format("%Y-%m-%d").to_string(),
            communes: plan.communes.clone(),
            rations: Some(RATIONS),
        })
        .await
        .map_err(|status| service_error(&format!("opening the PNP round of {region}"), status))?
        .into_inner()
        .round
        .unwrap_or_default();
    fed.round_id = round.round_id.clone();

    let bar = bars.bar(
        region.slug(),
        "distributing flour",
        beneficiaries.len() as u64,
        "rations",
    );
    let mut first = true;
    for (commune, people) in &by_commune {
        let warehouse_id = warehouse_of(commune);
        let mut people = people.iter();
        if first && let Some(person) = people.next() {
            first = false;
            let mut single = client.clone();
            let request = RecordDistributionRequest {
                request_id: format!("{}-{}", round.round_id, person.member_id),
                round_id: round.round_id.clone(),
                warehouse_id: warehouse_id.clone(),
                household_id: person.household_id.clone(),
                member_id: person.member_id.clone(),
                distributed_on: date.clone(),
            };
            let (recorded, trace_id) = traced("distribute a ration", region, async move {
                single.record_distribution(request).await
            })
            .await;
            let distribution = recorded
                .map_err(|status| service_error("recording a distribution", status))?
                .into_inner()
                .distribution
                .unwrap_or_default();
            fed.traces.push(KeyTrace {
                action: "distribute a ration".into(),
                trace_id,
            });
            count(&mut fed, person.group, distribution.grams);
            bar.inc(1);
        }
        let rest: Vec<&&Beneficiary> = people.collect();
        for (number, batch) in rest.chunks(BATCH).enumerate() {
            let lines = batch
                .iter()
                .enumerate()
                .map(|(index, person)| DistributionLine {
                    line: (number * BATCH + index + 1) as i64,
                    household_id: person.household_id.clone(),
                    member_id: person.member_id.clone(),
                    distributed_on: date.clone(),
                })
                .collect();
            let answer = client
                .record_distribution_batch(RecordDistributionBatchRequest {
                    request_id: format!("{}-{warehouse_id}-{}", round.round_id, number + 1),
                    round_id: round.round_id.clone(),
                    warehouse_id: warehouse_id.clone(),
                    lines,
                })
                .await
                .map_err(|status| service_error("recording distributions", status))?
                .into_inner();
            for (person, result) in batch.iter().zip(&answer.results) {
                if result.outcome != DistributionOutcome::Recorded as i32 {
                    let refusal = result.refusal.clone().unwrap_or_default();
                    anyhow::bail!(
                        "recording distributions failed: the nutrition service refused person {}: {}",
                        person.member_id,
                        refusal.message
                    );
                }
                let grams = result.distribution.as_ref().map(|d| d.grams).unwrap_or_default();
                count(&mut fed, person.group, grams);
            }
            bar.inc(batch.len() as u64);
        }
    }
    bar.finish_with_message("flour distributed");
    Ok(fed)
}

fn count(fed: &mut Fed, group: Group, grams: i64) {
    match group {
        Group::Child => fed.reached.children += 1,
        Group::PregnantWoman => fed.reached.pregnant_women += 1,
        Group::LactatingWoman => fed.reached.lactating_women += 1,
    }
    fed.flour_distributed_grams += grams;
}
