//! `jigi demo`: a whole programme quarter on a local stack, and the
//! national indicators it produces.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Datelike;
use jigi_common::{Fcfa, Region};
use serde::{Deserialize, Serialize};

use crate::address;
use jigi_stack::LocalStack;
use jigi_stack::national::{self, Figures};
use jigi_stack::progress::Bars;
use jigi_stack::quarter::{self, QuarterPlan, QuarterSummary};

/// The regions of the demo.
pub const REGIONS: [Region; 2] = [Region::Sikasso, Region::Mopti];

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Folder for the demo's data; each run gets a new subfolder in it.
    #[arg(long, default_value = "jigi-demo")]
    pub data: PathBuf,
    /// Households imported in each region.
    #[arg(long, default_value_t = 300)]
    pub households: u64,
    /// Longest wait, in seconds, for the national indicators to show everything done.
    #[arg(long, default_value_t = 120)]
    pub wait: u64,
    /// No progress bars (they are hidden anyway when output is not a terminal).
    #[arg(long)]
    pub quiet: bool,
    /// Keep the stack and its console running after the quarter, until Ctrl-C
    /// (`make demo` does: the console then shows the quarter).
    #[arg(long)]
    pub stay: bool,
}

/// Everything the demo did and saw, written to `summary.json` in its folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoReport {
    pub period: String,
    pub year: i32,
    /// What the quarter driver did in each region.
    pub regions: Vec<QuarterSummary>,
    /// The same as national figures: per region, then the country.
    pub done: Vec<Figures>,
    /// What the national monitoring reported: per region, then the country.
    pub reported: Vec<Figures>,
    /// Whether every count reported equals what was done.
    pub agree: bool,
    /// From the start of the stack to the indicators printed.
    pub seconds: f64,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let _telemetry = crate::init_logs("warn");
    let run_dir = args
        .data
        .join(chrono::Local::now().format("run-%Y%m%d-%H%M%S").to_string());
    println!("Jigi demo: a programme quarter in Sikasso and Mopti.");
    println!("Data (NATS stores, databases, summary.json) in {}", run_dir.display());
    let started = Instant::now();
    println!("\nStarting a NATS hub, leaf nodes for Sikasso and Mopti, and the services…");
    let telemetry = crate::demo::console_telemetry();
    let stack = tokio::select! {
        stack = LocalStack::start_with(&run_dir, &REGIONS, &telemetry) => stack?,
        _ = tokio::signal::ctrl_c() => {
            println!("\nInterrupted while starting. The data stays in {}", run_dir.display());
            return Ok(());
        }
    };
    print_addresses(&stack);
    let bars = Bars::new(args.quiet);
    let mut interrupted = false;
    let outcome = tokio::select! {
        outcome = script(&stack, &args, &bars, &run_dir, started) => outcome,
        _ = tokio::signal::ctrl_c() => {
            bars.clear();
            println!("\nInterrupted; stopping cleanly.");
            interrupted = true;
            Ok(())
        }
    };
    if args.stay && !interrupted && outcome.is_ok() {
        println!(
            "\nThe console shows the quarter: open {} and sign in (by name: the stack issues the token).\nPress Ctrl-C to stop.",
            stack.console_url()
        );
        let _ = tokio::signal::ctrl_c().await;
    }
    stack.stop().await;
    println!("Stopped. The data stays in {}", run_dir.display());
    outcome
}

/// The stack's telemetry for a person at the console: without a tracing
/// UI, the services' spans go to the console's trace page.
pub fn console_telemetry() -> jigi_stack::Telemetry {
    jigi_stack::Telemetry {
        spans_to_console: true,
        ..jigi_stack::Telemetry::default()
    }
}

fn print_addresses(stack: &LocalStack) {
    for node in &stack.regions {
        let endpoints = node.endpoints();
        println!(
            "  {:<8} leaf nats://127.0.0.1:{}  registry {}  payments {}  nutrition {}  activities {}",
            node.region.slug(),
            node.leaf.server.port(),
            endpoints.registry,
            endpoints.payments,
            endpoints.nutrition,
            endpoints.activities
        );
    }
    println!(
        "  national hub nats://127.0.0.1:{}  monitoring http://{}",
        stack.hub.server.port(),
        stack.monitoring_addr()
    );
    println!("  national operations console {}", stack.console_url());
}

