//! Reading requests into domain values: a cycle's steps and disbursement
//! results. Every bad field is named by its path (`assignments[2].commune`,
//! `results[3].date`), all at once; this is where the wire format ends.
//! Whether a result is dated after its cycle's approval is the domain's
//! rule ([`crate::domain::results::admit`]), checked once the cycle is
//! loaded.

use chrono::NaiveDate;
use jigi_common::date::parse_date;
use jigi_common::{Fcfa, FieldError, Geography, HouseholdId, Problems, Region};
use jigi_proto::payments::{AssignPaymentAgentsRequest, OpenPaymentCycleRequest, PaymentOutcome, PaymentResult};
use jigi_server::CommandError;

use super::convert;
use crate::app::MAX_BATCH;
use crate::domain::cycle::{self, NewCycle};
use crate::domain::model::{Actor, AgentCode, Assignment};
use crate::domain::results::{Outcome, Report, Reported};

type Parsed<T> = Result<T, Vec<FieldError>>;

/// `OpenPaymentCycle`, opened by `user` (the acting user).
pub fn new_cycle(
    geography: &Geography,
    region: Region,
    request: &OpenPaymentCycleRequest,
    user: &str,
) -> Parsed<NewCycle> {
    cycle::new_cycle(
        geography,
        region,
        convert::cycle_kind_from_wire(request.kind),
        request.period.as_ref().map(|p| p.code.as_str()).unwrap_or_default(),
        convert::funding_source_from_wire(request.funding_source),
        request.amount_per_household.map(|m| m.fcfa).unwrap_or_default(),
        &request.communes,
        user,
    )
    .map_err(Problems::into_errors)
}

/// `AssignPaymentAgents`: each assignment with its field's path, and who
/// assigns (`user`). A commune given twice is refused.
pub fn assignments(
    geography: &Geography,
    region: Region,
    request: &AssignPaymentAgentsRequest,
    user: &str,
) -> Parsed<(Vec<(String, Assignment)>, Actor)> {
    let mut problems = Problems::new();
    let requested = &request.assignments;
    if requested.is_empty() {
        problems.add("assignments", "give at least one assignment");
    }
    let mut assignments = Vec::with_capacity(requested.len());
    for (i, a) in requested.iter().enumerate() {
        let field = format!("assignments[{i}]");
        if requested[..i].iter().any(|earlier| earlier.commune == a.commune) {
            problems.add(format!("{field}.commune"), "is assigned twice in this request");
            continue;
        }
        let channel = convert::channel_from_wire(a.channel);
        if let Some(assignment) = cycle::assignment(
            geography,
            region,
            &a.commune,
            &a.agent_code,
            channel,
            &field,
            &mut problems,
        ) {
            assignments.push((field, assignment));
        }
    }
    let assigned_by = problems.check("assigned_by", Actor::parse(user));
    problems.into_result(|| (assignments, assigned_by.expect("checked")))
}

/// The acting user of a cycle step, in the request's `field`.
pub fn actor(field: &str, user: &str) -> Result<Actor, CommandError> {
    Actor::parse(user).map_err(|message| CommandError::invalid(field, message))
}

/// A payment agent's code, from the request's `agent_code`.
pub fn agent_code(code: &str) -> Result<AgentCode, CommandError> {
    AgentCode::parse(code).map_err(|m| CommandError::invalid("agent_code", m))
}

/// `CancelPaymentCycle`: who cancels (`user`) and why.
pub fn cancellation(user: &str, reason: &str) -> Parsed<(Actor, String)> {
    let mut problems = Problems::new();
    let actor = problems.check("cancelled_by", Actor::parse(user));
    let reason = problems.check("reason", cycle::cancel_reason(reason));
    problems.into_result(|| (actor.expect("checked"), reason.expect("checked")))
}

/// A results batch holds 1 to [`MAX_BATCH`] results.
pub fn batch_size(results: usize) -> Result<(), CommandError> {
    match results {
        0 => Err(CommandError::invalid("results", "give at least one result")),
        n if n > MAX_BATCH => Err(CommandError::invalid(
            "results",
            format!("a batch carries at most {MAX_BATCH} results; split it"),
        )),
        _ => Ok(()),
    }
}

/// Longest receipt reference accepted.
const MAX_RECEIPT_CHARS: usize = 64;

