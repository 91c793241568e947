//! `jigi-activities`: runs the activities service (MA, AGR, HIMO) of one
//! region until Ctrl-C or SIGTERM. Settings come from `JIGI_*` variables (see
//! `Config`).

use std::process::ExitCode;

use jigi_activities::{Config, SERVICE, start};

fn main() -> ExitCode {
    jigi_server::host::main(SERVICE, || Config::from_env(SERVICE), start)
}
