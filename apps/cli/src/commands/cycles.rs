//! `jigi cycles …`: the payment cycles (TM) of a running payments service.

use clap::Subcommand;
use jigi_common::Fcfa;
use jigi_proto::common::{Money, Period};
use jigi_proto::payments::{
    AgentAssignment, ApprovePaymentCycleRequest, AssignPaymentAgentsRequest, CycleKind, CycleStatus,
    FreezePaymentCycleRequest, FundingSource, GetReconciliationRequest, OpenPaymentCycleRequest, PaymentChannel,
    PaymentCycle, ReconciliationLine, Totals,
};

use crate::address::{PaymentsAddress, service_error};
use crate::table;

#[derive(Subcommand, Debug)]
pub enum CyclesCommand {
    /// Open a payment cycle (DRAFT) for a quarter and a funding source, and
    /// optionally assign its communes to payment agents.
    ///
    /// Example: jigi cycles open --period 2018Q4 --funding-source world-bank-ida --by a.traore --agent sikasso.yanfolila.gouanan=BNDA-SIKASSO:cash
    Open {
        /// The quarter to pay, e.g. 2018Q4 (default: the current quarter).
        #[arg(long)]
        period: Option<String>,
        /// Who funds it: world-bank-ida, dfid or state-budget.
        #[arg(long, value_parser = parse_source)]
        funding_source: FundingSource,
        /// Amount per household for the quarter, FCFA (default: the programme rule, 30 000).
        #[arg(long)]
        amount: Option<i64>,
        /// A commune to cover (repeat; default: every commune of the region).
        #[arg(long = "commune")]
        communes: Vec<String>,
        /// COMMUNE=AGENT_CODE[:cash|mobile-money] (repeat): the agent paying a commune.
        #[arg(long = "agent", value_parser = parse_agent)]
        agents: Vec<AgentAssignment>,
        /// The user preparing the cycle.
        #[arg(long = "by")]
        by: String,
        /// What the cycle pays: tm (cash transfers), agr-grant (the AGR
        /// tranches released in the quarter) or himo-wages (the quarter's
        /// closed HIMO wage sheets).
        #[arg(long, value_parser = parse_kind, default_value = "tm")]
        kind: CycleKind,
        #[command(flatten)]
        payments: PaymentsAddress,
    },
    /// Assign communes of a DRAFT or FROZEN cycle to payment agents.
    ///
    /// Example: jigi cycles assign CYCLE_ID --by a.traore --agent mopti.koro.dinangourou=ORANGE-MONEY-MOPTI:mobile-money
    Assign {
        /// The cycle ID.
        cycle: String,
        /// COMMUNE=AGENT_CODE[:cash|mobile-money] (repeat).
        #[arg(long = "agent", value_parser = parse_agent, required = true)]
        agents: Vec<AgentAssignment>,
        /// The user making the assignment.
        #[arg(long = "by")]
        by: String,
        #[command(flatten)]
        payments: PaymentsAddress,
    },
    /// Freeze a cycle's beneficiary list (DRAFT → FROZEN): the households enrolled in TM now.
    ///
    /// Example: jigi cycles freeze CYCLE_ID --by a.traore
    Freeze {
        /// The cycle ID.
        cycle: String,
        /// The user freezing the list (they cannot approve it).
        #[arg(long = "by")]
        by: String,
        #[command(flatten)]
        payments: PaymentsAddress,
    },
    /// Approve a frozen cycle (FROZEN → APPROVED), restating the totals you checked.
    ///
    /// Another person than whoever opened or froze it; the count and amount
    /// must equal the frozen list's and become the control totals.
    ///
    /// Example: jigi cycles approve CYCLE_ID --by m.coulibaly --count 182 --amount 5460000
    Approve {
        /// The cycle ID.
        cycle: String,
        /// The approving user.
        #[arg(long = "by")]
        by: String,
        /// Households on the frozen list, as checked.
        #[arg(long)]
        count: i64,
        /// Their total in FCFA, as checked.
        #[arg(long)]
        amount: i64,
        #[command(flatten)]
        payments: PaymentsAddress,
    },
    /// Record a payment agent's return file: one line per household, with
    /// its outcome (paid, failed, not_collected), date, and for a payment
    /// the amount and receipt reference. Each line is accepted or refused
    /// on its own; refused and unreadable lines go to a report. Sending the
    /// same file again records nothing twice. Columns: see the README
    /// ("Payment agents' results").
    ///
    /// Example: jigi cycles results CYCLE_ID bnda-gouanan.csv --agent BNDA-SIKASSO
    Results {
        /// The cycle.
        cycle: String,
        /// The agent's CSV file.
        file: std::path::PathBuf,
        /// The reporting agent, when the file has no agent_code column.
        #[arg(long)]
        agent: Option<String>,
        /// Where to list refused lines (default: FILE with `.errors.csv`).
        #[arg(long)]
        report: Option<std::path::PathBuf>,
        /// Results per request (1 to 5000): smaller on a poor link, so a
        /// cut costs less to send again.
        #[arg(long, default_value_t = crate::results::BATCH, value_parser = clap::value_parser!(u16).range(1..=5000))]
        batch_size: u16,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        #[command(flatten)]
        payments: PaymentsAddress,
    },
    /// A cycle's reconciliation: expected against paid, failed, not collected
    /// and outstanding, by commune and in total.
    ///
    /// Example: jigi cycles reconcile CYCLE_ID
    Reconcile {
        /// The cycle ID.
        cycle: String,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        payments: PaymentsAddress,
    },
}

