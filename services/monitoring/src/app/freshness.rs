//! How fresh each region's figures are.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use jigi_common::Region;
use jigi_server::CommandError;
use jigi_storage::Conn;

use super::Monitoring;
use crate::domain::freshness::{self, Status};
use crate::storage::activity::{self, Activity};

/// How fresh a region is.
#[derive(Debug, Clone, PartialEq)]
pub struct Freshness {
    pub region: Region,
    pub status: Status,
    pub last_received_at: Option<DateTime<Utc>>,
    pub last_event_time: Option<DateTime<Utc>>,
    /// Seconds from an event's time to the commit that made its facts
    /// visible, over the region's recent events.
    pub lag_p50: f64,
    pub lag_p99: f64,
    pub events_received: i64,
}

impl Monitoring {
    /// Freshness of every region the monitoring reads.
    pub async fn freshness(&self) -> Result<Vec<Freshness>, CommandError> {
        let this = self.clone();
        self.db.read(move |conn| this.freshness_in(conn)).await
    }

    /// Every region's freshness, from what the database says of its
    /// activity and the lags the consumer measured.
    pub(super) fn freshness_in(&self, conn: &mut Conn) -> Result<Vec<Freshness>, CommandError> {
        Ok(self.freshness_of(&activity::all(conn)?, Utc::now()))
    }

    fn freshness_of(&self, known: &BTreeMap<String, Activity>, now: DateTime<Utc>) -> Vec<Freshness> {
        // A copy, so the consumer never waits while percentiles are sorted.
        let lags = self.lags.lock().expect("lag lock").clone();
        self.regions
            .iter()
            .map(|region| {
                let activity = known.get(region.slug());
                let window = lags.get(region.slug());
                let quantile = |q: f64| window.map_or(0.0, |window| window.quantile(q));
                Freshness {
                    region: *region,
                    status: freshness::status(activity.map(|a| a.last_received_at), now, self.silence),
                    last_received_at: activity.map(|a| a.last_received_at),
                    last_event_time: activity.map(|a| a.last_event_time),
                    lag_p50: quantile(0.5),
                    lag_p99: quantile(0.99),
                    events_received: activity.map_or(0, |a| a.events_received),
                }
            })
            .collect()
    }
}
