//! Instants stored as text: RFC 3339 in UTC with microseconds, a fixed width
//! so that text order is time order on every backend.

use chrono::{DateTime, SecondsFormat, Timelike, Utc};

/// Formats an instant for storage.
pub fn format(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a stored instant. Stored text is written by [`format`], so a failure
/// means the database was edited by hand; it surfaces as a decode error.
pub fn parse(text: &str) -> Result<DateTime<Utc>, crate::StorageError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|err| crate::StorageError::Decode(format!("bad stored timestamp {text:?}: {err}")))
}

/// The current instant at the precision stored (microseconds), so a value
/// read back equals the value written.
pub fn now_utc() -> DateTime<Utc> {
    let now = Utc::now();
    now.with_nanosecond(now.timestamp_subsec_micros() * 1_000)
        .unwrap_or(now)
}

/// The current instant, formatted for storage.
pub fn now() -> String {
    format(Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_sorts_as_text() {
        let early: DateTime<Utc> = "2018-10-01T08:00:00Z".parse().unwrap();
        let late: DateTime<Utc> = "2018-10-01T08:00:00.5Z".parse().unwrap();
        assert_eq!(parse(&format(early)).unwrap(), early);
        assert!(format(early) < format(late));
        assert_eq!(format(early), "2018-10-01T08:00:00.000000Z");
    }
}
