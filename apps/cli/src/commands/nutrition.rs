//! `jigi nutrition …`: the PNP of a running nutrition service.

use std::path::PathBuf;

use clap::Subcommand;
use jigi_proto::nutrition::{
    DistributionLine, DistributionOutcome, GetRoundReportRequest, GroupCounts, OpenRoundRequest, Quantity, Rations,
    ReceiveStockRequest, RecordDistributionBatchRequest, RecordDistributionRequest, RefusalReason,
    RegisterWarehouseRequest,
};

use crate::address::{NutritionAddress, service_error};
use crate::table;

/// Lines per batch when recording a register file.
const BATCH: usize = 5_000;

#[derive(Subcommand, Debug)]
pub enum NutritionCommand {
    /// Register a warehouse serving a commune (the same again changes nothing).
    ///
    /// Example: jigi nutrition warehouse gouanan-1 --commune sikasso.yanfolila.gouanan --name "Magasin de Gouanan"
    Warehouse {
        /// The warehouse's code: lower-case letters, digits, `-`, `_`, `.`.
        id: String,
        /// The commune it serves.
        #[arg(long)]
        commune: String,
        /// A name people use.
        #[arg(long, default_value = "")]
        name: String,
        #[command(flatten)]
        nutrition: NutritionAddress,
    },
    /// Record flour received into a warehouse: a lot with its expiry date.
    ///
    /// Example: jigi nutrition receive --warehouse gouanan-1 --lot LOT-2018-014 --expires 2019-06-30 --kg 2500
    Receive {
        /// The receiving warehouse.
        #[arg(long)]
        warehouse: String,
        /// The supplier's lot number.
        #[arg(long)]
        lot: String,
        /// The lot's expiry date, YYYY-MM-DD.
        #[arg(long)]
        expires: String,
        /// Kilograms received (grams are kept exactly: 0.001 kg is a gram).
        #[arg(long)]
        kg: f64,
        /// Date of receipt, YYYY-MM-DD (default: today).
        #[arg(long)]
        received_on: Option<String>,
        /// Waybill or delivery note reference.
        #[arg(long, default_value = "")]
        waybill: String,
        /// Request ID, so a retry records nothing twice (default: from the receipt's content).
        #[arg(long)]
        request_id: Option<String>,
        #[command(flatten)]
        nutrition: NutritionAddress,
    },
    /// Open a distribution round in pilot communes, with a ration per group.
    ///
    /// Example: jigi nutrition round --year 2018 --number 2 --ends 2018-11-30 --commune sikasso.yanfolila.gouanan
    Round {
        /// Programme year (default: this year).
        #[arg(long)]
        year: Option<i32>,
        /// Number of the round within its year.
        #[arg(long)]
        number: i32,
        /// First day of distributions, YYYY-MM-DD (default: today).
        #[arg(long)]
        starts: Option<String>,
        /// Last day of distributions, YYYY-MM-DD.
        #[arg(long)]
        ends: String,
        /// A pilot commune (repeat).
        #[arg(long = "commune", required = true)]
        communes: Vec<String>,
        /// Grams for a child of 6–59 months.
        #[arg(long, default_value_t = 3_000)]
        child_grams: i64,
        /// Grams for a pregnant woman.
        #[arg(long, default_value_t = 4_500)]
        pregnant_grams: i64,
        /// Grams for a lactating woman.
        #[arg(long, default_value_t = 4_500)]
        lactating_grams: i64,
        #[command(flatten)]
        nutrition: NutritionAddress,
    },
    /// Record rations given: a register file (household_id,member_id[,distributed_on]
    /// per line), or one person with --household and --member.
    ///
    /// Refused lines are written to FILE.errors.csv with their line and reason.
    ///
    /// Example: jigi nutrition distribute --round sikasso-2018-r2 --warehouse gouanan-1 register.csv
    Distribute {
        /// The round.
        #[arg(long)]
        round: String,
        /// The warehouse the flour comes from.
        #[arg(long)]
        warehouse: String,
        /// The register file (CSV with a header line).
        #[arg(required_unless_present = "member")]
        file: Option<PathBuf>,
        /// One person's household ID (with --member).
        #[arg(long, requires = "member")]
        household: Option<String>,
        /// One person's member ID (with --household).
        #[arg(long, requires = "household", conflicts_with = "file")]
        member: Option<String>,
        /// Distribution date for lines without one, YYYY-MM-DD (default: today).
        #[arg(long)]
        on: Option<String>,
        #[command(flatten)]
        nutrition: NutritionAddress,
    },
    /// A round's report: beneficiaries planned and reached by group, flour
    /// distributed and stock left, per pilot commune.
    ///
    /// Example: jigi nutrition report sikasso-2018-r2
    Report {
        /// The round.
        round: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        nutrition: NutritionAddress,
    },
}

