//! `jigi duplicates`: what the national linkage index suspects, and the
//! registrars' decisions.

use clap::{Subcommand, ValueEnum};
use jigi_proto::linkage::{
    Duplicate, DuplicateStatus, GetDuplicateRequest, ListDuplicatesRequest, MatchKind, Resolution,
    ResolveDuplicateRequest,
};

use crate::address::{LinkageAddress, service_error};

#[derive(Subcommand, Debug)]
pub enum DuplicatesCommand {
    /// List suspected duplicates, open ones first (a registrar sees those
    /// touching their region).
    ///
    /// Example: jigi duplicates list --open --region mopti
    List {
        /// Only those touching this region (slug).
        #[arg(long, default_value = "")]
        region: String,
        /// Only open ones.
        #[arg(long)]
        open: bool,
        #[command(flatten)]
        linkage: LinkageAddress,
    },
    /// Show one duplicate: both households and regions, what matched, its resolution.
    ///
    /// Example: jigi duplicates show 0192…0001~0192…0002
    Show {
        /// The duplicate's ID (`<household>~<household>`).
        id: String,
        #[command(flatten)]
        linkage: LinkageAddress,
    },
    /// Record what a registrar of one of the two regions found. Same person:
    /// `--keep` the household that stays (exit the other in its registry);
    /// moved: `--keep` the destination; different people: never flagged again.
    ///
    /// Example: jigi duplicates resolve 0192…0001~0192…0002 --as moved --keep 0192…0002
    Resolve {
        /// The duplicate's ID.
        id: String,
        /// What was found.
        #[arg(long = "as", value_enum)]
        resolution: Found,
        /// The household kept (same person, moved).
        #[arg(long, default_value = "")]
        keep: String,
        /// Idempotency: a retry with the same ID changes nothing (default: a new one).
        #[arg(long)]
        request_id: Option<String>,
        #[command(flatten)]
        linkage: LinkageAddress,
    },
}

/// A registrar's finding.
#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum Found {
    SamePerson,
    Moved,
    DifferentPeople,
}

pub async fn run(command: DuplicatesCommand) -> anyhow::Result<()> {
    match command {
        DuplicatesCommand::List { region, open, linkage } => {
            let mut client = linkage.connect().await?;
            let mut token = String::new();
            let mut count = 0;
            loop {
                let page = client
                    .list_duplicates(ListDuplicatesRequest {
                        region: region.clone(),
                        open_only: open,
                        page_size: 500,
                        page_token: token.clone(),
                    })
                    .await
                    .map_err(|status| service_error("list duplicates", status))?
                    .into_inner();
                for duplicate in &page.duplicates {
                    println!("{}", line(duplicate));
                }
                count += page.duplicates.len();
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
            println!("{count} duplicate(s)");
            Ok(())
        }
        DuplicatesCommand::Show { id, linkage } => {
            let duplicate = linkage
                .connect()
                .await?
                .get_duplicate(GetDuplicateRequest { duplicate_id: id })
                .await
                .map_err(|status| service_error("show duplicate", status))?
                .into_inner()
                .duplicate
                .unwrap_or_default();
            print_duplicate(&duplicate);
            Ok(())
        }
        DuplicatesCommand::Resolve {
            id,
            resolution,
            keep,
            request_id,
            linkage,
        } => {
            let resolution = match resolution {
                Found::SamePerson => Resolution::SamePerson,
                Found::Moved => Resolution::Moved,
                Found::DifferentPeople => Resolution::DifferentPeople,
            };
            let duplicate = linkage
                .connect()
                .await?
                .resolve_duplicate(ResolveDuplicateRequest {
                    request_id: request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                    duplicate_id: id,
                    resolution: resolution as i32,
                    kept_household_id: keep,
                })
                .await
                .map_err(|status| service_error("resolve duplicate", status))?
                .into_inner()
                .duplicate
                .unwrap_or_default();
            print_duplicate(&duplicate);
            Ok(())
        }
    }
}

fn side(d: &Option<jigi_proto::linkage::LinkedHousehold>) -> String {
    d.as_ref()
        .map(|h| format!("{} ({})", h.household_id, h.region))
        .unwrap_or_default()
}

fn matched(d: &Duplicate) -> String {
    d.matched
        .iter()
        .map(|m| match MatchKind::try_from(*m) {
            Ok(MatchKind::IdCard) => "ID card",
            Ok(MatchKind::Head) => "head (names and birth date)",
            _ => "?",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn status(d: &Duplicate) -> &'static str {
    if d.status == DuplicateStatus::Resolved as i32 {
        match Resolution::try_from(d.resolution) {
            Ok(Resolution::SamePerson) => "resolved: same person",
            Ok(Resolution::Moved) => "resolved: moved",
            Ok(Resolution::DifferentPeople) => "resolved: different people",
            _ => "resolved",
        }
    } else {
        "OPEN"
    }
}

fn line(d: &Duplicate) -> String {
    format!(
        "{:<26} {}  {} <-> {}  [{}]",
        status(d),
        d.duplicate_id,
        side(&d.first),
        side(&d.second),
        matched(d)
    )
}

fn print_duplicate(d: &Duplicate) {
    println!("duplicate  {}", d.duplicate_id);
    println!("status     {}", status(d));
    println!("first      {}", side(&d.first));
    println!("second     {}", side(&d.second));
    println!("matched    {}", matched(d));
    if !d.kept_household_id.is_empty() {
        println!("kept       {}", d.kept_household_id);
    }
}
