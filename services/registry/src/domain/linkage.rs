//! Match keys: keyed pseudonyms of a person's identifiers, so the national
//! linkage index can find the same person registered in two regions without
//! any name, ID-card number or birth date leaving the region.
//!
//! The normalisation and the keying are a specification other systems may
//! implement (docs/linkage.md states it in words); the tests below are its
//! reference vectors. In short:
//!
//! - an ID-card number: keep ASCII letters and digits only, upper case
//!   (`"ab-123 456.78"` → `AB12345678`); message `idcard:AB12345678`;
//! - a household head: family name and given name each folded
//!   ([`fold_name`]: lower case, accents and Bambara letters to ASCII,
//!   any run of other characters one space, trimmed), birth date ISO 8601;
//!   message `head:<family>|<given>|<YYYY-MM-DD>` (`head:traore|awa|1975-03-02`).
//!   The village is left out on purpose: a household that moved lives elsewhere;
//! - the key: HMAC-SHA-256 of the message's UTF-8 bytes with the linkage
//!   key's secret, written as 64 lower-case hex digits, tagged with the
//!   linkage key's `key_id`. Keys of different `key_id`s are never compared.
//!
//! The secret is held by the regional registries only: without it the
//! national side cannot recompute a key from a guessed (short) ID number.

use chrono::NaiveDate;
use hmac::{Hmac, KeyInit, Mac};
use sha2_next::Sha256;

use super::identity::fold_name;
use super::model::{Household, IdCardNumber, Member};

/// Shortest secret accepted: 32 bytes, the HMAC-SHA-256 block's half.
pub const MIN_SECRET_BYTES: usize = 32;

/// A programme linkage key: its public ID and its secret.
#[derive(Clone)]
pub struct LinkageKey {
    key_id: KeyId,
    secret: Vec<u8>,
}