fn kg(quantity: Option<Quantity>) -> String {
    format!("{:.3}", quantity.unwrap_or_default().grams as f64 / 1_000.0)
}

pub async fn run(command: NutritionCommand) -> anyhow::Result<()> {
    match command {
        NutritionCommand::Warehouse {
            id,
            commune,
            name,
            nutrition,
        } => {
            let mut client = nutrition.connect().await?;
            let warehouse = client
                .register_warehouse(RegisterWarehouseRequest {
                    warehouse_id: id.clone(),
                    name,
                    commune,
                })
                .await
                .map_err(|status| service_error(&format!("register warehouse {id}"), status))?
                .into_inner()
                .warehouse
                .unwrap_or_default();
            println!(
                "Warehouse {} registered for {}",
                warehouse.warehouse_id,
                warehouse.location.unwrap_or_default().commune
            );
            Ok(())
        }
        NutritionCommand::Receive {
            warehouse,
            lot,
            expires,
            kg: kilograms,
            received_on,
            waybill,
            request_id,
            nutrition,
        } => {
            let mut client = nutrition.connect().await?;
            let grams = (kilograms * 1_000.0).round() as i64;
            let received_on = received_on.unwrap_or_else(super::today);
            let request_id = request_id.unwrap_or_else(|| format!("receipt-{warehouse}-{lot}-{received_on}-{grams}"));
            let stock = client
                .receive_stock(ReceiveStockRequest {
                    request_id,
                    warehouse_id: warehouse.clone(),
                    lot_number: lot.clone(),
                    expires_on: expires,
                    grams,
                    received_on,
                    waybill,
                })
                .await
                .map_err(|status| service_error(&format!("receive flour into {warehouse}"), status))?
                .into_inner()
                .stock
                .unwrap_or_default();
            println!(
                "Received {} kg of lot {lot} into {warehouse}; it now holds {} kg ({} kg usable)",
                kg(Some(Quantity {
                    grams,
                    ..Default::default()
                })),
                kg(stock.on_hand),
                kg(stock.usable)
            );
            Ok(())
        }
        NutritionCommand::Round {
            year,
            number,
            starts,
            ends,
            communes,
            child_grams,
            pregnant_grams,
            lactating_grams,
            nutrition,
        } => {
            let mut client = nutrition.connect().await?;
            let starts = starts.unwrap_or_else(super::today);
            let year = year.unwrap_or_else(|| starts.get(..4).and_then(|y| y.parse().ok()).unwrap_or(0));
            let round = client
                .open_round(OpenRoundRequest {
                    year,
                    number,
                    starts_on: starts,
                    ends_on: ends,
                    communes,
                    rations: Some(Rations {
                        child_grams,
                        pregnant_woman_grams: pregnant_grams,
                        lactating_woman_grams: lactating_grams,
                    }),
                })
                .await
                .map_err(|status| service_error("open round", status))?
                .into_inner()
                .round
                .unwrap_or_default();
            println!(
                "Round {} open from {} to {} in {} communes",
                round.round_id,
                round.starts_on,
                round.ends_on,
                round.communes.len()
            );
            Ok(())
        }
        NutritionCommand::Distribute {
            round,
            warehouse,
            file,
            household,
            member,
            on,
            nutrition,
        } => {
            let mut client = nutrition.connect().await?;
            let on = on.unwrap_or_else(super::today);
            if let (Some(household), Some(member)) = (household, member) {
                let distribution = client
                    .record_distribution(RecordDistributionRequest {
                        request_id: format!("{round}-{member}"),
                        round_id: round.clone(),
                        warehouse_id: warehouse,
                        household_id: household,
                        member_id: member.clone(),
                        distributed_on: on,
                    })
                    .await
                    .map_err(|status| service_error(&format!("record the ration of {member}"), status))?
                    .into_inner()
                    .distribution
                    .unwrap_or_default();
                println!("Ration recorded: {} g to {member} in round {round}", distribution.grams);
                return Ok(());
            }
            let file = file.expect("clap requires a file without --member");
            distribute_file(&mut client, &round, &warehouse, &file, &on).await
        }
        NutritionCommand::Report { round, json, nutrition } => {
            let mut client = nutrition.connect().await?;
            let report = client
                .get_round_report(GetRoundReportRequest {
                    round_id: round.clone(),
                })
                .await
                .map_err(|status| service_error(&format!("report of round {round}"), status))?
                .into_inner()
                .report
                .unwrap_or_default();
            let counts = |c: Option<GroupCounts>| {
                let c = c.unwrap_or_default();
                [c.children, c.pregnant_women, c.lactating_women, c.total]
            };
            if json {
                return super::print_json(&crate::json::to_json("jigi.nutrition.v1.RoundReport", &report)?);
            }
            println!("Round {round} (planned: eligible on {})", report.planned_on);
            let row = |name: String, c: &jigi_proto::nutrition::CommuneReport| {
                let planned = counts(c.planned);
                let reached = counts(c.reached);
                vec![
                    name,
                    planned[3].to_string(),
                    reached[0].to_string(),
                    reached[1].to_string(),
                    reached[2].to_string(),
                    reached[3].to_string(),
                    kg(c.distributed),
                    kg(c.stock_left),
                ]
            };
            let mut rows: Vec<Vec<String>> = report
                .communes
                .iter()
                .map(|c| row(c.location.clone().unwrap_or_default().commune, c))
                .collect();
            rows.push(row("total".into(), &report.total.clone().unwrap_or_default()));
            table::print(
                &[
                    "commune",
                    ">planned",
                    ">children",
                    ">pregnant",
                    ">lactating",
                    ">reached",
                    ">flour (kg)",
                    ">stock left (kg)",
                ],
                &rows,
            );
            Ok(())
        }
    }
}