/// Reads a result's fields. `field` is its path (`result`, `results[3]`);
/// `today` bounds dates from above.
pub fn payment_result(result: &PaymentResult, field: &str, today: NaiveDate) -> Reported {
    let mut errors = Vec::new();
    let mut add = |name: &str, message: String| errors.push(FieldError::new(format!("{field}.{name}"), message));
    let household_id = HouseholdId::parse(&result.household_id)
        .map_err(|err| add("household_id", err.to_string()))
        .ok();
    let agent = AgentCode::parse(&result.agent_code)
        .map_err(|m| add("agent_code", m))
        .ok();
    let date_slot = errors.len();
    let mut add = |name: &str, message: String| errors.push(FieldError::new(format!("{field}.{name}"), message));
    let date = match parse_date(&result.date) {
        None if result.date.is_empty() => {
            add("date", "is required".into());
            None
        }
        None => {
            add("date", format!("{:?} is not a date YYYY-MM-DD", result.date));
            None
        }
        Some(date) if date > today => {
            add("date", format!("{date} is in the future"));
            None
        }
        Some(date) => Some(date),
    };
    let amount = result.amount.as_ref().map(|m| m.fcfa).unwrap_or(0);
    let outcome = match outcome(result.outcome) {
        Ok(Kind::Paid) => {
            if amount <= 0 {
                add("amount.fcfa", "is required for a payment and must be positive".into());
            }
            let receipt = result.receipt_reference.trim();
            if receipt.is_empty() {
                add("receipt_reference", "is required for a payment".into());
            } else if receipt.chars().count() > MAX_RECEIPT_CHARS || receipt.chars().any(char::is_control) {
                add(
                    "receipt_reference",
                    format!("must be at most {MAX_RECEIPT_CHARS} characters without control characters"),
                );
            }
            if result.failure_reason != 0 {
                add("failure_reason", "is only for a failed payment".into());
            }
            Some(Outcome::Paid {
                amount: Fcfa::new(amount),
                receipt: receipt.to_owned(),
            })
        }
        Ok(Kind::Failed) => match convert::failure_reason_from_wire(result.failure_reason) {
            Some(reason) => Some(Outcome::Failed(reason)),
            None => {
                add(
                    "failure_reason",
                    if result.failure_reason == 0 {
                        "is required for a failed payment".to_owned()
                    } else {
                        format!("has unknown value {}", result.failure_reason)
                    },
                );
                None
            }
        },
        Ok(Kind::NotCollected) => Some(Outcome::NotCollected),
        Err(message) => {
            add("outcome", message);
            None
        }
    };
    if !matches!(outcome, Some(Outcome::Paid { .. }) | None) && (amount != 0 || !result.receipt_reference.is_empty()) {
        add(
            "amount.fcfa",
            "amount and receipt_reference are only for a payment".into(),
        );
    }
    let report = if errors.is_empty() {
        Ok(Report {
            household_id: household_id.expect("checked"),
            agent: agent.expect("checked"),
            date: date.expect("checked"),
            outcome: outcome.expect("checked"),
        })
    } else {
        Err(errors)
    };
    Reported {
        field: field.to_owned(),
        household_id: result.household_id.clone(),
        report,
        date,
        date_slot,
    }
}

/// What a result reports, before its details are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Paid,
    Failed,
    NotCollected,
}

/// The wire's `PaymentOutcome`: UNSPECIFIED and values this build does not
/// know are refused.
fn outcome(value: i32) -> Result<Kind, String> {
    match PaymentOutcome::try_from(value) {
        Ok(PaymentOutcome::Paid) => Ok(Kind::Paid),
        Ok(PaymentOutcome::Failed) => Ok(Kind::Failed),
        Ok(PaymentOutcome::NotCollected) => Ok(Kind::NotCollected),
        Ok(PaymentOutcome::Unspecified) => Err("is required (PAID, FAILED or NOT_COLLECTED)".into()),
        Err(_) => Err(format!("has unknown value {value}")),
    }
}

/// The checks of [`payment_result`] and the cycle's approval, as the
/// service applies them, for tests.
#[cfg(test)]
fn validate(
    result: &PaymentResult,
    field: &str,
    today: NaiveDate,
    approved_on: Option<NaiveDate>,
) -> Result<Report, Vec<FieldError>> {
    crate::domain::results::admit(&payment_result(result, field, today), approved_on)
}

#[cfg(test)]
mod tests {
    use jigi_proto::common::Money;
    use jigi_proto::payments::FailureReason as WireFailureReason;