fn parse_source(text: &str) -> Result<FundingSource, String> {
    let name = format!("FUNDING_SOURCE_{}", text.trim().replace('-', "_").to_ascii_uppercase());
    FundingSource::from_str_name(&name)
        .filter(|s| *s != FundingSource::Unspecified)
        .ok_or_else(|| format!("unknown funding source {text:?}: use world-bank-ida, dfid or state-budget"))
}

/// `COMMUNE=AGENT[:cash|mobile-money]`.
fn parse_agent(text: &str) -> Result<AgentAssignment, String> {
    let (commune, agent) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: write COMMUNE=AGENT_CODE[:cash|mobile-money]"))?;
    let (agent, channel) = agent.split_once(':').unwrap_or((agent, "cash"));
    let channel = match channel {
        "cash" => PaymentChannel::Cash,
        "mobile-money" | "mobile_money" => PaymentChannel::MobileMoney,
        other => return Err(format!("unknown channel {other:?}: use cash or mobile-money")),
    };
    Ok(AgentAssignment {
        commune: commune.trim().to_owned(),
        agent_code: agent.trim().to_owned(),
        channel: channel as i32,
    })
}

fn status(cycle: &PaymentCycle) -> String {
    CycleStatus::try_from(cycle.status)
        .map(|s| s.as_str_name().trim_start_matches("CYCLE_STATUS_").to_owned())
        .unwrap_or_default()
}

fn fcfa(money: Option<Money>) -> Fcfa {
    Fcfa::new(money.unwrap_or_default().fcfa)
}

fn totals(t: Option<Totals>) -> (i64, Fcfa) {
    let t = t.unwrap_or_default();
    (t.count, fcfa(t.amount))
}

