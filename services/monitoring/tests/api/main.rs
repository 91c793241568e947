//! The monitoring through its gRPC API, with access control on, fed by
//! real events over a real nats-server, with its own database per test
//! (SQLite, or PostgreSQL with `JIGI_TEST_POSTGRES`).

mod helpers;

mod access;
mod bad_queries;
mod budget;
mod components;
mod consumption;
mod end_to_end;
mod exactness;
mod exports;
mod programme_year;
mod rounds;
