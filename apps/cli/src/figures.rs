//! The national figures as a table, for `jigi demo`.

use jigi_common::Fcfa;
use jigi_stack::national::{Components, Figures, percent, tonnes};

use crate::table;

/// Prints the two tables of the national picture.
pub fn print(rows: &[Figures], period: &str, year: i32) {
    println!("\nHouseholds and cash transfers (TM), {period}");
    let money = |fcfa: i64| Fcfa::new(fcfa).to_string().trim_end_matches(" FCFA").to_owned();
    table::print(
        &[
            "region",
            ">registered",
            ">enrolled TM",
            ">enrolled PNP",
            ">paid",
            ">failed",
            ">not collected",
            ">amount paid (FCFA)",
            ">success rate",
        ],
        &rows
            .iter()
            .map(|f| {
                vec![
                    f.name.clone(),
                    f.households_registered.to_string(),
                    f.enrolled_tm.to_string(),
                    f.enrolled_pnp.to_string(),
                    f.households_paid.to_string(),
                    f.payments_failed.to_string(),
                    f.payments_not_collected.to_string(),
                    money(f.amount_paid_fcfa),
                    percent(f.success_rate),
                ]
            })
            .collect::<Vec<_>>(),
    );
    println!("\nNutrition (PNP), {period}, and budget execution (PTBA {year}, TM)");
    table::print(
        &[
            "region",
            ">children",
            ">pregnant women",
            ">lactating women",
            ">flour (t)",
            ">forecast (FCFA)",
            ">achieved (FCFA)",
            ">execution",
        ],
        &rows
            .iter()
            .map(|f| {
                vec![
                    f.name.clone(),
                    f.children_reached.to_string(),
                    f.pregnant_women_reached.to_string(),
                    f.lactating_women_reached.to_string(),
                    tonnes(f.flour_distributed_grams),
                    money(f.budget_forecast_fcfa),
                    money(f.budget_achieved_fcfa),
                    percent(f.execution_rate()),
                ]
            })
            .collect::<Vec<_>>(),
    );
}

/// Prints the accompanying measures, AGR and HIMO per region, and the PTBA
/// executed per component.
pub fn print_components(components: &Components, period: &str, year: i32) {
    let money = |fcfa: i64| Fcfa::new(fcfa).to_string().trim_end_matches(" FCFA").to_owned();
    println!(
        "\nAccompanying measures (MA), income-generating activities (AGR), labour-intensive works (HIMO), {period}"
    );
    table::print(
        &[
            "region",
            ">MA sessions",
            ">MA people",
            ">AGR plans",
            ">AGR released",
            ">AGR paid",
            ">HIMO sites",
            ">set-up delay (d)",
            ">person-days",
            ">HIMO wages paid",
        ],
        &components
            .rows
            .iter()
            .map(|c| {
                vec![
                    c.name.clone(),
                    c.ma_sessions.to_string(),
                    c.ma_people.to_string(),
                    c.agr_plans.to_string(),
                    money(c.agr_grants_released_fcfa),
                    money(c.agr_grants_paid_fcfa),
                    c.himo_sites.to_string(),
                    format!("{:.1}", c.himo_mean_delay_days),
                    c.himo_person_days.to_string(),
                    money(c.himo_wages_paid_fcfa),
                ]
            })
            .collect::<Vec<_>>(),
    );
    println!("\nPTBA {year}: execution by component");
    table::print(
        &["component", ">forecast (FCFA)", ">achieved (FCFA)", ">execution"],
        &components
            .budget
            .iter()
            .map(|(component, forecast, achieved)| {
                let rate = if *forecast == 0 {
                    0.0
                } else {
                    *achieved as f64 / *forecast as f64
                };
                vec![component.clone(), money(*forecast), money(*achieved), percent(rate)]
            })
            .collect::<Vec<_>>(),
    );
}
