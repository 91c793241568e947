//! No raw identifier leaves the region: planted ID-card numbers and names
//! are searched for in every national file (the hub's JetStream store,
//! the index's database) and found only in the regions' registries (the
//! control that proves the search can find them). Only the linkage user
//! (and the operators') may read the match keys.

use jigi_bus::linkage;
use jigi_common::Region;

use crate::helpers::{Country, files_containing};

#[tokio::test]
async fn planted_identifiers_are_found_in_the_regions_and_nowhere_national() {
    let mut country = Country::start(&[Region::Sikasso, Region::Mopti], &["k1"]).await;
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
