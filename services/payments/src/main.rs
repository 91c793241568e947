//! `jigi-payments`: runs the payments service of one region until Ctrl-C or
//! SIGTERM. Settings come from `JIGI_*` variables (see `Config`).

use std::process::ExitCode;

use jigi_payments::{Config, SERVICE, start};

fn main() -> ExitCode {
    jigi_server::host::main(SERVICE, Config::from_env, start)
}
