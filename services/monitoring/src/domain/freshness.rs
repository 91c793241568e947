//! Whether a region's events are arriving, and how late they are.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A region's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Live,
    /// No event for longer than the threshold, since the given time.
    Silent,
    NeverHeard,
}

/// Live while the last event arrived within `threshold` of `now`.
pub fn status(last_received: Option<DateTime<Utc>>, now: DateTime<Utc>, threshold: Duration) -> Status {
    match last_received {
        None => Status::NeverHeard,
        Some(at) if (now - at).to_std().unwrap_or_default() > threshold => Status::Silent,
        Some(_) => Status::Live,
    }
}

/// The most recent lags of a region (event time to effect), for percentiles.
#[derive(Debug, Clone, Default)]
pub struct LagWindow {
    samples: VecDeque<f64>,
}

impl LagWindow {
    /// Samples kept.
    pub const SIZE: usize = 2_000;

    pub fn record(&mut self, seconds: f64) {
        if self.samples.len() == Self::SIZE {
            self.samples.pop_front();
        }
        self.samples.push_back(seconds.max(0.0));
    }

    /// The `q` quantile (0 to 1) of the window; 0 when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        let mut sorted: Vec<f64> = self.samples.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let index = ((sorted.len() - 1) as f64 * q).round() as usize;
        sorted[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_is_silent_after_the_threshold_not_zero() {
        let now: DateTime<Utc> = "2018-10-01T12:00:00Z".parse().unwrap();
        let hour = Duration::from_secs(3_600);
        assert_eq!(status(None, now, hour), Status::NeverHeard);
        assert_eq!(
            status(Some(now - chrono::Duration::minutes(5)), now, hour),
            Status::Live
        );
        assert_eq!(
            status(Some(now - chrono::Duration::hours(2)), now, hour),
            Status::Silent
        );
    }

    #[test]
    fn quantiles_of_the_recent_window() {
        let mut window = LagWindow::default();
        assert_eq!(window.quantile(0.5), 0.0);
        for second in 1..=100 {
            window.record(second as f64);
        }
        assert_eq!(window.quantile(0.5), 51.0);
        assert_eq!(window.quantile(0.99), 99.0);
        for _ in 0..LagWindow::SIZE {
            window.record(1.0);
        }
        assert_eq!(window.quantile(0.99), 1.0, "old samples age out");
    }
}