pub async fn run(command: CyclesCommand) -> anyhow::Result<()> {
    match command {
        CyclesCommand::Open {
            period,
            funding_source,
            amount,
            communes,
            agents,
            by,
            kind,
            payments,
        } => {
            let mut client = payments.connect().await?;
            let period =
                period.unwrap_or_else(|| jigi_common::Period::quarter_of(chrono::Utc::now().date_naive()).to_string());
            let cycle = client
                .open_payment_cycle(OpenPaymentCycleRequest {
                    period: Some(Period { code: period }),
                    funding_source: funding_source as i32,
                    amount_per_household: amount.map(|fcfa| Money { fcfa }),
                    communes,
                    prepared_by: by.clone(),
                    kind: kind as i32,
                })
                .await
                .map_err(|status| service_error("open payment cycle", status))?
                .into_inner()
                .cycle
                .unwrap_or_default();
            println!(
                "Cycle {} opened ({}): {}, {}, {} per household, {}",
                cycle.cycle_id,
                status(&cycle),
                cycle.period.clone().unwrap_or_default().code,
                jigi_stack::national::source_name(cycle.funding_source),
                fcfa(cycle.amount_per_household),
                if cycle.communes.is_empty() {
                    "every commune of the region".to_owned()
                } else {
                    cycle.communes.join(", ")
                }
            );
            if !agents.is_empty() {
                assign(&mut client, &cycle.cycle_id, agents, by).await?;
            }
            println!("Next: jigi cycles freeze {} --by USER", cycle.cycle_id);
            Ok(())
        }
        CyclesCommand::Assign {
            cycle,
            agents,
            by,
            payments,
        } => {
            let mut client = payments.connect().await?;
            assign(&mut client, &cycle, agents, by).await
        }
        CyclesCommand::Freeze { cycle, by, payments } => {
            let mut client = payments.connect().await?;
            let frozen = client
                .freeze_payment_cycle(FreezePaymentCycleRequest {
                    cycle_id: cycle.clone(),
                    prepared_by: by,
                })
                .await
                .map_err(|status| service_error(&format!("freeze cycle {cycle}"), status))?
                .into_inner();
            let (count, amount) = totals(frozen.cycle.clone().unwrap_or_default().frozen);
            println!("Cycle {cycle} frozen: {count} households, {amount}");
            table::print(
                &["commune", ">households", ">amount"],
                &frozen
                    .communes
                    .iter()
                    .map(|c| {
                        let (count, amount) = totals(c.totals);
                        vec![
                            c.location.clone().unwrap_or_default().commune,
                            count.to_string(),
                            amount.to_string(),
                        ]
                    })
                    .collect::<Vec<_>>(),
            );
            if frozen.already_in_other_cycle > 0 {
                println!(
                    "{} enrolled households left out: another live cycle of the quarter lists them",
                    frozen.already_in_other_cycle
                );
            }
            println!(
                "Next, by another person: jigi cycles approve {cycle} --by USER --count {count} --amount {}",
                amount.francs()
            );
            Ok(())
        }
        CyclesCommand::Approve {
            cycle,
            by,
            count,
            amount,
            payments,
        } => {
            let mut client = payments.connect().await?;
            let approved = client
                .approve_payment_cycle(ApprovePaymentCycleRequest {
                    cycle_id: cycle.clone(),
                    approved_by: by.clone(),
                    expected_count: count,
                    expected_amount: Some(Money { fcfa: amount }),
                })
                .await
                .map_err(|status| service_error(&format!("approve cycle {cycle}"), status))?
                .into_inner()
                .cycle
                .unwrap_or_default();
            let (count, amount) = totals(approved.control);
            println!("Cycle {cycle} approved by {by}: control totals {count} households, {amount}; agents may pay");
            Ok(())
        }
        CyclesCommand::Results {
            cycle,
            file,
            agent,
            report,
            batch_size,
            quiet,
            payments,
        } => {
            let mut client = payments.connect().await?;
            let report = report.unwrap_or_else(|| file.with_extension("errors.csv"));
            let show_progress = jigi_stack::progress::Bars::new(quiet).visible();
            let summary = crate::results::record_file(
                &mut client,
                &cycle,
                &file,
                agent.as_deref(),
                &report,
                usize::from(batch_size),
                show_progress,
            )
            .await?;
            println!(
                "{} results recorded, {} refused, {} lines unreadable",
                summary.accepted, summary.refused, summary.unreadable
            );
            if let Some(report) = summary.report {
                println!("Refused lines are listed in {}", report.display());
            }
            Ok(())
        }
        CyclesCommand::Reconcile { cycle, json, payments } => {
            let mut client = payments.connect().await?;
            let reconciliation = client
                .get_reconciliation(GetReconciliationRequest {
                    cycle_id: cycle.clone(),
                })
                .await
                .map_err(|status| service_error(&format!("reconcile cycle {cycle}"), status))?
                .into_inner()
                .reconciliation
                .unwrap_or_default();
            if json {
                return super::print_json(&crate::json::to_json(
                    "jigi.payments.v1.Reconciliation",
                    &reconciliation,
                )?);
            }
            let status = CycleStatus::try_from(reconciliation.status)
                .map(|s| s.as_str_name().trim_start_matches("CYCLE_STATUS_").to_owned())
                .unwrap_or_default();
            println!("Cycle {cycle} ({status})");
            let row = |name: String, line: &ReconciliationLine| {
                let (expected, expected_amount) = totals(line.expected);
                let (paid, paid_amount) = totals(line.paid);
                vec![
                    name,
                    line.agent_code.clone(),
                    expected.to_string(),
                    expected_amount.to_string(),
                    paid.to_string(),
                    paid_amount.to_string(),
                    totals(line.failed).0.to_string(),
                    totals(line.not_collected).0.to_string(),
                    totals(line.outstanding).0.to_string(),
                ]
            };
            let mut rows: Vec<Vec<String>> = reconciliation
                .by_commune
                .iter()
                .map(|line| row(line.location.clone().unwrap_or_default().commune, line))
                .collect();
            rows.push(row("total".into(), &reconciliation.total.clone().unwrap_or_default()));
            table::print(
                &[
                    "commune",
                    "agent",
                    ">expected",
                    ">expected amount",
                    ">paid",
                    ">paid amount",
                    ">failed",
                    ">not collected",
                    ">outstanding",
                ],
                &rows,
            );
            Ok(())
        }
    }
}

async fn assign(
    client: &mut crate::address::PaymentsClient,
    cycle: &str,
    agents: Vec<AgentAssignment>,
    by: String,
) -> anyhow::Result<()> {
    let assigned = client
        .assign_payment_agents(AssignPaymentAgentsRequest {
            cycle_id: cycle.to_owned(),
            assignments: agents,
            assigned_by: by,
        })
        .await
        .map_err(|status| service_error(&format!("assign agents to cycle {cycle}"), status))?
        .into_inner()
        .cycle
        .unwrap_or_default();
    for agent in &assigned.agents {
        println!("  {} paid by {}", agent.commune, agent.agent_code);
    }
    Ok(())
}

/// `tm`, `agr-grant` or `himo-wages`.
fn parse_kind(text: &str) -> Result<CycleKind, String> {
    match text {
        "tm" => Ok(CycleKind::Tm),
        "agr-grant" => Ok(CycleKind::AgrGrant),
        "himo-wages" => Ok(CycleKind::HimoWages),
        other => Err(format!("{other:?} is not a cycle kind: tm, agr-grant or himo-wages")),
    }
}
