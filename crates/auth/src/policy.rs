//! Who may call what: each service states, in one table, the roles each of
//! its RPCs admits. The access layer of `jigi-server` applies the table to
//! every call; a method missing from it is refused to everyone.

use jigi_common::Region;

use crate::{Identity, Role};

/// Whether a call changes state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Changes state: recorded in the audit log, counted by the write rate limit.
    Command,
    /// Reads only.
    Query,
}

/// How the caller's region scope is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionCheck {
    /// The caller's scope must cover the service's region (for the national
    /// service: the caller must be national).
    ServiceRegion,
    /// The call names the area it reads, and the handler checks it against
    /// the caller's scope (the monitoring's indicators).
    ByHandler,
}

/// The access rule of one RPC.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The method's name, e.g. `ApprovePaymentCycle`.
    pub method: &'static str,
    pub kind: Kind,
    /// The roles admitted; a caller needs one of them.
    pub roles: &'static [Role],
    pub region: RegionCheck,
}

impl Rule {
    pub const fn command(method: &'static str, roles: &'static [Role]) -> Rule {
        Rule {
            method,
            kind: Kind::Command,
            roles,
            region: RegionCheck::ServiceRegion,
        }
    }

    pub const fn query(method: &'static str, roles: &'static [Role]) -> Rule {
        Rule {
            method,
            kind: Kind::Query,
            roles,
            region: RegionCheck::ServiceRegion,
        }
    }

    /// The same rule, with the region checked by the handler.
    pub const fn region_checked_by_handler(self) -> Rule {
        Rule {
            region: RegionCheck::ByHandler,
            ..self
        }
    }
}

/// Why a verified caller was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("{method} is open to {admitted}; the caller has {held}")]
    Role {
        method: String,
        admitted: String,
        held: String,
    },
    #[error("the caller may act in {scope}, not in {region}")]
    Region { scope: String, region: String },
    #[error("{0} has no access rule: refused to everyone")]
    NoRule(String),
}

/// Where a service acts: one region, or the whole country.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceArea {
    Region(Region),
    National,
}

impl ServiceArea {
    pub fn name(self) -> &'static str {
        match self {
            ServiceArea::Region(region) => region.slug(),
            ServiceArea::National => crate::NATIONAL,
        }
    }
}

/// Whether `identity` may make a call governed by `rule` on a service of `area`.
pub fn authorize(rule: &Rule, identity: &Identity, area: ServiceArea) -> Result<(), Denied> {
    if !identity.has_any(rule.roles) {
        return Err(Denied::Role {
            method: rule.method.to_owned(),
            admitted: rule.roles.iter().map(|r| r.name()).collect::<Vec<_>>().join(", "),
            held: if identity.roles.is_empty() {
                "no programme role".to_owned()
            } else {
                identity.describe_roles()
            },
        });
    }
    let in_scope = match (rule.region, area) {
        (RegionCheck::ByHandler, _) => true,
        (RegionCheck::ServiceRegion, ServiceArea::Region(region)) => identity.scope.covers(region),
        (RegionCheck::ServiceRegion, ServiceArea::National) => identity.scope.is_national(),
    };
    if !in_scope {
        return Err(Denied::Region {
            scope: identity.scope.describe(),
            region: area.name().to_owned(),
        });
    }
    Ok(())
}

/// Every role: for reference data anyone in the programme may read.
pub const ANY_ROLE: &[Role] = &Role::ALL;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::Scope;

    fn caller(roles: &[Role], scope: Scope) -> Identity {
        Identity {
            subject: "awa".into(),
            roles: roles.iter().copied().collect(),
            scope,
            agent_code: None,
            token_id: None,
        }
    }

    fn sikasso() -> Scope {
        Scope::Regions(BTreeSet::from([Region::Sikasso]))
    }

    const APPROVE: Rule = Rule::command("ApprovePaymentCycle", &[Role::PaymentApprover]);

    #[test]
    fn a_caller_needs_one_of_the_roles_and_the_region() {
        let sikasso_area = ServiceArea::Region(Region::Sikasso);
        let mopti_area = ServiceArea::Region(Region::Mopti);
        let approver = caller(&[Role::PaymentApprover], sikasso());
        assert_eq!(authorize(&APPROVE, &approver, sikasso_area), Ok(()));
        assert!(matches!(
            authorize(&APPROVE, &approver, mopti_area),
            Err(Denied::Region { .. })
        ));
        let preparer = caller(&[Role::PaymentPreparer], sikasso());
        assert!(matches!(
            authorize(&APPROVE, &preparer, sikasso_area),
            Err(Denied::Role { .. })
        ));
        let national = caller(&[Role::PaymentApprover], Scope::National);
        assert_eq!(authorize(&APPROVE, &national, mopti_area), Ok(()));
    }

    #[test]
    fn the_national_service_wants_national_callers_unless_the_handler_checks() {
        let budget = Rule::command("SetBudgetLine", &[Role::NationalOperator]);
        let regional = caller(&[Role::NationalOperator], sikasso());
        assert!(authorize(&budget, &regional, ServiceArea::National).is_err());
        assert_eq!(
            authorize(
                &budget,
                &caller(&[Role::NationalOperator], Scope::National),
                ServiceArea::National
            ),
            Ok(())
        );
        let indicators = Rule::query("GetIndicators", &[Role::NationalOperator, Role::RegionalSupervisor])
            .region_checked_by_handler();
        assert_eq!(
            authorize(
                &indicators,
                &caller(&[Role::RegionalSupervisor], sikasso()),
                ServiceArea::National
            ),
            Ok(())
        );
    }

    #[test]
    fn a_caller_without_roles_is_told_so() {
        let denied = authorize(&APPROVE, &caller(&[], Scope::National), ServiceArea::National).unwrap_err();
        assert!(denied.to_string().contains("no programme role"), "{denied}");
    }
}
