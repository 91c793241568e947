//! The monitoring's figures as API messages.

use std::collections::BTreeMap;

use jigi_common::Component;
use jigi_proto::common::Money;
use jigi_proto::monitoring as pm;

use crate::app::{CycleIndicators, Freshness, IndicatorRow, RoundFigures, RoundState, reconciled};
use crate::domain::budget::{BudgetLine, execution_rate};
use crate::domain::freshness::Status;
use crate::domain::indicators::rate;

pub fn money(fcfa: i64) -> Option<Money> {
    Some(Money { fcfa })
}

pub fn indicator_row(row: IndicatorRow) -> pm::IndicatorRow {
    let i = &row.indicators;
    let counts = |map: &BTreeMap<Component, i64>| {
        Component::ALL
            .into_iter()
            .map(|component| pm::ComponentCount {
                component: component.to_proto() as i32,
                households: *map.get(&component).unwrap_or(&0),
            })
            .collect()
    };
    pm::IndicatorRow {
        period: row.period.to_string(),
        indicators: Some(pm::Indicators {
            households_registered: i.households_registered,
            households_registered_in_period: i.households_registered_in_period,
            enrolled: counts(&i.enrolled),
            exits: counts(&i.exits),
            households_paid: i.households_paid,
            amount_paid: money(i.amount_paid),
            payments_made: i.payments_made,
            payments_failed: i.payments_failed,
            payments_not_collected: i.payments_not_collected,
            payment_success_rate: i.payment_success_rate(),
            amount_outstanding: money(i.amount_outstanding),
            pnp_children_reached: i.pnp_children_reached,
            pnp_pregnant_women_reached: i.pnp_pregnant_women_reached,
            pnp_lactating_women_reached: i.pnp_lactating_women_reached,
            flour_distributed_grams: i.flour_distributed_grams,
            flour_distributed_tonnes: i.flour_distributed_tonnes(),
            stock_on_hand_grams: i.stock_on_hand_grams,
            pilot_communes_covered: i.pilot_communes_covered,
            ma_sessions_held: i.ma_sessions_held,
            ma_households_reached: i.ma_households_reached,
            ma_people_reached: i.ma_people_reached,
            ma_by_theme: i
                .ma_by_theme
                .iter()
                .map(|(theme, (sessions, people))| pm::MaThemeReach {
                    theme: theme.clone(),
                    sessions: *sessions,
                    people: *people,
                })
                .collect(),
            ma_by_group: i
                .ma_by_group
                .iter()
                .map(|((sex, age_group), people)| pm::MaGroupReach {
                    sex: *sex,
                    age_group: age_group.clone(),
                    people: *people,
                })
                .collect(),
            agr_business_plans: i.agr_business_plans,
            agr_tranches_released: i.agr_tranches_released,
            agr_grants_released: money(i.agr_grants_released),
            agr_follow_up_visits: i.agr_follow_up_visits,
            agr_activities_running: i.agr_activities_running,
            agr_grants_paid: money(i.agr_grants_paid),
            himo_sites_started: i.himo_sites_started,
            himo_sites_started_late: i.himo_sites_started_late,
            himo_mean_start_delay_days: i.himo_mean_start_delay_days(),
            himo_person_days: i.himo_person_days,
            himo_women_person_days: i.himo_women_person_days,
            himo_households_working: i.himo_households_working,
            himo_wages_due: money(i.himo_wages_due),
            himo_wages_paid: money(i.himo_wages_paid),
        }),
        area: row.area,
        area_name: row.area_name,
    }
}

pub fn cycle(c: CycleIndicators) -> pm::CycleIndicators {
    pm::CycleIndicators {
        payment_success_rate: rate(
            c.households_paid,
            c.households_paid + c.payments_failed + c.payments_not_collected,
        ),
        amount_outstanding: money((c.expected_amount - c.amount_paid).max(0)),
        cycle_id: c.cycle_id,
        region: c.region,
        period: c.period,
        funding_source: c.funding_source,
        expected_households: c.expected_households,
        expected_amount: money(c.expected_amount),
        households_paid: c.households_paid,
        amount_paid: money(c.amount_paid),
        payments_failed: c.payments_failed,
        payments_not_collected: c.payments_not_collected,
        status: c.status,
    }
}

fn groups([children, pregnant_women, lactating_women]: [i64; 3]) -> Option<pm::PnpGroups> {
    Some(pm::PnpGroups {
        children,
        pregnant_women,
        lactating_women,
    })
}

pub fn round_state(state: RoundState) -> pm::RoundState {
    match state {
        RoundState::Open => pm::RoundState::Open,
        RoundState::Closed => pm::RoundState::Closed,
    }
}

