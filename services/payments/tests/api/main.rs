//! The payments service through its gRPC API, against a real nats-server
//! and a real SQLite file: one test binary, each test with its own server,
//! port, database and NATS (see `helpers::spawn_app`).

mod helpers;

mod access;

mod cycle;
mod end_to_end;
mod lists;
mod projection;
mod results;
mod service;
