//! The console over HTTP, against a real monitoring reading a real NATS
//! server's national stream, with tokens checked as deployed.

mod access;
mod helpers;
mod live;
mod pages;
mod traces;
