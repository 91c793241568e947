//! The index: applies the regions' match keys through the inbox, a batch
//! per transaction, and opens a suspicion (with its messages in the outbox,
//! in the same transaction) the moment a key is seen in two households.

use std::collections::HashMap;

use jigi_bus::inbox::{Decoded, EventHandler, EventMeta, Rejection};
use jigi_bus::outbox;
use jigi_bus::{ReceivedEvent, linkage};
use jigi_proto::linkage as pl;
use jigi_storage::{Conn, StorageError};
use prost::Message as _;

use crate::domain::{self, Duplicate, KeyedHousehold, MatchKind, Side};
use crate::metrics::LinkageMetrics;
use crate::{events, storage};

/// The inbox handler of `JIGI_LINKAGE`.
pub struct KeyIndex {
    metrics: LinkageMetrics,
}

impl KeyIndex {
    pub fn new(metrics: LinkageMetrics) -> KeyIndex {
        KeyIndex { metrics }
    }
}

impl EventHandler for KeyIndex {
    type Effect = KeyedHousehold;

    fn decode(&self, event: &ReceivedEvent) -> Result<Option<KeyedHousehold>, Rejection> {
        if event.ce_type != linkage::HOUSEHOLD_KEYED.ce_type() {
            return Ok(None);
        }
        let message = pl::HouseholdKeyed::decode(event.data.clone())
            .map_err(|err| Rejection(format!("HouseholdKeyed does not decode: {err}")))?;
        // The region is the subject's, which only that region's leaf may
        // publish (deploy/nats/gen-accounts): a region cannot speak for another.
        let region = event.subject.split('.').nth(1).and_then(|slug| slug.parse().ok());
        let keys = message.keys.into_iter().map(|key| {
            let kind = match pl::MatchKind::try_from(key.kind) {
                Ok(pl::MatchKind::IdCard) => Some(MatchKind::IdCard),
                Ok(pl::MatchKind::Head) => Some(MatchKind::Head),
                _ => None,
            };
            (key.key_id, kind, key.kind, key.value)
        });
        domain::check_keys(&message.household_id, region, message.version, message.active, keys)
            .map(Some)
            .map_err(|err| Rejection(err.to_string()))
    }

    fn apply(&self, conn: &mut Conn, events: &[Decoded<KeyedHousehold>]) -> Result<(), StorageError> {
        // Within a batch, only a household's newest set counts.
        let mut newest: HashMap<&str, usize> = HashMap::new();
        for (at, event) in events.iter().enumerate() {
            newest.insert(event.effect.household_id.as_str(), at);
        }
        for (at, event) in events.iter().enumerate() {
            let household = &event.effect;
            if newest[household.household_id.as_str()] != at {
                continue;
            }
            if storage::indexed_version(conn, &household.household_id)?.is_some_and(|v| v > household.version) {
                continue;
            }
            storage::replace_keys(conn, household)?;
            let holders = storage::holders(conn, household)?;
            for ((other, region), matched) in domain::suspects(household, &holders) {
                let me = Side {
                    household_id: household.household_id.clone(),
                    region: household.region,
                };
                let them = Side {
                    household_id: other,
                    region,
                };
                let duplicate = Duplicate::suspected(me, them, matched, chrono::Utc::now());
                // A pair once suspected is never suspected again: open, or
                // resolved (different people stay different).
                if storage::duplicate(conn, &duplicate.duplicate_id)?.is_some() {
                    continue;
                }
                storage::insert_duplicate(conn, &duplicate)?;
                outbox::add(conn, &events::suspected(&duplicate))?;
                self.metrics.duplicates_suspected.inc();
                // A late match (a region cut off from the hub went on
                // registering and paying): both may have been paid already.
                report_double_payments(
                    &self.metrics,
                    &duplicate,
                    storage::find_double_payments(conn, &duplicate)?,
                );
                tracing::info!(
                    duplicate_id = %duplicate.duplicate_id,
                    first_region = duplicate.first.region.slug(),
                    second_region = duplicate.second.region.slug(),
                    "duplicate suspected"
                );
            }
        }
        Ok(())
    }

    fn committed(&self, events: &[EventMeta]) {
        let now = chrono::Utc::now();
        for event in events {
            self.metrics.households_indexed.inc();
            let lag = (now - event.time).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6;
            self.metrics.index_lag.observe(lag);
        }
    }
}

/// Logs and counts possible double payments just found.
pub(crate) fn report_double_payments(
    metrics: &LinkageMetrics,
    duplicate: &Duplicate,
    found: Vec<crate::domain::DoublePayment>,
) {
    for double in found {
        metrics.double_payments.inc();
        tracing::warn!(
            duplicate_id = %duplicate.duplicate_id,
            period = %double.period,
            first_payment_id = %double.first_payment_id,
            second_payment_id = %double.second_payment_id,
            "possible double payment: both households of a suspected duplicate were paid for the quarter"
        );
    }
}
