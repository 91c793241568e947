//! Identifiers a Jigi service issues: UUIDs, typed by what they name.
//!
//! The registry issues households' and people's IDs; every other service
//! only ever names a household or a person the registry told it of.
//! Reading an ID from a request into a [`HouseholdId`] or a [`MemberId`]
//! (or a service's own, such as a payment cycle's) is the one check: code
//! that receives one never checks it again, and cannot mix a person up
//! with a household. IDs are kept in the canonical form the services write
//! (lower-case, hyphenated), so an ID typed in capitals names the same
//! household.

use std::fmt;
use std::marker::PhantomData;

/// Why a text is not an ID. The message completes the field's
/// name: `household_id is required`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("is required")]
    Missing,
    /// What the ID should have been (`a registry ID`).
    #[error("is not {0} (a UUID)")]
    Malformed(&'static str),
}

/// What an [`Id`] names, and how an error calls it.
pub trait Names {
    /// `a registry ID`, `a payment cycle ID`.
    const WHAT: &'static str;
}

fn canonical(text: &str, what: &'static str) -> Result<String, IdError> {
    if text.is_empty() {
        return Err(IdError::Missing);
    }
    // Only the hyphenated form: `uuid` also reads braces, URNs and 32 bare
    // digits, none of which the registry ever wrote.
    if text.len() != 36 {
        return Err(IdError::Malformed(what));
    }
    uuid::Uuid::parse_str(text)
        .map(|id| id.hyphenated().to_string())
        .map_err(|_| IdError::Malformed(what))
}

/// An ID a service issued for a `K`: a household, a person, a payment cycle.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id<K> {
    text: String,
    kind: PhantomData<K>,
}

/// What a [`HouseholdId`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Household {}

impl Names for Household {
    const WHAT: &'static str = "a registry ID";
}

/// What a [`MemberId`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Member {}

impl Names for Member {
    const WHAT: &'static str = "a registry ID";
}

/// A household's ID in the registry of its region.
pub type HouseholdId = Id<Household>;

/// A person's ID in the registry (a member of a household).
pub type MemberId = Id<Member>;

impl<K: Names> Id<K> {
    /// Reads an ID from a request or an event.
    pub fn parse(text: &str) -> Result<Id<K>, IdError> {
        canonical(text, K::WHAT).map(Id::from_canonical)
    }

    /// A new ID, ordered by creation time (UUID v7): how the service that
    /// owns `K` makes one.
    pub fn issue() -> Id<K> {
        Id::from_canonical(uuid::Uuid::now_v7().to_string())
    }

    fn from_canonical(text: String) -> Id<K> {
        Id {
            text,
            kind: PhantomData,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn into_string(self) -> String {
        self.text
    }
}

impl<K> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// An ID reads as the text its service wrote, wherever text is expected
/// (storage, events, messages); only [`Id::parse`] makes one.
impl<K> std::ops::Deref for Id<K> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

/// For messages and errors that name the ID (`CommandError::not_found`).
impl<K> From<&Id<K>> for String {
    fn from(id: &Id<K>) -> String {
        id.text.clone()
    }
}

impl<K: Names> std::str::FromStr for Id<K> {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Id<K>, IdError> {
        Id::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_registry_s_own_form_is_an_id() {
        let id = "0190c1a2-7b3c-7d4e-8f50-123456789abc";
        assert_eq!(HouseholdId::parse(id).unwrap().as_str(), id);
        assert_eq!(
            MemberId::parse(&id.to_uppercase()).unwrap().as_str(),
            id,
            "capitals name the same person"
        );
        assert_eq!(HouseholdId::parse(""), Err(IdError::Missing));
        for bad in [
            "hh-1",
            "0190c1a27b3c7d4e8f50123456789abc",
            "{0190c1a2-7b3c-7d4e-8f50-123456789abc}",
            "urn:uuid:0190c1a2-7b3c-7d4e-8f50-123456789abc",
            "'; DROP TABLE households; --",
            "0190c1a2-7b3c-7d4e-8f50-123456789abg",
        ] {
            assert_eq!(
                HouseholdId::parse(bad),
                Err(IdError::Malformed("a registry ID")),
                "{bad}"
            );
        }
    }

    #[test]
    fn issued_ids_read_back() {
        let issued = HouseholdId::issue();
        assert_eq!(HouseholdId::parse(issued.as_str()), Ok(issued.clone()));
        assert_eq!(issued.to_string(), issued.as_str());
    }
}
