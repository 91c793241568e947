//! The life of a payment cycle, as rules without I/O:
//!
//! draft → frozen → approved → disbursing → closed, and cancelled from any
//! state before disbursement. The list is frozen once; the approver is not
//! a preparer and confirms the frozen totals, which become the control
//! totals; nothing is paid unless the cycle is approved or disbursing.

use jigi_common::{AreaLevel, Fcfa, Geography, Period, Problems, Region};

use super::model::{
    Actor, AgentCode, Assignment, Channel, Cycle, CycleKind, CycleStatus, FundingSource, MAX_AMOUNT_PER_HOUSEHOLD,
    Totals, quarterly_transfer,
};

/// Why a step is refused: a machine-readable kind and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: &'static str,
    pub message: String,
}

impl Refusal {
    fn new(kind: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            kind,
            message: message.into(),
        }
    }

    fn wrong_state(cycle: &Cycle, step: &str) -> Refusal {
        Refusal::new(
            "CYCLE_STATUS",
            format!(
                "cycle {} is {}: it cannot {step}",
                cycle.cycle_id,
                cycle.status.describe()
            ),
        )
    }
}

/// A valid request to open a cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCycle {
    pub kind: CycleKind,
    pub period: Period,
    pub funding_source: FundingSource,
    pub amount_per_household: Fcfa,
    pub communes: Vec<String>,
    pub prepared_by: Actor,
}

/// Checks the fields of an `OpenPaymentCycle` request. `amount` 0 applies the
/// programme rule. `kind` and `funding_source` come as the API read them: an
/// error is reported with the other fields' problems.
#[allow(clippy::too_many_arguments)]
pub fn new_cycle(
    geography: &Geography,
    region: Region,
    kind: Result<CycleKind, String>,
    period: &str,
    funding_source: Result<FundingSource, String>,
    amount: i64,
    communes: &[String],
    prepared_by: &str,
) -> Result<NewCycle, Problems> {
    let mut problems = Problems::new();
    let period = match period.parse::<Period>() {
        Ok(period @ Period::Quarter { .. }) => Some(period),
        Ok(Period::Year(_)) => {
            problems.add("period.code", "a cycle pays a quarter: give YYYYQn, e.g. 2019Q1");
            None
        }
        Err(err) => {
            problems.add("period.code", err.to_string());
            None
        }
    };
    let funding_source = problems.check("funding_source", funding_source);
    let kind = problems.check("kind", kind);
    let amount = match amount {
        // Grants and wages are paid at the amounts the activities service
        // published: a cycle-wide amount would contradict them.
        a if kind.is_some_and(|k| k != CycleKind::Tm) => {
            if a != 0 {
                problems.add(
                    "amount_per_household.fcfa",
                    "must be unset for AGR_GRANT and HIMO_WAGES cycles: each entitlement has its own amount",
                );
            }
            Some(Fcfa::ZERO)
        }
        0 => Some(quarterly_transfer()),
        a if a < 0 => {
            problems.add("amount_per_household.fcfa", "must be positive");
            None
        }
        a if Fcfa::new(a) > MAX_AMOUNT_PER_HOUSEHOLD => {
            problems.add(
                "amount_per_household.fcfa",
                format!("must be at most {}", MAX_AMOUNT_PER_HOUSEHOLD.francs()),
            );
            None
        }
        a => Some(Fcfa::new(a)),
    };
    let mut scope = Vec::with_capacity(communes.len());
    for (i, commune) in communes.iter().enumerate() {
        match check_commune(geography, region, commune) {
            Ok(()) if scope.contains(commune) => problems.add(format!("communes[{i}]"), "is listed twice"),
            Ok(()) => scope.push(commune.clone()),
            Err(message) => problems.add(format!("communes[{i}]"), message),
        }
    }
    scope.sort();
    let prepared_by = problems.check("prepared_by", Actor::parse(prepared_by));
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(NewCycle {
        kind: kind.expect("checked"),
        period: period.expect("checked"),
        funding_source: funding_source.expect("checked"),
        amount_per_household: amount.expect("checked"),
        communes: scope,
        prepared_by: prepared_by.expect("checked"),
    })
}

