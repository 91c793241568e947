//! No raw identifier leaves the region: planted ID-card numbers and names
//! are searched for in every national file (the hub's JetStream store,
//! the index's database) and found only in the regions' registries (the
//! control that proves the search can find them). Only the linkage user
//! (and the operators') may read the match keys.

use std::sync::{Arc, Mutex};

use jigi_bus::linkage;
use jigi_common::Region;

use crate::helpers::{Country, files_containing};

/// Everything logged on this test's thread (every service of the test runs
/// on it, and the write path's threads log with the caller's subscriber),
/// with span fields, as JSON lines.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn planted_identifiers_are_found_in_the_regions_and_nowhere_national() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_env_filter("info")
        .with_writer(move || writer.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    let mut country = Country::start_on_files(&[Region::Sikasso, Region::Mopti], &["k1"]).await;
    const CARD: &str = "ML7731905528";
    const GIVEN: &str = "Zanfagoulou";
    const FAMILY: &str = "Kwadjongo";
    let draft = country
        .region(Region::Mopti)
        .draft_with_head(GIVEN, FAMILY, "1969-11-23", CARD);
    country.region(Region::Mopti).register(draft).await;
    let draft = country
        .region(Region::Sikasso)
        .draft_with_head(GIVEN, FAMILY, "1969-11-23", CARD);
    country.region(Region::Sikasso).register(draft).await;
    // The keys crossed the link and the pair was found: whatever was
    // going to reach the hub has reached it.
    country.wait_duplicates(1).await;
    country.wait_published().await;

    let hub_dir = country.hub.server.dir().to_path_buf();
    let national_db = country.dir.path().join("linkage.db");
    assert!(national_db.exists());
    // (Birth dates are not searched: the public events carry members'
    // birth dates, for the indicators, by design.)
    for needle in [CARD, GIVEN, FAMILY] {
        // Control: the regions hold them (database, journal or log).
        for region in [Region::Mopti, Region::Sikasso] {
            let path = country.region(region).database_path().to_owned();
            let dir = std::path::Path::new(&path).parent().unwrap();
            let found: Vec<String> = files_containing(dir, needle)
                .into_iter()
                .filter(|f| f.contains(&format!("registry-{region}")))
                .collect();
            assert!(!found.is_empty(), "{needle} is in {region}'s registry database");
        }
        let found = files_containing(&hub_dir, needle);
        assert!(found.is_empty(), "{needle} found at the hub: {found:?}");
        let found: Vec<String> = files_containing(country.dir.path(), needle)
            .into_iter()
            .filter(|f| f.contains("linkage.db"))
            .collect();
        assert!(found.is_empty(), "{needle} found in the national index: {found:?}");
    }

    // Nor in any log line or span of the services (the logs name the
    // households, which shows they were captured).
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_ascii_lowercase();
    assert!(logged.contains("duplicate suspected"), "the index's log was captured");
    assert!(
        logged.contains("household registered"),
        "the registries' logs were captured"
    );
    for needle in [CARD, GIVEN, FAMILY] {
        assert!(!logged.contains(&needle.to_ascii_lowercase()), "{needle} in the logs");
    }

    // The match keys themselves are for the index alone. A refused request
    // gets no answer at all (the hub drops it), so the six attempts run
    // side by side.
    let mut attempts = Vec::new();
    for user in ["monitoring", "partner_donor", "partner_dhis2"] {
        let bus = country.hub_as(user).await;
        for stream in [linkage::NATIONAL_LINK_STREAM, linkage::DUPLICATES_STREAM] {
            let js = bus.jetstream.clone();
            attempts.push(async move { (user, stream, js.get_stream(stream).await.is_ok()) });
        }
    }
    for (user, stream, readable) in futures::future::join_all(attempts).await {
        assert!(!readable, "{user} must not read {stream}");
    }
    // The linkage user can (the control).
    let bus = country.hub_as("linkage").await;
    assert!(bus.jetstream.get_stream(linkage::NATIONAL_LINK_STREAM).await.is_ok());
}
