//! Disbursement results: what an agent may report, and which reports are
//! accepted. Each result is judged on its own, in the order given; a refused
//! result changes nothing, the accepted ones are recorded.
//!
//! - Only a household on the cycle's frozen list can be paid, by the agent
//!   of its commune, its exact entitlement.
//! - A household is paid at most once per cycle; a failed or uncollected
//!   transfer may be paid later (a second visit), a paid one never again.
//! - Paid totals never exceed the control totals fixed at approval.
//! - A receipt reference is used once per agent and cycle.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use jigi_common::{Fcfa, FieldError, HouseholdId};

use super::model::{AgentCode, Cycle, EntitlementStatus, FailureReason, Place, Totals};

/// What was reported, once its fields are valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Paid { amount: Fcfa, receipt: String },
    Failed(FailureReason),
    NotCollected,
}

impl Outcome {
    pub fn status(&self) -> EntitlementStatus {
        match self {
            Outcome::Paid { .. } => EntitlementStatus::Paid,
            Outcome::Failed(_) => EntitlementStatus::Failed,
            Outcome::NotCollected => EntitlementStatus::NotCollected,
        }
    }
}

/// A result with valid fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub household_id: HouseholdId,
    pub agent: AgentCode,
    pub date: NaiveDate,
    pub outcome: Outcome,
}

/// Why a result was refused (the API's `ResultRefusal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalKind {
    Invalid,
    NotEntitled,
    AlreadyPaid,
    RepeatedInRequest,
    AmountMismatch,
    WrongAgent,
    ReceiptReused,
    ControlTotalExceeded,
}

impl RefusalKind {
    pub const ALL: [RefusalKind; 8] = [
        RefusalKind::Invalid,
        RefusalKind::NotEntitled,
        RefusalKind::AlreadyPaid,
        RefusalKind::RepeatedInRequest,
        RefusalKind::AmountMismatch,
        RefusalKind::WrongAgent,
        RefusalKind::ReceiptReused,
        RefusalKind::ControlTotalExceeded,
    ];

    /// A short machine-readable reason, for statuses and metrics.
    pub fn code(self) -> &'static str {
        match self {
            RefusalKind::Invalid => "INVALID",
            RefusalKind::NotEntitled => "NOT_ENTITLED",
            RefusalKind::AlreadyPaid => "ALREADY_PAID",
            RefusalKind::RepeatedInRequest => "REPEATED_IN_REQUEST",
            RefusalKind::AmountMismatch => "AMOUNT_MISMATCH",
            RefusalKind::WrongAgent => "WRONG_AGENT",
            RefusalKind::ReceiptReused => "RECEIPT_REUSED",
            RefusalKind::ControlTotalExceeded => "CONTROL_TOTAL_EXCEEDED",
        }
    }
}

/// A refused result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRefusal {
    pub kind: RefusalKind,
    /// The offending field, for `Invalid`.
    pub field: String,
    pub message: String,
}

impl ResultRefusal {
    fn new(kind: RefusalKind, message: impl Into<String>) -> ResultRefusal {
        ResultRefusal {
            kind,
            field: String::new(),
            message: message.into(),
        }
    }

    pub fn invalid(errors: Vec<FieldError>) -> ResultRefusal {
        let first = errors
            .into_iter()
            .next()
            .unwrap_or_else(|| FieldError::new("", "invalid"));
        ResultRefusal {
            kind: RefusalKind::Invalid,
            field: first.field,
            message: first.description,
        }
    }
}

/// A result as an agent reported it, read from the request field by field
/// (the API's part, `grpc::parse`): the report when every field is valid,
/// else what is wrong, in field order. Whether its date is late enough
/// depends on the cycle, known once it is loaded: see [`admit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// Where it sits in the request: `result`, `results[3]`.
    pub field: String,
    /// As given (even when it is no valid ID), for the answer.
    pub household_id: String,
    pub report: Result<Report, Vec<FieldError>>,
    /// The date, when it was read and is not in the future: a result with
    /// other bad fields is still told that it is too early.
    pub date: Option<NaiveDate>,
    /// Where a date error goes among the errors, to keep them in field order.
    pub date_slot: usize,
}

/// Admits a reported result to a cycle approved on `approved_on`: a
/// result is not dated before the cycle's approval.
pub fn admit(reported: &Reported, approved_on: Option<NaiveDate>) -> Result<Report, Vec<FieldError>> {
    let too_early = reported
        .date
        .zip(approved_on)
        .filter(|(date, approved)| date < approved);
    let Some((date, approved)) = too_early else {
        return reported.report.clone();
    };
    let mut errors = reported.report.clone().err().unwrap_or_default();
    errors.insert(
        reported.date_slot.min(errors.len()),
        FieldError::new(
            format!("{}.date", reported.field),
            format!("{date} is before the cycle's approval on {approved}"),
        ),
    );
    Err(errors)
}

/// What the database says about a household of the cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitled {
    /// Where the household lived when the list was frozen.
    pub place: Place,
    pub amount: Fcfa,
    pub status: EntitlementStatus,
}