/// Records a register file in batches; refused lines go to `FILE.errors.csv`.
async fn distribute_file(
    client: &mut crate::address::NutritionClient,
    round: &str,
    warehouse: &str,
    file: &std::path::Path,
    on: &str,
) -> anyhow::Result<()> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(file)
        .map_err(|err| anyhow::anyhow!("cannot open {}: {err}", file.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let (Some(household), Some(member)) = (column("household_id"), column("member_id")) else {
        anyhow::bail!(
            "{} needs a header line with household_id and member_id (and optionally distributed_on)",
            file.display()
        );
    };
    let date = column("distributed_on");
    let mut lines = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|err| anyhow::anyhow!("cannot read {}: {err}", file.display()))?;
        let line = record.position().map(|p| p.line()).unwrap_or(0) as i64;
        let field = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").trim().to_owned();
        let distributed_on = Some(field(date))
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| on.to_owned());
        lines.push(DistributionLine {
            line,
            household_id: field(Some(household)),
            member_id: field(Some(member)),
            distributed_on,
        });
    }
    let (mut recorded, mut grams) = (0, 0);
    let mut refused = Vec::new();
    for (number, batch) in lines.chunks(BATCH).enumerate() {
        let answer = client
            .record_distribution_batch(RecordDistributionBatchRequest {
                request_id: format!("register-{}-{}", file_key(round, warehouse, file), number + 1),
                round_id: round.to_owned(),
                warehouse_id: warehouse.to_owned(),
                lines: batch.to_vec(),
            })
            .await
            .map_err(|status| service_error("record distributions", status))?
            .into_inner();
        recorded += answer.recorded;
        grams += answer.distributed.unwrap_or_default().grams;
        for result in answer.results {
            if result.outcome != DistributionOutcome::Recorded as i32 {
                let refusal = result.refusal.unwrap_or_default();
                let reason = RefusalReason::try_from(refusal.reason)
                    .map(|r| r.as_str_name().trim_start_matches("REFUSAL_REASON_").to_owned())
                    .unwrap_or_default();
                refused.push((result.line, reason, refusal.message));
            }
        }
    }
    println!(
        "{recorded} rations recorded ({:.3} kg), {} refused",
        grams as f64 / 1_000.0,
        refused.len()
    );
    if !refused.is_empty() {
        let report = file.with_extension("errors.csv");
        let mut writer = csv::Writer::from_path(&report)
            .map_err(|err| anyhow::anyhow!("cannot write the error report {}: {err}", report.display()))?;
        writer.write_record(["line", "reason", "message"])?;
        for (line, reason, message) in &refused {
            writer.write_record([line.to_string().as_str(), reason, message])?;
        }
        writer.flush()?;
        println!("Refused lines are listed in {}", report.display());
    }
    Ok(())
}

/// A request ID part that changes with the round, the warehouse and the
/// file's content, so a corrected file is recorded while a repeat of the
/// same file changes nothing.
fn file_key(round: &str, warehouse: &str, file: &std::path::Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (round, warehouse, std::fs::read(file).unwrap_or_default()).hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}
