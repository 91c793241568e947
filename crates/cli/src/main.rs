//! `jigi`: how a person runs and operates Jigi.
//!
//! - `jigi demo`: a local stack on embedded defaults, a scripted import, the result printed;
//! - `jigi up`: the local stack in the foreground, for trying things by hand;
//! - `jigi households import|show`: operate a running registry.
//!
//! Errors are one line on stderr (what failed, why, what to do) and a non-zero exit.

mod csv_format;
mod demo;
mod households;
mod import;
mod stack;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Jigi runs a national social safety net: a registry of poor households,
/// quarterly cash transfers, a preventive nutrition package, and a national
/// view of it all.
#[derive(Parser)]
#[command(name = "jigi", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a local stack, import sample households, and print what the registry holds.
    ///
    /// Example: jigi demo --data ./jigi-demo
    Demo(demo::DemoArgs),
    /// Run the local stack in the foreground until Ctrl-C, for trying things by hand.
    ///
    /// Example: jigi up --data ./jigi-local
    Up(UpArgs),
    /// Work with the households of a running registry.
    #[command(subcommand)]
    Households(households::HouseholdsCommand),
}

#[derive(clap::Args)]
struct UpArgs {
    /// Folder for the stack's data (NATS store, databases); reused across runs.
    #[arg(long, default_value = "jigi-local")]
    data: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("jigi: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Demo(args) => demo::run(args).await,
            Command::Up(args) => up(args).await,
            Command::Households(command) => households::run(command).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("jigi: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    init_logs("info");
    let stack =
        stack::LocalStack::start(&args.data, &[jigi_common::Region::Sikasso, jigi_common::Region::Mopti]).await?;
    println!("Jigi is up. Data in {}", args.data.display());
    println!("  NATS                {}", stack.nats.url());
    for (region, running) in &stack.registries {
        println!(
            "  registry {region:<10} http://{}  (metrics http://{}/metrics)",
            running.grpc_addr, running.metrics_addr
        );
    }
    println!("Press Ctrl-C to stop.");
    jigi_server_signal().await;
    println!("Stopping…");
    stack.stop().await;
    Ok(())
}

async fn jigi_server_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Logs for the local stack: warnings only unless `RUST_LOG` says more, so
/// the command's own output stays readable.
fn init_logs(default: &str) {
    let _ = jigi_telemetry::init(&jigi_telemetry::TelemetryConfig {
        service_name: "jigi".into(),
        service_version: env!("CARGO_PKG_VERSION").into(),
        region: "local".into(),
        deployment: "local".into(),
        default_log_filter: default.into(),
    })
    .map(std::mem::forget);
}

/// A service's refusal as one line: what failed, the service's reason.
pub fn service_error(what: &str, status: tonic::Status) -> anyhow::Error {
    let hint = match status.code() {
        tonic::Code::Unavailable => " (is the service running, and is the address right?)",
        tonic::Code::InvalidArgument => " (fix the request and try again)",
        tonic::Code::NotFound => " (check the ID)",
        _ => "",
    };
    anyhow::anyhow!("{what} failed: {} ({:?}){hint}", status.message(), status.code())
}
