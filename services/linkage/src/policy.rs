//! Who may call each RPC of the linkage index (applied by `jigi-server`'s
//! access layer). A duplicate touches two regions: the handlers check that
//! the caller's scope covers one of them (or is national).

use jigi_auth::Role::{Auditor, NationalOperator, RegionalSupervisor};
use jigi_auth::Rule;

pub const RULES: &[Rule] = &[
    Rule::query("ListDuplicates", &[RegionalSupervisor, NationalOperator, Auditor]).region_checked_by_handler(),
    Rule::query("GetDuplicate", &[RegionalSupervisor, NationalOperator, Auditor]).region_checked_by_handler(),
    // Registrars of the regions concerned decide; a national operator
    // reads but does not decide about a region's people.
    Rule::command("ResolveDuplicate", &[RegionalSupervisor]).region_checked_by_handler(),
];