/// A commune code of this region.
pub fn check_commune(geography: &Geography, region: Region, commune: &str) -> Result<(), String> {
    match geography.get(commune) {
        None if commune.is_empty() => Err("is required".into()),
        Some(area) if area.level == AreaLevel::Commune && area.region() == region => Ok(()),
        Some(area) if area.level == AreaLevel::Commune => Err(format!(
            "commune {commune} is in {}, not in {}",
            area.region().name(),
            region.name()
        )),
        _ => Err(format!("{commune:?} is not a commune of the geography reference")),
    }
}

/// Checks one agent assignment's fields.
pub fn assignment(
    geography: &Geography,
    region: Region,
    commune: &str,
    agent_code: &str,
    channel: Result<Channel, String>,
    field: &str,
    problems: &mut Problems,
) -> Option<Assignment> {
    let commune_ok = problems
        .check(
            format_args!("{field}.commune"),
            check_commune(geography, region, commune),
        )
        .is_some();
    let agent = problems.check(format_args!("{field}.agent_code"), AgentCode::parse(agent_code));
    let channel = problems.check(format_args!("{field}.channel"), channel);
    Some(Assignment {
        commune: commune_ok.then(|| commune.to_owned())?,
        agent: agent?,
        channel: channel?,
    })
}

/// Agents may be assigned while the list is not yet approved.
pub fn can_assign(cycle: &Cycle) -> Result<(), Refusal> {
    match cycle.status {
        CycleStatus::Draft | CycleStatus::Frozen => Ok(()),
        _ => Err(Refusal::wrong_state(cycle, "change its agents after approval")),
    }
}

/// An assignment must stay within the cycle's communes.
pub fn assignment_in_scope(cycle: &Cycle, commune: &str) -> Result<(), String> {
    if cycle.communes.is_empty() || cycle.communes.iter().any(|c| c == commune) {
        Ok(())
    } else {
        Err(format!("commune {commune} is not covered by cycle {}", cycle.cycle_id))
    }
}

/// A cancellation's reason: required, at most [`MAX_REASON_CHARS`], trimmed.
pub fn cancel_reason(text: &str) -> Result<String, String> {
    let reason = text.trim();
    if reason.is_empty() {
        return Err("is required".into());
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(format!("is longer than {MAX_REASON_CHARS} characters"));
    }
    Ok(reason.to_owned())
}

/// The list is frozen once, from a draft.
pub fn can_freeze(cycle: &Cycle) -> Result<(), Refusal> {
    match cycle.status {
        CycleStatus::Draft => Ok(()),
        _ => Err(Refusal::wrong_state(cycle, "be frozen again: its list is fixed")),
    }
}

/// Checks an approval and returns the control totals it fixes.
///
/// `unassigned` lists the communes of the frozen list that have no agent.
pub fn approve(cycle: &Cycle, approver: &Actor, expected: Totals, unassigned: &[String]) -> Result<Totals, Refusal> {
    if cycle.status != CycleStatus::Frozen {
        return Err(Refusal::wrong_state(cycle, "be approved (only a frozen cycle can)"));
    }
    let approver = approver.as_str();
    if approver == cycle.prepared_by || cycle.frozen_by.as_deref() == Some(approver) {
        return Err(Refusal::new(
            "SELF_APPROVAL",
            format!(
                "{approver} prepared cycle {}: another person must approve it",
                cycle.cycle_id
            ),
        ));
    }
    if cycle.frozen.count == 0 {
        return Err(Refusal::new(
            "EMPTY_LIST",
            format!("cycle {} lists no household: cancel it instead", cycle.cycle_id),
        ));
    }
    if expected != cycle.frozen {
        return Err(Refusal::new(
            "CONTROL_TOTALS_MISMATCH",
            format!(
                "the frozen list has {} households for {}, not {} for {}: check the list again",
                cycle.frozen.count, cycle.frozen.amount, expected.count, expected.amount
            ),
        ));
    }
    if !unassigned.is_empty() {
        return Err(Refusal::new(
            "AGENTS_MISSING",
            format!("no payment agent is assigned to {}", unassigned.join(", ")),
        ));
    }
    Ok(cycle.frozen)
}

