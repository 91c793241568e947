//! `jigi-linkage`: runs the national linkage index until Ctrl-C or SIGTERM.
//! Settings come from `JIGI_*` variables (see `Config`).

fn main() -> std::process::ExitCode {
    jigi_server::host::main(
        jigi_linkage::SERVICE,
        jigi_linkage::Config::from_env,
        jigi_linkage::start,
    )
}
