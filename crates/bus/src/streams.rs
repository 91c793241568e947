//! The streams: one per region, capturing `jigi.<region>.>`, and the national
//! stream that sources them all. Set-up is idempotent, so every service calls
//! it at start.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use jigi_common::Region;

use crate::subject;

/// How long JetStream remembers a `Nats-Msg-Id` to drop a republished event.
/// Longer than any outbox retry after a crash or a broken link (the relay
/// retries within seconds of NATS answering again).
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// A failure to set up a stream.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up stream {stream}: {reason}")]
pub struct StreamSetupError {
    pub stream: String,
    pub reason: String,
}

/// The configuration of a region's stream.
pub fn region_stream_config(region: Region) -> stream::Config {
    stream::Config {
        name: subject::region_stream(region),
        description: Some(format!("Events of the region of {}", region.name())),
        subjects: vec![subject::region_wildcard(region)],
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        // Events are facts: never deleted, never purged (sourcing would not
        // replicate a delete anyway).
        deny_delete: true,
        deny_purge: true,
        ..Default::default()
    }
}

/// Where the national stream finds a region's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionSource {
    /// On the same server (one machine holds everything).
    Local(Region),
    /// In another JetStream domain (the region's leaf node), named after it.
    /// The region's stream is delivered to the hub on
    /// [`delivery_prefix`]`(region)`, a subject space of that region's own,
    /// so the hub can let each region's leaf publish only its own deliveries.
    Domain(Region, String),
}

/// The subjects on which a region's leaf node delivers its stream to the
/// national stream across domains: `$JIGI.SOURCE.<region>` (the server adds
/// `.S.<id>`). Outside `jigi.<region>.>`, or the regional stream would
/// capture its own deliveries. The hub's permissions (`deploy/nats/accounts.conf`)
/// allow region R's leaf to publish under `$JIGI.SOURCE.R.>` only.
pub fn delivery_prefix(region: Region) -> String {
    format!("$JIGI.SOURCE.{}", region.slug())
}

impl RegionSource {
    /// Every region as a leaf node whose JetStream domain is its slug, as
    /// deployed (`deploy/nats/leaf.conf`): the national stream's sources.
    pub fn leaf_nodes(regions: &[Region]) -> Vec<RegionSource> {
        regions
            .iter()
            .map(|region| RegionSource::Domain(*region, region.slug().to_owned()))
            .collect()
    }

    fn region(&self) -> Region {
        match self {
            RegionSource::Local(region) | RegionSource::Domain(region, _) => *region,
        }
    }
}

/// The configuration of the national stream.
pub fn national_stream_config(sources: &[RegionSource]) -> stream::Config {
    let sources = sources
        .iter()
        .map(|source| stream::Source {
            name: subject::region_stream(source.region()),
            external: match source {
                RegionSource::Local(_) => None,
                RegionSource::Domain(region, domain) => Some(stream::External {
                    api_prefix: format!("$JS.{domain}.API"),
                    delivery_prefix: Some(delivery_prefix(*region)),
                }),
            },
            ..Default::default()
        })
        .collect();
    stream::Config {
        name: subject::NATIONAL_STREAM.to_owned(),
        description: Some("Every region's events, sourced from the regional streams".to_owned()),
        subjects: Vec::new(),
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        deny_delete: true,
        deny_purge: true,
        sources: Some(sources),
        ..Default::default()
    }
}

/// Creates the stream, or updates it when it exists with another configuration.
pub async fn ensure(js: &jetstream::Context, config: stream::Config) -> Result<(), StreamSetupError> {
    let name = config.name.clone();
    let fail = |reason: String| StreamSetupError {
        stream: name.clone(),
        reason,
    };
    match js.get_stream(&name).await {
        Ok(existing) => update_if_needed(js, existing, config).await.map_err(fail),
        Err(err) if is_stream_not_found(&err) => match js.create_stream(config.clone()).await {
            Ok(_) => Ok(()),
            // Another task of the service (the consumer and the JSON mirror
            // both set up the national stream) created it in between: the
            // stream exists now, so bring it to this configuration.
            Err(create) => match js.get_stream(&name).await {
                Ok(existing) => update_if_needed(js, existing, config).await.map_err(fail),
                Err(_) => Err(fail(create.to_string())),
            },
        },
        Err(err) => Err(fail(err.to_string())),
    }
}

