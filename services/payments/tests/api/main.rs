//! The payments service through its gRPC API, against a real nats-server
//! and a real database (a SQLite file, or PostgreSQL with
//! `JIGI_TEST_POSTGRES`), with access control on as deployed: one test
//! binary, each test with its own server, port, database, NATS and identity
//! provider (see `helpers::spawn_app`).

mod helpers;

mod access;
mod activities;
mod cycle;
mod end_to_end;
mod holds;
mod lists;
mod projection;
mod results;
mod service;
