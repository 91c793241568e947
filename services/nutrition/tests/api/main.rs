//! The nutrition service through its gRPC API, fed by a real registry
//! through a real nats-server, on real SQLite files: one test binary, each
//! test with its own servers, ports, databases and NATS (see
//! `helpers::spawn_app`).

mod helpers;

mod access;
mod bad_input;
mod end_to_end;
mod idempotency;
mod refusals;
mod restart;
