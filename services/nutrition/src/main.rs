//! `jigi-nutrition`: runs the nutrition service (PNP) of one region until
//! Ctrl-C or SIGTERM. Settings come from `JIGI_*` variables (see `Config`).

use jigi_nutrition::{Config, start};
use jigi_telemetry::TelemetryConfig;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let _telemetry = jigi_telemetry::init(&TelemetryConfig {
        service_name: "jigi-nutrition".into(),
        service_version: env!("CARGO_PKG_VERSION").into(),
        region: config.region.slug().into(),
        deployment: std::env::var("JIGI_DEPLOYMENT").unwrap_or_else(|_| "local".into()),
        default_log_filter: "info".into(),
    })?;
    if let Some(dir) = config
        .database_url
        .strip_prefix("sqlite://")
        .and_then(|p| std::path::Path::new(p).parent())
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let shutdown = CancellationToken::new();
    let running = start(config, shutdown.clone()).await?;
    jigi_server::shutdown_signal().await;
    tracing::info!("shutting down");
    shutdown.cancel();
    running.stopped().await;
    Ok(())
}
