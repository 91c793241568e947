//! Subject and stream names.
//!
//! Subjects are `jigi.<region>.<service>.<entity>.<event>`: lower-case ASCII
//! tokens, so a subscriber can filter by region (`jigi.sikasso.>`), by
//! service (`jigi.*.payments.>`) or by event (`jigi.*.registry.household.enrolled`).

use jigi_common::Region;

/// First token of every Jigi subject.
pub const ROOT: &str = "jigi";

/// The national stream: sources every regional stream, has no subjects of its own.
pub const NATIONAL_STREAM: &str = "JIGI_NATIONAL";

/// The subject of an event.
pub fn event_subject(region: Region, service: &str, entity: &str, event: &str) -> String {
    format!("{ROOT}.{}.{service}.{entity}.{event}", region.slug())
}

/// Everything a region publishes: `jigi.<region>.>`.
pub fn region_wildcard(region: Region) -> String {
    format!("{ROOT}.{}.>", region.slug())
}

/// Everything one service of a region publishes: `jigi.<region>.<service>.>`.
pub fn service_wildcard(region: Region, service: &str) -> String {
    format!("{ROOT}.{}.{service}.>", region.slug())
}

/// The stream of a region: `JIGI_<REGION>`.
pub fn region_stream(region: Region) -> String {
    format!("JIGI_{}", region.slug().to_ascii_uppercase())
}

/// The region of a Jigi subject, from its second token.
pub fn region_of_subject(subject: &str) -> Option<Region> {
    let mut tokens = subject.split('.');
    (tokens.next()? == ROOT).then_some(())?;
    tokens.next()?.parse().ok()
}

/// Whether `token` may appear in a subject: lower-case ASCII letters, digits
/// and `_` (no dots, wildcards or spaces).
pub fn is_valid_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_design() {
        assert_eq!(
            event_subject(Region::Sikasso, "registry", "household", "registered"),
            "jigi.sikasso.registry.household.registered"
        );
        assert_eq!(region_wildcard(Region::Segou), "jigi.segou.>");
        assert_eq!(region_stream(Region::Tombouctou), "JIGI_TOMBOUCTOU");
        assert_eq!(
            region_of_subject("jigi.mopti.payments.payment.made"),
            Some(Region::Mopti)
        );
        assert_eq!(region_of_subject("other.mopti.x"), None);
        assert!(is_valid_token("household"));
        assert!(!is_valid_token("house.hold"));
        assert!(!is_valid_token("*"));
        assert!(!is_valid_token("Household"));
    }
}
