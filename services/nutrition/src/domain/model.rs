//! Rounds, beneficiary groups, rations, warehouses and quantities as the
//! nutrition service holds them.

use chrono::{DateTime, NaiveDate, Utc};
use jigi_common::{HouseholdId, MemberId, Region};

use super::stock::Draw;

pub use jigi_common::Location;

/// The groups the PNP feeds. A woman both pregnant and lactating counts as
/// pregnant: one person is in one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    /// A child aged 6 to 59 months on the distribution date.
    Child,
    PregnantWoman,
    LactatingWoman,
}

impl Group {
    pub const ALL: [Group; 3] = [Group::Child, Group::PregnantWoman, Group::LactatingWoman];

    /// The code stored in the database.
    pub fn code(self) -> &'static str {
        match self {
            Group::Child => "child",
            Group::PregnantWoman => "pregnant_woman",
            Group::LactatingWoman => "lactating_woman",
        }
    }

    pub fn from_code(code: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|g| g.code() == code)
    }
}

/// Grams of flour per beneficiary of each group in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rations {
    pub child: i64,
    pub pregnant_woman: i64,
    pub lactating_woman: i64,
}

impl Rations {
    /// Largest ration accepted, in grams (100 kg).
    pub const MAX_GRAMS: i64 = 100_000;

    pub fn grams(&self, group: Group) -> i64 {
        match group {
            Group::Child => self.child,
            Group::PregnantWoman => self.pregnant_woman,
            Group::LactatingWoman => self.lactating_woman,
        }
    }
}

/// Whether a round still accepts distributions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundStatus {
    Open,
    Closed,
}

impl RoundStatus {
    pub fn code(self) -> &'static str {
        match self {
            RoundStatus::Open => "open",
            RoundStatus::Closed => "closed",
        }
    }

    pub fn from_code(code: &str) -> Option<RoundStatus> {
        match code {
            "open" => Some(RoundStatus::Open),
            "closed" => Some(RoundStatus::Closed),
            _ => None,
        }
    }
}

/// A distribution round: "round 2 of 2018" in some pilot communes.
#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    pub round_id: String,
    pub region: Region,
    pub year: i32,
    pub number: i32,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// The pilot communes, by commune code.
    pub communes: Vec<Location>,
    pub rations: Rations,
    pub status: RoundStatus,
    pub opened_at: DateTime<Utc>,
    pub closed_on: Option<NaiveDate>,
}

impl Round {
    /// `<region>-<year>-r<number>`, e.g. `segou-2018-r2`.
    pub fn id_for(region: Region, year: i32, number: i32) -> String {
        format!("{}-{year}-r{number}", region.slug())
    }

    /// Whether `date` lies within the round's dates.
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.starts_on <= date && date <= self.ends_on
    }

    pub fn has_commune(&self, commune: &str) -> bool {
        self.communes.iter().any(|c| c.commune == commune)
    }
}

/// A warehouse holding flour for a commune.
#[derive(Debug, Clone, PartialEq)]
pub struct Warehouse {
    pub warehouse_id: String,
    pub name: String,
    pub location: Location,
    pub registered_at: DateTime<Utc>,
}

/// One ration given, as a register line or a single request says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributionLine {
    pub household_id: HouseholdId,
    pub member_id: MemberId,
    pub on: NaiveDate,
}

/// One ration given to one person in a round.
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    pub distribution_id: String,
    pub round_id: String,
    pub warehouse_id: String,
    pub household_id: String,
    pub member_id: String,
    pub group: Group,
    pub grams: i64,
    pub distributed_on: NaiveDate,
    /// Where the household lives.
    pub location: Location,
    /// The lots the flour came from, earliest expiry first.
    pub draws: Vec<Draw>,
    /// Grams the warehouse holds once this ration is taken (all lots).
    pub stock_after: i64,
}

/// People counted by group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCounts {
    pub children: i64,
    pub pregnant_women: i64,
    pub lactating_women: i64,
}

impl GroupCounts {
    pub fn add(&mut self, group: Group, count: i64) {
        match group {
            Group::Child => self.children += count,
            Group::PregnantWoman => self.pregnant_women += count,
            Group::LactatingWoman => self.lactating_women += count,
        }
    }

