//! `jigi households …`: the households of a running registry.

use std::path::PathBuf;

use clap::Subcommand;
use jigi_proto::common::Component;
use jigi_proto::registry::{EnrolHouseholdRequest, GetHouseholdRequest, Household, Relation};

use crate::address::{RegistryAddress, service_error};
use crate::import;
use jigi_stack::progress::Bars;

#[derive(Subcommand, Debug)]
pub enum HouseholdsCommand {
    /// Import households from a CSV file (format in the README), streaming
    /// them to the registry with a progress bar; refused lines go to an
    /// error report with their line number and reason.
    ///
    /// Example: jigi households import examples/households-sample.csv --registry http://127.0.0.1:50051
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Where to write refused lines (default: FILE with `.errors.csv`).
        #[arg(long)]
        report: Option<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        #[command(flatten)]
        registry: RegistryAddress,
    },
    /// Show one household: location, PMT score, enrolments, members.
    ///
    /// Example: jigi households show 0192b6c4-5e1f-7a00-8000-000000000001
    Show {
        /// The household's registry ID.
        id: String,
        #[command(flatten)]
        registry: RegistryAddress,
    },
    /// Enrol a household in a programme component (TM, PNP, MA, AGR, HIMO).
    ///
    /// Needs PMT eligibility, or a committee decision (`--committee`).
    ///
    /// Example: jigi households enrol 0192b6c4-5e1f-7a00-8000-000000000001 --component tm
    Enrol {
        /// The household's registry ID.
        id: String,
        /// The component: tm, pnp, ma, agr or himo.
        #[arg(long, value_parser = parse_component)]
        component: Component,
        /// Effective date, YYYY-MM-DD (default: today).
        #[arg(long)]
        on: Option<String>,
        /// The committee (CCL) decision enrolling a household the PMT does not find eligible.
        #[arg(long, default_value = "")]
        committee: String,
        #[command(flatten)]
        registry: RegistryAddress,
    },
}

/// `tm`, `pnp`, … as a component.
pub fn parse_component(text: &str) -> Result<Component, String> {
    Component::from_str_name(&format!("COMPONENT_{}", text.trim().to_ascii_uppercase()))
        .filter(|c| *c != Component::Unspecified)
        .ok_or_else(|| format!("unknown component {text:?}: use tm, pnp, ma, agr or himo"))
}

fn component_name(value: i32) -> String {
    Component::try_from(value)
        .map(|c| c.as_str_name().trim_start_matches("COMPONENT_").to_owned())
        .unwrap_or_default()
}

pub async fn run(command: HouseholdsCommand) -> anyhow::Result<()> {
    match command {
        HouseholdsCommand::Import {
            file,
            report,
            quiet,
            registry,
        } => {
            let mut client = registry.connect().await?;
            let report = report.unwrap_or_else(|| file.with_extension("errors.csv"));
            let show_progress = Bars::new(quiet).visible();
            let summary = import::import_file(&mut client, &file, &report, show_progress).await?;
            println!(
                "{} registered, {} duplicates, {} invalid, {} lines unreadable",
                summary.registered, summary.duplicates, summary.invalid, summary.lines_refused_by_format
            );
            if let Some(report) = summary.report {
                println!("Refused lines are listed in {}", report.display());
            }
            Ok(())
        }
        HouseholdsCommand::Show { id, registry } => {
            let mut client = registry.connect().await?;
            let household = client
                .get_household(GetHouseholdRequest { household_id: id })
                .await
                .map_err(|status| service_error("show household", status))?
                .into_inner()
                .household
                .unwrap_or_default();
            print_household(&household);
            Ok(())
        }
        HouseholdsCommand::Enrol {
            id,
            component,
            on,
            committee,
            registry,
        } => {
            let mut client = registry.connect().await?;
            let household = client
                .enrol_household(EnrolHouseholdRequest {
                    household_id: id.clone(),
                    component: component as i32,
                    enrolled_on: on.unwrap_or_else(super::today),
                    committee_override: committee,
                })
                .await
                .map_err(|status| service_error(&format!("enrol household {id}"), status))?
                .into_inner()
                .household
                .unwrap_or_default();
            println!(
                "Household {} enrolled in {}",
                household.household_id,
                component_name(component as i32)
            );
            Ok(())
        }
    }
}

fn print_household(household: &Household) {
    let location = household.location.clone().unwrap_or_default();
    let pmt = household.pmt.clone().unwrap_or_default();
    println!("Household {}", household.household_id);
    println!("  location  {} / {}", location.commune, location.village);
    println!(
        "  PMT       {:.2} (threshold {:.2}, {})",
        pmt.score,
        pmt.threshold,
        if pmt.eligible { "eligible" } else { "not eligible" }
    );
    let enrolments: Vec<String> = household
        .enrolments
        .iter()
        .map(|e| {
            if e.exited_on.is_empty() {
                format!("{} since {}", component_name(e.component), e.enrolled_on)
            } else {
                format!("{} {}–{}", component_name(e.component), e.enrolled_on, e.exited_on)
            }
        })
        .collect();
    println!(
        "  enrolled  {}",
        if enrolments.is_empty() {
            "no".to_owned()
        } else {
            enrolments.join(", ")
        }
    );
    println!("  version   {}", household.version);
    let rows: Vec<Vec<String>> = household
        .members
        .iter()
        .map(|m| {
            vec![
                format!("{} {}", m.given_name, m.family_name),
                Relation::try_from(m.relation)
                    .map(|r| r.as_str_name().trim_start_matches("RELATION_").to_lowercase())
                    .unwrap_or_default(),
                m.birth_date.clone(),
                m.member_id.clone(),
            ]
        })
        .collect();
    crate::table::print(&["member", "relation", "born", "member ID"], &rows);
}
