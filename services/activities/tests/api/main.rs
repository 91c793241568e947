//! The activities service through its gRPC API, fed by a real registry
//! through a real nats-server, on real SQLite files, with tokens checked:
//! one test binary, each test with its own servers, ports, databases and
//! NATS (see `helpers::spawn_app`).

mod helpers;

mod access;
mod agr;
mod himo;
mod ma;
