//! `jigi-console`: serves the national operations console until Ctrl-C or
//! SIGTERM. Settings come from `JIGI_*` variables (see `Config`).

fn main() -> std::process::ExitCode {
    let config = match jigi_console::Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("jigi-console: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("jigi-console: cannot start the runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let telemetry = jigi_telemetry::init(&jigi_telemetry::TelemetryConfig {
            service_name: jigi_console::SERVICE.binary(),
            service_version: env!("CARGO_PKG_VERSION").into(),
            region: "national".into(),
            deployment: std::env::var("JIGI_DEPLOYMENT").unwrap_or_else(|_| "local".into()),
            default_log_filter: "info".into(),
            otlp_endpoint: None,
        });
        let _telemetry = match telemetry {
            Ok(guard) => guard,
            Err(err) => {
                eprintln!("jigi-console: {err}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let shutdown = tokio_util::sync::CancellationToken::new();
        let running = match jigi_console::start(config, shutdown.clone()).await {
            Ok(running) => running,
            Err(err) => {
                tracing::error!(error = %err, "cannot start");
                return std::process::ExitCode::FAILURE;
            }
        };
        println!("jigi-console: open {}", running.url());
        jigi_server::shutdown_signal().await;
        shutdown.cancel();
        running.stopped().await;
        std::process::ExitCode::SUCCESS
    })
}