    use super::*;

    const H1: &str = "0190a000-0000-7000-8000-000000000001";

    fn day(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    fn paid(household: &str, amount: i64, receipt: &str) -> PaymentResult {
        PaymentResult {
            household_id: household.into(),
            outcome: PaymentOutcome::Paid as i32,
            agent_code: "AG1".into(),
            date: "2019-02-01".into(),
            amount: Some(Money { fcfa: amount }),
            receipt_reference: receipt.into(),
            failure_reason: 0,
        }
    }

    fn fields(result: Result<Report, Vec<FieldError>>) -> Vec<String> {
        result.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn validation_names_each_bad_field() {
        let today = day("2019-03-01");
        let mut bad = paid("not-a-uuid", 0, "");
        bad.date = "2019-03-02".into();
        bad.agent_code = "".into();
        assert_eq!(
            fields(validate(&bad, "results[2]", today, None)),
            [
                "results[2].household_id",
                "results[2].agent_code",
                "results[2].date",
                "results[2].amount.fcfa",
                "results[2].receipt_reference"
            ]
        );
        let failed = PaymentResult {
            outcome: PaymentOutcome::Failed as i32,
            amount: None,
            receipt_reference: String::new(),
            ..paid(H1, 0, "")
        };
        assert_eq!(
            validate(&failed, "r", today, None).unwrap_err()[0].field,
            "r.failure_reason"
        );
        let early = paid(H1, 30_000, "R1");
        assert_eq!(
            validate(&early, "r", today, Some(day("2019-02-15"))).unwrap_err()[0].field,
            "r.date"
        );
    }

    #[test]
    fn an_early_date_is_named_in_field_order_among_other_bad_fields() {
        let mut bad = paid(H1, 0, "");
        bad.agent_code = "".into();
        assert_eq!(
            fields(validate(&bad, "r", day("2019-03-01"), Some(day("2019-02-15")))),
            ["r.agent_code", "r.date", "r.amount.fcfa", "r.receipt_reference"]
        );
        let reported = payment_result(&bad, "r", day("2019-03-01"));
        assert_eq!(reported.household_id, H1);
        assert_eq!(reported.date, Some(day("2019-02-01")));
    }

    /// The wire outcome this build reads a domain outcome from.
    fn wire(outcome: &Outcome) -> PaymentOutcome {
        match outcome {
            Outcome::Paid { .. } => PaymentOutcome::Paid,
            Outcome::Failed(_) => PaymentOutcome::Failed,
            Outcome::NotCollected => PaymentOutcome::NotCollected,
        }
    }

    #[test]
    fn each_wire_outcome_reads_as_its_domain_outcome_and_back() {
        let today = day("2019-03-01");
        let results = [
            paid(H1, 30_000, "R1"),
            PaymentResult {
                outcome: PaymentOutcome::Failed as i32,
                failure_reason: WireFailureReason::AgentOutOfCash as i32,
                amount: None,
                receipt_reference: String::new(),
                ..paid(H1, 0, "")
            },
            PaymentResult {
                outcome: PaymentOutcome::NotCollected as i32,
                amount: None,
                receipt_reference: String::new(),
                ..paid(H1, 0, "")
            },
        ];
        let expected = [
            Outcome::Paid {
                amount: Fcfa::new(30_000),
                receipt: "R1".into(),
            },
            Outcome::Failed(crate::domain::model::FailureReason::AgentOutOfCash),
            Outcome::NotCollected,
        ];
        for (result, expected) in results.iter().zip(expected) {
            let report = validate(result, "r", today, None).unwrap();
            assert_eq!(report.outcome, expected);
            assert_eq!(wire(&report.outcome) as i32, result.outcome);
        }
    }

    #[test]
    fn an_unspecified_or_unknown_outcome_is_refused_by_field() {
        let today = day("2019-03-01");
        for (value, message) in [
            (0, "is required (PAID, FAILED or NOT_COLLECTED)".to_owned()),
            (9, "has unknown value 9".to_owned()),
            (i32::MIN, format!("has unknown value {}", i32::MIN)),
        ] {
            let mut result = paid(H1, 30_000, "R1");
            result.outcome = value;
            let errors = validate(&result, "results[0]", today, None).unwrap_err();
            assert_eq!(errors, [FieldError::new("results[0].outcome", message)]);
        }
    }
}
