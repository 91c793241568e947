//! `jigi`: how a person runs and operates Jigi.
//!
//! - `jigi demo`: a local stack (NATS hub, leaf nodes for Sikasso and Mopti,
//!   the four services) and a whole programme quarter run on it, then the
//!   national indicators;
//! - `jigi up`: the local stack in the foreground, for trying things by hand;
//! - operator commands against running services: `households`, `cycles`,
//!   `nutrition`, `indicators`, `budget`, `events`, `export`.
//!
//! Errors are one line on stderr (what failed, why, what to do) and a
//! non-zero exit. The local stack, the quarter driver and the national
//! figures are `jigi_stack`'s, which the end-to-end tests use too; this
//! crate is the command line around them.

pub mod address;
pub mod commands;
pub mod csv_format;
pub mod demo;
pub mod figures;
pub mod import;
pub mod json;
pub mod results;
pub mod table;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use address::service_error;

/// Jigi runs a national social safety net: a registry of poor households
/// (RSU), quarterly cash transfers (TM), a preventive nutrition package
/// (PNP), and a national view of it all.
///
/// Operator commands find the services through flags or environment
/// variables (JIGI_REGISTRY_ADDR, JIGI_PAYMENTS_ADDR, JIGI_NUTRITION_ADDR, JIGI_ACTIVITIES_ADDR,
/// JIGI_MONITORING_ADDR, JIGI_NATS_URL); `jigi up` prints them. Their calls
/// carry the bearer token in JIGI_TOKEN (see `jigi token`).
#[derive(Parser, Debug)]
#[command(name = "jigi", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a whole programme quarter on a local stack and print the national indicators.
    ///
    /// Starts a NATS hub with leaf nodes for Sikasso and Mopti, the registry,
    /// payments and nutrition services of each region and the national
    /// monitoring; imports households, targets and enrols them, pays a TM
    /// cycle, distributes a PNP round; prints the indicators per region and
    /// in total, and the trace IDs of key actions. Ctrl-C stops it cleanly.
    ///
    /// Example: jigi demo --households 300 --data ./jigi-demo
    Demo(demo::DemoArgs),
    /// Run the local stack in the foreground until Ctrl-C, for trying things by hand.
    ///
    /// Prints every service's address and the variables to export so the
    /// other commands find them.
    ///
    /// Example: jigi up --data ./jigi-local
    Up(commands::up::UpArgs),
    /// Households of a running registry: import a CSV, show one, enrol one.
    ///
    /// Example: jigi households import examples/households-sample.csv
    #[command(subcommand)]
    Households(commands::households::HouseholdsCommand),
    /// Payment cycles (TM) of a running payments service: open, assign, freeze, approve, reconcile.
    ///
    /// Example: jigi cycles open --funding-source dfid --by a.traore
    #[command(subcommand)]
    Cycles(commands::cycles::CyclesCommand),
    /// The nutrition package (PNP) of a running nutrition service: warehouses,
    /// flour received, rounds, distributions, reports.
    ///
    /// Example: jigi nutrition report sikasso-2018-r2
    #[command(subcommand)]
    Nutrition(commands::nutrition::NutritionCommand),
    /// Accompanying measures (MA), income-generating activities (AGR) and
    /// labour-intensive works (HIMO) of a running activities service:
    /// sessions, business plans, tranches, visits, work sites, attendance, wages.
    ///
    /// Example: jigi activities wages gouanan-piste-1 --period 2018Q3
    #[command(subcommand)]
    Activities(commands::activities::ActivitiesCommand),
    /// The national indicators, per region (or cercle, commune) and in total.
    ///
    /// Example: jigi indicators --period 2018Q4 --by region
    Indicators(commands::monitoring::IndicatorsArgs),
    /// The PTBA (annual budget) and its execution; `budget set` sets a line.
    ///
    /// Example: jigi budget --year 2018
    Budget(commands::monitoring::BudgetArgs),
    /// Follow the events on NATS.
    ///
    /// Example: jigi events tail 'jigi.*.payments.>'
    #[command(subcommand)]
    Events(commands::events::EventsCommand),
    /// Households the national linkage index suspects of being registered
    /// twice (two regions, or a move): list them, show one, resolve one.
    ///
    /// Example: jigi duplicates list --open
    #[command(subcommand)]
    Duplicates(commands::duplicates::DuplicatesCommand),
    /// Partners' durable consumers on the national hub: add, show, remove.
    ///
    /// Example: jigi partners add partner_donor --json --since 2018-10-01
    #[command(subcommand)]
    Partners(commands::partners::PartnersCommand),
    /// Issue a bearer token from a local key (for a local stack, tests, a
    /// closed network), or print the key set services verify with.
    ///
    /// Calls to the services carry the token in JIGI_TOKEN.
    ///
    /// Example: jigi token --subject a.traore --role payment_preparer --region sikasso
    Token(commands::token::TokenArgs),
    /// The audit log every service keeps: verify its hash chain.
    ///
    /// Example: jigi audit verify --database sqlite://jigi-data/payments-sikasso.db
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
    /// Export the national indicators for other systems (DHIS2, spreadsheets).
    ///
    /// Example: jigi export dhis2 --period 2018Q4 --output dhis2.json
    #[command(subcommand)]
    Export(commands::monitoring::ExportCommand),
}

/// Runs the command line; the exit code says whether it succeeded.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("jigi: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let text = format!("{err:#}").replace('\n', " ");
            eprintln!("jigi: {text}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo(args) => demo::run(args).await,
        Command::Up(args) => commands::up::run(args).await,
        Command::Households(command) => commands::households::run(command).await,
        Command::Cycles(command) => commands::cycles::run(command).await,
        Command::Nutrition(command) => commands::nutrition::run(command).await,
        Command::Activities(command) => commands::activities::run(command).await,
        Command::Indicators(args) => commands::monitoring::indicators(args).await,
        Command::Budget(args) => commands::monitoring::budget(args).await,
        Command::Events(command) => commands::events::run(command).await,
        Command::Export(command) => commands::monitoring::export(command).await,
        Command::Partners(command) => commands::partners::run(command).await,
        Command::Duplicates(command) => commands::duplicates::run(command).await,
        Command::Token(args) => commands::token::run(args),
        Command::Audit(command) => commands::audit::run(command).await,
    }
}

/// Logs and traces for the local stack: warnings only unless `RUST_LOG`
/// says more, so the command's own output stays readable; spans exported
/// when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Keep the guard until the end
/// (dropping it flushes the spans).
pub fn init_logs(default: &str) -> Option<jigi_telemetry::TelemetryGuard> {
    jigi_telemetry::init(&jigi_telemetry::TelemetryConfig {
        service_name: "jigi".into(),
        service_version: env!("CARGO_PKG_VERSION").into(),
        region: "local".into(),
        deployment: "local".into(),
        default_log_filter: default.into(),
        otlp_endpoint: None,
    })
    .ok()
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command and subcommand explains itself with an example.
    #[test]
    fn every_command_has_help_with_an_example() {
        fn check(command: &clap::Command, path: &str) {
            for sub in command.get_subcommands() {
                let path = format!("{path} {}", sub.get_name());
                let about = sub.get_long_about().map(|a| a.to_string()).unwrap_or_default();
                assert!(about.contains("Example: jigi "), "{path}: no example in {about:?}");
                check(sub, &path);
            }
        }
        Cli::command().debug_assert();
        check(&Cli::command(), "jigi");
    }
}
