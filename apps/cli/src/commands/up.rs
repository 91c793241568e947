//! `jigi up`: the local stack in the foreground, for trying things by hand.

use std::path::PathBuf;

use crate::demo::REGIONS;
use jigi_stack::LocalStack;

#[derive(clap::Args, Debug)]
pub struct UpArgs {
    /// Folder for the stack's data (NATS stores, databases); reused across runs.
    #[arg(long, default_value = "jigi-local")]
    pub data: PathBuf,
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let _telemetry = crate::init_logs("warn");
    println!("Starting a NATS hub, leaf nodes for Sikasso and Mopti, and the services…");
    let telemetry = crate::demo::console_telemetry();
    let stack = tokio::select! {
        stack = LocalStack::start_with(&args.data, &REGIONS, &telemetry) => stack?,
        _ = tokio::signal::ctrl_c() => return Ok(()),
    };
    println!("Jigi is up. Data in {}", args.data.display());
    println!(
        "  NATS hub (national)  {}  (user national sees every region's events)",
        stack.hub_url("national")
    );
    println!("  monitoring           http://{}", stack.monitoring_addr());
    println!("  linkage index        http://{}", stack.linkage_addr());
    println!(
        "  console              {}  (open it in a browser: sign in by name, or with a token)",
        stack.console_url()
    );
    for node in &stack.regions {
        let endpoints = node.endpoints();
        println!("  {}", node.region.name());
        println!("    NATS leaf          {}", node.nats_url);
        println!("    registry           {}", endpoints.registry);
        println!("    payments           {}", endpoints.payments);
        println!("    nutrition          {}", endpoints.nutrition);
        println!("    activities         {}", endpoints.activities);
    }
    let first = &stack.regions[0];
    let endpoints = first.endpoints();
    println!(
        "To use {} with the other commands (in another terminal):",
        first.region.name()
    );
    println!("  export JIGI_REGISTRY_ADDR={}", endpoints.registry);
    println!("  export JIGI_PAYMENTS_ADDR={}", endpoints.payments);
    println!("  export JIGI_NUTRITION_ADDR={}", endpoints.nutrition);
    println!("  export JIGI_ACTIVITIES_ADDR={}", endpoints.activities);
    println!("  export JIGI_MONITORING_ADDR=http://{}", stack.monitoring_addr());
    println!("  export JIGI_LINKAGE_ADDR=http://{}", stack.linkage_addr());
    println!("  export JIGI_NATS_URL={}", stack.hub_url("national"));
    println!(
        "  export JIGI_AUTH_KEY={}",
        jigi_stack::stack::key_file(&args.data).display()
    );
    println!(
        "Every call needs a token with the caller's roles; for a supervisor of {}:",
        first.region.name()
    );
    println!(
        "  export JIGI_TOKEN=$(jigi token --subject you --role regional_supervisor --region {})",
        first.region.slug()
    );
    println!("Ready. Press Ctrl-C to stop.");
    let _ = tokio::signal::ctrl_c().await;
    println!("Stopping…");
    stack.stop().await;
    println!("Stopped. The data stays in {}", args.data.display());
    Ok(())
}
