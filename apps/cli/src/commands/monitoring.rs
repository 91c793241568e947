//! `jigi indicators`, `jigi budget`, `jigi export …`: the national monitoring.

use std::path::PathBuf;

use clap::Subcommand;
use jigi_common::Fcfa;
use jigi_proto::common::{FundingSource, Money, Period};
use jigi_proto::monitoring::{
    Breakdown, BudgetLine, ExportCsvRequest, ExportDataValueSetRequest, GetBudgetExecutionRequest,
    GetIndicatorsRequest, IndicatorRow, SetBudgetLineRequest,
};

use crate::address::{MonitoringAddress, service_error};
use crate::{json, table};
use jigi_stack::national::{percent, source_name, tonnes};

fn current_quarter() -> String {
    jigi_common::Period::quarter_of(chrono::Utc::now().date_naive()).to_string()
}

fn current_year() -> i32 {
    chrono::Datelike::year(&chrono::Utc::now().date_naive())
}

#[derive(clap::Args, Debug)]
pub struct IndicatorsArgs {
    /// A quarter (2018Q4) or a year (2018); default: the current quarter.
    #[arg(long)]
    pub period: Option<String>,
    /// A region, cercle or commune code; default: the whole country.
    #[arg(long, default_value = "")]
    pub area: String,
    /// Rows per region, cercle or commune, or one row (`none`).
    #[arg(long = "by", default_value = "region", value_parser = ["region", "cercle", "commune", "none"])]
    pub by: String,
    /// Print the monitoring's answer as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub monitoring: MonitoringAddress,
}

pub async fn indicators(args: IndicatorsArgs) -> anyhow::Result<()> {
    let mut client = args.monitoring.connect().await?;
    let period = args.period.unwrap_or_else(current_quarter);
    let breakdown = match args.by.as_str() {
        "region" => Breakdown::Region,
        "cercle" => Breakdown::Cercle,
        "commune" => Breakdown::Commune,
        _ => Breakdown::Unspecified,
    };
    let request = |breakdown: Breakdown| GetIndicatorsRequest {
        area: args.area.clone(),
        period: Some(Period { code: period.clone() }),
        breakdown: breakdown as i32,
    };
    let answer = client
        .get_indicators(request(breakdown))
        .await
        .map_err(|status| service_error("read the indicators", status))?
        .into_inner();
    let mut rows = answer.rows.clone();
    if breakdown != Breakdown::Unspecified {
        let total = client
            .get_indicators(request(Breakdown::Unspecified))
            .await
            .map_err(|status| service_error("read the indicators", status))?
            .into_inner();
        rows.extend(total.rows.into_iter().map(|mut row| {
            row.area_name = format!("total ({})", row.area_name);
            row
        }));
    }
    if args.json {
        let mut value = json::to_json("jigi.monitoring.v1.GetIndicatorsResponse", &answer)?;
        value["period"] = period.clone().into();
        if let Some(total) = rows.last().filter(|_| breakdown != Breakdown::Unspecified) {
            value["total"] = json::to_json("jigi.monitoring.v1.IndicatorRow", total)?;
        }
        return super::print_json(&value);
    }
    print_indicators(&rows, &period);
    print_freshness(&answer.freshness, answer.as_of.as_ref());
    Ok(())
}

/// How fresh the figures just printed are: how far into the national
/// stream they go, what still waits, and each region's last event.
pub fn print_freshness(
    freshness: &[jigi_proto::monitoring::RegionFreshness],
    as_of: Option<&jigi_proto::monitoring::DataAsOf>,
) {
    use jigi_proto::monitoring::FreshnessStatus;
    if let Some(as_of) = as_of {
        let when = as_of
            .applied_at
            .as_ref()
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32))
            .map_or_else(
                || "nothing applied since the monitoring started".to_owned(),
                |t| format!("applied at {}", t.format("%Y-%m-%d %H:%M:%S UTC")),
            );
        let waiting = match as_of.events_waiting {
            0 => "caught up".to_owned(),
            n => format!("{n} events still waiting: these figures are behind"),
        };
        println!(
            "Figures as of national stream position {} ({when}; {waiting}).",
            as_of.stream_sequence
        );
    }
    for region in freshness {
        let last = region
            .last_event_time
            .as_ref()
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32))
            .map_or_else(
                || "no event yet".to_owned(),
                |t| format!("last event {}", t.format("%Y-%m-%d %H:%M:%S UTC")),
            );
        let status = match FreshnessStatus::try_from(region.status) {
            Ok(FreshnessStatus::Live) => "live",
            Ok(FreshnessStatus::Silent) => "SILENT: its figures may be behind",
            Ok(FreshnessStatus::NeverHeard) => "never heard from",
            _ => "unknown",
        };
        println!(
            "  {}: {status}, {last}, up to stream position {}",
            region.region, region.stream_sequence
        );
    }
}

