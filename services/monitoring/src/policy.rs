//! Who may call each RPC of the monitoring (applied by `jigi-server`'s
//! access layer). Reads name the area they cover, and the handlers check it
//! against the caller's scope: a regional supervisor reads their region's
//! indicators, a national operator every region's. Budget entries are
//! national.

use jigi_auth::Role::{Auditor, NationalOperator, RegionalSupervisor};
use jigi_auth::Rule;

const READERS: &[jigi_auth::Role] = &[NationalOperator, RegionalSupervisor, Auditor];

pub const RULES: &[Rule] = &[
    Rule::query("GetIndicators", READERS).region_checked_by_handler(),
    Rule::query("ListCycleIndicators", READERS).region_checked_by_handler(),
    Rule::query("ListRoundIndicators", READERS).region_checked_by_handler(),
    Rule::query("GetFreshness", READERS).region_checked_by_handler(),
    Rule::query("ExportDataValueSet", READERS).region_checked_by_handler(),
    Rule::query("ExportCsv", READERS).region_checked_by_handler(),
    Rule::query("GetBudgetExecution", &[NationalOperator, Auditor]),
    Rule::command("SetBudgetLine", &[NationalOperator]),
    Rule::command("RecordExpenditure", &[NationalOperator]),
];
