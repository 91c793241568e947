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
    /// The national stream position of the region's newest event applied.
    pub stream_sequence: u64,
}

/// How far into the national stream an answer's figures go.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AsOf {
    /// When the consumer last committed a batch (since the service started).
    pub applied_at: Option<DateTime<Utc>>,
    /// The national stream position applied.
    pub stream_sequence: u64,
    /// Events of the stream not applied yet, as of the last batch.
    pub events_waiting: u64,
}

/// Figures with how fresh they are, read in one snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Fresh<T> {
    pub value: T,
    pub freshness: Vec<Freshness>,
    pub as_of: AsOf,
}

impl Monitoring {
    /// Freshness of every region the monitoring reads.
    pub async fn freshness(&self) -> Result<Fresh<()>, CommandError> {
        let this = self.clone();
        self.db.read(move |conn| this.fresh(conn, ())).await
    }

    /// `value` with the freshness of every region and how far into the
    /// national stream the snapshot `conn` reads goes.
    pub(super) fn fresh<T>(&self, conn: &mut Conn, value: T) -> Result<Fresh<T>, CommandError> {
        let freshness = self.freshness_in(conn)?;
        let stream_sequence = jigi_bus::inbox::applied_position(conn, crate::CONSUMER)?;
        let (applied_at, events_waiting) = match &self.consumer {
            Some(stats) => (stats.applied_at(), stats.pending()),
            None => (None, 0),
        };
        Ok(Fresh {
            value,
            freshness,
            as_of: AsOf {
                applied_at,
                stream_sequence,
                events_waiting,
            },
        })
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
                    stream_sequence: activity.map_or(0, |a| a.stream_sequence),
                }
            })
            .collect()
    }
}