fn print_indicators(rows: &[IndicatorRow], period: &str) {
    println!("National indicators, {period}");
    let money = |m: Option<Money>| {
        Fcfa::new(m.unwrap_or_default().fcfa)
            .to_string()
            .trim_end_matches(" FCFA")
            .to_owned()
    };
    let enrolled = |i: &jigi_proto::monitoring::Indicators, c: jigi_proto::common::Component| {
        i.enrolled
            .iter()
            .find(|e| e.component == c as i32)
            .map(|e| e.households)
            .unwrap_or(0)
            .to_string()
    };
    table::print(
        &[
            "area",
            ">registered",
            ">enrolled TM",
            ">enrolled PNP",
            ">paid",
            ">amount paid (FCFA)",
            ">success rate",
            ">children",
            ">pregnant",
            ">lactating",
            ">flour (t)",
        ],
        &rows
            .iter()
            .map(|row| {
                let i = row.indicators.clone().unwrap_or_default();
                vec![
                    row.area_name.clone(),
                    i.households_registered.to_string(),
                    enrolled(&i, jigi_proto::common::Component::Tm),
                    enrolled(&i, jigi_proto::common::Component::Pnp),
                    i.households_paid.to_string(),
                    money(i.amount_paid),
                    percent(i.payment_success_rate),
                    i.pnp_children_reached.to_string(),
                    i.pnp_pregnant_women_reached.to_string(),
                    i.pnp_lactating_women_reached.to_string(),
                    tonnes(i.flour_distributed_grams),
                ]
            })
            .collect::<Vec<_>>(),
    );
}

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BudgetArgs {
    #[command(subcommand)]
    pub set: Option<BudgetCommand>,
    /// The budget year (default: this year).
    #[arg(long)]
    pub year: Option<i32>,
    /// Only one region (slug): its lines and the payments made in it.
    #[arg(long, default_value = "")]
    pub region: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub monitoring: MonitoringAddress,
}

#[derive(Subcommand, Debug)]
pub enum BudgetCommand {
    /// Set (create or replace) a line of the PTBA: a component's forecast for a funding source.
    ///
    /// Example: jigi budget set --year 2018 --component tm --funding-source world-bank-ida --forecast 8000000000
    Set {
        /// The budget year.
        #[arg(long)]
        year: i32,
        /// The component: tm, pnp, ma, agr or himo.
        #[arg(long, value_parser = super::households::parse_component)]
        component: jigi_proto::common::Component,
        /// Who finances it: world-bank-ida, dfid, state-budget or other.
        #[arg(long, value_parser = parse_source)]
        funding_source: FundingSource,
        /// The forecast, whole FCFA.
        #[arg(long)]
        forecast: i64,
        /// A region's own line (slug); national when absent.
        #[arg(long, default_value = "")]
        region: String,
        #[command(flatten)]
        monitoring: MonitoringAddress,
    },
}

fn parse_source(text: &str) -> Result<FundingSource, String> {
    let name = format!("FUNDING_SOURCE_{}", text.trim().replace('-', "_").to_ascii_uppercase());
    FundingSource::from_str_name(&name)
        .filter(|s| *s != FundingSource::Unspecified)
        .ok_or_else(|| format!("unknown funding source {text:?}: use world-bank-ida, dfid, state-budget or other"))
}

fn component_name(value: i32) -> String {
    jigi_proto::common::Component::try_from(value)
        .map(|c| c.as_str_name().trim_start_matches("COMPONENT_").to_owned())
        .unwrap_or_default()
}

