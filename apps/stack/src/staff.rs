//! The people a local stack's quarter needs, each calling as themselves:
//! a token per person from the stack's local key, with the roles of their
//! job in their region. Against services without access control, no token.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use jigi_auth::{Grant, LocalIssuer, Role, Scope};
use jigi_common::Region;

use crate::clients::Caller;

/// Who issues the staff's tokens, if anyone.
#[derive(Clone, Default)]
pub struct Staff {
    issuer: Option<Arc<LocalIssuer>>,
}

impl std::fmt::Debug for Staff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.issuer.is_some() {
            "Staff(tokens)"
        } else {
            "Staff(no tokens)"
        })
    }
}

impl Staff {
    /// For services that check no token.
    pub fn without_tokens() -> Staff {
        Staff::default()
    }

    /// Tokens from `issuer`, whose keys the services trust.
    pub fn with_tokens(issuer: Arc<LocalIssuer>) -> Staff {
        Staff { issuer: Some(issuer) }
    }

    /// `subject`, holding `roles` in `region` (and, for a payment agent, `agent_code`).
    pub fn in_region(&self, subject: &str, roles: &[Role], region: Region, agent_code: Option<&str>) -> Caller {
        self.caller(subject, roles, Scope::Regions(BTreeSet::from([region])), agent_code)
    }

    /// `subject`, holding `roles` nationally.
    pub fn national(&self, subject: &str, roles: &[Role]) -> Caller {
        self.caller(subject, roles, Scope::National, None)
    }

    fn caller(&self, subject: &str, roles: &[Role], scope: Scope, agent_code: Option<&str>) -> Caller {
        let Some(issuer) = &self.issuer else {
            return Caller::default();
        };
        let mut grant = Grant::new(subject, roles, scope);
        grant.agent_code = agent_code.map(str::to_owned);
        // Long enough for the biggest demo; a token outliving it does no harm
        // on a stack that lives as long as the command.
        grant.lifetime = Duration::from_secs(12 * 3600);
        Caller::with_token(&issuer.issue(&grant)).expect("issued tokens are ASCII")
    }
}
