//! A region's link to the capital, as the national stream sees it: the
//! hub's copy of the region's stream (a JetStream source) hears from the
//! region's leaf node at least every second while the link is up, so a
//! source silent for a few seconds is a cut link — whether or not the
//! region has anything to send.

use std::time::Duration;

use jigi_common::Region;

/// Whether a region's link is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    /// Heard from within the threshold.
    Up,
    /// Silent for longer than the threshold, or no longer heard at all.
    Cut,
    /// The national stream has no source for the region yet (never linked,
    /// or the stream does not exist yet).
    Unknown,
}

impl LinkStatus {
    /// The status of a source last heard from `last_contact` ago (`None`:
    /// the hub reports no contact), `down_after` being the threshold.
    pub fn of(last_contact: Option<Duration>, down_after: Duration) -> LinkStatus {
        match last_contact {
            Some(age) if age <= down_after => LinkStatus::Up,
            _ => LinkStatus::Cut,
        }
    }

    /// The CSS class and metric value of the status.
    pub fn class(self) -> &'static str {
        match self {
            LinkStatus::Up => "up",
            LinkStatus::Cut => "cut",
            LinkStatus::Unknown => "unknown",
        }
    }
}

/// A region's link, as last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    pub region: Region,
    pub status: LinkStatus,
    /// How long ago the hub last heard from the region's source.
    pub last_contact: Option<Duration>,
    /// Events in the region's stream the national stream has not copied yet.
    pub waiting: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_silent_past_the_threshold_is_cut() {
        let threshold = Duration::from_secs(5);
        assert_eq!(
            LinkStatus::of(Some(Duration::from_millis(800)), threshold),
            LinkStatus::Up
        );
        assert_eq!(LinkStatus::of(Some(Duration::from_secs(5)), threshold), LinkStatus::Up);
        assert_eq!(LinkStatus::of(Some(Duration::from_secs(6)), threshold), LinkStatus::Cut);
        assert_eq!(LinkStatus::of(None, threshold), LinkStatus::Cut);
    }
}