pub fn round(r: RoundFigures) -> pm::RoundIndicators {
    pm::RoundIndicators {
        state: round_state(RoundState::of(&r)) as i32,
        reconciled: reconciled(&r),
        control: r.control.as_ref().map(|c| pm::RoundControlTotals {
            planned: groups(c.planned),
            reached: groups(c.reached),
            distributed_grams: c.distributed_grams,
            stock_on_hand_grams: c.stock_on_hand_grams,
        }),
        flour_distributed_tonnes: r.distributed_grams as f64 / 1_000_000.0,
        round_id: r.round_id,
        region: r.region,
        year: r.year,
        number: r.number,
        period: r.period,
        starts_on: r.starts_on,
        ends_on: r.ends_on,
        closed_on: r.closed_on,
        pilot_communes: r.pilot_communes,
        households_served: r.households_served,
        served: groups(r.served),
        rations: r.rations,
        flour_distributed_grams: r.distributed_grams,
        flour_lost_grams: r.lost_grams,
    }
}

pub fn budget_line(line: &BudgetLine) -> pm::BudgetLine {
    pm::BudgetLine {
        year: line.year,
        component: line.component.to_proto() as i32,
        funding_source: funding_source(line.funding_source) as i32,
        forecast: money(line.forecast_fcfa),
        region: line.region.clone(),
    }
}

pub fn funding_source(source: crate::domain::budget::FundingSource) -> jigi_proto::common::FundingSource {
    use crate::domain::budget::FundingSource as F;
    use jigi_proto::common::FundingSource as W;
    match source {
        F::Unnamed => W::Unspecified,
        F::WorldBankIda => W::WorldBankIda,
        F::Dfid => W::Dfid,
        F::StateBudget => W::StateBudget,
        F::Other => W::Other,
    }
}

/// A year's execution: per line, per component and overall.
pub fn budget_execution(fresh: crate::app::Fresh<Vec<crate::app::LineExecution>>) -> pm::GetBudgetExecutionResponse {
    let execution = &fresh.value;
    let mut per_component: BTreeMap<Component, (i64, i64)> = BTreeMap::new();
    for line in execution {
        let totals = per_component.entry(line.line.component).or_default();
        totals.0 += line.line.forecast_fcfa;
        totals.1 += line.achieved;
    }
    let forecast: i64 = execution.iter().map(|l| l.line.forecast_fcfa).sum();
    let achieved: i64 = execution.iter().map(|l| l.achieved).sum();
    pm::GetBudgetExecutionResponse {
        lines: execution
            .iter()
            .map(|l| pm::BudgetLineExecution {
                line: Some(budget_line(&l.line)),
                achieved: money(l.achieved),
                execution_rate: execution_rate(l.achieved, l.line.forecast_fcfa),
            })
            .collect(),
        components: per_component
            .into_iter()
            .map(|(component, (forecast, achieved))| pm::ComponentExecution {
                component: component.to_proto() as i32,
                forecast: money(forecast),
                achieved: money(achieved),
                execution_rate: execution_rate(achieved, forecast),
            })
            .collect(),
        forecast: money(forecast),
        achieved: money(achieved),
        execution_rate: execution_rate(achieved, forecast),
        freshness: fresh.freshness.into_iter().map(region_freshness).collect(),
        as_of: Some(as_of(fresh.as_of)),
    }
}

/// How far into the national stream an answer goes.
pub fn as_of(as_of: crate::app::AsOf) -> pm::DataAsOf {
    pm::DataAsOf {
        applied_at: timestamp(as_of.applied_at),
        stream_sequence: as_of.stream_sequence,
        events_waiting: as_of.events_waiting,
    }
}

pub fn region_freshness(f: Freshness) -> pm::RegionFreshness {
    pm::RegionFreshness {
        region: f.region.slug().to_owned(),
        status: match f.status {
            Status::Live => pm::FreshnessStatus::Live,
            Status::Silent => pm::FreshnessStatus::Silent,
            Status::NeverHeard => pm::FreshnessStatus::NeverHeard,
        } as i32,
        last_received_at: timestamp(f.last_received_at),
        last_event_time: timestamp(f.last_event_time),
        lag_p50_seconds: f.lag_p50,
        lag_p99_seconds: f.lag_p99,
        events_received: f.events_received,
        stream_sequence: f.stream_sequence,
    }
}

fn timestamp(at: Option<chrono::DateTime<chrono::Utc>>) -> Option<prost_types::Timestamp> {
    at.map(|at| prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    })
}
