//! Passwords for the users of a deployed NATS configuration.
//!
//! The deployment's files never hold a password: they name environment
//! variables (`$JIGI_NATS_PASSWORD_<USER>`, `$JIGI_NATS_SERVICES_PASSWORD`)
//! that a Kubernetes secret or a systemd credential fills in. A local stack or
//! a test must fill in every one of them, or the server refuses the whole
//! file. So the users are read from the file itself: a user added to
//! `accounts.conf` (a partner, say) gets a password here without anyone
//! keeping a second list in step.

use std::collections::BTreeMap;

/// The prefix of a hub user's password variable.
const PASSWORD_PREFIX: &str = "JIGI_NATS_PASSWORD_";
/// The leaf node's variable for the password of its `services` user.
const SERVICES_VARIABLE: &str = "JIGI_NATS_SERVICES_PASSWORD";

/// A fresh random password for each user, by user name in lower case
/// (`national`, `sikasso`, `partner_donor`, and `services` for the regions'
/// leaf nodes).
#[derive(Debug, Clone)]
pub struct Passwords(BTreeMap<String, String>);

impl Passwords {
    /// A password for every `$JIGI_NATS_PASSWORD_<USER>` in `accounts_conf`,
    /// and one for the leaf nodes' `services` user.
    pub fn for_accounts(accounts_conf: &str) -> Passwords {
        let users = password_variables(accounts_conf)
            .into_iter()
            .map(|user| user.to_ascii_lowercase())
            .chain(["services".to_owned()]);
        Passwords(users.map(|user| (user, random_password())).collect())
    }

    /// The password of `user`.
    ///
    /// # Panics
    /// When the configuration has no such user: a typo in a test or a stack,
    /// which should fail loudly rather than log in with nothing.
    pub fn of(&self, user: &str) -> &str {
        self.0
            .get(user)
            .unwrap_or_else(|| panic!("the NATS configuration has no user {user:?}"))
    }

    /// The hub's environment: `JIGI_NATS_PASSWORD_<USER>` for each user.
    pub fn hub_env(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter(|(user, _)| *user != "services")
            .map(|(user, password)| {
                (
                    format!("{PASSWORD_PREFIX}{}", user.to_ascii_uppercase()),
                    password.clone(),
                )
            })
            .collect()
    }

    /// A leaf node's environment entry for its `services` user.
    pub fn services_env(&self) -> (String, String) {
        (SERVICES_VARIABLE.to_owned(), self.of("services").to_owned())
    }
}

/// The `<USER>` of every `$JIGI_NATS_PASSWORD_<USER>` in a configuration.
fn password_variables(conf: &str) -> Vec<String> {
    conf.split('$')
        .skip(1)
        .filter_map(|rest| rest.strip_prefix(PASSWORD_PREFIX))
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|user| !user.is_empty())
        .collect()
}

/// 32 hex digits after a letter: nats-server reads a variable's value as a
/// configuration value, and one starting with digits would be a number.
fn random_password() -> String {
    format!("j{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_password_variable_of_the_file_gets_a_password() {
        let conf = "users: [\n { user: national, password: $JIGI_NATS_PASSWORD_NATIONAL }\n \
                    { user: partner_donor, password: $JIGI_NATS_PASSWORD_PARTNER_DONOR\n } ]\n\
                    publish: [\"$JS.API.>\"]";
        let passwords = Passwords::for_accounts(conf);
        let env: Vec<String> = passwords.hub_env().into_iter().map(|(name, _)| name).collect();
        assert_eq!(env, ["JIGI_NATS_PASSWORD_NATIONAL", "JIGI_NATS_PASSWORD_PARTNER_DONOR"]);
        assert!(passwords.of("partner_donor").starts_with('j'));
        assert_ne!(passwords.of("national"), passwords.of("partner_donor"));
        assert_eq!(passwords.services_env().0, "JIGI_NATS_SERVICES_PASSWORD");
    }

    #[test]
    #[should_panic(expected = "no user \"nobody\"")]
    fn an_unknown_user_is_a_loud_mistake() {
        Passwords::for_accounts("").of("nobody");
    }
}