    pub fn total(&self) -> i64 {
        self.children + self.pregnant_women + self.lactating_women
    }

    pub fn plus(&self, other: &GroupCounts) -> GroupCounts {
        GroupCounts {
            children: self.children + other.children,
            pregnant_women: self.pregnant_women + other.pregnant_women,
            lactating_women: self.lactating_women + other.lactating_women,
        }
    }
}

/// A round's figures in one commune (or, summed, in all its communes).
#[derive(Debug, Clone, PartialEq)]
pub struct CommuneFigures {
    pub location: Location,
    /// People eligible on the round's first day.
    pub planned: GroupCounts,
    /// People who received in the round.
    pub reached: GroupCounts,
    pub distributed_grams: i64,
    /// Grams now held by the commune's warehouses.
    pub stock_left_grams: i64,
}

/// A round's report.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundReport {
    pub round: Round,
    pub planned_on: NaiveDate,
    /// One per pilot commune, by commune code.
    pub communes: Vec<CommuneFigures>,
    /// The sum of the communes; its location names the region only.
    pub total: CommuneFigures,
}

/// Grams as kilograms, for reports.
pub fn kilograms(grams: i64) -> f64 {
    grams as f64 / 1_000.0
}

/// Grams as tonnes, for reports.
pub fn tonnes(grams: i64) -> f64 {
    grams as f64 / 1_000_000.0
}

/// Why a distribution is refused. The codes are the API's `RefusalReason`
/// names without their prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Invalid,
    UnknownPerson,
    HouseholdMismatch,
    NotEnrolled,
    NotPresent,
    TooYoung,
    AgedOut,
    NotATarget,
    NotInPilotCommune,
    WrongWarehouse,
    AlreadyReceived,
    InsufficientStock,
    OnlyExpiredStock,
    OutsideRoundDates,
    RoundClosed,
}

impl Reason {
    pub const ALL: [Reason; 15] = [
        Reason::Invalid,
        Reason::UnknownPerson,
        Reason::HouseholdMismatch,
        Reason::NotEnrolled,
        Reason::NotPresent,
        Reason::TooYoung,
        Reason::AgedOut,
        Reason::NotATarget,
        Reason::NotInPilotCommune,
        Reason::WrongWarehouse,
        Reason::AlreadyReceived,
        Reason::InsufficientStock,
        Reason::OnlyExpiredStock,
        Reason::OutsideRoundDates,
        Reason::RoundClosed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Reason::Invalid => "INVALID",
            Reason::UnknownPerson => "UNKNOWN_PERSON",
            Reason::HouseholdMismatch => "HOUSEHOLD_MISMATCH",
            Reason::NotEnrolled => "NOT_ENROLLED",
            Reason::NotPresent => "NOT_PRESENT",
            Reason::TooYoung => "TOO_YOUNG",
            Reason::AgedOut => "AGED_OUT",
            Reason::NotATarget => "NOT_A_TARGET",
            Reason::NotInPilotCommune => "NOT_IN_PILOT_COMMUNE",
            Reason::WrongWarehouse => "WRONG_WAREHOUSE",
            Reason::AlreadyReceived => "ALREADY_RECEIVED",
            Reason::InsufficientStock => "INSUFFICIENT_STOCK",
            Reason::OnlyExpiredStock => "ONLY_EXPIRED_STOCK",
            Reason::OutsideRoundDates => "OUTSIDE_ROUND_DATES",
            Reason::RoundClosed => "ROUND_CLOSED",
        }
    }
}

/// A refused distribution: the reason, what a person reads, and for an
/// invalid line the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    pub message: String,
    pub field: String,
}

impl Refusal {
    pub fn new(reason: Reason, message: impl Into<String>) -> Refusal {
        Refusal {
            reason,
            message: message.into(),
            field: String::new(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Refusal {
        Refusal {
            reason: Reason::Invalid,
            message: message.into(),
            field: field.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_round_trip_and_quantities_convert() {
        for group in Group::ALL {
            assert_eq!(Group::from_code(group.code()), Some(group));
        }
        assert_eq!(kilograms(1_500), 1.5);
        assert_eq!(tonnes(1_627_000_000), 1_627.0);
        assert_eq!(Round::id_for(Region::Segou, 2018, 2), "segou-2018-r2");
    }
}
