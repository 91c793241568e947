//! The linkage index at a national hub, fed by two regional registries on
//! their own leaf nodes, run from the deployment's NATS files with its
//! permissions: one test binary, each test with its own hub, leaves,
//! databases and access control on (see `helpers::Country`).

mod helpers;

mod duplicates;
mod late_match;
mod payments;
mod privacy;
mod rotation;
mod transfers;
