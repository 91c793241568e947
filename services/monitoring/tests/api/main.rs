//! The monitoring through its gRPC API, fed by real events over a real
//! nats-server, with its own SQLite file per test.

mod helpers;

mod bad_queries;
mod budget;
mod end_to_end;
mod exactness;
mod exports;
mod programme_year;
