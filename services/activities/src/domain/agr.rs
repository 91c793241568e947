//! Income-generating activities (AGR): a household's business plan, its
//! grant released in tranches, and follow-up visits at fixed months after
//! the first tranche.
//!
//! The rules: tranches never add up to more than the planned grant; a
//! tranche after the first needs a follow-up visit made since the previous
//! tranche that found the activity running (the programme releases more
//! money only to a business seen alive); visits happen at 3, 6 and 12 months
//! after the first tranche, not before they are due, once each.

use chrono::{Months, NaiveDate};
use jigi_common::{Fcfa, HouseholdId};

use super::model::{Location, Refusal};

/// The months after the first tranche at which a household is visited.
pub const FOLLOW_UP_MONTHS: [u32; 3] = [3, 6, 12];
/// Largest grant a plan may set.
pub const MAX_GRANT: Fcfa = Fcfa::new(1_000_000);

/// What a household's business does. Wire values shared by the API's
/// `ActivityType` and the events' `AgrActivityType` (tested).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActivityType {
    SmallLivestock,
    PettyTrade,
    MarketGardening,
    Processing,
    Craft,
}

impl ActivityType {
    pub const ALL: [ActivityType; 5] = [
        ActivityType::SmallLivestock,
        ActivityType::PettyTrade,
        ActivityType::MarketGardening,
        ActivityType::Processing,
        ActivityType::Craft,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ActivityType::SmallLivestock => "small_livestock",
            ActivityType::PettyTrade => "petty_trade",
            ActivityType::MarketGardening => "market_gardening",
            ActivityType::Processing => "processing",
            ActivityType::Craft => "craft",
        }
    }

    pub fn from_code(code: &str) -> Option<ActivityType> {
        ActivityType::ALL.into_iter().find(|t| t.code() == code)
    }

    pub fn wire(self) -> i32 {
        ActivityType::ALL.iter().position(|t| *t == self).expect("listed") as i32 + 1
    }

    pub fn from_wire(value: i32) -> Option<ActivityType> {
        usize::try_from(value.saturating_sub(1))
            .ok()
            .and_then(|i| ActivityType::ALL.get(i).copied())
    }
}

/// Why an activity stopped. Wire values shared by the API's `StopReason`
/// and the events' `AgrStopReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StopReason {
    LivestockLoss,
    HouseholdNeeds,
    NoMarket,
    Shock,
    Other,
}

impl StopReason {
    pub const ALL: [StopReason; 5] = [
        StopReason::LivestockLoss,
        StopReason::HouseholdNeeds,
        StopReason::NoMarket,
        StopReason::Shock,
        StopReason::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            StopReason::LivestockLoss => "livestock_loss",
            StopReason::HouseholdNeeds => "household_needs",
            StopReason::NoMarket => "no_market",
            StopReason::Shock => "shock",
            StopReason::Other => "other",
        }
    }

    pub fn from_code(code: &str) -> Option<StopReason> {
        StopReason::ALL.into_iter().find(|t| t.code() == code)
    }

    pub fn wire(self) -> i32 {
        StopReason::ALL.iter().position(|t| *t == self).expect("listed") as i32 + 1
    }

    pub fn from_wire(value: i32) -> Option<StopReason> {
        usize::try_from(value.saturating_sub(1))
            .ok()
            .and_then(|i| StopReason::ALL.get(i).copied())
    }
}

/// A business plan as the committee approved it, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPlan {
    pub household_id: HouseholdId,
    pub activity_type: ActivityType,
    pub planned_grant: Fcfa,
    pub approved_on: NaiveDate,
}

/// A tranche of a household's grant to release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrancheRelease {
    pub household_id: HouseholdId,
    pub amount: Fcfa,
    pub released_on: NaiveDate,
}

/// A tranche of a grant, released to be paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tranche {
    pub tranche_id: String,
    pub number: i32,
    pub amount: Fcfa,
    pub released_on: NaiveDate,
}

/// What a follow-up visit found. `None` as the reason: running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub month: u32,
    pub visited_on: NaiveDate,
    /// `None`: the activity was running; `Some(reason)`: it had stopped.
    pub stopped: Option<StopReason>,
}

