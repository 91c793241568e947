//! The national picture of a quarter: the figures the monitoring reports
//! per region and in total, beside what the quarter driver did, and the
//! tables the demo prints.

use std::collections::BTreeMap;

use jigi_common::Region;
use jigi_proto::common::{Component, FundingSource, Money, Period};
use jigi_proto::monitoring::{
    Breakdown, BudgetLine, GetBudgetExecutionRequest, GetIndicatorsRequest, IndicatorRow, SetBudgetLineRequest,
};
use serde::{Deserialize, Serialize};

use crate::clients::{MonitoringClient, service_error};
use crate::quarter::QuarterSummary;

/// Quarters in the PTBA's year: a region's TM forecast is four quarters of
/// its frozen list.
pub const QUARTERS: i64 = 4;

/// One row of the national picture: a region, or the whole country (`area` empty).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub area: String,
    pub name: String,
    pub households_registered: i64,
    pub enrolled_tm: i64,
    pub enrolled_pnp: i64,
    pub households_paid: i64,
    pub amount_paid_fcfa: i64,
    pub payments_failed: i64,
    pub payments_not_collected: i64,
    /// Payments made ÷ results reported.
    pub success_rate: f64,
    pub children_reached: i64,
    pub pregnant_women_reached: i64,
    pub lactating_women_reached: i64,
    pub flour_distributed_grams: i64,
    /// The PTBA's TM forecast for the year (the region's funding source).
    pub budget_forecast_fcfa: i64,
    /// What was achieved against it.
    pub budget_achieved_fcfa: i64,
}

impl Figures {
    /// What the driver did in a region, with the forecast it was given.
    pub fn done(summary: &QuarterSummary, forecast: i64) -> Figures {
        let region: Option<Region> = summary.region.parse().ok();
        let reported = summary.paid + summary.failed + summary.not_collected;
        Figures {
            area: summary.region.clone(),
            name: region.map(|r| r.name().to_owned()).unwrap_or_default(),
            households_registered: summary.households_registered,
            enrolled_tm: summary.enrolled_tm,
            enrolled_pnp: summary.enrolled_pnp,
            households_paid: summary.paid,
            amount_paid_fcfa: summary.paid_fcfa,
            payments_failed: summary.failed,
            payments_not_collected: summary.not_collected,
            success_rate: if reported == 0 {
                0.0
            } else {
                summary.paid as f64 / reported as f64
            },
            children_reached: summary.reached.children,
            pregnant_women_reached: summary.reached.pregnant_women,
            lactating_women_reached: summary.reached.lactating_women,
            flour_distributed_grams: summary.flour_distributed_grams,
            budget_forecast_fcfa: forecast,
            budget_achieved_fcfa: summary.paid_fcfa,
        }
    }

    /// The sum of regions' figures: the country.
    pub fn total(parts: &[Figures]) -> Figures {
        let sum = |f: fn(&Figures) -> i64| parts.iter().map(f).sum::<i64>();
        let paid = sum(|f| f.households_paid);
        let reported = paid + sum(|f| f.payments_failed) + sum(|f| f.payments_not_collected);
        Figures {
            area: String::new(),
            name: "Mali".into(),
            households_registered: sum(|f| f.households_registered),
            enrolled_tm: sum(|f| f.enrolled_tm),
            enrolled_pnp: sum(|f| f.enrolled_pnp),
            households_paid: paid,
            amount_paid_fcfa: sum(|f| f.amount_paid_fcfa),
            payments_failed: sum(|f| f.payments_failed),
            payments_not_collected: sum(|f| f.payments_not_collected),
            success_rate: if reported == 0 {
                0.0
            } else {
                paid as f64 / reported as f64
            },
            children_reached: sum(|f| f.children_reached),
            pregnant_women_reached: sum(|f| f.pregnant_women_reached),
            lactating_women_reached: sum(|f| f.lactating_women_reached),
            flour_distributed_grams: sum(|f| f.flour_distributed_grams),
            budget_forecast_fcfa: sum(|f| f.budget_forecast_fcfa),
            budget_achieved_fcfa: sum(|f| f.budget_achieved_fcfa),
        }
    }

