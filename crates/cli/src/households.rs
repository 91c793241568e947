//! `jigi households …`: work with the households of a running registry.

use std::path::PathBuf;

use clap::Subcommand;
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_proto::registry::{GetHouseholdRequest, Relation};
use tonic::transport::Channel;

use crate::import;

#[derive(Subcommand)]
pub enum HouseholdsCommand {
    /// Import households from a CSV file (format in the README), streaming
    /// them to the registry; refused lines go to an error report.
    ///
    /// Example: jigi households import examples/households-sample.csv --registry http://127.0.0.1:50051
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Where to write refused lines (default: FILE with `.errors.csv`).
        #[arg(long)]
        report: Option<PathBuf>,
        #[command(flatten)]
        registry: RegistryAddress,
    },
    /// Show one household.
    ///
    /// Example: jigi households show 0192b6c4-… --registry http://127.0.0.1:50051
    Show {
        /// The household's registry ID.
        id: String,
        #[command(flatten)]
        registry: RegistryAddress,
    },
}

#[derive(clap::Args)]
pub struct RegistryAddress {
    /// The registry's gRPC address.
    #[arg(
        long = "registry",
        env = "JIGI_REGISTRY_ADDR",
        default_value = "http://127.0.0.1:50051"
    )]
    pub address: String,
}

impl RegistryAddress {
    pub async fn connect(&self) -> anyhow::Result<RegistryServiceClient<Channel>> {
        let channel = tonic::transport::Endpoint::from_shared(self.address.clone())
            .map_err(|_| anyhow::anyhow!("{:?} is not a valid address; use http://host:port", self.address))?
            .connect()
            .await
            .map_err(|err| {
                anyhow::anyhow!(
                    "cannot reach the registry at {}: {err} (is it running? set --registry or JIGI_REGISTRY_ADDR)",
                    self.address
                )
            })?;
        Ok(RegistryServiceClient::new(channel).max_decoding_message_size(64 * 1024 * 1024))
    }
}

pub async fn run(command: HouseholdsCommand) -> anyhow::Result<()> {
    match command {
        HouseholdsCommand::Import { file, report, registry } => {
            let mut client = registry.connect().await?;
            let report = report.unwrap_or_else(|| file.with_extension("errors.csv"));
            let summary = import::import_file(&mut client, &file, &report, true).await?;
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
                .map_err(|status| crate::service_error("show household", status))?
                .into_inner()
                .household
                .unwrap_or_default();
            let location = household.location.unwrap_or_default();
            let pmt = household.pmt.unwrap_or_default();
            println!("Household {}", household.household_id);
            println!("  location  {} / {}", location.commune, location.village);
            println!(
                "  PMT       {:.2} (threshold {:.2}, {})",
                pmt.score,
                pmt.threshold,
                if pmt.eligible { "eligible" } else { "not eligible" }
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
                    ]
                })
                .collect();
            crate::table::print(&["member", "relation", "born"], &rows);
            Ok(())
        }
    }
}