/// A household's business plan with what happened since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub household_id: String,
    pub location: Location,
    pub activity_type: ActivityType,
    pub planned_grant: Fcfa,
    pub approved_on: NaiveDate,
    /// In order of release.
    pub tranches: Vec<Tranche>,
    /// In order of month.
    pub visits: Vec<Visit>,
}

impl Plan {
    /// What was released so far.
    pub fn released(&self) -> Fcfa {
        self.tranches.iter().map(|t| t.amount).sum()
    }

    /// The day the first tranche was released: visits count from it.
    pub fn granted_on(&self) -> Option<NaiveDate> {
        self.tranches.first().map(|t| t.released_on)
    }

    /// Checks that a tranche of `amount` may be released on `on`; returns its number.
    pub fn next_tranche(&self, amount: Fcfa, on: NaiveDate) -> Result<i32, Refusal> {
        if on < self.approved_on {
            return Err(Refusal::new(
                "BEFORE_PLAN_APPROVAL",
                format!("the plan was approved on {}; {on} is before", self.approved_on),
            ));
        }
        let released = self.released();
        let total = released.checked_add(amount).unwrap_or(Fcfa::new(i64::MAX));
        if total > self.planned_grant {
            return Err(Refusal::new(
                "GRANT_EXCEEDED",
                format!(
                    "{} already released of a planned grant of {}: {amount} more would exceed it",
                    released, self.planned_grant
                ),
            ));
        }
        if let Some(last) = self.tranches.last() {
            if on < last.released_on {
                return Err(Refusal::new(
                    "BEFORE_PREVIOUS_TRANCHE",
                    format!("tranche {} was released on {}", last.number, last.released_on),
                ));
            }
            let seen_since = self
                .visits
                .iter()
                .filter(|v| v.visited_on >= last.released_on)
                .max_by_key(|v| v.visited_on);
            match seen_since {
                None => {
                    return Err(Refusal::new(
                        "FOLLOW_UP_VISIT_MISSING",
                        format!(
                            "tranche {} was released on {}; no follow-up visit since: tranche {} waits for one",
                            last.number,
                            last.released_on,
                            last.number + 1
                        ),
                    ));
                }
                Some(Visit {
                    stopped: Some(reason),
                    month,
                    ..
                }) => {
                    return Err(Refusal::new(
                        "ACTIVITY_STOPPED",
                        format!("the month-{month} visit found the activity stopped ({})", reason.code()),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(self.tranches.len() as i32 + 1)
    }

    /// Checks that the visit of `month` may be recorded as made on `on`.
    pub fn check_visit(&self, month: u32, on: NaiveDate) -> Result<(), Refusal> {
        let Some(granted_on) = self.granted_on() else {
            return Err(Refusal::new(
                "NO_GRANT_YET",
                format!(
                    "no tranche of household {}'s grant was released: there is nothing to follow up",
                    self.household_id
                ),
            ));
        };
        let due = visit_due(granted_on, month);
        if on < due {
            return Err(Refusal::new(
                "VISIT_NOT_DUE",
                format!("the month-{month} visit is due from {due} (first tranche released on {granted_on})"),
            ));
        }
        if self.visits.iter().any(|v| v.month == month) {
            return Err(Refusal::new(
                "VISIT_ALREADY_RECORDED",
                format!(
                    "the month-{month} visit of household {} is already recorded",
                    self.household_id
                ),
            ));
        }
        Ok(())
    }
}

/// The day the visit of `month` falls due.
pub fn visit_due(granted_on: NaiveDate, month: u32) -> NaiveDate {
    granted_on
        .checked_add_months(Months::new(month))
        .expect("a date a year ahead exists")
}

#[cfg(test)]
mod tests {
    use jigi_common::Region;

    use super::*;
    use crate::domain::model::tests::d;

    fn plan(grant: i64) -> Plan {
        Plan {
            household_id: "hh-1".into(),
            location: Location {
                region: Region::Segou,
                cercle: "segou.baroueli".into(),
                commune: "segou.baroueli.sanando".into(),
                village: String::new(),
            },
            activity_type: ActivityType::SmallLivestock,
            planned_grant: Fcfa::new(grant),
            approved_on: d("2018-02-01"),
            tranches: Vec::new(),
            visits: Vec::new(),
        }
    }

    fn release(plan: &mut Plan, amount: i64, on: &str) -> Result<i32, Refusal> {
        let number = plan.next_tranche(Fcfa::new(amount), d(on))?;
        plan.tranches.push(Tranche {
            tranche_id: format!("t{number}"),
            number,
            amount: Fcfa::new(amount),
            released_on: d(on),
        });
        Ok(number)
    }

    #[test]
    fn a_second_tranche_before_the_follow_up_visit_is_refused() {
        let mut plan = plan(150_000);
        assert_eq!(release(&mut plan, 75_000, "2018-03-01"), Ok(1));
        let refused = release(&mut plan, 75_000, "2018-05-01").unwrap_err();
        assert_eq!(refused.kind, "FOLLOW_UP_VISIT_MISSING");
        // The month-3 visit falls due on 2018-06-01 and finds it running.
        assert_eq!(plan.check_visit(3, d("2018-05-31")).unwrap_err().kind, "VISIT_NOT_DUE");
        plan.check_visit(3, d("2018-06-01")).unwrap();
        plan.visits.push(Visit {
            month: 3,
            visited_on: d("2018-06-01"),
            stopped: None,
        });
        assert_eq!(release(&mut plan, 75_000, "2018-06-02"), Ok(2));
        assert_eq!(plan.released(), Fcfa::new(150_000));
    }

    #[test]
    fn tranches_never_exceed_the_planned_grant() {
        let mut plan = plan(100_000);
        assert_eq!(
            release(&mut plan, 100_001, "2018-03-01").unwrap_err().kind,
            "GRANT_EXCEEDED"
        );
        assert_eq!(release(&mut plan, 60_000, "2018-03-01"), Ok(1));
        plan.visits.push(Visit {
            month: 3,
            visited_on: d("2018-06-01"),
            stopped: None,
        });
        assert_eq!(
            release(&mut plan, 40_001, "2018-06-02").unwrap_err().kind,
            "GRANT_EXCEEDED"
        );
        assert_eq!(release(&mut plan, 40_000, "2018-06-02"), Ok(2));
    }

    #[test]
    fn a_stopped_activity_gets_no_more_money() {
        let mut plan = plan(100_000);
        release(&mut plan, 50_000, "2018-03-01").unwrap();
        plan.visits.push(Visit {
            month: 3,
            visited_on: d("2018-06-05"),
            stopped: Some(StopReason::LivestockLoss),
        });
        assert_eq!(
            release(&mut plan, 50_000, "2018-07-01").unwrap_err().kind,
            "ACTIVITY_STOPPED"
        );
    }

    #[test]
    fn visits_need_a_grant_fall_due_at_fixed_months_and_happen_once() {
        let mut plan = plan(100_000);
        assert_eq!(plan.check_visit(3, d("2018-06-01")).unwrap_err().kind, "NO_GRANT_YET");
        release(&mut plan, 50_000, "2018-01-31").unwrap_err();
        release(&mut plan, 50_000, "2018-08-31").unwrap();
        assert_eq!(visit_due(d("2018-08-31"), 6), d("2019-02-28"));
        assert_eq!(plan.check_visit(6, d("2019-02-27")).unwrap_err().kind, "VISIT_NOT_DUE");
        plan.check_visit(6, d("2019-02-28")).unwrap();
        plan.visits.push(Visit {
            month: 6,
            visited_on: d("2019-02-28"),
            stopped: None,
        });
        assert_eq!(
            plan.check_visit(6, d("2019-03-28")).unwrap_err().kind,
            "VISIT_ALREADY_RECORDED"
        );
        plan.check_visit(12, d("2019-08-31")).unwrap();
    }

    #[test]
    fn codes_and_wire_values_round_trip() {
        for t in ActivityType::ALL {
            assert_eq!(ActivityType::from_code(t.code()), Some(t));
            assert_eq!(ActivityType::from_wire(t.wire()), Some(t));
        }
        for r in StopReason::ALL {
            assert_eq!(StopReason::from_code(r.code()), Some(r));
            assert_eq!(StopReason::from_wire(r.wire()), Some(r));
        }
        assert_eq!(ActivityType::from_wire(0), None);
        assert_eq!(StopReason::from_wire(6), None);
        // A hostile client's extreme values are unknown, not a panic.
        assert_eq!(ActivityType::from_wire(i32::MIN), None);
        assert_eq!(StopReason::from_wire(i32::MIN), None);
    }
}
