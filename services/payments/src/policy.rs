//! Who may call each RPC of the payments service (applied by `jigi-server`'s
//! access layer; every call must also be in the service's region). The
//! handlers add what a table cannot say: the approver of a cycle is not its
//! preparer, and a payment agent sees and reports only their own list.

use jigi_auth::Role::{PaymentAgent, PaymentApprover, PaymentPreparer, RegionalSupervisor};
use jigi_auth::Rule;

pub const RULES: &[Rule] = &[
    Rule::command("OpenPaymentCycle", &[PaymentPreparer]),
    Rule::command("AssignPaymentAgents", &[PaymentPreparer]),
    Rule::command("FreezePaymentCycle", &[PaymentPreparer]),
    Rule::command("ApprovePaymentCycle", &[PaymentApprover]),
    Rule::command("CancelPaymentCycle", &[PaymentPreparer, PaymentApprover]),
    Rule::command("ClosePaymentCycle", &[PaymentApprover]),
    Rule::query(
        "GetPaymentCycle",
        &[PaymentPreparer, PaymentApprover, RegionalSupervisor],
    ),
    Rule::query(
        "ListPaymentCycles",
        &[PaymentPreparer, PaymentApprover, RegionalSupervisor],
    ),
    Rule::query(
        "GetReconciliation",
        &[PaymentPreparer, PaymentApprover, RegionalSupervisor],
    ),
    Rule::query(
        "ListEligibleHouseholds",
        &[PaymentPreparer, PaymentApprover, RegionalSupervisor],
    ),
    Rule::query(
        "ListEntitlements",
        &[PaymentPreparer, PaymentApprover, RegionalSupervisor, PaymentAgent],
    ),
    Rule::query("ExportPaymentList", &[PaymentPreparer, PaymentApprover, PaymentAgent]),
    Rule::command("RecordPaymentResult", &[PaymentAgent]),
    Rule::command("RecordPaymentResults", &[PaymentAgent]),
];
