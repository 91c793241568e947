//! The restricted linkage subjects and streams: match keys from the regions
//! to the national linkage index, and the index's findings back to the
//! regions. Outside `jigi.>` on purpose: the regional streams (`jigi.<region>.>`),
//! hence the national stream, the JSON mirror and the partners' feeds,
//! never capture them, and the hub's permissions (`deploy/nats/gen-accounts`)
//! let only the `linkage` user read them.
//!
//! - `jigilink.<region>.registry.household.keyed`: a household's match keys,
//!   stored in the region's stream `JIGI_LINK_<REGION>` (its leaf node) and
//!   sourced across the leaf link into the hub's `JIGI_LINKAGE`, delivered on
//!   `$JIGI.LINKSOURCE.<region>` (which only that region's leaf may publish);
//! - `jigidup.<region>.linkage.duplicate.<action>`: the index's findings,
//!   stored at the hub in `JIGI_DUPLICATES`, one message per region concerned.
//!
//! The envelope is the same CloudEvents one as every event's.

use async_nats::jetstream::stream;
use jigi_common::Region;
use jigi_telemetry::TraceContext;

use crate::envelope::OutgoingEvent;
use crate::streams::{DUPLICATE_WINDOW, RegionSource};

/// First token of the match keys' subjects.
pub const LINK_ROOT: &str = "jigilink";
/// First token of the index's findings.
pub const DUP_ROOT: &str = "jigidup";
/// The hub's stream of every region's match keys.
pub const NATIONAL_LINK_STREAM: &str = "JIGI_LINKAGE";
/// The hub's stream of the index's findings.
pub const DUPLICATES_STREAM: &str = "JIGI_DUPLICATES";

/// A restricted message type: its subject below the region and its
/// CloudEvents type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestrictedKind {
    pub root: &'static str,
    pub service: &'static str,
    pub entity: &'static str,
    pub action: &'static str,
    pub message: &'static str,
}

impl RestrictedKind {
    pub fn subject(&self, region: Region) -> String {
        format!(
            "{}.{}.{}.{}.{}",
            self.root,
            region.slug(),
            self.service,
            self.entity,
            self.action
        )
    }

    /// `jigi.<service>.<entity>.<action>.v1`, the same form as the public events'.
    pub fn ce_type(&self) -> String {
        format!("jigi.{}.{}.{}.v1", self.service, self.entity, self.action)
    }

    /// A message of this kind about `about` (a household, a duplicate).
    pub fn event(&self, region: Region, about: &str, message: &impl prost::Message) -> OutgoingEvent {
        OutgoingEvent {
            id: uuid::Uuid::now_v7().to_string(),
            subject: self.subject(region),
            ce_type: self.ce_type(),
            source: format!("/jigi/{}/{}", region.slug(), self.service),
            about: about.to_owned(),
            time: chrono::Utc::now(),
            content_type: format!("application/protobuf; proto={}", self.message),
            payload: message.encode_to_vec(),
            trace: TraceContext::current(),
        }
    }
}

/// A household's match keys (`jigi.linkage.v1.HouseholdKeyed`).
pub const HOUSEHOLD_KEYED: RestrictedKind = RestrictedKind {
    root: LINK_ROOT,
    service: "registry",
    entity: "household",
    action: "keyed",
    message: "jigi.linkage.v1.HouseholdKeyed",
};

/// A suspected duplicate (`jigi.linkage.v1.DuplicateSuspected`).
pub const DUPLICATE_SUSPECTED: RestrictedKind = RestrictedKind {
    root: DUP_ROOT,
    service: "linkage",
    entity: "duplicate",
    action: "suspected",
    message: "jigi.linkage.v1.DuplicateSuspected",
};

/// A resolved duplicate (`jigi.linkage.v1.DuplicateResolved`).
pub const DUPLICATE_RESOLVED: RestrictedKind = RestrictedKind {
    root: DUP_ROOT,
    service: "linkage",
    entity: "duplicate",
    action: "resolved",
    message: "jigi.linkage.v1.DuplicateResolved",
};

/// A household that moved to another region (`jigi.linkage.v1.HouseholdTransferred`),
/// from its origin's registry to the index.
pub const HOUSEHOLD_TRANSFERRED: RestrictedKind = RestrictedKind {
    root: LINK_ROOT,
    service: "registry",
    entity: "household",
    action: "transferred",
    message: "jigi.linkage.v1.HouseholdTransferred",
};

/// The index's order to a destination region to continue a moved
/// household's enrolments (`jigi.linkage.v1.TransferOrdered`).
pub const TRANSFER_ORDERED: RestrictedKind = RestrictedKind {
    root: DUP_ROOT,
    service: "linkage",
    entity: "transfer",
    action: "ordered",
    message: "jigi.linkage.v1.TransferOrdered",
};

