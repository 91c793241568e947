//! The national linkage index's findings about this region's households,
//! applied through the inbox: a suspected duplicate holds the household out
//! of the next freeze until the duplicate is resolved.

use jigi_bus::{Decoded, EventHandler, ReceivedEvent, Rejection, linkage};
use jigi_common::Region;
use jigi_proto::linkage as pl;
use jigi_storage::{Conn, StorageError};
use prost::Message as _;

use super::Payments;
use crate::storage::holds::{self, Held};

/// What a finding changes here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldChange {
    /// Hold these households of the region (each with the other side).
    Hold {
        duplicate_id: String,
        holds: Vec<(String, String, String)>,
    },
    /// Lift the duplicate's holds.
    Release { duplicate_id: String },
}

/// The inbox handler of the region's copy of `JIGI_DUPLICATES`.
#[derive(Debug, Clone, Copy)]
pub struct DuplicateHolds {
    pub region: Region,
}

impl EventHandler for DuplicateHolds {
    type Effect = HoldChange;

    fn decode(&self, event: &ReceivedEvent) -> Result<Option<HoldChange>, Rejection> {
        let duplicate = if event.ce_type == linkage::DUPLICATE_SUSPECTED.ce_type() {
            pl::DuplicateSuspected::decode(event.data.clone())
                .map_err(|err| Rejection(format!("DuplicateSuspected does not decode: {err}")))?
                .duplicate
        } else if event.ce_type == linkage::DUPLICATE_RESOLVED.ce_type() {
            let resolved = pl::DuplicateResolved::decode(event.data.clone())
                .map_err(|err| Rejection(format!("DuplicateResolved does not decode: {err}")))?;
            let id = resolved.duplicate.map(|d| d.duplicate_id).unwrap_or_default();
            if id.is_empty() {
                return Err(Rejection("a resolution names no duplicate".into()));
            }
            return Ok(Some(HoldChange::Release { duplicate_id: id }));
        } else {
            return Ok(None);
        };
        let duplicate = duplicate.ok_or_else(|| Rejection("a suspicion names no duplicate".into()))?;
        let (Some(first), Some(second)) = (duplicate.first, duplicate.second) else {
            return Err(Rejection("a suspicion names fewer than two households".into()));
        };
        let mine = self.region.slug();
        let mut found = Vec::new();
        for (this, other) in [(&first, &second), (&second, &first)] {
            if this.region == mine {
                found.push((
                    this.household_id.clone(),
                    other.household_id.clone(),
                    other.region.clone(),
                ));
            }
        }
        Ok(Some(HoldChange::Hold {
            duplicate_id: duplicate.duplicate_id,
            holds: found,
        }))
    }

    fn apply(&self, conn: &mut Conn, events: &[Decoded<HoldChange>]) -> Result<(), StorageError> {
        for event in events {
            match &event.effect {
                HoldChange::Hold { duplicate_id, holds } => {
                    for (household, other, other_region) in holds {
                        holds::hold(conn, household, duplicate_id, other, other_region)?;
                    }
                }
                HoldChange::Release { duplicate_id } => holds::release(conn, duplicate_id)?,
            }
        }
        Ok(())
    }
}

impl Payments {
    /// The households a cycle's freeze held, with the reason.
    pub async fn held(&self, cycle_id: &str) -> Result<Vec<Held>, jigi_server::CommandError> {
        super::check_cycle_id(cycle_id)?;
        let cycle_id = cycle_id.to_owned();
        Ok(self.db.read(move |conn| holds::cycle_holds(conn, &cycle_id)).await?)
    }

    /// Households held now (open suspicions), for tests and operators.
    pub async fn holds_open(&self) -> Result<i64, StorageError> {
        self.db
            .read(|conn| conn.query_scalar("SELECT COUNT(DISTINCT household_id) FROM linkage_holds", &[]))
            .await
    }
}

/// The region's copy of the index's findings about it, on its leaf node:
/// `JIGI_DUPS_<REGION>`, sourcing `JIGI_DUPLICATES` filtered to
/// `jigidup.<region>.>` from the hub's JetStream domain (`hub_domain`), or
/// from the same server when `None`. Kept at the leaf, so a freeze during a
/// cut link still holds what was known before the cut.
pub fn region_duplicates_stream(region: Region, hub_domain: Option<&str>) -> async_nats::jetstream::stream::Config {
    use async_nats::jetstream::stream;
    stream::Config {
        name: format!("JIGI_DUPS_{}", region.slug().to_ascii_uppercase()),
        description: Some(format!(
            "Suspected duplicates concerning {} (restricted)",
            region.name()
        )),
        subjects: Vec::new(),
        storage: stream::StorageType::File,
        duplicate_window: jigi_bus::streams::DUPLICATE_WINDOW,
        sources: Some(vec![stream::Source {
            name: linkage::DUPLICATES_STREAM.to_owned(),
            filter_subject: Some(format!("{}.{}.>", linkage::DUP_ROOT, region.slug())),
            external: hub_domain.map(|domain| stream::External {
                api_prefix: format!("$JS.{domain}.API"),
                delivery_prefix: Some(linkage::dup_delivery_prefix(region)),
            }),
            ..Default::default()
        }]),
        ..Default::default()
    }
}
