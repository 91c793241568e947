//! `jigi-nutrition`: runs the nutrition service (PNP) of one region until
//! Ctrl-C or SIGTERM. Settings come from `JIGI_*` variables (see `Config`).

use std::process::ExitCode;

use jigi_nutrition::{Config, SERVICE, start};

fn main() -> ExitCode {
    jigi_server::host::main(SERVICE, || Config::from_env(SERVICE), start)
}
