//! Who may call each RPC of the activities service (applied by
//! `jigi-server`'s access layer; every call must also be in the service's
//! region).

use jigi_auth::Role::{FieldAgent, RegionalSupervisor};
use jigi_auth::Rule;

pub const RULES: &[Rule] = &[
    // What happens in the field is recorded by field agents (the NGO's
    // facilitators, the site's foremen, the AGR follow-up agents).
    Rule::command("RecordSession", &[FieldAgent]),
    Rule::command("RecordFollowUpVisit", &[FieldAgent]),
    Rule::command("RecordAttendance", &[FieldAgent]),
    Rule::command("AssignWorker", &[FieldAgent, RegionalSupervisor]),
    // What commits money or sets a site up is decided by the region.
    Rule::command("RecordBusinessPlan", &[RegionalSupervisor]),
    Rule::command("ReleaseGrantTranche", &[RegionalSupervisor]),
    Rule::command("PlanWorkSite", &[RegionalSupervisor]),
    Rule::command("ValidateWorkSite", &[RegionalSupervisor]),
    Rule::command("StartWorkSite", &[RegionalSupervisor]),
    Rule::command("CloseWorkSite", &[RegionalSupervisor]),
    Rule::command("CloseWagePeriod", &[RegionalSupervisor]),
    Rule::query("ListMissedHouseholds", &[FieldAgent, RegionalSupervisor]),
    Rule::query("GetBusinessPlan", &[FieldAgent, RegionalSupervisor]),
    Rule::query("GetWorkSite", &[FieldAgent, RegionalSupervisor]),
];