async fn script(
    stack: &LocalStack,
    args: &DemoArgs,
    bars: &Bars,
    run_dir: &Path,
    started: Instant,
) -> anyhow::Result<()> {
    let plans: Vec<QuarterPlan> = REGIONS
        .iter()
        .map(|region| QuarterPlan::new(*region, args.households))
        .collect();
    let period = plans[0].period().to_string();
    let year = plans[0].today.year();
    println!(
        "\n1. The quarter {period}, in each region: {} households imported into 3 communes, targeted by PMT,\n   \
         enrolled (TM and MA; PNP where a child or a woman qualifies; AGR and HIMO for some), a TM cycle paid,\n   \
         a PNP round distributed, an MA session per commune, AGR plans and first tranches, a HIMO site per\n   \
         commune with a day of work, and the AGR grants and HIMO wages paid in cycles of their own.",
        args.households
    );
    let runs = plans.iter().map(|plan| {
        let endpoints = stack.region(plan.region).endpoints();
        let bars = bars.clone();
        async move { quarter::run(&endpoints, plan, &bars).await }
    });
    let summaries = futures::future::try_join_all(runs).await?;
    for s in &summaries {
        println!(
            "   {:<8} {} registered, {} PMT-eligible: {} enrolled in TM, {} in PNP",
            s.region, s.households_registered, s.pmt_eligible, s.enrolled_tm, s.enrolled_pnp
        );
        println!(
            "            cycle {} ({}): {} entitled, {}; {} paid, {} failed, {} not collected",
            s.period,
            national::source_name(s.funding_source),
            s.entitlements,
            Fcfa::new(s.entitled_fcfa),
            s.paid,
            s.failed,
            s.not_collected
        );
        println!(
            "            round {}: {} t of flour received in {} warehouses, {} rations ({} t)",
            s.round_id,
            national::tonnes(s.flour_received_grams),
            s.warehouses,
            s.reached.total(),
            national::tonnes(s.flour_distributed_grams)
        );
        println!(
            "            MA: {} sessions, {} people; AGR: {} plans, {} released, {} paid; HIMO: {} sites, {} person-days, \
             {} wages, {} paid",
            s.ma_sessions,
            s.ma_people,
            s.agr_plans,
            Fcfa::new(s.agr_released_fcfa),
            Fcfa::new(s.agr_paid_fcfa),
            s.himo_sites,
            s.himo_person_days,
            Fcfa::new(s.himo_wages_fcfa),
            Fcfa::new(s.himo_paid_fcfa)
        );
    }

    let operator = stack
        .staff
        .national("national.operator", &[jigi_auth::Role::NationalOperator]);
    let mut monitoring = address::monitoring_client_as(
        address::connect(
            &format!("http://{}", stack.monitoring_addr()),
            "monitoring",
            "--monitoring",
            "JIGI_MONITORING_ADDR",
        )
        .await?,
        operator,
    );
    let forecasts = national::forecasts(&summaries);
    national::set_budget(&mut monitoring, year, &forecasts).await?;
    national::set_activity_budget(&mut monitoring, year, &summaries).await?;
    println!(
        "\n2. PTBA {year}: TM forecast of four quarters per funding source ({}).",
        forecasts
            .iter()
            .map(|(source, fcfa)| format!("{} {}", national::source_name(*source), Fcfa::new(*fcfa)))
            .collect::<Vec<_>>()
            .join(", ")
    );

    println!("\n3. Waiting for the national monitoring to count every event of both regions…");
    let done = national::expected(&summaries);
    let sources: Vec<(String, i32)> = summaries.iter().map(|s| (s.region.clone(), s.funding_source)).collect();
    let wait_started = Instant::now();
    let deadline = wait_started + Duration::from_secs(args.wait);
    let mut reported;
    loop {
        reported = national::reported(&mut monitoring, &period, year, &sources).await?;
        let agree = reported
            .iter()
            .map(Figures::counts)
            .eq(done.iter().map(Figures::counts));
        if agree || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let agree = reported
        .iter()
        .map(Figures::counts)
        .eq(done.iter().map(Figures::counts));
    println!(
        "   {} after {:.1} s.",
        if agree { "Caught up" } else { "NOT caught up" },
        wait_started.elapsed().as_secs_f64()
    );
    crate::figures::print(&reported, &period, year);
    let components = wait_for_components(&mut monitoring, &summaries, &period, year, deadline).await?;
    crate::figures::print_components(&components, &period, year);

    println!("\nTrace IDs of key actions (the trace runs from this command through the services and their events):");
    crate::table::print(
        &["region", "action", "trace ID"],
        &summaries
            .iter()
            .flat_map(|s| {
                s.traces
                    .iter()
                    .map(|t| vec![s.region.clone(), t.action.clone(), t.trace_id.clone()])
            })
            .collect::<Vec<_>>(),
    );
    if agree {
        displaced(stack, plans[0].period()).await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let report = DemoReport {
        period,
        year,
        regions: summaries,
        done: done.clone(),
        reported: reported.clone(),
        agree,
        seconds,
    };
    let path = run_dir.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)
        .map_err(|err| anyhow::anyhow!("cannot write {}: {err}", path.display()))?;
    println!(
        "\nThe quarter took {seconds:.1} s. What was done and what was reported: {}",
        path.display()
    );
    if !agree {
        let differs: Vec<String> = done
            .iter()
            .zip(&reported)
            .filter(|(d, r)| d.counts() != r.counts())
            .map(|(d, _)| {
                if d.name.is_empty() {
                    d.area.clone()
                } else {
                    d.name.clone()
                }
            })
            .collect();
        anyhow::bail!(
            "the national indicators of {} did not match what was done within {} s (compare done and reported in {}); \
             check the monitoring's consumer in the logs (RUST_LOG=info) and retry with a longer --wait",
            differs.join(", "),
            args.wait,
            path.display()
        );
    }
    Ok(())
}

/// One household displaced from Mopti and registered again in Sikasso,
/// through the national linkage index (after the quarter's figures, which
/// it does not change).
async fn displaced(stack: &LocalStack, period: jigi_common::Period) -> anyhow::Result<()> {
    let next = |p: jigi_common::Period| jigi_common::Period::quarter_of(p.end() + chrono::Duration::days(1));
    let (first, second) = (next(period), next(next(period)));
    println!(
        "\n4. A family displaced from Mopti, registered again in Sikasso (same ID card written differently, name in capitals):"
    );
    let seen = jigi_stack::displaced::run(stack, [&first.to_string(), &second.to_string()]).await?;
    let side = |s: &Option<jigi_proto::linkage::LinkedHousehold>| {
        s.as_ref()
            .map(|s| format!("{} ({})", s.household_id, s.region))
            .unwrap_or_default()
    };
    println!(
        "   flagged by the national linkage index {:.1} s after the Sikasso registration: {} <-> {}",
        seen.flagged_after.as_secs_f64(),
        side(&seen.duplicate.first),
        side(&seen.duplicate.second)
    );
    println!(
        "   Mopti's {first} freeze listed {} households and held it: {}",
        seen.frozen_in_mopti, seen.held_reason
    );
    println!(
        "   Mopti's registrar resolved it as a move; Mopti transferred it out (\"moved to sikasso\"); no personal data left either region"
    );
    println!("   Sikasso continued its enrolment in TM: {}", seen.continued_as);
    println!(
        "   Sikasso's {first} freeze lists {} households: {}",
        seen.frozen_in_sikasso,
        if seen.paid_in_sikasso {
            "the family among them (the quarter Mopti held back: none missed)"
        } else {
            "UNEXPECTED: the family is not among them"
        }
    );
    println!(
        "   Mopti's {second} freeze: {}",
        if seen.listed_in_mopti_after {
            "UNEXPECTED: the family is still listed in Mopti"
        } else {
            "the family is not listed (paid once, in Sikasso)"
        }
    );
    anyhow::ensure!(
        seen.paid_in_sikasso && !seen.listed_in_mopti_after,
        "the displaced family was not paid once"
    );
    anyhow::ensure!(
        seen.continued_as.contains(jigi_stack::displaced::DECISION),
        "Sikasso did not continue the family's enrolment with Mopti's committee decision: {:?}",
        seen.continued_as
    );
    Ok(())
}

/// Waits (until `deadline`) for the national monitoring to count the MA
/// sessions, the AGR grants and HIMO wages paid in both regions, then
/// returns the component figures per region and for the country.
async fn wait_for_components(
    monitoring: &mut address::MonitoringClient,
    summaries: &[QuarterSummary],
    period: &str,
    year: i32,
    deadline: Instant,
) -> anyhow::Result<national::Components> {
    let sessions: i64 = summaries.iter().map(|s| s.ma_sessions).sum();
    let grants: i64 = summaries.iter().map(|s| s.agr_paid_fcfa).sum();
    let wages: i64 = summaries.iter().map(|s| s.himo_paid_fcfa).sum();
    loop {
        let components = national::components(monitoring, period, year).await?;
        let country = components.rows.last().cloned().unwrap_or_default();
        let caught_up = country.ma_sessions == sessions
            && country.agr_grants_paid_fcfa == grants
            && country.himo_wages_paid_fcfa == wages;
        if caught_up || Instant::now() >= deadline {
            return Ok(components);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
