//! Who is calling: what a verified token says.

use std::collections::BTreeSet;

use jigi_common::Region;

use crate::Role;

/// Where a person may act.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every region and the national level (the token says `national`).
    National,
    /// These regions only.
    Regions(BTreeSet<Region>),
}

impl Scope {
    /// Whether the scope covers `region`.
    pub fn covers(&self, region: Region) -> bool {
        match self {
            Scope::National => true,
            Scope::Regions(regions) => regions.contains(&region),
        }
    }

    /// Whether the scope covers the national level (all regions at once).
    pub fn is_national(&self) -> bool {
        matches!(self, Scope::National)
    }

    /// As the audit log writes it: `national` or `sikasso,mopti`.
    pub fn describe(&self) -> String {
        match self {
            Scope::National => "national".to_owned(),
            Scope::Regions(regions) => regions.iter().map(|r| r.slug()).collect::<Vec<_>>().join(","),
        }
    }
}

/// A caller whose token was verified. Handlers find it in the request's
/// extensions, shared (`jigi_server::access::caller`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The person or system (`sub`), as the identity provider names them.
    pub subject: String,
    /// Their roles in the programme (unknown role names are left out).
    pub roles: BTreeSet<Role>,
    /// Where they may act.
    pub scope: Scope,
    /// For a payment agent: the agent code whose payment list is theirs.
    pub agent_code: Option<String>,
    /// The token's ID (`jti`), if it has one (not yet recorded in the audit log).
    pub token_id: Option<String>,
}

impl Identity {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the caller has at least one of `roles`.
    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|role| self.has(*role))
    }

    /// The roles as the audit log writes them: `field_agent,auditor`.
    pub fn describe_roles(&self) -> String {
        self.roles.iter().map(|r| r.name()).collect::<Vec<_>>().join(",")
    }
}