/// The public name of a linkage key, e.g. `2026-1`: lower-case ASCII
/// letters, digits, `-` and `_`, 1 to 32 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    pub fn parse(text: &str) -> Result<KeyId, LinkageKeyError> {
        let ok = (1..=32).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(KeyId(text.to_owned()))
        } else {
            Err(LinkageKeyError::KeyId(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a linkage key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkageKeyError {
    #[error("linkage key ID {0:?} must be 1 to 32 lower-case letters, digits, '-' or '_'")]
    KeyId(String),
    #[error("the secret of linkage key {0} is not hex")]
    NotHex(String),
    #[error("the secret of linkage key {0} is shorter than {MIN_SECRET_BYTES} bytes")]
    TooShort(String),
    #[error("linkage key {0} is given twice")]
    Repeated(String),
    #[error("line {0} of the linkage key file is not `<key_id> <hex secret>`")]
    Line(usize),
}

impl LinkageKey {
    /// A key from its ID and its secret in hex (at least 32 bytes).
    pub fn new(key_id: &str, secret_hex: &str) -> Result<LinkageKey, LinkageKeyError> {
        let key_id = KeyId::parse(key_id)?;
        let secret = hex::decode(secret_hex.trim()).map_err(|_| LinkageKeyError::NotHex(key_id.0.clone()))?;
        if secret.len() < MIN_SECRET_BYTES {
            return Err(LinkageKeyError::TooShort(key_id.0));
        }
        Ok(LinkageKey { key_id, secret })
    }

    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// HMAC-SHA-256 of `message` under this key, in lower-case hex.
    fn sign(&self, message: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes a key of any length");
        mac.update(message.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl std::fmt::Debug for LinkageKey {
    // Never the secret, in a log or a panic message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkageKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The active keys, read from a file of `<key_id> <hex secret>` lines
/// (blank lines and `#` comments ignored). During a rotation the file lists
/// the old and the new key: every match key is computed with both.
pub fn parse_key_file(text: &str) -> Result<Vec<LinkageKey>, LinkageKeyError> {
    let mut keys: Vec<LinkageKey> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(key_id), Some(secret), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(LinkageKeyError::Line(number + 1));
        };
        let key = LinkageKey::new(key_id, secret)?;
        if keys.iter().any(|k| k.key_id == key.key_id) {
            return Err(LinkageKeyError::Repeated(key.key_id.0));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// Which identifier a match key was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// A national ID-card number.
    IdCard,
    /// A household head's folded names and birth date.
    Head,
}

impl KeyKind {
    pub fn code(self) -> &'static str {
        match self {
            KeyKind::IdCard => "idcard",
            KeyKind::Head => "head",
        }
    }
}

/// One keyed pseudonym of one person.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MatchKey {
    pub key_id: KeyId,
    pub kind: KeyKind,
    /// The member it was computed from (a registry ID, not personal data).
    pub member_id: String,
    /// HMAC-SHA-256, 64 lower-case hex digits.
    pub value: String,
}

/// The ID-card number as keyed: ASCII letters and digits only, upper case.
pub fn normalise_id_card(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The message keyed for an ID-card number.
pub fn id_card_message(card: &IdCardNumber) -> String {
    format!("idcard:{}", normalise_id_card(card.as_str()))
}

/// The message keyed for a household head.
pub fn head_message(given: &str, family: &str, birth_date: NaiveDate) -> String {
    format!(
        "head:{}|{}|{}",
        fold_name(family),
        fold_name(given),
        birth_date.format("%Y-%m-%d")
    )
}

/// Every match key of a household, with every active key: each member's
/// ID card, and the head's names and birth date. Members who left or died
/// keep their keys: a person who left a household in Mopti and is
/// registered in Sikasso is exactly what the index must see.
pub fn match_keys(household: &Household, keys: &[LinkageKey]) -> Vec<MatchKey> {
    let mut found = Vec::new();
    for key in keys {
        for member in &household.members {
            found.extend(member_keys(member, key));
        }
    }
    found.sort();
    found.dedup();
    found
}

fn member_keys(member: &Member, key: &LinkageKey) -> Vec<MatchKey> {
    let mut found = Vec::with_capacity(2);
    let mut push = |kind, message: String| {
        found.push(MatchKey {
            key_id: key.key_id.clone(),
            kind,
            member_id: member.member_id.clone(),
            value: key.sign(&message),
        })
    };
    if let Some(card) = &member.id_card {
        push(KeyKind::IdCard, id_card_message(card));
    }
    if member.is_head() {
        push(
            KeyKind::Head,
            head_message(
                member.given_name.as_str(),
                member.family_name.as_str(),
                member.birth_date,
            ),
        );
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn key() -> LinkageKey {
        LinkageKey::new("2026-1", SECRET).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn spelling_variants_of_a_head_give_one_key() {
        let born = date(1975, 3, 2);
        let reference = head_message("Awa", "Traoré", born);
        assert_eq!(reference, "head:traore|awa|1975-03-02");
        for (given, family) in [
            ("AWA", "TRAORE"),
            ("awa ", "  Traore"),
            ("Awa", "Tra-oré"),
            ("Awa.", "TRAORÉ"),
        ] {
            let message = head_message(given, family, born);
            // "Tra-oré" folds to "tra ore": punctuation separates words, it is not erased.
            if family == "Tra-oré" {
                assert_eq!(message, "head:tra ore|awa|1975-03-02");
                continue;
            }
            assert_eq!(key().sign(&message), key().sign(&reference), "{given} {family}");
        }
        assert_eq!(
            head_message("Mamadou  Lamine", "Dembélé", born),
            head_message("mamadou lamine", "DEMBELE", born)
        );
    }

    #[test]
    fn equal_names_with_other_birth_dates_do_not_match() {
        let a = key().sign(&head_message("Awa", "Traoré", date(1975, 3, 2)));
        let b = key().sign(&head_message("Awa", "Traoré", date(1975, 3, 3)));
        assert_ne!(a, b);
        // Given and family names are not interchangeable.
        assert_ne!(
            head_message("Traoré", "Awa", date(1975, 3, 2)),
            head_message("Awa", "Traoré", date(1975, 3, 2))
        );
    }

    #[test]
    fn id_card_numbers_are_normalised_before_keying() {
        assert_eq!(normalise_id_card("ab-123 456.78"), "AB12345678");
        let card = |text| id_card_message(&IdCardNumber::parse(text).unwrap());
        assert_eq!(card("ml 1234-5678"), "idcard:ML12345678");
        assert_eq!(key().sign(&card("ML12345678")), key().sign(&card("ml-1234 5678")));
    }

    #[test]
    fn reference_vectors() {
        // HMAC-SHA-256 as any implementation computes it (checked with
        // `printf '%s' 'idcard:ML12345678' | openssl dgst -sha256 -mac HMAC -macopt hexkey:<SECRET>`).
        assert_eq!(
            key().sign("idcard:ML12345678"),
            "f03b528993bd380b9bebb867f527e1b34b5561e538362be086856ff4faa7e345"
        );
        assert_eq!(
            key().sign("head:traore|awa|1975-03-02"),
            "bdc46b37414644e34224a753e8634f47c84a7190f319c59dd50dbd6704b004e5"
        );
    }

    #[test]
    fn another_key_gives_other_values() {
        let other = LinkageKey::new("2026-2", &SECRET.replace("00", "ff")).unwrap();
        assert_ne!(key().sign("idcard:ML12345678"), other.sign("idcard:ML12345678"));
    }

    #[test]
    fn key_files_and_bad_keys() {
        let keys = parse_key_file(&format!(
            "# rotation\n2026-1 {SECRET}\n\n2026-2 {}\n",
            SECRET.replace("00", "ff")
        ))
        .unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[1].key_id().as_str(), "2026-2");
        assert!(
            !format!("{:?}", keys[0]).contains("0001"),
            "the secret is never printed"
        );
        assert_eq!(
            parse_key_file(&format!("a {SECRET}\na {SECRET}")).unwrap_err(),
            LinkageKeyError::Repeated("a".into())
        );
        assert_eq!(parse_key_file("a").unwrap_err(), LinkageKeyError::Line(1));
        assert_eq!(
            LinkageKey::new("a", "00ff").unwrap_err(),
            LinkageKeyError::TooShort("a".into())
        );
        assert_eq!(
            LinkageKey::new("a", "zz").unwrap_err(),
            LinkageKeyError::NotHex("a".into())
        );
        assert!(matches!(LinkageKey::new("A B", SECRET), Err(LinkageKeyError::KeyId(_))));
    }
}
