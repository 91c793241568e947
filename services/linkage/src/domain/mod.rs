//! The linkage index's rules, no I/O:
//!
//! - what a region's match keys must look like to be indexed ([`KeyedHousehold`]);
//! - which pairs of households a new key set makes suspect ([`suspects`]);
//! - a duplicate's identity and how it may be resolved ([`Duplicate`], [`resolve`]);
//! - a move between regions and who continues it ([`transfer`]).

pub mod transfer;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use jigi_common::Region;

/// Which identifier matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchKind {
    IdCard,
    Head,
}

impl MatchKind {
    pub fn code(self) -> &'static str {
        match self {
            MatchKind::IdCard => "idcard",
            MatchKind::Head => "head",
        }
    }

    pub fn from_code(code: &str) -> Option<MatchKind> {
        match code {
            "idcard" => Some(MatchKind::IdCard),
            "head" => Some(MatchKind::Head),
            _ => None,
        }
    }
}

/// One match key as indexed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IndexedKey {
    pub key_id: String,
    pub kind: MatchKind,
    /// 64 lower-case hex digits.
    pub value: String,
}

/// A household's match keys, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyedHousehold {
    pub household_id: String,
    pub region: Region,
    pub version: i64,
    pub active: bool,
    pub keys: Vec<IndexedKey>,
}

/// Why a match-key message cannot be indexed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadKeys {
    #[error("household_id {0:?} is not a registry ID (a UUID)")]
    HouseholdId(String),
    #[error("key_id {0:?} is not a linkage key ID")]
    KeyId(String),
    #[error("a match key has an unknown kind {0}")]
    Kind(i32),
    #[error("a match key's value is not 64 lower-case hex digits")]
    Value,
    #[error("the message's subject names no region")]
    Region,
}

/// Checks the parts of a match-key message.
pub fn check_keys(
    household_id: &str,
    region: Option<Region>,
    version: i64,
    active: bool,
    keys: impl IntoIterator<Item = (String, Option<MatchKind>, i32, String)>,
) -> Result<KeyedHousehold, BadKeys> {
    if uuid::Uuid::parse_str(household_id).is_err() {
        return Err(BadKeys::HouseholdId(household_id.to_owned()));
    }
    let region = region.ok_or(BadKeys::Region)?;
    let mut checked = BTreeSet::new();
    for (key_id, kind, raw_kind, value) in keys {
        let ok_id = (1..=32).contains(&key_id.len())
            && key_id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !ok_id {
            return Err(BadKeys::KeyId(key_id));
        }
        let kind = kind.ok_or(BadKeys::Kind(raw_kind))?;
        if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(BadKeys::Value);
        }
        checked.insert(IndexedKey { key_id, kind, value });
    }
    Ok(KeyedHousehold {
        household_id: household_id.to_owned(),
        region,
        version,
        active,
        keys: checked.into_iter().collect(),
    })
}

/// Another household holding one of the keys, as the index found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub household_id: String,
    pub region: Region,
    pub key_id: String,
    pub value: String,
}

/// The households a new key set is suspected to duplicate, with what
/// matched. Keys are compared only under the same linkage key ID, so a
/// rotation (old and new keys side by side) never matches a key with itself.
pub fn suspects(household: &KeyedHousehold, holders: &[Holder]) -> BTreeMap<(String, Region), BTreeSet<MatchKind>> {
    let mut found: BTreeMap<(String, Region), BTreeSet<MatchKind>> = BTreeMap::new();
    if !household.active {
        return found;
    }
    for holder in holders {
        if holder.household_id == household.household_id {
            continue;
        }
        for key in &household.keys {
            if key.key_id == holder.key_id && key.value == holder.value {
                found
                    .entry((holder.household_id.clone(), holder.region))
                    .or_default()
                    .insert(key.kind);
            }
        }
    }
    found
}

/// One household of a duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    pub household_id: String,
    pub region: Region,
}

/// What a registrar found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The same person in both: one household exits, the other is kept.
    SamePerson,
    /// A household that moved: it exits in the origin and continues in the destination (kept).
    Moved,
    /// Different people: never flagged again.
    DifferentPeople,
}

impl Resolution {
    pub fn code(self) -> &'static str {
        match self {
            Resolution::SamePerson => "same_person",
            Resolution::Moved => "moved",
            Resolution::DifferentPeople => "different_people",
        }
    }

    pub fn from_code(code: &str) -> Option<Resolution> {
        match code {
            "same_person" => Some(Resolution::SamePerson),
            "moved" => Some(Resolution::Moved),
            "different_people" => Some(Resolution::DifferentPeople),
            _ => None,
        }
    }
}