    /// Every count, for comparing what was done with what is reported
    /// (rates follow from them).
    pub fn counts(&self) -> [i64; 13] {
        [
            self.households_registered,
            self.enrolled_tm,
            self.enrolled_pnp,
            self.households_paid,
            self.amount_paid_fcfa,
            self.payments_failed,
            self.payments_not_collected,
            self.children_reached,
            self.pregnant_women_reached,
            self.lactating_women_reached,
            self.flour_distributed_grams,
            self.budget_forecast_fcfa,
            self.budget_achieved_fcfa,
        ]
    }

    pub fn flour_tonnes(&self) -> f64 {
        self.flour_distributed_grams as f64 / 1_000_000.0
    }

    pub fn execution_rate(&self) -> f64 {
        if self.budget_forecast_fcfa == 0 {
            0.0
        } else {
            self.budget_achieved_fcfa as f64 / self.budget_forecast_fcfa as f64
        }
    }
}

/// The TM forecast of each funding source: four quarters of the frozen
/// lists of the regions it funds.
pub fn forecasts(summaries: &[QuarterSummary]) -> BTreeMap<i32, i64> {
    let mut forecasts = BTreeMap::new();
    for summary in summaries {
        *forecasts.entry(summary.funding_source).or_default() += QUARTERS * summary.entitled_fcfa;
    }
    forecasts
}

/// Sets the PTBA's TM lines of `year`, one per funding source.
pub async fn set_budget(
    client: &mut MonitoringClient,
    year: i32,
    forecasts: &BTreeMap<i32, i64>,
) -> anyhow::Result<()> {
    for (source, forecast) in forecasts {
        client
            .set_budget_line(SetBudgetLineRequest {
                line: Some(BudgetLine {
                    year,
                    component: Component::Tm as i32,
                    funding_source: *source,
                    forecast: Some(Money { fcfa: *forecast }),
                    ..Default::default()
                }),
            })
            .await
            .map_err(|status| service_error("setting the PTBA's TM line", status))?;
    }
    Ok(())
}

/// What the driver did, per region (with the forecast of its funding
/// source) then in total.
pub fn expected(summaries: &[QuarterSummary]) -> Vec<Figures> {
    let forecasts = forecasts(summaries);
    let mut rows: Vec<Figures> = summaries
        .iter()
        .map(|s| {
            // A source funding several regions: its line is shared, so
            // each region shows the line's forecast and achievement.
            let shared: Vec<&QuarterSummary> = summaries
                .iter()
                .filter(|o| o.funding_source == s.funding_source)
                .collect();
            let mut figures = Figures::done(s, forecasts[&s.funding_source]);
            figures.budget_achieved_fcfa = shared.iter().map(|o| o.paid_fcfa).sum();
            figures
        })
        .collect();
    let mut total = Figures::total(&rows);
    total.budget_forecast_fcfa = forecasts.values().sum();
    total.budget_achieved_fcfa = summaries.iter().map(|s| s.paid_fcfa).sum();
    rows.push(total);
    rows
}

