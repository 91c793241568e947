//! `jigi demo`: a local stack, a field import, and what the registry holds.

use std::path::PathBuf;
use std::time::Duration;

use jigi_common::Region;
use jigi_proto::registry::ListHouseholdsRequest;

use crate::households::RegistryAddress;
use crate::stack::LocalStack;
use crate::{import, table};

/// Ten households of Sikasso, one of them a duplicate and one invalid.
const SAMPLE_CSV: &str = include_str!("../../../examples/households-sample.csv");

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Folder for the demo's data; each run gets a new subfolder in it.
    #[arg(long, default_value = "jigi-demo")]
    pub data: PathBuf,
    /// The household CSV to import (default: the sample shipped with Jigi).
    #[arg(long)]
    pub file: Option<PathBuf>,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    crate::init_logs("warn");
    let run_dir = args
        .data
        .join(chrono::Local::now().format("run-%Y%m%d-%H%M%S").to_string());
    println!("Jigi demo — data in {}", run_dir.display());
    let stack = LocalStack::start(&run_dir, &[Region::Sikasso]).await?;
    let file = match args.file {
        Some(file) => file,
        None => {
            // The sample is built in, so the demo runs from any folder.
            let sample = run_dir.join("households-sample.csv");
            std::fs::write(&sample, SAMPLE_CSV)?;
            sample
        }
    };
    let outcome = tokio::select! {
        outcome = script(&stack, &file, &run_dir) => outcome,
        _ = tokio::signal::ctrl_c() => {
            println!("\nInterrupted; stopping cleanly.");
            Ok(())
        }
    };
    stack.stop().await;
    println!("Stopped. The data stays in {}", run_dir.display());
    outcome
}

async fn script(stack: &LocalStack, file: &std::path::Path, run_dir: &std::path::Path) -> anyhow::Result<()> {
    let registry = stack.registry(Region::Sikasso);
    println!("  NATS (JetStream)  {}", stack.nats.url());
    println!("  registry sikasso  http://{}", registry.grpc_addr);
    let address = RegistryAddress {
        address: format!("http://{}", registry.grpc_addr),
    };
    let mut client = address.connect().await?;

    println!("\n1. Importing {}", file.display());
    let summary = import::import_file(&mut client, file, &run_dir.join("import-errors.csv"), true).await?;
    println!(
        "   {} registered, {} duplicates, {} invalid, {} lines unreadable",
        summary.registered, summary.duplicates, summary.invalid, summary.lines_refused_by_format
    );
    if let Some(report) = &summary.report {
        for line in std::fs::read_to_string(report)?.lines().skip(1) {
            println!("   refused: {line}");
        }
    }

    println!("\n2. The registry of Sikasso now holds:");
    let page = client
        .list_households(ListHouseholdsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .map_err(|status| crate::service_error("list households", status))?
        .into_inner();
    let rows: Vec<Vec<String>> = page
        .households
        .iter()
        .map(|h| {
            let head = h.members.first().cloned().unwrap_or_default();
            let location = h.location.clone().unwrap_or_default();
            let pmt = h.pmt.clone().unwrap_or_default();
            vec![
                h.household_id[h.household_id.len() - 12..].to_owned(),
                format!("{} {}", head.given_name, head.family_name),
                location.commune.rsplit('.').next().unwrap_or_default().to_owned(),
                h.members.len().to_string(),
                format!("{:.2}", pmt.score),
                if pmt.eligible { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    table::print(
        &["household (…id)", "head", "commune", ">size", ">PMT score", "eligible"],
        &rows,
    );

    println!("\n3. Events published on jigi.sikasso.registry.>");
    let bus = jigi_bus::Bus::connect(&jigi_bus::BusConfig::new(stack.nats.url(), "jigi-demo")).await?;
    let database = registry.database.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while jigi_bus::outbox::pending(&database).await? > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut stream = bus.jetstream.get_stream("JIGI_SIKASSO").await?;
    let info = stream.info().await?;
    println!(
        "   stream JIGI_SIKASSO holds {} events ({} still in the outbox)",
        info.state.messages,
        jigi_bus::outbox::pending(&database).await?
    );
    Ok(())
}
