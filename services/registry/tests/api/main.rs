//! The registry through its gRPC API, against a real nats-server and a real
//! SQLite file: one test binary, each test with its own server, port,
//! database and NATS (see `helpers::spawn_app`).

mod helpers;

mod bad_input;
mod cache;
mod enrolment;
mod events;
mod import;
mod linkage;
mod outbox;
mod registration;
mod service;
mod tracing;
