//! The values of the payments domain: cycles, their states, the programme's
//! amount rule, funding sources, agents and entitlements.

use chrono::{DateTime, NaiveDate, Utc};
use jigi_common::id::{Id, Names};
use jigi_common::{Fcfa, Period, Region};

/// The programme pays 10,000 FCFA per household per month.
pub const MONTHLY_TRANSFER: Fcfa = Fcfa::new(10_000);
/// Months in a quarter: a cycle pays one quarter.
pub const MONTHS_PER_CYCLE: i64 = 3;
/// Highest amount per household a cycle may set.
pub const MAX_AMOUNT_PER_HOUSEHOLD: Fcfa = Fcfa::new(1_000_000);

/// The programme rule: a quarter's transfer, 30,000 FCFA.
pub fn quarterly_transfer() -> Fcfa {
    MONTHLY_TRANSFER
        .checked_mul(MONTHS_PER_CYCLE)
        .expect("a small constant product")
}

/// What a cycle pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CycleKind {
    /// The quarter's cash transfer of each household enrolled in TM.
    Tm,
    /// AGR grant tranches released by the activities service.
    AgrGrant,
    /// HIMO wages of the activities service's closed wage sheets.
    HimoWages,
}

impl CycleKind {
    pub const ALL: [CycleKind; 3] = [CycleKind::Tm, CycleKind::AgrGrant, CycleKind::HimoWages];

    /// How it is stored.
    pub fn code(self) -> &'static str {
        match self {
            CycleKind::Tm => "tm",
            CycleKind::AgrGrant => "agr_grant",
            CycleKind::HimoWages => "himo_wages",
        }
    }

    pub fn from_code(code: &str) -> Option<CycleKind> {
        CycleKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The programme component it pays.
    pub fn component(self) -> jigi_common::Component {
        match self {
            CycleKind::Tm => jigi_common::Component::Tm,
            CycleKind::AgrGrant => jigi_common::Component::Agr,
            CycleKind::HimoWages => jigi_common::Component::Himo,
        }
    }
}

/// Where a cycle is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CycleStatus {
    Draft,
    Frozen,
    Approved,
    Disbursing,
    Closed,
    Cancelled,
}

impl CycleStatus {
    pub const ALL: [CycleStatus; 6] = [
        CycleStatus::Draft,
        CycleStatus::Frozen,
        CycleStatus::Approved,
        CycleStatus::Disbursing,
        CycleStatus::Closed,
        CycleStatus::Cancelled,
    ];

    /// How it is stored.
    pub fn code(self) -> &'static str {
        match self {
            CycleStatus::Draft => "draft",
            CycleStatus::Frozen => "frozen",
            CycleStatus::Approved => "approved",
            CycleStatus::Disbursing => "disbursing",
            CycleStatus::Closed => "closed",
            CycleStatus::Cancelled => "cancelled",
        }
    }

    pub fn from_code(code: &str) -> Option<CycleStatus> {
        CycleStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// What a person reads.
    pub fn describe(self) -> &'static str {
        match self {
            CycleStatus::Draft => "a draft (its list is not frozen)",
            CycleStatus::Frozen => "frozen and waiting for approval",
            CycleStatus::Approved => "approved",
            CycleStatus::Disbursing => "disbursing",
            CycleStatus::Closed => "closed",
            CycleStatus::Cancelled => "cancelled",
        }
    }
}

/// Who funds a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FundingSource {
    WorldBankIda,
    Dfid,
    StateBudget,
}

impl FundingSource {
    pub const ALL: [FundingSource; 3] = [
        FundingSource::WorldBankIda,
        FundingSource::Dfid,
        FundingSource::StateBudget,
    ];

    pub fn code(self) -> &'static str {
        match self {
            FundingSource::WorldBankIda => "world_bank_ida",
            FundingSource::Dfid => "dfid",
            FundingSource::StateBudget => "state_budget",
        }
    }

    pub fn from_code(code: &str) -> Option<FundingSource> {
        FundingSource::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// How an agent pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Cash,
    MobileMoney,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Cash, Channel::MobileMoney];

    pub fn code(self) -> &'static str {
        match self {
            Channel::Cash => "cash",
            Channel::MobileMoney => "mobile_money",
        }
    }

    pub fn from_code(code: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// The state of a household's entitlement in a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntitlementStatus {
    /// Nothing reported yet.
    Pending,
    /// Paid: final.
    Paid,
    /// The last attempt failed.
    Failed,
    /// Not collected.
    NotCollected,
}

impl EntitlementStatus {
    pub const ALL: [EntitlementStatus; 4] = [
        EntitlementStatus::Pending,
        EntitlementStatus::Paid,
        EntitlementStatus::Failed,
        EntitlementStatus::NotCollected,
    ];

    pub fn code(self) -> &'static str {
        match self {
            EntitlementStatus::Pending => "pending",
            EntitlementStatus::Paid => "paid",
            EntitlementStatus::Failed => "failed",
            EntitlementStatus::NotCollected => "not_collected",
        }
    }

    pub fn from_code(code: &str) -> Option<EntitlementStatus> {
        EntitlementStatus::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// Why a payment failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    IdentityNotVerified,
    AccountInvalid,
    AgentOutOfCash,
    NetworkFailure,
    BeneficiaryDeceased,
    SiteInaccessible,
    Other,
}

