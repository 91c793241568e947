//! Who may call each RPC of the nutrition service (applied by
//! `jigi-server`'s access layer; every call must also be in the service's
//! region).

use jigi_auth::Role::{FieldAgent, NutritionStoreKeeper, RegionalSupervisor};
use jigi_auth::Rule;

pub const RULES: &[Rule] = &[
    // Rounds and warehouses are set up by the region.
    Rule::command("OpenRound", &[RegionalSupervisor]),
    Rule::command("CloseRound", &[RegionalSupervisor]),
    Rule::command("RegisterWarehouse", &[RegionalSupervisor]),
    Rule::query("GetRound", &[RegionalSupervisor, FieldAgent, NutritionStoreKeeper]),
    Rule::query("ListRounds", &[RegionalSupervisor, FieldAgent, NutritionStoreKeeper]),
    Rule::query(
        "ListWarehouses",
        &[RegionalSupervisor, FieldAgent, NutritionStoreKeeper],
    ),
    Rule::query("GetRoundReport", &[RegionalSupervisor, NutritionStoreKeeper]),
    // Stock is the store keeper's.
    Rule::command("ReceiveStock", &[NutritionStoreKeeper]),
    Rule::command("TransferStock", &[NutritionStoreKeeper]),
    Rule::command("RecordLoss", &[NutritionStoreKeeper]),
    Rule::query("GetStock", &[NutritionStoreKeeper, RegionalSupervisor]),
    // The round's register (personal data) and the distributions are the
    // field staff's.
    Rule::query("CheckEligibility", &[FieldAgent, RegionalSupervisor]),
    Rule::query("ListBeneficiaries", &[FieldAgent, RegionalSupervisor]),
    Rule::command("RecordDistribution", &[FieldAgent]),
    Rule::command("RecordDistributionBatch", &[FieldAgent]),
];
