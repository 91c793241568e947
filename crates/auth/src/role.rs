//! The programme's roles, as tokens name them.

use std::fmt;
use std::str::FromStr;

/// What a person does in the programme. A token may carry several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Registers and updates households, records distributions.
    FieldAgent,
    /// Enrols and validates households; reads the region's personal data.
    RegionalSupervisor,
    /// Opens payment cycles, assigns agents, freezes beneficiary lists.
    PaymentPreparer,
    /// Approves payment cycles prepared by someone else.
    PaymentApprover,
    /// A cash or mobile-money agent: reports the payments of their own list.
    PaymentAgent,
    /// Keeps a commune's flour stock.
    NutritionStoreKeeper,
    /// Reads every region's indicators and budget, enters budget lines; reads
    /// no personal data.
    NationalOperator,
    /// Reads the audit log.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::FieldAgent,
        Role::RegionalSupervisor,
        Role::PaymentPreparer,
        Role::PaymentApprover,
        Role::PaymentAgent,
        Role::NutritionStoreKeeper,
        Role::NationalOperator,
        Role::Auditor,
    ];

    /// The name in tokens and in the audit log, e.g. `payment_approver`.
    pub fn name(self) -> &'static str {
        match self {
            Role::FieldAgent => "field_agent",
            Role::RegionalSupervisor => "regional_supervisor",
            Role::PaymentPreparer => "payment_preparer",
            Role::PaymentApprover => "payment_approver",
            Role::PaymentAgent => "payment_agent",
            Role::NutritionStoreKeeper => "nutrition_store_keeper",
            Role::NationalOperator => "national_operator",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A role name that is not one of the programme's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown role {0:?} (known: field_agent, regional_supervisor, payment_preparer, payment_approver, payment_agent, nutrition_store_keeper, national_operator, auditor)"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|role| role.name() == text)
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_reads_back_from_its_name() {
        for role in Role::ALL {
            assert_eq!(role.name().parse::<Role>(), Ok(role));
        }
        assert!("admin".parse::<Role>().is_err());
        assert!("Field_Agent".parse::<Role>().is_err(), "names are exact");
    }
}