/// Results are recorded only from an approved (or disbursing) cycle.
pub fn accepts_results(cycle: &Cycle) -> Result<(), Refusal> {
    match cycle.status {
        CycleStatus::Approved | CycleStatus::Disbursing => Ok(()),
        CycleStatus::Draft | CycleStatus::Frozen => Err(Refusal::new(
            "NOT_APPROVED",
            format!(
                "cycle {} is {}: nothing is paid before approval",
                cycle.cycle_id,
                cycle.status.describe()
            ),
        )),
        _ => Err(Refusal::wrong_state(cycle, "accept payment results")),
    }
}

/// Whether the payment list may go to agents.
pub fn can_export(cycle: &Cycle) -> Result<(), Refusal> {
    match cycle.status {
        CycleStatus::Approved | CycleStatus::Disbursing | CycleStatus::Closed => Ok(()),
        CycleStatus::Draft | CycleStatus::Frozen => Err(Refusal::new(
            "NOT_APPROVED",
            format!(
                "cycle {} is {}: its payment list is not authorised before approval",
                cycle.cycle_id,
                cycle.status.describe()
            ),
        )),
        CycleStatus::Cancelled => Err(Refusal::wrong_state(cycle, "give a payment list")),
    }
}

/// A cycle is cancelled only before disbursement.
pub fn can_cancel(cycle: &Cycle) -> Result<(), Refusal> {
    match cycle.status {
        CycleStatus::Draft | CycleStatus::Frozen | CycleStatus::Approved => Ok(()),
        CycleStatus::Disbursing => Err(Refusal::new(
            "DISBURSEMENT_STARTED",
            format!(
                "cycle {} has payment results already: it can only be closed",
                cycle.cycle_id
            ),
        )),
        _ => Err(Refusal::wrong_state(cycle, "be cancelled")),
    }
}

/// A cycle is closed once disbursement has started.
pub fn can_close(cycle: &Cycle) -> Result<(), Refusal> {
    match cycle.status {
        CycleStatus::Disbursing => Ok(()),
        CycleStatus::Approved => Err(Refusal::new(
            "NOTHING_DISBURSED",
            format!(
                "cycle {} has no payment result yet: record results, or cancel it",
                cycle.cycle_id
            ),
        )),
        _ => Err(Refusal::wrong_state(cycle, "be closed")),
    }
}