/// `JIGI_LINK_<REGION>`.
pub fn region_link_stream(region: Region) -> String {
    format!("JIGI_LINK_{}", region.slug().to_ascii_uppercase())
}

/// The region's stream of match keys, on its leaf node.
pub fn region_link_stream_config(region: Region) -> stream::Config {
    stream::Config {
        name: region_link_stream(region),
        description: Some(format!("Match keys of the region of {} (restricted)", region.name())),
        subjects: vec![format!("{LINK_ROOT}.{}.>", region.slug())],
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    }
}

/// Where the hub receives a region's match keys across domains.
pub fn link_delivery_prefix(region: Region) -> String {
    format!("$JIGI.LINKSOURCE.{}", region.slug())
}

/// Where a region's leaf receives the index's findings about it, across
/// domains (its stream sourcing `JIGI_DUPLICATES`).
pub fn dup_delivery_prefix(region: Region) -> String {
    format!("$JIGI.DUPSOURCE.{}", region.slug())
}

/// The hub's stream of every region's match keys.
pub fn national_link_stream_config(sources: &[RegionSource]) -> stream::Config {
    let sources = sources
        .iter()
        .map(|source| {
            let (region, external) = match source {
                RegionSource::Local(region) => (*region, None),
                RegionSource::Domain(region, domain) => (
                    *region,
                    Some(stream::External {
                        api_prefix: format!("$JS.{domain}.API"),
                        delivery_prefix: Some(link_delivery_prefix(*region)),
                    }),
                ),
            };
            stream::Source {
                name: region_link_stream(region),
                external,
                ..Default::default()
            }
        })
        .collect();
    stream::Config {
        name: NATIONAL_LINK_STREAM.to_owned(),
        description: Some("Every region's match keys (restricted to the linkage index)".to_owned()),
        subjects: Vec::new(),
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        sources: Some(sources),
        ..Default::default()
    }
}

/// The hub's stream of the index's findings.
pub fn duplicates_stream_config() -> stream::Config {
    stream::Config {
        name: DUPLICATES_STREAM.to_owned(),
        description: Some("Suspected and resolved duplicates (restricted)".to_owned()),
        subjects: vec![format!("{DUP_ROOT}.>")],
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        deny_delete: true,
        deny_purge: true,
        ..Default::default()
    }
}

/// `JIGI_DUPS_<REGION>`.
pub fn region_findings_stream(region: Region) -> String {
    format!("JIGI_DUPS_{}", region.slug().to_ascii_uppercase())
}

/// The region's copy of the index's findings and orders about it, on its
/// leaf node: `JIGI_DUPS_<REGION>`, sourcing `JIGI_DUPLICATES` filtered to
/// `jigidup.<region>.>` from the hub's JetStream domain (`hub_domain`), or
/// from the same server when `None`. Kept at the leaf, so a freeze during a
/// cut link still holds what was known before the cut. The region's
/// payments (holds) and registry (transfer orders) each read it with their
/// own consumer.
pub fn region_findings_stream_config(region: Region, hub_domain: Option<&str>) -> stream::Config {
    stream::Config {
        name: region_findings_stream(region),
        description: Some(format!(
            "Suspected duplicates concerning {} (restricted)",
            region.name()
        )),
        subjects: Vec::new(),
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        sources: Some(vec![stream::Source {
            name: DUPLICATES_STREAM.to_owned(),
            filter_subject: Some(format!("{DUP_ROOT}.{}.>", region.slug())),
            external: hub_domain.map(|domain| stream::External {
                api_prefix: format!("$JS.{domain}.API"),
                delivery_prefix: Some(dup_delivery_prefix(region)),
            }),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restricted_subjects_stay_out_of_the_public_ones() {
        let subject = HOUSEHOLD_KEYED.subject(Region::Sikasso);
        assert_eq!(subject, "jigilink.sikasso.registry.household.keyed");
        // Not captured by the region's public stream, nor by `jigi.>`.
        assert!(!subject.starts_with("jigi."));
        assert_eq!(
            DUPLICATE_SUSPECTED.subject(Region::Mopti),
            "jigidup.mopti.linkage.duplicate.suspected"
        );
        assert_eq!(HOUSEHOLD_KEYED.ce_type(), "jigi.registry.household.keyed.v1");
        let config = national_link_stream_config(&RegionSource::leaf_nodes(&[Region::Mopti]));
        let source = &config.sources.unwrap()[0];
        assert_eq!(source.name, "JIGI_LINK_MOPTI");
        assert_eq!(
            source.external.as_ref().unwrap().delivery_prefix.as_deref(),
            Some("$JIGI.LINKSOURCE.mopti")
        );
    }
}