/// A suspected duplicate: two households, in household-ID order.
#[derive(Debug, Clone, PartialEq)]
pub struct Duplicate {
    pub duplicate_id: String,
    pub first: Side,
    pub second: Side,
    pub matched: BTreeSet<MatchKind>,
    pub suspected_at: DateTime<Utc>,
    pub resolution: Option<Resolved>,
    /// Quarters both households were paid for.
    pub double_payments: Vec<DoublePayment>,
}

/// Both households of a duplicate paid for the same quarter; a payment's
/// ID is `<cycle_id>/<household_id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoublePayment {
    pub period: String,
    pub first_payment_id: String,
    pub second_payment_id: String,
}

/// How and when a duplicate was resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub resolution: Resolution,
    /// For a same person or a move: the household kept.
    pub kept_household_id: Option<String>,
    pub resolved_at: DateTime<Utc>,
}

impl Duplicate {
    /// A new suspicion between two households, named in order.
    pub fn suspected(a: Side, b: Side, matched: BTreeSet<MatchKind>, at: DateTime<Utc>) -> Duplicate {
        let (first, second) = if a.household_id <= b.household_id {
            (a, b)
        } else {
            (b, a)
        };
        Duplicate {
            duplicate_id: duplicate_id(&first.household_id, &second.household_id),
            first,
            second,
            matched,
            suspected_at: at,
            resolution: None,
            double_payments: Vec::new(),
        }
    }

    pub fn is_open(&self) -> bool {
        self.resolution.is_none()
    }

    /// The regions concerned, each once.
    pub fn regions(&self) -> Vec<Region> {
        if self.first.region == self.second.region {
            vec![self.first.region]
        } else {
            vec![self.first.region, self.second.region]
        }
    }
}

/// `<first>~<second>`: the pair's ID, the same whichever household came first.
pub fn duplicate_id(a: &str, b: &str) -> String {
    if a <= b { format!("{a}~{b}") } else { format!("{b}~{a}") }
}

/// Checks a duplicate ID: two UUIDs in order.
pub fn parse_duplicate_id(text: &str) -> Result<(), String> {
    let Some((a, b)) = text.split_once('~') else {
        return Err("is not <household>~<household>".into());
    };
    if uuid::Uuid::parse_str(a).is_err() || uuid::Uuid::parse_str(b).is_err() || a >= b {
        return Err("is not two household IDs in order, joined by ~".into());
    }
    Ok(())
}

/// Why a resolution is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("kept_household_id is required for this resolution: one of the two households")]
    KeptRequired,
    #[error("kept_household_id {0} is not one of the duplicate's two households")]
    KeptNotInPair(String),
    #[error("kept_household_id is for a same person or a move, not for different people")]
    KeptNotExpected,
    #[error("the duplicate was already resolved as {0}")]
    AlreadyResolved(&'static str),
}