/// Longest cancellation reason kept.
pub const MAX_REASON_CHARS: usize = 500;

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn cycle(status: CycleStatus) -> Cycle {
        Cycle {
            cycle_id: "c-1".into(),
            region: Region::Sikasso,
            kind: CycleKind::Tm,
            period: "2019Q1".parse().unwrap(),
            funding_source: FundingSource::WorldBankIda,
            amount_per_household: quarterly_transfer(),
            communes: vec![],
            status,
            frozen: Totals::new(2, 60_000),
            control: Totals::ZERO,
            paid: Totals::ZERO,
            prepared_by: "preparer".into(),
            frozen_by: Some("freezer".into()),
            approved_by: None,
            ended_by: None,
            cancel_reason: None,
            opened_at: Utc::now(),
            frozen_at: None,
            approved_at: None,
            ended_at: None,
            agents: vec![],
        }
    }

    fn actor(name: &str) -> Actor {
        Actor::parse(name).unwrap()
    }

    #[test]
    fn opening_checks_every_field_and_applies_the_programme_rule() {
        let geography = Geography::built_in();
        let ok = new_cycle(
            &geography,
            Region::Sikasso,
            Ok(CycleKind::Tm),
            "2019Q1",
            Ok(FundingSource::WorldBankIda),
            0,
            &["sikasso.yanfolila.gouanan".into()],
            "a.diallo",
        )
        .unwrap();
        assert_eq!(ok.amount_per_household, Fcfa::new(30_000));
        assert_eq!(ok.funding_source, FundingSource::WorldBankIda);

        let errors = new_cycle(
            &geography,
            Region::Sikasso,
            Ok(CycleKind::Tm),
            "2019",
            Err("is required".into()),
            -5,
            &["segou.baroueli.sanando".into(), "nowhere".into()],
            " ",
        )
        .unwrap_err()
        .into_errors();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "period.code",
                "funding_source",
                "amount_per_household.fcfa",
                "communes[0]",
                "communes[1]",
                "prepared_by"
            ]
        );
    }

    #[test]
    fn grant_and_wage_cycles_take_their_amounts_from_the_activities() {
        let geography = Geography::built_in();
        let open = |kind: CycleKind, amount: i64| {
            new_cycle(
                &geography,
                Region::Sikasso,
                Ok(kind),
                "2019Q1",
                Ok(FundingSource::WorldBankIda),
                amount,
                &[],
                "a.diallo",
            )
        };
        let wages = open(CycleKind::HimoWages, 0).unwrap();
        assert_eq!(
            (wages.kind, wages.amount_per_household),
            (CycleKind::HimoWages, Fcfa::ZERO)
        );
        assert_eq!(open(CycleKind::AgrGrant, 0).unwrap().kind, CycleKind::AgrGrant);
        let fields: Vec<String> = open(CycleKind::AgrGrant, 50_000)
            .unwrap_err()
            .into_errors()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["amount_per_household.fcfa"]);
        assert_eq!(open(CycleKind::Tm, 0).unwrap().amount_per_household, Fcfa::new(30_000));
        let unknown = new_cycle(
            &geography,
            Region::Sikasso,
            Err("is not a CycleKind value".into()),
            "2019Q1",
            Ok(FundingSource::WorldBankIda),
            0,
            &[],
            "a.diallo",
        )
        .unwrap_err();
        assert_eq!(unknown.into_errors()[0].field, "kind");
        for kind in CycleKind::ALL {
            assert_eq!(CycleKind::from_code(kind.code()), Some(kind));
        }
    }

    #[test]
    fn the_approver_is_not_a_preparer() {
        let frozen = cycle(CycleStatus::Frozen);
        let totals = Totals::new(2, 60_000);
        for own in ["preparer", "freezer"] {
            assert_eq!(
                approve(&frozen, &actor(own), totals, &[]).unwrap_err().kind,
                "SELF_APPROVAL"
            );
        }
        assert_eq!(approve(&frozen, &actor("approver"), totals, &[]), Ok(totals));
    }

    #[test]
    fn approval_confirms_the_frozen_totals_and_needs_agents() {
        let frozen = cycle(CycleStatus::Frozen);
        let approver = actor("approver");
        assert_eq!(
            approve(&frozen, &approver, Totals::new(2, 90_000), &[])
                .unwrap_err()
                .kind,
            "CONTROL_TOTALS_MISMATCH"
        );
        assert_eq!(
            approve(&frozen, &approver, frozen.frozen, &["sikasso.x.y".into()])
                .unwrap_err()
                .kind,
            "AGENTS_MISSING"
        );
        let mut empty = cycle(CycleStatus::Frozen);
        empty.frozen = Totals::ZERO;
        assert_eq!(
            approve(&empty, &approver, Totals::ZERO, &[]).unwrap_err().kind,
            "EMPTY_LIST"
        );
        assert_eq!(
            approve(&cycle(CycleStatus::Draft), &approver, frozen.frozen, &[])
                .unwrap_err()
                .kind,
            "CYCLE_STATUS"
        );
    }

    #[test]
    fn the_life_of_a_cycle() {
        use CycleStatus::*;
        let allowed = |check: fn(&Cycle) -> Result<(), Refusal>| -> Vec<CycleStatus> {
            CycleStatus::ALL
                .into_iter()
                .filter(|s| check(&cycle(*s)).is_ok())
                .collect()
        };
        assert_eq!(allowed(can_freeze), [Draft]);
        assert_eq!(allowed(can_assign), [Draft, Frozen]);
        assert_eq!(allowed(accepts_results), [Approved, Disbursing]);
        assert_eq!(allowed(can_export), [Approved, Disbursing, Closed]);
        assert_eq!(allowed(can_cancel), [Draft, Frozen, Approved]);
        assert_eq!(allowed(can_close), [Disbursing]);
        assert_eq!(accepts_results(&cycle(Frozen)).unwrap_err().kind, "NOT_APPROVED");
        assert_eq!(can_cancel(&cycle(Disbursing)).unwrap_err().kind, "DISBURSEMENT_STARTED");
    }
}
