//! `jigi-monitoring`: runs the national monitoring until Ctrl-C or SIGTERM.
//! Settings come from `JIGI_*` variables (see `Config`).

fn main() -> std::process::ExitCode {
    jigi_server::host::main(
        jigi_monitoring::SERVICE,
        jigi_monitoring::Config::from_env,
        jigi_monitoring::start,
    )
}
