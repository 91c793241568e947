//! `jigi households …`: the households of a running registry.

use std::path::PathBuf;

use clap::Subcommand;
use jigi_proto::common::Component;
use jigi_proto::registry::{
    EnrolHouseholdRequest, EnrolHouseholdsRequest, EnrolmentResult, EnrolmentSelection, GetHouseholdRequest, Household,
    Relation, TransferHouseholdRequest,
};
use prost::Message as _;

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
    /// A household that moved to another region: end its enrolments here
    /// (reason moved, noted "moved to <region>"). They continue in the
    /// destination, with the same committee decisions, once the linkage
    /// index knows the household there (--as, or its duplicate resolved as
    /// a move); the destination pays from the quarter after the last paid here.
    ///
    /// Example: jigi households transfer 0192b6c4-5e1f-7a00-8000-000000000001 --to sikasso --as 0192…0002
    Transfer {
        /// The household's registry ID, in this region.
        id: String,
        /// The destination region's slug.
        #[arg(long)]
        to: String,
        /// The household it is registered as in the destination, when known.
        #[arg(long = "as", default_value = "")]
        destination_household: String,
        /// Effective date, YYYY-MM-DD (default: today).
        #[arg(long, default_value = "")]
        on: String,
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
    /// Enrol households in a programme component (TM, PNP, MA, AGR, HIMO):
    /// one by its ID, the IDs listed in a file (one per line), or every
    /// household of an area (`--area`, with `--eligible-only` for the
    /// PMT-eligible ones). Each household needs PMT eligibility or a
    /// committee decision (`--committee`); each gets its own outcome. Run
    /// again, the same enrolment changes nothing.
    ///
    /// Example: jigi households enrol --component tm --area sikasso.yanfolila.gouanan --eligible-only
    Enrol {
        /// The household's registry ID.
        #[arg(required_unless_present_any = ["file", "area"], conflicts_with_all = ["file", "area"])]
        id: Option<String>,
        /// A file of registry IDs, one per line (`#` starts a comment).
        #[arg(long, conflicts_with = "area")]
        file: Option<PathBuf>,
        /// Every household of this region, cercle, commune or village code.
        #[arg(long)]
        area: Option<String>,
        /// With `--area`: only the households the PMT finds eligible.
        #[arg(long, requires = "area")]
        eligible_only: bool,
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
        HouseholdsCommand::Transfer {
            id,
            to,
            destination_household,
            on,
            registry,
        } => {
            let household = registry
                .connect()
                .await?
                .transfer_household(TransferHouseholdRequest {
                    household_id: id,
                    destination_region: to.clone(),
                    destination_household_id: destination_household,
                    transferred_on: on,
                })
                .await
                .map_err(|status| service_error("transfer household", status))?
                .into_inner()
                .household
                .unwrap_or_default();
            println!(
                "transferred {} to {to}: its enrolments here have ended; they continue in {to} once the \
                 linkage index knows the household there",
                household.household_id
            );
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
            id: None,
            file,
            area,
            eligible_only,
            component,
            on,
            committee,
            registry,
        } => {
            let client = registry.connect().await?;
            let on = on.unwrap_or_else(super::today);
            let batches: Vec<(Vec<String>, Option<EnrolmentSelection>)> = match (file, area) {
                (Some(file), _) => read_ids(&file)?
                    .chunks(MAX_IDS_PER_REQUEST)
                    .map(|chunk| (chunk.to_vec(), None))
                    .collect(),
                (None, Some(area)) => vec![(Vec::new(), Some(EnrolmentSelection { area, eligible_only }))],
                (None, None) => unreachable!("clap requires an ID, a file or an area"),
            };
            let (mut enrolled, mut already, mut refused) = (0, 0, 0);
            for (household_ids, selection) in batches {
                let mut request = EnrolHouseholdsRequest {
                    request_id: String::new(),
                    component: component as i32,
                    enrolled_on: on.clone(),
                    committee_override: committee.clone(),
                    household_ids,
                    selection,
                };
                // The ID follows from the content: running the same command
                // again is a retry, answered without enrolling twice.
                request.request_id = content_request_id("enrol", &request.encode_to_vec());
                let response = jigi_stack::clients::with_retries("enrol households", || {
                    let (mut client, request) = (client.clone(), request.clone());
                    async move { client.enrol_households(request).await }
                })
                .await
                .map_err(|status| service_error("enrol households", status))?
                .into_inner();
                for outcome in &response.outcomes {
                    if outcome.result == EnrolmentResult::Refused as i32 {
                        println!(
                            "refused  {}  {}: {}",
                            outcome.household_id, outcome.refusal, outcome.message
                        );
                    }
                }
                enrolled += response.enrolled;
                already += response.already_enrolled;
                refused += response.refused;
            }
            println!(
                "{enrolled} enrolled in {}, {already} already enrolled, {refused} refused",
                component_name(component as i32)
            );
            Ok(())
        }
        HouseholdsCommand::Enrol {
            id: Some(id),
            component,
            on,
            committee,
            registry,
            ..
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

/// Most IDs one `EnrolHouseholds` request carries (the registry's limit).
const MAX_IDS_PER_REQUEST: usize = 10_000;

/// The registry IDs in `file`: one per line, blank lines and `#` comments skipped.
fn read_ids(file: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(file).map_err(|err| anyhow::anyhow!("cannot read {}: {err}", file.display()))?;
    let ids: Vec<String> = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        anyhow::bail!("{} lists no household ID", file.display());
    }
    Ok(ids)
}

/// A request ID made from a request's content: the same command run again
/// sends the same ID, so the service answers it as a retry.
pub fn content_request_id(prefix: &str, content: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("{prefix}-{}", &hex::encode(Sha256::digest(content))[..32])
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