/// What the monitoring reports for `period`, per region of `regions`
/// (slug and the funding source of its cycle, in the order of the rows
/// wanted) then in total, with the PTBA of `year`.
pub async fn reported(
    client: &mut MonitoringClient,
    period: &str,
    year: i32,
    regions: &[(String, i32)],
) -> anyhow::Result<Vec<Figures>> {
    let indicators = |breakdown: Breakdown| GetIndicatorsRequest {
        area: String::new(),
        period: Some(Period { code: period.into() }),
        breakdown: breakdown as i32,
    };
    let by_region = client
        .get_indicators(indicators(Breakdown::Region))
        .await
        .map_err(|status| service_error("reading the national indicators", status))?
        .into_inner()
        .rows;
    let country = client
        .get_indicators(indicators(Breakdown::Unspecified))
        .await
        .map_err(|status| service_error("reading the national indicators", status))?
        .into_inner()
        .rows;
    let budget = client
        .get_budget_execution(GetBudgetExecutionRequest {
            year,
            ..Default::default()
        })
        .await
        .map_err(|status| service_error("reading the budget execution", status))?
        .into_inner();
    let line = |source: i32| {
        budget
            .lines
            .iter()
            .find(|l| {
                l.line
                    .as_ref()
                    .is_some_and(|b| b.component == Component::Tm as i32 && b.funding_source == source)
            })
            .map(|l| {
                (
                    l.line.as_ref().and_then(|b| b.forecast).unwrap_or_default().fcfa,
                    l.achieved.unwrap_or_default().fcfa,
                )
            })
            .unwrap_or_default()
    };
    let mut rows = Vec::new();
    for (slug, source) in regions {
        let row = by_region.iter().find(|r| &r.area == slug).cloned().unwrap_or_default();
        let mut figures = from_row(&row);
        figures.area = slug.clone();
        (figures.budget_forecast_fcfa, figures.budget_achieved_fcfa) = line(*source);
        rows.push(figures);
    }
    let mut total = from_row(&country.into_iter().next().unwrap_or_default());
    total.area = String::new();
    total.name = "Mali".into();
    if let Some(tm) = budget.components.iter().find(|c| c.component == Component::Tm as i32) {
        total.budget_forecast_fcfa = tm.forecast.unwrap_or_default().fcfa;
        total.budget_achieved_fcfa = tm.achieved.unwrap_or_default().fcfa;
    }
    rows.push(total);
    Ok(rows)
}

fn from_row(row: &IndicatorRow) -> Figures {
    let i = row.indicators.clone().unwrap_or_default();
    let enrolled = |component: Component| {
        i.enrolled
            .iter()
            .find(|c| c.component == component as i32)
            .map(|c| c.households)
            .unwrap_or(0)
    };
    Figures {
        area: row.area.clone(),
        name: row.area_name.clone(),
        households_registered: i.households_registered,
        enrolled_tm: enrolled(Component::Tm),
        enrolled_pnp: enrolled(Component::Pnp),
        households_paid: i.households_paid,
        amount_paid_fcfa: i.amount_paid.unwrap_or_default().fcfa,
        payments_failed: i.payments_failed,
        payments_not_collected: i.payments_not_collected,
        success_rate: i.payment_success_rate,
        children_reached: i.pnp_children_reached,
        pregnant_women_reached: i.pnp_pregnant_women_reached,
        lactating_women_reached: i.pnp_lactating_women_reached,
        flour_distributed_grams: i.flour_distributed_grams,
        budget_forecast_fcfa: 0,
        budget_achieved_fcfa: 0,
    }
}

/// A funding source's name for people: `World Bank IDA`.
pub fn source_name(source: i32) -> String {
    match FundingSource::try_from(source) {
        Ok(FundingSource::WorldBankIda) => "World Bank IDA".into(),
        Ok(FundingSource::Dfid) => "DFID".into(),
        Ok(FundingSource::StateBudget) => "State budget".into(),
        Ok(FundingSource::Other) => "other".into(),
        _ => "unspecified".into(),
    }
}

pub fn percent(rate: f64) -> String {
    format!("{:.1} %", rate * 100.0)
}

pub fn tonnes(grams: i64) -> String {
    format!("{:.3}", grams as f64 / 1_000_000.0)
}

