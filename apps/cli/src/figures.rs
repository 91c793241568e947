//! The national figures as a table, for `jigi demo`.

use jigi_common::Fcfa;
use jigi_stack::national::{Figures, percent, tonnes};

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