pub async fn budget(args: BudgetArgs) -> anyhow::Result<()> {
    if let Some(BudgetCommand::Set {
        year,
        component,
        funding_source,
        forecast,
        region,
        monitoring,
    }) = args.set
    {
        let mut client = monitoring.connect().await?;
        client
            .set_budget_line(SetBudgetLineRequest {
                line: Some(BudgetLine {
                    year,
                    component: component as i32,
                    funding_source: funding_source as i32,
                    forecast: Some(Money { fcfa: forecast }),
                    region,
                }),
            })
            .await
            .map_err(|status| service_error("set the budget line", status))?;
        println!(
            "PTBA {year}: {} funded by {} forecast at {}",
            component_name(component as i32),
            source_name(funding_source as i32),
            Fcfa::new(forecast)
        );
        return Ok(());
    }
    let mut client = args.monitoring.connect().await?;
    let year = args.year.unwrap_or_else(current_year);
    let execution = client
        .get_budget_execution(GetBudgetExecutionRequest {
            year,
            region: args.region.clone(),
        })
        .await
        .map_err(|status| service_error("read the budget execution", status))?
        .into_inner();
    if args.json {
        return super::print_json(&json::to_json(
            "jigi.monitoring.v1.GetBudgetExecutionResponse",
            &execution,
        )?);
    }
    let money = |m: Option<Money>| Fcfa::new(m.unwrap_or_default().fcfa).to_string();
    println!("PTBA {year}: budget execution (achieved ÷ forecast)");
    let mut rows: Vec<Vec<String>> = execution
        .lines
        .iter()
        .map(|l| {
            let line = l.line.clone().unwrap_or_default();
            vec![
                component_name(line.component),
                source_name(line.funding_source),
                money(line.forecast),
                money(l.achieved),
                percent(l.execution_rate),
            ]
        })
        .collect();
    rows.push(vec![
        "total".into(),
        String::new(),
        money(execution.forecast),
        money(execution.achieved),
        percent(execution.execution_rate),
    ]);
    table::print(
        &["component", "funding source", ">forecast", ">achieved", ">execution"],
        &rows,
    );
    if execution.lines.is_empty() {
        println!(
            "No line for {year} yet: jigi budget set --year {year} --component tm --funding-source … --forecast …"
        );
    }
    print_freshness(&execution.freshness, execution.as_of.as_ref());
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// The indicators as a DHIS2 data value set (JSON for `/api/dataValueSets`).
    ///
    /// Example: jigi export dhis2 --period 2018Q4 --output dhis2-2018Q4.json
    Dhis2 {
        /// A quarter or a year (default: the current quarter).
        #[arg(long)]
        period: Option<String>,
        /// An area and everything below it (default: the whole country).
        #[arg(long, default_value = "")]
        area: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        monitoring: MonitoringAddress,
    },
    /// The indicators as CSV (area, area_name, period, indicator, value).
    ///
    /// Example: jigi export csv --period 2018 --output indicators-2018.csv
    Csv {
        /// A quarter or a year (default: the current quarter).
        #[arg(long)]
        period: Option<String>,
        /// An area and everything below it (default: the whole country).
        #[arg(long, default_value = "")]
        area: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        monitoring: MonitoringAddress,
    },
}

pub async fn export(command: ExportCommand) -> anyhow::Result<()> {
    match command {
        ExportCommand::Dhis2 {
            period,
            area,
            output,
            monitoring,
        } => {
            let mut client = monitoring.connect().await?;
            let period = period.unwrap_or_else(current_quarter);
            let set = client
                .export_data_value_set(ExportDataValueSetRequest {
                    period: Some(Period { code: period.clone() }),
                    area,
                })
                .await
                .map_err(|status| service_error("export to DHIS2", status))?
                .into_inner();
            write(output.as_ref(), &set.json)?;
            eprintln!("{} data values for {period}", set.data_values);
            if !set.unmapped_areas.is_empty() {
                eprintln!(
                    "Left out (no DHIS2 org unit in the mapping): {}",
                    set.unmapped_areas.join(", ")
                );
            }
            Ok(())
        }
        ExportCommand::Csv {
            period,
            area,
            output,
            monitoring,
        } => {
            let mut client = monitoring.connect().await?;
            let csv = client
                .export_csv(ExportCsvRequest {
                    period: Some(Period {
                        code: period.unwrap_or_else(current_quarter),
                    }),
                    area,
                })
                .await
                .map_err(|status| service_error("export CSV", status))?
                .into_inner()
                .csv;
            write(output.as_ref(), &csv)
        }
    }
}

fn write(output: Option<&PathBuf>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            std::fs::write(path, text).map_err(|err| anyhow::anyhow!("cannot write {}: {err}", path.display()))?;
            eprintln!("Written to {}", path.display());
        }
        None => {
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
        }
    }
    Ok(())
}
