//! The operator commands, one module per area.

pub mod activities;
pub mod audit;
pub mod cycles;
pub mod duplicates;
pub mod events;
pub mod households;
pub mod monitoring;
pub mod nutrition;
pub mod partners;
pub mod token;
pub mod up;

/// Today's date as the APIs write it (UTC, as the services count days).
pub fn today() -> String {
    chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string()
}

/// Prints `value` as pretty JSON.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