async fn update_if_needed(
    js: &jetstream::Context,
    mut existing: stream::Stream,
    config: stream::Config,
) -> Result<(), String> {
    let info = existing.info().await.map_err(|err| err.to_string())?;
    if needs_update(&info.config, &config) {
        js.update_stream(config).await.map_err(|err| err.to_string())?;
    }
    Ok(())
}

fn is_stream_not_found(err: &jetstream::context::GetStreamError) -> bool {
    matches!(
        err.kind(),
        jetstream::context::GetStreamErrorKind::JetStream(source)
            if source.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
    )
}

/// Only the fields Jigi sets are compared: the server fills in the others.
fn needs_update(current: &stream::Config, wanted: &stream::Config) -> bool {
    let sources = |config: &stream::Config| {
        // Name, API prefix and delivery prefix of each source.
        let mut names: Vec<_> = config
            .sources
            .iter()
            .flatten()
            .map(|source| {
                let external = source.external.as_ref();
                (
                    source.name.clone(),
                    external.map(|external| external.api_prefix.clone()),
                    external.and_then(|external| external.delivery_prefix.clone()),
                )
            })
            .collect();
        names.sort();
        names
    };
    current.subjects != wanted.subjects
        || current.duplicate_window != wanted.duplicate_window
        || current.deny_delete != wanted.deny_delete
        || current.deny_purge != wanted.deny_purge
        || sources(current) != sources(wanted)
}

/// Sets up a region's stream.
pub async fn ensure_region_stream(js: &jetstream::Context, region: Region) -> Result<(), StreamSetupError> {
    ensure(js, region_stream_config(region)).await
}

/// Sets up the national stream sourcing the given regions (e.g.
/// `RegionSource::leaf_nodes(&Region::ALL)`). Idempotent: run it at every
/// start; adding a region to the list adds its source and nothing else.
/// On a clustered hub, set `num_replicas` on [`national_stream_config`]'s
/// result and call [`ensure`] instead.
pub async fn ensure_national_stream(js: &jetstream::Context, sources: &[RegionSource]) -> Result<(), StreamSetupError> {
    ensure(js, national_stream_config(sources)).await
}

/// One delivery of a pull consumer's message stream (the items that were
/// ready together): its messages, and the last error among them, if any.
/// A consumer handles the messages before it acts on the error.
pub fn split_delivery<E: std::fmt::Display>(
    items: Vec<Result<jetstream::Message, E>>,
) -> (Vec<jetstream::Message>, Option<String>) {
    let mut messages = Vec::with_capacity(items.len());
    let mut error = None;
    for item in items {
        match item {
            Ok(message) => messages.push(message),
            Err(err) => error = Some(err.to_string()),
        }
    }
    (messages, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_stream_sources_regions_across_domains() {
        let config = national_stream_config(&[
            RegionSource::Local(Region::Sikasso),
            RegionSource::Domain(Region::Mopti, "mopti".into()),
        ]);
        assert!(config.subjects.is_empty());
        let sources = config.sources.unwrap();
        assert_eq!(sources[0].name, "JIGI_SIKASSO");
        assert_eq!(sources[0].external, None);
        assert_eq!(sources[1].external.as_ref().unwrap().api_prefix, "$JS.mopti.API");
        assert_eq!(
            sources[1].external.as_ref().unwrap().delivery_prefix.as_deref(),
            Some("$JIGI.SOURCE.mopti")
        );
    }

    #[test]
    fn updates_only_when_what_jigi_sets_differs() {
        let wanted = region_stream_config(Region::Gao);
        let mut current = wanted.clone();
        current.max_messages = 12; // set by someone else: left alone
        assert!(!needs_update(&current, &wanted));
        current.subjects = vec!["jigi.gao.registry.>".into()];
        assert!(needs_update(&current, &wanted));
    }
}