/// Sets the PTBA's AGR and HIMO lines of `year`, per region's funding
/// source: every plan's whole grant, and four quarters of the wages due.
pub async fn set_activity_budget(
    client: &mut MonitoringClient,
    year: i32,
    summaries: &[QuarterSummary],
) -> anyhow::Result<()> {
    let mut lines: BTreeMap<(i32, i32), i64> = BTreeMap::new();
    for s in summaries {
        *lines.entry((Component::Agr as i32, s.funding_source)).or_default() += s.agr_plans * crate::quarter::AGR_GRANT;
        *lines.entry((Component::Himo as i32, s.funding_source)).or_default() += QUARTERS * s.himo_wages_fcfa;
    }
    for ((component, source), forecast) in lines {
        client
            .set_budget_line(SetBudgetLineRequest {
                line: Some(BudgetLine {
                    year,
                    component,
                    funding_source: source,
                    forecast: Some(Money { fcfa: forecast }),
                    ..Default::default()
                }),
            })
            .await
            .map_err(|status| service_error("setting the PTBA's AGR and HIMO lines", status))?;
    }
    Ok(())
}

/// MA, AGR and HIMO figures of one region, or of the country (`area` empty).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ComponentFigures {
    pub area: String,
    pub name: String,
    pub ma_sessions: i64,
    pub ma_people: i64,
    pub agr_plans: i64,
    pub agr_grants_released_fcfa: i64,
    pub agr_grants_paid_fcfa: i64,
    pub himo_sites: i64,
    pub himo_mean_delay_days: f64,
    pub himo_person_days: i64,
    pub himo_wages_paid_fcfa: i64,
}

/// The components' figures per region then for the country, and the PTBA
/// per component: (component, forecast, achieved).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Components {
    pub rows: Vec<ComponentFigures>,
    pub budget: Vec<(String, i64, i64)>,
}

/// Reads the components' figures of `period` and the PTBA of `year`.
pub async fn components(client: &mut MonitoringClient, period: &str, year: i32) -> anyhow::Result<Components> {
    let indicators = |breakdown: Breakdown| GetIndicatorsRequest {
        area: String::new(),
        period: Some(Period { code: period.into() }),
        breakdown: breakdown as i32,
    };
    let mut rows = Vec::new();
    for breakdown in [Breakdown::Region, Breakdown::Unspecified] {
        let answer = client
            .get_indicators(indicators(breakdown))
            .await
            .map_err(|status| service_error("reading the national indicators", status))?
            .into_inner()
            .rows;
        for row in answer {
            let i = row.indicators.unwrap_or_default();
            rows.push(ComponentFigures {
                name: if breakdown == Breakdown::Unspecified {
                    "Mali".into()
                } else {
                    row.area_name.clone()
                },
                area: if breakdown == Breakdown::Unspecified {
                    String::new()
                } else {
                    row.area
                },
                ma_sessions: i.ma_sessions_held,
                ma_people: i.ma_people_reached,
                agr_plans: i.agr_business_plans,
                agr_grants_released_fcfa: i.agr_grants_released.unwrap_or_default().fcfa,
                agr_grants_paid_fcfa: i.agr_grants_paid.unwrap_or_default().fcfa,
                himo_sites: i.himo_sites_started,
                himo_mean_delay_days: i.himo_mean_start_delay_days,
                himo_person_days: i.himo_person_days,
                himo_wages_paid_fcfa: i.himo_wages_paid.unwrap_or_default().fcfa,
            });
        }
    }
    let budget = client
        .get_budget_execution(GetBudgetExecutionRequest {
            year,
            ..Default::default()
        })
        .await
        .map_err(|status| service_error("reading the budget execution", status))?
        .into_inner();
    let mut by_component: Vec<(String, i64, i64)> = budget
        .components
        .iter()
        .map(|c| {
            let name = jigi_common::Component::from_proto(c.component)
                .map(|c| c.code().to_owned())
                .unwrap_or_default();
            (
                name,
                c.forecast.unwrap_or_default().fcfa,
                c.achieved.unwrap_or_default().fcfa,
            )
        })
        .collect();
    by_component.push((
        "total".into(),
        budget.forecast.unwrap_or_default().fcfa,
        budget.achieved.unwrap_or_default().fcfa,
    ));
    Ok(Components {
        rows,
        budget: by_component,
    })
}
