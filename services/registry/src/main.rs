//! `jigi-registry`: runs the registry of one region until Ctrl-C or SIGTERM.
//! Settings come from `JIGI_*` variables (see `Config`).

fn main() -> std::process::ExitCode {
    jigi_server::host::main(
        jigi_registry::SERVICE,
        jigi_registry::Config::from_env,
        jigi_registry::start,
    )
}
