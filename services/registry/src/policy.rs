//! Who may call each RPC of the registry (applied by `jigi-server`'s access
//! layer; every call must also be in the service's region).

use jigi_auth::Role::{FieldAgent, RegionalSupervisor};
use jigi_auth::Rule;
use jigi_auth::policy::ANY_ROLE;

pub const RULES: &[Rule] = &[
    // Field agents collect and correct households; supervisors may too.
    Rule::command("RegisterHousehold", &[FieldAgent, RegionalSupervisor]),
    Rule::command("ImportHouseholds", &[FieldAgent, RegionalSupervisor]),
    Rule::command("UpdateHousehold", &[FieldAgent, RegionalSupervisor]),
    Rule::command("AddMember", &[FieldAgent, RegionalSupervisor]),
    Rule::command("UpdateMember", &[FieldAgent, RegionalSupervisor]),
    // A field agent reads the household they are correcting, by its ID;
    // searching and listing the region's households is the supervisor's.
    Rule::query("GetHousehold", &[FieldAgent, RegionalSupervisor]),
    Rule::query("ListHouseholds", &[RegionalSupervisor]),
    Rule::query("GetStatusHistory", &[RegionalSupervisor]),
    // Enrolment decides who receives money and food.
    Rule::command("EnrolHousehold", &[RegionalSupervisor]),
    Rule::command("EnrolHouseholds", &[RegionalSupervisor]),
    Rule::command("ExitHousehold", &[RegionalSupervisor]),
    Rule::command("TransferHousehold", &[RegionalSupervisor]),
    // Reference geography: no personal data.
    Rule::query("ListAreas", ANY_ROLE),
];