impl FailureReason {
    pub const ALL: [FailureReason; 7] = [
        FailureReason::IdentityNotVerified,
        FailureReason::AccountInvalid,
        FailureReason::AgentOutOfCash,
        FailureReason::NetworkFailure,
        FailureReason::BeneficiaryDeceased,
        FailureReason::SiteInaccessible,
        FailureReason::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            FailureReason::IdentityNotVerified => "identity_not_verified",
            FailureReason::AccountInvalid => "account_invalid",
            FailureReason::AgentOutOfCash => "agent_out_of_cash",
            FailureReason::NetworkFailure => "network_failure",
            FailureReason::BeneficiaryDeceased => "beneficiary_deceased",
            FailureReason::SiteInaccessible => "site_inaccessible",
            FailureReason::Other => "other",
        }
    }

    pub fn from_code(code: &str) -> Option<FailureReason> {
        FailureReason::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// The person acting on a cycle: the caller's token subject when access
/// control is on (the API layer refuses a request naming someone else), the
/// request's field otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Actor(String);

impl Actor {
    pub fn parse(text: &str) -> Result<Actor, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("is required (the user acting)".into());
        }
        if text.chars().count() > 64 || text.chars().any(char::is_control) {
            return Err("must be at most 64 characters without control characters".into());
        }
        Ok(Actor(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a [`CycleId`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PaymentCycle {}

impl Names for PaymentCycle {
    const WHAT: &'static str = "a payment cycle ID";
}

/// A payment cycle's ID, issued when it opens.
pub type CycleId = Id<PaymentCycle>;

/// A payment agent's code: an organisation or paying-agent code, never a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentCode(String);

impl AgentCode {
    pub fn parse(text: &str) -> Result<AgentCode, String> {
        if text.is_empty() {
            return Err("is required".into());
        }
        if text.len() > 64
            || !text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err("must be 1 to 64 letters, digits, '-', '_' or '.'".into());
        }
        Ok(AgentCode(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A number of households and their amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub count: i64,
    pub amount: Fcfa,
}

impl Totals {
    pub const ZERO: Totals = Totals {
        count: 0,
        amount: Fcfa::ZERO,
    };

    pub fn new(count: i64, amount: i64) -> Totals {
        Totals {
            count,
            amount: Fcfa::new(amount),
        }
    }

    /// Adds one household's amount; `None` on overflow.
    pub fn plus(self, amount: Fcfa) -> Option<Totals> {
        Some(Totals {
            count: self.count.checked_add(1)?,
            amount: self.amount.checked_add(amount)?,
        })
    }

    pub fn add(&mut self, other: Totals) {
        self.count += other.count;
        self.amount = self.amount.checked_add(other.amount).expect("FCFA totals fit in i64");
    }

    /// Whether these totals stay within `limit` in count and in amount.
    pub fn within(self, limit: Totals) -> bool {
        self.count <= limit.count && self.amount <= limit.amount
    }
}

/// A commune assigned to an agent in a cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub commune: String,
    pub agent: AgentCode,
    pub channel: Channel,
}

/// A payment cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Cycle {
    pub cycle_id: String,
    pub region: Region,
    /// What it pays.
    pub kind: CycleKind,
    pub period: Period,
    pub funding_source: FundingSource,
    pub amount_per_household: Fcfa,
    /// Communes covered; empty for the whole region.
    pub communes: Vec<String>,
    pub status: CycleStatus,
    pub frozen: Totals,
    pub control: Totals,
    pub paid: Totals,
    pub prepared_by: String,
    pub frozen_by: Option<String>,
    pub approved_by: Option<String>,
    pub ended_by: Option<String>,
    pub cancel_reason: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub frozen_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub agents: Vec<Assignment>,
}

impl Cycle {
    /// The date of approval (results may not be dated before it).
    pub fn approved_on(&self) -> Option<NaiveDate> {
        self.approved_at.map(|at| at.date_naive())
    }

    /// The agent of a commune.
    pub fn agent_of(&self, commune: &str) -> Option<&Assignment> {
        self.agents.iter().find(|a| a.commune == commune)
    }
}

/// A household's place, as the registry reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub region: String,
    pub cercle: String,
    pub commune: String,
    pub village: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_programme_pays_thirty_thousand_a_quarter() {
        assert_eq!(quarterly_transfer(), Fcfa::new(30_000));
    }

    #[test]
    fn codes_round_trip() {
        for status in CycleStatus::ALL {
            assert_eq!(CycleStatus::from_code(status.code()), Some(status));
        }
        for source in FundingSource::ALL {
            assert_eq!(FundingSource::from_code(source.code()), Some(source));
        }
        for status in EntitlementStatus::ALL {
            assert_eq!(EntitlementStatus::from_code(status.code()), Some(status));
        }
        for reason in FailureReason::ALL {
            assert_eq!(FailureReason::from_code(reason.code()), Some(reason));
        }
    }

    #[test]
    fn actors_and_agent_codes_are_checked() {
        assert_eq!(Actor::parse("  a.diallo ").unwrap().as_str(), "a.diallo");
        assert!(Actor::parse(" ").is_err());
        assert!(Actor::parse(&"x".repeat(65)).is_err());
        assert!(AgentCode::parse("BNDA-SIKASSO.01").is_ok());
        assert!(AgentCode::parse("").is_err());
        assert!(AgentCode::parse("Awa Traoré").is_err());
    }

    #[test]
    fn totals_stay_within_limits() {
        let limit = Totals::new(2, 60_000);
        let one = Totals::ZERO.plus(Fcfa::new(30_000)).unwrap();
        assert!(one.within(limit));
        let two = one.plus(Fcfa::new(30_000)).unwrap();
        assert!(two.within(limit));
        assert!(!two.plus(Fcfa::new(30_000)).unwrap().within(limit));
        assert!(!Totals::new(1, 60_001).within(limit));
    }
}