/// Judges valid reports in order. `reports[i]` is `None` when the i-th
/// result was already refused as invalid (its slot is kept so indexes
/// line up). Returns, per slot, `Ok(())` when accepted, and the paid
/// totals after the accepted results.
pub fn decide(
    cycle: &Cycle,
    reports: &[Option<&Report>],
    entitled: &HashMap<String, Entitled>,
    used_receipts: &HashSet<(String, String)>,
) -> (Vec<Result<(), ResultRefusal>>, Totals) {
    let mut paid = cycle.paid;
    let mut seen: HashSet<&str> = HashSet::with_capacity(reports.len());
    let mut receipts: HashSet<(&str, &str)> = HashSet::new();
    let mut decisions = Vec::with_capacity(reports.len());
    for report in reports {
        let Some(report) = report else {
            decisions.push(Ok(())); // placeholder: the caller keeps its invalid refusal
            continue;
        };
        let decision = judge(
            cycle,
            report,
            entitled,
            used_receipts,
            &mut seen,
            &mut receipts,
            &mut paid,
        );
        decisions.push(decision);
    }
    (decisions, paid)
}

fn judge<'a>(
    cycle: &Cycle,
    report: &'a Report,
    entitled: &HashMap<String, Entitled>,
    used_receipts: &HashSet<(String, String)>,
    seen: &mut HashSet<&'a str>,
    receipts: &mut HashSet<(&'a str, &'a str)>,
    paid: &mut Totals,
) -> Result<(), ResultRefusal> {
    let household = report.household_id.as_str();
    let Some(entitlement) = entitled.get(household) else {
        return Err(ResultRefusal::new(
            RefusalKind::NotEntitled,
            format!(
                "household {household} is not on the frozen list of cycle {}",
                cycle.cycle_id
            ),
        ));
    };
    if seen.contains(household) {
        return Err(ResultRefusal::new(
            RefusalKind::RepeatedInRequest,
            format!("household {household} appears earlier in this request; report it once"),
        ));
    }
    if entitlement.status == EntitlementStatus::Paid {
        return Err(ResultRefusal::new(
            RefusalKind::AlreadyPaid,
            format!("household {household} was already paid in cycle {}", cycle.cycle_id),
        ));
    }
    match cycle.agent_of(&entitlement.place.commune) {
        Some(assignment) if assignment.agent == report.agent => {}
        Some(assignment) => {
            return Err(ResultRefusal::new(
                RefusalKind::WrongAgent,
                format!(
                    "commune {} is paid by agent {}, not {}",
                    entitlement.place.commune,
                    assignment.agent.as_str(),
                    report.agent.as_str()
                ),
            ));
        }
        None => {
            return Err(ResultRefusal::new(
                RefusalKind::WrongAgent,
                format!("commune {} has no payment agent", entitlement.place.commune),
            ));
        }
    }
    if let Outcome::Paid { amount, receipt } = &report.outcome {
        if *amount != entitlement.amount {
            return Err(ResultRefusal::new(
                RefusalKind::AmountMismatch,
                format!(
                    "household {household} is entitled to {}, not {amount}",
                    entitlement.amount
                ),
            ));
        }
        let key = (report.agent.as_str(), receipt.as_str());
        if receipts.contains(&key) || used_receipts.contains(&(key.0.to_owned(), key.1.to_owned())) {
            return Err(ResultRefusal::new(
                RefusalKind::ReceiptReused,
                format!(
                    "agent {} already used receipt {receipt} in this cycle",
                    report.agent.as_str()
                ),
            ));
        }
        let after = paid
            .plus(*amount)
            .filter(|after| after.within(cycle.control))
            .ok_or_else(|| {
                ResultRefusal::new(
                    RefusalKind::ControlTotalExceeded,
                    format!(
                        "paying {amount} would exceed the control totals of cycle {} ({} households, {})",
                        cycle.cycle_id, cycle.control.count, cycle.control.amount
                    ),
                )
            })?;
        *paid = after;
        receipts.insert(key);
    }
    seen.insert(household);
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use jigi_common::Region;
    use jigi_common::date::parse_date;

    use super::*;
    use crate::domain::model::{Assignment, Channel, CycleStatus, FundingSource};

    const H1: &str = "0190a000-0000-7000-8000-000000000001";
    const H2: &str = "0190a000-0000-7000-8000-000000000002";
    const H3: &str = "0190a000-0000-7000-8000-000000000003";

    fn day(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    fn cycle() -> Cycle {
        Cycle {
            cycle_id: "c".into(),
            region: Region::Sikasso,
            kind: crate::domain::model::CycleKind::Tm,
            period: "2019Q1".parse().unwrap(),
            funding_source: FundingSource::Dfid,
            amount_per_household: Fcfa::new(30_000),
            communes: vec![],
            status: CycleStatus::Approved,
            frozen: Totals::new(3, 90_000),
            control: Totals::new(3, 90_000),
            paid: Totals::ZERO,
            prepared_by: "p".into(),
            frozen_by: None,
            approved_by: Some("a".into()),
            ended_by: None,
            cancel_reason: None,
            opened_at: Utc::now(),
            frozen_at: None,
            approved_at: None,
            ended_at: None,
            agents: vec![Assignment {
                commune: "k".into(),
                agent: AgentCode::parse("AG1").unwrap(),
                channel: Channel::Cash,
            }],
        }
    }

    fn paid(household: &str, amount: i64, receipt: &str) -> Report {
        Report {
            household_id: household.parse().unwrap(),
            agent: AgentCode::parse("AG1").unwrap(),
            date: day("2019-02-01"),
            outcome: Outcome::Paid {
                amount: Fcfa::new(amount),
                receipt: receipt.into(),
            },
        }
    }

    fn entitled(status: EntitlementStatus) -> Entitled {
        Entitled {
            place: Place {
                region: "sikasso".into(),
                cercle: "sikasso.k".into(),
                commune: "k".into(),
                village: String::new(),
            },
            amount: Fcfa::new(30_000),
            status,
        }
    }

    fn check(reports: &[Report], cycle: &Cycle, book: &HashMap<String, Entitled>) -> Vec<Option<RefusalKind>> {
        let slots: Vec<Option<&Report>> = reports.iter().map(Some).collect();
        let (decisions, _) = decide(cycle, &slots, book, &HashSet::new());
        decisions.into_iter().map(|d| d.err().map(|r| r.kind)).collect()
    }

    fn reported(report: Result<Report, Vec<FieldError>>, date: &str, date_slot: usize) -> Reported {
        Reported {
            field: "results[2]".into(),
            household_id: H1.into(),
            report,
            date: Some(day(date)),
            date_slot,
        }
    }

    #[test]
    fn a_result_is_not_dated_before_its_cycle_was_approved() {
        let on_time = reported(Ok(paid(H1, 30_000, "R1")), "2019-02-01", 0);
        assert_eq!(admit(&on_time, Some(day("2019-02-01"))), Ok(paid(H1, 30_000, "R1")));
        assert_eq!(
            admit(&on_time, None),
            Ok(paid(H1, 30_000, "R1")),
            "not approved yet: no bound"
        );
        let early = admit(&on_time, Some(day("2019-02-15"))).unwrap_err();
        assert_eq!(
            early,
            [FieldError::new(
                "results[2].date",
                "2019-02-01 is before the cycle's approval on 2019-02-15"
            )]
        );
    }

    #[test]
    fn an_early_date_takes_its_place_among_other_bad_fields() {
        let errors = vec![
            FieldError::new("results[2].agent_code", "is required"),
            FieldError::new("results[2].receipt_reference", "is required for a payment"),
        ];
        let bad = reported(Err(errors.clone()), "2019-02-01", 1);
        let fields: Vec<String> = admit(&bad, Some(day("2019-02-15")))
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "results[2].agent_code",
                "results[2].date",
                "results[2].receipt_reference"
            ]
        );
        assert_eq!(
            admit(&bad, Some(day("2019-01-15"))),
            Err(errors),
            "late enough: only its own errors"
        );
    }

    #[test]
    fn pays_each_household_once_its_exact_amount_by_its_agent() {
        let book: HashMap<String, Entitled> = [
            (H1.to_owned(), entitled(EntitlementStatus::Pending)),
            (H2.to_owned(), entitled(EntitlementStatus::Paid)),
            (H3.to_owned(), entitled(EntitlementStatus::Failed)),
        ]
        .into();
        let mut wrong_agent = paid(H3, 30_000, "R9");
        wrong_agent.agent = AgentCode::parse("AG2").unwrap();
        let outcomes = check(
            &[
                paid(H1, 30_000, "R1"),
                paid(H1, 30_000, "R2"),
                paid(H2, 30_000, "R3"),
                paid(H3, 40_000, "R4"),
                wrong_agent,
                paid(H3, 30_000, "R1"),
                paid("0190a000-0000-7000-8000-0000000000ff", 30_000, "R5"),
                paid(H3, 30_000, "R6"),
            ],
            &cycle(),
            &book,
        );
        use RefusalKind::*;
        assert_eq!(
            outcomes,
            [
                None,
                Some(RepeatedInRequest),
                Some(AlreadyPaid),
                Some(AmountMismatch),
                Some(WrongAgent),
                Some(ReceiptReused),
                Some(NotEntitled),
                None
            ]
        );
    }

    #[test]
    fn never_exceeds_the_control_totals() {
        let book: HashMap<String, Entitled> = [
            (H1.to_owned(), entitled(EntitlementStatus::Pending)),
            (H2.to_owned(), entitled(EntitlementStatus::Pending)),
        ]
        .into();
        let mut tight = cycle();
        tight.control = Totals::new(1, 30_000);
        let outcomes = check(&[paid(H1, 30_000, "R1"), paid(H2, 30_000, "R2")], &tight, &book);
        assert_eq!(outcomes, [None, Some(RefusalKind::ControlTotalExceeded)]);
    }
}
