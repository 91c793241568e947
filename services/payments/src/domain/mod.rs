//! The rules of cash transfers, without I/O: the cycle's life and its gates
//! ([`cycle`]), which disbursement results are accepted ([`results`]), and
//! how registry events make the list of households that may be paid
//! ([`projection`]), and how a cycle's results add up ([`reconcile`]).

pub mod cycle;
pub mod model;
pub mod projection;
pub mod reconcile;
pub mod results;