/// Resolves a duplicate. Resolving it again the same way changes nothing;
/// another way is refused (a resolution is a decision, corrected by hand).
pub fn resolve(
    duplicate: &Duplicate,
    resolution: Resolution,
    kept: &str,
    at: DateTime<Utc>,
) -> Result<Option<Resolved>, Refusal> {
    let kept = match (resolution, kept.trim()) {
        (Resolution::DifferentPeople, "") => None,
        (Resolution::DifferentPeople, _) => return Err(Refusal::KeptNotExpected),
        (_, "") => return Err(Refusal::KeptRequired),
        (_, id) if id == duplicate.first.household_id || id == duplicate.second.household_id => Some(id.to_owned()),
        (_, id) => return Err(Refusal::KeptNotInPair(id.to_owned())),
    };
    match &duplicate.resolution {
        Some(done) if done.resolution == resolution && done.kept_household_id == kept => Ok(None),
        Some(done) => Err(Refusal::AlreadyResolved(done.resolution.code())),
        None => Ok(Some(Resolved {
            resolution,
            kept_household_id: kept,
            resolved_at: at,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0190a000-0000-7000-8000-000000000001";
    const B: &str = "0190a000-0000-7000-8000-000000000002";
    const C: &str = "0190a000-0000-7000-8000-000000000003";

    fn value(n: u8) -> String {
        format!("{n:02x}").repeat(32)
    }

    fn keyed(id: &str, keys: &[(&str, MatchKind, u8)]) -> KeyedHousehold {
        KeyedHousehold {
            household_id: id.into(),
            region: Region::Sikasso,
            version: 1,
            active: true,
            keys: keys
                .iter()
                .map(|(key_id, kind, n)| IndexedKey {
                    key_id: (*key_id).into(),
                    kind: *kind,
                    value: value(*n),
                })
                .collect(),
        }
    }

    fn holder(id: &str, key_id: &str, n: u8) -> Holder {
        Holder {
            household_id: id.into(),
            region: Region::Mopti,
            key_id: key_id.into(),
            value: value(n),
        }
    }

    #[test]
    fn same_key_in_another_household_is_suspect() {
        let h = keyed(A, &[("k1", MatchKind::IdCard, 1), ("k1", MatchKind::Head, 2)]);
        let found = suspects(
            &h,
            &[
                holder(B, "k1", 1),
                holder(B, "k1", 2),
                holder(A, "k1", 1),
                holder(C, "k1", 9),
            ],
        );
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[&(B.to_owned(), Region::Mopti)],
            BTreeSet::from([MatchKind::IdCard, MatchKind::Head])
        );
    }

    #[test]
    fn keys_of_other_linkage_keys_never_match() {
        let h = keyed(A, &[("k2", MatchKind::IdCard, 1)]);
        assert!(suspects(&h, &[holder(B, "k1", 1)]).is_empty());
        let mut gone = keyed(A, &[("k1", MatchKind::IdCard, 1)]);
        gone.active = false;
        assert!(suspects(&gone, &[holder(B, "k1", 1)]).is_empty());
    }

    #[test]
    fn a_pair_has_one_id_whichever_comes_first() {
        let side = |id: &str, region| Side {
            household_id: id.into(),
            region,
        };
        let now = Utc::now();
        let d = Duplicate::suspected(side(B, Region::Mopti), side(A, Region::Sikasso), BTreeSet::new(), now);
        assert_eq!(d.duplicate_id, format!("{A}~{B}"));
        assert_eq!(d.first.region, Region::Sikasso);
        assert_eq!(d.regions(), [Region::Sikasso, Region::Mopti]);
        assert!(parse_duplicate_id(&d.duplicate_id).is_ok());
        assert!(parse_duplicate_id(&format!("{B}~{A}")).is_err());
        assert!(parse_duplicate_id("x").is_err());
    }

    #[test]
    fn resolutions() {
        let side = |id: &str| Side {
            household_id: id.into(),
            region: Region::Mopti,
        };
        let now = Utc::now();
        let mut d = Duplicate::suspected(side(A), side(B), BTreeSet::new(), now);
        assert_eq!(resolve(&d, Resolution::Moved, "", now), Err(Refusal::KeptRequired));
        assert_eq!(
            resolve(&d, Resolution::Moved, C, now),
            Err(Refusal::KeptNotInPair(C.into()))
        );
        assert_eq!(
            resolve(&d, Resolution::DifferentPeople, A, now),
            Err(Refusal::KeptNotExpected)
        );
        let done = resolve(&d, Resolution::Moved, B, now).unwrap().unwrap();
        assert_eq!(done.kept_household_id.as_deref(), Some(B));
        d.resolution = Some(done);
        assert_eq!(resolve(&d, Resolution::Moved, B, now), Ok(None));
        assert_eq!(
            resolve(&d, Resolution::DifferentPeople, "", now),
            Err(Refusal::AlreadyResolved("moved"))
        );
    }

    #[test]
    fn bad_keys_are_named() {
        let key = |id: &str, v: String| (id.to_owned(), Some(MatchKind::IdCard), 1, v);
        assert!(check_keys(A, Some(Region::Gao), 1, true, [key("k1", value(1))]).is_ok());
        assert_eq!(
            check_keys("x", Some(Region::Gao), 1, true, []),
            Err(BadKeys::HouseholdId("x".into()))
        );
        assert_eq!(check_keys(A, None, 1, true, []), Err(BadKeys::Region));
        assert_eq!(
            check_keys(A, Some(Region::Gao), 1, true, [key("K 1", value(1))]),
            Err(BadKeys::KeyId("K 1".into()))
        );
        assert_eq!(
            check_keys(A, Some(Region::Gao), 1, true, [key("k1", "ML12345678".into())]),
            Err(BadKeys::Value)
        );
        assert_eq!(
            check_keys(A, Some(Region::Gao), 1, true, [("k1".into(), None, 7, value(1))]),
            Err(BadKeys::Kind(7))
        );
    }
}
